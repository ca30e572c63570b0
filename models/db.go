package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Store is the portal's one door to its database. Every query the portal
// makes is a method of Store, named for what it does.
type Store struct {
	db *gorm.DB
	// cal counts working days for case deadlines.
	cal *Calendar
	// dialect is the engine; the zero value is SQLite.
	dialect dialect
	// name is the file or the redacted address, for logs.
	name string
	// version counts committed writes, for the page cache (content_version.go).
	version *contentVersion

	// w is the one write connection of the rating writer (see
	// ratewriter.go); rates, quit and writerDone drive that goroutine.
	w          *gorm.DB
	rates      chan rateRequest
	quit       chan struct{}
	writerDone chan struct{}
	// stmts are the writer's prepared statements, made on its first batch
	// (Open comes before Migrate); only the writer goroutine touches them.
	stmts     *rateStmts
	closeOnce sync.Once
	// checkpointDone closes when the checkpointer has stopped.
	checkpointDone chan struct{}
	// wal is how the WAL is checkpointed (SQLite only; zero elsewhere).
	wal walCheckpoints
	// counters caches the ratable counters on SQLite (FindRatableCounter).
	counters *counterCache
	// recent is what the writer remembers of the recent ratings.
	recent recentRatings
	// pending are the ratings the writer has not yet added to the stored
	// totals, and totalsRequests asks it to (pending_totals.go).
	pending        pendingTotals
	totalsRequests chan chan error
}

// Open opens (creating if needed) the SQLite database file at path, tuned for
// a web server, and returns a Store. It does not migrate: call Migrate.
func Open(path string) (*Store, error) {
	return openSQLite(path, walCheckpoints{every: checkpointEvery, topUpEvery: walTopUpEvery})
}

// walCheckpoints is how a SQLite store copies its WAL into the database:
// the checkpointer's period (startCheckpointer; zero runs none) and the
// writer's top-up's (topUpCheckpoint; zero runs none). Tests turn one off
// to watch the other.
type walCheckpoints struct{ every, topUpEvery time.Duration }

// openSQLite is Open with the WAL's checkpoints as given.
func openSQLite(path string, wal walCheckpoints) (*Store, error) {
	if strings.Contains(path, "://") {
		return nil, fmt.Errorf("open database: %q: only a SQLite file path is supported", path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	db, err := gorm.Open(sqlite.Open(SQLiteDSN(path)), gormConfig())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// WAL lets readers run beside the one writer; a few connections are
	// enough and keep lock contention low.
	sqlDB.SetMaxOpenConns(4)
	sqlDB.SetMaxIdleConns(4)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if err := sqlDB.Ping(); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	cal, err := LoadCalendar()
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	// Ratings, the one write that comes in bursts from the public, go
	// through one connection of their own, their statements prepared
	// once: SQLite has one writer at a time, and connections taking turns
	// at its lock cost more than the writes (see ratewriter.go).
	w, err := gorm.Open(sqlite.New(sqlite.Config{Conn: sql.OpenDB(writerConnector{dsn: SQLiteDSN(path)})}), gormConfig())
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	wDB, err := w.DB()
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	wDB.SetMaxOpenConns(1)
	wDB.SetMaxIdleConns(1)
	wDB.SetConnMaxIdleTime(0)
	version := &contentVersion{}
	if err := trackContentVersion(db, version); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	s := &Store{db: db, cal: cal, version: version, name: path, counters: &counterCache{}, wal: wal}
	s.startWriter(w)
	if wal.every > 0 {
		s.startCheckpointer(sqlDB)
	}
	return s, nil
}

// writerConnector opens the rating writer's connection. It leaves the WAL
// checkpoints to the checkpointer: otherwise the commit that fills the WAL
// copies it into the database and syncs it, and the raters of that batch,
// and of those queued behind it, wait tens of milliseconds. The writer only
// copies what the checkpointer left, every few seconds (topUpCheckpoint).
type writerConnector struct{ dsn string }

// Connect opens a connection without automatic checkpoints.
func (c writerConnector) Connect(context.Context) (driver.Conn, error) { return c.Driver().Open(c.dsn) }

// Driver is go-sqlite3's, with the hook that turns the checkpoints off.
func (writerConnector) Driver() driver.Driver {
	return &sqlite3.SQLiteDriver{ConnectHook: func(conn *sqlite3.SQLiteConn) error {
		_, err := conn.Exec("PRAGMA wal_autocheckpoint = 0", nil)
		return err
	}}
}

// gormConfig is the ORM's configuration.
func gormConfig() *gorm.Config {
	return &gorm.Config{
		TranslateError: true,
		// Multi-row writes open their own transactions; single statements
		// need none, and SQLite's write lock is the scarce resource.
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Second) },
	}
}

// SQLiteDSN is the connection string of a SQLite file as the portal opens
// it: every per-connection setting is in it, so that each connection of the
// pool gets them, not only the first. The benchmark's baseline uses it too.
func SQLiteDSN(path string) string {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	// 8 MiB of page cache per connection (SQLite's default is 2 MiB): the
	// search index's hot pages fit, and five connections stay far below
	// the portal's memory budget. No mmap: mapped pages count in the
	// process's resident memory however large the file grows.
	q.Set("_cache_size", "-8000")
	return "file:" + path + "?" + q.Encode()
}

// Close stops the rating writer, after the batch it holds is committed, and
// closes the database.
func (s *Store) Close() error {
	s.stopWriter()
	var errs []error
	if s.w != nil {
		if wDB, err := s.w.DB(); err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, wDB.Close())
		}
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	return errors.Join(append(errs, sqlDB.Close())...)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// mapError turns ORM errors into the package's domain errors.
func mapError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}
