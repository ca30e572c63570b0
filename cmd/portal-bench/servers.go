package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	// The baseline writes through the same driver as the portal.
	_ "github.com/mattn/go-sqlite3"

	"github.com/zwfw/portal/models"
)

// serveStatic is the "Go from memory" baseline: the captured pages, read
// once, served by a bare net/http handler.
func serveStatic(ctx context.Context, addr, dir string) error {
	pages, err := readFiles(dir)
	if err != nil {
		return err
	}
	return listenAndServe(ctx, addr, staticHandler(pages))
}

// staticHandler serves the pages by name, and a page's gzip copy (its name
// and ".gz", as nginx's gzip_static finds it) to a client that accepts
// gzip. Only the bench's own two clients ask it, one with gzip in its
// Accept-Encoding and one with none, so it need not read q-values as the
// portal does.
func staticHandler(pages map[string][]byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		b, ok := pages[name]
		if !ok || strings.HasSuffix(name, ".gz") {
			http.NotFound(w, r)
			return
		}
		if gz, ok := pages[name+".gz"]; ok && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			b = gz
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})
}

// serveInsert is the rating baseline: a minimal server of the same rating
// flow. GET /r/{code} answers the portal's own form page for the counter,
// byte for byte but for the token, read from formsDir (see captureForms),
// with the phone's two cookies; POST checks them, as the portal's
// double-submit check does, runs one prepared INSERT and redirects to the
// thank-you page.
func serveInsert(ctx context.Context, addr, path, formsDir string) error {
	forms, err := readForms(formsDir)
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite3", models.SQLiteDSN(path))
	if err != nil {
		return err
	}
	defer db.Close()
	// One connection: SQLite has one writer at a time, and with more,
	// the INSERTs that lose the race for its lock sleep in the busy
	// handler. Alternating 4 s runs: 6,882 ratings/s against 6,643 with
	// four connections, 125 against 139 us of server CPU per rating.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS ratings (id INTEGER PRIMARY KEY, counter TEXT NOT NULL,
		level INTEGER NOT NULL, device TEXT NOT NULL, created_at DATETIME NOT NULL)`); err != nil {
		return err
	}
	stmt, err := db.Prepare(`INSERT INTO ratings (counter, level, device, created_at) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /r/{code}", func(w http.ResponseWriter, r *http.Request) {
		form, ok := forms[r.PathValue("code")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		var b [40]byte
		rand.Read(b[:])
		token := base64.RawURLEncoding.EncodeToString(b[:24])
		h := w.Header()
		h.Add("Set-Cookie", "_csrf="+token+"; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax")
		h.Add("Set-Cookie", "rater="+hex.EncodeToString(b[24:])+"; Path=/r/; Max-Age=34560000; HttpOnly; SameSite=Lax")
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(form.before)+len(token)+len(form.after)))
		w.Write(form.before)
		io.WriteString(w, token)
		w.Write(form.after)
	})
	mux.HandleFunc("POST /r/{code}", func(w http.ResponseWriter, r *http.Request) {
		device, err := r.Cookie("rater")
		token, err2 := r.Cookie("_csrf")
		if err != nil || err2 != nil || token.Value == "" || r.PostFormValue("_csrf") != token.Value {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		level, _ := strconv.Atoi(r.FormValue("level"))
		if _, err := stmt.ExecContext(r.Context(), r.PathValue("code"), level, device.Value, time.Now().UTC()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, r.URL.Path+"/thanks", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		var n int
		db.QueryRow(`SELECT COUNT(*) FROM ratings`).Scan(&n)
		fmt.Fprint(w, n)
	})
	return listenAndServe(ctx, addr, mux)
}

// capturedForm is a counter's rating page as the portal served it, split
// around its CSRF token.
type capturedForm struct{ before, after []byte }

// captureForms saves the portal's rating page of each counter in dir, its
// token replaced by formTokenMark, for the baseline to serve.
func captureForms(base string, codes []string, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, code := range codes {
		body, err := fetch(base+"/r/"+code, "")
		if err != nil {
			return err
		}
		m := csrfToken.FindSubmatchIndex(body)
		if m == nil {
			return fmt.Errorf("GET /r/%s: no token in the form", code)
		}
		page := slices.Concat(body[:m[2]], []byte(formTokenMark), body[m[3]:])
		if err := os.WriteFile(filepath.Join(dir, code+".html"), page, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readFiles reads every file of dir, by name.
func readFiles(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		files[e.Name()] = b
	}
	return files, nil
}

// formTokenMark stands for the token in a captured form.
const formTokenMark = "{{csrf}}"

// readForms reads the forms captureForms saved, by counter code.
func readForms(dir string) (map[string]capturedForm, error) {
	files, err := readFiles(dir)
	if err != nil {
		return nil, err
	}
	forms := make(map[string]capturedForm, len(files))
	for name, b := range files {
		before, after, ok := bytes.Cut(b, []byte(formTokenMark))
		if !ok {
			return nil, fmt.Errorf("%s: no token mark", name)
		}
		forms[strings.TrimSuffix(name, ".html")] = capturedForm{before, after}
	}
	if len(forms) == 0 {
		return nil, fmt.Errorf("no rating forms in %s", dir)
	}
	return forms, nil
}

// listenAndServe serves until the context ends; it prints the address it
// listens on as its first line, for the parent to read.
func listenAndServe(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// freePort returns a free loopback address.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// child is a server started by the harness.
type child struct {
	name    string
	cmd     *exec.Cmd
	addr    string
	started time.Time
	ready   time.Duration
	exited  chan struct{}
}

// start runs a server and waits until GET readyPath answers 200.
func start(name, addr, readyPath, logFile, cpus, bin string, args ...string) (*child, error) {
	cmd := pinnedCommand(cpus, bin, args...)
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	c := &child{name: name, cmd: cmd, addr: addr, started: time.Now(), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { cmd.Wait(); close(c.exited) }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return nil, fmt.Errorf("%s exited at start (log: %s)", name, logFile)
		default:
		}
		res, err := client.Get("http://" + addr + readyPath)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				c.ready = time.Since(c.started)
				return c, nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.stop()
	return nil, fmt.Errorf("%s did not answer on %s within a minute (log: %s)", name, addr, logFile)
}

// stop ends the server it started, by its process id, and waits for it.
func (c *child) stop() {
	if c == nil || c.cmd.Process == nil {
		return
	}
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// pids is the server's process and its children (nginx's workers).
func (c *child) pids() []int {
	pid := c.cmd.Process.Pid
	out := []int{pid}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err == nil {
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// cpu is the CPU time the server's processes have used (user + system).
func (c *child) cpu() time.Duration {
	var ticks int64
	for _, pid := range c.pids() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + st
		}
	}
	// USER_HZ is 100 on Linux.
	return time.Duration(ticks) * 10 * time.Millisecond
}

// peakRSS is the server's high-water mark of resident memory (VmHWM).
func (c *child) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
