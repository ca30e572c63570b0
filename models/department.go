package models

import (
	"context"
	"fmt"
	"time"
)

// Department is a government department, street office or service unit that
// implements service items and staffs counters.
type Department struct {
	ID             uint   `gorm:"primaryKey"`
	Slug           string `gorm:"size:40;not null;uniqueIndex"`
	Name           string `gorm:"size:100;not null"`
	ShortName      string `gorm:"size:40;not null"`
	Address        string `gorm:"size:200;not null;default:''"`
	OfficeHours    string `gorm:"size:200;not null;default:''"`
	ConsultPhone   string `gorm:"size:40;not null;default:''"`
	SupervisePhone string `gorm:"size:40;not null;default:''"`
	// Duties is the department's published 部门主要职责.
	Duties    string `gorm:"type:text;not null"`
	Sort      int    `gorm:"not null;default:0"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DepartmentSummary is a department with the number of published service
// items it implements.
type DepartmentSummary struct {
	Department
	ItemCount int
}

// FindDepartments returns every department in display order, without
// counts, for forms that only name them (see FindThemes).
func (s *Store) FindDepartments(ctx context.Context) ([]Department, error) {
	var out []Department
	if err := s.db.WithContext(ctx).Order("sort, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("find departments: %w", mapError(err))
	}
	return out, nil
}

// ListDepartments returns every department in display order with its count
// of published service items.
func (s *Store) ListDepartments(ctx context.Context) ([]DepartmentSummary, error) {
	var out []DepartmentSummary
	err := s.db.WithContext(ctx).
		Table("departments").
		Select("departments.*, (SELECT COUNT(*) FROM service_items si WHERE si.department_id = departments.id AND si.published = ?) AS item_count", true).
		Order("departments.sort, departments.id").
		Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list departments: %w", mapError(err))
	}
	return out, nil
}
