package handlers

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

// rightDoorExamples are needs residents often bring, offered as examples.
func rightDoorExamples() []string {
	return []string{"换身份证", "开饭店", "退休", "结婚", "公积金提取", "开公司", "医保报销", "低保"}
}

// handleRightDoor answers "我要办…": from what a resident needs to the
// service item, its department, counter, floor and hours, and the materials
// to bring, in one answer, so that nobody walks through the wrong door.
func (h *Handler) handleRightDoor(c echo.Context) error {
	ctx := c.Request().Context()
	raw := c.QueryParam("need")
	data := views.RightDoorData{Need: strings.TrimSpace(displayable(raw)), Examples: rightDoorExamples()}
	p := h.page(c, "我要办")
	if data.Need == "" {
		return h.render(c, http.StatusOK, views.RightDoorPage(p, data))
	}
	query := raw
	if utf8.ValidString(query) && utf8.RuneCountInString(query) <= models.MaxQueryRunes {
		query = h.simplified(query)
	}
	res, err := h.store.FindGuides(ctx, models.GuideFilter{Query: query, PerPage: 6})
	if verr, ok := models.AsValidationError(err); ok {
		data.Error = verr.Field("q")
		return h.render(c, http.StatusUnprocessableEntity, views.RightDoorPage(p, data))
	}
	if err != nil {
		return err
	}
	p.Title = "我要办：" + data.Need
	data.Total = res.Total
	if len(res.Hits) == 0 {
		return h.render(c, http.StatusOK, views.RightDoorPage(p, data))
	}
	answer, err := h.store.FindGuideByCode(ctx, res.Hits[0].Code)
	if err != nil {
		return err
	}
	data.Answer, data.Others = answer, res.Hits[1:]
	return h.render(c, http.StatusOK, views.RightDoorPage(p, data))
}
