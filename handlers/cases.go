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
)

// handleCaseLookupForm is /cases/lookup: a rater follows their case without
// an account. After a successful lookup the case is shown from the session,
// so that a reload or the back button never resubmits the code.
func (h *Handler) handleCaseLookupForm(c echo.Context) error {
	ctx := c.Request().Context()
	p := h.page(c, "督办单查询")
	data := views.LookupData{CSRF: csrfToken(c), Now: time.Now()}
	sess, _ := h.sessions.Get(c.Request(), sessionName)
	number, _ := sess.Values[lookupNumberKey].(string)
	code, _ := sess.Values[lookupCodeKey].(string)
	if c.QueryParam("new") == "" && number != "" {
		if cs, err := h.store.LookupCase(ctx, number, code); err == nil {
			data.Case = cs
		}
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
	if _, err := h.store.LookupCase(ctx, number, code); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			data.Errors["code"] = "编号或查询码不正确，请核对评价后页面上显示的编号和查询码。"
			return h.render(c, http.StatusUnprocessableEntity, views.LookupPage(p, data))
		}
		return err
	}
	sess, _ := h.sessions.Get(c.Request(), sessionName)
	sess.Values[lookupNumberKey], sess.Values[lookupCodeKey] = number, code
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/cases/lookup")
}

// handleCaseFollowUp records the rater's 追评 of a closed case; 不满意
// reopens it.
func (h *Handler) handleCaseFollowUp(c echo.Context) error {
	sess, _ := h.sessions.Get(c.Request(), sessionName)
	number, _ := sess.Values[lookupNumberKey].(string)
	code, _ := sess.Values[lookupCodeKey].(string)
	if number == "" {
		return c.Redirect(http.StatusSeeOther, "/cases/lookup")
	}
	var satisfied bool
	switch c.FormValue("followup") {
	case "satisfied":
		satisfied = true
	case "dissatisfied":
	default:
		return echo.NewHTTPError(http.StatusUnprocessableEntity)
	}
	_, err := h.store.FollowUpCase(c.Request().Context(), number, code, satisfied, h.rules, time.Now())
	msg := "感谢您的追评。"
	switch {
	case errors.Is(err, models.ErrWrongState):
		msg = "该督办单当前不能追评：只有已办结且尚未追评的督办单可以追评。"
	case err != nil:
		return err
	case !satisfied:
		msg = "已收到您的追评。督办单已重新开启（复号），工作人员将在 1 个工作日内再次回访。"
	}
	if err := h.setFlash(c, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/cases/lookup")
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
