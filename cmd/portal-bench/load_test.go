package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// wrk 4.2's output, as Debian's wrk prints it with --latency.
const wrkOutput = `Running 2s test @ http://127.0.0.1:39999/home.html
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms    2.11ms  43.32ms   95.12%
    Req/Sec    15.85k     2.10k   19.80k    70.00%
  Latency Distribution
     50%  740.00us
     75%    1.01ms
     90%    1.52ms
     99%   12.50ms
  63018 requests in 2.00s, 1.23GB read
  Non-2xx or 3xx responses: 18
Requests/sec:  31509.00
Transfer/sec:    615.12MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	if r.rps != 31509 || r.requests != 63000 || r.failures != 18 || r.elapsed != 2*time.Second ||
		r.p50 != 740*time.Microsecond || r.p99 != 12500*time.Microsecond {
		t.Fatalf("%+v", r)
	}
	if _, err := parseWrk("wrk: connection refused"); err == nil {
		t.Fatal("garbage parsed")
	}
}

// The rating baseline serves the portal's own form page, but for the token,
// and takes a rating posted from it; a forged token is refused.
func TestInsertBaselineServesTheCapturedForm(t *testing.T) {
	const page = `<!doctype html><title>评价 综合窗口</title><form method="post">` +
		`<input type="hidden" name="_csrf" value="portal-token-1234567890abcdefghij"><button name="level" value="4">满意</button></form>`
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, page)
	}))
	defer portal.Close()
	dir := t.TempDir()
	if err := captureForms(portal.URL, []string{"C01"}, filepath.Join(dir, "forms")); err != nil {
		t.Fatal(err)
	}
	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveInsert(ctx, addr, filepath.Join(dir, "baseline.db"), filepath.Join(dir, "forms")) }()
	defer func() { cancel(); <-done }()
	base := "http://" + addr
	var res *http.Response
	for range 100 {
		if res, err = http.Get(base + "/r/C01"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfToken.FindSubmatch(body)
	if m == nil || string(m[1]) == "portal-token-1234567890abcdefghij" {
		t.Fatalf("form without a token of its own:\n%s", body)
	}
	if got := strings.Replace(string(body), string(m[1]), "portal-token-1234567890abcdefghij", 1); got != page {
		t.Fatalf("the baseline's form differs from the portal's:\n%s\n%s", got, page)
	}
	if _, ok := rateOnce(base, &http.Transport{}, "C01"); !ok {
		t.Fatal("a rating from the baseline's form was not acknowledged")
	}
	if _, ok := rateOnce(base, &http.Transport{}, "C99"); ok {
		t.Fatal("a rating of an unknown counter was acknowledged")
	}
	// A phone with the form's cookies but another token, or none.
	phone := newClient()
	opened, err := phone.Get(base + "/r/C01")
	if err != nil {
		t.Fatal(err)
	}
	opened.Body.Close()
	for _, form := range []url.Values{{"_csrf": {"x"}, "level": {"4"}}, {"level": {"4"}}, {}} {
		forged, err := phone.PostForm(base+"/r/C01", form)
		if err != nil {
			t.Fatal(err)
		}
		forged.Body.Close()
		if forged.StatusCode != http.StatusForbidden {
			t.Fatalf("a post with the form's cookies and the form %v: %d, want 403", form, forged.StatusCode)
		}
	}
	forged, err := http.PostForm(base+"/r/C01", url.Values{"_csrf": {"x"}, "level": {"4"}})
	if err != nil {
		t.Fatal(err)
	}
	forged.Body.Close()
	if forged.StatusCode != http.StatusForbidden {
		t.Fatalf("a post without the form's cookies: %d, want 403", forged.StatusCode)
	}
	res, err = http.Get(base + "/count")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(n) != "1" {
		t.Fatalf("stored %s ratings, want 1", n)
	}
}

func TestParseCPUList(t *testing.T) {
	for list, want := range map[string]string{"0": "0", "0-1": "0,1", "0-3,6": "0,1,2,3,6", "2,4-5": "2,4,5"} {
		got, err := parseCPUList(list)
		if err != nil || cpuList(got) != want {
			t.Errorf("parseCPUList(%q) = %v, %v; want %s", list, got, err, want)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "0-"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q) took it", bad)
		}
	}
}

// TestPooledRounds pools two rounds' histograms: the percentiles are those
// of all the requests, not an average of the rounds'.
func TestPooledRounds(t *testing.T) {
	var p pooled
	// A quiet round: 98 requests at 1 ms, 2 at 3 ms; and a noisy one: 90 at
	// 1 ms, 10 at 20 ms.
	quiet, err := parseHistogram("1000 98\n3000 2\n")
	if err != nil {
		t.Fatal(err)
	}
	noisy, err := parseHistogram("1000 90\n20000 10\n")
	if err != nil {
		t.Fatal(err)
	}
	p.add(result{requests: 100, elapsed: time.Second}, quiet, 2*time.Millisecond)
	p.add(result{requests: 100, elapsed: time.Second}, noisy, 4*time.Millisecond)
	r := p.result()
	if r.rps != 100 || r.cpu != 30*time.Microsecond || r.p50 != time.Millisecond || r.p99 != 20*time.Millisecond {
		t.Errorf("pooled: %+v", r)
	}
	if got := p.p99Range(); got != " (3.00 ms–20.00 ms)" {
		t.Errorf("rounds' p99: %s", got)
	}
	// 190 of the 200 took 3 ms or less.
	if got := p.hist.percentile(0.95); got != 3*time.Millisecond {
		t.Errorf("p95 %v", got)
	}
	if l, err := parseHistogram(""); err != nil || l.percentile(0.99) != 0 {
		t.Errorf("a load with no answers: %v, %v", l, err)
	}
	for _, bad := range []string{"1000", "a 1", "1000 2 3"} {
		if _, err := parseHistogram(bad); err == nil {
			t.Errorf("parseHistogram(%q) took it", bad)
		}
	}
}

// The Go baseline answers the very bytes the portal sent in either
// encoding: the plain page to a client that asks for no compression, its
// gzip copy to a browser, and fetch reads each as sent.
func TestStaticBaselineServesBothEncodings(t *testing.T) {
	plain, gz := []byte("<!doctype html><title>首页</title>"), []byte("\x1f\x8bgzip copy")
	srv := httptest.NewServer(staticHandler(map[string][]byte{"home.html": plain, "home.html.gz": gz}))
	defer srv.Close()
	got, err := fetch(srv.URL+"/home.html", "")
	if err != nil || string(got) != string(plain) {
		t.Fatalf("plain: %q, %v", got, err)
	}
	got, err = fetch(srv.URL+"/home.html", "gzip, deflate, br, zstd")
	if err != nil || string(got) != string(gz) {
		t.Fatalf("gzip: %q, %v", got, err)
	}
	for _, path := range []string{"/home.html.gz", "/other.html"} {
		if _, err := fetch(srv.URL+path, ""); err == nil {
			t.Errorf("%s was served", path)
		}
	}
	// A server that ignores Accept-Encoding fails the gzip fetch, so a
	// baseline without the gzip copy cannot pass for one with it.
	plainOnly := httptest.NewServer(staticHandler(map[string][]byte{"home.html": plain}))
	defer plainOnly.Close()
	if _, err := fetch(plainOnly.URL+"/home.html", "gzip"); err == nil {
		t.Error("a page without Content-Encoding was taken for its gzip copy")
	}
}

// A page's gzip copy must be the page, or the two loads of a page would
// measure two pages.
func TestSameAfterGunzip(t *testing.T) {
	plain := []byte("<!doctype html><title>办事指南</title>")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(plain)
	zw.Close()
	if err := sameAfterGunzip(buf.Bytes(), plain); err != nil {
		t.Fatal(err)
	}
	if err := sameAfterGunzip(buf.Bytes(), append(plain, '!')); err == nil {
		t.Error("a different page passed")
	}
	if err := sameAfterGunzip(plain, plain); err == nil {
		t.Error("bytes that are not gzip passed")
	}
}
