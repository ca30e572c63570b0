// Package views holds the portal's HTML, as templ components. Views receive
// everything as arguments (models' types and the structs of this file) and
// never query.
package views

import (
	"github.com/zwfw/portal/models"
	"net/url"
	"strconv"
	"time"
)

// Page is what every page's layout needs, built once per request by the
// handlers.
type Page struct {
	// Title is the page's own title; the layout adds the site name.
	Title string
	// Path is the request path.
	Path string
	// Section names the nav entry to mark as current, e.g. "services".
	Section string
	// URL is the page's absolute address, printed on paper copies.
	URL string
	// Query is the search box's value.
	Query string
	// Flash is a one-time message after a redirect.
	Flash string
	// RequestID identifies the request in the logs; error pages show it.
	RequestID string
	// Assets gives the URLs of static files.
	Assets Assets
	// User names the signed-in staff member in the admin area; SystemAdmin
	// shows the 系统管理员's menu; CSRF is the token of the sign-out form.
	User        string
	SystemAdmin bool
	CSRF        string
	// Care is the 关怀版 (elderly-friendly mode): the layout loads care.css
	// and marks <html class="care">.
	Care bool
	// Traditional means the page is shown in Traditional Chinese (繁體): the
	// layout says lang="zh-Hant" and the render helper converts the page.
	Traditional bool
	// Here is the current page, path and query, where the display switches
	// bring the user back to.
	Here string
}

// Lang is the language tag of the page's <html>.
func (p Page) Lang() string {
	if p.Traditional {
		return "zh-Hant"
	}
	return "zh-Hans"
}

// DisplayURL is the link that sets one display preference (care=1|0,
// script=hant|hans) and comes back to this page: a plain link, so that the
// switch works without JavaScript.
func (p Page) DisplayURL(key, value string) string {
	next := p.Here
	if next == "" {
		next = "/"
	}
	return "/display?" + key + "=" + value + "&next=" + url.QueryEscape(next)
}

// Assets are the content-hashed URLs of the static files.
type Assets struct {
	CSS      string
	AdminCSS string
	// CareCSS is loaded after the other stylesheets in 关怀版 only.
	CareCSS string
	Favicon string
}

// SiteName is the portal's name as it heads every page.
const SiteName = "临江市清河区政务服务中心"

// CatalogFilter is the catalogue's query string as the user sent it, kept
// verbatim so that a form re-rendered after an error shows the input.
type CatalogFilter struct {
	Query      string
	Audience   string
	Theme      string
	Department string
	Page       string
}

// URL returns the catalogue URL for this filter.
func (f CatalogFilter) URL() string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("q", f.Query)
	set("audience", f.Audience)
	set("theme", f.Theme)
	set("department", f.Department)
	if f.Page != "" && f.Page != "1" {
		q.Set("page", f.Page)
	}
	if len(q) == 0 {
		return "/services"
	}
	return "/services?" + q.Encode()
}

// With returns the catalogue URL with one filter changed (an empty value
// removes it), back on the first page.
func (f CatalogFilter) With(key, value string) string {
	f.Page = ""
	switch key {
	case "q":
		f.Query = value
	case "audience":
		f.Audience = value
	case "theme":
		f.Theme = value
	case "department":
		f.Department = value
	}
	return f.URL()
}

// PageURL returns the catalogue URL for page n of this filter.
func (f CatalogFilter) PageURL(n int) string {
	f.Page = strconv.Itoa(n)
	return f.URL()
}

// Active reports whether any filter other than the query is set.
func (f CatalogFilter) Active() bool {
	return f.Audience != "" || f.Theme != "" || f.Department != ""
}

func itoa(n int) string { return strconv.Itoa(n) }

func queryEscape(s string) string { return url.QueryEscape(s) }

func i64toa(n int64) string { return strconv.FormatInt(n, 10) }

// date renders a date as government pages write it, in Beijing time: a
// change saved at 07:00 Beijing is dated that day, not the UTC day before.
func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return models.InBeijing(t).Format("2006-01-02")
}

// pageWindow returns the page numbers to show around the current page, with
// 0 standing for an ellipsis; an ellipsis never hides a single page.
func pageWindow(current, last int) []int {
	show := func(n int) bool {
		return n == 1 || n == last || (n >= current-2 && n <= current+2)
	}
	var out []int
	for n := 1; n <= last; n++ {
		switch {
		case show(n) || (show(n-1) && show(n+1)):
			out = append(out, n)
		case out[len(out)-1] != 0:
			out = append(out, 0)
		}
	}
	return out
}
