package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

// handleAdminCounterIndex lists the counters the user manages: a 部门管理员
// their department's, a 系统管理员 every department's, disabled ones too.
func (h *Handler) handleAdminCounterIndex(c echo.Context) error {
	counters, err := h.store.ListCountersForAdmin(c.Request().Context(), scope(c))
	if err != nil {
		return err
	}
	data := views.AdminCountersData{Counters: counters, CSRF: csrfToken(c), AllDepartments: scope(c) == 0}
	return h.render(c, http.StatusOK, views.AdminCountersPage(h.adminPage(c, "窗口管理"), data))
}

// counterInput reads the edit form. An item value that is not a number
// becomes 0, which no item has, so the store refuses it.
func counterInput(c echo.Context) (models.CounterInput, error) {
	params, err := c.FormParams()
	if err != nil {
		return models.CounterInput{}, echo.NewHTTPError(http.StatusBadRequest)
	}
	in := models.CounterInput{
		Name: params.Get("name"), Floor: params.Get("floor"), Hall: params.Get("hall"), Number: params.Get("number"),
		Hours: params.Get("hours"), ExtendedHours: params.Get("extended_hours"), StaffPost: params.Get("staff_post"),
	}
	for _, v := range params["items"] {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			n = 0
		}
		in.ItemIDs = append(in.ItemIDs, uint(n))
	}
	return in, nil
}

// counterForm carries the typed values back into the form.
func counterForm(in models.CounterInput) views.CounterForm {
	f := views.CounterForm{
		Values: map[string]string{
			"name": displayable(in.Name), "floor": displayable(in.Floor), "hall": displayable(in.Hall),
			"number": displayable(in.Number), "hours": displayable(in.Hours),
			"extended_hours": displayable(in.ExtendedHours), "staff_post": displayable(in.StaffPost),
		},
		Selected: map[uint]bool{},
	}
	for _, id := range in.ItemIDs {
		f.Selected[id] = true
	}
	return f
}

// counterFormOf is the form of a stored counter.
func counterFormOf(ctr *models.CounterForEdit) views.CounterForm {
	in := models.CounterInput{Name: ctr.Name, Floor: ctr.Floor, Hall: ctr.Hall, Number: ctr.Number,
		Hours: ctr.Hours, ExtendedHours: ctr.ExtendedHours, StaffPost: ctr.StaffPost}
	for _, it := range ctr.ServiceItems {
		in.ItemIDs = append(in.ItemIDs, it.ID)
	}
	f := counterForm(in)
	f.Counter, f.Version = ctr, ctr.Version
	return f
}

func counterTitle(ctr *models.CounterForEdit) string {
	return "修改窗口：" + ctr.Code + " " + ctr.Name
}

func (h *Handler) handleAdminCounterEdit(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	ctr, err := h.store.FindCounterForEdit(c.Request().Context(), scope(c), id)
	if err != nil {
		return err
	}
	form := counterFormOf(ctr)
	form.CSRF = csrfToken(c)
	return h.render(c, http.StatusOK, views.CounterFormPage(h.adminPage(c, counterTitle(ctr)), form))
}

// handleAdminCounterUpdate saves a counter. Another department's counter is
// refused with 403. A save based on an older version than the stored one
// (someone saved in between) is refused with 409: the editor sees the newer
// version beside their own input, nothing is lost.
func (h *Handler) handleAdminCounterUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	version, _ := strconv.Atoi(c.FormValue("version"))
	in, err := counterInput(c)
	if err != nil {
		return err
	}
	err = h.store.UpdateCounter(ctx, scope(c), id, version, in, actor(c))
	var verr *models.ValidationError
	switch {
	case errors.Is(err, models.ErrNotFound) && scope(c) != 0:
		return echo.NewHTTPError(http.StatusForbidden)
	case errors.As(err, &verr), errors.Is(err, models.ErrConflict):
		current, ferr := h.store.FindCounterForEdit(ctx, scope(c), id)
		if ferr != nil {
			return ferr
		}
		form := counterForm(in)
		form.CSRF, form.Counter, form.Version = csrfToken(c), current, version
		status := http.StatusUnprocessableEntity
		if verr != nil {
			form.Errors = verr.Fields
		} else {
			status = http.StatusConflict
			form.Version, form.Newer = current.Version, current
		}
		return h.render(c, status, views.CounterFormPage(h.adminPage(c, counterTitle(current)), form))
	case err != nil:
		return err
	}
	if err := h.setFlash(c, "已保存窗口信息，网站上的窗口指引已同步更新。"); err != nil {
		return err
	}
	return seeOther(c, "/admin/counters")
}

// handleAdminCounterEnabled enables (enabled=1) or disables (enabled=0) a
// counter.
func (h *Handler) handleAdminCounterEnabled(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	var enabled bool
	switch c.FormValue("enabled") {
	case "1":
		enabled = true
	case "0":
	default:
		return echo.NewHTTPError(http.StatusBadRequest)
	}
	err = h.store.SetCounterEnabled(c.Request().Context(), scope(c), id, enabled, actor(c))
	switch {
	case errors.Is(err, models.ErrNotFound) && scope(c) != 0:
		return echo.NewHTTPError(http.StatusForbidden)
	case err != nil:
		return err
	}
	msg := "已停用窗口：网站上不再显示，群众扫描其海报二维码将无法评价。"
	if enabled {
		msg = "已启用窗口：网站上重新显示，海报二维码恢复可用。"
	}
	if err := h.setFlash(c, msg); err != nil {
		return err
	}
	return seeOther(c, "/admin/counters")
}
