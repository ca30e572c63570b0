package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// entryValues is the form of an entry as its edit page shows it.
func entryValues(t *testing.T, body string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, name := range []string{"duty", "office", "person_name", "person_post", "phone", "version", "back"} {
		m := regexpFind(`name="`+name+`" value="([^"]*)"`, body)
		v.Set(name, m)
	}
	for _, name := range []string{"tasks", "basis", "accountability"} {
		v.Set(name, htmlUnescape(regexpFind(`name="`+name+`"[^>]*>([^<]*)</textarea>`, body)))
	}
	v.Set("duty", htmlUnescape(v.Get("duty")))
	return v
}

func TestBoardEditing(t *testing.T) {
	app := newAdminApp(t)
	ctx := context.Background()
	b, err := app.store.FindBoard(ctx, "rsj")
	if err != nil {
		t.Fatal(err)
	}
	e := b.Sections[0].Entries[0]
	edit := "/admin/board/entries/" + strconv.Itoa(int(e.ID))

	first, second := newBrowser(app, "10.8.0.1"), newBrowser(app, "10.8.0.2")
	signIn(t, first, "rsj.admin", "qinghe-demo-2026")
	signIn(t, second, "rsj.admin", "qinghe-demo-2026")
	_, page1 := first.get(t, edit)
	_, page2 := second.get(t, edit)
	form1, form2 := entryValues(t, page1), entryValues(t, page2)

	// Bad input: 422, messages by the fields, the input kept.
	bad := url.Values{}
	for k, v := range form1 {
		bad[k] = v
	}
	bad.Set("phone", "请打办公室")
	bad.Set("person_name", "")
	res, body := first.post(t, edit, edit, bad)
	if res.StatusCode != 422 || !strings.Contains(body, "联系电话只能由数字") || !strings.Contains(body, "请填写责任人姓名") ||
		!strings.Contains(body, `value="请打办公室"`) {
		t.Fatalf("bad input: %d", res.StatusCode)
	}

	form1.Set("person_name", "郑晓明")
	res, _ = first.post(t, edit, edit, form1)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", res.StatusCode)
	}
	if _, pub := app.get(t, "/departments/rsj"); !strings.Contains(pub, "郑晓明") {
		t.Fatal("the public board does not show the change at once")
	}

	// The second editor started from the old version: refused, shown the
	// newer version, their input kept.
	form2.Set("phone", "8812 3999")
	res, body = second.post(t, edit, edit, form2)
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "已被他人修改") || !strings.Contains(body, "郑晓明") ||
		!strings.Contains(body, `value="8812 3999"`) {
		t.Fatalf("conflicting save: %d", res.StatusCode)
	}
	if got, _ := app.store.FindDutyEntry(ctx, 0, e.ID); got.Phone == "8812 3999" || got.PersonName != "郑晓明" {
		t.Fatal("a conflicting save overwrote the newer version")
	}

	// Another department's entry is out of reach, by URL or by form.
	hzk, _ := app.store.FindBoard(ctx, "hzk")
	foreign := "/admin/board/entries/" + strconv.Itoa(int(hzk.Sections[0].Entries[0].ID))
	if res, _ := first.get(t, foreign); res.StatusCode != 404 {
		t.Fatalf("GET another department's entry: %d", res.StatusCode)
	}
	res, _ = first.post(t, edit, foreign, form1)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("POST to another department's entry: %d, want 403", res.StatusCode)
	}
	res, _ = first.post(t, edit, foreign+"/delete", url.Values{})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("delete another department's entry: %d, want 403", res.StatusCode)
	}
	if res, _ := first.get(t, "/admin/board?department=hzk"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("another department's board: %d, want 403", res.StatusCode)
	}

	// Add, move, delete; each in the public history and the audit log.
	res, _ = first.post(t, "/admin/board/entries/new?section="+strconv.Itoa(int(b.Sections[0].ID)), "/admin/board/entries", url.Values{
		"section": {strconv.Itoa(int(b.Sections[0].ID))}, "duty": {"灵活就业人员参保登记"}, "tasks": {"受理\n审核"},
		"basis": {"《中华人民共和国社会保险法》"}, "accountability": {"不予受理的"}, "office": {"社会保险经办科"},
		"person_name": {"林晓东"}, "person_post": {"科长"}, "phone": {"8812 3412"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d", res.StatusCode)
	}
	b, _ = app.store.FindBoard(ctx, "rsj")
	added := b.Sections[0].Entries[len(b.Sections[0].Entries)-1]
	if added.Duty != "灵活就业人员参保登记" {
		t.Fatalf("added entry: %+v", added)
	}
	addedURL := "/admin/board/entries/" + strconv.Itoa(int(added.ID))
	if res, _ := first.post(t, "/admin/board", addedURL+"/move", url.Values{"direction": {"up"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("move: %d", res.StatusCode)
	}
	if _, confirm := first.get(t, addedURL+"/delete"); !strings.Contains(confirm, "确认删除") {
		t.Fatal("deleting asks first")
	}
	if res, _ := first.post(t, addedURL+"/delete", addedURL+"/delete", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	_, pub := app.get(t, "/departments/rsj")
	for _, w := range []string{"新增责任事项“灵活就业人员参保登记”", "灵活就业人员参保登记”前移", "删除责任事项“灵活就业人员参保登记”"} {
		if !strings.Contains(pub, w) {
			t.Errorf("the public history lacks %q", w)
		}
	}
	sys := newBrowser(app, "10.8.0.3")
	signIn(t, sys, "admin", "qinghe-demo-2026")
	_, audit := sys.get(t, "/admin/audit")
	for _, w := range []string{"修改责任事项", "新增责任事项", "调整责任事项顺序", "删除责任事项", "郑晓明"} {
		if !strings.Contains(audit, w) {
			t.Errorf("the audit log lacks %q", w)
		}
	}
	// A 系统管理员 may edit any department's board.
	if res, body := sys.get(t, "/admin/board?department=hzk"); res.StatusCode != 200 || !strings.Contains(body, "户政科") {
		t.Fatalf("系统管理员 on another board: %d", res.StatusCode)
	}
}

func TestBoardSections(t *testing.T) {
	app := newAdminApp(t)
	ctx := context.Background()
	b := newBrowser(app, "10.11.0.1")
	signIn(t, b, "mzj.admin", "qinghe-demo-2026")
	res, _ := b.post(t, "/admin/board", "/admin/board/sections", url.Values{"title": {"事中事后监管"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add section: %d", res.StatusCode)
	}
	board, _ := app.store.FindBoard(ctx, "mzj")
	last := board.Sections[len(board.Sections)-1]
	if last.Title != "事中事后监管" {
		t.Fatalf("new section: %+v", last)
	}
	path := "/admin/board/sections/" + strconv.Itoa(int(last.ID))
	b.post(t, "/admin/board", path, url.Values{"title": {"事中事后监管制度"}})
	b.post(t, "/admin/board", path+"/move", url.Values{"direction": {"up"}})
	res, _ = b.post(t, "/admin/board", path+"/delete", url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	// A section with entries is kept, with the reason.
	first := board.Sections[0]
	res, _ = b.post(t, "/admin/board", "/admin/board/sections/"+strconv.Itoa(int(first.ID))+"/delete", url.Values{})
	_, body := b.follow(t, res)
	if !strings.Contains(body, "请先删除这些事项再删除该部分") {
		t.Fatal("deleting a section with entries must be refused with the reason")
	}
	// Another department's section: 403, unchanged.
	rsj, _ := app.store.FindBoard(ctx, "rsj")
	res, _ = b.post(t, "/admin/board", "/admin/board/sections/"+strconv.Itoa(int(rsj.Sections[0].ID)), url.Values{"title": {"越权"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("renaming another department's section: %d", res.StatusCode)
	}
	_, pub := app.get(t, "/departments/mzj")
	for _, w := range []string{"新增部分“事中事后监管”", "更名为“事中事后监管制度”", "调整部分顺序", "删除部分“事中事后监管制度”"} {
		if !strings.Contains(pub, w) {
			t.Errorf("the public history lacks %q", w)
		}
	}
	if rsj2, _ := app.store.FindBoard(ctx, "rsj"); rsj2.Sections[0].Title != rsj.Sections[0].Title {
		t.Fatal("another department's section changed")
	}
}
