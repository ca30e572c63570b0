package handlers

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// The rating page is what every counter's QR code opens, and it is the
// same for every rater of a counter but for the CSRF token in its form.
// The page cache keeps it rendered with a placeholder where the token goes
// (formPlaceholder); a rater gets a copy with their token in its place.
// Rendering it was most of what opening it cost the server: at a busy
// hall, half the requests the portal answers are this page.
//
// The entry is the page cache's, current while the catalogue version is
// (the page shows the counter, its department and place, and the rules),
// and kept under a key of its own (formKey) that no page's key can equal.

// formPlaceholder stands for the token in a cached form page. It is of the
// characters a token is made of, so that no escaping and no 繁體
// conversion changes it.
const formPlaceholder = "csrf-token-placeholder-4b1d9c7e0a52f3e8"

// formKey is the page cache's key of a form page. A page's key starts with
// the request's host, which cannot hold a NUL.
func formKey(pageKey string) string { return "\x00form " + pageKey }

// renderForm answers with a page whose only per-request content is the
// CSRF token of its forms: from the page cache when it can, rendering and
// keeping it when it is not there. page renders the page with the token it
// is given. A request the page cache does not serve (a signed-in user, a
// one-time message, the cache off) gets the page rendered afresh.
func (h *Handler) renderForm(c echo.Context, token string, page func(token string) templ.Component) error {
	key, ok := h.cacheKey(c.Request())
	if !ok || token == "" {
		return h.render(c, http.StatusOK, page(token))
	}
	key = formKey(key)
	// Read before rendering, as cachePage does: a write committing during
	// the render makes the entry stale at once, never wrongly current.
	v := h.currentVersions()
	if p := h.pages.get(key, v); p != nil {
		return serveForm(c, p, token)
	}
	body, err := h.renderBody(c, page(formPlaceholder))
	if err != nil {
		return err
	}
	at := bytes.Index(body, []byte(formPlaceholder))
	if at < 0 || bytes.LastIndex(body, []byte(formPlaceholder)) != at {
		// Not one token to fill in: nothing to keep.
		return h.render(c, http.StatusOK, page(token))
	}
	p := &cachedPage{key: key, version: v.of(false), body: bytes.Clone(body), tokenAt: at}
	h.pages.put(p)
	return serveForm(c, p, token)
}

// serveForm answers with a cached form page, the token filled in.
func serveForm(c echo.Context, p *cachedPage, token string) error {
	hdr := c.Response().Header()
	if !slices.Contains(hdr[echo.HeaderVary], echo.HeaderCookie) {
		hdr.Add(echo.HeaderVary, echo.HeaderCookie)
	}
	// Written in three pieces around the token rather than copied into one
	// (2 KB a rater): net/http buffers them into one write to the network.
	hdr.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	hdr.Set(echo.HeaderContentLength, strconv.Itoa(len(p.body)-len(formPlaceholder)+len(token)))
	res := c.Response()
	res.WriteHeader(http.StatusOK)
	if _, err := res.Write(p.body[:p.tokenAt]); err != nil {
		return err
	}
	if _, err := io.WriteString(res, token); err != nil {
		return err
	}
	_, err := res.Write(p.body[p.tokenAt+len(formPlaceholder):])
	return err
}
