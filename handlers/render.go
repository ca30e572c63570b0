package handlers

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/views"
)

const sessionName = "portal"

// render renders a component into a buffer first, so that a failure half-way
// becomes a clean error page instead of half a page. In the 繁體 view it
// converts the whole page, content and interface alike, here in one place:
// every page, error page and flash message passes through it.
func (h *Handler) render(c echo.Context, status int, component templ.Component) error {
	body, err := h.renderBody(c, component)
	if err != nil {
		return err
	}
	return c.HTMLBlob(status, body)
}

// renderBody is render's page and headers, for a caller that sends the
// page itself (renderForm).
func (h *Handler) renderBody(c echo.Context, component templ.Component) ([]byte, error) {
	var buf bytes.Buffer
	if err := component.Render(c.Request().Context(), &buf); err != nil {
		return nil, fmt.Errorf("render %s: %w", c.Path(), err)
	}
	body := buf.Bytes()
	hdr := c.Response().Header()
	// The same URL answers differently by the display cookies (the CSRF
	// middleware may have said so already).
	if !slices.Contains(hdr[echo.HeaderVary], echo.HeaderCookie) {
		hdr.Add(echo.HeaderVary, echo.HeaderCookie)
	}
	// The page's language is its <html lang>: no Content-Language, which
	// browsers read only when a page has none.
	if displayOf(c.Request()).traditional {
		body = h.chinese.TraditionalHTML(body)
	}
	return body, nil
}

// page builds what every page's layout needs.
func (h *Handler) page(c echo.Context, title string) views.Page {
	path := c.Request().URL.Path
	section := ""
	switch {
	case path == "/":
		section = "home"
	case strings.HasPrefix(path, "/services"):
		section = "services"
	case strings.HasPrefix(path, "/counters"):
		section = "counters"
	case strings.HasPrefix(path, "/departments"):
		section = "departments"
	case strings.HasPrefix(path, "/guide"):
		section = "guide"
	case strings.HasPrefix(path, "/ratings"):
		section = "ratings"
	case strings.HasPrefix(path, "/cases"):
		section = "cases"
	}
	d := displayOf(c.Request())
	return views.Page{
		Title:     title,
		Path:      path,
		Section:   section,
		URL:       h.absoluteURL(c, path),
		Flash:     h.popFlash(c),
		RequestID: c.Response().Header().Get(echo.HeaderXRequestID),
		Assets: views.Assets{
			CSS:      h.assets.URL("css/site.css"),
			AdminCSS: h.assets.URL("css/admin.css"),
			CareCSS:  h.assets.URL("css/care.css"),
			Favicon:  h.assets.URL("img/emblem.svg"),
		},
		Care:        d.care,
		Traditional: d.traditional,
		Here:        here(c.Request()),
	}
}

// absoluteURL is the public address of a path: under the configured base
// URL, or else the address the request came to.
func (h *Handler) absoluteURL(c echo.Context, path string) string {
	base := h.baseURL
	if base == "" {
		base = c.Scheme() + "://" + c.Request().Host
	}
	return base + path
}
