package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Actor is the staff member behind a change, for the records.
type Actor struct {
	UserID uint
	// Login is the account's username; Name is how records name the
	// person, e.g. "人社局 王敏".
	Login string
	Name  string
}

// AuditEntry records one change made in the admin area: who, when, what,
// and the record before and after. Entries are only ever added.
type AuditEntry struct {
	ID        uint      `gorm:"primaryKey"`
	CreatedAt time.Time `gorm:"not null;index"`
	UserID    uint      `gorm:"not null;index"`
	Username  string    `gorm:"size:100;not null"`
	Login     string    `gorm:"size:40;not null;index"`
	Action    string    `gorm:"size:40;not null;index"`
	Object    string    `gorm:"size:200;not null"`
	Before    string    `gorm:"type:text;not null"`
	After     string    `gorm:"type:text;not null"`
}

// audit writes an entry in the transaction of the change it records, so
// that there is no change without its entry.
func audit(tx *gorm.DB, actor Actor, action, object string, before, after any, now time.Time) error {
	enc := func(v any) (string, error) {
		if v == nil {
			return "", nil
		}
		b, err := json.Marshal(v)
		return string(b), err
	}
	b, err := enc(before)
	if err != nil {
		return err
	}
	a, err := enc(after)
	if err != nil {
		return err
	}
	return tx.Create(&AuditEntry{CreatedAt: now, UserID: actor.UserID, Username: actor.Name, Login: actor.Login, Action: action,
		Object: object, Before: b, After: a}).Error
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	Username string
	Action   string
	Page     int
}

// AuditPage is one page of the audit log, newest first.
type AuditPage struct {
	Entries []AuditEntry
	Total   int
	Page    int
	PerPage int
	Actions []string
}

// FindAuditEntries returns a page of the audit log.
func (s *Store) FindAuditEntries(ctx context.Context, f AuditFilter) (*AuditPage, error) {
	db := s.db.WithContext(ctx)
	p := &AuditPage{Page: max(f.Page, 1), PerPage: 50}
	q := db.Model(&AuditEntry{})
	if f.Username != "" {
		// Staff look people up by name or by login: either finds them.
		// LOWER on both sides: SQLite's LIKE ignores the case of Latin
		// letters, PostgreSQL's and a binary MySQL collation's do not.
		like := "%" + strings.ToLower(f.Username) + "%"
		q = q.Where("LOWER(username) LIKE ? OR LOWER(login) LIKE ?", like, like)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	p.Total = int(total)
	if err := q.Order("created_at DESC, id DESC").Limit(p.PerPage).Offset((p.Page - 1) * p.PerPage).Find(&p.Entries).Error; err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	if err := db.Model(&AuditEntry{}).Distinct("action").Order("action").Pluck("action", &p.Actions).Error; err != nil {
		return nil, fmt.Errorf("audit actions: %w", err)
	}
	return p, nil
}
