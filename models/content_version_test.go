package models

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"
)

// TestContentVersionCountsCommittedWrites checks the one place that sees
// every write: single statements and transactions bump the version once
// they are committed, reads and rolled-back transactions do not.
func TestContentVersionCountsCommittedWrites(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	v0 := s.ContentVersion()
	if _, err := s.ListCounters(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindGuides(ctx, GuideFilter{Query: "社保"}); err != nil {
		t.Fatal(err)
	}
	if s.ContentVersion() != v0 {
		t.Fatal("reads changed the content version")
	}
	if err := s.db.Exec("UPDATE counters SET hours = hours WHERE code = 'B01'").Error; err != nil {
		t.Fatal(err)
	}
	v1 := s.ContentVersion()
	if v1 == v0 {
		t.Fatal("a single statement did not change the content version")
	}
	inside := uint64(0)
	err := s.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("UPDATE counters SET hours = hours WHERE code = 'B01'").Error; err != nil {
			return err
		}
		inside = s.ContentVersion()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside != v1 {
		t.Fatal("the version changed before the transaction committed: a page rendered then would be cached as current")
	}
	if s.ContentVersion() == v1 {
		t.Fatal("a committed transaction did not change the content version")
	}
	v2 := s.ContentVersion()
	_ = s.db.Transaction(func(tx *gorm.DB) error {
		tx.Exec("UPDATE counters SET hours = 'x' WHERE code = 'B01'")
		return errRollback
	})
	if s.ContentVersion() != v2 {
		t.Fatal("a rolled-back transaction changed the content version")
	}
}

var errRollback = errors.New("roll back")
