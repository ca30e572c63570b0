package models

import (
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// CaseDepartmentMonth is the running count of a department's cases opened
// in a month (Beijing time): how many, how many are closed, how many of
// those on time. The 亮单's figures read them instead of grouping every
// case on each render; they are kept in the transaction of each case's
// opening and of each step that closes or reopens it.
type CaseDepartmentMonth struct {
	DepartmentID uint   `gorm:"primaryKey;autoIncrement:false"`
	Month        string `gorm:"primaryKey;size:7"`
	Cases        int    `gorm:"not null"`
	Closed       int    `gorm:"not null"`
	OnTime       int    `gorm:"not null"`
}

// addCaseTotals adds to (or, with negative numbers, takes from) a
// department's month of cases.
func addCaseTotals(tx *gorm.DB, departmentID uint, opened time.Time, cases, closed, onTime int) error {
	row := CaseDepartmentMonth{DepartmentID: departmentID, Month: MonthOf(opened), Cases: cases, Closed: closed, OnTime: onTime}
	err := tx.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "department_id"}, {Name: "month"}},
		DoUpdates: clause.Assignments(map[string]any{
			"cases":   gorm.Expr("case_department_months.cases + ?", cases),
			"closed":  gorm.Expr("case_department_months.closed + ?", closed),
			"on_time": gorm.Expr("case_department_months.on_time + ?", onTime),
		}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("case totals: %w", err)
	}
	return nil
}

// caseStepTotals keeps the totals when a step moves a case into or out of
// 已办结.
func caseStepTotals(tx *gorm.DB, c *Case, wasClosed, wasOnTime bool) error {
	closed, onTime := 0, 0
	switch isClosed := c.State == CaseClosed; {
	case isClosed && !wasClosed:
		closed, onTime = 1, boolInt(c.ClosedOnTime)
	case !isClosed && wasClosed:
		closed, onTime = -1, -boolInt(wasOnTime)
	default:
		return nil
	}
	return addCaseTotals(tx, c.DepartmentID, c.CreatedAt, 0, closed, onTime)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
