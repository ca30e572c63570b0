package models

import (
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// rollup is a GROUP BY that builds running totals from finer rows: the
// counters' months from the ratings, the departments' months from the
// counters'. The one definition serves every place that needs it: the
// migration that built the departments' months (12), the benchmark
// generator and the tests' data, which fill the totals, and the recount
// check (TotalsMismatch), so that they cannot drift apart.
type rollup struct {
	// into is the table of totals, keys its key columns.
	into, keys string
	// from is what is summed (a table, with a condition if need be), and
	// groupKeys the key columns as computed from it, in the order of keys.
	from, groupKeys string
	// counts computes the total, satisfied and bad columns.
	counts [3]string
}

// sumCounts sums totals into coarser ones.
var sumCounts = [3]string{"SUM(total)", "SUM(satisfied)", "SUM(bad)"}

// departmentMonthsFromMonths sums the counters' months into their
// departments'. Portable SQL.
var departmentMonthsFromMonths = rollup{into: "rating_department_months", keys: "month, department_id",
	from: "rating_months", groupKeys: "month, department_id", counts: sumCounts}

// monthsFromRatings counts the ratings into the counters' months (Beijing
// months, under the department a rating was given to), leaving out those
// set aside by a 申诉复核, as the rating writer and addToTotals keep them.
func monthsFromRatings(d dialect) rollup {
	return rollup{into: "rating_months", keys: "month, counter_id, department_id",
		from:      "ratings WHERE NOT excluded",
		groupKeys: "substr(" + d.localDaySQL("created_at") + ", 1, 7), counter_id, department_id",
		counts: [3]string{"COUNT(*)", "SUM(CASE WHEN level > 2 THEN 1 ELSE 0 END)",
			"SUM(CASE WHEN level <= 2 THEN 1 ELSE 0 END)"}}
}

// sums is the totals computed from the finer rows, grouped by the keys.
func (r rollup) sums() string {
	return "SELECT " + r.groupKeys + ", " + strings.Join(r.counts[:], ", ") + " FROM " + r.from +
		" GROUP BY " + r.groupKeys
}

// fill writes the totals from the finer rows, into an empty table.
func (r rollup) fill(tx *gorm.DB) error {
	err := tx.Exec("INSERT INTO " + r.into + " (" + r.keys + ", total, satisfied, bad) " + r.sums()).Error
	if err != nil {
		return fmt.Errorf("build %s from %s: %w", r.into, r.from, err)
	}
	return nil
}

// mismatch counts the keys whose stored totals differ from those computed
// from the finer rows, both ways. Rows of zero (every rating taken out
// again) are equal to no row.
func (r rollup) mismatch(tx *gorm.DB) (int, error) {
	stored := "SELECT " + r.keys + ", total, satisfied, bad FROM " + r.into + " WHERE total <> 0"
	summed := r.sums() + " HAVING " + r.counts[0] + " <> 0"
	var n, m int
	if err := tx.Raw("SELECT COUNT(*) FROM (" + stored + " EXCEPT " + summed + ") AS diff").Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("check %s: %w", r.into, err)
	}
	if err := tx.Raw("SELECT COUNT(*) FROM (" + summed + " EXCEPT " + stored + ") AS diff").Scan(&m).Error; err != nil {
		return 0, fmt.Errorf("check %s: %w", r.into, err)
	}
	return n + m, nil
}
