package handlers

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
)

// fetch GETs a path with extra headers and cookies, and returns the
// response and its (raw, possibly gzipped) body.
func (a *testApp) fetch(t testing.TB, target string, header http.Header, cookies ...*http.Cookie) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

// cachedTwice GETs a page twice and checks that the second answer is the
// cached copy of the first; it returns the page and its ETag.
func cachedTwice(t *testing.T, app *testApp, target string) (string, string) {
	t.Helper()
	res1, body1 := app.fetch(t, target, nil)
	res2, body2 := app.fetch(t, target, nil)
	if res1.StatusCode != 200 || res2.StatusCode != 200 {
		t.Fatalf("GET %s: %d, %d", target, res1.StatusCode, res2.StatusCode)
	}
	etag := res1.Header.Get("ETag")
	if etag == "" || res2.Header.Get("ETag") != etag || !bytes.Equal(body1, body2) {
		t.Fatalf("GET %s twice: ETags %q, %q; the page is not served from the cache", target, etag, res2.Header.Get("ETag"))
	}
	return string(body1), etag
}

// TestCachedPagesShowChangesOnTheNextRequest makes each kind of change that
// a public page shows, after the page is cached, and checks that the very
// next request shows it, under a new ETag.
func TestCachedPagesShowChangesOnTheNextRequest(t *testing.T) {
	app := newAdminApp(t)
	ctx := context.Background()
	admin := models.Actor{UserID: 1, Name: "人社局 管理员"}

	changed := func(target, etag string, want string) string {
		t.Helper()
		res, body := app.fetch(t, target, nil)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s after the change: %d", target, res.StatusCode)
		}
		if res.Header.Get("ETag") == etag {
			t.Fatalf("GET %s after the change: the same ETag %s, the cached page", target, etag)
		}
		if want != "" && !strings.Contains(string(body), want) {
			t.Fatalf("GET %s after the change does not show %q", target, want)
		}
		return res.Header.Get("ETag")
	}

	// A counter's edit shows on its page and in the list of counters.
	b01 := adminCounter(t, app, "B01")
	_, counterTag := cachedTwice(t, app, "/counters/B01")
	_, listTag := cachedTwice(t, app, "/counters")
	in := models.CounterInput{Name: b01.Name, Hall: b01.Hall, Floor: b01.Floor, Number: b01.Number,
		Hours: "工作日 8:00-20:00 缓存测试", ExtendedHours: b01.ExtendedHours, StaffPost: b01.StaffPost}
	for _, it := range b01.ServiceItems {
		in.ItemIDs = append(in.ItemIDs, it.ID)
	}
	if err := app.store.UpdateCounter(ctx, 0, b01.ID, b01.Version, in, admin); err != nil {
		t.Fatal(err)
	}
	counterTag = changed("/counters/B01", counterTag, "缓存测试")

	// A rating changes the counter's figures and the statistics.
	_, statsTag := cachedTwice(t, app, "/ratings")
	cachedTwice(t, app, "/counters/B01")
	if _, err := app.store.RateCounter(ctx, models.RatingInput{CounterCode: "B01", Level: models.LevelSatisfied,
		Device: "cache-test", Address: "a"}, models.DefaultRatingRules(), time.Now()); err != nil {
		t.Fatal(err)
	}
	changed("/ratings", statsTag, "")
	counterTag = changed("/counters/B01", counterTag, "")

	// Disabling a counter takes it off the list.
	listTag = changed("/counters", listTag, "缓存测试")
	if err := app.store.SetCounterEnabled(ctx, 0, b01.ID, false, admin); err != nil {
		t.Fatal(err)
	}
	if res, _ := app.fetch(t, "/counters/B01", nil); res.StatusCode == 200 && res.Header.Get("ETag") == counterTag {
		t.Fatal("a disabled counter's page is still served from the cache")
	}
	if _, body := app.fetch(t, "/counters", nil); strings.Contains(string(body), "缓存测试") {
		t.Fatal("the list of counters still shows a disabled counter")
	}

	// A board entry's edit shows on the board and its printed copy.
	board, err := app.store.FindBoard(ctx, "rsj")
	if err != nil {
		t.Fatal(err)
	}
	e := board.Sections[0].Entries[0]
	_, boardTag := cachedTwice(t, app, "/departments/rsj")
	_, printTag := cachedTwice(t, app, "/departments/rsj/print")
	entry := models.DutyEntryInput{Duty: e.Duty, Tasks: "缓存测试的具体任务", Basis: e.Basis, Accountability: e.Accountability,
		Office: e.Office, PersonName: e.PersonName, PersonPost: e.PersonPost, Phone: e.Phone}
	if err := app.store.UpdateDutyEntry(ctx, board.Department.ID, e.ID, e.Version, entry, admin); err != nil {
		t.Fatal(err)
	}
	changed("/departments/rsj", boardTag, "缓存测试的具体任务")
	changed("/departments/rsj/print", printTag, "缓存测试的具体任务")

	// Repealing a guide shows on its page and takes it out of the catalogue.
	const code = "11QHMZJ0003-01"
	it, err := app.store.FindGuideByCode(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	_, guideTag := cachedTwice(t, app, "/services/"+code)
	search := "/services?q=" + q(it.Name)
	found, searchTag := cachedTwice(t, app, search)
	if !strings.Contains(found, code) {
		t.Fatalf("searching %s does not find it", it.Name)
	}
	if _, err := app.store.SetGuideRepealed(ctx, it.DepartmentID, it.ID, true, admin, time.Now()); err != nil {
		t.Fatal(err)
	}
	if res, _ := app.fetch(t, "/services/"+code, nil); res.Header.Get("ETag") == guideTag {
		t.Fatal("a repealed guide is served from the cache as it was")
	}
	// The catalogue marks it repealed (or leaves it out).
	changed(search, searchTag, "")
}

func TestCachedPagesRevalidateAndCompress(t *testing.T) {
	app := newTestApp(t)
	page, etag := cachedTwice(t, app, "/")
	res, _ := app.fetch(t, "/", nil)
	if res.Header.Get("Cache-Control") != "no-cache" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") ||
		!strings.Contains(res.Header.Get("Vary"), "Cookie") {
		t.Fatalf("headers of a cached page: Cache-Control %q, Vary %q", res.Header.Get("Cache-Control"), res.Header.Get("Vary"))
	}
	if res.Header.Get("X-Content-Type-Options") == "" {
		t.Fatal("a cached page lost the security headers")
	}

	res, body := app.fetch(t, "/", http.Header{"If-None-Match": {etag}})
	if res.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("If-None-Match with the current ETag: %d with %d bytes, want 304 and none", res.StatusCode, len(body))
	}
	res, _ = app.fetch(t, "/", http.Header{"If-None-Match": {`"stale"`}})
	if res.StatusCode != 200 {
		t.Fatalf("If-None-Match with another ETag: %d", res.StatusCode)
	}

	res, body = app.fetch(t, "/", http.Header{"Accept-Encoding": {"gzip, deflate, br"}})
	if res.Header.Get("Content-Encoding") != "gzip" || len(body) >= len(page) {
		t.Fatalf("Accept-Encoding gzip: Content-Encoding %q, %d bytes of %d", res.Header.Get("Content-Encoding"), len(body), len(page))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || string(plain) != page {
		t.Fatalf("the gzipped page does not decode to the page (%v)", err)
	}
	if res, _ := app.fetch(t, "/", http.Header{"Accept-Encoding": {"gzip;q=0"}}); res.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent to a browser that refuses it")
	}

	// The display modes are separate entries (their pages differ once the
	// render helper converts them); other values of the cookies are not.
	req := func(cookies ...*http.Cookie) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/ratings?month=2026-10", nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		return r
	}
	pageKeyOf := func(r *http.Request) string {
		d, anonymous := readCookies(r)
		if !anonymous || d != displayOf(r) {
			t.Fatalf("readCookies(%v) = %+v, %v; displayOf says %+v", r.Cookies(), d, anonymous, displayOf(r))
		}
		return pageKey(r, d)
	}
	keys := map[string]bool{}
	for _, r := range []*http.Request{req(), req(&http.Cookie{Name: "care", Value: "1"}), req(&http.Cookie{Name: "script", Value: "hant"}),
		req(&http.Cookie{Name: "care", Value: "1"}, &http.Cookie{Name: "script", Value: "hant"})} {
		keys[pageKeyOf(r)] = true
	}
	if len(keys) != 4 {
		t.Fatalf("care and script cookies share cache entries: %v", keys)
	}
	if pageKeyOf(req(&http.Cookie{Name: "care", Value: "junk"})) != pageKeyOf(req()) {
		t.Fatal("an unknown cookie value makes a new cache entry")
	}
	if pageKeyOf(req()) == pageKeyOf(httptest.NewRequest(http.MethodGet, "/ratings?month=2026-09", nil)) {
		t.Fatal("the query is not part of the key")
	}
}

func TestSignedInStaffBypassTheCache(t *testing.T) {
	app := newAdminApp(t)
	_, anonTag := cachedTwice(t, app, "/ratings")
	staff := newBrowser(app, "10.8.0.1")
	signIn(t, staff, "rsj.admin", models.DemoPassword)
	res, _ := staff.get(t, "/ratings")
	if res.StatusCode != 200 || res.Header.Get("ETag") != "" {
		t.Fatalf("a signed-in request got %d with ETag %q: it must be rendered afresh, never from the cache", res.StatusCode, res.Header.Get("ETag"))
	}
	res, _ = staff.get(t, "/counters")
	if res.Header.Get("ETag") != "" {
		t.Fatal("a signed-in request's page was cached")
	}
	// The staff member's visit stored nothing: an anonymous request of a page
	// the staff member saw first is rendered for the anonymous request.
	if res, _ := app.fetch(t, "/ratings", nil); res.Header.Get("ETag") != anonTag {
		t.Fatal("an anonymous request got another page after a staff visit")
	}
	if res, body := app.fetch(t, "/counters", nil); res.StatusCode != 200 || strings.Contains(string(body), "退出") {
		t.Fatal("an anonymous page shows staff content")
	}
}

func TestResponsesThatSetCookiesAreNotCached(t *testing.T) {
	store, err := models.Open(filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h, err := New(store, slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config{SessionKey: []byte(strings.Repeat("k", 32)), PageCacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	e := echo.New()
	e.GET("/cookie", func(c echo.Context) error {
		calls++
		c.SetCookie(&http.Cookie{Name: "x", Value: "per-user"})
		return c.HTML(200, "<p>hello</p>")
	}, h.cachePage)
	e.GET("/missing", func(c echo.Context) error {
		calls++
		return c.HTML(404, "<p>none</p>")
	}, h.cachePage)
	for _, target := range []string{"/cookie", "/cookie", "/missing", "/missing"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Header().Get("ETag") != "" {
			t.Fatalf("GET %s: cached", target)
		}
		if target == "/cookie" && rec.Header().Get("Set-Cookie") == "" {
			t.Fatal("the cookie was lost")
		}
	}
	if calls != 4 {
		t.Fatalf("the handlers ran %d times for 4 requests: an uncacheable response was served from the cache", calls)
	}
}

func TestStaticAssetsArePrecompressed(t *testing.T) {
	app := newTestApp(t)
	_, page := app.get(t, "/")
	css := regexpFind(`href="(/static/css/site\.[0-9a-f]+\.css)"`, page)
	plainRes, plain := app.fetch(t, css, nil)
	res, body := app.fetch(t, css, http.Header{"Accept-Encoding": {"gzip"}})
	if plainRes.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("stylesheet with Accept-Encoding gzip: %d, Content-Encoding %q", res.StatusCode, res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, plain) || len(body) >= len(plain) {
		t.Fatal("the gzipped stylesheet is not the stylesheet, compressed")
	}
}

func TestConcurrentMissesRenderOnce(t *testing.T) {
	store, err := models.Open(filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h, err := New(store, slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config{SessionKey: []byte(strings.Repeat("k", 32)), PageCacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	e := echo.New()
	e.GET("/slow", func(c echo.Context) error {
		mu.Lock()
		calls++
		mu.Unlock()
		time.Sleep(200 * time.Millisecond)
		return c.HTML(200, "<p>slow</p>")
	}, h.cachePage)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/slow", nil))
			codes[i] = rec.Code
		}(i)
	}
	wg.Wait()
	for _, code := range codes {
		if code != 200 {
			t.Fatalf("statuses %v", codes)
		}
	}
	if calls != 1 {
		t.Fatalf("8 concurrent requests of one page rendered it %d times", calls)
	}
}

// TestCacheHitsCarryWhatEveryAnswerCarries checks that a page answered
// from the cache before routing still has what the middleware gives every
// answer: its own request ID, the security headers, the page's language,
// a line in the request log, the metrics under the route pattern, and the
// guide's view count.
func TestCacheHitsCarryWhatEveryAnswerCarries(t *testing.T) {
	var log syncBuffer
	app := newTestAppWith(t, Config{MetricsToken: "tok"})
	app.h.logger = slog.New(slog.NewJSONHandler(&log, nil))
	ctx := context.Background()
	const code = "11QHMZJ0003-01"
	before, err := app.store.FindGuideByCode(ctx, code)
	if err != nil {
		t.Fatal(err)
	}

	first, _ := app.fetch(t, "/services/"+code, nil)
	second, secondBody := app.fetch(t, "/services/"+code, nil)
	notModified, _ := app.fetch(t, "/services/"+code, http.Header{"If-None-Match": {first.Header.Get("ETag")}})
	hant, _ := app.fetch(t, "/services/"+code, nil, &http.Cookie{Name: scriptCookie, Value: "hant"})
	hantAgain, hantBody := app.fetch(t, "/services/"+code, nil, &http.Cookie{Name: scriptCookie, Value: "hant"})
	if notModified.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match with the page's ETag: %d, want 304", notModified.StatusCode)
	}
	ids := map[string]bool{}
	for i, res := range []*http.Response{first, second, notModified, hant, hantAgain} {
		for name, want := range map[string]string{
			"Content-Security-Policy": "frame-ancestors 'none'",
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-cache",
		} {
			if !strings.Contains(res.Header.Get(name), want) {
				t.Errorf("answer %d: %s = %q, want %q", i+1, name, res.Header.Get(name), want)
			}
		}
		ids[res.Header.Get(echo.HeaderXRequestID)] = true
	}
	if len(ids) != 5 || ids[""] {
		t.Errorf("request IDs of five answers: %v, want five different ones", ids)
	}
	if !bytes.Contains(secondBody, []byte(`<html lang="zh-Hans"`)) || !bytes.Contains(hantBody, []byte(`<html lang="zh-Hant"`)) {
		t.Error("a cached page does not say its language")
	}

	// Every answer is in the request log with its own ID.
	for id := range ids {
		if !strings.Contains(log.String(), `"request_id":"`+id+`"`) {
			t.Errorf("request %s is not in the log:\n%s", id, log.String())
		}
	}
	if n := strings.Count(log.String(), `"path":"/services/`+code+`"`); n != 5 {
		t.Errorf("the log has %d lines for the guide, want 5", n)
	}

	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer tok")
	rec := httptest.NewRecorder()
	app.e.ServeHTTP(rec, req)
	for _, want := range []string{
		`portal_http_requests_total{method="GET",route="/services/:code",status="200"} 4`,
		`portal_http_requests_total{method="GET",route="/services/:code",status="304"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if err := app.h.FlushViews(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := app.store.FindGuideByCode(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if after.ViewCount != before.ViewCount+5 {
		t.Errorf("views %d → %d after five GETs (one 304), want +5", before.ViewCount, after.ViewCount)
	}
}

// TestRatingsKeepTheCataloguePagesCached: a rating re-renders the pages
// that show ratings, totals or cases, and leaves the others in the cache,
// so that a busy hall's ratings do not keep the catalogue rendering. On a
// database server ratings go through the pool like every write, and every
// page is rendered again (the cache is off there by default).
func TestRatingsKeepTheCataloguePagesCached(t *testing.T) {
	app := newTestApp(t)
	entry := func(target string) *cachedPage {
		t.Helper()
		key, ok := app.h.cacheKey(httptest.NewRequest(http.MethodGet, target, nil))
		if !ok {
			t.Fatalf("%s has no cache key", target)
		}
		return app.h.pages.get(key, app.h.currentVersions())
	}
	catalogue := []string{"/", "/services", "/services?q=%E7%A4%BE%E4%BF%9D", "/services/11QHMZJ0003-01",
		"/guide?q=%E6%8D%A2%E8%BA%AB%E4%BB%BD%E8%AF%81", "/departments", "/departments/rsj", "/counters", "/counters/C02/poster"}
	withRatings := []string{"/ratings", "/cases", "/counters/C02"}
	before := map[string]*cachedPage{}
	for _, target := range append(append([]string{}, catalogue...), withRatings...) {
		cachedTwice(t, app, target)
		if before[target] = entry(target); before[target] == nil {
			t.Fatalf("%s is not in the cache", target)
		}
	}

	// A 差评 from a phone: a rating, its totals and a case.
	phone := newBrowser(app, "10.40.0.1")
	if res, _ := phone.post(t, "/r/C02", "/r/C02", url.Values{"level": {"2"}, "reasons": {"事难办"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("rating: %d", res.StatusCode)
	}

	sqlite := app.store.Dialect() == "sqlite"
	for _, target := range catalogue {
		kept := entry(target) == before[target]
		if sqlite && !kept {
			t.Errorf("%s was emptied from the cache by a rating, which it does not show", target)
		}
		if !sqlite && kept {
			t.Errorf("%s was kept after a rating written through the pool", target)
		}
	}
	for _, target := range withRatings {
		if entry(target) != nil {
			t.Errorf("%s is still cached after a rating", target)
		}
	}
	for _, target := range []string{"/ratings", "/counters/C02"} {
		if res, _ := app.fetch(t, target, nil); res.StatusCode != 200 || res.Header.Get("ETag") == before[target].etag {
			t.Errorf("%s after a rating: %d, ETag %s unchanged", target, res.StatusCode, res.Header.Get("ETag"))
		}
	}
}

// TestPagesAreSentBeforeTheBookkeeping holds each request after the portal
// has answered it, as slow bookkeeping or a descheduled goroutine would: a
// cached page must reach the browser whole meanwhile, not wait in
// net/http's buffer for the request to end.
func TestPagesAreSentBeforeTheBookkeeping(t *testing.T) {
	app := newTestApp(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		app.e.ServeHTTP(w, r)
		if r.Header.Get("X-Test-Hold") != "" {
			<-release
		}
	}))
	defer srv.Close()
	defer close(release)
	for _, path := range []string{"/services", "/", "/services/11QHHZK0002-01", "/departments", "/counters", "/cases"} {
		get := func(hold bool) (int, []byte) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept-Encoding", "identity")
			if hold {
				req.Header.Set("X-Test-Hold", "1")
			}
			// Without the early flush the body never arrives while the
			// request is held; the timeout only ends the test. A held
			// connection is busy: each request opens its own.
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("%s: the page did not arrive while the request was held: %v", path, err)
			}
			return res.StatusCode, body
		}
		get(false) // renders and caches it
		status, body := get(true)
		if status != http.StatusOK || !strings.HasSuffix(strings.TrimSpace(string(body)), "</html>") {
			t.Fatalf("%s: %d, %d bytes", path, status, len(body))
		}
	}
}
