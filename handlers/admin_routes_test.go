package handlers

import (
	"context"
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
			res, body := signedIn.do(t, httptestPost(path, url.Values{"note": {"x"}}))
			if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "页面已过期") {
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

// TestAdminRoutesRefuseTheWrongDepartment walks every admin route with an
// :id as the 部门管理员 of 人社局, aiming at 户政科's records: every request
// is refused, and nothing is written (every change writes the audit log).
func TestAdminRoutesRefuseTheWrongDepartment(t *testing.T) {
	app := newAdminApp(t)
	ctx := context.Background()
	caseID := openCase(t, app, "C02")
	board, err := app.store.FindBoard(ctx, "hzk")
	if err != nil {
		t.Fatal(err)
	}
	guide, err := app.store.FindGuideByCode(ctx, "11QHHZK0002-01")
	if err != nil {
		t.Fatal(err)
	}
	counter, err := app.store.FindCounterByCode(ctx, "C02")
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]uint{
		"/admin/cases/":          caseID,
		"/admin/board/entries/":  board.Sections[0].Entries[0].ID,
		"/admin/board/sections/": board.Sections[0].ID,
		"/admin/guides/":         guide.ID,
		"/admin/counters/":       counter.ID,
		"/admin/users/":          1,
	}
	b := newBrowser(app, "10.12.0.1")
	signIn(t, b, "rsj.admin", models.DemoPassword)
	audit, versions := app.count(t, "audit_entries"), app.count(t, "board_versions")
	walked := 0
	for _, r := range app.e.Routes() {
		if !strings.Contains(r.Path, ":id") {
			continue
		}
		prefix := r.Path[:strings.Index(r.Path, ":id")]
		id, ok := targets[prefix]
		if !ok {
			t.Errorf("no target for %s: add the resource to this test", r.Path)
			continue
		}
		walked++
		path := strings.ReplaceAll(strings.ReplaceAll(r.Path, ":id", strconv.Itoa(int(id))), ":step", "callback")
		if r.Method == http.MethodGet {
			if res, _ := b.get(t, path); res.StatusCode != 404 && res.StatusCode != 403 {
				t.Errorf("GET %s as another department: %d, want 404 or 403", path, res.StatusCode)
			}
			continue
		}
		form := url.Values{"note": {"越权"}, "title": {"越权"}, "duty": {"越权"}, "name": {"越权"}, "hours": {"越权"},
			"password": {"越权修改的密码一二三"}, "published": {"0"}, "enabled": {"0"}, "version": {"1"}, "direction": {"up"}}
		if res, body := b.post(t, "/admin", path, form); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "无权进行此操作") {
			t.Errorf("POST %s as another department: %d, want 403 saying 无权进行此操作", path, res.StatusCode)
		}
	}
	if walked < 15 {
		t.Fatalf("walked %d routes with an :id", walked)
	}
	if app.count(t, "audit_entries") != audit || app.count(t, "board_versions") != versions {
		t.Fatal("a refused request wrote a change")
	}
}
