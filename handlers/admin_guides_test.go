package handlers

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zwfw/portal/models"
)

var (
	inputTag    = regexp.MustCompile(`<input\b[^>]*>`)
	attrPattern = regexp.MustCompile(`([a-zA-Z_:-]+)(?:="([^"]*)")?`)
	textareaTag = regexp.MustCompile(`(?s)<textarea\b[^>]*\bname="([^"]+)"[^>]*>(.*?)</textarea>`)
	selectTag   = regexp.MustCompile(`(?s)<select\b[^>]*\bname="([^"]+)"[^>]*>(.*?)</select>`)
	selectedOpt = regexp.MustCompile(`<option value="([^"]*)" selected`)
)

// formValues reads the values of the form fields of a page as a browser
// would submit them: inputs, ticked boxes, textareas, chosen options.
func formValues(body string) url.Values {
	v := url.Values{}
	for _, tag := range inputTag.FindAllString(body, -1) {
		attrs := map[string]string{}
		for _, m := range attrPattern.FindAllStringSubmatch(strings.TrimPrefix(tag, "<input"), -1) {
			attrs[m[1]] = htmlUnescape(m[2])
		}
		_, checked := attrs["checked"]
		if attrs["name"] == "" || (attrs["type"] == "checkbox" && !checked) {
			continue
		}
		v.Add(attrs["name"], attrs["value"])
	}
	for _, m := range textareaTag.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	for _, m := range selectTag.FindAllStringSubmatch(body, -1) {
		if o := selectedOpt.FindStringSubmatch(m[2]); o != nil {
			v.Set(m[1], htmlUnescape(o[1]))
		} else {
			v.Set(m[1], "")
		}
	}
	return v
}

// firstBlankRow is the first spare row of a list in the form.
func firstBlankRow(t *testing.T, v url.Values, list, field string) string {
	t.Helper()
	for i := 0; i < 100; i++ {
		key := list + "." + strconv.Itoa(i) + "."
		if _, ok := v[key+"sort"]; !ok {
			break
		}
		if v.Get(key+field) == "" {
			return key
		}
	}
	t.Fatalf("the form has no spare row in %s", list)
	return ""
}

// rowNumber is the row as the form numbers it for people: "materials.4."
// is row 5.
func rowNumber(key string) string {
	n, _ := strconv.Atoi(strings.Split(key, ".")[1])
	return strconv.Itoa(n + 1)
}

func itemID(t *testing.T, app *testApp, code string) uint {
	t.Helper()
	items, err := app.store.ListGuidesForAdmin(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Code == code {
			return it.ID
		}
	}
	t.Fatalf("no item %s", code)
	return 0
}

func storedGuide(t *testing.T, app *testApp, id uint) *models.ServiceItem {
	t.Helper()
	it, err := app.store.FindGuideForEdit(context.Background(), 0, id)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func TestGuideEditing(t *testing.T) {
	app := newAdminApp(t)
	const code = "11QHRSJ0001-01"
	id := itemID(t, app, code)
	edit := "/admin/guides/" + strconv.Itoa(int(id))
	public := "/services/" + code
	before := storedGuide(t, app, id)

	first, second := newBrowser(app, "10.9.0.1"), newBrowser(app, "10.9.0.2")
	signIn(t, first, "rsj.admin", models.DemoPassword)
	signIn(t, second, "rsj.admin", models.DemoPassword)

	res, list := first.get(t, "/admin/guides")
	if res.StatusCode != 200 || !strings.Contains(list, before.Name) || !strings.Contains(list, "已发布") ||
		strings.Contains(list, "11QHHZK0002-01") {
		t.Fatalf("the list: %d, or it shows another department's items", res.StatusCode)
	}
	res, page1 := first.get(t, edit)
	if res.StatusCode != 200 || !strings.Contains(page1, "删除此行") || !strings.Contains(page1, "顺序") ||
		strings.Contains(page1, `name="department"`) {
		t.Fatalf("edit page: %d", res.StatusCode)
	}
	_, page2 := second.get(t, edit)
	form1, form2 := formValues(page1), formValues(page2)
	if form1.Get("name") != before.Name || form1.Get("materials.0.name") != before.Materials[0].Name || form1.Get("version") == "" {
		t.Fatalf("the form does not show the stored guide: %v", form1)
	}

	// Bad input: 422, messages by the fields, every value kept, nothing
	// stored.
	bad := url.Values{}
	for k, v := range form1 {
		bad[k] = v
	}
	bad.Set("name", "")
	bad.Set("legal_limit.value", "20")
	bad.Set("legal_limit.unit", "工作日")
	bad.Set("promised_limit.value", "30")
	bad.Set("promised_limit.unit", "工作日")
	bad.Set("online_url", "javascript:alert(1)")
	row := firstBlankRow(t, bad, "materials", "name")
	bad.Set(row+"necessity", "必要")
	bad.Set(row+"note", "无名材料的说明")
	res, body := first.post(t, edit, edit, bad)
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad input: %d, want 422", res.StatusCode)
	}
	for _, w := range []string{"请填写事项名称", "承诺办结时限不能长于法定办结时限（20 个工作日）", "须以 http:// 或 https:// 开头",
		"申请材料第 " + rowNumber(row) + " 行：请填写材料名称", "请填写材料名称",
		`value="javascript:alert(1)"`, `value="30"`, "无名材料的说明", before.Materials[1].Name} {
		if !strings.Contains(body, w) {
			t.Errorf("the 422 page lacks %q", w)
		}
	}
	if strings.Contains(body, `href="javascript:`) {
		t.Error("the bad URL became a link")
	}
	if got := formValues(body); got.Get(row+"necessity") != "必要" || got.Get("name") != "" {
		t.Errorf("the bad row was not kept: %q", got.Get(row+"necessity"))
	}
	if got := storedGuide(t, app, id); got.Version != before.Version || got.OnlineURL != before.OnlineURL {
		t.Fatal("bad input changed the guide")
	}

	// A good save: a new material, a shorter promise, a new name.
	form1.Set("name", "企业职工基本养老保险待遇申领（含弹性退休）")
	form1.Set("promised_limit.value", "5")
	row = firstBlankRow(t, form1, "materials", "name")
	form1.Set(row+"name", "弹性退休申请表")
	form1.Set(row+"necessity", "必要")
	form1.Set(row+"form", "原件")
	form1.Set(row+"copies", "1")
	form1.Set(row+"source", "申请人自备")
	form1.Set(row+"blank_form", "1")
	res, _ = first.post(t, edit, edit, form1)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/guides" {
		t.Fatalf("save: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	if _, back := first.follow(t, res); !strings.Contains(back, "已保存") {
		t.Fatal("no message after saving")
	}
	saved := storedGuide(t, app, id)
	if saved.UpdatedAt.Equal(before.UpdatedAt) || saved.PromisedLimit.Value != 5 {
		t.Fatalf("saved: %+v", saved.PromisedLimit)
	}
	res, pub := app.get(t, public)
	text := stripTags(pub)
	for _, w := range []string{"企业职工基本养老保险待遇申领（含弹性退休）", "弹性退休申请表", "5 个工作日",
		"最后更新：" + models.InBeijing(saved.UpdatedAt).Format("2006-01-02")} {
		if !strings.Contains(text, w) {
			t.Errorf("the public guide lacks %q", w)
		}
	}
	if before.UpdatedAt.Format("2006-01-02") == saved.UpdatedAt.Format("2006-01-02") {
		t.Fatal("the demo item was last updated today: the test cannot see 最后更新 change")
	}
	if _, found := app.get(t, "/services?q="+q("弹性退休")); !strings.Contains(found, `href="`+public+`"`) {
		t.Error("search does not find the new word of the name")
	}

	// The second editor started from the old version: refused, shown the
	// newer version, their input kept.
	form2.Set("hours_note", "周六上午不打烊")
	res, body = second.post(t, edit, edit, form2)
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "已被他人修改") ||
		!strings.Contains(body, "弹性退休申请表") || !strings.Contains(body, "周六上午不打烊") {
		t.Fatalf("conflicting save: %d", res.StatusCode)
	}
	if got := storedGuide(t, app, id); got.HoursNote == "周六上午不打烊" || got.Name != saved.Name {
		t.Fatal("a conflicting save overwrote the newer version")
	}
	// Having merged the colleague's change, the second editor saves from
	// the conflict page, which carries the newer version.
	merged := formValues(body)
	merged.Set("name", saved.Name)
	res, _ = second.post(t, edit, edit, merged)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving after the conflict: %d", res.StatusCode)
	}
	if got := storedGuide(t, app, id); got.HoursNote != "周六上午不打烊" || got.Name != saved.Name {
		t.Fatalf("after the conflict: %q, %q", got.HoursNote, got.Name)
	}

	// Another department's item is out of reach, by URL or by form.
	otherID := itemID(t, app, "11QHHZK0002-01")
	other := storedGuide(t, app, otherID)
	foreign := "/admin/guides/" + strconv.Itoa(int(otherID))
	if res, _ := first.get(t, foreign); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET another department's item: %d, want 404", res.StatusCode)
	}
	for target, form := range map[string]url.Values{
		foreign:              form1,
		foreign + "/publish": {"published": {"0"}},
		foreign + "/repeal":  {},
	} {
		if res, _ := first.post(t, "/admin/guides", target, form); res.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s: %d, want 403", target, res.StatusCode)
		}
	}
	if got := storedGuide(t, app, otherID); got.Version != other.Version || got.Name != other.Name || !got.Published || got.RepealedAt != nil {
		t.Fatal("a refused request changed another department's item")
	}

	// Withdrawn, the guide is gone from the site; published, it is back.
	res, _ = first.post(t, "/admin/guides", edit+"/publish", url.Values{"published": {"0"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("withdraw: %d", res.StatusCode)
	}
	if res, _ := app.get(t, public); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a withdrawn guide: %d, want 404", res.StatusCode)
	}
	if _, catalogue := app.get(t, "/services?department=rsj"); strings.Contains(catalogue, public) {
		t.Fatal("a withdrawn guide is still listed")
	}
	if _, list := first.get(t, "/admin/guides"); !strings.Contains(list, "未发布") {
		t.Fatal("the list does not say the item is withdrawn")
	}
	if res, _ := first.get(t, edit); res.StatusCode != 200 {
		t.Fatalf("editing a withdrawn guide: %d", res.StatusCode)
	}
	if res, _ := first.post(t, "/admin/guides", edit+"/publish", url.Values{"published": {"x"}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("publish=x: %d, want 400", res.StatusCode)
	}
	first.post(t, "/admin/guides", edit+"/publish", url.Values{"published": {"1"}})
	if res, _ := app.get(t, public); res.StatusCode != 200 {
		t.Fatalf("a republished guide: %d", res.StatusCode)
	}
	if _, catalogue := app.get(t, "/services?department=rsj"); !strings.Contains(catalogue, public) {
		t.Fatal("a republished guide is not listed")
	}

	// Repealed, the guide says since when; undone, it does not.
	res, _ = first.post(t, "/admin/guides", edit+"/repeal", url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("repeal: %d", res.StatusCode)
	}
	today := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")
	if _, pub := app.get(t, public); !strings.Contains(stripTags(pub), "本事项已于 "+today+" 废止") {
		t.Fatal("the repealed guide does not say so with the date")
	}
	if _, list := first.get(t, "/admin/guides"); !strings.Contains(list, "已废止（"+today+"）") {
		t.Fatal("the list does not show the repeal")
	}
	first.post(t, "/admin/guides", edit+"/repeal", url.Values{"undo": {"1"}})
	if _, pub := app.get(t, public); strings.Contains(pub, "废止") {
		t.Fatal("the repeal was not undone")
	}

	// Everything is in the audit log; a 系统管理员 sees every department's
	// items and may move one.
	sys := newBrowser(app, "10.9.0.3")
	signIn(t, sys, "admin", models.DemoPassword)
	_, audit := sys.get(t, "/admin/audit")
	for _, w := range []string{"修改办事指南", "停止发布办事指南", "发布办事指南", "废止办事事项", "撤销废止", code} {
		if !strings.Contains(audit, w) {
			t.Errorf("the audit log lacks %q", w)
		}
	}
	if _, list := sys.get(t, "/admin/guides"); !strings.Contains(list, "11QHHZK0002-01") || !strings.Contains(list, code) {
		t.Fatal("a 系统管理员 does not see every department's items")
	}
	res, page := sys.get(t, foreign)
	if res.StatusCode != 200 || !strings.Contains(page, `name="department"`) {
		t.Fatalf("a 系统管理员 editing another department's item: %d", res.StatusCode)
	}
}
