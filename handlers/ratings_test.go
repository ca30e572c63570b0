package handlers

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zwfw/portal/models"
)

// browser keeps cookies between requests to the real router, as a phone
// would.
type browser struct {
	app     *testApp
	cookies map[string]*http.Cookie
	ip      string
}

func newBrowser(app *testApp, ip string) *browser {
	return &browser{app: app, cookies: map[string]*http.Cookie{}, ip: ip}
}

func (b *browser) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	req.RemoteAddr = b.ip + ":5555"
	rec := httptest.NewRecorder()
	b.app.e.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = c
	}
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func (b *browser) get(t *testing.T, target string) (*http.Response, string) {
	t.Helper()
	return b.do(t, httptest.NewRequest(http.MethodGet, target, nil))
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// post submits a form the way a browser does: it fetches the page first to
// get the CSRF token from the form.
func (b *browser) post(t *testing.T, page, target string, form url.Values) (*http.Response, string) {
	t.Helper()
	_, body := b.get(t, page)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("GET %s: no CSRF token in the form", page)
	}
	form.Set("_csrf", m[1])
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

func (b *browser) follow(t *testing.T, res *http.Response) (*http.Response, string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303 See Other", res.StatusCode)
	}
	return b.get(t, res.Header.Get("Location"))
}

func (a *testApp) count(t *testing.T, table string) int {
	t.Helper()
	n, err := a.store.CountRows(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRatingFlow(t *testing.T) {
	app := newTestApp(t)
	phone := newBrowser(app, "10.1.1.1")

	res, body := phone.get(t, "/r/C02")
	if res.StatusCode != 200 || !strings.Contains(body, "居民身份证窗口") || !strings.Contains(body, ">满意</button>") ||
		!strings.Contains(body, `href="/r/C02?level=2"`) {
		t.Fatalf("rating page: %d", res.StatusCode)
	}
	// Everything the page loads: the HTML, the stylesheet, the icon.
	total := len(body)
	for _, m := range regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(body, -1) {
		res, asset := phone.get(t, m[1])
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", m[1], res.StatusCode)
		}
		total += len(asset)
	}
	if total > 30*1024 {
		t.Fatalf("the rating page loads %d bytes in all: keep it under 30 KB for slow networks", total)
	}

	// 满意 in one tap, and a plain thank-you: nothing for the phone to
	// keep but the cookies it had.
	res, _ = phone.post(t, "/r/C02", "/r/C02", url.Values{"level": {"4"}})
	if got := res.Header.Values("Set-Cookie"); len(got) > 0 {
		t.Errorf("a 满意 sets cookies %q, want none", got)
	}
	_, body = phone.follow(t, res)
	if !strings.Contains(body, "感谢您的评价") || !strings.Contains(body, "您的评价已提交") || strings.Contains(body, "督办单编号") {
		t.Fatal("a 满意 gets a plain thank-you")
	}

	// The same phone again: told plainly, not counted.
	before := app.count(t, "ratings")
	res, body = phone.post(t, "/r/C02", "/r/C02", url.Values{"level": {"4"}})
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "您已评价过本窗口") || !strings.Contains(body, "12 小时") {
		t.Fatalf("a repeat rating: %d", res.StatusCode)
	}
	if app.count(t, "ratings") != before {
		t.Fatal("a repeat rating was stored")
	}

	// 不满意 on another phone: reasons, then a case number and lookup code.
	other := newBrowser(app, "10.1.1.2")
	res, body = other.get(t, "/r/C02?level=2")
	if res.StatusCode != 200 || !strings.Contains(body, "哪里不满意") || !strings.Contains(body, "门难进") {
		t.Fatalf("reasons page: %d", res.StatusCode)
	}
	res, _ = other.post(t, "/r/C02?level=2", "/r/C02", url.Values{"level": {"2"}, "reasons": {"事难办", "办事效率低"},
		"comment": {"<script>alert(1)</script>排队太久"}, "phone": {"13812345678"}})
	_, body = other.follow(t, res)
	m := regexp.MustCompile(`<strong>(DB\d{8}-\d{4})</strong>.*?<strong>(\d{6})</strong>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the thank-you page lacks the case number and lookup code:\n%s", stripTags(body))
	}
	number, code := m[1], m[2]
	// Shown once: a reload does not show the code again.
	if _, again := other.get(t, "/r/C02/thanks"); strings.Contains(again, code) {
		t.Fatal("the lookup code is shown again on reload")
	}

	// The rater follows the case without an account.
	follower := newBrowser(app, "10.1.1.3")
	res, _ = follower.post(t, "/cases/lookup", "/cases/lookup", url.Values{"number": {number}, "code": {code}})
	_, body = follower.follow(t, res)
	for _, w := range []string{number, "待回访", "事难办、办事效率低", "自动生成督办单", "居民身份证窗口"} {
		if !strings.Contains(body, w) {
			t.Errorf("case page lacks %q", w)
		}
	}
	if strings.Contains(body, "13812345678") || strings.Contains(body, "<script>alert") {
		t.Error("the case page shows the phone number or unescaped input")
	}
	res, body = follower.post(t, "/cases/lookup?new=1", "/cases/lookup", url.Values{"number": {number}, "code": {"000000"}})
	if code != "000000" && (res.StatusCode != 422 || !strings.Contains(body, "编号或查询码不正确")) {
		t.Fatalf("a wrong code: %d", res.StatusCode)
	}
}

func TestRatingInputErrors(t *testing.T) {
	app := newTestApp(t)
	before := app.count(t, "ratings")
	tests := []struct {
		name string
		form url.Values
		want string
	}{
		{"no reason", url.Values{"level": {"2"}}, "请至少选择一项不满意的原因"},
		{"其他 without words", url.Values{"level": {"2"}, "reasons": {"其他"}}, "选择“其他”时，请简要说明情况"},
		{"overlong comment", url.Values{"level": {"2"}, "reasons": {"事难办"}, "comment": {strings.Repeat("慢", 201)}}, "具体情况不能超过 200 个字"},
		{"bad phone", url.Values{"level": {"2"}, "reasons": {"事难办"}, "phone": {"12345"}, "comment": {"我的意见"}}, "请填写 11 位手机号码"},
		{"no level", url.Values{}, "请选择您对本窗口服务的评价"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(app, "10.2.0."+string(rune('1'+i)))
			res, body := b.post(t, "/r/C02?level=2", "/r/C02", tt.form)
			if res.StatusCode != 422 || !strings.Contains(body, tt.want) {
				t.Fatalf("status %d, want 422 with %q", res.StatusCode, tt.want)
			}
			if c := tt.form.Get("comment"); c != "" && !strings.Contains(body, ">"+c+"</textarea>") {
				t.Error("the comment typed is not kept")
			}
			if p := tt.form.Get("phone"); p != "" && !strings.Contains(body, `value="`+p+`"`) {
				t.Error("the phone typed is not kept")
			}
		})
	}
	if app.count(t, "ratings") != before {
		t.Fatal("a rejected rating was stored")
	}
	for _, target := range []string{"/r/Z99", "/r/%3Cb%3E"} {
		if res, body := app.get(t, target); res.StatusCode != 404 || !strings.Contains(body, "页面不存在") {
			t.Errorf("GET %s: %d", target, res.StatusCode)
		}
	}
}

func TestRatingNeedsCSRFToken(t *testing.T) {
	app := newTestApp(t)
	before := app.count(t, "ratings")
	b := newBrowser(app, "10.3.0.1")
	b.get(t, "/r/C02")
	for _, token := range []string{"", "forged"} {
		form := url.Values{"level": {"4"}}
		if token != "" {
			form.Set("_csrf", token)
		}
		req := httptest.NewRequest(http.MethodPost, "/r/C02", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, body := b.do(t, req)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "页面已过期") {
			t.Fatalf("token %q: %d, want 403 with a clear page", token, res.StatusCode)
		}
	}
	if app.count(t, "ratings") != before {
		t.Fatal("a rating without a valid token was stored")
	}
}

func TestPublicResults(t *testing.T) {
	app := newTestApp(t)
	if _, err := app.store.LoadDemoRatings(context.Background(), models.DefaultRatingRules(), time.Now()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target string
		status int
		want   []string
	}{
		{"/ratings", 200, []string{"好差评”公示", "满意率", "<svg", "查看数据表", "部门满意率排名", "窗口满意率排名", `href="/counters/C02"`}},
		{"/ratings?month=2099-13", 422, []string{"月份格式应为"}},
		{"/cases", 200, []string{"差评督办亮单", "各部门督办情况", "按期办结率", "已整改", "个工作日"}},
		{"/cases?department=hzk", 200, []string{"临江市公安局清河分局户政科"}},
		{"/cases?department=nope", 422, []string{"没有找到这个部门"}},
		{"/cases?page=abc", 422, []string{"页码应为大于 0 的整数"}},
		{"/counters/C02", 200, []string{"服务评价", "本月满意率", "近 12 个月评价", `href="/r/C02"`}},
		{"/counters/C02/poster", 200, []string{"好差评", "<svg", "/r/C02", "点“满意”即完成评价"}},
	}
	for _, tt := range tests {
		res, body := app.get(t, tt.target)
		if res.StatusCode != tt.status {
			t.Errorf("GET %s = %d, want %d", tt.target, res.StatusCode, tt.status)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", tt.target, w)
			}
		}
		if strings.Contains(body, "138") && strings.Contains(tt.target, "/cases") && regexp.MustCompile(`1[3-9]\d{9}`).MatchString(body) {
			t.Errorf("GET %s shows a rater's phone number", tt.target)
		}
	}
}

func TestRatingRateLimitIsExplained(t *testing.T) {
	rules := models.DefaultRatingRules()
	rules.PerAddressPerHour = 2
	app := newTestAppWith(t, Config{Rating: rules})
	for i, code := range []string{"C01", "C02"} {
		b := newBrowser(app, "10.9.9.9")
		res, _ := b.post(t, "/r/"+code, "/r/"+code, url.Values{"level": {"4"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("rating %d: %d", i+1, res.StatusCode)
		}
	}
	before := app.count(t, "ratings")
	b := newBrowser(app, "10.9.9.9")
	res, body := b.post(t, "/r/C03", "/r/C03", url.Values{"level": {"4"}})
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "评价提交过于频繁") {
		t.Fatalf("a third rating from one address: %d", res.StatusCode)
	}
	if app.count(t, "ratings") != before {
		t.Fatal("a rate-limited rating was stored")
	}
}

func TestFiveLevelRatingPage(t *testing.T) {
	rules := models.DefaultRatingRules()
	rules.FiveLevels = true
	app := newTestAppWith(t, Config{Rating: rules})
	_, body := app.get(t, "/r/C02")
	for _, w := range []string{">非常满意</button>", ">满意</button>", ">基本满意</button>", `href="/r/C02?level=2"`, `href="/r/C02?level=1"`} {
		if !strings.Contains(body, w) {
			t.Errorf("five-level page lacks %q", w)
		}
	}
}

func TestRatingNeedsTheRaterCookie(t *testing.T) {
	app := newTestApp(t)
	before := app.count(t, "ratings")
	for _, cookie := range []string{"", "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef.forged"} {
		b := newBrowser(app, "10.4.0.1")
		_, page := b.get(t, "/r/C02")
		token := csrfField.FindStringSubmatch(page)[1]
		if cookie == "" {
			delete(b.cookies, "rater")
		} else {
			b.cookies["rater"] = &http.Cookie{Name: "rater", Value: cookie}
		}
		form := url.Values{"level": {"4"}, "_csrf": {token}}
		req := httptest.NewRequest(http.MethodPost, "/r/C02", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if res, _ := b.do(t, req); res.StatusCode != http.StatusForbidden {
			t.Errorf("rater cookie %q: %d, want 403", cookie, res.StatusCode)
		}
	}
	if app.count(t, "ratings") != before {
		t.Fatal("a rating without a valid rater cookie was stored")
	}
}

func TestForwardedAddressesAreNotTrustedByDefault(t *testing.T) {
	rules := models.DefaultRatingRules()
	rules.PerAddressPerHour = 1
	app := newTestAppWith(t, Config{Rating: rules})
	for i, code := range []string{"C01", "C02"} {
		b := newBrowser(app, "10.5.0.1")
		_, page := b.get(t, "/r/"+code)
		form := url.Values{"level": {"4"}, "_csrf": {csrfField.FindStringSubmatch(page)[1]}}
		req := httptest.NewRequest(http.MethodPost, "/r/"+code, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "192.0.2."+string(rune('1'+i)))
		res, _ := b.do(t, req)
		if want := []int{http.StatusSeeOther, http.StatusTooManyRequests}[i]; res.StatusCode != want {
			t.Fatalf("rating %d with a forged X-Forwarded-For: %d, want %d", i+1, res.StatusCode, want)
		}
	}
}

func TestLookupIsThrottled(t *testing.T) {
	app := newTestApp(t)
	b := newBrowser(app, "10.6.0.1")
	res, _ := b.post(t, "/r/C02?level=2", "/r/C02", url.Values{"level": {"2"}, "reasons": {"事难办"}})
	_, body := b.follow(t, res)
	number := regexp.MustCompile(`DB\d{8}-\d{4}`).FindString(body)
	guesser := newBrowser(app, "10.6.0.2")
	for i := 0; i < 5; i++ {
		res, _ := guesser.post(t, "/cases/lookup", "/cases/lookup", url.Values{"number": {number}, "code": {"99999" + string(rune('0'+i))}})
		if res.StatusCode != 422 && res.StatusCode != http.StatusSeeOther {
			t.Fatalf("guess %d: %d", i+1, res.StatusCode)
		}
	}
	res, body = guesser.post(t, "/cases/lookup", "/cases/lookup", url.Values{"number": {number}, "code": {"123456"}})
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "查询码输错次数过多") {
		t.Fatalf("after 5 wrong codes: %d", res.StatusCode)
	}
}

func TestCaseFiguresFollowTheFilter(t *testing.T) {
	app := newTestApp(t)
	if _, err := app.store.LoadDemoRatings(context.Background(), models.DefaultRatingRules(), time.Now()); err != nil {
		t.Fatal(err)
	}
	_, body := app.get(t, "/cases?department=hzk")
	i := strings.Index(body, "各部门督办情况")
	j := strings.Index(body, "已办结督办单")
	figures := body[i:j]
	if !strings.Contains(figures, "户政科") || strings.Contains(figures, "人力资源和社会保障局") {
		t.Fatal("with a department chosen, the figures must be that department's only")
	}
}

func httptestPost(target string, form url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func regexpFind(pattern, s string) string {
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

func htmlUnescape(s string) string { return html.UnescapeString(s) }

// TestRankingListsEveryCounter: the ranking shows every counter, a counter
// nobody rated this month last, without a place, and a month without any
// rating says so instead of listing empty rows.
func TestRankingListsEveryCounter(t *testing.T) {
	app := newTestApp(t)
	if _, body := app.get(t, "/ratings"); !strings.Contains(body, "该月暂无评价数据") || strings.Contains(body, `href="/counters/C02"`) {
		t.Fatal("a month without ratings must say so, not list counters")
	}
	in := models.RatingInput{CounterCode: "C02", Level: models.LevelSatisfied, Device: "phone", Address: "10.1.1.1"}
	if _, err := app.store.RateCounter(context.Background(), in, models.DefaultRatingRules(), time.Now()); err != nil {
		t.Fatal(err)
	}
	_, body := app.get(t, "/ratings")
	rated := regexp.MustCompile(`<td>\s*1\s*</td>\s*<th scope="row">\s*<a href="/counters/C02"`)
	unrated := regexp.MustCompile(`<td>\s*—\s*</td>\s*<th scope="row">\s*<a href="/counters/B01"[^>]*>[^<]*</a>\s*<span[^>]*>[^<]*</span>\s*</th>\s*<td>暂无评价</td>`)
	if !rated.MatchString(body) {
		t.Error("the rated counter C02 is not first")
	}
	if !unrated.MatchString(body) {
		t.Error("the counter B01, not rated this month, is not listed without a place as 暂无评价")
	}
}

// TestRatingCookiesAttributes: the cookies of a rating (CSRF token, rater,
// and the flash of a 差评's receipt) are HttpOnly and SameSite=Lax, Secure
// when the portal is served over TLS, each with its path and lifetime.
func TestRatingCookiesAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		app := newTestAppWith(t, Config{SecureCookies: secure})
		phone := newBrowser(app, "10.4.0.1")
		res, body := phone.get(t, "/r/C02")
		cookies := map[string]*http.Cookie{}
		for _, c := range res.Cookies() {
			cookies[c.Name] = c
		}
		token := csrfField.FindStringSubmatch(body)
		req := httptestPost("/r/C02", url.Values{"level": {"2"}, "reasons": {"办事效率低"}, "_csrf": {token[1]}})
		res, _ = phone.do(t, req)
		for _, c := range res.Cookies() {
			cookies[c.Name] = c
		}
		for name, want := range map[string]struct {
			path   string
			maxAge int
		}{csrfCookie: {"/", 86400}, raterCookie: {"/r/", 400 * 24 * 3600}, flashCookie: {"/", 600}} {
			c := cookies[name]
			if c == nil {
				t.Fatalf("no %s cookie in the rating flow", name)
			}
			if c.Path != want.path || c.MaxAge != want.maxAge || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure {
				t.Errorf("secure=%v: cookie %s: %+v", secure, name, c)
			}
		}
	}
}
