package models

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ruleQueries runs the anti-abuse rules' statements inside a rating's
// transaction: the rating writer's prepared statements on SQLite
// (stmtRules), plain GORM on PostgreSQL and MySQL (gormRules). The rules
// themselves are written once, in checkRateRules.
type ruleQueries interface {
	// count runs a statement that returns one number.
	count(query string, args ...any) (int64, error)
	// deviceRated reports whether a phone rated a counter after since, if
	// it knows without reading the ratings.
	deviceRated(counter uint, device string, since time.Time) (rated, ok bool)
	// addressRatings tells whether an address has limit ratings after
	// now - 1 hour: it returns a number at or above limit if so, and under
	// it if not, which need not be the exact count.
	addressRatings(address string, now time.Time, limit int) (int64, error)
	// stored tells that the rating asked for is stored.
	stored(req rateRequest)
}

// checkRateRules refuses a rating from a phone that rated the counter in
// the window (ErrAlreadyRated) or from an address over its hourly limit
// (ErrRateLimited). It runs in the rating's transaction, after the locks
// that serialise the ratings it compares.
func checkRateRules(q ruleQueries, req rateRequest) error {
	since := req.now.Add(-req.rules.Window)
	rated, known := q.deviceRated(req.ctr.ID, req.device, since)
	if !known {
		n, err := q.count(rateSQL.device, req.ctr.ID, req.device, since)
		if err != nil {
			return err
		}
		rated = n > 0
	}
	if rated {
		return ErrAlreadyRated
	}
	limit := req.rules.PerAddressPerHour
	if limit <= 0 {
		return nil
	}
	n, err := q.addressRatings(req.address, req.now, limit)
	if err != nil {
		return err
	}
	if n >= int64(limit) {
		return ErrRateLimited
	}
	return nil
}

// stmtRules runs the rules on the rating writer's prepared statements and
// what it remembers of the recent ratings; pending holds the batch's
// ratings until it commits.
type stmtRules struct {
	ctx     context.Context
	tx      *sql.Tx
	st      *rateStmts
	recent  *recentRatings
	pending *pendingRatings
}

func (r stmtRules) count(query string, args ...any) (int64, error) {
	var stmt *sql.Stmt
	switch query {
	case rateSQL.device:
		stmt = r.st.device
	case rateSQL.addressHour:
		stmt = r.st.addressHour
	default:
		return 0, fmt.Errorf("rating writer: statement not prepared: %s", query)
	}
	var n int64
	err := r.tx.StmtContext(r.ctx, stmt).QueryRowContext(r.ctx, args...).Scan(&n)
	return n, err
}

func (r stmtRules) deviceRated(counter uint, device string, since time.Time) (bool, bool) {
	return r.recent.devices.rated(r.pending.devices, counter, device, since)
}

// addressRatings reads the writer's counts of the address's minutes, and
// counts ratings in the database only when those cannot decide: one
// minute's, when the limit falls between their bounds; the hour's, when
// they do not reach back that far.
func (r stmtRules) addressRatings(address string, now time.Time, limit int) (int64, error) {
	lower, upper, ok := r.recent.addresses.bounds(r.pending.addresses, address, now)
	switch {
	case ok && (upper < int64(limit) || lower >= int64(limit)):
		return lower, nil
	case ok:
		from := hourBefore(now)
		var n int64
		err := r.tx.StmtContext(r.ctx, r.st.addressMinute).QueryRowContext(r.ctx,
			from, time.Unix((minuteOf(from)+1)*60, 0).UTC(), address).Scan(&n)
		return lower + n, err
	}
	return r.count(rateSQL.addressHour, hourBefore(now), address, limit)
}

func (r stmtRules) stored(req rateRequest) {
	add(r.pending.addresses, req.address, minuteOf(req.now), 1)
	r.recent.devices.note(r.pending.devices, req.ctr.ID, req.device, req.now)
}

// gormRules runs the rules through a GORM transaction. PostgreSQL and
// MySQL serve any number of portal instances, so no instance knows all the
// ratings: the address limit is counted in the database.
type gormRules struct{ tx *gorm.DB }

func (r gormRules) count(query string, args ...any) (int64, error) {
	var n int64
	err := r.tx.Raw(query, args...).Scan(&n).Error
	return n, err
}

func (gormRules) deviceRated(uint, string, time.Time) (bool, bool) { return false, false }

func (r gormRules) addressRatings(address string, now time.Time, limit int) (int64, error) {
	return r.count(addressCountSQL, address, hourBefore(now), limit)
}

func (gormRules) stored(rateRequest) {}
