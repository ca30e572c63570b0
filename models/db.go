package models

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

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
}

// Open opens (creating if needed) the SQLite database file at path, tuned for
// a web server, and returns a Store. It does not migrate: call Migrate.
func Open(path string) (*Store, error) {
	if strings.Contains(path, "://") {
		return nil, fmt.Errorf("open database: %q: only a SQLite file path is supported", path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	db, err := gorm.Open(sqlite.Open(sqliteDSN(path)), &gorm.Config{
		TranslateError: true,
		// Multi-row writes open their own transactions; single statements
		// need none, and SQLite's write lock is the scarce resource.
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Second) },
	})
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
		return nil, fmt.Errorf("open database: %w", err)
	}
	version := &contentVersion{}
	if err := trackContentVersion(db, version); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return &Store{db: db, cal: cal, version: version, name: path}, nil
}

// sqliteDSN puts every per-connection setting in the connection string, so
// that each connection of the pool gets them, not only the first.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Close closes the database.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
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
