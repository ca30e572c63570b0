package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// result is one measured load against one server.
type result struct {
	requests int           // answered as expected
	failures int           // anything else
	rps      float64       // expected answers per second
	p50, p95 time.Duration // latency percentiles
	p99      time.Duration
	cpu      time.Duration // server CPU per request
	elapsed  time.Duration // how long the load ran (wrk's)
}

// writeWrkScript writes wrkHistogram into the folder work, for wrkRun.
func writeWrkScript(work string) (string, error) {
	script := filepath.Join(work, "wrk-histogram.lua")
	return script, os.WriteFile(script, []byte(wrkHistogram), 0o644)
}

// wrkRun loads a URL with wrk at conns connections for d, with the
// Accept-Encoding header unless it is empty, and reads its figures, with
// its latency histogram, which the script (writeWrkScript) writes beside
// itself. Only loopback URLs are loaded.
func wrkRun(ctx context.Context, target, acceptEncoding string, conns int, d time.Duration, script string) (result, latencies, error) {
	if !strings.HasPrefix(target, "http://127.0.0.1:") {
		return result{}, nil, fmt.Errorf("refusing to load %s: loopback only", target)
	}
	hist := filepath.Join(filepath.Dir(script), "wrk-histogram.txt")
	// Never the last round's histogram in place of this one's.
	if err := os.Remove(hist); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return result{}, nil, err
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(secs) + "s", "--timeout", "5s", "--latency", "-s", script}
	if acceptEncoding != "" {
		args = append(args, "-H", "Accept-Encoding: "+acceptEncoding)
	}
	cmd := exec.CommandContext(ctx, "wrk", append(args, target)...)
	cmd.Env = append(os.Environ(), "WRK_HISTOGRAM="+hist)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, nil, fmt.Errorf("wrk %s: %v\n%s", target, err, out)
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return r, nil, err
	}
	b, err := os.ReadFile(hist)
	if err != nil {
		return r, nil, fmt.Errorf("wrk wrote no histogram: %w", err)
	}
	l, err := parseHistogram(string(b))
	return r, l, err
}

// wrkHistogram has wrk write its latency histogram to the file named by
// WRK_HISTOGRAM: a line per latency, in microseconds, and its count. The
// counts are those wrk's percentiles come from, after its correction for
// coordinated omission (the requests a stalled connection did not send).
const wrkHistogram = `done = function(summary, latency, requests)
  local f = assert(io.open(os.getenv("WRK_HISTOGRAM"), "w"))
  for i = 1, #latency do
    local us, count = latency(i)
    f:write(string.format("%d %d\n", us, count))
  end
  f:close()
end
`

// latencies is a latency histogram: requests by microseconds.
type latencies map[int64]int64

func parseHistogram(s string) (latencies, error) {
	l := latencies{}
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var us, n int64
		var err error
		if len(f) == 2 {
			if us, err = strconv.ParseInt(f[0], 10, 64); err == nil {
				n, err = strconv.ParseInt(f[1], 10, 64)
			}
		}
		if len(f) != 2 || err != nil {
			return nil, fmt.Errorf("wrk's histogram: bad line %q", line)
		}
		l[us] += n
	}
	// Empty when nothing was answered: the caller's figures then say so.
	return l, nil
}

// add adds another histogram's counts.
func (l latencies) add(m latencies) {
	for us, n := range m {
		l[us] += n
	}
}

// percentile is the latency under which a fraction q of the requests fell.
func (l latencies) percentile(q float64) time.Duration {
	var total int64
	for _, n := range l {
		total += n
	}
	keys := slices.Sorted(maps.Keys(l))
	var seen int64
	for _, us := range keys {
		seen += l[us]
		if float64(seen) >= q*float64(total) {
			return time.Duration(us) * time.Microsecond
		}
	}
	return 0
}

// pooled gathers the rounds of one server's load of one page.
type pooled struct {
	requests, failures int
	elapsed, cpu       time.Duration
	hist               latencies
	roundP99           []time.Duration
}

// add counts a round: wrk's figures, its histogram and the server's CPU.
func (p *pooled) add(r result, l latencies, cpu time.Duration) {
	p.requests += r.requests
	p.failures += r.failures
	p.elapsed += r.elapsed
	p.cpu += cpu
	if p.hist == nil {
		p.hist = latencies{}
	}
	p.hist.add(l)
	p.roundP99 = append(p.roundP99, l.percentile(0.99))
}

// result is the rounds' figures as one load's: the percentiles of all
// their requests together.
func (p *pooled) result() result {
	r := result{requests: p.requests, failures: p.failures, p50: p.hist.percentile(0.5), p99: p.hist.percentile(0.99)}
	if p.elapsed > 0 {
		r.rps = float64(p.requests) / p.elapsed.Seconds()
	}
	if p.requests > 0 {
		r.cpu = p.cpu / time.Duration(p.requests)
	}
	return r
}

// p99Range is the lowest and highest p99 of the rounds, in parentheses
// after a space; "" for a single round.
func (p *pooled) p99Range() string {
	if len(p.roundP99) < 2 {
		return ""
	}
	return fmt.Sprintf(" (%s–%s)", ms(slices.Min(p.roundP99)), ms(slices.Max(p.roundP99)))
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkTotal    = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(m?s)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkErrors   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkPercents = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

func parseWrk(out string) (result, error) {
	var r result
	m := wrkRPS.FindStringSubmatch(out)
	t := wrkTotal.FindStringSubmatch(out)
	if m == nil || t == nil {
		return r, fmt.Errorf("cannot read wrk's output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	r.requests, _ = strconv.Atoi(t[1])
	secs, _ := strconv.ParseFloat(t[2], 64)
	if t[3] == "ms" {
		secs /= 1000
	}
	r.elapsed = time.Duration(secs * float64(time.Second))
	if n := wrkNon2xx.FindStringSubmatch(out); n != nil {
		r.failures, _ = strconv.Atoi(n[1])
	}
	if e := wrkErrors.FindStringSubmatch(out); e != nil {
		for _, s := range e[1:] {
			n, _ := strconv.Atoi(s)
			r.failures += n
		}
	}
	r.requests -= r.failures
	for _, p := range wrkPercents.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[p[3]]
		d := time.Duration(v * float64(unit))
		if p[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	return r, nil
}

// closedLoop runs workers that each repeat one step until d has passed and
// times the step; a step reports whether its answer was the expected one.
// Each worker gets its own state (a phone with its cookie jar).
func closedLoop(ctx context.Context, workers int, d time.Duration, step func(w int, i int) (time.Duration, bool)) result {
	return summarise(runLoop(ctx, workers, d, step))
}

// loopRun is what a closed loop measured: the latencies of the expected
// answers, the other answers, and how long it ran.
type loopRun struct {
	lat      []time.Duration
	failures int
	elapsed  time.Duration
}

func runLoop(ctx context.Context, workers int, d time.Duration, step func(w int, i int) (time.Duration, bool)) loopRun {
	var mu sync.Mutex
	var run loopRun
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var mine []time.Duration
			fail := 0
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				took, success := step(w, i)
				if success {
					mine = append(mine, took)
				} else {
					fail++
				}
			}
			mu.Lock()
			run.lat = append(run.lat, mine...)
			run.failures += fail
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	run.elapsed = time.Since(start)
	return run
}

// summarise turns runs of one load (rounds of it, interleaved with
// another's) into its figures: the answers over the time they took, and
// the percentiles of all their latencies.
func summarise(runs ...loopRun) result {
	var lat []time.Duration
	var elapsed time.Duration
	var r result
	for _, run := range runs {
		lat = append(lat, run.lat...)
		r.failures += run.failures
		elapsed += run.elapsed
	}
	r.requests = len(lat)
	if elapsed > 0 {
		r.rps = float64(r.requests) / elapsed.Seconds()
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.p50 = lat[len(lat)/2]
		r.p95 = lat[len(lat)*95/100]
		r.p99 = lat[len(lat)*99/100]
	}
	return r
}

// newClient is one phone: its own cookies, no redirects followed, a
// connection of its own.
func newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:       jar,
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

var csrfToken = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// rateOnce is one rater: a new phone opens the form of a counter (getting
// its cookies and the form's token) and posts 满意. It returns the POST's
// latency and whether it was acknowledged (303 to the thanks page).
func rateOnce(base string, transport http.RoundTripper, code string) (time.Duration, bool) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(base + "/r/" + code)
	if err != nil {
		return 0, false
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfToken.FindSubmatch(body)
	if res.StatusCode != 200 || m == nil {
		return 0, false
	}
	form := url.Values{"_csrf": {string(m[1])}, "level": {"4"}}
	t0 := time.Now()
	res, err = client.PostForm(base+"/r/"+code, form)
	took := time.Since(t0)
	if err != nil {
		return took, false
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return took, res.StatusCode == http.StatusSeeOther && strings.HasSuffix(res.Header.Get("Location"), "/thanks")
}

// getOnce times one GET that must answer 200.
func getOnce(client *http.Client, target string) (time.Duration, bool) {
	t0 := time.Now()
	res, err := client.Get(target)
	if err != nil {
		return time.Since(t0), false
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return time.Since(t0), res.StatusCode == 200
}
