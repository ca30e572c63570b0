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
	// addressBound returns at least the number of an address's ratings
	// after now - 1 hour, if it knows one without reading them.
	addressBound(address string, now time.Time) (n int64, ok bool)
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
	if n, ok := q.addressBound(req.address, req.now); ok && n < int64(limit) {
		return nil
	}
	n, err := q.count(rateSQL.address, req.address, req.now.Add(-time.Hour), limit)
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
	case rateSQL.address:
		stmt = r.st.address
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

func (r stmtRules) addressBound(address string, now time.Time) (int64, bool) {
	return r.recent.addresses.bound(r.pending.addresses, address, now)
}

func (r stmtRules) stored(req rateRequest) {
	add(r.pending.addresses, req.address, hourOf(req.now), 1)
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

func (gormRules) addressBound(string, time.Time) (int64, bool) { return 0, false }

func (gormRules) stored(rateRequest) {}
