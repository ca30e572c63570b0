// Command portal serves the government service portal and runs its chores:
// migrating the database and loading the demo data set.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zwfw/portal/handlers"
	"github.com/zwfw/portal/models"
)

// procsPerCPU is how many Ps (GOMAXPROCS) the portal runs per CPU by
// default. On a machine the portal shares (a proxy, backups, here the
// bench's load generator), all its Ps are busy under load: the goroutines
// a network poll makes ready then all go onto the polling P's run queue
// (9-18 of them under wrk's 32 connections with four Ps, seen with
// GODEBUG=schedtrace, while other Ps had none), and wait there whenever
// the kernel preempts that P's thread, since busy Ps steal no work. With
// more Ps than CPUs some are idle at each poll, and the ready goroutines
// are spread over them. Idle Ps cost CPU, though: a goroutine made ready
// while one is idle wakes a thread to look for work (futex calls per
// rating under strace: 0.5 with four Ps, 1.4 with eight).
// Measured with the bench's data on two CPUs shared with the load, in
// alternating runs: the pages' p99 at 32 connections was 7.6-11.9 ms with
// four Ps, 6.3-8.6 ms with six and 2.2-7.4 ms with eight, while the
// ratings served per second fell 2.6 % with six and 5.8 % with eight (the
// means of four and five runs; single runs ranged from +2 to -10 %). Three
// is a compromise between the bench's two targets: in its full runs with
// six Ps the pages passed in ten of eleven (README, Benchmark).
const procsPerCPU = 3

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "portal:", err)
		}
		os.Exit(1)
	}
}

const usage = `Usage: portal [command] [flags]

Commands:
  serve     serve the portal (the default); migrates the database first
  migrate   apply the database migrations and exit
  seed      load the demo data set (idempotent) and exit
  version   print the schema version of the database and exit
  backup    write a consistent copy of the live SQLite database to a new file
            (-out FILE); the portal may keep serving meanwhile
  create-admin  create a 系统管理员 account (-username, -name; the password is
                read from PORTAL_ADMIN_PASSWORD or the first line of input)

Run "portal COMMAND -h" for the flags of a command. Every flag can also be
set by the environment variable named in its description.
`

// config is the portal's configuration: flags, with environment fallbacks.
type config struct {
	database string
	// databaseURL, when set, selects the database instead of database.
	databaseURL     string
	addr            string
	demo            bool
	logFormat       string
	logLevel        string
	sessionKey      string
	sessionKeys     string
	secureCookies   bool
	baseURL         string
	adminUsername   string
	adminName       string
	backupOut       string
	metricsToken    string
	trustProxy      bool
	rating          models.RatingRules
	shutdownTimeout time.Duration
	pageCacheMB     int
	memoryLimitMB   int
	maxProcs        int
}

// parseFlags reads the flags of a command; each defaults to its environment
// variable, then to a built-in value.
func parseFlags(cmd string, args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envBool := func(name string) bool {
		switch strings.ToLower(getenv(name)) {
		case "1", "true", "yes", "on":
			return true
		}
		return false
	}
	var cfg config
	fs := flag.NewFlagSet("portal "+cmd, flag.ContinueOnError)
	if cmd == "create-admin" {
		fs.StringVar(&cfg.adminUsername, "username", "", "username of the new 系统管理员")
		fs.StringVar(&cfg.adminName, "name", "系统管理员", "the person's name, as records show it")
	}
	if cmd == "backup" {
		fs.StringVar(&cfg.backupOut, "out", "", "file to write the backup to; must not exist")
	}
	fs.SetOutput(stderr)
	// intFlags defines int flags whose defaults their environment
	// variables set, and says so in their usage.
	intFlags := func(flags []intFlag) error {
		for _, f := range flags {
			v, err := strconv.Atoi(env(f.envName, strconv.Itoa(f.def)))
			if err != nil {
				return fmt.Errorf("%s: %w", f.envName, err)
			}
			fs.IntVar(f.p, f.name, v, f.usage+" ("+f.envName+")")
		}
		return nil
	}
	// unlessGoSets is the default of a flag that Go's own environment
	// variable also sets: -1, resolved by the portal, or 0, leaving it to
	// Go, when that variable is set.
	unlessGoSets := func(goEnv string) int {
		if getenv(goEnv) != "" {
			return 0
		}
		return -1
	}
	fs.StringVar(&cfg.database, "db", env("PORTAL_DATABASE", "data/portal.db"), "SQLite database file (PORTAL_DATABASE)")
	fs.StringVar(&cfg.databaseURL, "database-url", env("PORTAL_DATABASE_URL", ""),
		"database to use, overriding -db: a SQLite file path, postgres://… or mysql://… (PORTAL_DATABASE_URL)")
	fs.StringVar(&cfg.logFormat, "log-format", env("PORTAL_LOG_FORMAT", "text"), "log format: text or json (PORTAL_LOG_FORMAT)")
	fs.StringVar(&cfg.logLevel, "log-level", env("PORTAL_LOG_LEVEL", "info"), "log level: debug, info, warn, error (PORTAL_LOG_LEVEL)")
	if cmd == "serve" {
		fs.StringVar(&cfg.addr, "addr", env("PORTAL_ADDR", ":8080"), "address to listen on (PORTAL_ADDR)")
		fs.BoolVar(&cfg.demo, "demo", envBool("PORTAL_DEMO"), "load the demo data set at start if missing (PORTAL_DEMO)")
		fs.StringVar(&cfg.sessionKey, "session-key", getenv("PORTAL_SESSION_KEY"),
			"base64 key of at least 32 bytes that signs and encrypts cookies; random per start if empty (PORTAL_SESSION_KEY)")
		fs.StringVar(&cfg.sessionKeys, "session-keys", getenv("PORTAL_SESSION_KEYS"),
			"comma-separated base64 keys, newest first: the first signs and encrypts, the others are still accepted (rotation); -session-key, if set, is accepted too (PORTAL_SESSION_KEYS)")
		fs.BoolVar(&cfg.trustProxy, "trust-proxy", envBool("PORTAL_TRUST_PROXY"), "take client addresses from X-Forwarded-For; only behind a reverse proxy that sets it (PORTAL_TRUST_PROXY)")
		fs.StringVar(&cfg.baseURL, "base-url", getenv("PORTAL_BASE_URL"), "public address of the portal, printed on paper copies (PORTAL_BASE_URL)")
		fs.StringVar(&cfg.metricsToken, "metrics-token", getenv("PORTAL_METRICS_TOKEN"),
			"bearer token that /metrics requires; empty turns /metrics off (PORTAL_METRICS_TOKEN)")
		fs.BoolVar(&cfg.secureCookies, "secure-cookies", envBool("PORTAL_SECURE_COOKIES"), "mark cookies Secure, when served over TLS (PORTAL_SECURE_COOKIES)")
		timeout, err := time.ParseDuration(env("PORTAL_SHUTDOWN_TIMEOUT", "15s"))
		if err != nil {
			return nil, fmt.Errorf("PORTAL_SHUTDOWN_TIMEOUT: %w", err)
		}
		fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", timeout, "how long to let requests finish at shutdown (PORTAL_SHUTDOWN_TIMEOUT)")
		err = intFlags([]intFlag{
			// The cache's version is per process: with a database server,
			// several instances may share the data, so the cache is off
			// unless asked for (one instance only).
			{&cfg.pageCacheMB, "page-cache-mb", "PORTAL_PAGE_CACHE_MB", -1,
				"megabytes of rendered public pages kept in memory; 0 turns the cache off, as it must be with several instances; default 32 on SQLite, off on a database server"},
			// A soft limit on the Go heap keeps the process near its
			// memory budget: the heap would otherwise grow to twice what
			// it holds (the page cache, mostly) before collecting; -1
			// derives it from the page cache.
			{&cfg.memoryLimitMB, "memory-limit-mb", "PORTAL_MEMORY_LIMIT_MB", unlessGoSets("GOMEMLIMIT"),
				"soft limit of the Go heap in megabytes, above which it collects more often; 0 leaves it to Go (GOMEMLIMIT); default twice the page cache and 40, at least 100"},
			// -1 is resolved at the end of parseFlags.
			{&cfg.maxProcs, "max-procs", "PORTAL_MAX_PROCS", unlessGoSets("GOMAXPROCS"),
				"threads running Go code at once (GOMAXPROCS); 0 leaves it to Go (one per CPU, or the container's CPU limit); default three times the CPUs, unless a CPU limit or GOMAXPROCS is set"},
		})
		if err != nil {
			return nil, err
		}
	}
	if cmd == "serve" || cmd == "seed" {
		defaults := models.DefaultRatingRules()
		var err error
		cfg.rating.FiveLevels = getenv("PORTAL_RATING_SCALE") == "five"
		fs.Func("rating-scale", "rating scale: two (满意/不满意) or five (national five levels) (PORTAL_RATING_SCALE; default two)", func(v string) error {
			switch v {
			case "two", "five":
				cfg.rating.FiveLevels = v == "five"
				return nil
			}
			return fmt.Errorf("use two or five")
		})
		if cfg.rating.Window, err = time.ParseDuration(env("PORTAL_RATING_WINDOW", defaults.Window.String())); err != nil {
			return nil, fmt.Errorf("PORTAL_RATING_WINDOW: %w", err)
		}
		fs.DurationVar(&cfg.rating.Window, "rating-window", cfg.rating.Window, "how long one phone waits to rate the same counter again (PORTAL_RATING_WINDOW)")
		err = intFlags([]intFlag{
			{&cfg.rating.PerAddressPerHour, "rating-address-limit", "PORTAL_RATING_ADDRESS_LIMIT", defaults.PerAddressPerHour, "ratings one network address may send in an hour"},
			{&cfg.rating.CallbackDays, "callback-days", "PORTAL_CALLBACK_DAYS", defaults.CallbackDays, "working days allowed for the 回访 of a 差评"},
			{&cfg.rating.RectifyDays, "rectify-days", "PORTAL_RECTIFY_DAYS", defaults.RectifyDays, "working days allowed for the 整改 of a 差评"},
		})
		if err != nil {
			return nil, err
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.pageCacheMB < 0 {
		cfg.pageCacheMB = 0
		if !strings.Contains(cfg.databaseURL, "://") {
			cfg.pageCacheMB = 32
		}
	}
	// The heap holds the page cache and about 30 MB besides: a limit at or
	// under that would keep the collector running all the time.
	if cfg.memoryLimitMB < 0 {
		cfg.memoryLimitMB = max(100, 2*cfg.pageCacheMB+40)
	} else if floor := cfg.pageCacheMB + 40; cfg.memoryLimitMB > 0 && cfg.memoryLimitMB < floor {
		return nil, fmt.Errorf("-memory-limit-mb %d is too low for a %d MB page cache: give at least %d, or 0 to leave it to Go",
			cfg.memoryLimitMB, cfg.pageCacheMB, floor)
	}
	switch {
	case cfg.maxProcs < -1:
		return nil, fmt.Errorf("-max-procs %d: give 0 or more", cfg.maxProcs)
	case cfg.maxProcs == -1 && runtime.GOMAXPROCS(0) < runtime.NumCPU():
		// Go has set it to a container's CPU limit: more threads than
		// the quota would spend it early in each period and be throttled
		// for the rest, and setting it would stop Go following the limit.
		cfg.maxProcs = 0
	case cfg.maxProcs == -1:
		cfg.maxProcs = procsPerCPU * runtime.GOMAXPROCS(0)
	}
	return &cfg, nil
}

func newLogger(cfg *config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", cfg.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch cfg.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use text or json", cfg.logFormat)
}

// run is main without the process: tests call it with their own arguments,
// environment and context.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve", "migrate", "seed", "version", "create-admin", "backup":
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	cfg, err := parseFlags(cmd, args, getenv, stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	dsn := cfg.database
	if cfg.databaseURL != "" {
		dsn = cfg.databaseURL
	}
	store, err := models.OpenURL(dsn)
	if err != nil {
		return err
	}
	defer store.Close()

	switch cmd {
	case "version":
		v, err := store.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "schema version %d\n", v)
		return nil
	case "backup":
		// Not migrated first: a backup copies the database as it is.
		if cfg.backupOut == "" {
			return errors.New("backup: -out FILE is required")
		}
		if err := store.Backup(ctx, cfg.backupOut); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "backed up %s to %s (integrity check ok)\n", cfg.database, cfg.backupOut)
		return nil
	}
	n, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	logger.Info("database ready", slog.String("database", store.Describe()), slog.String("dialect", store.Dialect()), slog.Int("migrations_applied", n))
	switch cmd {
	case "migrate":
		fmt.Fprintf(stdout, "applied %d migrations\n", n)
		return nil
	case "create-admin":
		return createAdmin(ctx, store, cfg, getenv, stdin, stdout)
	case "seed":
		rep, err := store.LoadDemoData(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "demo data: added %d themes, %d departments, %d counters, %d service items, %d boards\n",
			rep.Themes, rep.Departments, rep.Counters, rep.ServiceItems, rep.Boards)
		n, err := store.LoadDemoRatings(ctx, cfg.rating, time.Now())
		if err != nil {
			return err
		}
		users, err := store.LoadDemoUsers(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "demo data: added %d ratings, %d staff accounts\n", n, users)
		return nil
	}
	if cfg.demo {
		rep, err := store.LoadDemoData(ctx)
		if err != nil {
			return err
		}
		n, err := store.LoadDemoRatings(ctx, cfg.rating, time.Now())
		if err != nil {
			return err
		}
		if _, err := store.LoadDemoUsers(ctx); err != nil {
			return err
		}
		logger.Info("demo data loaded", slog.Int("added", rep.Added()), slog.Int("ratings", n))
	}
	if err := store.CatchUpTotals(ctx); err != nil {
		return err
	}
	return serve(ctx, cfg, store, logger, stdout)
}

func serve(ctx context.Context, cfg *config, store *models.Store, logger *slog.Logger, stdout io.Writer) error {
	keys, err := sessionKeys(cfg.sessionKeys, cfg.sessionKey)
	if err != nil {
		return err
	}
	if cfg.sessionKey == "" && cfg.sessionKeys == "" {
		logger.Warn("no PORTAL_SESSION_KEYS: using a random key, so sessions end when the portal restarts")
	}
	// More Ps than CPUs by default (procsPerCPU). Setting it stops Go
	// updating it from the CPUs it may use, which parseFlags's default
	// takes into account.
	if cfg.maxProcs > 0 {
		runtime.GOMAXPROCS(cfg.maxProcs)
	}
	if cfg.memoryLimitMB > 0 {
		debug.SetMemoryLimit(int64(cfg.memoryLimitMB) << 20)
		// With the limit bounding the heap, it need not also be collected
		// at every doubling: a small heap (pages served from the cache)
		// may grow five times before a collection, a full one is held to
		// the limit. Unless GOGC says otherwise.
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(400)
		}
	}
	h, err := handlers.New(store, logger, handlers.Config{SessionKey: keys[0], OldSessionKeys: keys[1:], SecureCookies: cfg.secureCookies, BaseURL: cfg.baseURL, Rating: cfg.rating, TrustProxy: cfg.trustProxy,
		MetricsToken: cfg.metricsToken, PageCacheBytes: cfg.pageCacheMB << 20})
	if err != nil {
		return err
	}
	srv := newHTTPServer(h.Routes(), logger)
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	url := "http://" + displayAddr(ln.Addr())
	logger.Info("serving", slog.String("url", url), slog.Int("gomaxprocs", runtime.GOMAXPROCS(0)))
	fmt.Fprintf(stdout, "政务服务门户已启动：%s （按 Ctrl+C 停止）\n", url)
	if cfg.demo {
		fmt.Fprintf(stdout, "管理后台：%s/admin/login 演示账号（仅演示数据中存在）：系统管理员 admin，部门管理员如 rsj.admin、hzk.admin；密码均为 %s\n",
			url, models.DemoPassword)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight", slog.Duration("timeout", cfg.shutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := h.FlushViews(sctx); err != nil {
		logger.Error("writing guide views at shutdown", slog.Any("error", err))
	}
	logger.Info("stopped")
	return nil
}

// newHTTPServer is the server with a timeout for every phase, so that a
// slow or idle client cannot hold a connection open for ever.
func newHTTPServer(handler http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// displayAddr turns a listening address into one a browser can open.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// sessionKeys decodes the configured secrets, newest first: the list of
// -session-keys, then -session-key unless the list holds it already (so a
// deployment rotates by putting a new key in front of its old one). With
// none configured, a random key serves until the process ends.
func sessionKeys(list, single string) ([][]byte, error) {
	var encoded []string
	for _, k := range strings.Split(list, ",") {
		if k = strings.TrimSpace(k); k != "" {
			encoded = append(encoded, k)
		}
	}
	if single = strings.TrimSpace(single); single != "" && !slices.Contains(encoded, single) {
		encoded = append(encoded, single)
	}
	if len(encoded) == 0 {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		return [][]byte{key}, nil
	}
	keys := make([][]byte, len(encoded))
	for i, e := range encoded {
		key, err := base64.StdEncoding.DecodeString(e)
		if err != nil || len(key) < 32 {
			return nil, fmt.Errorf("session key %d: each of PORTAL_SESSION_KEYS and PORTAL_SESSION_KEY must be base64 of at least 32 bytes (e.g. openssl rand -base64 32)", i+1)
		}
		keys[i] = key
	}
	return keys, nil
}

// createAdmin creates the first 系统管理员; there is no default password.
func createAdmin(ctx context.Context, store *models.Store, cfg *config, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if cfg.adminUsername == "" {
		return errors.New("create-admin: -username is required")
	}
	password := getenv("PORTAL_ADMIN_PASSWORD")
	if password == "" {
		fmt.Fprint(stdout, "新账号的密码：")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("create-admin: no password given (PORTAL_ADMIN_PASSWORD or standard input)")
		}
		password = strings.TrimRight(line, "\r\n")
	}
	u, err := store.CreateUser(ctx, models.UserInput{Username: cfg.adminUsername, DisplayName: cfg.adminName,
		Password: password, Role: models.RoleSystemAdmin})
	if verr, ok := models.AsValidationError(err); ok {
		var msgs []string
		for _, m := range verr.Fields {
			msgs = append(msgs, m)
		}
		return fmt.Errorf("create-admin: %s", strings.Join(msgs, " "))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "已创建系统管理员 %s，请在 /admin/login 登录。\n", u.Username)
	return nil
}

// intFlag is an int flag with its environment variable and default.
type intFlag struct {
	p             *int
	name, envName string
	def           int
	usage         string
}
