package models

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackupWhileRatingsAreWritten backs up a live database while raters
// keep rating, then restores the copy the way the README says (open it in
// place of the database) and finds every rating acknowledged before the
// backup began, with consistent totals.
func TestBackupWhileRatingsAreWritten(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	if s.dialect != dialectSQLite {
		// PostgreSQL and MySQL have their own tools; the portal says so.
		if err := s.Backup(ctx, filepath.Join(t.TempDir(), "backup.db")); !errors.Is(err, ErrBackupUnsupported) {
			t.Fatalf("backup on %s: %v, want ErrBackupUnsupported", s.name, err)
		}
		return
	}
	rules := DefaultRatingRules()
	rules.PerAddressPerHour = 0
	var acked atomic.Int64
	rate := func(i int) error {
		level := LevelSatisfied
		if i%7 == 0 {
			level = LevelDissatisfied
		}
		_, err := s.RateCounter(ctx, RatingInput{CounterCode: "C02", Level: level, Reasons: []string{"事难办"},
			Device: fmt.Sprintf("backup-%d", i), Address: "a"}, rules, time.Now())
		if err == nil {
			acked.Add(1)
		}
		return err
	}
	for i := 0; i < 50; i++ {
		if err := rate(i); err != nil {
			t.Fatal(err)
		}
	}
	base, err := s.CountRows(ctx, "ratings")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1000; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := rate(i); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := s.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()

	if err := s.Backup(ctx, dest); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a backup onto an existing file must be refused: %v", err)
	}

	restored, err := Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if _, err := restored.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := restored.CountRows(ctx, "ratings")
	if err != nil {
		t.Fatal(err)
	}
	// base counts the first 50; the copy holds them and part of the rest.
	if n < base || n > base+int(acked.Load())-50 {
		t.Fatalf("the copy has %d ratings; before the backup %d were stored, %d in all were acknowledged", n, base, acked.Load())
	}
	if m, err := restored.TotalsMismatch(ctx); err != nil || m != 0 {
		t.Fatalf("the copy's totals differ from a recount in %d counter-days (%v): not one moment of the database", m, err)
	}
	if err := checkCopy(ctx, dest); err != nil {
		t.Fatal(err)
	}
	t.Logf("backed up %d ratings while %d more were written", n, base+int(acked.Load())-50-n)
}

func TestFindOpsFigures(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	before, err := s.FindOpsFigures(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RateCounter(ctx, RatingInput{CounterCode: "C02", Level: LevelDissatisfied, Reasons: []string{"事难办"},
		Device: "ops", Address: "a"}, DefaultRatingRules(), time.Now()); err != nil {
		t.Fatal(err)
	}
	after, err := s.FindOpsFigures(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if after.Ratings != before.Ratings+1 || after.CasesOpen != before.CasesOpen+1 || after.CasesOverdue != before.CasesOverdue {
		t.Fatalf("after one 差评: %+v, before %+v", after, before)
	}
	later, err := s.FindOpsFigures(ctx, time.Now().AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if later.CasesOverdue != later.CasesOpen || later.CasesOpen == 0 {
		t.Fatalf("a month on, every open case is overdue: %+v", later)
	}
}
