package handlers

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/zwfw/portal/models"
)

// converterOnce builds the converter once per test binary: test apps are
// many, and each would otherwise load the dictionaries again.
var converterOnce = sync.OnceValues(NewConverter)

func sharedConverter(t testing.TB) *Converter {
	t.Helper()
	cv, err := converterOnce()
	if err != nil {
		t.Fatal(err)
	}
	return cv
}

// getWith requests a page with the given cookies.
func (a *testApp) getWith(t *testing.T, target string, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return a.serve(t, req)
}

func (a *testApp) serve(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	return rec.Result(), rec.Body.String()
}

var (
	hant = &http.Cookie{Name: "script", Value: "hant"}
	care = &http.Cookie{Name: "care", Value: "1"}
)

func TestDisplaySwitchSetsCookieAndComesBack(t *testing.T) {
	app := newTestApp(t)
	tests := []struct {
		name, query   string
		cookie, value string
		wantLocation  string
	}{
		{"care on", "care=1&next=" + q("/services?q=社保&page=2"), "care", "1", "/services?q=社保&page=2"},
		{"care off", "care=0&next=/counters/C02", "care", "0", "/counters/C02"},
		{"traditional", "script=hant&next=/r/C02", "script", "hant", "/r/C02"},
		{"simplified", "script=hans&next=/admin/login", "script", "hans", "/admin/login"},
		{"no next", "care=1", "care", "1", "/"},
		{"another site", "care=1&next=" + q("https://evil.example/"), "care", "1", "/"},
		{"scheme-relative", "care=1&next=" + q("//evil.example/x"), "care", "1", "/"},
		{"backslash", "care=1&next=" + q(`/\evil.example`), "care", "1", "/"},
		{"backslashes", "care=1&next=" + q(`\\evil.example`), "care", "1", "/"},
		{"tab", "care=1&next=" + q("/\t/evil.example"), "care", "1", "/"},
		{"newline", "care=1&next=" + q("/\n/evil.example"), "care", "1", "/"},
		{"javascript", "care=1&next=" + q("javascript:alert(1)"), "care", "1", "/"},
		{"relative", "care=1&next=" + q("evil.example"), "care", "1", "/"},
		{"userinfo", "care=1&next=" + q("https://portal@evil.example"), "care", "1", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := app.get(t, "/display?"+tt.query)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("status %d, want 303", res.StatusCode)
			}
			if got := res.Header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location %q, want %q", got, tt.wantLocation)
			}
			cookies := res.Cookies()
			if len(cookies) != 1 {
				t.Fatalf("%d cookies set, want 1", len(cookies))
			}
			c := cookies[0]
			if c.Name != tt.cookie || c.Value != tt.value {
				t.Errorf("cookie %s=%s, want %s=%s", c.Name, c.Value, tt.cookie, tt.value)
			}
			if c.Path != "/" || c.MaxAge < 364*24*3600 || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie %+v: want Path=/, a year, HttpOnly, SameSite=Lax", c)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
}

func TestDisplaySwitchRefusesBadValues(t *testing.T) {
	app := newTestApp(t)
	for _, query := range []string{"", "next=/services", "care=2", "care=yes&next=/", "script=zh-TW", "script=hant&script=hans", "care=1&script=big5"} {
		t.Run(query, func(t *testing.T) {
			res, body := app.get(t, "/display?"+query)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", res.StatusCode)
			}
			if len(res.Cookies()) != 0 {
				t.Errorf("a refused switch set %v", res.Cookies())
			}
			if !strings.Contains(body, "请求无法识别") {
				t.Error("no error page")
			}
		})
	}
	// Both at once is one link's worth of work.
	res, _ := app.get(t, "/display?care=1&script=hant&next=/cases")
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 2 {
		t.Fatalf("both: %d, %v", res.StatusCode, res.Cookies())
	}
}

var switchLink = regexp.MustCompile(`href="(/display\?[^"]+)"`)

// switchLinks returns the display links of a page, unescaped.
func switchLinks(body string) []string {
	var out []string
	for _, m := range switchLink.FindAllStringSubmatch(body, -1) {
		out = append(out, htmlUnescape(m[1]))
	}
	return out
}

func TestEveryLayoutHasBothSwitches(t *testing.T) {
	app := newAdminApp(t)
	tests := []struct {
		name, target string
		status       int
	}{
		{"public page with a query", "/services?q=" + q("社保") + "&audience=person", 200},
		{"home", "/", 200},
		{"rating page", "/r/C02?level=2", 200},
		{"admin sign-in", "/admin/login", 200},
		{"error page", "/no/such/page", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := app.get(t, tt.target)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d", res.StatusCode)
			}
			want := url.QueryEscape(tt.target)
			links := switchLinks(body)
			wantLinks := []string{
				"/display?care=0&next=" + want, "/display?care=1&next=" + want,
				"/display?script=hans&next=" + want, "/display?script=hant&next=" + want,
			}
			if strings.Join(links, " ") != strings.Join(wantLinks, " ") {
				t.Fatalf("switch links\n%v\nwant\n%v", links, wantLinks)
			}
			for _, label := range []string{">标准版</a>", ">关怀版</a>", ">简</a>", ">繁</a>", `href="#main"`, `id="main"`} {
				if !strings.Contains(body, label) {
					t.Errorf("no %s", label)
				}
			}
			// Following a switch comes back to the very page.
			b := newBrowser(app, "10.7.0.1")
			res, _ = b.get(t, links[3])
			if res.Header.Get("Location") != tt.target {
				t.Errorf("back to %q, want %q", res.Header.Get("Location"), tt.target)
			}
		})
	}
}

var htmlTag = regexp.MustCompile(`<html[^>]*>`)

func TestDefaultDisplayIsStandardSimplified(t *testing.T) {
	app := newTestApp(t)
	for _, cookies := range [][]*http.Cookie{nil, {{Name: "care", Value: "0"}, {Name: "script", Value: "hans"}}, {{Name: "care", Value: "x"}, {Name: "script", Value: "big5"}}} {
		res, body := app.getWith(t, "/services", cookies...)
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		if got := htmlTag.FindString(body); got != `<html lang="zh-Hans">` {
			t.Errorf("%v: %s", cookies, got)
		}
		if strings.Contains(body, "/css/care.") || !strings.Contains(body, "办事指南") {
			t.Errorf("%v: not the standard Simplified page", cookies)
		}
		if !regexp.MustCompile(`aria-current="true">标准版<`).MatchString(body) || !regexp.MustCompile(`aria-current="true">简<`).MatchString(body) {
			t.Errorf("%v: the current choices are not marked", cookies)
		}
	}
}

var careCSSLink = regexp.MustCompile(`<link rel="stylesheet" href="(/static/css/care\.[0-9a-f]+\.css)">`)

func TestCareMode(t *testing.T) {
	app := newAdminApp(t)
	for _, target := range []string{"/", "/services/11QHHZK0002-01", "/r/C02", "/admin/login", "/nope"} {
		res, body := app.getWith(t, target, care)
		if got := htmlTag.FindString(body); got != `<html lang="zh-Hans" class="care">` {
			t.Errorf("%s: %s (%d)", target, got, res.StatusCode)
		}
		m := careCSSLink.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("%s: care.css not loaded", target)
		}
		if !regexp.MustCompile(`aria-current="true">关怀版<`).MatchString(body) {
			t.Errorf("%s: 关怀版 not marked current", target)
		}
		res, css := app.get(t, m[1])
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") || !strings.Contains(css, "html.care") {
			t.Fatalf("GET %s: %d %s", m[1], res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	// Both modes at once.
	_, body := app.getWith(t, "/counters", care, hant)
	if got := htmlTag.FindString(body); got != `<html lang="zh-Hant" class="care">` {
		t.Errorf("both modes: %s", got)
	}
}

// pageWeight is what a page loads in all: the HTML and every stylesheet and
// image it links.
func pageWeight(t *testing.T, b *browser, target string) int {
	t.Helper()
	res, body := b.get(t, target)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", target, res.StatusCode)
	}
	total := len(body)
	for _, m := range regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(body, -1) {
		res, asset := b.get(t, m[1])
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", m[1], res.StatusCode)
		}
		total += len(asset)
	}
	return total
}

func TestRatingPageStaysLightInEveryMode(t *testing.T) {
	app := newTestApp(t)
	standard := pageWeight(t, newBrowser(app, "10.8.0.1"), "/r/C02")
	for _, mode := range [][]*http.Cookie{{care}, {hant}, {care, hant}} {
		b := newBrowser(app, "10.8.0.2")
		for _, c := range mode {
			b.cookies[c.Name] = c
		}
		for _, target := range []string{"/r/C02", "/r/C02?level=2"} {
			total := pageWeight(t, b, target)
			t.Logf("%s %v: %d bytes (standard /r/C02: %d, ratio %.2f)", target, mode, total, standard, float64(total)/float64(standard))
			if total > 30*1024 {
				t.Errorf("%s with %v loads %d bytes in all: keep it under 30 KB for slow networks", target, mode, total)
			}
		}
	}
}

// simplifiedSwitch is the 简 link, which stays in Simplified on purpose.
var simplifiedSwitch = regexp.MustCompile(`<a [^>]*lang="zh-Hans"[^>]*>[^<]*</a>`)

func TestTraditionalPages(t *testing.T) {
	app := newTestApp(t)
	cv := sharedConverter(t)
	tests := []struct {
		target string
		status int
		want   []string
	}{
		{"/", 200, []string{"辦事指南", "個人辦事", "熱門事項"}},
		{"/services", 200, []string{"辦事指南", "服務對象"}},
		{"/services/11QHHZK0002-01", 200, []string{"居民身份證換領", "申請材料", "辦理地點和時間", "一次性告知單", `href="/counters/C02"`}},
		{"/guide", 200, []string{"我要辦"}},
		{"/guide?need=" + q("换身份证"), 200, []string{"居民身份證"}},
		{"/counters", 200, []string{"窗口指引", "居民身份證窗口"}},
		{"/counters/C02", 200, []string{"居民身份證窗口", "一樓"}},
		{"/departments", 200, []string{"部門責任清單"}},
		{"/departments/hzk", 200, []string{"責任清單"}},
		{"/ratings", 200, []string{"好差評"}},
		{"/cases", 200, []string{"督辦亮單"}},
		{"/cases/lookup", 200, []string{"查詢碼"}},
		{"/r/C02", 200, []string{"您對本窗口的服務滿意嗎？", ">滿意</button>"}},
		{"/r/C02?level=2", 200, []string{"哪裡不滿意"}},
		{"/counters/C02/poster", 200, []string{"手機掃碼"}},
		{"/departments/hzk/print", 200, []string{"上牆版"}},
		{"/no/such/page", 404, []string{"頁面不存在", "返回首頁"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res, body := app.getWith(t, tt.target, hant)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if !strings.Contains(htmlTag.FindString(body), `lang="zh-Hant"`) {
				t.Errorf("<html> %s", htmlTag.FindString(body))
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("no %q", w)
				}
			}
			// Nothing left in Simplified: converting the text again changes
			// nothing. (The 简 switch stays Simplified on purpose.)
			text := stripTags(simplifiedSwitch.ReplaceAllString(body, ""))
			if again := cv.Traditional(text); again != text {
				t.Errorf("text still in Simplified: %q", firstDifference(text, again))
			}
			printed := strings.HasSuffix(tt.target, "/poster") || strings.HasSuffix(tt.target, "/print")
			if !printed && !strings.Contains(body, `lang="zh-Hans" aria-label="简体中文"`) {
				t.Error("the 简 switch was converted")
			}
		})
	}
	// 窗口 is a counter, not a computer window (s2twp's 視窗).
	_, body := app.getWith(t, "/counters", hant)
	if strings.Contains(body, "視窗") || !strings.Contains(body, "窗口") {
		t.Error("窗口 must stay 窗口")
	}
	// The standard page is untouched.
	_, body = app.get(t, "/services/11QHHZK0002-01")
	if !strings.Contains(body, "居民身份证换领") || strings.Contains(body, "居民身份證") {
		t.Error("the Simplified page was converted")
	}
}

func firstDifference(a, b string) string {
	ra, rb := []rune(a), []rune(b)
	for i := range ra {
		if i >= len(rb) || ra[i] != rb[i] {
			lo, hi := max(0, i-8), min(len(ra), i+8)
			return string(ra[lo:hi])
		}
	}
	return ""
}

func TestTraditionalSearchKeepsWhatTheUserTyped(t *testing.T) {
	app := newTestApp(t)
	results := regexp.MustCompile(`相關的事項 (\d+) 項`)
	for _, query := range []string{"社保", "社會保險", "身份证", "身份證"} {
		res, body := app.getWith(t, "/services?q="+q(query), hant)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", query, res.StatusCode)
		}
		if !strings.Contains(body, `value="`+query+`"`) {
			t.Errorf("%s: the search box does not keep what the user typed", query)
		}
		m := results.FindStringSubmatch(stripTags(body))
		if m == nil || m[1] == "0" {
			t.Errorf("%s: nothing found in the 繁體 view", query)
		}
	}
	// The header's search box on other pages keeps its input too.
	_, body := app.getWith(t, "/guide?need="+q("开饭店"), hant)
	if !strings.Contains(body, `value="开饭店"`) {
		t.Error("我要办 does not keep the typed need")
	}
}

func TestTraditionalAdminFormsKeepStoredText(t *testing.T) {
	app := newAdminApp(t)
	const code = "11QHRSJ0001-01"
	edit := "/admin/guides/" + strconv.Itoa(int(itemID(t, app, code)))
	b := newBrowser(app, "10.9.1.1")
	signIn(t, b, "rsj.admin", models.DemoPassword)
	_, simplified := b.get(t, edit)
	b.cookies["script"] = hant
	res, traditional := b.get(t, edit)
	if res.StatusCode != 200 || !strings.Contains(htmlTag.FindString(traditional), "zh-Hant") || !strings.Contains(traditional, "刪除此行") {
		t.Fatalf("edit page in 繁體: %d", res.StatusCode)
	}
	before, after := formValues(simplified), formValues(traditional)
	before.Del("_csrf")
	after.Del("_csrf")
	if before.Encode() != after.Encode() {
		t.Fatal("the 繁體 view changed the values of the edit form")
	}
	stored := storedGuide(t, app, itemID(t, app, code))
	if after.Get("name") != stored.Name || !strings.ContainsAny(stored.Name+after.Get("conditions"), "务办证业") {
		t.Errorf("name %q, stored %q", after.Get("name"), stored.Name)
	}
	// A save from the 繁體 view stores Simplified text unchanged.
	res, _ = b.post(t, edit, edit, after)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save from the 繁體 view: %d", res.StatusCode)
	}
	res, body := b.follow(t, res)
	if res.StatusCode != 200 || !strings.Contains(body, "網站上的內容已同步更新") {
		t.Fatalf("after the save: %d, the flash message is not in 繁體", res.StatusCode)
	}
	if got := storedGuide(t, app, itemID(t, app, code)); got.Name != stored.Name {
		t.Errorf("stored name %q became %q", stored.Name, got.Name)
	}
}

func TestTraditionalFlowAndFlash(t *testing.T) {
	app := newTestApp(t)
	phone := newBrowser(app, "10.6.0.1")
	phone.cookies["script"] = hant
	res, _ := phone.post(t, "/r/C02", "/r/C02", url.Values{"level": {"2"}, "reasons": {"事难办"}, "comment": {"等了很久"}})
	res, body := phone.follow(t, res)
	if res.StatusCode != 200 || !strings.Contains(body, "感謝您的評價") || !strings.Contains(body, "督辦單編號") {
		t.Fatalf("thank-you page in 繁體: %d\n%s", res.StatusCode, stripTags(body))
	}
}

func TestNonHTMLIsNeverConverted(t *testing.T) {
	app := newAdminApp(t)
	b := newBrowser(app, "10.5.0.1")
	signIn(t, b, "rsj.admin", models.DemoPassword)
	b.cookies["care"] = care
	_, page := b.get(t, "/")
	assets := regexp.MustCompile(`href="(/static/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(assets) < 3 {
		t.Fatalf("assets %v", assets)
	}
	targets := []string{"/admin/export/download?kind=cases&format=csv", "/healthz"}
	for _, a := range assets {
		targets = append(targets, a[1])
	}
	for _, target := range targets {
		delete(b.cookies, "script")
		res, plain := b.get(t, target)
		b.cookies["script"] = hant
		_, converted := b.get(t, target)
		if res.StatusCode != 200 || plain != converted {
			t.Errorf("%s: %d, or it differs in the 繁體 view", target, res.StatusCode)
		}
	}
	// care.css says 关怀版 in its comment, and keeps saying it.
	_, css := b.get(t, careCSSLink.FindStringSubmatch(page)[1])
	if !strings.Contains(css, "关怀版") {
		t.Error("care.css was converted")
	}
}

// BenchmarkDisplayModes measures what the 繁體 conversion adds to a page,
// against the same page in the standard view in the same run.
func BenchmarkDisplayModes(b *testing.B) {
	app := newTestApp(b)
	for _, target := range []string{"/services/11QHHZK0002-01", "/services", "/r/C02"} {
		for _, mode := range []struct {
			name    string
			cookies []*http.Cookie
		}{{"standard", nil}, {"care", []*http.Cookie{care}}, {"traditional", []*http.Cookie{hant}}} {
			b.Run(target+"/"+mode.name, func(b *testing.B) {
				for b.Loop() {
					req := httptest.NewRequest(http.MethodGet, target, nil)
					for _, c := range mode.cookies {
						req.AddCookie(c)
					}
					rec := httptest.NewRecorder()
					app.e.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("%s: %d", target, rec.Code)
					}
				}
			})
		}
	}
}
