//go:build e2e

package handlers

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zwfw/portal/models"
)

// TestBrowserFlows drives the flows people use, each with the mouse, with
// the keyboard only and with JavaScript off.
func TestBrowserFlows(t *testing.T) {
	site := newE2ESite(t)

	t.Run("resident searches 社保 and opens a guide", func(t *testing.T) {
		forEachWay(t, func(t *testing.T, w way, _ int) {
			tb := site.newTab(t, w.opts)
			tb.open("/")
			tb.fill("搜索办事事项", "社保")
			tb.press("搜索")
			tb.see("找到与“社保”相关的事项", "社会保障卡申领")
			tb.follow("社会保障卡申领")
			if !strings.HasPrefix(tb.path(), "/services/") {
				t.Fatalf("the result link opens %s, not a guide", tb.path())
			}
			if h1 := eval[string](tb, `document.querySelector('h1').innerText`); !strings.Contains(h1, "社会保障卡申领") {
				t.Fatalf("the guide is headed %q", h1)
			}
			tb.see("申请材料", "办理地点和时间", "承诺办结时限")
		})
	})

	t.Run("resident finds the counter with 我要办", func(t *testing.T) {
		forEachWay(t, func(t *testing.T, w way, _ int) {
			tb := site.newTab(t, w.opts)
			tb.open("/")
			tb.fill("我要办…", "换身份证")
			tb.press("告诉我去哪办")
			tb.see("您要办的是", "居民身份证换领", "去哪个窗口", "要带什么材料")
			tb.follow("居民身份证窗口（C02）")
			if tb.path() != "/counters/C02" {
				t.Fatalf("the counter link opens %s", tb.path())
			}
			tb.see("一楼 户政服务区 C02 号窗口", "居民身份证换领")

			// On a phone, the 我要办 box and its button fit their row: an
			// input keeps its default width in a flex row unless allowed
			// to shrink.
			phone := site.newTab(t, w.with(tabOptions{phone: true}))
			for _, path := range []string{"/", "/guide?need=" + url.QueryEscape("退休")} {
				phone.open(path)
				if wide := eval[bool](phone, `[...document.querySelectorAll('.search-row')].some(r => r.scrollWidth > r.clientWidth)`); wide {
					t.Errorf("%s: a search box and its button are wider than the phone's screen", path)
				}
			}
		})
	})

	t.Run("resident rates 不满意 on a phone and looks the case up", func(t *testing.T) {
		forEachWay(t, func(t *testing.T, w way, _ int) {
			// The poster's QR code carries the rating address; a phone's
			// camera opens it.
			tb := site.newTab(t, w.with(tabOptions{phone: true}))
			tb.open("/counters/B01/poster")
			qr := eval[string](tb, `document.querySelector('[role=img][aria-label^="评价二维码："]').getAttribute('aria-label')`)
			u, err := url.Parse(strings.TrimPrefix(qr, "评价二维码："))
			if err != nil || u.Path != "/r/B01" {
				t.Fatalf("the poster's QR code says %q", qr)
			}
			tb.open(u.Path)
			if wide := eval[bool](tb, `document.documentElement.scrollWidth > window.innerWidth`); wide {
				t.Error("the rating page is wider than the phone's screen")
			}
			tb.see("您对本窗口的服务满意吗？")
			tb.follow("不满意")
			tb.see("哪里不满意？（可多选）")

			// Nothing chosen: the form comes back with the message tied to
			// the question, and nothing is stored.
			tb.press("提交评价")
			if msg := tb.fieldError("事难办"); !strings.Contains(msg, "请至少选择") {
				t.Fatalf("submitting no reason shows %q by the question", msg)
			}

			tb.choose("事难办")
			tb.fill("具体情况", "材料要求前后说法不一，跑了两趟")
			tb.fill("手机号码", "13900001111")
			tb.press("提交评价")
			tb.see("感谢您的评价！", "已为您的评价生成督办单")
			number, code := tb.valueOf("督办单编号"), tb.valueOf("查询码")

			tb.follow("督办单查询")
			if got := eval[string](tb, `document.getElementById('number').value`); got != number {
				tb.fill("督办单编号", number)
			}
			tb.fill("查询码", code)
			tb.press("查询")
			tb.see("督办单 "+number, models.CaseAwaitingCallback, "事难办", "139****1111")
		})
	})

	t.Run("staff edit a responsibility entry and see it on the public board", func(t *testing.T) {
		names := []string{"周建国", "吴丽华", "郑志强"}
		forEachWay(t, func(t *testing.T, w way, n int) {
			tb := site.newTab(t, w.opts)
			tb.open("/admin/login")
			tb.fill("用户名", "rsj.admin")
			tb.fill("密码", models.DemoPassword)
			tb.press("登录")
			tb.see("工作台")
			tb.follow("责任清单")
			tb.follow("修改")
			old := eval[string](tb, `document.getElementById('person_name').value`)
			tb.fill("责任人姓名", names[n])
			tb.press("保存")
			tb.see(names[n])
			tb.follow("查看公开页面")
			if !strings.HasPrefix(tb.path(), "/departments/") {
				t.Fatalf("查看公开页面 opens %s", tb.path())
			}
			tb.see(names[n])
			tb.seeIn("变更记录", old+" → "+names[n])
		})
	})

	t.Run("staff work a case to 已整改", func(t *testing.T) {
		forEachWay(t, func(t *testing.T, w way, n int) {
			rec, err := site.app.store.RateCounter(context.Background(), models.RatingInput{CounterCode: "B01", Level: models.LevelDissatisfied,
				Reasons: []string{"办事效率低"}, Phone: "13912345678", Device: "e2e-case-" + w.name, Address: "e2e"}, models.DefaultRatingRules(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			number := rec.Case.Number
			tb := site.newTab(t, w.opts)
			tb.open("/admin/login")
			tb.fill("用户名", "rsj.admin")
			tb.fill("密码", models.DemoPassword)
			tb.press("登录")
			tb.follow("督办单")
			tb.follow(number)
			tb.see("督办单 "+number, models.CaseAwaitingCallback, "13912345678")

			// A step without its note is refused, the message by the field.
			tb.press("保存回访")
			if msg := tb.fieldError("回访情况"); msg == "" {
				t.Fatal("an empty 回访 shows no message by the field")
			}
			tb.fill("回访情况", "已电话联系评价人，反映窗口办理慢")
			tb.press("保存回访")
			tb.see("记录核实结果")
			tb.choose(models.FindingTrue)
			tb.fill("核实情况", "调取窗口记录，情况属实")
			tb.press("保存核实结果")
			tb.fill("整改责任人", "窗口负责人")
			tb.fill("整改措施", "增开一个窗口，高峰时段弹性排班")
			tb.press("开始整改")
			tb.choose(models.OutcomeFixed)
			tb.fill("办理情况", "已增开窗口，平均等候时间缩短")
			tb.press("办结")
			tb.see(models.CaseClosed)
			if got := eval[string](tb, `[...document.querySelectorAll('.timeline li')].map(e => e.innerText).join('\n')`); !strings.Contains(got, models.OutcomeFixed) && !strings.Contains(tb.valueOf("状态"), models.CaseClosed) {
				t.Fatalf("the closed case's history: %s", got)
			}
			c, err := site.app.store.FindCase(context.Background(), rec.Case.ID, 0)
			if err != nil || c.State != models.CaseClosed || c.Outcome != models.OutcomeFixed {
				t.Fatalf("the case is %q / %q after 办结 (%v)", c.State, c.Outcome, err)
			}
		})
	})
}
