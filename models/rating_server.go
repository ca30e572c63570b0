package models

import (
	"context"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ratingGuard is one row per guard key, locked while the writes it guards
// are checked and stored: a rater's address hash (its ratings), or
// "case-day:" and a day (that day's case numbers). On SQLite the immediate write
// transaction already serialises every writer; PostgreSQL and MySQL let
// writers run side by side, across any number of portal instances, so the
// checks "this phone has not rated this counter lately" and "this address
// is under its hourly limit" take row locks in the shared database instead.
type ratingGuard struct {
	AddressHash string `gorm:"primaryKey;size:64"`
}

func (ratingGuard) TableName() string { return "rating_guards" }

// lockRater serialises the ratings that the anti-abuse checks compare: those
// of one counter (a phone rating it twice) and those of one address (the
// hourly limit). Locks are always taken counter first, then address, so two
// ratings cannot wait on each other. It does nothing on SQLite.
func lockRater(tx *gorm.DB, counterID uint, addressHash string) error {
	if tx.Dialector.Name() == "sqlite" {
		return nil
	}
	var c Counter
	if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("id").Where("id = ?", counterID).Take(&c).Error; err != nil {
		return err
	}
	return lockGuard(tx, addressHash)
}

// lockGuard takes the row lock of a guard key (an address's pseudonym, a
// day's case numbers) until the transaction ends, creating the row the
// first time. SQLite's immediate transactions already serialise writers.
func lockGuard(tx *gorm.DB, key string) error {
	if tx.Dialector.Name() == "sqlite" {
		return nil
	}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&ratingGuard{AddressHash: key}).Error; err != nil {
		return err
	}
	var g ratingGuard
	return tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("address_hash = ?", key).Take(&g).Error
}

// rateOnServer stores a rating on PostgreSQL or MySQL: in one transaction
// per rating, with row locks (lockRater) so that the duplicate and address
// checks hold across instances. SQLite goes through the rating writer.
func (s *Store) rateOnServer(ctx context.Context, req rateRequest) (*RatingReceipt, error) {
	ctr, in, rules, now, device, address := req.ctr, req.in, req.rules, req.now, req.device, req.address
	rec := &RatingReceipt{}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Immediate transactions serialise writers, so the checks below
		// cannot race with another rating from the same device; on
		// PostgreSQL and MySQL, row locks do it.
		if err := lockRater(tx, ctr.ID, address); err != nil {
			return err
		}
		// A 差评 opens a case numbered by the day's count: its turn is
		// taken now, before the first plain read, because MySQL's
		// repeatable read would count from a snapshot older than the lock.
		if IsBad(in.Level) {
			if err := lockGuard(tx, caseDayGuard(now)); err != nil {
				return err
			}
		}
		if err := checkRateRules(gormRules{tx}, req); err != nil {
			return err
		}
		r := Rating{CounterID: ctr.ID, DepartmentID: ctr.DepartmentID, Level: in.Level,
			Reasons: joinReasons(in.Reasons), Comment: in.Comment, Phone: in.Phone,
			DeviceHash: device, AddressHash: address, CreatedAt: now}
		if err := tx.Omit("Counter").Create(&r).Error; err != nil {
			return err
		}
		if err := addToTotals(tx, r, 1); err != nil {
			return err
		}
		rec.Rating = r
		if IsBad(r.Level) {
			c, err := s.openCase(tx, r, rules, now)
			if err != nil {
				return err
			}
			rec.Case = c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}
