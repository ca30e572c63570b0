package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zwfw/portal/models"
)

// childArgsEnv, when set, makes the test binary run the portal with these
// arguments (separated by newlines) instead of the tests: the crash test
// starts the portal as a process of its own, which it can SIGKILL.
const childArgsEnv = "PORTAL_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childArgsEnv); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := run(ctx, strings.Split(args, "\n"), func(k string) string {
			if k == childArgsEnv {
				return ""
			}
			return os.Getenv(k)
		}, os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "portal:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// loadDuration is how long the load tests rate: a few seconds in make test,
// LOAD_DURATION (make test-load sets 30s) for the full run.
func loadDuration(t *testing.T) time.Duration {
	t.Helper()
	if v := os.Getenv("LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LOAD_DURATION: %v", err)
		}
		return d
	}
	return 3 * time.Second
}

// loadRaters is how many phones rate at once.
const loadRaters = 200

// ratableCounters are the demo data set's counters.
var ratableCounters = strings.Fields("A01 A02 A03 A04 A05 A06 A07 B01 B02 B03 B04 B05 B06 C01 C02 C03 D01 D02 D03 E01 E02 F01 F02 G01 G02 H01 J01 J02 Q01 Q02")

var loadCSRF = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// loadResult is what the raters were told.
type loadResult struct {
	mu sync.Mutex
	// acked are the comments of the ratings answered with 303 to the
	// thank-you page: each must be stored exactly once.
	acked    []string
	refused  atomic.Int64
	failures atomic.Int64
	firstErr atomic.Value
}

func (r *loadResult) fail(err error) {
	r.failures.Add(1)
	r.firstErr.CompareAndSwap(nil, err)
}

// rateOnce is one phone scanning a counter's poster and rating it: GET the
// form (rater and CSRF cookies), POST it. The comment makes the rating
// recognisable in the database.
func rateOnce(ctx context.Context, base, counter, comment string, bad bool, res *loadResult) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/r/"+counter, nil)
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			res.fail(err)
		}
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := loadCSRF.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		res.fail(fmt.Errorf("GET /r/%s: %d", counter, resp.StatusCode))
		return
	}
	form := url.Values{"_csrf": {string(m[1])}, "level": {"4"}, "comment": {comment}}
	if bad {
		form.Set("level", "2")
		form.Set("reasons", "事难办")
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/r/"+counter, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		// Cut short by the end of the load, the rater got no answer: the
		// rating may or may not be stored, but was not acknowledged.
		if ctx.Err() == nil {
			res.fail(err)
		}
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/r/"+counter+"/thanks":
		res.mu.Lock()
		res.acked = append(res.acked, comment)
		res.mu.Unlock()
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusConflict ||
		resp.StatusCode == http.StatusServiceUnavailable:
		// Refused, or too busy to answer in time (503): the rater was told
		// it was not counted.
		res.refused.Add(1)
	default:
		res.fail(fmt.Errorf("POST /r/%s: %d", counter, resp.StatusCode))
	}
}

// runLoad has loadRaters phones start ratings until stop ends, and waits
// for the answers to those in flight; every rating is from a new phone, a
// tenth are 差评 (which open cases).
func runLoad(stop context.Context, base, run string, res *loadResult) {
	var wg sync.WaitGroup
	for r := 0; r < loadRaters; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; stop.Err() == nil; i++ {
				rateOnce(context.Background(), base, ratableCounters[(r+i)%len(ratableCounters)],
					fmt.Sprintf("load %s rater %d rating %d", run, r, i), (r+i)%10 == 0, res)
			}
		}()
	}
	wg.Wait()
}

// checkStoredExactlyOnce finds every acknowledged rating in the database,
// once, and the running totals equal to a recount.
func checkStoredExactlyOnce(t *testing.T, dbPath string, acked []string) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT comment, COUNT(*) FROM ratings WHERE comment LIKE 'load %' GROUP BY comment")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			t.Fatal(err)
		}
		stored[c] = n
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	missing, doubled := 0, 0
	for _, c := range acked {
		if stored[c] == 0 {
			missing++
		}
	}
	for _, n := range stored {
		if n > 1 {
			doubled++
		}
	}
	if missing > 0 || doubled > 0 {
		t.Errorf("of %d acknowledged ratings, %d are missing and %d stored more than once", len(acked), missing, doubled)
	}
	store, err := models.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if n, err := store.TotalsMismatch(ctx); err != nil || n != 0 {
		t.Errorf("running totals differ from a recount in %d counter-days (%v)", n, err)
	}
}

// serveArgs are the arguments of a portal under load: all raters come from
// 127.0.0.1, so the per-address limit is raised far above the load.
func serveArgs(db string) []string {
	return []string{"serve", "-addr", "127.0.0.1:0", "-db", db, "-demo", "-log-level", "warn",
		"-rating-address-limit", "100000000"}
}

// startURL reads the portal's start-up line and returns its address.
func startURL(t *testing.T, r io.Reader) string {
	t.Helper()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("no start-up line: %v", err)
	}
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("start-up line has no URL: %q", line)
	}
	go io.Copy(io.Discard, r)
	return strings.Fields(line[i:])[0]
}

// TestLoadKeepsEveryRating has 200 phones rate for LOAD_DURATION against the
// whole portal: every rating answered with success is stored exactly once,
// and the running totals equal a recount.
func TestLoadKeepsEveryRating(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := filepath.Join(t.TempDir(), "portal.db")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, serveArgs(db), noEnv, strings.NewReader(""), pw, io.Discard)
		pw.Close()
		done <- err
	}()
	base := startURL(t, pr)

	d := loadDuration(t)
	lctx, lcancel := context.WithTimeout(context.Background(), d)
	defer lcancel()
	start := time.Now()
	res := &loadResult{}
	runLoad(lctx, base, "steady", res)
	elapsed := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if n := res.failures.Load(); n > 0 {
		t.Errorf("%d requests failed, first: %v", n, res.firstErr.Load())
	}
	// How many get through depends on the machine (and the race detector);
	// that none does is a failure on any machine.
	if len(res.acked) == 0 {
		t.Fatalf("no rating acknowledged in %v", d)
	}
	t.Logf("%d raters, %v: %d ratings acknowledged (%.0f/s), %d refused or busy, %d failed",
		loadRaters, d, len(res.acked), float64(len(res.acked))/elapsed.Seconds(), res.refused.Load(), res.failures.Load())
	checkStoredExactlyOnce(t, db, res.acked)
}

// child is the portal running as a process of its own.
type child struct {
	cmd  *exec.Cmd
	base string
}

func startChild(t *testing.T, db string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+strings.Join(serveArgs(db), "\n"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return &child{cmd: cmd, base: startURL(t, out)}
}

// TestCrashKeepsEveryAcknowledgedRating kills the portal with SIGKILL in the
// middle of the load, restarts it on the same file, and finds every rating
// that was acknowledged before the kill, once, with consistent totals.
func TestCrashKeepsEveryAcknowledgedRating(t *testing.T) {
	db := filepath.Join(t.TempDir(), "portal.db")
	first := startChild(t, db)

	d := loadDuration(t)
	ctx, cancel := context.WithCancel(context.Background())
	res := &loadResult{}
	finished := make(chan struct{})
	go func() { runLoad(ctx, first.base, "crash", res); close(finished) }()
	time.Sleep(d / 2)
	// On a slow machine the first answers may take longer than that: the
	// kill must come with ratings acknowledged and more in flight.
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		res.mu.Lock()
		n := len(res.acked)
		res.mu.Unlock()
		if n > 0 {
			break
		}
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	// Requests after the kill fail to connect; let the raters notice.
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-finished
	if len(res.acked) == 0 {
		t.Fatal("no rating was acknowledged before the kill")
	}

	second := startChild(t, db)
	resp, err := http.Get(second.base + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the restarted portal is not ready: %v", err)
	}
	resp.Body.Close()
	checkStoredExactlyOnce(t, db, res.acked)

	// The restarted portal keeps taking ratings.
	more := &loadResult{}
	rateOnce(context.Background(), second.base, "C02", "load after restart", false, more)
	if len(more.acked) != 1 {
		t.Fatalf("rating after the restart: %v", more.firstErr.Load())
	}
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("the restarted portal did not stop cleanly on SIGTERM: %v", err)
	}
	t.Logf("killed after %v with %d ratings acknowledged; all found after the restart", d/2, len(res.acked))
}

// TestShutdownFinishesRequestsInFlight starts a rating whose form is still
// being sent when shutdown begins (SIGTERM cancels run's context): the
// portal waits for it, answers it, stores the rating, and only then stops.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := filepath.Join(t.TempDir(), "portal.db")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-db", db, "-demo", "-log-level", "warn"},
			noEnv, strings.NewReader(""), pw, io.Discard)
		pw.Close()
		done <- err
	}()
	base := startURL(t, pr)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/r/C02")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := loadCSRF.FindSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the rating page")
	}
	form := url.Values{"_csrf": {string(m[1])}, "level": {"4"}, "comment": {"sent during shutdown"}}.Encode()

	body, sender := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, base+"/r/C02", body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = int64(len(form))
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("the request in flight failed: %v", err)
			close(answered)
			return
		}
		answered <- resp
	}()
	// Half the form is on the wire: the request is in flight.
	if _, err := sender.Write([]byte(form[:len(form)/2])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("serve returned (%v) with a request in flight", err)
	default:
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("a new connection was accepted after shutdown began")
	}
	sender.Write([]byte(form[len(form)/2:]))
	sender.Close()
	resp = <-answered
	if resp == nil {
		t.FailNow()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the request in flight got %d, want 303 to the thank-you page", resp.StatusCode)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v, want a clean shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after the last request")
	}
	checkStoredExactlyOnce(t, db, nil)
	sqlDB, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	var n int
	if err := sqlDB.QueryRow("SELECT COUNT(*) FROM ratings WHERE comment = 'sent during shutdown'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the rating sent during shutdown is stored %d times (%v), want once", n, err)
	}
}
