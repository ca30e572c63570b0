package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/zwfw/portal/models"
)

// benchConfig is one run of the bench.
type benchConfig struct {
	dir, size, out string
	big, small     models.BenchSize
	phase          time.Duration
	// smoke checks that every phase works; it judges no figure.
	smoke bool
	// serverCPUs are the CPUs of the servers (taskset -c), "" for any.
	serverCPUs string
}

// pinnedCPUs is the number of the servers' CPUs, 0 when unpinned.
func (cfg benchConfig) pinnedCPUs() int {
	if cfg.serverCPUs == "" {
		return 0
	}
	return strings.Count(cfg.serverCPUs, ",") + 1
}

// conns is the number of connections of the throughput phases (issue 8).
const conns = 32

// pageRound is the length of a round of the page phases.
const pageRound = 2 * time.Second

// encoding is how a page load asks for its pages.
type encoding struct {
	label          string // after the page's name in the table
	acceptEncoding string // the request's Accept-Encoding, none when empty
	suffix         string // of the captured file
}

// statsMonth is a month of the generated ratings, for the statistics page.
const statsMonth = "2026-10"

// row is one line of the results table.
type row struct {
	figure, ours, baseline, ratio, target string
	pass                                  bool
	judged                                bool
}

// missingTools names the Debian packages of the tools that are not
// installed.
func missingTools() []string {
	var missing []string
	if _, err := exec.LookPath("wrk"); err != nil {
		missing = append(missing, "wrk")
	}
	if nginxPath() == "" {
		missing = append(missing, "nginx-light")
	}
	return missing
}

func nginxPath() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return ""
}

func runBench(ctx context.Context, cfg benchConfig) (err error) {
	if missing := missingTools(); len(missing) > 0 {
		return fmt.Errorf("the bench needs %s: install with\n\n    sudo apt-get install %s\n\n(the baselines are wrk and nginx, from Debian)",
			strings.Join(missing, " and "), strings.Join(missing, " "))
	}
	bigDB, smallDB, err := ensureData(ctx, cfg.dir, cfg.size, cfg.big, cfg.small)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(cfg.dir, "run-")
	if err != nil {
		return err
	}
	work, _ = filepath.Abs(work)
	// nginx's workers run as another user when started by root.
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	if os.Getenv("PORTAL_BENCH_KEEP") == "" {
		defer os.RemoveAll(work)
	}
	fmt.Println("building the portal …")
	portalBin := filepath.Join(work, "portal")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", portalBin, "./cmd/portal").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/portal: %v\n%s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The portal writes ratings: it runs on copies of the cached data sets.
	for _, c := range [][2]string{{bigDB, "big.db"}, {smallDB, "small.db"}} {
		if err := copyFile(c[0], filepath.Join(work, c[1])); err != nil {
			return err
		}
	}

	var rows []row
	var failures []string
	fail := func(format string, args ...any) { failures = append(failures, fmt.Sprintf(format, args...)) }

	portal, err := startPortal(cfg, portalBin, filepath.Join(work, "big.db"), filepath.Join(work, "portal-big.log"))
	if err != nil {
		return err
	}
	defer func() { portal.stop() }()
	startup := portal.ready
	base := "http://" + portal.addr

	// The pages, as the portal renders them: the baselines serve these
	// very bytes.
	pages := []struct{ name, path string }{
		{"home", "/"},
		{"catalogue", "/services?page=2"},
		{"guide", "/services/GEN0000042"},
		{"board", "/departments/rsj"},
		{"ratings", "/ratings?month=" + statsMonth},
	}
	staticDir := filepath.Join(work, "static")
	if err := os.MkdirAll(staticDir, 0o755); err != nil {
		return err
	}
	// The page loads' two kinds of clients: one that asks for no
	// compression, and browsers, which all ask for gzip (Chromium sends
	// this header) and get the page cache's gzip copy. Each page is
	// captured in both: nginx serves the gzip copy with gzip_static, the
	// Go handler from memory, to the loads that ask for it.
	encodings := [...]encoding{
		{label: "", acceptEncoding: "", suffix: ""},
		{label: " (gzip)", acceptEncoding: "gzip, deflate, br, zstd", suffix: ".gz"},
	}
	captured := map[string][]byte{}
	for _, p := range pages {
		for _, enc := range encodings {
			body, err := fetch(base+p.path, enc.acceptEncoding)
			if err != nil {
				return err
			}
			name := p.name + ".html" + enc.suffix
			if err := os.WriteFile(filepath.Join(staticDir, name), body, 0o644); err != nil {
				return err
			}
			captured[name] = body
		}
		// Both loads of a page must measure the same page.
		if err := sameAfterGunzip(captured[p.name+".html.gz"], captured[p.name+".html"]); err != nil {
			return fmt.Errorf("page %s: the gzip copy is not the page: %w", p.name, err)
		}
	}
	nginx, err := startNginx(cfg, work, staticDir)
	if err != nil {
		return err
	}
	defer func() { nginx.stop() }()
	goAddr, err := freePort()
	if err != nil {
		return err
	}
	goStatic, err := start("go-static", goAddr, "/home.html", filepath.Join(work, "go-static.log"), cfg.serverCPUs, self,
		"serve-static", "-addr", goAddr, "-static", staticDir)
	if err != nil {
		return err
	}
	defer func() { goStatic.stop() }()

	// The pages are loaded in rounds of pageRound per server and page: in
	// each round every page, and for each page the three servers in turn.
	// The machine's speed drifts within minutes (the same server's p99 was
	// 6 ms and 11 ms a few minutes apart): so a drift weighs on every page
	// and server alike, as the raters' rounds below do, instead of on
	// whichever ran in it. A figure is that of all its rounds' requests
	// together.
	pageRounds := max(1, int(cfg.phase/pageRound))
	// By page and encoding: nginx, Go, portal.
	loads := make([][len(encodings)][3]pooled, len(pages))
	script, err := writeWrkScript(work)
	if err != nil {
		return err
	}
	servers := [3]*child{nginx, goStatic, portal}
	targetsOf := func(path, name string) [3]string {
		return [3]string{"http://" + nginx.addr + "/" + name + ".html", "http://" + goStatic.addr + "/" + name + ".html", base + path}
	}
	// The three must answer the very bytes the portal rendered, in either
	// encoding: a baseline that sent other bytes would measure other work.
	for _, p := range pages {
		for _, enc := range encodings {
			for j, target := range targetsOf(p.path, p.name) {
				body, err := fetch(target, enc.acceptEncoding)
				if err != nil {
					return err
				}
				if !bytes.Equal(body, captured[p.name+".html"+enc.suffix]) {
					return fmt.Errorf("%s of page %s%s: %d bytes, not the %d the portal rendered",
						servers[j].name, p.name, enc.label, len(body), len(captured[p.name+".html"+enc.suffix]))
				}
			}
		}
	}
	for round := range pageRounds {
		fmt.Printf("pages, round %d of %d …\n", round+1, pageRounds)
		for i, p := range pages {
			for e, enc := range encodings {
				for j, target := range targetsOf(p.path, p.name) {
					c := servers[j]
					cpu0 := c.cpu()
					r, l, err := wrkRun(ctx, target, enc.acceptEncoding, conns, cfg.phase/time.Duration(pageRounds), script)
					if err != nil {
						return err
					}
					loads[i][e][j].add(r, l, c.cpu()-cpu0)
				}
			}
		}
	}
	for i, p := range pages {
		for e, enc := range encodings {
			name := "page " + p.name + enc.label
			ngLoad, gsLoad, ourLoad := &loads[i][e][0], &loads[i][e][1], &loads[i][e][2]
			ng, gs, ours := ngLoad.result(), gsLoad.result(), ourLoad.result()
			if ours.requests == 0 || ours.failures > 0 || ng.requests == 0 || gs.requests == 0 {
				fail("%s: %d answered, %d failed (nginx %d, Go %d)", name, ours.requests, ours.failures, ng.requests, gs.requests)
			}
			ratio := ours.rps / ng.rps
			rows = append(rows,
				row{figure: name + ": requests/s", ours: fmt.Sprintf("%.0f", ours.rps),
					baseline: fmt.Sprintf("nginx %.0f, Go %.0f", ng.rps, gs.rps), ratio: fmt.Sprintf("%.2f × nginx, %.2f × Go", ratio, ours.rps/gs.rps),
					target: "≥ 0.5 × nginx", pass: ratio >= 0.5, judged: true},
				row{figure: name + ": p50 / p99 (rounds' p99)", ours: ms(ours.p50) + " / " + ms(ours.p99) + ourLoad.p99Range(),
					baseline: "nginx " + ms(ng.p50) + " / " + ms(ng.p99) + ngLoad.p99Range() + ", Go " +
						ms(gs.p50) + " / " + ms(gs.p99) + gsLoad.p99Range(),
					target: "p99 < 10 ms", pass: ours.p99 < 10*time.Millisecond, judged: true},
				row{figure: name + ": CPU per request", ours: us(ours.cpu),
					baseline: "nginx " + us(ng.cpu) + ", Go " + us(gs.cpu), ratio: ratioOf(ours.cpu, ng.cpu) + " × nginx"})
		}
	}
	nginx.stop()
	goStatic.stop()

	// Search: one client at a time, each query new to the page cache.
	for _, term := range []string{"社保", "公积金", "营业执照"} {
		fmt.Printf("search %s …\n", term)
		client := newClient()
		r := closedLoop(ctx, 1, cfg.phase, func(w, i int) (time.Duration, bool) {
			return getOnce(client, base+"/services?q="+url.QueryEscape(term)+"&bench="+strconv.Itoa(i))
		})
		if r.requests == 0 || r.failures > 0 {
			fail("search %s: %d answered, %d failed", term, r.requests, r.failures)
		}
		rows = append(rows, row{figure: fmt.Sprintf("search %d characters (%s): p50 / p95", len([]rune(term)), term),
			ours: ms(r.p50) + " / " + ms(r.p95), target: "p95 < 20 ms", pass: r.p95 < 20*time.Millisecond, judged: true})
	}

	// Ratings: phones, each with its own cookies, open the form and post it.
	codes, err := counterCodes(base)
	if err != nil {
		return err
	}
	formsDir := filepath.Join(work, "forms")
	if err := captureForms(base, codes, formsDir); err != nil {
		return err
	}
	insertAddr, err := freePort()
	if err != nil {
		return err
	}
	insert, err := start("go-insert", insertAddr, "/count", filepath.Join(work, "go-insert.log"), cfg.serverCPUs, self,
		"serve-insert", "-addr", insertAddr, "-db", filepath.Join(work, "baseline.db"), "-forms", formsDir)
	if err != nil {
		return err
	}
	defer func() { insert.stop() }()
	// The baseline and the portal are loaded in turns, a quarter of the
	// phase at a time: on a shared machine the speed drifts within a run
	// (seen here: the same server 20 % slower a minute later), and a
	// drift then weighs on both alike instead of on whichever went second.
	type rater struct {
		c       *child
		runs    []loopRun
		cpu     time.Duration
		before  int
		clients []*http.Transport
	}
	raters := []*rater{{c: insert}, {c: portal}}
	for _, r := range raters {
		if r.before, err = storedRatings(r.c, filepath.Join(work, "big.db")); err != nil {
			return err
		}
		r.clients = make([]*http.Transport, conns)
		for i := range r.clients {
			r.clients[i] = &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
		}
	}
	fmt.Println("rating POSTs …")
	const rounds = 4
	for range rounds {
		for _, r := range raters {
			cpu0 := r.c.cpu()
			r.runs = append(r.runs, runLoop(ctx, conns, cfg.phase/rounds, func(w, i int) (time.Duration, bool) {
				return rateOnce("http://"+r.c.addr, r.clients[w], codes[(w*7919+i)%len(codes)])
			}))
			r.cpu += r.c.cpu() - cpu0
		}
	}
	figures := func(r *rater) (result, int, error) {
		res := summarise(r.runs...)
		if res.requests > 0 {
			res.cpu = r.cpu / time.Duration(res.requests)
		}
		after, err := storedRatings(r.c, filepath.Join(work, "big.db"))
		return res, after - r.before, err
	}
	baseRes, baseStored, err := figures(raters[0])
	if err != nil {
		return err
	}
	insert.stop()
	ours, stored, err := figures(raters[1])
	if err != nil {
		return err
	}
	if ours.requests == 0 || stored != ours.requests || baseStored != baseRes.requests {
		fail("ratings: %d acknowledged, %d stored (baseline %d, %d), %d failed", ours.requests, stored, baseRes.requests, baseStored, ours.failures)
	}
	ratio := ours.rps / baseRes.rps
	rows = append(rows,
		row{figure: "rating POST: requests/s", ours: fmt.Sprintf("%.0f", ours.rps), baseline: fmt.Sprintf("prepared INSERT, same form page %.0f", baseRes.rps),
			ratio: fmt.Sprintf("%.2f", ratio), target: "≥ 0.8 ×", pass: ratio >= 0.8, judged: true},
		row{figure: "rating POST: p50 / p99", ours: ms(ours.p50) + " / " + ms(ours.p99), baseline: ms(baseRes.p50) + " / " + ms(baseRes.p99),
			target: "p99 < 25 ms", pass: ours.p99 < 25*time.Millisecond, judged: true},
		row{figure: "rating POST: acknowledged / stored / failed", ours: fmt.Sprintf("%d / %d / %d", ours.requests, stored, ours.failures),
			baseline: fmt.Sprintf("%d / %d / %d", baseRes.requests, baseStored, baseRes.failures),
			target:   "stored = acknowledged", pass: stored == ours.requests, judged: true})

	// Statistics at scale against a small data set, uncached.
	fmt.Println("statistics …")
	// Each query is new to the page cache: the round and the request
	// number make it unique.
	statsRun := func(addr string, round int, d time.Duration) loopRun {
		client := newClient()
		return runLoop(ctx, 1, d, func(w, i int) (time.Duration, bool) {
			return getOnce(client, "http://"+addr+"/ratings?month="+statsMonth+"&bench="+strconv.Itoa(round<<24+i))
		})
	}
	// The page is measured on each data set by a portal started for it,
	// so that the ratio compares the data, not a process that has just
	// served three load phases with one that has served nothing; the two
	// take turns, as the raters' do. The figure after the load phases is
	// reported beside it.
	afterLoad := summarise(statsRun(portal.addr, 0, cfg.phase))
	peak := portal.peakRSS()
	portal.stop()
	fresh, err := startPortal(cfg, portalBin, filepath.Join(work, "big.db"), filepath.Join(work, "portal-big-stats.log"))
	if err != nil {
		return err
	}
	defer fresh.stop()
	small, err := startPortal(cfg, portalBin, filepath.Join(work, "small.db"), filepath.Join(work, "portal-small.log"))
	if err != nil {
		return err
	}
	defer small.stop()
	var bigRuns, smallRuns []loopRun
	for round := range rounds {
		bigRuns = append(bigRuns, statsRun(fresh.addr, round+1, cfg.phase/rounds))
		smallRuns = append(smallRuns, statsRun(small.addr, round+1, cfg.phase/rounds))
	}
	bigStats, smallStats := summarise(bigRuns...), summarise(smallRuns...)
	peak = max(peak, fresh.peakRSS())
	fresh.stop()
	small.stop()
	if bigStats.requests == 0 || smallStats.requests == 0 {
		fail("statistics: %d and %d answered", bigStats.requests, smallStats.requests)
	}
	statsRatio := float64(bigStats.p50) / float64(max(smallStats.p50, 1))
	rows = append(rows,
		row{figure: fmt.Sprintf("statistics page p50: %d vs %d ratings", cfg.big.Ratings, cfg.small.Ratings),
			ours: ms(bigStats.p50), baseline: ms(smallStats.p50), ratio: fmt.Sprintf("%.2f", statsRatio),
			target: "≤ 1.5 ×", pass: statsRatio <= 1.5, judged: true},
		row{figure: fmt.Sprintf("statistics page p50: %d ratings, right after the load phases", cfg.big.Ratings),
			ours: ms(afterLoad.p50), baseline: ms(smallStats.p50),
			ratio: fmt.Sprintf("%.2f", float64(afterLoad.p50)/float64(max(smallStats.p50, 1)))},
		row{figure: "peak RSS (VmHWM) of the portal", ours: fmt.Sprintf("%.0f MB", float64(peak)/(1<<20)),
			target: "< 200 MB", pass: peak < 200<<20, judged: true},
		row{figure: "start-up until /readyz answers", ours: ms(startup), target: "< 1 s", pass: startup < time.Second, judged: true})

	table := renderTable(cfg, rows)
	fmt.Println()
	fmt.Print(table)
	if err := os.WriteFile(cfg.out, []byte(table), 0o644); err != nil {
		return err
	}
	fmt.Println("written to", cfg.out)
	if len(failures) > 0 {
		return errors.New("the bench is broken:\n  " + strings.Join(failures, "\n  "))
	}
	return nil
}

func startPortal(cfg benchConfig, bin, db, logFile string) (*child, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	// All raters come from 127.0.0.1: the per-address limit is raised,
	// every other anti-abuse rule stays on.
	return start("portal", addr, "/readyz", logFile, cfg.serverCPUs, bin, "serve", "-addr", addr, "-db", db,
		"-rating-address-limit", "100000000", "-log-level", "error",
		"-session-key", "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2g=")
}

// startNginx serves the captured pages as static files, with as many
// workers as the servers have CPUs and no access log.
func startNginx(cfg benchConfig, work, staticDir string) (*child, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	prefix := filepath.Join(work, "nginx")
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return nil, err
	}
	// As many workers as the servers have CPUs.
	workers := runtime.NumCPU()
	if n := cfg.pinnedCPUs(); n > 0 {
		workers = n
	}
	conf := fmt.Sprintf(`worker_processes %d;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    gzip_static on;
    keepalive_requests 1000000;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    default_type text/html;
    charset utf-8;
    server {
        listen %[3]s;
        root %[4]s;
    }
}
`, workers, prefix, addr, staticDir)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return start("nginx", addr, "/home.html", filepath.Join(prefix, "stdout.log"), cfg.serverCPUs, nginxPath(),
		"-p", prefix, "-c", confPath, "-g", "daemon off;")
}

var counterLink = regexp.MustCompile(`href="/counters/([A-Z0-9]+)"`)

// counterCodes lists the counters the portal shows, to rate them.
func counterCodes(base string) ([]string, error) {
	body, err := fetch(base+"/counters", "")
	if err != nil {
		return nil, err
	}
	var codes []string
	for _, m := range counterLink.FindAllStringSubmatch(string(body), -1) {
		codes = append(codes, m[1])
	}
	if len(codes) == 0 {
		return nil, errors.New("the list of counters shows no counter")
	}
	return codes, nil
}

// storedRatings counts the rows a server stored: the portal's through the
// store, the baseline's through its own count.
func storedRatings(c *child, portalDB string) (int, error) {
	if c.name != "portal" {
		b, err := fetch("http://"+c.addr+"/count", "")
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(strings.TrimSpace(string(b)))
	}
	store, err := models.Open(portalDB)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	return store.CountRows(context.Background(), "ratings")
}

// fetch GETs a URL that must answer 200 and returns the body as sent, with
// Accept-Encoding set when acceptEncoding is not empty. A body asked for in
// gzip must come in gzip, and one asked for plain must come plain.
func fetch(url, acceptEncoding string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	// Transport would otherwise ask for gzip itself and decode the answer.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", url, res.StatusCode)
	}
	if got := res.Header.Get("Content-Encoding"); acceptEncoding != "" && got != "gzip" {
		return nil, fmt.Errorf("GET %s with Accept-Encoding %q: Content-Encoding %q, not gzip", url, acceptEncoding, got)
	} else if acceptEncoding == "" && got != "" {
		return nil, fmt.Errorf("GET %s without Accept-Encoding: Content-Encoding %q", url, got)
	}
	return body, nil
}

// sameAfterGunzip checks that gz decompresses to plain.
func sameAfterGunzip(gz, plain []byte) error {
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return err
	}
	got, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, plain) {
		return fmt.Errorf("%d bytes decompressed, against %d", len(got), len(plain))
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	// On disk before any load. The kernel writes dirty pages back 30 s
	// after they were written (vm.dirty_expire_centisecs), and the big
	// copy's 1.7 GB landed in the first round of the page loads, with the
	// portal's first write since the copy (a guide's view count): in the
	// five runs before this sync, one round of the guide had a p99 of
	// 23–39 ms (the first, in the run that logged each round), which lifted
	// the guide's p99 over all five rounds past 10 ms in two. Synced, the
	// first round had 5.3 ms.
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

func ratioOf(a, b time.Duration) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(a)/float64(b))
}

func renderTable(cfg benchConfig, rows []row) string {
	var b strings.Builder
	host, _ := os.Hostname()
	// When pinned, this process runs on the load's CPUs only.
	placement, cores := "servers and load on the same CPUs", runtime.NumCPU()+cfg.pinnedCPUs()
	if cfg.serverCPUs != "" {
		placement = "servers on CPU " + cfg.serverCPUs + ", load on the others"
	}
	fmt.Fprintf(&b, "Bench %s, %s UTC, %d cores (%s; %s), loopback, %d connections, %s phases; data: %d items, %d counters, %d ratings.\n\n",
		cfg.size, time.Now().UTC().Format("2006-01-02 15:04"), cores, host, placement, conns, cfg.phase,
		cfg.big.Items, cfg.big.Counters, cfg.big.Ratings)
	b.WriteString("| figure | portal | baseline | ratio | target | |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		mark := ""
		if r.judged && !cfg.smoke {
			mark = "pass"
			if !r.pass {
				mark = "FAIL"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.figure, r.ours, r.baseline, r.ratio, r.target, mark)
	}
	return b.String()
}
