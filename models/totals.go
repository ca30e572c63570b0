package models

import (
	"fmt"

	"gorm.io/gorm"
)

// rollup is a GROUP BY that builds coarser running totals from finer ones:
// the counters' months from their days, the departments' months from the
// counters'. The one definition serves every place that needs it: a
// migration that builds the coarser table on a deployed database, the
// benchmark generator, and the recount check (TotalsMismatch), so the three
// cannot drift apart.
type rollup struct {
	// into is the coarser table, keys its key columns.
	into, keys string
	// from is the finer table, and groupKeys the key columns as computed
	// from it, in the order of keys.
	from, groupKeys string
}

// The rollups of the rating totals. Portable SQL: substr is in SQLite,
// PostgreSQL and MySQL.
var (
	monthsFromDays = rollup{into: "rating_months", keys: "counter_id, month, department_id",
		from: "rating_days", groupKeys: "counter_id, substr(day, 1, 7), department_id"}
	departmentMonthsFromMonths = rollup{into: "rating_department_months", keys: "month, department_id",
		from: "rating_months", groupKeys: "month, department_id"}
)

// sums is the totals of the finer table, grouped by the coarser keys.
func (r rollup) sums() string {
	return "SELECT " + r.groupKeys + ", SUM(total), SUM(satisfied), SUM(bad) FROM " + r.from +
		" GROUP BY " + r.groupKeys
}

// fill writes the coarser totals from the finer ones, into an empty table.
func (r rollup) fill(tx *gorm.DB) error {
	err := tx.Exec("INSERT INTO " + r.into + " (" + r.keys + ", total, satisfied, bad) " + r.sums()).Error
	if err != nil {
		return fmt.Errorf("build %s from %s: %w", r.into, r.from, err)
	}
	return nil
}

// mismatch counts the keys whose coarser totals differ from the sums of the
// finer ones, both ways. Rows of zero (every rating taken out again) are
// equal to no row.
func (r rollup) mismatch(tx *gorm.DB) (int, error) {
	stored := "SELECT " + r.keys + ", total, satisfied, bad FROM " + r.into + " WHERE total <> 0"
	summed := r.sums() + " HAVING SUM(total) <> 0"
	var n, m int
	if err := tx.Raw("SELECT COUNT(*) FROM (" + stored + " EXCEPT " + summed + ") AS diff").Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("check %s: %w", r.into, err)
	}
	if err := tx.Raw("SELECT COUNT(*) FROM (" + summed + " EXCEPT " + stored + ") AS diff").Scan(&m).Error; err != nil {
		return 0, fmt.Errorf("check %s: %w", r.into, err)
	}
	return n + m, nil
}
