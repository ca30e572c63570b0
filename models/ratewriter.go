package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// maxRateBatch bounds how many ratings one commit takes, so that a burst
// cannot hold the write lock for long.
const maxRateBatch = 64

// ErrClosed means the store was closed while a write was asked of it.
var ErrClosed = errors.New("store closed")

// rateRequest is one rating waiting for the rating writer.
type rateRequest struct {
	ctx   context.Context
	ctr   *Counter
	in    RatingInput
	rules RatingRules
	now   time.Time
	// device and address are the rater's hashes.
	device, address string
	reply           chan rateResult
}

type rateResult struct {
	rec *RatingReceipt
	err error
}

// rateWriter is the store's one rating writer, on its one write connection.
// Ratings arriving together are committed together (group commit): SQLite
// takes one writer at a time, and a commit costs about as much as the
// statements it commits, so a busy hall's ratings queue here, in order,
// instead of spinning on the busy timeout. A rating that breaks a rule, or
// fails, fails alone: the others still commit (see commitRatings). A rater
// is answered only after the commit.
func (s *Store) rateWriter() {
	defer close(s.writerDone)
	linger := time.NewTimer(rateLinger)
	defer linger.Stop()
	// flush fires when the oldest pending rating has waited long enough.
	flush := time.NewTimer(s.pending.flushEvery)
	flush.Stop()
	defer flush.Stop()
	var lastTopUp time.Time
	// One batch's room, reused: a rateRequest is big, and growing a new
	// slice for each batch cost every rating 650 bytes.
	room := make([]rateRequest, 0, maxRateBatch)
	var batch []rateRequest
	for {
		// Emptied, so that the last batch's raters are not kept.
		clear(batch)
		batch = room[:0]
		select {
		case r := <-s.rates:
			batch = append(batch, r)
		case <-flush.C:
			if s.writeTotals() != nil {
				// Kept pending: the next rating's commit or a later try
				// writes them.
				flush.Reset(s.pending.flushEvery)
			}
			continue
		case reply := <-s.totalsRequests:
			reply <- s.writeTotals()
			continue
		case <-s.quit:
			// Only if this process rated: a command run beside the
			// server must not count the server's pending ratings. What a
			// failed write leaves, the next start counts.
			if len(s.pending.counters) > 0 {
				s.writeTotals()
			}
			return
		}
		linger.Reset(rateLinger)
	fill:
		for len(batch) < maxRateBatch {
			select {
			case r := <-s.rates:
				batch = append(batch, r)
			case <-linger.C:
				break fill
			}
		}
		linger.Stop()
		if !s.pending.caughtUp {
			// Nothing may be pending before the ratings a crash left
			// uncounted are: a flush moves the mark past them. If that
			// fails, so does the batch, as any failing write would.
			if err := s.catchUpTotals(); err != nil {
				for _, r := range batch {
					r.reply <- rateResult{err: err}
				}
				continue
			}
			s.pending.caughtUp = true
		}
		if s.commitRatings(batch) {
			flush.Reset(s.pending.flushEvery)
		}
		if s.wal.topUpEvery > 0 && time.Since(lastTopUp) >= s.wal.topUpEvery && s.topUpCheckpoint() {
			lastTopUp = time.Now()
		}
	}
}

// topUpCheckpoint copies into the database what the checkpointer has not
// yet, on the writer's connection between two batches, so that the WAL
// starts over from its beginning. SQLite starts it over only when the
// writer opens a transaction on a fully copied WAL, and under a continuous
// load the writer's next batch always begins before the checkpointer's pass
// ends: the WAL then grew without end (450 MB after 15 s of the bench's
// ratings, about 6 KB a rating). The checkpointer has usually copied all
// but its last 200 ms; the top-up's cost is mostly its two fsyncs, a few
// milliseconds during which ratings queue. A reader still holding an older
// snapshot only postpones the start-over to a later top-up. It reports
// false when the checkpointer held the checkpoint (a PASSIVE checkpoint
// then does nothing), so that the writer tries again after its next batch
// rather than a period later.
func (s *Store) topUpCheckpoint() bool {
	var busy, frames, copied int
	if err := s.w.Raw("PRAGMA wal_checkpoint(PASSIVE)").Row().Scan(&busy, &frames, &copied); err != nil {
		// A failed checkpoint leaves the WAL to the next one.
		return true
	}
	return busy == 0
}

// walTopUpEvery is how often the writer tops the checkpointer's work up
// (topUpCheckpoint): under full load the WAL then stays about five seconds
// of ratings long (181 MB at most in 12 s of the bench's 6,000 ratings a
// second on 2 cores). A top-up there took 6-12 ms, almost all of it the
// two fsyncs, whatever it copied: every second, as first tried, up to 1 %
// of the ratings waited those milliseconds more, right at the p99.
const walTopUpEvery = 5 * time.Second

// rateLinger is how long the writer waits for more ratings to join a batch.
// Each commit writes the pages it changed, and ratings of one batch share
// some (the table's end, the index by time): batches of two or three ratings
// cost about twice the CPU per rating of batches of five or six (measured
// while each batch still wrote its months' totals). Waiting longer is not
// cheaper, though: with the bench's 32 phones on 2 cores, in alternating
// runs, 1.5 ms gave 0.84-0.91 x the ratings per second of 500 us, 150 us
// 0.98-1.11 x, 50 us less than 150 us, and 250 us about as much as 150 us or
// a little more; the writer's idle waits cost the scheduler more than the
// pages a bigger batch would share.
const rateLinger = 250 * time.Microsecond

// commitRatings stores a batch of ratings in one transaction, counts them
// into the pending totals and answers each rater. It reports whether they
// are the first pending, for the writer to schedule their flush. A rating
// refused by a rule has written nothing, so it needs no undoing. A rating
// that fails half-written (an internal error) rolls the transaction back;
// the batch is then run again without it, so that it fails alone. The
// retries are bounded by the batch's size.
func (s *Store) commitRatings(batch []rateRequest) (firstPending bool) {
	results := make([]rateResult, len(batch))
	st, err := s.prepareRateStmts()
	if err != nil {
		for _, r := range batch {
			r.reply <- rateResult{err: err}
		}
		return false
	}
	if err := s.loadRecentRatings(batch[0].now, batch[0].rules.Window); err != nil {
		for _, r := range batch {
			r.reply <- rateResult{err: err}
		}
		return false
	}
	failed := make([]bool, len(batch))
	var pending *pendingRatings
	for {
		failedAt := -1
		pending = &pendingRatings{addresses: map[string]map[int64]int{}, devices: map[deviceKey]int64{}}
		// The batch is not any one rater's: a rater who gave up must not
		// roll back the others, so the transaction runs without their
		// contexts.
		err = s.w.Transaction(func(tx *gorm.DB) error {
			sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
			if !ok {
				return errors.New("rating writer: not in a transaction")
			}
			btx := st.bind(sqlTx)
			for i, r := range batch {
				if failed[i] {
					continue
				}
				if err := r.ctx.Err(); err != nil {
					results[i] = rateResult{err: err}
					continue
				}
				rec, err := s.storeRating(tx, btx, st, pending, r)
				if err != nil && !errors.Is(err, ErrAlreadyRated) && !errors.Is(err, ErrRateLimited) {
					failedAt = i
					results[i] = rateResult{err: err}
					return err
				}
				results[i] = rateResult{rec: rec, err: err}
			}
			return nil
		})
		if err == nil || failedAt < 0 {
			break
		}
		failed[failedAt] = true
	}
	if err == nil {
		s.recent.addresses.commit(pending.addresses, batch[0].now)
		s.recent.devices.commit(pending.devices, batch[0].now)
		// Pointers: a Rating holds its Counter, and copies of the batch's
		// ratings cost every rating 1.6 KB.
		stored := make([]*Rating, 0, len(results))
		for _, res := range results {
			if res.rec != nil {
				stored = append(stored, &res.rec.Rating)
			}
		}
		if len(stored) > 0 {
			// Counted before the page cache learns of them, so that a
			// page rendered after the bump counts them.
			firstPending = s.pending.add(stored)
			// The writer's connection is not the tracked pool: the
			// committed ratings change /ratings, the counters' pages
			// and the 亮单, so the page cache must see it now.
			s.version.bumpRatings()
		}
	}
	for i, r := range batch {
		res := results[i]
		if err != nil && !failed[i] {
			// Nothing of the batch was committed.
			res = rateResult{err: err}
		}
		r.reply <- res
	}
	return firstPending
}

// rateSQL are the rating writer's statements, prepared once on its one
// connection, so that every batch, and every flush of the totals, reuses
// them. The upserts are SQLite's ON CONFLICT.
var rateSQL = struct {
	device, addressMinute, addressHour, insert, months, deptMonths, mark string
}{
	// The checks are ranges of idx_ratings_device on PostgreSQL and MySQL.
	// On SQLite the writer knows the window's ratings and the addresses'
	// counts by minute; its rare checks in the database are ranges of
	// idx_ratings_created_at (TestRatingChecksUseIndexes).
	device: `SELECT COUNT(*) FROM (SELECT 1 FROM ratings
		WHERE counter_id = ? AND device_hash = ? AND created_at > ? LIMIT 1) AS r`,
	addressMinute: addressMinuteSQL,
	addressHour:   addressHourSQL,
	insert: `INSERT INTO ratings (counter_id, department_id, level, reasons, comment, phone,
		device_hash, address_hash, created_at, excluded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	months: `INSERT INTO rating_months (month, counter_id, department_id, total, satisfied, bad)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (month, counter_id, department_id) DO UPDATE SET total = rating_months.total + excluded.total,
			satisfied = rating_months.satisfied + excluded.satisfied, bad = rating_months.bad + excluded.bad`,
	deptMonths: `INSERT INTO rating_department_months (month, department_id, total, satisfied, bad)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (month, department_id) DO UPDATE SET total = rating_department_months.total + excluded.total,
			satisfied = rating_department_months.satisfied + excluded.satisfied, bad = rating_department_months.bad + excluded.bad`,
	mark: `UPDATE rating_totals_marks SET counted_through = MAX(counted_through, ?)`,
}

// rateStmts are rateSQL prepared on the writer's connection.
type rateStmts struct {
	device, addressMinute, addressHour, insert, months, deptMonths, mark *sql.Stmt
}

// prepareRateStmts prepares the writer's statements, once the tables exist.
func (s *Store) prepareRateStmts() (*rateStmts, error) {
	if s.stmts != nil {
		return s.stmts, nil
	}
	wDB, err := s.w.DB()
	if err != nil {
		return nil, err
	}
	var st rateStmts
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{{&st.device, rateSQL.device}, {&st.addressMinute, rateSQL.addressMinute}, {&st.addressHour, rateSQL.addressHour},
		{&st.insert, rateSQL.insert}, {&st.months, rateSQL.months}, {&st.deptMonths, rateSQL.deptMonths},
		{&st.mark, rateSQL.mark}} {
		if *p.dst, err = wDB.Prepare(p.sql); err != nil {
			st.close()
			return nil, fmt.Errorf("prepare rating statements: %w", err)
		}
	}
	s.stmts = &st
	return s.stmts, nil
}

// batchTx is a batch's transaction with the statement every rating runs
// bound to it once: database/sql binds a statement to a transaction anew at
// each Tx.Stmt, which cost 3.5 us a rating (2 % of the portal's time).
type batchTx struct {
	*sql.Tx
	insert *sql.Stmt
}

func (st *rateStmts) bind(tx *sql.Tx) batchTx {
	return batchTx{Tx: tx, insert: tx.Stmt(st.insert)}
}

func (st *rateStmts) close() {
	for _, stmt := range []*sql.Stmt{st.device, st.addressMinute, st.addressHour, st.insert, st.months, st.deptMonths, st.mark} {
		if stmt != nil {
			stmt.Close()
		}
	}
}

// storeRating checks the anti-abuse rules and stores one rating and, for a
// 差评, its case. It runs inside the batch's transaction,
// so the checks see the ratings committed and those earlier in the batch.
func (s *Store) storeRating(tx *gorm.DB, btx batchTx, st *rateStmts, pending *pendingRatings, req rateRequest) (*RatingReceipt, error) {
	in, rules, now, ctr := req.in, req.rules, req.now, req.ctr
	ctx := context.Background()
	rt := stmtRules{ctx: ctx, tx: btx.Tx, st: st, recent: &s.recent, pending: pending}
	if err := checkRateRules(rt, req); err != nil {
		return nil, err
	}
	r := Rating{CounterID: ctr.ID, DepartmentID: ctr.DepartmentID, Level: in.Level,
		Reasons: joinReasons(in.Reasons), Comment: in.Comment, Phone: in.Phone,
		DeviceHash: req.device, AddressHash: req.address, CreatedAt: now}
	res, err := btx.insert.Exec(r.CounterID, r.DepartmentID, r.Level, r.Reasons, r.Comment,
		r.Phone, r.DeviceHash, r.AddressHash, r.CreatedAt, r.Excluded)
	if err != nil {
		return nil, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, err
	}
	r.ID = uint(id)
	// Its running totals: counted after the commit (pendingTotals).
	rt.stored(req)
	rec := &RatingReceipt{Rating: r}
	if IsBad(r.Level) {
		c, err := s.openCase(tx, r, rules, now)
		if err != nil {
			return nil, err
		}
		rec.Case = c
	}
	return rec, nil
}

// recentRatings is what the rating writer remembers of the recent ratings,
// so that the anti-abuse rules need not read them: the addresses' counts by
// minute and the phones' latest rating of each counter.
type recentRatings struct {
	addresses addressCounts
	devices   recentDevices
}

// pendingRatings are the ratings of the batch in hand, until it commits.
type pendingRatings struct {
	addresses map[string]map[int64]int
	devices   map[deviceKey]int64
}

// loadRecentRatings reads the ratings of the last hour, from the start of
// its first minute (for the address counts), and of the rating window and
// an hour more (for the phones) before the writer's first batch; from then
// on the writer's commits keep them. The read is a range of
// idx_ratings_created_at.
func (s *Store) loadRecentRatings(now time.Time, window time.Duration) error {
	if s.recent.addresses.loaded {
		return nil
	}
	fromMinute := minuteOf(hourBefore(now))
	addressesFrom := time.Unix(fromMinute*60, 0).UTC()
	devicesFrom := now.Add(-window - time.Hour).UTC()
	from := addressesFrom
	if devicesFrom.Before(from) {
		from = devicesFrom
	}
	rows, err := s.w.Model(&Rating{}).Select("counter_id", "device_hash", "address_hash", "created_at").
		Where("created_at >= ?", from).Rows()
	if err != nil {
		return fmt.Errorf("read recent ratings: %w", err)
	}
	defer rows.Close()
	counts := map[string]map[int64]int{}
	devices := recentDevices{horizon: devicesFrom, loaded: true, last: map[deviceKey]int64{}, window: window}
	for rows.Next() {
		var counter uint
		var device, address string
		var at time.Time
		if err := rows.Scan(&counter, &device, &address, &at); err != nil {
			return fmt.Errorf("read recent ratings: %w", err)
		}
		if !at.Before(addressesFrom) {
			add(counts, address, minuteOf(at), 1)
		}
		if at.After(devicesFrom) {
			devices.note(devices.last, counter, device, at)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read recent ratings: %w", err)
	}
	s.recent = recentRatings{addresses: addressCounts{horizon: fromMinute, loaded: true, byMinute: counts}, devices: devices}
	return nil
}

// submitRating hands a rating to the writer and waits for its commit.
func (s *Store) submitRating(ctx context.Context, req rateRequest) (*RatingReceipt, error) {
	req.ctx = ctx
	req.reply = make(chan rateResult, 1)
	select {
	case s.rates <- req:
	case <-s.quit:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once taken, a rating is always answered, after its batch commits or
	// fails; the rater waits for that rather than guess.
	res := <-req.reply
	return res.rec, res.err
}

// startWriter starts the rating writer on its own connection.
func (s *Store) startWriter(w *gorm.DB) {
	s.w = w
	s.rates = make(chan rateRequest)
	s.totalsRequests = make(chan chan error)
	if s.pending.flushEvery == 0 {
		s.pending.flushEvery = totalsFlushEvery
	}
	s.quit = make(chan struct{})
	s.writerDone = make(chan struct{})
	go s.rateWriter()
}

// checkpointEvery is how often the checkpointer copies the WAL into the
// database: often enough that the WAL stays a few megabytes under a busy
// hall's ratings.
const checkpointEvery = 200 * time.Millisecond

// startCheckpointer runs the WAL checkpoints on db, beside the rating
// writer instead of in its commits (see writerConnector). PASSIVE copies
// what no reader still needs and waits for no one; the writer goes on
// appending meanwhile, and tops the copy up itself every few seconds so that
// the WAL can start over (topUpCheckpoint). It stops with the writer.
func (s *Store) startCheckpointer(db *sql.DB) {
	s.checkpointDone = make(chan struct{})
	go func() {
		defer close(s.checkpointDone)
		t := time.NewTicker(s.wal.every)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				// A failed checkpoint leaves the WAL for the next one.
				db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			}
		}
	}()
}

// stopWriter stops the rating writer after the batch in hand.
func (s *Store) stopWriter() {
	if s.quit == nil {
		return
	}
	s.closeOnce.Do(func() { close(s.quit) })
	<-s.writerDone
	if s.checkpointDone != nil {
		<-s.checkpointDone
	}
	if s.stmts != nil {
		s.stmts.close()
	}
}
