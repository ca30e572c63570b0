package models

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentRatingsAreStoredExactlyOnce sends ratings from many raters at
// once, with a repeat from some of them and a 差评 from others: every first
// rating is stored once, every repeat refused, each 差评 gets its own case
// number, and the running totals equal a recount.
func TestConcurrentRatingsAreStoredExactlyOnce(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	now := at("2026-11-20 10:00")
	const raters = 120
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[uint]bool{}
		numbers = map[string]bool{}
		refused int
	)
	errs := make(chan error, 2*raters)
	for i := 0; i < raters; i++ {
		for try := 0; try < 1+i%4/3; try++ { // every fourth rater tries twice
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				in := RatingInput{CounterCode: []string{"C02", "B01", "A04"}[i%3],
					Level: []int{LevelSatisfied, LevelDissatisfied}[i%2], Reasons: []string{"事难办"},
					Device: fmt.Sprintf("device-%d", i), Address: fmt.Sprintf("10.0.%d.%d", i/200, i%200)}
				rec, err := s.RateCounter(ctx, in, DefaultRatingRules(), now)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, ErrAlreadyRated):
					refused++
				case err != nil:
					errs <- err
				default:
					if ids[rec.Rating.ID] {
						errs <- fmt.Errorf("rating id %d acknowledged twice", rec.Rating.ID)
					}
					ids[rec.Rating.ID] = true
					if IsBad(in.Level) != (rec.Case != nil) {
						errs <- fmt.Errorf("rater %d: level %d, case %v", i, in.Level, rec.Case)
					}
					if rec.Case != nil {
						if numbers[rec.Case.Number] {
							errs <- fmt.Errorf("case number %s given twice", rec.Case.Number)
						}
						numbers[rec.Case.Number] = true
					}
				}
			}(i)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(ids) != raters || refused != raters/4 {
		t.Fatalf("%d ratings acknowledged and %d refused, want %d and %d", len(ids), refused, raters, raters/4)
	}
	rows := countRows(t, s)
	if rows[0] != raters || rows[1] != raters/2 {
		t.Fatalf("stored %d ratings and %d cases, want %d and %d", rows[0], rows[1], raters, raters/2)
	}
	var stored int64
	s.db.Model(&Rating{}).Where("device_hash IN ?", func() []string {
		var hs []string
		for i := 0; i < raters; i++ {
			hs = append(hs, hashOf("device", fmt.Sprintf("device-%d", i)))
		}
		return hs
	}()).Distinct("device_hash").Count(&stored)
	if stored != raters {
		t.Fatalf("%d distinct raters stored, want %d", stored, raters)
	}
	if bad, err := s.TotalsMismatch(ctx); err != nil || bad != 0 {
		t.Fatalf("running totals differ from a recount on %d counter-months (%v)", bad, err)
	}
}

// TestOneBrokenRuleDoesNotFailTheBatch commits a batch by hand in which one
// rating breaks the address limit and one fails half-way (its counter does
// not exist): each fails alone, the others are stored.
func TestOneBrokenRuleDoesNotFailTheBatch(t *testing.T) {
	s := newDemoStore(t)
	if s.w == nil {
		t.Skip("the batching rating writer is SQLite's; PostgreSQL and MySQL store each rating in its own locked transaction (TestConcurrentRatingsAreStoredExactlyOnce covers them)")
	}
	ctx := context.Background()
	ctr, err := s.FindRatableCounter(ctx, "C02")
	if err != nil {
		t.Fatal(err)
	}
	rules := DefaultRatingRules()
	rules.PerAddressPerHour = 2
	now := at("2026-11-20 10:00").UTC()
	var batch []rateRequest
	for i := 0; i < 4; i++ {
		batch = append(batch, rateRequest{ctx: ctx, ctr: ctr, rules: rules, now: now,
			in:     RatingInput{CounterCode: "C02", Level: LevelSatisfied},
			device: fmt.Sprint("d", i), address: []string{"a", "a", "a", "b"}[i],
			reply: make(chan rateResult, 1)})
	}
	s.commitRatings(batch)
	for i, want := range []error{nil, nil, ErrRateLimited, nil} {
		res := <-batch[i].reply
		if !errors.Is(res.err, want) || (want == nil && res.rec == nil) {
			t.Fatalf("rating %d: %v, want %v", i, res.err, want)
		}
	}
	if rows := countRows(t, s); rows[0] != 3 {
		t.Fatalf("stored %d ratings, want 3", rows[0])
	}
}

func TestRatingAfterCloseIsRefused(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadDemoData(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctr, err := s.FindRatableCounter(context.Background(), "C02")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = s.submitRating(context.Background(), rateRequest{ctr: ctr, in: RatingInput{Level: LevelSatisfied}})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("rating after Close: %v, want ErrClosed", err)
	}
}

// TestRatingChecksUseIndexes: the duplicate and per-address checks run on
// every rating and must stay a short index range however many ratings
// there are.
func TestRatingChecksUseIndexes(t *testing.T) {
	s := newTestStore(t)
	if s.dialect != dialectSQLite {
		t.Skip("reads SQLite's EXPLAIN QUERY PLAN of the rating writer's statements; servers use rateOnServer")
	}
	// The device and address checks on SQLite are the writer's memory; the
	// statements run only for a window longer than it was loaded for, or
	// for the one minute an address's counts cannot decide.
	for _, c := range []struct {
		name string
		args []any
	}{
		{rateSQL.device, []any{1, "d", time.Now()}},
		{rateSQL.addressMinute, []any{time.Now().Add(-time.Hour), time.Now().Add(-59 * time.Minute), "a"}},
		{rateSQL.addressHour, []any{time.Now().Add(-time.Hour), "a", 100}},
	} {
		plan := explain(t, s, c.name, c.args...)
		if !strings.Contains(plan, "INDEX idx_ratings_created_at (") || strings.Contains(plan, "SCAN ratings") {
			t.Errorf("check should search idx_ratings_created_at, plan:\n%s", plan)
		}
	}
}

// explain returns SQLite's query plan for a statement, given the last of
// args for its placeholders.
func explain(t testing.TB, s *Store, q string, args ...any) string {
	t.Helper()
	n := strings.Count(q, "?")
	var plan []struct{ Detail string }
	if err := s.db.Raw("EXPLAIN QUERY PLAN "+q, args[len(args)-n:]...).Scan(&plan).Error; err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range plan {
		lines = append(lines, p.Detail)
	}
	return strings.Join(lines, "\n")
}

// BenchmarkRateCounter measures RateCounter from 32 goroutines at once (the
// handler's concurrency under load) and, as the baseline in the same run,
// one prepared INSERT of a rating row per call on one connection, the
// least a rating can cost. Compare ns/op; p99-ms is per call.
func BenchmarkRateCounter(b *testing.B) {
	ctx := context.Background()
	open := func(b *testing.B, path string) *Store {
		s, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := s.LoadDemoData(ctx); err != nil {
			b.Fatal(err)
		}
		return s
	}
	b.Run("baseline-prepared-insert", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "bench.db")
		s := open(b, path)
		ctr, err := s.FindRatableCounter(ctx, "C02")
		if err != nil {
			b.Fatal(err)
		}
		db, err := sql.Open("sqlite3", SQLiteDSN(path))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		stmt, err := db.PrepareContext(ctx, `INSERT INTO ratings (counter_id, department_id, level, reasons,
			comment, phone, device_hash, address_hash, created_at, excluded) VALUES (?, ?, ?, '', '', '', ?, ?, ?, 0)`)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		var seq atomicCounter
		parallelLatencies(b, func() error {
			i := seq.next()
			_, err := stmt.ExecContext(ctx, ctr.ID, ctr.DepartmentID, LevelSatisfied,
				hashOf("device", fmt.Sprint(i)), hashOf("address", fmt.Sprint(i)), time.Now().UTC())
			return err
		})
	})
	b.Run("RateCounter", func(b *testing.B) {
		s := open(b, filepath.Join(b.TempDir(), "bench.db"))
		var seq atomicCounter
		codes := []string{"C02", "B01", "A04"}
		parallelLatencies(b, func() error {
			i := seq.next()
			_, err := s.RateCounter(ctx, RatingInput{CounterCode: codes[i%3], Level: LevelSatisfied,
				Device: fmt.Sprint("d", i), Address: fmt.Sprint("a", i)}, DefaultRatingRules(), time.Now())
			return err
		})
	})
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) next() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

// parallelLatencies runs fn b.N times from 32 goroutines and reports the
// p50 and p99 of its latencies.
func parallelLatencies(b *testing.B, fn func() error) {
	var mu sync.Mutex
	var all []time.Duration
	b.SetParallelism((32 + gomaxprocs() - 1) / gomaxprocs())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var lat []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if err := fn(); err != nil {
				b.Error(err)
				return
			}
			lat = append(lat, time.Since(t0))
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(all) == 0 {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

// TestPhoneRuleHoldsAcrossRestartsAndWindows: on SQLite the writer answers
// "has this phone rated this counter in the window" from what it remembers
// of the window's ratings. A restart reloads them from the database, a
// check reaching back further than was loaded asks the database, and what
// the writer forgets as time passes is only what no check can reach.
func TestPhoneRuleHoldsAcrossRestartsAndWindows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	open := func() *Store {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	if _, err := s.LoadDemoData(ctx); err != nil {
		t.Fatal(err)
	}
	rules := DefaultRatingRules() // a 12-hour window
	t0 := at("2026-11-20 10:00")
	rate := func(s *Store, device string, when time.Time, rules RatingRules) error {
		_, err := s.RateCounter(ctx, RatingInput{CounterCode: "C02", Level: LevelSatisfied, Device: device, Address: device}, rules, when)
		return err
	}
	for _, r := range []struct {
		device string
		when   time.Time
	}{{"phone-2", t0.Add(-20 * time.Hour)}, {"phone-1", t0}} {
		if err := rate(s, r.device, r.when, rules); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open()
	defer s.Close()
	// The first batch loads the ratings from 13 hours back: phone-1's,
	// not phone-2's.
	if err := rate(s, "phone-3", t0.Add(time.Hour), rules); err != nil {
		t.Fatal(err)
	}
	if err := rate(s, "phone-1", t0.Add(2*time.Hour), rules); !errors.Is(err, ErrAlreadyRated) {
		t.Fatalf("phone-1 again after a restart, within the window: %v, want ErrAlreadyRated", err)
	}
	long := rules
	long.Window = 48 * time.Hour
	if err := rate(s, "phone-2", t0.Add(2*time.Hour), long); !errors.Is(err, ErrAlreadyRated) {
		t.Fatalf("phone-2, rated 22 hours before, with a 48-hour window: %v, want ErrAlreadyRated", err)
	}
	if err := rate(s, "phone-2", t0.Add(2*time.Hour), rules); err != nil {
		t.Fatalf("phone-2, rated 22 hours before, with a 12-hour window: %v", err)
	}
	// Hours later the writer forgets what is older than the window, but not
	// phone-3's rating, 11 hours old.
	if err := rate(s, "phone-4", t0.Add(5*time.Hour), rules); err != nil {
		t.Fatal(err)
	}
	if err := rate(s, "phone-3", t0.Add(12*time.Hour), rules); !errors.Is(err, ErrAlreadyRated) {
		t.Fatalf("phone-3 again 11 hours later: %v, want ErrAlreadyRated", err)
	}
	if err := rate(s, "phone-1", t0.Add(12*time.Hour+time.Minute), rules); err != nil {
		t.Fatalf("phone-1 again 12 hours and a minute later: %v", err)
	}
}

// TestDepartmentIndexMigration: migration 16 drops the index of ratings by
// department from a database that has it, as every database before it did,
// and changes nothing where it is gone.
func TestDepartmentIndexMigration(t *testing.T) {
	s := newTestStore(t)
	up := migrationUp(t, 16)
	if err := s.db.Exec("CREATE INDEX idx_ratings_department_id ON ratings (department_id)").Error; err != nil {
		t.Fatal(err)
	}
	if !s.db.Migrator().HasIndex(&Rating{}, "idx_ratings_department_id") {
		t.Fatal("the index was not created")
	}
	for i := 0; i < 2; i++ {
		if err := s.db.Transaction(up); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if s.db.Migrator().HasIndex(&Rating{}, "idx_ratings_department_id") {
			t.Fatalf("run %d: the index is still there", i+1)
		}
	}
}

// TestDeviceKeyOfTakesOnlyItsOwnHashes: a device hash as hashOf writes it
// is keyed; anything else (too long, too short, not hex) is not, and does
// not stop the writer, whose first batch reads the window's stored rows.
func TestDeviceKeyOfTakesOnlyItsOwnHashes(t *testing.T) {
	if _, ok := deviceKeyOf(1, hashOf("device", "phone")); !ok {
		t.Fatal("hashOf's hash is not keyed")
	}
	for _, h := range []string{"", "abc", strings.Repeat("ab", 40), strings.Repeat("zz", 32)} {
		if _, ok := deviceKeyOf(1, h); ok {
			t.Errorf("%q keyed", h)
		}
	}
}

// TestWALStartsOverUnderContinuousLoad keeps the rating writer busy without
// a pause, as a hall's rush or the bench does: the WAL must still start over
// from its beginning (each start-over bumps the checkpoint sequence number
// in the WAL's header), instead of growing for as long as the load lasts.
// The background checkpointer is off: when the writer idles between
// batches (one CPU, a slow machine) its passes alone let the WAL start
// over, and the test must see the writer's top-up do it.
func TestWALStartsOverUnderContinuousLoad(t *testing.T) {
	const topUpEvery = 300 * time.Millisecond
	s, err := openSQLite(filepath.Join(t.TempDir(), "portal.db"), walCheckpoints{topUpEvery: topUpEvery})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadDemoData(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := at("2026-11-20 10:00")
	walPath := s.name + "-wal"
	sequence := func() uint32 {
		f, err := os.Open(walPath)
		if err != nil {
			return 0
		}
		defer f.Close()
		var hdr [16]byte
		if _, err := io.ReadFull(f, hdr[:]); err != nil {
			return 0
		}
		return binary.BigEndian.Uint32(hdr[12:])
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent int
	var failure error
	for w := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				in := RatingInput{CounterCode: []string{"C02", "B01", "A04"}[i%3], Level: LevelSatisfied,
					Device: fmt.Sprintf("device-%d-%d", w, i), Address: fmt.Sprintf("10.%d.%d.%d", w, i/250, i%250)}
				_, err := s.RateCounter(ctx, in, DefaultRatingRules(), now)
				mu.Lock()
				if err != nil && failure == nil {
					failure = err
				}
				sent++
				mu.Unlock()
			}
		}()
	}
	starts := 0
	last := sequence()
	deadline := time.Now().Add(5*topUpEvery + topUpEvery/2)
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if seq := sequence(); seq != last {
			starts++
			last = seq
		}
	}
	close(stop)
	wg.Wait()
	if failure != nil {
		t.Fatal(failure)
	}
	if starts < 2 {
		t.Fatalf("the WAL started over %d times in %v of continuous ratings (%d sent), want at least 2",
			starts, 5*topUpEvery+topUpEvery/2, sent)
	}
}
