package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

// hotWords are the searches suggested under the search box and on an empty
// result: what residents of a district most often come for.
func hotWords() []string {
	return []string{"社保", "身份证", "营业执照", "公积金提取", "结婚登记", "医保", "开饭店"}
}

func (h *Handler) handleHome(c echo.Context) error {
	ctx := c.Request().Context()
	themes, err := h.store.ListThemes(ctx)
	if err != nil {
		return err
	}
	depts, err := h.store.ListDepartments(ctx)
	if err != nil {
		return err
	}
	popular, err := h.store.FindPopularGuides(ctx, 10)
	if err != nil {
		return err
	}
	data := views.HomeData{Departments: depts, Popular: popular, HotWords: hotWords()}
	for _, th := range themes {
		if th.Audience == models.AudienceCompany {
			data.CompanyThemes = append(data.CompanyThemes, th)
		} else {
			data.PersonThemes = append(data.PersonThemes, th)
		}
	}
	return h.render(c, http.StatusOK, views.HomePage(h.page(c, ""), data))
}

func (h *Handler) handleHealth(c echo.Context) error {
	return c.String(http.StatusOK, "ok")
}

func (h *Handler) handleReady(c echo.Context) error {
	if err := h.store.Ping(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "database unavailable")
	}
	return c.String(http.StatusOK, "ready")
}

func (h *Handler) handleStatic(c echo.Context) error {
	body, ctype, ok := h.assets.Lookup(c.Param("*"))
	if !ok {
		return echo.ErrNotFound
	}
	hdr := c.Response().Header()
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	if gz := h.assets.LookupGzip(c.Param("*")); gz != nil {
		hdr.Set(echo.HeaderVary, echo.HeaderAcceptEncoding)
		if acceptsGzip(c.Request().Header.Get(echo.HeaderAcceptEncoding)) {
			hdr.Set(echo.HeaderContentEncoding, "gzip")
			body = gz
		}
	}
	return c.Blob(http.StatusOK, ctype, body)
}
