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
	// addressBound returns at least the number of an address's ratings
	// after now - 1 hour, if it knows one without reading them.
	addressBound(address string, now time.Time) (n int64, ok bool)
	// stored tells that a rating from address, at, is stored.
	stored(address string, at time.Time)
}

// checkRateRules refuses a rating from a phone that rated the counter in
// the window (ErrAlreadyRated) or from an address over its hourly limit
// (ErrRateLimited). It runs in the rating's transaction, after the locks
// that serialise the ratings it compares.
func checkRateRules(q ruleQueries, req rateRequest) error {
	n, err := q.count(rateSQL.device, req.ctr.ID, req.device, req.now.Add(-req.rules.Window))
	if err != nil {
		return err
	}
	if n > 0 {
		return ErrAlreadyRated
	}
	limit := req.rules.PerAddressPerHour
	if limit <= 0 {
		return nil
	}
	if n, ok := q.addressBound(req.address, req.now); ok && n < int64(limit) {
		return nil
	}
	n, err = q.count(rateSQL.address, req.address, req.now.Add(-time.Hour), limit)
	if err != nil {
		return err
	}
	if n >= int64(limit) {
		return ErrRateLimited
	}
	return nil
}

// stmtRules runs the rules on the rating writer's prepared statements and
// its counts of the addresses' hours; pending counts the batch's ratings
// until it commits.
type stmtRules struct {
	ctx     context.Context
	tx      *sql.Tx
	st      *rateStmts
	counts  *addressCounts
	pending map[string]map[int64]int
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

func (r stmtRules) addressBound(address string, now time.Time) (int64, bool) {
	return r.counts.bound(r.pending, address, now)
}

func (r stmtRules) stored(address string, at time.Time) { add(r.pending, address, hourOf(at), 1) }

// gormRules runs the rules through a GORM transaction. PostgreSQL and
// MySQL serve any number of portal instances, so no instance knows all the
// ratings: the address limit is counted in the database.
type gormRules struct{ tx *gorm.DB }

func (r gormRules) count(query string, args ...any) (int64, error) {
	var n int64
	err := r.tx.Raw(query, args...).Scan(&n).Error
	return n, err
}

func (gormRules) addressBound(string, time.Time) (int64, bool) { return 0, false }

func (gormRules) stored(string, time.Time) {}
