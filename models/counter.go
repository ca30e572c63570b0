package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Counter is a service window (窗口) in a hall. Its Code is printed on the
// counter's poster and never changes.
type Counter struct {
	ID           uint       `gorm:"primaryKey"`
	Code         string     `gorm:"size:20;not null;uniqueIndex"`
	Name         string     `gorm:"size:100;not null"`
	DepartmentID uint       `gorm:"not null;index"`
	Department   Department `gorm:"constraint:OnDelete:RESTRICT"`
	Hall         string     `gorm:"size:100;not null;default:''"`
	Floor        string     `gorm:"size:20;not null;default:''"`
	Number       string     `gorm:"size:20;not null;default:''"`
	Hours        string     `gorm:"size:200;not null;default:''"`
	// ExtendedHours describes service beyond the normal hours, such as
	// 工作日中午不断岗 or 周六上午不打烊.
	ExtendedHours string `gorm:"size:200;not null;default:''"`
	StaffPost     string `gorm:"size:100;not null;default:''"`
	Enabled       bool   `gorm:"not null"`
	// Version counts the saves of the counter, for conflict detection.
	Version      int           `gorm:"not null"`
	ServiceItems []ServiceItem `gorm:"many2many:counter_service_items"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Location is the counter's place in words, e.g. "一楼 综合受理大厅 A01 号窗口".
func (c Counter) Location() string {
	number := c.Number
	switch {
	case number == "":
	case strings.HasSuffix(number, "号"):
		number += "窗口"
	default:
		number += " 号窗口"
	}
	return joinNonEmpty(" ", c.Floor, c.Hall, number)
}

// FindCounterByCode returns an enabled counter with its department and the
// published service items it handles.
func (s *Store) FindCounterByCode(ctx context.Context, code string) (*Counter, error) {
	if !validCode(code) {
		return nil, ErrNotFound
	}
	var c Counter
	err := s.db.WithContext(ctx).
		Preload("Department").
		Preload("ServiceItems", "published = ?", true).
		Preload("ServiceItems.Theme").
		Where("code = ? AND enabled = ?", code, true).
		First(&c).Error
	if err != nil {
		return nil, fmt.Errorf("find counter %q: %w", code, mapError(err))
	}
	return &c, nil
}

// CounterSummary is a counter with its department and the number of
// published service items it handles.
type CounterSummary struct {
	Counter
	ItemCount int
}

// ListCounters returns every enabled counter with its department, in the
// order a visitor walks the halls: by floor, hall and code.
func (s *Store) ListCounters(ctx context.Context) ([]CounterSummary, error) {
	out, err := s.listCounters(s.db.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list counters: %w", err)
	}
	return out, nil
}

// listCounters lists the enabled counters that q selects, with their
// departments and counts of published items, in walking order.
func (s *Store) listCounters(q *gorm.DB) ([]CounterSummary, error) {
	var counters []Counter
	err := q.Preload("Department").
		Where("enabled = ?", true).
		Order("floor, hall, code").
		Find(&counters).Error
	if err != nil {
		return nil, mapError(err)
	}
	return s.withItemCounts(q.Statement.Context, counters)
}

// withItemCounts pairs counters with their numbers of published items, in
// one query for all.
func (s *Store) withItemCounts(ctx context.Context, counters []Counter) ([]CounterSummary, error) {
	ids := make([]uint, len(counters))
	for i, c := range counters {
		ids[i] = c.ID
	}
	var counts []struct {
		CounterID uint
		N         int
	}
	err := s.db.WithContext(ctx).Table("counter_service_items AS l").
		Joins("JOIN service_items si ON si.id = l.service_item_id AND si.published = ?", true).
		Where("l.counter_id IN ?", ids).
		Select("l.counter_id, COUNT(*) AS n").Group("l.counter_id").Scan(&counts).Error
	if err != nil {
		return nil, mapError(err)
	}
	byID := make(map[uint]int, len(counts))
	for _, c := range counts {
		byID[c.CounterID] = c.N
	}
	out := make([]CounterSummary, len(counters))
	for i, c := range counters {
		out[i] = CounterSummary{Counter: c, ItemCount: byID[c.ID]}
	}
	return out, nil
}
