package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// The display preferences live in two cookies, a contract shared with the
// page cache: care=1 is the 关怀版 (elderly-friendly mode), script=hant the
// 繁體 view. Anything else, or no cookie, is the standard Simplified page.
const (
	careCookie   = "care"
	scriptCookie = "script"
	// displayCookieAge keeps a choice for a year: an older user should not
	// have to find the switch again on the next visit.
	displayCookieAge = 365 * 24 * time.Hour
)

// display is what the two cookies ask for.
type display struct {
	care        bool
	traditional bool
}

// displayOf reads the display preferences of a request. It is the one place
// that interprets the cookies; a missing or unknown value means the default.
func displayOf(r *http.Request) display {
	var d display
	if c, err := r.Cookie(careCookie); err == nil && c.Value == "1" {
		d.care = true
	}
	if c, err := r.Cookie(scriptCookie); err == nil && c.Value == "hant" {
		d.traditional = true
	}
	return d
}

// handleDisplay is GET /display?care=1|0 or ?script=hant|hans, with next=
// the page to return to: it remembers the choice in a cookie and sends the
// user back. It is a plain link, so that it works without JavaScript. An
// unknown value is a broken link, answered with 400 rather than guessed.
func (h *Handler) handleDisplay(c echo.Context) error {
	q := c.QueryParams()
	var cookies []*http.Cookie
	if v, ok := q[careCookie]; ok {
		if len(v) != 1 || (v[0] != "1" && v[0] != "0") {
			return echo.ErrBadRequest
		}
		cookies = append(cookies, h.displayCookie(careCookie, v[0]))
	}
	if v, ok := q[scriptCookie]; ok {
		if len(v) != 1 || (v[0] != "hant" && v[0] != "hans") {
			return echo.ErrBadRequest
		}
		cookies = append(cookies, h.displayCookie(scriptCookie, v[0]))
	}
	if len(cookies) == 0 {
		return echo.ErrBadRequest
	}
	for _, ck := range cookies {
		c.SetCookie(ck)
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return seeOther(c, localPath(q.Get("next")))
}

// displayCookie is a display preference as the contract sets it: the whole
// site, a year, not sent with cross-site posts, not readable by scripts.
func (h *Handler) displayCookie(name, value string) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(displayCookieAge / time.Second),
		Expires:  time.Now().Add(displayCookieAge),
		HttpOnly: true,
		Secure:   h.secureCookies,
		SameSite: http.SameSiteLaxMode,
	}
}

// localPath returns next if it is a path on this site, and "/" otherwise,
// so that the switch cannot be used to send users to another site: no
// scheme, no host, no "//" or "/\" (which browsers read as another host), no
// backslash and no control character (browsers drop tabs and newlines, so
// "/\t/evil" would become "//evil").
func localPath(next string) string {
	if next == "" || len(next) > 2000 || next[0] != '/' || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\") {
		return "/"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	return next
}

// here is the current page as a switch's next: path and query for a page
// read with GET, only the path after a form post (whose URL may not answer
// GET with the same page, but usually does).
func here(r *http.Request) string {
	next := r.URL.EscapedPath()
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.RawQuery != "" {
		next += "?" + r.URL.RawQuery
	}
	return localPath(next)
}
