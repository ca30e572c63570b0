package handlers

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
)

// testApp is the real router on a fresh SQLite file with the demo data.
type testApp struct {
	store *models.Store
	e     *echo.Echo
	h     *Handler
}

func newTestApp(t testing.TB) *testApp {
	t.Helper()
	return newTestAppWith(t, Config{})
}

// newTestAppWith is newTestApp with a configuration (the session key is
// filled in).
func newTestAppWith(t testing.TB, cfg Config) *testApp {
	t.Helper()
	return newTestAppOn(t, openDemoStore(t, testDatabase(t)), cfg)
}

// newTestAppOn is newTestAppWith on a store the test opened itself.
func newTestAppOn(t testing.TB, store *models.Store, cfg Config) *testApp {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.SessionKey = []byte(strings.Repeat("k", 32))
	if cfg.Converter == nil {
		cfg.Converter = sharedConverter(t)
	}
	if cfg.PageCacheBytes == 0 {
		// Every test goes through the page cache, as production does, so
		// that any test of a change also tests that the cache shows it.
		cfg.PageCacheBytes = 8 << 20
	}
	h, err := New(store, logger, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testApp{store: store, e: h.Routes(), h: h}
}

// testDatabase returns a fresh SQLite file's path, or, when
// PORTAL_TEST_DATABASE_URL names a PostgreSQL or MySQL server, a fresh
// database there (dropped afterwards). An unreachable server fails the test.
func testDatabase(t testing.TB) string {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "portal.db")
	if server := os.Getenv("PORTAL_TEST_DATABASE_URL"); server != "" {
		url, drop, err := models.CreateDatabase(context.Background(), server, "portal_test")
		if err != nil {
			t.Fatalf("PORTAL_TEST_DATABASE_URL: %v", err)
		}
		t.Cleanup(func() {
			if err := drop(); err != nil {
				t.Errorf("drop test database: %v", err)
			}
		})
		dsn = url
	}
	return dsn
}

// openDemoStore opens the store at dsn, migrated and with the demo data; it
// is closed when the test ends.
func openDemoStore(t testing.TB, dsn string) *models.Store {
	t.Helper()
	ctx := context.Background()
	store, err := models.OpenURL(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.LoadDemoData(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}

// get requests a path (already escaped as a browser sends it) and returns the
// response and its body.
func (a *testApp) get(t *testing.T, target string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func q(s string) string { return url.QueryEscape(s) }

// stripTags returns the text of an HTML page, as a reader sees it.
func stripTags(html string) string {
	var b strings.Builder
	in := false
	for _, r := range html {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestPublicPages(t *testing.T) {
	app := newTestApp(t)
	tests := []struct {
		name, target string
		status       int
		want         []string
		notWant      []string
	}{
		{"home", "/", 200, []string{"搜索办事事项", "个人办事", "法人办事", "热门事项", "部门责任清单", "我要办", "清河区人力资源和社会保障局", "/services?audience=person&amp;theme=hunyin"}, nil},
		{"catalogue", "/services", 200, []string{"办事指南", "共 <strong>68</strong> 项", "服务对象", "下一页"}, nil},
		{"person", "/services?audience=person", 200, []string{"个人办事", "居民身份证换领"}, []string{"食品经营许可"}},
		{"company", "/services?audience=company", 200, []string{"法人办事", "食品经营许可"}, []string{"居民身份证换领"}},
		{"theme", "/services?theme=hunyin", 200, []string{"婚姻登记事项", "结婚登记"}, []string{"居民身份证换领"}},
		{"department", "/services?department=hzk", 200, []string{"临江市公安局清河分局户政科办事指南", "居民身份证换领"}, []string{"结婚登记"}},
		{"page 2", "/services?page=2", 200, []string{"第 2 / 5 页", "上一页"}, nil},
		{"page beyond", "/services?page=40", 200, []string{"第 40 页没有内容", "回到第 1 页"}, nil},
		{"guide", "/services/11QHHZK0002-01", 200, []string{"居民身份证换领", "受理条件", "申请材料", "必要性", "办理流程",
			"法定办结时限", "承诺办结时限", "收费标准", "20 元", "办理地点和时间", `href="/counters/C02"`, "工作日中午不断岗",
			"咨询电话", "监督投诉电话", "设定依据", "常见问题", "最后更新", "一次性告知单"}, nil},
		{"counter", "/counters/C02", 200, []string{"居民身份证窗口", "一楼 户政服务区 C02 号窗口", "居民身份证换领", "工作日中午不断岗"}, nil},
		{"counters", "/counters", 200, []string{"窗口指引", "一楼 户政服务区", `href="/counters/C02"`, "居民身份证窗口", "临江市公安局清河分局户政科"}, nil},
		{"unknown guide", "/services/NOPE-0001", 404, []string{"页面不存在", "返回首页"}, nil},
		{"hostile guide code", "/services/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404, []string{"页面不存在"}, []string{"<script>alert"}},
		{"unknown counter", "/counters/Z99", 404, []string{"页面不存在"}, nil},
		{"unknown page", "/no/such/page", 404, []string{"页面不存在"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := app.get(t, tt.target)
			if res.StatusCode != tt.status {
				t.Fatalf("GET %s = %d, want %d", tt.target, res.StatusCode, tt.status)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("Content-Type %q", ct)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: body lacks %q", tt.target, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("GET %s: body has %q", tt.target, w)
				}
			}
		})
	}
}

func TestSearch(t *testing.T) {
	app := newTestApp(t)
	tests := []struct {
		name, query string
		want        []string
	}{
		{"two characters", "社保", []string{"找到与“社保”相关的事项", "社会保障卡申领", "<mark>"}},
		{"three characters", "公积金", []string{"提取住房公积金", "<mark>公积金</mark>"}},
		{"several words", "公积金 租房", []string{"租房提取住房公积金"}},
		{"traditional", "營業執照", []string{"找到与“營業執照”相关的事项", "<mark>营业执照</mark>遗失补领", `value="營業執照"`}},
		{"traditional two characters", "養老", []string{"<mark>养老</mark>保险"}},
		{"no result", "火星移民", []string{"没有找到与“火星移民”相关的事项", "咨询电话", "大家常办"}},
		{"resident words", "开饭店", []string{"食品经营许可"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := app.get(t, "/services?q="+q(tt.query))
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) && !strings.Contains(stripTags(body), w) {
					t.Errorf("search %q: page lacks %q", tt.query, w)
				}
			}
		})
	}
}

func TestEverySuggestedSearchFindsSomething(t *testing.T) {
	app := newTestApp(t)
	for _, w := range hotWords() {
		_, body := app.get(t, "/services?q="+q(w))
		if strings.Contains(body, "没有找到与") || !strings.Contains(body, "相关的事项") {
			t.Errorf("the suggested search %q finds nothing", w)
		}
	}
}

func TestHostileQueryStrings(t *testing.T) {
	app := newTestApp(t)
	tests := []struct {
		name, rawQuery string
		status         int
		want           string
	}{
		{"very long", "q=" + q(strings.Repeat("社保", 500)), 422, "检索词不能超过 50 个字"},
		{"very long latin", "q=" + strings.Repeat("a", 10000), 422, "检索词不能超过 50 个字"},
		{"invalid UTF-8", "q=%FF%FE%FD", 422, "无法识别的字符"},
		{"half a character", "q=%E7%A4", 422, "无法识别的字符"},
		{"only punctuation", "q=" + q("%%%！？"), 422, "没有可以检索的文字"},
		{"SQL", "q=" + q("' OR 1=1; DROP TABLE service_items; --"), 200, "相关的事项"},
		{"FTS syntax", "q=" + q(`"社保 NEAR( * ^ {name_grams}:`), 200, "相关的事项"},
		{"HTML", "q=" + q(`<script>alert(1)</script>`), 200, "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"bad page", "page=abc", 422, "页码应为大于 0 的整数"},
		{"negative page", "page=-3", 422, "页码应为大于 0 的整数"},
		{"huge page", "page=99999999999999999999", 422, "页码"},
		{"unknown theme", "theme=" + q("<b>x</b>"), 422, "没有找到这个主题分类"},
		{"unknown department", "department=nope", 422, "没有找到这个部门"},
		{"unknown audience", "audience=alien", 422, "服务对象只能选择"},
		{"bad escapes", "q=%zz%", 200, "共 <strong>68</strong> 项"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := app.get(t, "/services?"+tt.rawQuery)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if !strings.Contains(body, tt.want) {
				t.Fatalf("body lacks %q", tt.want)
			}
			if strings.Contains(body, "<script>alert") || strings.Contains(body, "<b>x</b>") {
				t.Fatal("user input reached the page unescaped")
			}
			if tt.status == 422 && !strings.HasPrefix(tt.rawQuery, "page=") && !strings.Contains(body, `aria-invalid="true"`) {
				t.Fatal("the field in error is not marked for screen readers")
			}
			// Whatever was wrong, the form still names every theme and
			// department to choose from.
			for _, option := range []string{`<option value="shengyu"`, `<option value="rsj"`} {
				if !strings.Contains(body, option) {
					t.Fatalf("the form lacks %s", option)
				}
			}
		})
	}
	// The hostile queries changed nothing.
	if _, body := app.get(t, "/services"); !strings.Contains(body, "共 <strong>68</strong> 项") {
		t.Fatal("the catalogue lost items")
	}
}

func TestInvalidInputIsKeptInTheForm(t *testing.T) {
	app := newTestApp(t)
	res, body := app.get(t, "/services?q="+q("社保")+"&page=abc&audience=person")
	if res.StatusCode != 422 {
		t.Fatalf("status %d, want 422", res.StatusCode)
	}
	for _, w := range []string{`value="社保"`, `<option value="person" selected`, "页码应为大于 0 的整数", "找到与“社保”相关的事项"} {
		if !strings.Contains(body, w) {
			t.Errorf("re-rendered form lacks %q", w)
		}
	}
}

func TestInternalErrorsStayInternal(t *testing.T) {
	app := newTestApp(t)
	app.store.Close()
	res, body := app.get(t, "/")
	if res.StatusCode != 500 {
		t.Fatalf("status %d, want 500", res.StatusCode)
	}
	if !strings.Contains(body, "系统暂时无法处理您的请求") || !strings.Contains(body, "反映问题时请提供编号") {
		t.Fatal("the error page lacks its safe message or request ID")
	}
	for _, leak := range []string{"sql", "database", "closed", "gorm"} {
		if strings.Contains(strings.ToLower(body), leak) {
			t.Fatalf("the error page shows an internal detail (%q)", leak)
		}
	}
}

// TestRedirectsCarryNoDocumentHeaders posts a rating: its 303 says where to
// go, with the request ID, and without the headers of a document, which a
// redirect is not. A rating refused is a page again, and carries them all.
func TestRedirectsCarryNoDocumentHeaders(t *testing.T) {
	app := newTestApp(t)
	res, _ := newBrowser(app, "10.71.0.1").post(t, "/r/C02", "/r/C02", url.Values{"level": {"4"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/r/C02/thanks" {
		t.Fatalf("a rating: %d → %q, want 303 to the thank-you page", res.StatusCode, res.Header.Get("Location"))
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"} {
		if v := res.Header.Get(h); v != "" {
			t.Errorf("the redirect carries %s: %q", h, v)
		}
	}
	if res.Header.Get(echo.HeaderXRequestID) == "" {
		t.Errorf("the redirect lacks its request ID: %v", res.Header)
	}
	res, body := newBrowser(app, "10.71.0.2").post(t, "/r/C02", "/r/C02", url.Values{"level": {"9"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "<form") {
		t.Fatalf("a rating of level 9: %d, want 422 with the form again", res.StatusCode)
	}
	checkDocumentHeaders(t, "the refused rating's page", res)
}

// checkDocumentHeaders checks the headers a page carries: its policy, no
// sniffing, no framing.
func checkDocumentHeaders(t *testing.T, what string, res *http.Response) {
	t.Helper()
	for h, want := range map[string]string{
		"Content-Security-Policy": "frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
	} {
		if !strings.Contains(res.Header.Get(h), want) {
			t.Errorf("%s: %s = %q, want %q", what, h, res.Header.Get(h), want)
		}
	}
}

func TestHeadersAndStatic(t *testing.T) {
	app := newTestApp(t)
	res, body := app.get(t, "/")
	checkDocumentHeaders(t, "GET /", res)
	// The page's own referrer policy, before anything it loads.
	if !regexp.MustCompile(`<head><meta charset="utf-8"><meta name="referrer" content="strict-origin-when-cross-origin">`).MatchString(body) {
		t.Error("the page does not open with its referrer policy")
	}
	if res.Header.Get(echo.HeaderXRequestID) == "" {
		t.Error("no request ID")
	}
	i := strings.Index(body, `href="/static/css/site.`)
	if i < 0 {
		t.Fatal("no hashed stylesheet link")
	}
	css := body[i+6 : i+6+strings.Index(body[i+6:], `"`)]
	res, _ = app.get(t, css)
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("GET %s: %d %q %q", css, res.StatusCode, res.Header.Get("Cache-Control"), res.Header.Get("Content-Type"))
	}
	if res, _ := app.get(t, "/static/css/site.css"); res.StatusCode != 404 {
		t.Fatalf("unhashed asset name: %d, want 404", res.StatusCode)
	}
	if res, _ := app.get(t, "/services/"); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/services" {
		t.Fatalf("trailing slash: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	req := httptest.NewRequest(http.MethodHead, "/services/11QHHZK0002-01", nil)
	rec := httptest.NewRecorder()
	app.e.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("HEAD guide: %d", rec.Code)
	}
	if res.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}
	// Behind a trusted proxy on this host that terminated TLS.
	proxied := newTestAppWith(t, Config{TrustProxy: true})
	tls := httptest.NewRequest(http.MethodGet, "/", nil)
	tls.RemoteAddr = "127.0.0.1:40000"
	tls.Header.Set("X-Forwarded-Proto", "https")
	rec = httptest.NewRecorder()
	proxied.e.ServeHTTP(rec, tls)
	if !strings.Contains(rec.Header().Get("Strict-Transport-Security"), "max-age=") {
		t.Error("no HSTS over TLS")
	}
	tls.RemoteAddr = "192.0.2.1:40000"
	rec = httptest.NewRecorder()
	app.e.ServeHTTP(rec, tls)
	if rec.Header().Get("Strict-Transport-Security") != "" {
		t.Error("a forged X-Forwarded-Proto from a client must not count")
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if res, _ := app.get(t, p); res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", p, res.StatusCode)
		}
	}
}

func TestGuideViewsAreCounted(t *testing.T) {
	app := newTestApp(t)
	ctx := context.Background()
	const code = "11QHMZJ0003-01"
	before, err := app.store.FindGuideByCode(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		app.get(t, "/services/"+code)
	}
	app.e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodHead, "/services/"+code, nil))
	// Views are written once a second, and at shutdown.
	if err := app.h.FlushViews(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := app.store.FindGuideByCode(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if after.ViewCount != before.ViewCount+3 {
		t.Fatalf("views %d → %d after 3 GETs and a HEAD, want +3", before.ViewCount, after.ViewCount)
	}
}

// A view that makes the counted views due must not make its resident wait
// for SQLite's write lock, which the rating writer or an administrator's
// save may hold: the page comes at once and the views are written once the
// lock is free. On SQLite whatever the test database, since the lock is
// SQLite's.
func TestGuideViewWriteDoesNotHoldUpThePage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	store := openDemoStore(t, path)
	app := newTestAppOn(t, store, Config{})
	h := app.h
	const code = "11QHMZJ0003-01"
	before, err := store.FindGuideByCode(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	// One view counted two seconds ago: the next one makes them due.
	h.views.add(code, time.Now().Add(-2*time.Second))

	// Another connection, as another process would, holds the write lock.
	db, err := sql.Open("sqlite3", models.SQLiteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	served := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		app.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/services/"+code, nil))
		served <- rec.Code
	}()
	select {
	case status := <-served:
		if status != http.StatusOK {
			t.Errorf("GET the guide while the write lock is held: %d, want 200", status)
		}
	case <-time.After(3 * time.Second):
		// The busy timeout is 10 s: the page waited for the lock.
		t.Error("the guide page waited for the database's write lock")
		<-served
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := h.FlushViews(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := store.FindGuideByCode(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if after.ViewCount != before.ViewCount+2 {
		t.Errorf("views %d → %d after two, the second while the lock was held; want +2", before.ViewCount, after.ViewCount)
	}
}
