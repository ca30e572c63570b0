//go:build e2e

package handlers

// The browser suite (make e2e): real Chromium drives the portal through the
// pages people use, by the labels they read. It needs Debian's chromium and
// fonts-noto-cjk and the pinned axe-core in testdata/e2e (npm ci); when
// either is missing the suite fails, it never skips, so CI cannot pass
// without having run it.

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/zwfw/portal/models"
)

// chromiumPath is Debian's chromium; PORTAL_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("PORTAL_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// axePath is axe-core as `npm ci` installs it from testdata/e2e's lock file.
var axePath = filepath.Join("..", "testdata", "e2e", "node_modules", "axe-core", "axe.min.js")

// e2eSite is the real router on an httptest server, with the demo data set,
// its ratings and staff accounts, and one Chromium for all of its tabs.
type e2eSite struct {
	app     *testApp
	url     string
	browser context.Context
}

func newE2ESite(t *testing.T) *e2eSite {
	t.Helper()
	exec := chromiumPath()
	if _, err := os.Stat(exec); err != nil {
		t.Fatalf("Chromium not found at %s (apt-get install chromium fonts-noto-cjk, or set PORTAL_CHROMIUM): the browser suite fails rather than skips", exec)
	}
	app := newAdminApp(t)
	if _, err := app.store.LoadDemoRatings(context.Background(), models.DefaultRatingRules(), time.Now()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.e)
	t.Cleanup(srv.Close)

	// Without the background-networking flags Chromium waits on a network
	// this machine does not have; a fresh profile keeps runs independent.
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exec),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &e2eSite{app: app, url: srv.URL, browser: browser}
}

// tabOptions say how a tab behaves: a keyboard-only user, scripts off, a
// phone, display-mode cookies.
type tabOptions struct {
	keyboard bool
	noJS     bool
	phone    bool
	cookies  map[string]string
}

// tab is one browser tab in a browser context of its own (its own cookies:
// a separate person), with the actions a user takes by what they read.
type tab struct {
	t    *testing.T
	ctx  context.Context
	site *e2eSite
	opts tabOptions
}

func (s *e2eSite) newTab(t *testing.T, opts tabOptions) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(s.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 10*time.Minute)
	t.Cleanup(cancelTimeout)
	tb := &tab{t: t, ctx: ctx, site: s, opts: opts}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	if opts.phone {
		tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(3)))
	}
	if opts.noJS {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("disable JavaScript: %v", err)
		}
	}
	for name, value := range opts.cookies {
		if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: name, Value: value, URL: s.url + "/", Path: "/"}); err != nil {
			t.Fatalf("set cookie %s: %v", name, err)
		}
	}
	return tb
}

func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", tb.where(), err)
	}
}

// eval runs a script of the test (not of the page: it works with the page's
// scripts off) and decodes its result.
func eval[T any](tb *tab, script string, opts ...chromedp.EvaluateOption) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](script, opts...))
	if err != nil {
		tb.t.Fatalf("%s: evaluate %.80q: %v", tb.where(), script, err)
	}
	return v
}

// where names the page the tab is on, for failure messages.
func (tb *tab) where() string {
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		return "(no page)"
	}
	return strings.TrimPrefix(loc, tb.site.url)
}

// path is the current page's path and query.
func (tb *tab) path() string {
	return eval[string](tb, `location.pathname + location.search`)
}

// open loads a page by its path, as typing the address would.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.navigation(func() { tb.do(chromedp.Navigate(tb.site.url + path)) })
}

// navigation runs an action that loads a new page and waits for that page.
func (tb *tab) navigation(action func()) {
	tb.t.Helper()
	// A mark on the old page's window is gone once the new page is there.
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`window.__e2eOld = true`)); err != nil {
		tb.t.Fatalf("mark page: %v", err)
	}
	action()
	deadline := time.Now().Add(15 * time.Second)
	for {
		done, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`!window.__e2eOld && document.readyState === "complete"`))
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("%s: no new page after the action", tb.where())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// findJS marks the element a user means by what they read: a form field by
// its label, a link or button by its text. Exact text wins over a part.
const findJS = `(function(kind, text) {
  document.querySelectorAll('[data-e2e]').forEach(e => e.removeAttribute('data-e2e'));
  const norm = s => (s || '').replace(/\s+/g, ' ').trim();
  const shown = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const name = e => norm(e.getAttribute('aria-label') || e.innerText || e.value);
  let all = [];
  if (kind === 'field') {
    for (const l of document.querySelectorAll('label')) {
      if (l.control) all.push([norm(l.innerText || l.textContent), l.control]);
    }
  } else if (kind === 'link') {
    all = [...document.querySelectorAll('a[href]')].filter(shown).map(e => [name(e), e]);
  } else if (kind === 'button') {
    all = [...document.querySelectorAll('button, input[type=submit]')].filter(shown).map(e => [name(e), e]);
  }
  const hit = all.find(([t]) => t === text) || all.find(([t]) => t.includes(text));
  if (!hit) return '';
  hit[1].setAttribute('data-e2e', '1');
  return hit[1].tagName.toLowerCase() + ':' + (hit[1].type || '');
})`

// find marks the element a user means; the test fails when there is none.
func (tb *tab) find(kind, text string) string {
	tb.t.Helper()
	text = tb.read(text)
	b, _ := json.Marshal([]string{kind, text})
	got := eval[string](tb, findJS+`(...`+string(b)+`)`)
	if got == "" {
		tb.t.Fatalf("%s: no %s %q on the page", tb.where(), kind, text)
	}
	return got
}

const target = `[data-e2e]`

// activate clicks (or taps, on a phone) the marked element, or reaches it
// with Tab and presses a key, as a keyboard user does.
func (tb *tab) activate(key string) {
	tb.t.Helper()
	switch {
	case tb.opts.keyboard:
		tb.tabTo()
		tb.key(key)
	case tb.opts.phone:
		tb.do(chromedp.Tap(chromedp.CSS(target)))
	default:
		tb.do(chromedp.Click(chromedp.CSS(target)))
	}
}

// follow follows a link by its text.
func (tb *tab) follow(text string) {
	tb.t.Helper()
	tb.find("link", text)
	tb.navigation(func() { tb.activate(kb.Enter) })
}

// press presses a button by its text, which submits its form.
func (tb *tab) press(text string) {
	tb.t.Helper()
	tb.find("button", text)
	tb.navigation(func() { tb.activate(kb.Enter) })
}

// fill types into the field with this label, replacing what was there.
func (tb *tab) fill(label, text string) {
	tb.t.Helper()
	tb.find("field", label)
	if tb.opts.keyboard {
		tb.tabTo()
	} else {
		tb.activate("")
	}
	// Clear as a user does: to the end, then backspace over every character.
	n := eval[int](tb, `[...(document.activeElement.value || '')].length`)
	tb.key(kb.End)
	for i := 0; i < n; i++ {
		tb.key(kb.Backspace)
	}
	// Chinese arrives from an input method as committed text.
	if _, err := chromedp.Call(tb.ctx, input.InsertText, input.InsertTextParams{Text: text}); err != nil {
		tb.t.Fatalf("%s: type into %q: %v", tb.where(), label, err)
	}
	if got := eval[string](tb, `document.querySelector('[data-e2e]').value`); got != text {
		tb.t.Fatalf("%s: field %q holds %q after typing %q", tb.where(), label, got, text)
	}
}

// choose ticks the checkbox or radio button with this label. A keyboard
// user reaches a radio group with Tab and moves within it with the arrows.
func (tb *tab) choose(label string) {
	tb.t.Helper()
	kind := tb.find("field", label)
	if !tb.opts.keyboard {
		tb.activate("")
	} else if kind == "input:radio" {
		tb.tabToMatch(`(el, t) => el.type === 'radio' && el.name === t.name`)
		for i := 0; i < 10 && !eval[bool](tb, `document.activeElement.hasAttribute('data-e2e')`); i++ {
			tb.key(kb.ArrowDown)
		}
		tb.key(" ")
	} else {
		tb.tabTo()
		tb.key(" ")
	}
	if !eval[bool](tb, `document.querySelector('[data-e2e]').checked`) {
		tb.t.Fatalf("%s: %q is not ticked", tb.where(), label)
	}
}

func (tb *tab) key(keys string) {
	tb.t.Helper()
	if keys == "" {
		return
	}
	tb.do(chromedp.KeyEvent(keys))
}

// tabTo presses Tab until the marked element has the focus.
func (tb *tab) tabTo() {
	tb.t.Helper()
	tb.tabToMatch(`(el, t) => el === t`)
}

// tabToMatch presses Tab until the focused element matches, as a keyboard
// user moves through a page. On a new page the first Tab must land on the
// skip link; when the target is in the main content the user takes it. Every
// element reached must show where the focus is.
func (tb *tab) tabToMatch(match string) {
	tb.t.Helper()
	state := func() string {
		return eval[string](tb, `(function(){
  const el = document.activeElement, t = document.querySelector('[data-e2e]');
  if (!el || el === document.body) return 'none';
  if ((`+match+`)(el, t)) return 'target';
  if (el.matches('a.skip-link')) return 'skip';
  return 'other';
})()`)
	}
	fresh := state() == "none"
	for i := 0; i < 300; i++ {
		tb.key(kb.Tab)
		st := state()
		if fresh && i == 0 && eval[bool](tb, `!!document.querySelector('main') && !!document.querySelector('main').previousElementSibling`) {
			if st != "skip" && st != "target" && eval[bool](tb, `!!document.querySelector('a.skip-link')`) {
				tb.t.Fatalf("%s: the first Tab lands on %s, not the skip link", tb.where(), tb.focusName())
			}
			if st == "skip" && eval[bool](tb, `!!document.querySelector('[data-e2e]').closest('main')`) {
				tb.key(kb.Enter)
				if !eval[bool](tb, `document.activeElement === document.querySelector('main')`) {
					tb.t.Fatalf("%s: the skip link does not move the focus to the main content (focus on %s)", tb.where(), tb.focusName())
				}
				continue
			}
		}
		if st == "target" {
			tb.assertFocusVisible()
			return
		}
	}
	tb.t.Fatalf("%s: 300 Tabs never reach the element (focus ends on %s)", tb.where(), tb.focusName())
}

func (tb *tab) focusName() string {
	return eval[string](tb, `(function(){ const e = document.activeElement; return e ? e.tagName + ' "' + (e.innerText || e.value || e.id || '').trim().slice(0, 40) + '"' : 'nothing'; })()`)
}

// assertFocusVisible fails when the focused element shows no focus ring.
func (tb *tab) assertFocusVisible() {
	tb.t.Helper()
	ok := eval[bool](tb, `(function(){
  const el = document.activeElement, s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || (s.boxShadow && s.boxShadow !== 'none');
  return ring && r.width > 0 && r.height > 0;
})()`)
	if !ok {
		tb.t.Errorf("%s: the focused %s shows no visible focus", tb.where(), tb.focusName())
	}
}

// read is the text as the page shows it: the tests name labels in
// Simplified, and in 繁體 the page shows them converted.
func (tb *tab) read(text string) string {
	if tb.opts.cookies["script"] != "hant" {
		return text
	}
	return tb.site.app.h.chinese.Traditional(text)
}

// see fails unless the page's visible text has every one of texts.
func (tb *tab) see(texts ...string) {
	tb.t.Helper()
	body := eval[string](tb, `document.body.innerText`)
	for _, w := range texts {
		if w = tb.read(w); !strings.Contains(body, w) {
			tb.t.Fatalf("%s: the page does not show %q\n%s", tb.where(), w, clipText(body, 1500))
		}
	}
}

// seeIn fails unless the section headed by heading shows text.
func (tb *tab) seeIn(heading, text string) {
	tb.t.Helper()
	heading, text = tb.read(heading), tb.read(text)
	b, _ := json.Marshal(heading)
	got := eval[string](tb, `(function(h){
  const head = [...document.querySelectorAll('h1,h2,h3')].find(e => e.innerText.trim() === h);
  if (!head) return '';
  const sec = head.closest('section') || head.parentElement;
  return sec.innerText;
})(`+string(b)+`)`)
	if !strings.Contains(got, text) {
		tb.t.Fatalf("%s: the section %q does not show %q\n%s", tb.where(), heading, text, clipText(got, 800))
	}
}

// valueOf reads the description (dd) of a term (dt) the page shows.
func (tb *tab) valueOf(term string) string {
	tb.t.Helper()
	term = tb.read(term)
	b, _ := json.Marshal(term)
	v := eval[string](tb, `(function(t){
  const dt = [...document.querySelectorAll('dt')].find(e => e.innerText.trim() === t);
  return dt && dt.nextElementSibling ? dt.nextElementSibling.innerText.trim() : '';
})(`+string(b)+`)`)
	if v == "" {
		tb.t.Fatalf("%s: the page shows no %q", tb.where(), term)
	}
	return v
}

// fieldError is the error message tied to the field with this label (by
// aria-describedby, on the field or its fieldset), as a screen reader reads it.
func (tb *tab) fieldError(label string) string {
	tb.t.Helper()
	tb.find("field", label)
	return eval[string](tb, `(function(){
  const f = document.querySelector('[data-e2e]');
  for (const el of [f, f.closest('fieldset')]) {
    if (el && el.getAttribute('aria-invalid') === 'true' && el.getAttribute('aria-describedby')) {
      return el.getAttribute('aria-describedby').split(/\s+/).map(id => (document.getElementById(id) || {}).innerText || '').join(' ').trim();
    }
  }
  return '';
})()`)
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// way is one way of using the portal: every flow runs each way.
type way struct {
	name string
	opts tabOptions
}

var ways = []way{
	{"mouse", tabOptions{}},
	{"keyboard", tabOptions{keyboard: true}},
	{"no JavaScript", tabOptions{noJS: true}},
}

// forEachWay runs a flow with the mouse, with the keyboard only, and with
// JavaScript off.
func forEachWay(t *testing.T, run func(t *testing.T, w way, n int)) {
	for i, w := range ways {
		t.Run(w.name, func(t *testing.T) { run(t, w, i) })
	}
}

func (w way) with(o tabOptions) tabOptions {
	o.keyboard, o.noJS = w.opts.keyboard, w.opts.noJS
	return o
}
