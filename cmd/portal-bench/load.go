package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
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
}

// wrkRun loads a URL with wrk at conns connections for d and reads its
// figures. Only loopback URLs are loaded.
func wrkRun(ctx context.Context, target string, conns int, d time.Duration) (result, error) {
	if !strings.HasPrefix(target, "http://127.0.0.1:") {
		return result{}, fmt.Errorf("refusing to load %s: loopback only", target)
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	out, err := exec.CommandContext(ctx, "wrk", "-t2", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(secs)+"s",
		"--timeout", "5s", "--latency", target).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %v\n%s", target, err, out)
	}
	return parseWrk(string(out))
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
