package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

// maxFormRows bounds the row numbers read from a guide form: far more than
// any list may hold (the store refuses more than 50), and a bound on what a
// forged form can make the server allocate.
const maxFormRows = 200

// spareRows is how many empty rows each list of the guide form offers.
const spareRows = 2

func (h *Handler) handleAdminGuideIndex(c echo.Context) error {
	items, err := h.store.ListGuidesForAdmin(c.Request().Context(), scope(c))
	if err != nil {
		return err
	}
	data := views.AdminGuidesData{Items: items, CSRF: csrfToken(c)}
	return h.render(c, http.StatusOK, views.AdminGuidesPage(h.adminPage(c, "办事指南"), data))
}

// guideRows returns how many rows of a list the form sent: one past the
// highest row number among its fields ("materials.3.name").
func guideRows(form url.Values, list string) int {
	n := 0
	for key := range form {
		rest, ok := strings.CutPrefix(key, list+".")
		if !ok {
			continue
		}
		num, _, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(num)
		if ok && err == nil && i >= 0 && i < maxFormRows && i+1 > n {
			n = i + 1
		}
	}
	return n
}

// guideInput reads the guide form. Row fields are named list.row.field;
// checkboxes are sent as 1 when ticked.
func guideInput(form url.Values) models.GuideInput {
	in := models.GuideInput{
		Name: form.Get("name"), Type: form.Get("type"), Audience: form.Get("audience"), Theme: form.Get("theme"),
		Department: form.Get("department"), Summary: form.Get("summary"),
		LegalBasis: form.Get("legal_basis"), Conditions: form.Get("conditions"),
		LegalLimit: models.LimitInput{Value: form.Get("legal_limit.value"), Unit: form.Get("legal_limit.unit"),
			Note: form.Get("legal_limit.note")},
		PromisedLimit: models.LimitInput{Value: form.Get("promised_limit.value"), Unit: form.Get("promised_limit.unit"),
			Note: form.Get("promised_limit.note")},
		PlaceNote: form.Get("place_note"), HoursNote: form.Get("hours_note"), Visits: form.Get("visits"),
		Online: form.Get("online") == "1", OnlineURL: form.Get("online_url"),
		Appointment: form.Get("appointment") == "1", Delivery: form.Get("delivery") == "1",
		ConsultPhone: form.Get("consult_phone"), SupervisePhone: form.Get("supervise_phone"),
		PromiseApplicable: form.Get("promise_applicable") == "1", PromiseNote: form.Get("promise_note"),
	}
	row := func(list string, i int) (func(string) string, models.RowInput) {
		get := func(field string) string { return form.Get(list + "." + strconv.Itoa(i) + "." + field) }
		return get, models.RowInput{Sort: get("sort"), Delete: get("delete") == "1"}
	}
	for i := range guideRows(form, "materials") {
		get, r := row("materials", i)
		in.Materials = append(in.Materials, models.MaterialInput{RowInput: r, Name: get("name"), Necessity: get("necessity"),
			Form: get("form"), Copies: get("copies"), Source: get("source"), BlankForm: get("blank_form") == "1",
			Sample: get("sample") == "1", Note: get("note")})
	}
	for i := range guideRows(form, "steps") {
		get, r := row("steps", i)
		in.Steps = append(in.Steps, models.StepInput{RowInput: r, Name: get("name"), Actor: get("actor"),
			Duration: get("duration"), Description: get("description")})
	}
	for i := range guideRows(form, "fees") {
		get, r := row("fees", i)
		in.Fees = append(in.Fees, models.FeeInput{RowInput: r, Item: get("item"), Standard: get("standard"), Basis: get("basis")})
	}
	for i := range guideRows(form, "faqs") {
		get, r := row("faqs", i)
		in.FAQs = append(in.FAQs, models.FAQInput{RowInput: r, Question: get("question"), Answer: get("answer")})
	}
	return in
}

// padRows adds empty rows to a list until it ends with spareRows of them,
// numbered after the rows before.
func padRows[T any](rows []T, blank func(T) bool, spare func(sort string) T) []T {
	trailing := 0
	for i := len(rows) - 1; i >= 0 && blank(rows[i]); i-- {
		trailing++
	}
	for ; trailing < spareRows; trailing++ {
		rows = append(rows, spare(strconv.Itoa(len(rows)+1)))
	}
	return rows
}

// guideFormInput is the input as the form shows it: safe to display, each
// list ending in spare rows.
func guideFormInput(in models.GuideInput) models.GuideInput {
	in = in.MapText(displayable)
	in.Materials = padRows(in.Materials, models.MaterialInput.Blank,
		func(s string) models.MaterialInput { return models.MaterialInput{RowInput: models.RowInput{Sort: s}} })
	in.Steps = padRows(in.Steps, models.StepInput.Blank,
		func(s string) models.StepInput { return models.StepInput{RowInput: models.RowInput{Sort: s}} })
	in.Fees = padRows(in.Fees, models.FeeInput.Blank,
		func(s string) models.FeeInput { return models.FeeInput{RowInput: models.RowInput{Sort: s}} })
	in.FAQs = padRows(in.FAQs, models.FAQInput.Blank,
		func(s string) models.FAQInput { return models.FAQInput{RowInput: models.RowInput{Sort: s}} })
	return in
}

// guideForm builds the edit form of an item with the lists its selects
// need; a 系统管理员 also gets the departments.
func (h *Handler) guideForm(c echo.Context, it *models.ServiceItem, version int, in models.GuideInput) (views.GuideForm, error) {
	ctx := c.Request().Context()
	f := views.GuideForm{CSRF: csrfToken(c), Item: it, Version: version, Input: guideFormInput(in)}
	var err error
	if f.Themes, err = h.store.ListThemes(ctx); err != nil {
		return f, err
	}
	if scope(c) == 0 {
		if f.Departments, err = h.store.ListDepartments(ctx); err != nil {
			return f, err
		}
	}
	return f, nil
}

func guideTitle(it *models.ServiceItem) string { return "修改办事指南：" + it.Name }

func (h *Handler) handleAdminGuideEdit(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	it, err := h.store.FindGuideForEdit(c.Request().Context(), scope(c), id)
	if err != nil {
		return err
	}
	f, err := h.guideForm(c, it, it.Version, models.GuideInputOf(it))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.GuideEditPage(h.adminPage(c, guideTitle(it)), f))
}

// forbiddenIfScoped turns "not found" into 403 for a 部门管理员: the item
// exists, or may, but is another department's.
func forbiddenIfScoped(c echo.Context, err error) error {
	if errors.Is(err, models.ErrNotFound) && scope(c) != 0 {
		return echo.NewHTTPError(http.StatusForbidden)
	}
	return err
}

// handleAdminGuideUpdate saves a guide. Bad input re-renders the form with
// 422, every row kept; a save based on an older version than the stored
// one is refused with 409, the newer version summarised beside the input.
func (h *Handler) handleAdminGuideUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	it, err := h.store.FindGuideForEdit(ctx, scope(c), id)
	if err != nil {
		return forbiddenIfScoped(c, err)
	}
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest)
	}
	version, _ := strconv.Atoi(form.Get("version"))
	in := guideInput(form)
	err = h.store.UpdateGuide(ctx, scope(c), id, version, in, actor(c))
	var verr *models.ValidationError
	switch {
	case errors.As(err, &verr):
		f, ferr := h.guideForm(c, it, version, in)
		if ferr != nil {
			return ferr
		}
		f.Errors = verr.Fields
		return h.render(c, http.StatusUnprocessableEntity, views.GuideEditPage(h.adminPage(c, guideTitle(it)), f))
	case errors.Is(err, models.ErrConflict):
		current, ferr := h.store.FindGuideForEdit(ctx, scope(c), id)
		if ferr != nil {
			return forbiddenIfScoped(c, ferr)
		}
		f, ferr := h.guideForm(c, current, current.Version, in)
		if ferr != nil {
			return ferr
		}
		f.Newer = current
		return h.render(c, http.StatusConflict, views.GuideEditPage(h.adminPage(c, guideTitle(current)), f))
	case err != nil:
		return forbiddenIfScoped(c, err)
	}
	msg := "已保存“" + strings.TrimSpace(in.Name) + "”的办事指南，网站上的内容已同步更新。"
	if !it.Published {
		msg = "已保存“" + strings.TrimSpace(in.Name) + "”的办事指南。本事项未发布，网站上不显示。"
	}
	if err := h.setFlash(c, msg); err != nil {
		return err
	}
	return seeOther(c, "/admin/guides")
}

func (h *Handler) handleAdminGuidePublish(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	var published bool
	switch c.FormValue("published") {
	case "1":
		published = true
	case "0":
	default:
		return echo.NewHTTPError(http.StatusBadRequest)
	}
	it, err := h.store.SetGuidePublished(c.Request().Context(), scope(c), id, published, actor(c))
	if err != nil {
		return forbiddenIfScoped(c, err)
	}
	msg := "已停止发布“" + it.Name + "”，网站上不再显示该办事指南。"
	if published {
		msg = "已发布“" + it.Name + "”，公众可以在网站上查阅该办事指南。"
	}
	if err := h.setFlash(c, msg); err != nil {
		return err
	}
	return seeOther(c, "/admin/guides")
}

func (h *Handler) handleAdminGuideRepeal(c echo.Context) error {
	id, err := uintParam(c.Param("id"))
	if err != nil {
		return err
	}
	undo := c.FormValue("undo") == "1"
	it, err := h.store.SetGuideRepealed(c.Request().Context(), scope(c), id, !undo, actor(c), time.Now())
	if err != nil {
		return forbiddenIfScoped(c, err)
	}
	msg := "已撤销“" + it.Name + "”的废止标记。"
	if it.RepealedAt != nil {
		msg = "已将“" + it.Name + "”标记为于 " + it.RepealedAt.Format("2006-01-02") + " 废止，公开页面已注明。"
	}
	if err := h.setFlash(c, msg); err != nil {
		return err
	}
	return seeOther(c, "/admin/guides")
}
