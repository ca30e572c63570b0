package models

import (
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ratingGuard is one row per rater's address hash, locked while a rating
// from that address is checked and stored. On SQLite the immediate write
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
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&ratingGuard{AddressHash: addressHash}).Error; err != nil {
		return err
	}
	var g ratingGuard
	return tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("address_hash = ?", addressHash).Take(&g).Error
}
