// Command portal-bench generates the benchmark data set and measures the
// portal against baselines measured in the same run on the same machine
// (issue 8): nginx and a minimal Go server for the public pages, a minimal
// prepared-INSERT handler for rating POSTs. Every load goes to 127.0.0.1
// only and is bounded in time.
//
//	portal-bench generate -size full    # 100,000 items, 1,000 counters, 10M ratings (cached)
//	portal-bench run -size full         # generate if needed, then measure
//	portal-bench run -size smoke        # small data, short phases: for CI
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/zwfw/portal/models"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "portal-bench:", err)
		}
		os.Exit(1)
	}
}

const usage = `Usage: portal-bench COMMAND [flags]

Commands:
  generate   build the data set of a size, unless it is cached already
  run        generate if needed, start the servers and measure
  serve-static, serve-insert   the baseline servers (started by run)
`

// sizes are the data sets: full is issue 8's; smoke keeps CI short.
var sizes = map[string]struct {
	big, small models.BenchSize
	phase      time.Duration
}{
	"full": {
		big:   models.BenchSize{Items: 100_000, Counters: 1_000, Ratings: 10_000_000},
		small: models.BenchSize{Items: 0, Counters: 1_000, Ratings: 10_000},
		phase: 10 * time.Second,
	},
	"smoke": {
		big:   models.BenchSize{Items: 2_000, Counters: 50, Ratings: 50_000},
		small: models.BenchSize{Items: 0, Counters: 50, Ratings: 10_000},
		phase: 2 * time.Second,
	},
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("portal-bench "+cmd, flag.ContinueOnError)
	size := fs.String("size", "full", "data set: full or smoke")
	dir := fs.String("dir", "bench", "folder of the cached data sets and the results (git-ignored)")
	addr := fs.String("addr", "127.0.0.1:0", "address of a baseline server")
	static := fs.String("static", "", "folder of pages (serve-static)")
	db := fs.String("db", "", "SQLite file (serve-insert)")
	forms := fs.String("forms", "", "folder of the portal's rating forms (serve-insert)")
	phase := fs.Duration("phase", 0, "length of each measured phase (default: 10s full, 1.5s smoke)")
	out := fs.String("out", "", "results file (default DIR/results-SIZE.md)")
	pin := fs.Bool("pin", false, "run the servers and the load on separate CPUs (cpus.go)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sz, ok := sizes[*size]
	if !ok && (cmd == "generate" || cmd == "run") {
		return fmt.Errorf("-size %q: use full or smoke", *size)
	}
	switch cmd {
	case "generate":
		_, _, err := ensureData(ctx, *dir, *size, sz.big, sz.small)
		return err
	case "run":
		if *phase == 0 {
			*phase = sz.phase
		}
		if *out == "" {
			*out = filepath.Join(*dir, "results-"+*size+".md")
		}
		var serverCPUs string
		if *pin {
			var err error
			if serverCPUs, err = pinLoad(os.Args[1:]); err != nil {
				return err
			}
		}
		return runBench(ctx, benchConfig{dir: *dir, size: *size, big: sz.big, small: sz.small, phase: *phase, out: *out,
			smoke: *size == "smoke", serverCPUs: serverCPUs})
	case "serve-static":
		return serveStatic(ctx, *addr, *static)
	case "serve-insert":
		return serveInsert(ctx, *addr, *db, *forms)
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// ensureData returns the cached big and small databases of a size,
// generating those that are missing. A file's name carries the size and the
// generator's version, so a change of either makes a new one.
func ensureData(ctx context.Context, dir, size string, big, small models.BenchSize) (string, string, error) {
	paths := make([]string, 2)
	for i, s := range []models.BenchSize{big, small} {
		name := fmt.Sprintf("%s-%d-items%d-counters%d-ratings%d-v%d.db", size, i, s.Items, s.Counters, s.Ratings, models.BenchDataVersion)
		path := filepath.Join(dir, "data", name)
		paths[i] = path
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := generate(ctx, path, s); err != nil {
			return "", "", err
		}
	}
	return paths[0], paths[1], nil
}

// generate writes a data set to a temporary file and renames it into place
// when complete, so that an interrupted run leaves no half data set.
func generate(ctx context.Context, path string, size models.BenchSize) error {
	tmp := path + ".tmp"
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
		os.Remove(p)
	}
	fmt.Printf("generating %s: %d items, %d counters, %d ratings …\n", filepath.Base(path), size.Items, size.Counters, size.Ratings)
	start := time.Now()
	store, err := models.Open(tmp)
	if err != nil {
		return err
	}
	if _, err := store.Migrate(ctx); err != nil {
		store.Close()
		return err
	}
	if err := store.GenerateBenchData(ctx, size); err != nil {
		store.Close()
		return err
	}
	if err := store.CheckBenchData(ctx); err != nil {
		store.Close()
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Printf("generated in %s\n", time.Since(start).Round(time.Second))
	return nil
}
