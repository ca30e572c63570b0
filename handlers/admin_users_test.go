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

func TestUserManagement(t *testing.T) {
	app := newAdminApp(t)
	ctx := context.Background()
	sys := newBrowser(app, "10.9.0.1")
	signIn(t, sys, "admin", models.DemoPassword)

	// A 部门管理员 is refused, and nothing changes.
	dept := newBrowser(app, "10.9.0.2")
	signIn(t, dept, "rsj.admin", models.DemoPassword)
	if res, _ := dept.get(t, "/admin/users"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a 部门管理员 on /admin/users: %d", res.StatusCode)
	}
	before, _ := app.store.ListUsers(ctx)
	res, _ := dept.post(t, "/admin", "/admin/users", url.Values{"username": {"mole"}, "display_name": {"x"}, "password": {"0123456789x"}, "role": {"sysadmin"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a 部门管理员 creating a user: %d", res.StatusCode)
	}
	if after, _ := app.store.ListUsers(ctx); len(after) != len(before) {
		t.Fatal("a refused request created a user")
	}

	// Bad input: 422, messages, input kept.
	res, body := sys.post(t, "/admin/users", "/admin/users", url.Values{"username": {"Zhou Min"}, "display_name": {"周敏"},
		"password": {"short"}, "role": {models.RoleDepartmentAdmin}})
	if res.StatusCode != 422 || !strings.Contains(body, "用户名为 3–40 位") || !strings.Contains(body, "密码至少 10 位") ||
		!strings.Contains(body, "请选择部门管理员所属的部门") || !strings.Contains(body, `value="周敏"`) {
		t.Fatalf("bad new user: %d", res.StatusCode)
	}
	res, _ = sys.post(t, "/admin/users", "/admin/users", url.Values{"username": {"zhou.min"}, "display_name": {"周敏"},
		"password": {"医保局周敏二〇二六年"}, "role": {models.RoleDepartmentAdmin}, "department": {"ybj"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("new user: %d", res.StatusCode)
	}
	zhou := newBrowser(app, "10.9.0.3")
	signIn(t, zhou, "zhou.min", "医保局周敏二〇二六年")

	users, _ := app.store.ListUsers(ctx)
	var id uint
	for _, u := range users {
		if u.Username == "zhou.min" {
			id = u.ID
		}
	}
	path := "/admin/users/" + strconv.Itoa(int(id))
	if res, _ := sys.post(t, "/admin/users", path+"/disable", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", res.StatusCode)
	}
	if res, _ := zhou.get(t, "/admin"); res.StatusCode != http.StatusSeeOther {
		t.Fatal("a disabled user's session must end at once")
	}
	res, _ = zhou.post(t, "/admin/login", "/admin/login", url.Values{"username": {"zhou.min"}, "password": {"医保局周敏二〇二六年"}})
	if res.StatusCode != 422 {
		t.Fatalf("a disabled user signing in: %d", res.StatusCode)
	}
	sys.post(t, "/admin/users", path+"/enable", url.Values{})
	res, body = sys.post(t, "/admin/users", path+"/password", url.Values{"password": {"短"}})
	if res.StatusCode != 422 || !strings.Contains(body, "密码至少 10 位") {
		t.Fatalf("a short reset: %d", res.StatusCode)
	}
	sys.post(t, "/admin/users", path+"/password", url.Values{"password": {"重置后的新密码一二三"}})
	signIn(t, newBrowser(app, "10.9.0.4"), "zhou.min", "重置后的新密码一二三")

	// Nobody disables themselves.
	var self uint
	for _, u := range users {
		if u.Username == "admin" {
			self = u.ID
		}
	}
	res, _ = sys.post(t, "/admin/users", "/admin/users/"+strconv.Itoa(int(self))+"/disable", url.Values{})
	_, body = sys.follow(t, res)
	if !strings.Contains(body, "不能停用自己的账号") {
		t.Fatal("a 系统管理员 must not disable their own account")
	}
	_, audit := sys.get(t, "/admin/audit")
	for _, w := range []string{"新增用户", "停用用户", "启用用户", "重置密码"} {
		if !strings.Contains(audit, w) {
			t.Errorf("the audit log lacks %q", w)
		}
	}
}
