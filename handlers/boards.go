package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/views"
)

func (h *Handler) handleDepartmentIndex(c echo.Context) error {
	ctx := c.Request().Context()
	depts, err := h.store.ListDepartments(ctx)
	if err != nil {
		return err
	}
	counters, err := h.store.ListCounters(ctx)
	if err != nil {
		return err
	}
	data := views.DepartmentsData{Departments: depts, Counters: counters}
	return h.render(c, http.StatusOK, views.DepartmentsPage(h.page(c, "部门责任清单"), data))
}

func (h *Handler) handleBoardShow(c echo.Context) error {
	b, err := h.store.FindBoard(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.BoardPage(h.page(c, b.Department.Name+"责任清单"), b))
}

// handleBoardPrint renders the board for the wall (上墙): the same record as
// the web page, with a QR code that leads to it.
func (h *Handler) handleBoardPrint(c echo.Context) error {
	b, err := h.store.FindBoard(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	p := h.page(c, b.Department.Name+"责任清单（上墙版）")
	p.URL = h.absoluteURL(c, "/departments/"+b.Department.Slug)
	code, err := qrCode(p.URL)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.BoardPrintPage(p, b, code))
}
