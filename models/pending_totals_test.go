package models

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/gorm"
)

// storedTotal is the sum of the stored totals of a month, counters' and
// departments', without what the writer holds.
func storedTotal(t *testing.T, s *Store, month string) (counters, departments int) {
	t.Helper()
	if err := s.db.Raw("SELECT COALESCE(SUM(total), 0) FROM rating_months WHERE month = ?", month).Scan(&counters).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.db.Raw("SELECT COALESCE(SUM(total), 0) FROM rating_department_months WHERE month = ?", month).Scan(&departments).Error; err != nil {
		t.Fatal(err)
	}
	return counters, departments
}

// TestDeferredTotalsArePublishedAtOnce: on SQLite a rating reaches the
// stored totals only with the writer's next flush, yet the statistics, the
// counter's own figures and the monitoring count it as soon as it is
// answered; and the flush comes on its own, without another rating.
func TestDeferredTotalsArePublishedAtOnce(t *testing.T) {
	s := newRatedDemoStore(t)
	skipUnlessSQLite(t, s, "the rating writer")
	ctx := context.Background()
	now := at("2026-11-20 19:00")
	month := MonthOf(now)
	before, err := s.FindRatingStats(ctx, month)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := s.FindOpsFigures(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	ctr, err := s.FindRatableCounter(ctx, "C02")
	if err != nil {
		t.Fatal(err)
	}
	tallies, err := s.FindCounterTallies(ctx, ctr.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	storedBefore, _ := storedTotal(t, s, month)

	start := time.Now()
	rate(t, s, RatingInput{CounterCode: "C02", Level: LevelSatisfied, Device: "pending-1", Address: "10.0.0.1"}, now)
	rate(t, s, RatingInput{CounterCode: "C02", Level: LevelDissatisfied, Reasons: []string{"事难办"},
		Device: "pending-2", Address: "10.0.0.2"}, now)
	stored, _ := storedTotal(t, s, month)
	if elapsed := time.Since(start); stored != storedBefore && elapsed < totalsFlushEvery {
		t.Errorf("stored totals of %s went from %d to %d %v after the ratings: not deferred", month, storedBefore, stored, elapsed)
	}

	after, err := s.FindRatingStats(ctx, month)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := after.All, before.All.plus(Tally{Total: 2, Satisfied: 1, Bad: 1}); got != want {
		t.Errorf("published month: %+v, want %+v", got, want)
	}
	checkStatsEqualRecount(t, s, month)
	if got, err := s.FindOpsFigures(ctx, now); err != nil || got.Ratings != ops.Ratings+2 {
		t.Errorf("monitoring counts %d ratings (%v), want %d", got.Ratings, err, ops.Ratings+2)
	}
	got, err := s.FindCounterTallies(ctx, ctr.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := tallies.Month.plus(Tally{Total: 2, Satisfied: 1, Bad: 1}); got.Month != want {
		t.Errorf("the counter's month: %+v, want %+v", got.Month, want)
	}

	// The flush, on its own.
	deadline := time.Now().Add(10 * totalsFlushEvery)
	for {
		counters, departments := storedTotal(t, s, month)
		if counters == storedBefore+2 && departments == storedBefore+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored totals %d and %d, want %d, %v after the ratings", counters, departments, storedBefore+2, time.Since(start))
		}
		time.Sleep(totalsFlushEvery / 10)
	}
	checkStatsEqualRecount(t, s, month)
}

// TestDeferredTotalsSurviveACrash: a copy of the database taken while the
// writer still holds ratings (as a crash leaves it) has them stored but not
// in its totals; opened, it counts them before it serves, once. A command
// run beside the server (migrate, create-admin) counts nothing: the
// server's pending ratings are its own to write.
func TestDeferredTotalsSurviveACrash(t *testing.T) {
	s := newRatedDemoStore(t)
	skipUnlessSQLite(t, s, "the rating writer")
	ctx := context.Background()
	// No flush before the copy, however slow the machine.
	s.pending.flushEvery = time.Hour
	now := at("2026-11-20 19:00")
	month := MonthOf(now)
	for i, code := range []string{"C02", "B01", "A04", "C02"} {
		rate(t, s, RatingInput{CounterCode: code, Level: []int{LevelSatisfied, LevelDissatisfied}[i%2],
			Reasons: []string{"事难办"}, Device: "crash-" + code + string(rune('a'+i)), Address: "10.0.0.9"}, now)
	}
	published, err := s.FindRatingStats(ctx, month)
	if err != nil {
		t.Fatal(err)
	}

	// Before the writer's flush: its pending ratings are not in the copy's
	// totals.
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := s.Backup(ctx, copyPath); err != nil {
		t.Fatal(err)
	}
	copied, err := Open(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer copied.Close()
	if _, err := copied.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if counters, _ := storedTotal(t, copied, month); counters != published.All.Total-4 {
		t.Fatalf("the copy stores %d ratings of %s in its totals, want %d without the 4 pending",
			counters, month, published.All.Total-4)
	}

	// A command on the server's own database counts nothing.
	beside, err := Open(s.name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := beside.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := beside.Close(); err != nil {
		t.Fatal(err)
	}

	if err := copied.CatchUpTotals(ctx); err != nil {
		t.Fatal(err)
	}
	if err := copied.CatchUpTotals(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := copied.FindRatingStats(ctx, month)
	if err != nil {
		t.Fatal(err)
	}
	if got.All != published.All {
		t.Errorf("after the restart: %+v, want %+v", got.All, published.All)
	}
	checkStatsEqualRecount(t, copied, month)
	if n, err := copied.TotalsMismatch(ctx); err != nil || n != 0 {
		t.Errorf("after the restart, TotalsMismatch = %d, %v", n, err)
	}
	if n, err := s.TotalsMismatch(ctx); err != nil || n != 0 {
		t.Errorf("the server's database after a command beside it: TotalsMismatch = %d, %v", n, err)
	}
}

// TestTotalsMarkAfterAnUpgrade: migration 21 leaves no mark, since the
// previous version may go on serving, adding each rating to the totals
// itself, until the new one starts: the new one's first start then counts
// nothing again, and puts the mark after the last rating.
func TestTotalsMarkAfterAnUpgrade(t *testing.T) {
	s := newRatedDemoStore(t)
	skipUnlessSQLite(t, s, "the rating writer")
	ctx := context.Background()
	if err := s.db.Exec("UPDATE rating_totals_marks SET counted_through = NULL").Error; err != nil {
		t.Fatal(err)
	}
	ctr, err := s.FindRatableCounter(ctx, "C02")
	if err != nil {
		t.Fatal(err)
	}
	// A rating as the previous version stores it.
	r := Rating{CounterID: ctr.ID, DepartmentID: ctr.DepartmentID, Level: LevelSatisfied,
		DeviceHash: "old-binary", AddressHash: "old-binary", CreatedAt: at("2026-11-20 19:00").UTC()}
	err = s.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Omit("Counter").Create(&r).Error; err != nil {
			return err
		}
		return addToTotals(tx, r, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CatchUpTotals(ctx); err != nil {
		t.Fatal(err)
	}
	var mark uint
	if err := s.db.Raw("SELECT counted_through FROM rating_totals_marks").Scan(&mark).Error; err != nil || mark != r.ID {
		t.Errorf("mark %d (%v), want the last rating's id %d", mark, err, r.ID)
	}
	rate(t, s, RatingInput{CounterCode: "C02", Level: LevelSatisfied, Device: "new-binary", Address: "10.0.0.3"}, at("2026-11-20 19:05"))
	if n, err := s.TotalsMismatch(ctx); err != nil || n != 0 {
		t.Errorf("TotalsMismatch = %d, %v", n, err)
	}
}

// TestRatingsWaitForTheCatchUp: a writer that cannot count the ratings a
// crash left uncounted refuses ratings rather than let a flush move the
// mark past them; once it can, it counts them and goes on.
func TestRatingsWaitForTheCatchUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadDemoData(ctx); err != nil {
		t.Fatal(err)
	}
	now := at("2026-11-20 19:00")
	// A crash left a rating uncounted: stored after the mark.
	ctr, err := s.FindRatableCounter(ctx, "B01")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Exec("UPDATE rating_totals_marks SET counted_through = 0").Error; err != nil {
		t.Fatal(err)
	}
	if err := s.db.Omit("Counter").Create(&Rating{CounterID: ctr.ID, DepartmentID: ctr.DepartmentID,
		Level: LevelSatisfied, DeviceHash: "crash", AddressHash: "crash", CreatedAt: now.UTC()}).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.db.Exec("ALTER TABLE rating_totals_marks RENAME TO marks_away").Error; err != nil {
		t.Fatal(err)
	}
	in := RatingInput{CounterCode: "C02", Level: LevelSatisfied, Device: "waits", Address: "10.0.0.4"}
	if _, err := s.RateCounter(ctx, in, DefaultRatingRules(), now); err == nil {
		t.Fatal("a rating was taken before the uncounted ones were counted")
	}
	if err := s.db.Exec("ALTER TABLE marks_away RENAME TO rating_totals_marks").Error; err != nil {
		t.Fatal(err)
	}
	rate(t, s, in, now)
	st, err := s.FindRatingStats(ctx, MonthOf(now))
	if err != nil {
		t.Fatal(err)
	}
	if st.All.Total != 2 {
		t.Errorf("published %d ratings, want the uncounted one and the new one", st.All.Total)
	}
	if n, err := s.TotalsMismatch(ctx); err != nil || n != 0 {
		t.Errorf("TotalsMismatch = %d, %v", n, err)
	}
}
