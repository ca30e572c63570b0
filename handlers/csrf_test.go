package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCSRFChecks posts the rating form in the ways a forged or broken
// request would, through the real router: each is refused with the
// expired-page 403 and stores nothing; the form as the page gave it is
// accepted.
func TestCSRFChecks(t *testing.T) {
	app := newTestApp(t)
	tests := []struct {
		name string
		// edit changes the request the page's form would send.
		edit func(req *http.Request, b *browser, token string) *http.Request
		want int
	}{
		{"as the form sends it", func(req *http.Request, _ *browser, _ string) *http.Request { return req }, http.StatusSeeOther},
		{"another phone's token", func(_ *http.Request, _ *browser, _ string) *http.Request {
			other := newBrowser(app, "10.30.0.99")
			_, body := other.get(t, "/r/C02")
			return httptestPost("/r/C02", url.Values{"level": {"4"}, "_csrf": {csrfField.FindStringSubmatch(body)[1]}})
		}, http.StatusForbidden},
		{"token in the query string only", func(_ *http.Request, _ *browser, token string) *http.Request {
			return httptestPost("/r/C02?_csrf="+url.QueryEscape(token), url.Values{"level": {"4"}})
		}, http.StatusForbidden},
		{"token twice", func(_ *http.Request, _ *browser, token string) *http.Request {
			return httptestPost("/r/C02", url.Values{"level": {"4"}, "_csrf": {"forged-forged-forged-forged-forged", token}})
		}, http.StatusForbidden},
		{"same-origin but no token", func(_ *http.Request, _ *browser, _ string) *http.Request {
			req := httptestPost("/r/C02", url.Values{"level": {"4"}})
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			return req
		}, http.StatusForbidden},
		{"cross-site with the right token", func(req *http.Request, _ *browser, _ string) *http.Request {
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			return req
		}, http.StatusForbidden},
		{"no cookie", func(req *http.Request, b *browser, _ string) *http.Request {
			delete(b.cookies, csrfCookie)
			return req
		}, http.StatusForbidden},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := app.count(t, "ratings")
			b := newBrowser(app, "10.30.0."+string(rune('1'+i)))
			_, body := b.get(t, "/r/C02")
			token := csrfField.FindStringSubmatch(body)[1]
			if got := b.cookies[csrfCookie]; got == nil || got.Value != token {
				t.Fatalf("the form's token %q is not the cookie's %v", token, got)
			}
			req := tt.edit(httptestPost("/r/C02", url.Values{"level": {"4"}, "_csrf": {token}}), b, token)
			res, body := b.do(t, req)
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.want)
			}
			stored := app.count(t, "ratings") - before
			if tt.want == http.StatusForbidden && (stored != 0 || !strings.Contains(body, "页面已过期")) {
				t.Fatalf("refused post: %d stored, page %q", stored, body)
			}
			if tt.want == http.StatusSeeOther && stored != 1 {
				t.Fatalf("accepted post: %d stored", stored)
			}
		})
	}
}

// TestCSRFCookie checks the cookie the form pages set: issued once and kept
// across pages, refreshed by every page, never set again by a post, and a
// malformed one replaced.
func TestCSRFCookie(t *testing.T) {
	app := newTestApp(t)
	b := newBrowser(app, "10.31.0.1")
	res, _ := b.get(t, "/r/C02")
	first := b.cookies[csrfCookie]
	if first == nil || len(first.Value) < 32 || !first.HttpOnly || first.Path != "/" || first.MaxAge != 86400 || first.SameSite != http.SameSiteLaxMode {
		t.Fatalf("CSRF cookie %+v", first)
	}
	if !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Cookie") {
		t.Fatal("a page with a token must vary by cookie")
	}
	res, _ = b.get(t, "/cases/lookup")
	if got := b.cookies[csrfCookie]; got.Value != first.Value || len(res.Cookies()) == 0 {
		t.Fatalf("second page: token %q, want %q refreshed", got.Value, first.Value)
	}
	res, _ = b.post(t, "/r/C02", "/r/C02", url.Values{"level": {"4"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("rating: %d", res.StatusCode)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == csrfCookie {
			t.Fatal("a post must not set the CSRF cookie")
		}
	}
	b.cookies[csrfCookie] = &http.Cookie{Name: csrfCookie, Value: "short"}
	_, body := b.get(t, "/r/C03")
	if got := csrfField.FindStringSubmatch(body)[1]; got == "short" || b.cookies[csrfCookie].Value != got {
		t.Fatalf("a malformed cookie must be replaced: form %q, cookie %q", got, b.cookies[csrfCookie].Value)
	}
}
