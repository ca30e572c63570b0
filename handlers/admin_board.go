package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

// boardFor returns the board the user edits: a 部门管理员's own; for a
// 系统管理员, the department named by ?department= (or the first).
func (h *Handler) boardFor(c echo.Context, slug string) (*models.Board, error) {
	ctx := c.Request().Context()
	u := currentUser(c)
	if u.Role != models.RoleSystemAdmin {
		if slug != "" && (u.Department == nil || slug != u.Department.Slug) {
			return nil, echo.NewHTTPError(http.StatusForbidden)
		}
		return h.store.FindBoard(ctx, u.Department.Slug)
	}
	if slug == "" {
		depts, err := h.store.ListDepartments(ctx)
		if err != nil {
			return nil, err
		}
		if len(depts) == 0 {
			return nil, models.ErrNotFound
		}
		slug = depts[0].Slug
	}
	return h.store.FindBoard(ctx, slug)
}

func (h *Handler) handleAdminBoard(c echo.Context) error {
	b, err := h.boardFor(c, c.QueryParam("department"))
	if err != nil {
		return err
	}
	data := views.AdminBoardData{Board: b, CSRF: csrfToken(c)}
	if currentUser(c).Role == models.RoleSystemAdmin {
		if data.Departments, err = h.store.ListDepartments(c.Request().Context()); err != nil {
			return err
		}
	}
	return h.render(c, http.StatusOK, views.AdminBoardPage(h.adminPage(c, b.Department.Name+"责任清单"), data))
}

func entryInput(c echo.Context) models.DutyEntryInput {
	return models.DutyEntryInput{
		Duty: c.FormValue("duty"), Tasks: c.FormValue("tasks"), Basis: c.FormValue("basis"),
		Accountability: c.FormValue("accountability"), Office: c.FormValue("office"),
		PersonName: c.FormValue("person_name"), PersonPost: c.FormValue("person_post"), Phone: c.FormValue("phone"),
	}
}

// entryForm carries the typed values back into the form.
func entryForm(in models.DutyEntryInput) views.EntryForm {
	return views.EntryForm{Values: map[string]string{
		"duty": displayable(in.Duty), "tasks": displayable(in.Tasks), "basis": displayable(in.Basis),
		"accountability": displayable(in.Accountability), "office": displayable(in.Office),
		"person_name": displayable(in.PersonName), "person_post": displayable(in.PersonPost), "phone": displayable(in.Phone),
	}}
}

func formOf(e models.DutyEntry) views.EntryForm {
	return entryForm(models.DutyEntryInput{Duty: e.Duty, Tasks: e.Tasks, Basis: e.Basis, Accountability: e.Accountability,
		Office: e.Office, PersonName: e.PersonName, PersonPost: e.PersonPost, Phone: e.Phone})
}

// backToBoard is where a board edit returns: the board page the form came
// from (a 系统管理员 may be on another department's), never elsewhere.
func backToBoard(c echo.Context) string {
	back := c.FormValue("back")
	slug, ok := strings.CutPrefix(back, "/admin/board?department=")
	if !ok || slug == "" || len(slug) > 40 {
		return "/admin/board"
	}
	for _, r := range slug {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return "/admin/board"
		}
	}
	return back
}

func uintParam(s string) (uint, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, models.ErrNotFound
	}
	return uint(n), nil
}

func (h *Handler) handleAdminEntryNew(c echo.Context) error {
	section, err := uintParam(c.QueryParam("section"))
	if err != nil {
		return err
	}
	if _, err := h.store.FindDutySection(c.Request().Context(), scope(c), section); err != nil {
		return err
	}
	form := views.EntryForm{CSRF: csrfToken(c), Section: section, Values: map[string]string{}, Back: c.QueryParam("back")}
	return h.render(c, http.StatusOK, views.EntryFormPage(h.adminPage(c, "新增责任事项"), form))
}

func (h *Handler) handleAdminEntryCreate(c echo.Context) error {
	section, err := uintParam(c.FormValue("section"))
	if err != nil {
		return err
	}
	in := entryInput(c)
	_, err = h.store.AddDutyEntry(c.Request().Context(), scope(c), section, in, actor(c))
	form := entryForm(in)
	form.CSRF, form.Section, form.Back = csrfToken(c), section, c.FormValue("back")
	return h.entrySaved(c, err, form, "新增责任事项", "已新增责任事项，公开的责任清单已同步更新。")
}

// entrySaved answers the save of an entry: the form again with the
// messages (422), or beside the newer version (409); 403 for another
// department's record; else a flash and back to the board.
func (h *Handler) entrySaved(c echo.Context, err error, form views.EntryForm, title, done string) error {
	var verr *models.ValidationError
	switch {
	case errors.As(err, &verr):
		form.Errors = verr.Fields
		return h.render(c, http.StatusUnprocessableEntity, views.EntryFormPage(h.adminPage(c, title), form))
	case errors.Is(err, models.ErrConflict):
		current, ferr := h.store.FindDutyEntry(c.Request().Context(), scope(c), form.ID)
		if ferr != nil {
			return ferr
		}
		form.Version, form.Newer = current.Version, current
		return h.render(c, http.StatusConflict, views.EntryFormPage(h.adminPage(c, title), form))
	case errors.Is(err, models.ErrNotFound) && scope(c) != 0:
		return echo.NewHTTPError(http.StatusForbidden)
	case err != nil:
		return err
	}
	if err := h.setFlash(c, done); err != nil {
		return err
	}
	return seeOther(c, backToBoard(c))
}

func (h *Handler) handleAdminEntryEdit(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	e, err := h.store.FindDutyEntry(c.Request().Context(), scope(c), id)
	if err != nil {
		return err
	}
	form := formOf(*e)
	form.CSRF, form.ID, form.Version, form.Back = csrfToken(c), e.ID, e.Version, c.QueryParam("back")
	return h.render(c, http.StatusOK, views.EntryFormPage(h.adminPage(c, "修改责任事项"), form))
}

// handleAdminEntryUpdate saves an entry. A save based on an older version
// than the stored one (someone saved in between) is refused with 409: the
// editor sees the newer version beside their own input, nothing is lost.
func (h *Handler) handleAdminEntryUpdate(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	version, _ := strconv.Atoi(c.FormValue("version"))
	in := entryInput(c)
	err = h.store.UpdateDutyEntry(c.Request().Context(), scope(c), id, version, in, actor(c))
	form := entryForm(in)
	form.CSRF, form.ID, form.Version, form.Back = csrfToken(c), id, version, c.FormValue("back")
	return h.entrySaved(c, err, form, "修改责任事项", "已保存，公开的责任清单已同步更新。")
}

func (h *Handler) handleAdminEntryDeleteConfirm(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	e, err := h.store.FindDutyEntry(c.Request().Context(), scope(c), id)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.EntryDeletePage(h.adminPage(c, "删除责任事项"), e, csrfToken(c), c.QueryParam("back")))
}

func (h *Handler) handleAdminEntryDelete(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	err = h.store.DeleteDutyEntry(c.Request().Context(), scope(c), id, actor(c))
	if errors.Is(err, models.ErrNotFound) && scope(c) != 0 {
		return echo.NewHTTPError(http.StatusForbidden)
	}
	if err != nil {
		return err
	}
	if err := h.setFlash(c, "已删除责任事项，变更记录中保留了删除前的内容。"); err != nil {
		return err
	}
	return seeOther(c, backToBoard(c))
}

func (h *Handler) handleAdminEntryMove(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	direction := 1
	if c.FormValue("direction") == "up" {
		direction = -1
	}
	err = h.store.MoveDutyEntry(c.Request().Context(), scope(c), id, direction, actor(c))
	if errors.Is(err, models.ErrNotFound) && scope(c) != 0 {
		return echo.NewHTTPError(http.StatusForbidden)
	}
	if err != nil {
		return err
	}
	if err := h.setFlash(c, "已调整责任事项顺序。"); err != nil {
		return err
	}
	return seeOther(c, backToBoard(c))
}

// sectionResult answers a section change: back to the board with a flash,
// the store's message when it refused.
func (h *Handler) sectionResult(c echo.Context, err error, done string) error {
	var verr *models.ValidationError
	switch {
	case errors.As(err, &verr):
		for _, msg := range verr.Fields {
			done = msg
		}
	case errors.Is(err, models.ErrNotFound) && scope(c) != 0:
		return echo.NewHTTPError(http.StatusForbidden)
	case err != nil:
		return err
	}
	if err := h.setFlash(c, done); err != nil {
		return err
	}
	return seeOther(c, backToBoard(c))
}

func (h *Handler) handleAdminSectionCreate(c echo.Context) error {
	b, err := h.boardFor(c, c.FormValue("department"))
	if err != nil {
		return err
	}
	err = h.store.AddDutySection(c.Request().Context(), b.Department.ID, c.FormValue("title"), actor(c))
	return h.sectionResult(c, err, "已新增部分。")
}

func (h *Handler) handleAdminSectionRename(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	err = h.store.RenameDutySection(c.Request().Context(), scope(c), id, c.FormValue("title"), actor(c))
	return h.sectionResult(c, err, "已修改部分名称。")
}

func (h *Handler) handleAdminSectionDelete(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	err = h.store.DeleteDutySection(c.Request().Context(), scope(c), id, actor(c))
	return h.sectionResult(c, err, "已删除部分。")
}

func (h *Handler) handleAdminSectionMove(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	direction := 1
	if c.FormValue("direction") == "up" {
		direction = -1
	}
	err = h.store.MoveDutySection(c.Request().Context(), scope(c), id, direction, actor(c))
	return h.sectionResult(c, err, "已调整部分顺序。")
}
