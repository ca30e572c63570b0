package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// OpsFigures are the figures operators watch, read at scrape time: each is
// one cheap query, so that a scrape costs the same at ten million ratings
// as at ten thousand.
type OpsFigures struct {
	// Ratings is the number of ratings in the statistics, summed from the
	// departments' monthly running totals (never a scan of the ratings).
	Ratings int64
	// CasesOpen and CasesOverdue count the cases not yet 已办结, and those
	// of them past their current deadline.
	CasesOpen, CasesOverdue int64
}

// FindOpsFigures reads the figures for monitoring.
func (s *Store) FindOpsFigures(ctx context.Context, now time.Time) (OpsFigures, error) {
	var f OpsFigures
	err := s.pending.read(func(pending pendingView) error {
		var ratings sql.NullInt64
		if err := s.db.WithContext(ctx).Model(&RatingDepartmentMonth{}).Select("SUM(total)").Scan(&ratings).Error; err != nil {
			return err
		}
		f.Ratings = ratings.Int64 + int64(pending.all().Total)
		return nil
	})
	if err != nil {
		return f, fmt.Errorf("ops figures: %w", err)
	}
	// The open states by name, so that the index on state serves the
	// query: the open cases are few, the closed ones many.
	var cases struct{ Open, Overdue sql.NullInt64 }
	err = s.db.WithContext(ctx).Model(&Case{}).
		Select(`COUNT(*) AS open, SUM(CASE WHEN (state = ? AND callback_due < ?) OR (state <> ? AND rectify_due < ?) THEN 1 ELSE 0 END) AS overdue`,
			CaseAwaitingCallback, now.UTC(), CaseAwaitingCallback, now.UTC()).
		Where("state IN ?", openCaseStates()).
		Scan(&cases).Error
	if err != nil {
		return f, fmt.Errorf("ops figures: %w", err)
	}
	f.CasesOpen, f.CasesOverdue = cases.Open.Int64, cases.Overdue.Int64
	return f, nil
}

// DBStats reports the connection pool: open, in use, idle, waits.
func (s *Store) DBStats() sql.DBStats {
	sqlDB, err := s.db.DB()
	if err != nil {
		return sql.DBStats{}
	}
	return sqlDB.Stats()
}

// ErrBackupUnsupported means the database is not SQLite: PostgreSQL and
// MySQL have their own tools (pg_dump, mariadb-dump).
var ErrBackupUnsupported = errors.New("backup: only SQLite databases are backed up by the portal; use pg_dump or mariadb-dump")

// Backup writes a consistent copy of the live database to a new file at
// dest, while the portal keeps serving, and checks the copy. It never
// overwrites a file.
//
// It uses VACUUM INTO rather than SQLite's page-by-page backup API: VACUUM
// INTO reads in one transaction, so the copy is one moment of the database
// even while ratings are being written, and it never restarts, whereas the
// backup API run in steps starts over whenever another connection writes,
// and under steady load might never finish. The copy comes out compacted.
func (s *Store) Backup(ctx context.Context, dest string) error {
	if s.db.Dialector.Name() != "sqlite" {
		return ErrBackupUnsupported
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("backup: %s exists; choose a new file name, a backup never overwrites", dest)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	if err := s.db.WithContext(ctx).Exec("VACUUM INTO ?", dest).Error; err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	return checkCopy(ctx, dest)
}

// checkCopy runs SQLite's integrity check on a finished backup.
func checkCopy(ctx context.Context, path string) error {
	db, err := gorm.Open(sqlite.Open("file:"+path+"?mode=ro"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return fmt.Errorf("check backup %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return fmt.Errorf("check backup %s: %w", path, err)
	}
	defer sqlDB.Close()
	var result string
	if err := db.WithContext(ctx).Raw("PRAGMA integrity_check").Scan(&result).Error; err != nil {
		return fmt.Errorf("check backup %s: %w", path, err)
	}
	if result != "ok" {
		return fmt.Errorf("check backup %s: integrity check says %q", path, result)
	}
	return nil
}
