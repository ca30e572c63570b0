package handlers

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/zwfw/portal/models"
)

func TestBoardPages(t *testing.T) {
	app := newTestApp(t)
	tests := []struct {
		name, target string
		status       int
		want         []string
	}{
		{"departments", "/departments", 200, []string{"部门责任清单", `href="/departments/rsj"`, "清河区人力资源和社会保障局",
			`href="/counters/B01"`, "办理事项"}},
		{"board", "/departments/rsj", 200, []string{"清河区人力资源和社会保障局责任清单", "部门主要职责", "具体责任事项",
			"追责情形", "承办科室和责任人", "职责边界", "服务窗口", `href="/counters/B04"`, "办理事项", "变更记录", "最后更新",
			"发布责任清单", `href="/departments/rsj/print"`}},
		{"print", "/departments/rsj/print", 200, []string{"责任清单", "<svg", "<path d=\"M", "扫码查看网页版",
			"http://example.com/departments/rsj", "最后更新"}},
		{"unknown department", "/departments/nope", 404, []string{"页面不存在"}},
		{"unknown print", "/departments/nope/print", 404, []string{"页面不存在"}},
		{"hostile slug", "/departments/%3Cscript%3E", 404, []string{"页面不存在"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := app.get(t, tt.target)
			if res.StatusCode != tt.status {
				t.Fatalf("GET %s = %d, want %d", tt.target, res.StatusCode, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: body lacks %q", tt.target, w)
				}
			}
		})
	}
}

func TestBoardShowsEveryChangeAtOnce(t *testing.T) {
	app := newTestApp(t)
	ctx := context.Background()
	b, err := app.store.FindBoard(ctx, "hzk")
	if err != nil {
		t.Fatal(err)
	}
	e := b.Sections[0].Entries[0]
	before := map[string]int{}
	for _, target := range []string{"/departments/hzk", "/departments/hzk/print"} {
		_, body := app.get(t, target)
		before[target] = strings.Count(body, e.PersonName)
	}
	in := models.DutyEntryInput{Duty: e.Duty, Tasks: e.Tasks, Basis: e.Basis, Accountability: e.Accountability,
		Office: e.Office, PersonName: "欧阳明远", PersonPost: e.PersonPost, Phone: e.Phone}
	if err := app.store.UpdateDutyEntry(ctx, b.Department.ID, e.ID, e.Version, in, models.Actor{Name: "户政科 管理员"}); err != nil {
		t.Fatal(err)
	}
	// The web page and the printed board come from the same record: both
	// show the new 责任人 on the next request. (The web page also names the
	// old one once more, in the change history.)
	for target, history := range map[string]int{"/departments/hzk": 1, "/departments/hzk/print": 0} {
		_, body := app.get(t, target)
		if !strings.Contains(body, "欧阳明远") || strings.Count(body, e.PersonName) != before[target]-1+history {
			t.Errorf("%s does not show the new 责任人 at once", target)
		}
	}
	_, body := app.get(t, "/departments/hzk")
	for _, w := range []string{"的责任人", "<del>" + e.PersonName + "</del>", "<ins>欧阳明远</ins>"} {
		if !strings.Contains(body, w) {
			t.Errorf("the change history lacks %q", w)
		}
	}
}

// TestRightDoor checks that "我要办" sends common needs to the right counter.
func TestRightDoor(t *testing.T) {
	app := newTestApp(t)
	tests := []struct {
		need, item, counter string
	}{
		{"换身份证", "居民身份证换领", "C02"},
		{"身份证丢了", "居民身份证补领", "C02"},
		{"开饭店", "食品经营许可", "A04"},
		{"退休", "养老保险待遇申领", "B04"},
		{"结婚", "结婚登记", "J01"},
		{"公积金提取", "提取住房公积金", "G01"},
		{"开公司", "企业设立登记", "A01"},
		{"异地就医", "异地就医备案", "B05"},
		{"低保", "最低生活保障", "Q01"},
		{"營業執照補辦", "营业执照遗失补领", "A03"},
	}
	for _, tt := range tests {
		t.Run(tt.need, func(t *testing.T) {
			res, body := app.get(t, "/guide?need="+url.QueryEscape(tt.need))
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			i := strings.Index(body, `id="answer-title"`)
			if i < 0 {
				t.Fatalf("no answer for %q", tt.need)
			}
			answer := body[i:]
			if end := strings.Index(answer, "</section>"); end > 0 {
				answer = answer[:end]
			}
			if !strings.Contains(answer, tt.item) {
				t.Fatalf("%q answered with %q, want %q", tt.need, stripTags(answer[:min(200, len(answer))]), tt.item)
			}
			for _, w := range []string{`href="/counters/` + tt.counter + `"`, "要带什么材料", "什么时间去", "找哪个部门", "楼"} {
				if !strings.Contains(answer, w) {
					t.Errorf("%q: the answer lacks %q", tt.need, w)
				}
			}
		})
	}

	_, body := app.get(t, "/guide?need="+url.QueryEscape("火星移民"))
	if !strings.Contains(body, "没有找到与“火星移民”对应的事项") || !strings.Contains(body, "8812 3400") {
		t.Error("an unknown need gets no helpful answer")
	}
	res, body := app.get(t, "/guide?need="+strings.Repeat("a", 500))
	if res.StatusCode != 422 || !strings.Contains(body, "检索词不能超过") || !strings.Contains(body, `aria-invalid="true"`) {
		t.Errorf("an overlong need: %d", res.StatusCode)
	}
	if res, body := app.get(t, "/guide"); res.StatusCode != 200 || !strings.Contains(body, "我要办…") {
		t.Errorf("the empty form: %d", res.StatusCode)
	}
	if _, body := app.get(t, "/"); !strings.Contains(body, `action="/guide"`) {
		t.Error("the home page lacks the 我要办 box")
	}
}

func TestQRCodeIsDrawnWithAQuietZone(t *testing.T) {
	code, err := qrCode("http://example.com/departments/rsj")
	if err != nil {
		t.Fatal(err)
	}
	// Version 3 (29 modules) holds this URL at level M; 4 blank modules on
	// each side make 37.
	if code.Size < 29+8 || !strings.HasPrefix(code.Path, "M4 4h7v1h-7z") {
		t.Fatalf("size %d, path starts %q: want the 7-module finder pattern at (4, 4)", code.Size, code.Path[:min(20, len(code.Path))])
	}
}
