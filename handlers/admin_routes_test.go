package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/zwfw/portal/models"
)

// TestEveryAdminRouteIsGuarded walks every registered admin route: as
// anonymous (sent to sign-in), and, for state-changing routes, signed in
// but without a CSRF token (403). Nothing may change either way.
func TestEveryAdminRouteIsGuarded(t *testing.T) {
	app := newAdminApp(t)
	id := strconv.Itoa(int(openCase(t, app, "B01")))
	fill := func(path string) string {
		path = strings.ReplaceAll(path, ":id", id)
		return strings.ReplaceAll(path, ":step", "callback")
	}
	signedIn := newBrowser(app, "10.10.0.1")
	signIn(t, signedIn, "admin", models.DemoPassword)
	before := app.count(t, "case_events")

	walked := 0
	for _, r := range app.e.Routes() {
		if !strings.HasPrefix(r.Path, "/admin") || strings.HasPrefix(r.Path, "/admin/login") {
			continue
		}
		walked++
		path := fill(r.Path)
		switch r.Method {
		case http.MethodGet:
			res, _ := newBrowser(app, "10.10.0.2").get(t, path)
			if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login") {
				t.Errorf("anonymous GET %s: %d → %q", path, res.StatusCode, res.Header.Get("Location"))
			}
		case http.MethodPost:
			anon := newBrowser(app, "10.10.0.3")
			res, _ := anon.post(t, "/admin/login", path, url.Values{"note": {"x"}, "password": {"0123456789abc"}})
			if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login") {
				t.Errorf("anonymous POST %s: %d → %q", path, res.StatusCode, res.Header.Get("Location"))
			}
			res, _ = signedIn.do(t, httptestPost(path, url.Values{"note": {"x"}}))
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s without a CSRF token: %d, want 403", path, res.StatusCode)
			}
		}
	}
	if walked < 15 {
		t.Fatalf("walked %d admin routes: the route list changed shape", walked)
	}
	if app.count(t, "case_events") != before {
		t.Fatal("a refused request changed a case")
	}
}
