package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

const (
	lookupNumberKey = "lookup_number"
	lookupCodeKey   = "lookup_code"
	lookupAtKey     = "lookup_at"
	// lookupLifetime bounds how long a looked-up case stays on screen: on a
	// shared computer in the hall, the next person must not see it.
	lookupLifetime = 15 * time.Minute
)

// lookedUp returns the case number and code kept from the last lookup, if
// it is recent.
func (h *Handler) lookedUp(c echo.Context) (number, code string) {
	sess, _ := h.sessions.Get(c.Request(), sessionName)
	at, _ := sess.Values[lookupAtKey].(int64)
	if time.Since(time.Unix(at, 0)) > lookupLifetime {
		return "", ""
	}
	number, _ = sess.Values[lookupNumberKey].(string)
	code, _ = sess.Values[lookupCodeKey].(string)
	return number, code
}

// forgetLookup clears the kept lookup.
func (h *Handler) forgetLookup(c echo.Context) error {
	sess, _ := h.sessions.Get(c.Request(), sessionName)
	delete(sess.Values, lookupNumberKey)
	delete(sess.Values, lookupCodeKey)
	delete(sess.Values, lookupAtKey)
	return sess.Save(c.Request(), c.Response())
}

// handleCaseLookupForm is /cases/lookup: a rater follows their case without
// an account. After a successful lookup the case is shown from the session,
// so that a reload or the back button never resubmits the code.
func (h *Handler) handleCaseLookupForm(c echo.Context) error {
	ctx := c.Request().Context()
	p := h.page(c, "督办单查询")
	data := views.LookupData{CSRF: csrfToken(c), Now: time.Now()}
	if c.QueryParam("new") != "" {
		if err := h.forgetLookup(c); err != nil {
			return err
		}
	} else if number, code := h.lookedUp(c); number != "" {
		cs, err := h.store.LookupCase(ctx, number, code, h.pseudonym(c.RealIP()), time.Now())
		if err != nil && !errors.Is(err, models.ErrNotFound) && !errors.Is(err, models.ErrLookupThrottled) {
			return err
		}
		data.Case = cs
	}
	data.Number = c.QueryParam("number")
	return h.render(c, http.StatusOK, views.LookupPage(p, data))
}

// handleCaseLookup checks a case number and lookup code and shows the case.
func (h *Handler) handleCaseLookup(c echo.Context) error {
	ctx := c.Request().Context()
	number := strings.TrimSpace(displayable(c.FormValue("number")))
	code := strings.TrimSpace(displayable(c.FormValue("code")))
	data := views.LookupData{CSRF: csrfToken(c), Number: number, Now: time.Now(), Errors: map[string]string{}}
	if number == "" {
		data.Errors["number"] = "请填写督办单编号，如 DB20261120-0001。"
	}
	if code == "" {
		data.Errors["code"] = "请填写 6 位查询码。"
	}
	p := h.page(c, "督办单查询")
	if len(data.Errors) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, views.LookupPage(p, data))
	}
	if _, err := h.store.LookupCase(ctx, number, code, h.pseudonym(c.RealIP()), time.Now()); err != nil {
		switch {
		case errors.Is(err, models.ErrNotFound):
			data.Errors["code"] = "编号或查询码不正确，请核对评价后页面上显示的编号和查询码。"
			return h.render(c, http.StatusUnprocessableEntity, views.LookupPage(p, data))
		case errors.Is(err, models.ErrLookupThrottled):
			data.Errors["code"] = "查询码输错次数过多，请 15 分钟后再试；如遗失查询码，请拨打 12345 反映。"
			return h.render(c, http.StatusTooManyRequests, views.LookupPage(p, data))
		}
		return err
	}
	sess, _ := h.sessions.Get(c.Request(), sessionName)
	sess.Values[lookupNumberKey], sess.Values[lookupCodeKey] = number, code
	sess.Values[lookupAtKey] = time.Now().Unix()
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return seeOther(c, "/cases/lookup")
}

// handleCaseFollowUp records the rater's 追评 of a closed case; 不满意
// reopens it.
func (h *Handler) handleCaseFollowUp(c echo.Context) error {
	number, code := h.lookedUp(c)
	if number == "" {
		if err := h.setFlash(c, "查询已超时，请重新输入编号和查询码。"); err != nil {
			return err
		}
		return seeOther(c, "/cases/lookup")
	}
	var satisfied bool
	switch c.FormValue("followup") {
	case "satisfied":
		satisfied = true
	case "dissatisfied":
	default:
		return echo.NewHTTPError(http.StatusUnprocessableEntity)
	}
	_, err := h.store.FollowUpCase(c.Request().Context(), number, code, h.pseudonym(c.RealIP()), satisfied, h.rules, time.Now())
	msg := "感谢您的追评。"
	switch {
	case errors.Is(err, models.ErrWrongState):
		msg = "该督办单当前不能追评：只有已办结且尚未追评的督办单可以追评。"
	case errors.Is(err, models.ErrNotFound), errors.Is(err, models.ErrLookupThrottled):
		msg = "未能确认督办单，请重新输入编号和查询码。"
	case err != nil:
		return err
	case !satisfied:
		msg = "已收到您的追评。督办单已重新开启（复号），工作人员将在 " + strconv.Itoa(h.rules.CallbackDays) + " 个工作日内再次回访。"
	}
	if err := h.setFlash(c, msg); err != nil {
		return err
	}
	return seeOther(c, "/cases/lookup")
}

// handleCaseIndex is /cases: the 亮单 of closed cases with each
// department's figures.
func (h *Handler) handleCaseIndex(c echo.Context) error {
	ctx := c.Request().Context()
	f := models.CaseFilter{Department: displayable(c.QueryParam("department")), Month: displayable(c.QueryParam("month")), Page: 1}
	errs := map[string]string{}
	if p := c.QueryParam("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > models.MaxPage {
			errs["page"] = "页码应为大于 0 的整数。"
		} else {
			f.Page = n
		}
	}
	depts, err := h.store.ListDepartments(ctx)
	if err != nil {
		return err
	}
	data := views.CasesData{Filter: f, Departments: depts, Months: lastMonths(12), Errors: errs}
	p := h.page(c, "督办亮单")
	list, err := h.store.FindPublishedCases(ctx, f, time.Now())
	var verr *models.ValidationError
	if errors.As(err, &verr) {
		data.Errors = mergeErrors(errs, verr.Fields)
		return h.render(c, http.StatusUnprocessableEntity, views.CasesPage(p, data))
	}
	if err != nil {
		return err
	}
	data.List = list
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	return h.render(c, status, views.CasesPage(p, data))
}
