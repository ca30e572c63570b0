package models

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"time"

	"gorm.io/gorm"
)

// On SQLite the rating writer does not add each rating to the monthly
// running totals in the rating's own commit: it keeps what it counted in
// memory (pendingTotals) and writes it about once a second (flushTotals).
// The two upserts of every rating cost more of the writer's time than the
// rating itself: each dirtied its own pages of the two tables, which the
// commit then wrote. A second of a busy hall's ratings falls on far fewer
// rows than it has ratings, each written once.
//
// Nothing published lags: every reader of the totals adds what is pending
// (see read), so a rating counts in the figures as soon as its commit is
// answered, as before. What the database holds is the totals up to a mark,
// the id of the last rating counted in them, written with them
// (rating_totals_marks). Ratings after the mark are counted on the next
// start (CatchUpTotals): a crash loses nothing, and neither does a backup
// copied between two flushes. The loaders of demo and bench data count
// what they store themselves, and move the mark (markAllRatingsCounted).
//
// PostgreSQL and MySQL have no rating writer: there each rating updates
// the totals in its own transaction (rateOnServer), and nothing is pending.

// totalsFlushEvery is how long counted ratings may stay in memory only.
// The flush of a second of ratings writes at most a row per counter and
// department rated in it.
const totalsFlushEvery = time.Second

// counterMonth keys a counter's totals of a month under a department.
type counterMonth struct {
	month               string
	counter, department uint
}

// counterOf keys a counter's totals of a month under all departments.
type counterOf struct {
	month   string
	counter uint
}

// departmentMonth keys a department's totals of a month.
type departmentMonth struct {
	month      string
	department uint
}

// pendingTotals are the ratings the writer has committed but not yet added
// to the stored totals. Only the writer changes them; readers of the
// totals read them.
type pendingTotals struct {
	// gate makes a reader's queries of the totals and its reading of what
	// is pending one view: a flush commits only while no reader holds it,
	// and forgets what it wrote before letting them in again.
	gate sync.RWMutex
	// mu guards the maps against the writer changing them while a reader
	// reads.
	mu          sync.Mutex
	counters    map[counterMonth]Tally
	departments map[departmentMonth]Tally
	// byCounter sums counters over their departments, for a counter's
	// page (a counter moved to another department has a total under each).
	byCounter map[counterOf]Tally
	// through is the id of the last rating counted here.
	through uint
	// caughtUp is set once the writer has counted the ratings a crash
	// left uncounted (catchUpTotals); until then it commits no rating.
	// Only the writer goroutine reads it.
	caughtUp bool
	// flushEvery is totalsFlushEvery; tests that copy the database
	// between two flushes set it longer, before the first rating.
	flushEvery time.Duration
}

// tallyOf is what a rating of the level adds to a total.
func tallyOf(level int) Tally {
	if IsBad(level) {
		return Tally{Total: 1, Bad: 1}
	}
	return Tally{Total: 1, Satisfied: 1}
}

// add counts committed ratings. It reports whether nothing was pending
// before, so that the writer can schedule a flush.
func (p *pendingTotals) add(ratings []*Rating) (first bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	first = len(p.counters) == 0
	if p.counters == nil {
		p.counters, p.departments, p.byCounter = map[counterMonth]Tally{}, map[departmentMonth]Tally{}, map[counterOf]Tally{}
	}
	for _, r := range ratings {
		t, month := tallyOf(r.Level), MonthOf(r.CreatedAt)
		k := counterMonth{month, r.CounterID, r.DepartmentID}
		p.counters[k] = p.counters[k].plus(t)
		c := counterOf{month, r.CounterID}
		p.byCounter[c] = p.byCounter[c].plus(t)
		d := departmentMonth{month, r.DepartmentID}
		p.departments[d] = p.departments[d].plus(t)
		p.through = max(p.through, r.ID)
	}
	return first
}

// read runs f with the stored totals and the pending ones forming one
// view: f reads the database and calls the pending view's methods. It
// holds off a flush's commit while f runs, so f must be short.
func (p *pendingTotals) read(f func(v pendingView) error) error {
	p.gate.RLock()
	defer p.gate.RUnlock()
	return f(pendingView{p})
}

// pendingView reads the pending totals inside read.
type pendingView struct{ p *pendingTotals }

// counters calls add with every pending counter total of a month.
func (v pendingView) counters(month string, add func(k counterMonth, t Tally)) {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	for k, t := range v.p.counters {
		if k.month == month {
			add(k, t)
		}
	}
}

// counter is a counter's pending total of a month, under all departments.
func (v pendingView) counter(month string, counter uint) Tally {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	return v.p.byCounter[counterOf{month, counter}]
}

// department is a department's pending total of a month.
func (v pendingView) department(month string, department uint) Tally {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	return v.p.departments[departmentMonth{month, department}]
}

// months is the pending total of each month from first to last, inclusive.
func (v pendingView) months(first, last string) map[string]Tally {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	out := map[string]Tally{}
	for k, t := range v.p.departments {
		if k.month >= first && k.month <= last {
			out[k.month] = out[k.month].plus(t)
		}
	}
	return out
}

// all is the sum of everything pending.
func (v pendingView) all() Tally {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	var sum Tally
	for _, t := range v.p.departments {
		sum = sum.plus(t)
	}
	return sum
}

// flushTotals writes the pending totals and the mark in one transaction,
// on the writer's connection. The ratings before the pending ones are
// counted by then (the writer commits none before catchUpTotals has run):
// the mark moves past them too. If it fails, the totals stay pending for
// the next flush.
func (s *Store) flushTotals() error {
	p := &s.pending
	// Only this goroutine changes the maps: they can be read unlocked.
	if len(p.counters) == 0 {
		return nil
	}
	st, err := s.prepareRateStmts()
	if err != nil {
		return err
	}
	wDB, err := s.w.DB()
	if err != nil {
		return err
	}
	ctx := context.Background()
	tx, err := wDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("flush rating totals: %w", err)
	}
	defer tx.Rollback()
	months, deptMonths, mark := tx.Stmt(st.months), tx.Stmt(st.deptMonths), tx.Stmt(st.mark)
	for k, t := range p.counters {
		if _, err := months.Exec(k.month, k.counter, k.department, t.Total, t.Satisfied, t.Bad); err != nil {
			return fmt.Errorf("flush rating totals: %w", err)
		}
	}
	for k, t := range p.departments {
		if _, err := deptMonths.Exec(k.month, k.department, t.Total, t.Satisfied, t.Bad); err != nil {
			return fmt.Errorf("flush rating totals: %w", err)
		}
	}
	if _, err := mark.Exec(p.through); err != nil {
		return fmt.Errorf("flush rating totals: %w", err)
	}
	p.gate.Lock()
	defer p.gate.Unlock()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("flush rating totals: %w", err)
	}
	p.mu.Lock()
	p.counters, p.departments, p.byCounter = nil, nil, nil
	p.mu.Unlock()
	return nil
}

// syncTotals has the writer, between two batches, count the ratings a
// crash left uncounted if it has not yet (catchUpTotals), and write what
// is pending; it waits for that. Without a writer (PostgreSQL, MySQL)
// there is nothing to do.
func (s *Store) syncTotals(ctx context.Context) error {
	if s.w == nil {
		return nil
	}
	reply := make(chan error, 1)
	select {
	case s.totalsRequests <- reply:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-reply
}

// CatchUpTotals counts into the running totals the ratings that a crash
// left out of them (SQLite), so that the figures published from the first
// request on count every stored rating; the portal calls it before it
// serves. The rating writer would before its first rating anyway. Only the
// process that serves the database may call it: another (a command run
// beside the server) would count the server's pending ratings a second
// time.
func (s *Store) CatchUpTotals(ctx context.Context) error {
	return s.syncTotals(ctx)
}

// writeTotals is syncTotals' work, in the writer goroutine.
func (s *Store) writeTotals() error {
	if !s.pending.caughtUp {
		if err := s.catchUpTotals(); err != nil {
			return err
		}
		s.pending.caughtUp = true
	}
	return s.flushTotals()
}

// catchUpTotals counts the ratings stored after the mark into the totals
// and moves the mark, in one transaction: those a crash left uncounted.
// The writer goroutine calls it once, before it commits its first rating,
// so nothing is pending. The ratings after the mark are a range of the
// table's key, empty at most starts. No mark yet (NULL: migration 21 ran
// while the previous version still served, adding each rating to the
// totals itself) means the totals count every rating: the mark starts
// after the last.
func (s *Store) catchUpTotals() error {
	err := s.w.Transaction(func(tx *gorm.DB) error {
		var mark, last sql.NullInt64
		if err := tx.Raw("SELECT counted_through FROM rating_totals_marks").Scan(&mark).Error; err != nil {
			return err
		}
		if err := tx.Raw("SELECT MAX(id) FROM ratings").Scan(&last).Error; err != nil {
			return err
		}
		if !mark.Valid {
			return tx.Exec("UPDATE rating_totals_marks SET counted_through = ?", last.Int64).Error
		}
		if last.Int64 <= mark.Int64 {
			return nil
		}
		from := "ratings WHERE NOT excluded AND id > " + strconv.FormatInt(mark.Int64, 10) +
			" AND id <= " + strconv.FormatInt(last.Int64, 10)
		for _, r := range []rollup{monthsFromRatings(s.dialect), departmentMonthsFromRatings(s.dialect)} {
			r.from = from
			if err := r.add(tx); err != nil {
				return err
			}
		}
		return tx.Exec("UPDATE rating_totals_marks SET counted_through = ?", last.Int64).Error
	})
	if err != nil {
		return fmt.Errorf("count ratings into totals: %w", err)
	}
	return nil
}

// markAllRatingsCounted moves the mark after the last rating stored, in
// the transaction of a loader that stored ratings and counted them into
// the totals itself (demo and bench data, into a database without
// ratings). The loader runs before the process rates, and never beside a
// server: a rating pending in a writer would be marked counted. A no-op
// on PostgreSQL and MySQL, which have no mark.
func markAllRatingsCounted(tx *gorm.DB) error {
	if tx.Dialector.Name() != "sqlite" {
		return nil
	}
	return tx.Exec(`UPDATE rating_totals_marks SET counted_through = (SELECT COALESCE(MAX(id), 0) FROM ratings)`).Error
}

// createTotalsMark is migration 21: the table of the mark, on SQLite,
// without a mark yet. `portal migrate` may run while the previous version
// still serves and adds each rating to the totals itself: the totals
// count every rating until the new version's first start puts the mark
// after the last (catchUpTotals).
func createTotalsMark(tx *gorm.DB) error {
	if tx.Dialector.Name() != "sqlite" {
		return nil
	}
	if err := tx.Exec(`CREATE TABLE rating_totals_marks (id integer PRIMARY KEY CHECK (id = 1),
		counted_through integer)`).Error; err != nil {
		return err
	}
	return tx.Exec(`INSERT INTO rating_totals_marks (id, counted_through) VALUES (1, NULL)`).Error
}
