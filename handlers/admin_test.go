package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zwfw/portal/models"
)

// signIn signs a browser in to the admin area.
func signIn(t *testing.T, b *browser, username, password string) {
	t.Helper()
	res, body := b.post(t, "/admin/login", "/admin/login", url.Values{"username": {username}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in as %s: %d\n%s", username, res.StatusCode, stripTags(body))
	}
}

// openCase rates a counter 不满意 and returns the case's ID.
func openCase(t *testing.T, app *testApp, counter string) uint {
	t.Helper()
	rec, err := app.store.RateCounter(context.Background(), models.RatingInput{CounterCode: counter, Level: models.LevelDissatisfied,
		Reasons: []string{"事难办"}, Phone: "13912345678", Device: "d-" + counter, Address: "a"}, models.DefaultRatingRules(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return rec.Case.ID
}

func newAdminApp(t *testing.T) *testApp {
	t.Helper()
	app := newTestApp(t)
	if _, err := app.store.LoadDemoUsers(context.Background()); err != nil {
		t.Fatal(err)
	}
	return app
}

func TestAdminNeedsSignIn(t *testing.T) {
	app := newAdminApp(t)
	id := openCase(t, app, "B01")
	for _, target := range []string{"/admin", "/admin/cases", "/admin/cases/" + strconv.Itoa(int(id)), "/admin/audit", "/admin/password"} {
		res, _ := app.get(t, target)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login?next=") {
			t.Errorf("anonymous GET %s: %d → %q, want the sign-in page", target, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// A posted step without a session changes nothing.
	b := newBrowser(app, "10.7.0.1")
	res, _ := b.post(t, "/admin/login", "/admin/cases/"+strconv.Itoa(int(id))+"/callback", url.Values{"note": {"已联系"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login") {
		t.Fatalf("anonymous POST: %d", res.StatusCode)
	}
	if c, _ := app.store.FindCase(context.Background(), id, 0); c.State != models.CaseAwaitingCallback {
		t.Fatal("an anonymous POST changed a case")
	}
}

func TestAdminSignInFailsAlikeAndIsThrottled(t *testing.T) {
	app := newAdminApp(t)
	b := newBrowser(app, "10.7.1.1")
	var bodies []string
	for _, u := range []string{"rsj.admin", "nobody"} {
		res, body := b.post(t, "/admin/login", "/admin/login", url.Values{"username": {u}, "password": {"wrong-password"}})
		if res.StatusCode != 422 {
			t.Fatalf("%s: %d", u, res.StatusCode)
		}
		bodies = append(bodies, stripTags(body)[strings.Index(stripTags(body), "工作人员登录"):])
	}
	if strings.ReplaceAll(bodies[0], "rsj.admin", "nobody") != bodies[1] {
		t.Fatal("a wrong password and an unknown user must read the same")
	}
	// One failure so far for rsj.admin; four more make five.
	for i := 0; i < 4; i++ {
		b.post(t, "/admin/login", "/admin/login", url.Values{"username": {"rsj.admin"}, "password": {"wrong-password"}})
	}
	res, body := b.post(t, "/admin/login", "/admin/login", url.Values{"username": {"rsj.admin"}, "password": {models.DemoPassword}})
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "登录失败次数过多") {
		t.Fatalf("after 5 failures: %d", res.StatusCode)
	}
}

func TestDepartmentAdminWorksOwnCasesOnly(t *testing.T) {
	app := newAdminApp(t)
	ctx := context.Background()
	own, other := openCase(t, app, "B01"), openCase(t, app, "C02")
	b := newBrowser(app, "10.7.2.1")
	signIn(t, b, "rsj.admin", models.DemoPassword)

	_, body := b.get(t, "/admin/cases")
	if !strings.Contains(body, "/admin/cases/"+strconv.Itoa(int(own))) || strings.Contains(body, "/admin/cases/"+strconv.Itoa(int(other))+"\"") {
		t.Fatal("the queue must list the department's own cases only")
	}
	if res, _ := b.get(t, "/admin/cases/"+strconv.Itoa(int(other))); res.StatusCode != 404 {
		t.Fatalf("another department's case: %d, want 404", res.StatusCode)
	}
	res, _ := b.post(t, "/admin/cases/"+strconv.Itoa(int(own)), "/admin/cases/"+strconv.Itoa(int(other))+"/callback", url.Values{"note": {"越权"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a tampered form for another department's case: %d, want 403", res.StatusCode)
	}

	if c, _ := app.store.FindCase(ctx, other, 0); c.State != models.CaseAwaitingCallback {
		t.Fatal("a tampered form changed another department's case")
	}

	// Own case: the number for the 回访 is shown to staff; a step without a
	// note is refused with the input kept; with it, the case moves on.
	page := "/admin/cases/" + strconv.Itoa(int(own))
	_, body = b.get(t, page)
	if !strings.Contains(body, "13912345678") || !strings.Contains(body, "记录回访") {
		t.Fatal("the case page lacks the rater's number or the 回访 form")
	}
	res, body = b.post(t, page, page+"/callback", url.Values{"note": {""}})
	if res.StatusCode != 422 || !strings.Contains(body, "请填写回访情况") {
		t.Fatalf("empty 回访: %d", res.StatusCode)
	}
	res, _ = b.post(t, page, page+"/callback", url.Values{"note": {"已电话联系评价人"}})
	_, body = b.follow(t, res)
	if !strings.Contains(body, "已记录回访") || !strings.Contains(body, "记录核实结果") {
		t.Fatal("after the 回访 the case offers the 核实")
	}
	// The same step again (a second tab) is refused plainly.
	res, _ = b.post(t, page, page+"/callback", url.Values{"note": {"再次提交"}})
	_, body = b.follow(t, res)
	if !strings.Contains(body, "督办单状态已变化") {
		t.Fatal("a stale step must be refused with a message")
	}
	if res, body := b.get(t, "/admin/audit"); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "返回工作台") {
		t.Fatalf("a 部门管理员 opening the audit log: %d, want 403 on the admin error page", res.StatusCode)
	}

	sys := newBrowser(app, "10.7.2.2")
	signIn(t, sys, "admin", models.DemoPassword)
	_, body = sys.get(t, "/admin/audit")
	if !strings.Contains(body, "人社局 人社局管理员") || !strings.Contains(body, "已回访") {
		t.Fatal("the audit log lacks the 回访")
	}
}

func TestSignOutEndsEverySession(t *testing.T) {
	app := newAdminApp(t)
	first, second := newBrowser(app, "10.7.3.1"), newBrowser(app, "10.7.3.2")
	signIn(t, first, "admin", models.DemoPassword)
	signIn(t, second, "admin", models.DemoPassword)
	_, home := first.get(t, "/admin")
	token := csrfField.FindStringSubmatch(home)[1]
	req := httptestPost("/admin/logout", url.Values{"_csrf": {token}})
	if res, _ := first.do(t, req); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", res.StatusCode)
	}
	if res, _ := second.get(t, "/admin"); res.StatusCode != http.StatusSeeOther {
		t.Fatal("signing out must end the user's other sessions too")
	}
	if _, body := first.get(t, "/admin/login?out=1"); !strings.Contains(body, "您已退出管理后台") {
		t.Fatal("the sign-in page does not confirm the sign-out")
	}
}

func TestPasswordChangeEndsSessions(t *testing.T) {
	app := newAdminApp(t)
	b := newBrowser(app, "10.7.4.1")
	signIn(t, b, "hzk.admin", models.DemoPassword)
	res, body := b.post(t, "/admin/password", "/admin/password", url.Values{"current": {"wrong"}, "password": {"short"}, "confirm": {"short"}})
	if res.StatusCode != 422 || !strings.Contains(body, "当前密码不正确") || !strings.Contains(body, "密码至少 10 位") {
		t.Fatalf("bad password change: %d", res.StatusCode)
	}
	res, body = b.post(t, "/admin/password", "/admin/password", url.Values{"current": {models.DemoPassword}, "password": {"户政科新密码二〇二六"}, "confirm": {"户政科新密码二〇二五"}})
	if res.StatusCode != 422 || !strings.Contains(body, "两次输入的新密码不一致") {
		t.Fatalf("a mistyped confirmation: %d", res.StatusCode)
	}
	res, _ = b.post(t, "/admin/password", "/admin/password", url.Values{"current": {models.DemoPassword}, "password": {"户政科新密码二〇二六"}, "confirm": {"户政科新密码二〇二六"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login?changed=1" {
		t.Fatalf("password change: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := b.get(t, "/admin"); res.StatusCode != http.StatusSeeOther {
		t.Fatal("the session must end with the password change")
	}
	signIn(t, newBrowser(app, "10.7.4.2"), "hzk.admin", "户政科新密码二〇二六")
}

func TestSignInNeverRedirectsAway(t *testing.T) {
	for next, want := range map[string]string{
		"/admin/cases/3":          "/admin/cases/3",
		"//evil.example/admin":    "/admin",
		"https://evil.example":    "/admin",
		"/services":               "/admin",
		"/admin\r\nSet-Cookie: x": "/admin",
		"/admin/login?next=/x":    "/admin",
		"":                        "/admin",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}
