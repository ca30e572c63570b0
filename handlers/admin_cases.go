package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

// adminPage is the page data of the admin area, with the signed-in user.
func (h *Handler) adminPage(c echo.Context, title string) views.Page {
	p := h.page(c, title)
	p.Section = "admin"
	if u := currentUser(c); u != nil {
		p.User = u.DisplayName + "（" + u.RoleLabel() + "）"
		p.SystemAdmin = u.Role == models.RoleSystemAdmin
		p.CSRF = csrfToken(c)
	}
	return p
}

// scope is the department whose records the user may work on: 0 (all) for
// a 系统管理员.
func scope(c echo.Context) uint {
	u := currentUser(c)
	if u.Role == models.RoleSystemAdmin || u.DepartmentID == nil {
		return 0
	}
	return *u.DepartmentID
}

func (h *Handler) handleAdminHome(c echo.Context) error {
	queue, err := h.store.FindCaseQueue(c.Request().Context(), scope(c), time.Now())
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.AdminHomePage(h.adminPage(c, "工作台"), queue, time.Now()))
}

func (h *Handler) handleAdminCaseIndex(c echo.Context) error {
	queue, err := h.store.FindCaseQueue(c.Request().Context(), scope(c), time.Now())
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.AdminCaseQueuePage(h.adminPage(c, "督办单"), queue, time.Now()))
}

// caseID reads the :id of a case route; anything else is no case.
func caseID(c echo.Context) (uint, error) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || id == 0 {
		return 0, models.ErrNotFound
	}
	return uint(id), nil
}

func (h *Handler) handleAdminCaseShow(c echo.Context) error {
	id, err := caseID(c)
	if err != nil {
		return err
	}
	cs, err := h.store.FindCase(c.Request().Context(), id, scope(c))
	if err != nil {
		return err
	}
	form := views.CaseStepForm{CSRF: csrfToken(c), Now: time.Now()}
	return h.render(c, http.StatusOK, views.AdminCasePage(h.adminPage(c, "督办单 "+cs.Number), cs, form))
}

// handleAdminCaseStep takes the next step of a case. The store checks the
// step against the case's state and the user's department: a tampered form
// changes nothing.
func (h *Handler) handleAdminCaseStep(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := caseID(c)
	if err != nil {
		return err
	}
	if _, err := h.store.FindCase(ctx, id, scope(c)); err != nil {
		if errors.Is(err, models.ErrNotFound) && scope(c) != 0 {
			return echo.NewHTTPError(http.StatusForbidden)
		}
		return err
	}
	step := models.CaseStep{
		By: actor(c), Note: c.FormValue("note"), Finding: c.FormValue("finding"),
		ResponsiblePerson: c.FormValue("responsible_person"), Measures: c.FormValue("measures"),
		Outcome: c.FormValue("outcome"), Resolution: c.FormValue("resolution"),
	}
	form := views.CaseStepForm{CSRF: csrfToken(c), Now: time.Now(), Step: c.Param("step"), Values: map[string]string{}}
	for _, k := range []string{"note", "finding", "responsible_person", "measures", "deadline", "outcome", "resolution"} {
		form.Values[k] = displayable(c.FormValue(k))
	}
	if d := c.FormValue("deadline"); d != "" {
		t, err := time.ParseInLocation("2006-01-02", d, models.InBeijing(time.Now()).Location())
		if err != nil {
			form.Errors = map[string]string{"deadline": "整改期限格式应为“年-月-日”，如 2026-12-15。"}
		} else {
			step.Deadline = t.Add(24*time.Hour - time.Second)
		}
	}
	now := time.Now()
	if form.Errors == nil {
		switch c.Param("step") {
		case "callback":
			err = h.store.RecordCallback(ctx, id, scope(c), step, now)
		case "finding":
			err = h.store.RecordFinding(ctx, id, scope(c), step, now)
		case "rectify":
			err = h.store.StartRectification(ctx, id, scope(c), step, now)
		case "close":
			err = h.store.CloseCase(ctx, id, scope(c), step, now)
		default:
			return models.ErrNotFound
		}
	}
	var verr *models.ValidationError
	switch {
	case errors.As(err, &verr):
		form.Errors = verr.Fields
	case errors.Is(err, models.ErrWrongState):
		if err := h.setFlash(c, "督办单状态已变化（可能已由其他同事办理），请查看最新情况后再操作。"); err != nil {
			return err
		}
		return seeOther(c, "/admin/cases/"+c.Param("id"))
	case err != nil:
		return err
	}
	if form.Errors != nil {
		cs, err := h.store.FindCase(ctx, id, scope(c))
		if err != nil {
			return err
		}
		return h.render(c, http.StatusUnprocessableEntity, views.AdminCasePage(h.adminPage(c, "督办单 "+cs.Number), cs, form))
	}
	done := map[string]string{"callback": "已记录回访。", "finding": "已记录核实结果。", "rectify": "已开始整改。", "close": "督办单已办结（销号），结果将在督办亮单中公开。"}
	if err := h.setFlash(c, done[c.Param("step")]); err != nil {
		return err
	}
	return seeOther(c, "/admin/cases/"+c.Param("id"))
}

func (h *Handler) handleAdminAudit(c echo.Context) error {
	page, _ := strconv.Atoi(c.QueryParam("page"))
	f := models.AuditFilter{Username: displayable(c.QueryParam("user")), Action: displayable(c.QueryParam("action")), Page: page}
	entries, err := h.store.FindAuditEntries(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.AuditPage(h.adminPage(c, "操作日志"), f, entries))
}
