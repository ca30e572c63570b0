package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zwfw/portal/models"
)

func noEnv(string) string { return "" }

func TestCommands(t *testing.T) {
	ctx := context.Background()
	// SQLite, or the server PORTAL_TEST_DATABASE_URL names (make
	// test-postgres, make test-mysql): the commands work on every engine.
	dbFlag, db := "-db", filepath.Join(t.TempDir(), "data", "portal.db")
	if server := os.Getenv("PORTAL_TEST_DATABASE_URL"); server != "" {
		url, drop, err := models.CreateDatabase(ctx, server, "portal_cmd")
		if err != nil {
			t.Fatalf("PORTAL_TEST_DATABASE_URL: %v", err)
		}
		t.Cleanup(func() {
			if err := drop(); err != nil {
				t.Errorf("drop test database: %v", err)
			}
		})
		dbFlag, db = "-database-url", url
	}
	runOK := func(args ...string) string {
		t.Helper()
		var out, errs bytes.Buffer
		if err := run(ctx, args, noEnv, strings.NewReader(""), &out, &errs); err != nil {
			t.Fatalf("portal %s: %v\n%s", strings.Join(args, " "), err, errs.String())
		}
		return out.String()
	}
	if out := runOK("migrate", dbFlag, db); !strings.Contains(out, "applied 22 migrations") {
		t.Fatalf("first migrate: %q", out)
	}
	if out := runOK("migrate", dbFlag, db); !strings.Contains(out, "applied 0 migrations") {
		t.Fatalf("second migrate: %q", out)
	}
	if out := runOK("seed", dbFlag, db); !strings.Contains(out, "68 service items") || !strings.Contains(out, "ratings") {
		t.Fatalf("first seed: %q", out)
	}
	if out := runOK("seed", dbFlag, db); !strings.Contains(out, "added 0 themes, 0 departments, 0 counters, 0 service items, 0 boards") ||
		!strings.Contains(out, "added 0 ratings") {
		t.Fatalf("second seed must add nothing: %q", out)
	}
	if out := runOK("version", dbFlag, db); !strings.Contains(out, "schema version 22") {
		t.Fatalf("version: %q", out)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if dbFlag != "-db" {
		// A database server is backed up with its own tools; the portal says which.
		err := run(ctx, []string{"backup", dbFlag, db, "-out", backup}, noEnv, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "pg_dump") {
			t.Fatalf("backup of a database server: %v, want the advice to use pg_dump or mariadb-dump", err)
		}
	} else {
		if out := runOK("backup", "-db", db, "-out", backup); !strings.Contains(out, "integrity check ok") {
			t.Fatalf("backup: %q", out)
		}
		if out := runOK("version", "-db", backup); !strings.Contains(out, "schema version 22") {
			t.Fatalf("the backup must open as the database: %q", out)
		}
		if err := run(ctx, []string{"backup", "-db", db, "-out", backup}, noEnv, strings.NewReader(""), io.Discard, io.Discard); err == nil ||
			!strings.Contains(err.Error(), "never overwrites") {
			t.Fatalf("a backup onto an existing file must be refused: %v", err)
		}
	}
	var created bytes.Buffer
	err := run(ctx, []string{"create-admin", dbFlag, db, "-username", "zhang.wei", "-name", "张伟"}, noEnv,
		strings.NewReader("一个足够长的管理员密码\n"), &created, io.Discard)
	if err != nil || !strings.Contains(created.String(), "已创建系统管理员 zhang.wei") {
		t.Fatalf("create-admin: %v %q", err, created.String())
	}
	if err := run(ctx, []string{"create-admin", dbFlag, db, "-username", "li.na"}, func(k string) string {
		if k == "PORTAL_ADMIN_PASSWORD" {
			return "short"
		}
		return ""
	}, strings.NewReader(""), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "密码至少") {
		t.Fatalf("a short password must be refused with the reason: %v", err)
	}
	var out, errs bytes.Buffer
	if err := run(ctx, []string{"frobnicate"}, noEnv, strings.NewReader(""), &out, &errs); err == nil || !strings.Contains(errs.String(), "Usage") {
		t.Fatalf("unknown command: err=%v, stderr=%q", err, errs.String())
	}
	if err := run(ctx, []string{"serve", "-log-format", "xml", dbFlag, db}, noEnv, strings.NewReader(""), &out, &errs); err == nil {
		t.Fatal("a bad log format must be refused")
	}
}

func TestEnvironmentFallsBackForFlags(t *testing.T) {
	env := map[string]string{"PORTAL_DATABASE": "/tmp/x.db", "PORTAL_ADDR": "127.0.0.1:9999", "PORTAL_DEMO": "true",
		"PORTAL_RATING_SCALE": "five", "PORTAL_RECTIFY_DAYS": "10"}
	cfg, err := parseFlags("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.database != "/tmp/x.db" || cfg.addr != "127.0.0.1:9999" || !cfg.demo || !cfg.rating.FiveLevels ||
		cfg.rating.RectifyDays != 10 || cfg.rating.CallbackDays != 1 || cfg.rating.Window.Hours() != 12 {
		t.Fatalf("config from environment: %+v", cfg)
	}
	cfg, err = parseFlags("serve", []string{"-addr", ":1234"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != ":1234" {
		t.Fatalf("a flag must win over the environment: %q", cfg.addr)
	}
	env["PORTAL_DATABASE_URL"] = "postgres://db/portal"
	cfg, err = parseFlags("migrate", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.databaseURL != "postgres://db/portal" {
		t.Fatalf("PORTAL_DATABASE_URL: %q (%v)", cfg.databaseURL, err)
	}
	cfg, err = parseFlags("migrate", []string{"-database-url", "mysql://db/portal"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.databaseURL != "mysql://db/portal" {
		t.Fatalf("-database-url: %q (%v)", cfg.databaseURL, err)
	}
	if _, err := parseFlags("serve", []string{"-rating-scale", "seven"}, noEnv, io.Discard); err == nil {
		t.Fatal("an unknown rating scale must be refused")
	}
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want int
	}{
		{nil, nil, 104},
		{nil, []string{"-page-cache-mb", "0"}, 100},
		{nil, []string{"-page-cache-mb", "200"}, 440},
		{map[string]string{"PORTAL_MEMORY_LIMIT_MB": "150"}, nil, 150},
		{map[string]string{"GOMEMLIMIT": "300MiB"}, nil, 0},
		{map[string]string{"GOMEMLIMIT": "300MiB"}, []string{"-memory-limit-mb", "80"}, 80},
	} {
		cfg, err := parseFlags("serve", tt.args, func(k string) string { return tt.env[k] }, io.Discard)
		if err != nil {
			t.Errorf("memory limit with %v %v: %v", tt.env, tt.args, err)
		} else if cfg.memoryLimitMB != tt.want {
			t.Errorf("memory limit with %v %v: %d, want %d", tt.env, tt.args, cfg.memoryLimitMB, tt.want)
		}
	}
	_, err = parseFlags("serve", []string{"-page-cache-mb", "64", "-memory-limit-mb", "80"}, noEnv, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "at least 104") {
		t.Errorf("a limit under the page cache and its margin: %v, want it refused", err)
	}
	// Three times the CPUs by default, unless Go follows a CPU limit; Go's
	// own GOMAXPROCS, when set, wins over the default.
	threeTimes := 3 * runtime.GOMAXPROCS(0)
	if runtime.GOMAXPROCS(0) < runtime.NumCPU() {
		threeTimes = 0
	}
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want int
	}{
		{nil, nil, threeTimes},
		{map[string]string{"GOMAXPROCS": "3"}, nil, 0},
		{map[string]string{"PORTAL_MAX_PROCS": "5"}, nil, 5},
		{map[string]string{"GOMAXPROCS": "3", "PORTAL_MAX_PROCS": "5"}, nil, 5},
		{map[string]string{"GOMAXPROCS": "3"}, []string{"-max-procs", "6"}, 6},
		{nil, []string{"-max-procs", "0"}, 0},
	} {
		cfg, err := parseFlags("serve", tt.args, func(k string) string { return tt.env[k] }, io.Discard)
		if err != nil {
			t.Errorf("max procs with %v %v: %v", tt.env, tt.args, err)
		} else if cfg.maxProcs != tt.want {
			t.Errorf("max procs with %v %v: %d, want %d", tt.env, tt.args, cfg.maxProcs, tt.want)
		}
	}
	if _, err := parseFlags("serve", []string{"-max-procs", "-2"}, noEnv, io.Discard); err == nil {
		t.Error("-max-procs -2 was taken")
	}
	if _, err := parseFlags("serve", nil, func(k string) string { return map[string]string{"PORTAL_MAX_PROCS": "many"}[k] }, io.Discard); err == nil {
		t.Error("PORTAL_MAX_PROCS=many was taken")
	}
}

// TestServeStartsAndShutsDownGracefully boots the whole portal as `make run`
// does, searches it, then cancels its context (as SIGTERM does) and checks
// that serve returns cleanly and stops listening.
func TestServeStartsAndShutsDownGracefully(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// serve sets GOMAXPROCS for the whole process: the test's own.
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs) })
	db := filepath.Join(t.TempDir(), "portal.db")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-db", db, "-demo", "-log-format", "json"}, noEnv, strings.NewReader(""), pw, io.Discard)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no start-up line: %v (%v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("start-up line has no URL: %q", line)
	}
	base := strings.Fields(line[i:])[0]

	res, err := http.Get(base + "/services?q=" + "%E7%A4%BE%E4%BF%9D")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "找到与“社保”相关的事项") {
		t.Fatalf("search on the served portal: %d", res.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v, want a clean shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after its context ended")
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		t.Fatal("the portal still accepts connections after shutdown")
	}
}

// TestDependencyRule checks the layering of STYLE.md: handlers never import
// gorm, views and models never import handlers, models imports neither.
func TestDependencyRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "github.com/zwfw/portal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var pkg struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&pkg); err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			bad := false
			switch pkg.ImportPath {
			case "github.com/zwfw/portal/handlers":
				bad = strings.HasPrefix(imp, "gorm.io/")
			case "github.com/zwfw/portal/views":
				bad = strings.HasPrefix(imp, "gorm.io/") || strings.HasSuffix(imp, "/portal/handlers")
			case "github.com/zwfw/portal/models":
				bad = strings.HasSuffix(imp, "/portal/handlers") || strings.HasSuffix(imp, "/portal/views")
			}
			if bad {
				t.Errorf("%s imports %s", pkg.ImportPath, imp)
			}
		}
	}
}

func TestSessionKeysRotate(t *testing.T) {
	a := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", 32)))
	b := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("b", 32)))
	keys, err := sessionKeys(b+", "+a, a)
	if err != nil || len(keys) != 2 || keys[0][0] != 'b' || keys[1][0] != 'a' {
		t.Fatalf("a list newest first with the single key in it: %d keys, %v", len(keys), err)
	}
	keys, err = sessionKeys(b, a)
	if err != nil || len(keys) != 2 || keys[0][0] != 'b' || keys[1][0] != 'a' {
		t.Fatalf("-session-key beside a new list must stay accepted: %d keys, %v", len(keys), err)
	}
	if keys, err := sessionKeys("", ""); err != nil || len(keys) != 1 || len(keys[0]) != 32 {
		t.Fatalf("no key configured: want one random key, got %d, %v", len(keys), err)
	}
	if _, err := sessionKeys(b+","+base64.StdEncoding.EncodeToString([]byte("short")), ""); err == nil {
		t.Fatal("a short key must be refused")
	}
}

// TestServerHasTimeouts checks every phase of a connection is bounded, and
// that a client which sends its headers too slowly is cut off.
func TestServerHasTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for name, d := range map[string]time.Duration{"read header": srv.ReadHeaderTimeout, "read": srv.ReadTimeout,
		"write": srv.WriteTimeout, "idle": srv.IdleTimeout} {
		if d <= 0 || d > 5*time.Minute {
			t.Errorf("%s timeout %v", name, d)
		}
	}
	srv.ReadHeaderTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	io.Copy(io.Discard, conn)
	if time.Since(start) > 3*time.Second {
		t.Fatal("a client that never finishes its headers kept the connection")
	}
}
