//go:build e2e

package handlers

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/zwfw/portal/models"
)

// displayMode is one of the display preferences of the display-modes
// contract, set by its cookies before the pages load.
type displayMode struct {
	name    string
	cookies map[string]string
	care    bool
	hant    bool
}

var displayModes = []displayMode{
	{name: "标准版"},
	{name: "关怀版", cookies: map[string]string{"care": "1"}, care: true},
	{name: "繁體", cookies: map[string]string{"script": "hant"}, hant: true},
}

// a11yPage is a page to check: opened by its path, or reached from it by
// acting as a user (a form sent with mistakes, a rating, a lookup).
type a11yPage struct {
	name  string
	path  string
	reach func(tb *tab)
}

// axeTags are the rules of WCAG 2.1 A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

// TestBrowserAccessibility runs axe-core (WCAG 2.1 A and AA) on every public
// and admin page in every display mode, and checks what axe cannot: the
// language, the order of headings, the skip link, text alternatives of
// charts and error messages tied to their fields.
func TestBrowserAccessibility(t *testing.T) {
	axe, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("axe-core is missing (run npm ci in testdata/e2e, or make e2e): %v", err)
	}
	site := newE2ESite(t)
	public, admin := sitePages(t, site)

	// axe must find what it is there to find: a page with an image without
	// a text alternative and a field without a label fails.
	t.Run("axe finds violations", func(t *testing.T) {
		tb := site.newTab(t, tabOptions{})
		tb.open("/no/such/page")
		if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('main').insertAdjacentHTML('beforeend', '<img src="/x.png"><input name="x">')`)); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, v := range runAxe(tb, axe) {
			got[v.ID] = true
		}
		if !got["image-alt"] || !got["label"] {
			t.Fatalf("axe-core reports %v on a page with an unlabelled image and field", got)
		}
	})

	for _, mode := range displayModes {
		t.Run(mode.name, func(t *testing.T) {
			tb := site.newTab(t, tabOptions{cookies: mode.cookies})
			// Signed out first (the sign-in page among them), then as staff.
			check := func(p a11yPage) {
				t.Run(p.name, func(t *testing.T) {
					tb.t = t
					tb.open(p.path)
					if p.reach != nil {
						p.reach(tb)
					}
					checkPage(tb, mode, axe)
				})
			}
			for _, p := range public {
				check(p)
			}
			tb.t = t
			signInTab(tb, "admin")
			for _, p := range admin {
				check(p)
			}
		})
	}
}

// sitePages lists every public page (signed out) and every admin page, with
// the forms re-rendered with mistakes. Pages reached by a rating open a
// case; each run of the list rates once more.
func sitePages(t *testing.T, site *e2eSite) (public, admin []a11yPage) {
	t.Helper()
	ctx := context.Background()
	caseRec, err := site.app.store.RateCounter(ctx, models.RatingInput{CounterCode: "B01", Level: models.LevelDissatisfied,
		Reasons: []string{"事难办"}, Phone: "13912345678", Device: "e2e-a11y", Address: "e2e-a11y"}, models.DefaultRatingRules(), time.Now())
	if err != nil {
		t.Fatal(err)
	}

	// Admin pages with an id: found as staff find them, from their lists.
	scout := site.newTab(t, tabOptions{})
	signInTab(scout, "admin")
	hrefs := map[string]string{}
	for list, pattern := range map[string]string{
		"/admin/board":    `^/admin/board/entries/\d+$`,
		"/admin/board#":   `^/admin/board/entries/new$`,
		"/admin/counters": `^/admin/counters/\d+$`,
		"/admin/guides":   `^/admin/guides/\d+$`,
	} {
		scout.open(strings.TrimSuffix(list, "#"))
		b, _ := json.Marshal(pattern)
		href := eval[string](scout, `(function(re){ const a = [...document.querySelectorAll('a[href]')].find(a => new RegExp(re).test(a.pathname)); return a ? a.pathname + a.search : ''; })(`+string(b)+`)`)
		if href == "" {
			t.Fatalf("%s links to no %s", list, pattern)
		}
		hrefs[pattern] = href
	}
	entry := hrefs[`^/admin/board/entries/\d+$`]
	entryPath := entry[:strings.Index(entry+"?", "?")]

	var number, code string // of the case a rater opens in the thanks page
	public = []a11yPage{
		{name: "home", path: "/"},
		{name: "catalogue", path: "/services"},
		{name: "search", path: "/services?q=" + q("社保")},
		{name: "search with a mistake", path: "/services?page=abc"},
		{name: "guide", path: "/services/11QHHZK0002-01"},
		{name: "我要办", path: "/guide"},
		{name: "我要办 answer", path: "/guide?need=" + q("换身份证")},
		{name: "departments", path: "/departments"},
		{name: "board", path: "/departments/rsj"},
		{name: "board print", path: "/departments/rsj/print"},
		{name: "counters", path: "/counters"},
		{name: "counter", path: "/counters/C02"},
		{name: "poster", path: "/counters/C02/poster"},
		{name: "ratings", path: "/ratings"},
		{name: "cases", path: "/cases"},
		{name: "rate", path: "/r/B01"},
		{name: "rate 不满意", path: "/r/B01", reach: func(tb *tab) { tb.follow("不满意") }},
		{name: "rate with a mistake", path: "/r/B01", reach: func(tb *tab) {
			tb.follow("不满意")
			tb.press("提交评价")
			expectMistake(tb)
		}},
		{name: "thanks", path: "/r/B01", reach: func(tb *tab) {
			tb.follow("不满意")
			tb.choose("事难办")
			tb.press("提交评价")
			number, code = tb.valueOf("督办单编号"), tb.valueOf("查询码")
		}},
		{name: "case lookup", path: "/cases/lookup"},
		{name: "case lookup with a mistake", path: "/cases/lookup", reach: func(tb *tab) {
			tb.fill("督办单编号", "DB2026")
			tb.press("查询")
			expectMistake(tb)
		}},
		{name: "looked-up case", path: "/cases/lookup", reach: func(tb *tab) {
			tb.fill("督办单编号", number)
			tb.fill("查询码", code)
			tb.press("查询")
		}},
		{name: "not found", path: "/no/such/page"},
		{name: "admin sign-in", path: "/admin/login"},
		{name: "admin sign-in failed", path: "/admin/login", reach: func(tb *tab) {
			tb.fill("用户名", "nobody")
			tb.fill("密码", "wrong-password")
			tb.press("登录")
			expectMistake(tb)
		}},
	}
	admin = []a11yPage{
		{name: "home", path: "/admin"},
		{name: "cases", path: "/admin/cases"},
		{name: "case", path: "/admin/cases/" + strconv.Itoa(int(caseRec.Case.ID))},
		{name: "case step with a mistake", path: "/admin/cases/" + strconv.Itoa(int(caseRec.Case.ID)), reach: func(tb *tab) {
			tb.press("保存回访")
			expectMistake(tb)
		}},
		{name: "board", path: "/admin/board"},
		{name: "entry new", path: hrefs[`^/admin/board/entries/new$`]},
		{name: "entry edit", path: entry},
		{name: "entry edit with a mistake", path: entry, reach: func(tb *tab) {
			tb.fill("职责事项", "")
			tb.press("保存")
			expectMistake(tb)
		}},
		{name: "entry delete", path: entryPath + "/delete"},
		{name: "counters", path: "/admin/counters"},
		{name: "counter edit", path: hrefs[`^/admin/counters/\d+$`]},
		{name: "counter edit with a mistake", path: hrefs[`^/admin/counters/\d+$`], reach: func(tb *tab) {
			tb.fill("窗口名称", "")
			tb.press("保存")
			expectMistake(tb)
		}},
		{name: "guides", path: "/admin/guides"},
		{name: "guide edit", path: hrefs[`^/admin/guides/\d+$`]},
		{name: "guide edit with a mistake", path: hrefs[`^/admin/guides/\d+$`], reach: func(tb *tab) {
			tb.fill("事项名称", "")
			tb.press("保存")
			expectMistake(tb)
		}},
		{name: "export", path: "/admin/export"},
		{name: "users", path: "/admin/users"},
		{name: "users with mistakes", path: "/admin/users", reach: func(tb *tab) {
			tb.press("新增用户")
			expectMistake(tb)
		}},
		{name: "audit", path: "/admin/audit"},
		{name: "password", path: "/admin/password"},
		{name: "password with mistakes", path: "/admin/password", reach: func(tb *tab) {
			tb.fill("当前密码", "wrong")
			tb.press("修改密码")
			expectMistake(tb)
		}},
		{name: "not found", path: "/admin/cases/999999"},
	}
	for i := range admin {
		admin[i].name = "admin " + admin[i].name
	}
	return public, admin

}

// signInTab signs a tab in to the admin area through the sign-in form.
func signInTab(tb *tab, username string) {
	tb.t.Helper()
	tb.open("/admin/login")
	tb.fill("用户名", username)
	tb.fill("密码", models.DemoPassword)
	tb.press("登录")
	tb.see("工作台")
}

// checkPage runs axe and the checks axe cannot make on the current page.
func checkPage(tb *tab, mode displayMode, axe []byte) {
	tb.t.Helper()
	t := tb.t
	where := tb.path() + " (" + mode.name + ")"

	// Language: zh-Hant in 繁體, zh-Hans otherwise, on every page (the
	// printed boards and posters too); 关怀版 marks <html> with the class
	// care wherever the switches are shown.
	lang := eval[string](tb, `document.documentElement.lang`)
	if want := map[bool]string{false: "zh-Hans", true: "zh-Hant"}[mode.hant]; lang != want {
		t.Errorf("%s: <html lang=%q>, want %s", where, lang, want)
	}
	switches := eval[bool](tb, `!!document.querySelector('a[href^="/display?"]')`)
	if mode.care && switches && !eval[bool](tb, `document.documentElement.classList.contains('care')`) {
		t.Errorf("%s: 关怀版 but <html> lacks the class care", where)
	}

	// Structure: one h1 first, no level skipped; charts with a text
	// alternative; every field marked invalid tells why, next to it.
	var problems []string
	raw := eval[[]byte](tb, `(function(){
  const out = [];
  const shown = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length) && !e.closest('[aria-hidden=true]');
  const hs = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].filter(shown).map(h => [+h.tagName[1], h.innerText.trim()]);
  if (!hs.length || hs[0][0] !== 1) out.push('the first heading is not an h1: ' + JSON.stringify(hs[0] || null));
  if (hs.filter(h => h[0] === 1).length > 1) out.push('more than one h1');
  for (let i = 1; i < hs.length; i++) {
    if (hs[i][0] > hs[i-1][0] + 1) out.push('heading h' + hs[i][0] + ' "' + hs[i][1] + '" follows h' + hs[i-1][0] + ' "' + hs[i-1][1] + '"');
  }
  for (const svg of document.querySelectorAll('svg')) {
    if (svg.closest('[aria-hidden=true]') || svg.getAttribute('aria-hidden') === 'true') continue;
    const name = svg.getAttribute('aria-label') || (svg.getAttribute('aria-labelledby') || '').split(/\s+/).map(id => (document.getElementById(id) || {}).textContent || '').join('') || (svg.querySelector('title') || {}).textContent || '';
    if (svg.getAttribute('role') !== 'img' || !name.trim()) out.push('a chart or image (svg) without role=img and a text alternative');
  }
  const described = new Set([...document.querySelectorAll('[aria-describedby]')].flatMap(e => e.getAttribute('aria-describedby').split(/\s+/)));
  for (const m of document.querySelectorAll('.field-error')) {
    if (shown(m) && !(m.id && described.has(m.id)) && m.getAttribute('role') !== 'alert') out.push('the message "' + m.innerText.trim() + '" is tied to no field (aria-describedby)');
  }
  for (const f of document.querySelectorAll('[aria-invalid=true]')) {
    const ids = (f.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
    const text = ids.map(id => (document.getElementById(id) || {}).innerText || '').join('').trim();
    if (!text) out.push('field ' + (f.name || f.id || f.tagName) + ' is invalid but no message is tied to it');
  }
  return out;
})()`)
	_ = json.Unmarshal(raw, &problems)
	for _, p := range problems {
		t.Errorf("%s: %s", where, p)
	}

	if mode.care && switches {
		checkCareMode(tb, where)
	}

	checkSkipLink(tb, where)

	for _, v := range runAxe(tb, axe) {
		t.Errorf("%s: axe %s (%s): %s: %s", where, v.ID, v.Impact, v.Help, strings.Join(v.Targets, " | "))
	}
}

// runAxe injects axe-core into the page (by the test: it works with the
// page's scripts off) and returns the WCAG 2.1 A and AA violations.
func runAxe(tb *tab, axe []byte) []axeViolation {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](string(axe))); err != nil {
		tb.t.Fatalf("%s: inject axe-core: %v", tb.where(), err)
	}
	tags, _ := json.Marshal(axeTags)
	out, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {runOnly: {type: 'tag', values: `+string(tags)+`}, resultTypes: ['violations']})
  .then(r => r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help, targets: v.nodes.map(n => n.target.join(' '))})))`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: run axe-core: %v", tb.where(), err)
	}
	return out
}

// checkSkipLink: where anything can be focused before the main content,
// the first Tab lands on a visible skip link and Enter moves the focus into
// the main content.
func checkSkipLink(tb *tab, where string) {
	t := tb.t
	before := eval[bool](tb, `(function(){
  const main = document.querySelector('main');
  if (!main) return false;
  return [...document.querySelectorAll('a[href], button, input, select, textarea')].some(e => e.compareDocumentPosition(main) & Node.DOCUMENT_POSITION_FOLLOWING && !main.contains(e));
})()`)
	if !before {
		return
	}
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`)); err != nil {
		t.Fatal(err)
	}
	// Start from the top of the document, as after loading the page.
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`(function(){ const a = document.createElement('span'); a.tabIndex = -1; document.body.prepend(a); a.focus(); a.remove(); })()`)); err != nil {
		t.Fatal(err)
	}
	tb.key(kb.Tab)
	skip := eval[string](tb, `(function(){
  const e = document.activeElement;
  if (!e || e.tagName !== 'A') return '';
  const r = e.getBoundingClientRect();
  return r.left >= 0 && r.top >= 0 && r.width > 0 ? e.innerText.trim() + '|' + e.getAttribute('href') : 'hidden';
})()`)
	if skip != tb.read("跳到主要内容")+"|#main" {
		t.Errorf("%s: the first Tab lands on %s, not a visible skip link to the main content", where, tb.focusName())
		return
	}
	tb.assertFocusVisible()
	tb.key(kb.Enter)
	if !eval[bool](tb, `document.activeElement === document.querySelector('main#main')`) {
		t.Errorf("%s: the skip link leaves the focus on %s", where, tb.focusName())
	}
}

// TestBrowserWithoutJavaScript opens every page with JavaScript off and
// sends every form of the lists as a user would: each page must still show
// its heading and content. (The flows run without JavaScript too.)
func TestBrowserWithoutJavaScript(t *testing.T) {
	site := newE2ESite(t)
	public, admin := sitePages(t, site)
	tb := site.newTab(t, tabOptions{noJS: true})

	// The switch must really be off: a page script would rename the page.
	tb.do(chromedp.Navigate(`data:text/html,<title>off</title><script>document.title = "on"</script>`))
	if title, err := chromedp.Run(tb.ctx, chromedp.Title()); err != nil || title != "off" {
		t.Fatalf("scripts still run in the no-JavaScript tab (title %q, %v)", title, err)
	}

	check := func(p a11yPage) {
		t.Run(p.name, func(t *testing.T) {
			tb.t = t
			tb.open(p.path)
			if p.reach != nil {
				p.reach(tb)
			}
			h1 := eval[string](tb, `(document.querySelector('h1') || {}).innerText || ''`)
			text := eval[string](tb, `(document.querySelector('main') || document.body).innerText.trim()`)
			if strings.TrimSpace(h1) == "" || len([]rune(text)) < 20 {
				t.Fatalf("%s without JavaScript: heading %q, content %q", tb.path(), h1, clipText(text, 200))
			}
		})
	}
	for _, p := range public {
		check(p)
	}
	tb.t = t
	signInTab(tb, "admin")
	for _, p := range admin {
		check(p)
	}
}

// expectMistake fails unless the form came back with a field marked invalid.
func expectMistake(tb *tab) {
	tb.t.Helper()
	if !eval[bool](tb, `!!document.querySelector('[aria-invalid=true]')`) {
		tb.t.Fatalf("%s: the form was not sent back with a field marked invalid", tb.where())
	}
}

// checkCareMode measures what 关怀版 promises, in the browser, as rendered:
// text of at least 18px with a line height of at least 1.5, and controls
// (buttons, fields, menu and switch links) at least 60px tall. Links inside
// running text are exempt, as WCAG's target-size rule exempts them.
func checkCareMode(tb *tab, where string) {
	var problems []string
	raw := eval[[]byte](tb, `(function(){
  const out = [];
  const shown = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length) && getComputedStyle(e).visibility !== 'hidden';
  const name = e => (e.innerText || e.value || e.name || e.tagName).trim().slice(0, 30);
  const text = [...document.querySelectorAll('main p, main li, main dd, main dt, main td, main th, main label, main legend')]
    .filter(e => shown(e) && e.innerText.trim() && !e.closest('.sr-only, .visually-hidden'));
  for (const e of text) {
    const cs = getComputedStyle(e);
    const size = parseFloat(cs.fontSize);
    if (size < 17.9) out.push('text "' + name(e) + '" is ' + size + 'px, under 18px');
    const lh = cs.lineHeight === 'normal' ? 0 : parseFloat(cs.lineHeight);
    if (lh && lh / size < 1.49) out.push('text "' + name(e) + '" has line height ' + (lh / size).toFixed(2) + ', under 1.5');
  }
  const controls = [...document.querySelectorAll('button, input:not([type=hidden]), select, nav a, .button, .display-switch a')].filter(shown);
  for (const e of controls) {
    let box = e;
    if (e.type === 'checkbox' || e.type === 'radio') box = e.closest('label') || e.parentElement;
    const h = box.getBoundingClientRect().height;
    if (h < 59.5) out.push('control "' + name(e) + '" is ' + h.toFixed(1) + 'px tall, under 60px');
  }
  return [...new Set(out)];
})()`)
	_ = json.Unmarshal(raw, &problems)
	for _, p := range problems {
		tb.t.Errorf("%s: 关怀版: %s", where, p)
	}
}
