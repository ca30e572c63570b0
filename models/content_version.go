package models

import (
	"context"
	"database/sql"
	"strings"
	"sync/atomic"

	"gorm.io/gorm"
)

// The content version is what lets the handlers cache rendered public pages
// and still show every change on the very next request: it counts the
// committed writes of this process, and a cached page is served only while
// the version it was rendered at is still current.
//
// It is kept in one place that sees every write, instead of a bump in each
// store method that a later method could forget:
//   - a statement outside a transaction bumps it in a GORM callback, which
//     runs after the statement has finished (and so been committed);
//   - a transaction bumps it when it commits, through a wrapper of the
//     connection pool's transactions, never before: a page rendered while
//     the transaction is open reads the old rows and must not be stored
//     under the new version.
//
// The version is per process. With several instances behind a load
// balancer, one instance does not see another's writes: such deployments
// run with the page cache off (see README, "Page cache") until the version
// is shared through the database.
type contentVersion struct {
	n atomic.Uint64
	// catalogue counts the same writes except the rating writer's, which
	// store ratings, their totals and the cases of 差评 only: what is cached
	// of the catalogue (the ratable counters, the pages that show no
	// rating) outlives a busy hall's ratings.
	catalogue atomic.Uint64
}

func (v *contentVersion) bump() {
	v.catalogue.Add(1)
	v.n.Add(1)
}

// bumpRatings records a commit of the rating writer.
func (v *contentVersion) bumpRatings() { v.n.Add(1) }

// unchangedKey marks a statement that changes nothing a page shows (view
// counters, sign-in bookkeeping), so that it does not empty the page cache.
const unchangedKey = "portal:content_unchanged"

// withoutContentChange returns db for statements that change nothing a
// public page shows.
func withoutContentChange(db *gorm.DB) *gorm.DB { return db.Set(unchangedKey, true) }

// ContentVersion returns the version of everything the public pages show:
// it changes whenever a write that this store made has committed. A page
// rendered after reading version v is current as long as ContentVersion
// still returns v.
func (s *Store) ContentVersion() uint64 { return s.version.n.Load() }

// CatalogueVersion is ContentVersion for what does not change with
// ratings: every committed write moves it except the rating writer's
// (ratings, their running totals, the cases they open). A page that shows
// no rating, total or case is current as long as it is unchanged. On
// PostgreSQL and MySQL ratings are written through the pool, so they move
// it too.
func (s *Store) CatalogueVersion() uint64 { return s.version.catalogue.Load() }

// trackContentVersion makes every committed write of db bump v.
func trackContentVersion(db *gorm.DB, v *contentVersion) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	pool := &versionedPool{DB: sqlDB, v: v}
	db.ConnPool = pool
	db.Statement.ConnPool = pool
	after := func(db *gorm.DB) {
		if db.Error != nil {
			return
		}
		if _, inTx := db.Statement.ConnPool.(*versionedTx); inTx {
			return // the commit bumps
		}
		if unchanged, _ := db.Get(unchangedKey); unchanged == true {
			return
		}
		v.bump()
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("gorm:create").Register("portal:content_version", after),
		cb.Update().After("gorm:update").Register("portal:content_version", after),
		cb.Delete().After("gorm:delete").Register("portal:content_version", after),
		cb.Raw().After("gorm:raw").Register("portal:content_version", after),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// versionedPool is the connection pool, with transactions that bump the
// content version when they commit a write.
type versionedPool struct {
	*sql.DB
	v *contentVersion
}

// BeginTx starts a transaction that remembers whether it wrote.
func (p *versionedPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	tx, err := p.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &versionedTx{Tx: tx, v: p.v}, nil
}

// GetDBConn gives GORM the pool itself, for db.DB().
func (p *versionedPool) GetDBConn() (*sql.DB, error) { return p.DB, nil }

// versionedTx is a transaction that bumps the content version on commit if
// it ran a statement other than a SELECT.
type versionedTx struct {
	*sql.Tx
	v     *contentVersion
	wrote atomic.Bool
}

// ExecContext runs a statement in the transaction; every Exec may write.
func (t *versionedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	t.wrote.Store(true)
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction; INSERT … RETURNING writes.
func (t *versionedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if !isSelect(query) {
		t.wrote.Store(true)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a one-row query in the transaction.
func (t *versionedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if !isSelect(query) {
		t.wrote.Store(true)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// Commit commits, then bumps the version: from now on readers see the rows.
func (t *versionedTx) Commit() error {
	err := t.Tx.Commit()
	if t.wrote.Load() {
		// Even a failed commit bumps: one needless miss is cheaper than
		// reasoning about partial failure.
		t.v.bump()
	}
	return err
}

func isSelect(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}
