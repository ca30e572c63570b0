package handlers

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zwfw/portal/models"
)

// counterValues is the form of a counter as its edit page shows it, with
// the items checked.
func counterValues(t *testing.T, body string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, name := range []string{"name", "floor", "hall", "number", "hours", "extended_hours", "staff_post", "version"} {
		v.Set(name, htmlUnescape(regexpFind(`name="`+name+`" value="([^"]*)"`, body)))
	}
	for _, m := range regexp.MustCompile(`name="items" value="(\d+)"( checked)?`).FindAllStringSubmatch(body, -1) {
		if m[2] != "" {
			v.Add("items", m[1])
		}
	}
	return v
}

// adminCounter returns a demo counter as its editors see it.
func adminCounter(t *testing.T, app *testApp, code string) *models.CounterForEdit {
	t.Helper()
	ctx := context.Background()
	list, err := app.store.ListCountersForAdmin(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.Code == code {
			ctr, err := app.store.FindCounterForEdit(ctx, 0, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return ctr
		}
	}
	t.Fatalf("no counter %s", code)
	return nil
}

func TestCounterEditing(t *testing.T) {
	app := newAdminApp(t)
	b01, c01 := adminCounter(t, app, "B01"), adminCounter(t, app, "C01")
	edit := "/admin/counters/" + strconv.Itoa(int(b01.ID))
	foreign := "/admin/counters/" + strconv.Itoa(int(c01.ID))

	first, second := newBrowser(app, "10.9.0.1"), newBrowser(app, "10.9.0.2")
	signIn(t, first, "rsj.admin", models.DemoPassword)
	signIn(t, second, "rsj.admin", models.DemoPassword)

	res, list := first.get(t, "/admin/counters")
	if res.StatusCode != http.StatusOK || !strings.Contains(list, `href="`+edit+`"`) ||
		!strings.Contains(list, `href="/counters/B01"`) || !strings.Contains(list, `href="/counters/B01/poster"`) {
		t.Fatalf("the list of counters: %d\n%s", res.StatusCode, stripTags(list))
	}
	if strings.Contains(list, "C01") {
		t.Fatal("a 部门管理员's list shows another department's counter")
	}

	_, page1 := first.get(t, edit)
	_, page2 := second.get(t, edit)
	form1, form2 := counterValues(t, page1), counterValues(t, page2)
	if form1.Get("hours") != b01.Hours || form1.Get("version") != strconv.Itoa(b01.Version) || len(form1["items"]) != len(b01.ServiceItems) {
		t.Fatalf("the edit form does not show the counter: %v", form1)
	}
	if !strings.Contains(page1, "窗口编号") || strings.Contains(page1, `name="code"`) {
		t.Fatal("the code is shown, never editable")
	}

	// Bad input: 422, messages by the fields, the input kept.
	bad := url.Values{}
	for k, v := range form1 {
		bad[k] = v
	}
	bad.Set("hours", "")
	bad.Set("name", "社保综合窗口（新）"+strings.Repeat("窗", 100))
	res, body := first.post(t, edit, edit, bad)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "请填写办公时间") ||
		!strings.Contains(body, "窗口名称不能超过 100 个字") || !strings.Contains(body, `value="社保综合窗口（新）`) {
		t.Fatalf("bad input: %d\n%s", res.StatusCode, stripTags(body))
	}

	// Change the hours and the items: keep the first, add one not handled.
	var added models.ServiceItem
	for _, ch := range b01.Choices {
		if !b01.Handles(ch.ID) {
			added = ch
			break
		}
	}
	if added.ID == 0 || len(b01.ServiceItems) < 2 {
		t.Fatal("the demo data has no item to add to B01, or too few to drop")
	}
	form1.Set("hours", "周一至周日 8:30–18:00")
	form1["items"] = []string{strconv.Itoa(int(b01.ServiceItems[0].ID)), strconv.Itoa(int(added.ID))}
	res, _ = first.post(t, edit, edit, form1)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/counters" {
		t.Fatalf("save: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	if _, back := first.follow(t, res); !strings.Contains(back, "已保存窗口信息") {
		t.Fatal("no message after the save")
	}
	_, pub := app.get(t, "/counters/B01")
	if !strings.Contains(pub, "周一至周日 8:30–18:00") || !strings.Contains(pub, added.Name) || !strings.Contains(pub, "本窗口办理的事项（2 项）") {
		t.Fatalf("the public page does not show the change at once:\n%s", stripTags(pub))
	}

	// The second editor started from the old version: refused, shown the
	// newer version, their input kept.
	form2.Set("staff_post", "社保综合岗")
	res, body = second.post(t, edit, edit, form2)
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "已被他人修改") ||
		!strings.Contains(body, "周一至周日 8:30–18:00") || !strings.Contains(body, `value="社保综合岗"`) {
		t.Fatalf("conflicting save: %d\n%s", res.StatusCode, stripTags(body))
	}
	if got := adminCounter(t, app, "B01"); got.StaffPost == "社保综合岗" || got.Hours != "周一至周日 8:30–18:00" {
		t.Fatal("a conflicting save overwrote the newer version")
	}

	// Another department's item cannot be attached, even by a forged form.
	_, page1 = first.get(t, edit)
	forged := counterValues(t, page1)
	forged.Add("items", strconv.Itoa(int(c01.Choices[0].ID)))
	forged.Set("staff_post", "伪造")
	res, body = first.post(t, edit, edit, forged)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "不属于本部门") {
		t.Fatalf("attaching another department's item: %d", res.StatusCode)
	}
	if got := adminCounter(t, app, "B01"); got.StaffPost == "伪造" || len(got.ServiceItems) != 2 {
		t.Fatal("a refused save changed the counter")
	}

	// Another department's counter is out of reach, by URL or by form.
	if res, _ := first.get(t, foreign); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET another department's counter: %d, want 404", res.StatusCode)
	}
	hostile := counterValues(t, page1)
	hostile.Set("version", strconv.Itoa(c01.Version))
	hostile.Set("name", "被改的窗口")
	hostile.Del("items")
	if res, _ := first.post(t, edit, foreign, hostile); res.StatusCode != http.StatusForbidden {
		t.Fatalf("POST to another department's counter: %d, want 403", res.StatusCode)
	}
	if res, _ := first.post(t, "/admin/counters", foreign+"/enabled", url.Values{"enabled": {"0"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("disabling another department's counter: %d, want 403", res.StatusCode)
	}
	if got := adminCounter(t, app, "C01"); got.Name != c01.Name || got.Version != c01.Version || !got.Enabled {
		t.Fatal("a refused request changed another department's counter")
	}

	// Disabled: off the public pages, its poster's code leads nowhere;
	// enabled again: back.
	toggle := edit + "/enabled"
	res, _ = first.post(t, "/admin/counters", toggle, url.Values{"enabled": {"0"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", res.StatusCode)
	}
	for _, target := range []string{"/r/B01", "/counters/B01", "/counters/B01/poster"} {
		if res, _ := app.get(t, target); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s of a disabled counter: %d, want 404", target, res.StatusCode)
		}
	}
	if _, idx := app.get(t, "/counters"); strings.Contains(idx, `href="/counters/B01"`) {
		t.Error("the public list shows a disabled counter")
	}
	if _, list := first.get(t, "/admin/counters"); !strings.Contains(list, "已停用") || !strings.Contains(list, `href="`+edit+`"`) {
		t.Fatal("the admin list hides the disabled counter")
	}
	res, _ = first.post(t, "/admin/counters", toggle, url.Values{"enabled": {"1"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", res.StatusCode)
	}
	if res, _ := app.get(t, "/r/B01"); res.StatusCode != http.StatusOK {
		t.Fatalf("GET /r/B01 of the enabled counter: %d", res.StatusCode)
	}

	// Every change is in the audit log; a 系统管理员 sees every department.
	sys := newBrowser(app, "10.9.0.3")
	signIn(t, sys, "admin", models.DemoPassword)
	_, audit := sys.get(t, "/admin/audit")
	for _, w := range []string{"修改窗口信息", "停用窗口", "启用窗口", "窗口 B01 社保综合窗口", "周一至周日 8:30–18:00", "人社局"} {
		if !strings.Contains(audit, w) {
			t.Errorf("the audit log lacks %q", w)
		}
	}
	res, all := sys.get(t, "/admin/counters")
	if res.StatusCode != http.StatusOK || !strings.Contains(all, "临江市公安局清河分局户政科") || !strings.Contains(all, `href="`+foreign+`"`) {
		t.Fatalf("the 系统管理员's list: %d", res.StatusCode)
	}
	if res, _ := sys.get(t, foreign); res.StatusCode != http.StatusOK {
		t.Fatalf("a 系统管理员 on another department's counter: %d", res.StatusCode)
	}
}
