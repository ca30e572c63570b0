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
	before := snapshotCounts(t, app)

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
	if after := snapshotCounts(t, app); after != before {
		t.Fatalf("a refused request changed the database: %v, before %v", after, before)
	}
}

// snapshotCounts counts the rows of every table that a change writes to
// (every admin change also writes the audit log).
func snapshotCounts(t *testing.T, app *testApp) [6]int {
	t.Helper()
	var out [6]int
	for i, table := range []string{"ratings", "cases", "case_events", "rating_months", "audit_entries", "board_versions"} {
		out[i] = app.count(t, table)
	}
	return out
}

// TestAdminFormsCannotReachAnotherDepartment posts every admin form that
// names its target in the form rather than the URL, as the 部门管理员 of
// 人社局, tampered to aim at 户政科: 户政科's board and accounts are left
// alone. A new such route must be added here.
func TestAdminFormsCannotReachAnotherDepartment(t *testing.T) {
	app := newAdminApp(t)
	ctx := context.Background()
	board, err := app.store.FindBoard(ctx, "hzk")
	if err != nil {
		t.Fatal(err)
	}
	hzkSection := strconv.Itoa(int(board.Sections[0].ID))
	snapshot := func() string {
		b, err := app.store.FindBoard(ctx, "hzk")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range b.Sections {
			n += len(s.Entries)
		}
		users, err := app.store.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return strconv.Itoa(len(b.Sections)) + "/" + strconv.Itoa(n) + "/" + strconv.Itoa(len(b.Versions)) + "/" + strconv.Itoa(len(users))
	}
	// Routes that act on the signed-in user only.
	self := map[string]bool{"/admin/logout": true, "/admin/password": true}
	tampered := map[string]url.Values{
		"/admin/board/entries": {"section": {hzkSection}, "department": {"hzk"}, "duty": {"越权"}, "tasks": {"越权"},
			"basis": {"越权"}, "accountability": {"越权"}, "office": {"越权"}, "person_name": {"越权"},
			"person_post": {"越权"}, "phone": {"8812 3411"}},
		"/admin/board/sections": {"department": {"hzk"}, "title": {"越权加的部分"}},
		"/admin/users": {"username": {"evil.admin"}, "display_name": {"越权"}, "password": {"越权设置的密码一二三四"},
			"role": {models.RoleSystemAdmin}, "department": {"hzk"}},
	}
	b := newBrowser(app, "10.12.1.1")
	signIn(t, b, "rsj.admin", models.DemoPassword)
	before := snapshot()
	for _, r := range app.e.Routes() {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Path, "/admin") || strings.Contains(r.Path, ":") ||
			strings.HasPrefix(r.Path, "/admin/login") || self[r.Path] {
			continue
		}
		form, ok := tampered[r.Path]
		if !ok {
			t.Errorf("no tampered form for POST %s: add the route to this test", r.Path)
			continue
		}
		res, _ := b.post(t, "/admin", r.Path, form)
		if res.StatusCode < 400 && res.StatusCode != http.StatusSeeOther {
			t.Errorf("POST %s aimed at another department: %d", r.Path, res.StatusCode)
		}
	}
	if after := snapshot(); after != before {
		t.Fatalf("a tampered form changed 户政科's board or the accounts: %s, before %s", after, before)
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
