package models

import (
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// rollup is a GROUP BY that builds running totals from finer rows: the
// counters' months from the ratings, the departments' months from the
// counters', the departments' case counts from the cases. The one
// definition serves every place that needs it: the migrations that built
// totals (12, 15), the benchmark generator and the tests' data, which fill
// them, and the recount check (TotalsMismatch), so that they cannot drift
// apart.
type rollup struct {
	// into is the table of totals, keys its key columns and values its
	// three count columns, the first of which counts the rows.
	into, keys, values string
	// from is what is summed (a table, with a condition if need be), and
	// groupKeys the key columns as computed from it, in the order of keys.
	from, groupKeys string
	// counts computes the values, in their order.
	counts [3]string
}

// ratingValues are the count columns of the ratings' totals.
const ratingValues = "total, satisfied, bad"

// sumCounts sums ratings' totals into coarser ones.
var sumCounts = [3]string{"SUM(total)", "SUM(satisfied)", "SUM(bad)"}

// departmentMonthsFromMonths sums the counters' months into their
// departments'. Portable SQL.
var departmentMonthsFromMonths = rollup{into: "rating_department_months", keys: "month, department_id",
	values: ratingValues, from: "rating_months", groupKeys: "month, department_id", counts: sumCounts}

// caseMonthsFromCases counts the cases into their departments' months
// (Beijing months of opening): all, closed, and closed on time.
func caseMonthsFromCases(d dialect) rollup {
	return rollup{into: "case_department_months", keys: "department_id, month", values: "cases, closed, on_time",
		from: "cases", groupKeys: "department_id, " + d.localMonthSQL("created_at"),
		counts: [3]string{"COUNT(*)", "SUM(CASE WHEN state = '" + CaseClosed + "' THEN 1 ELSE 0 END)",
			"SUM(CASE WHEN state = '" + CaseClosed + "' AND closed_on_time THEN 1 ELSE 0 END)"}}
}

// ratingCounts count ratings into the values of their totals.
var ratingCounts = [3]string{"COUNT(*)", "SUM(CASE WHEN level > 2 THEN 1 ELSE 0 END)",
	"SUM(CASE WHEN level <= 2 THEN 1 ELSE 0 END)"}

// monthsFromRatings counts the ratings into the counters' months (Beijing
// months, under the department a rating was given to), leaving out those
// set aside by a 申诉复核, as the rating writer and addToTotals keep them.
func monthsFromRatings(d dialect) rollup {
	return ratingRollup(d, "rating_months", "counter_id, department_id")
}

// departmentMonthsFromRatings counts the ratings into the departments'
// months directly, for catchUpTotals, which adds some ratings to both.
func departmentMonthsFromRatings(d dialect) rollup {
	return ratingRollup(d, "rating_department_months", "department_id")
}

// ratingRollup counts the ratings not set aside into the Beijing months of
// the table into, by the key columns by.
func ratingRollup(d dialect, into, by string) rollup {
	return rollup{into: into, keys: "month, " + by, values: ratingValues, from: "ratings WHERE NOT excluded",
		groupKeys: d.localMonthSQL("created_at") + ", " + by, counts: ratingCounts}
}

// sums is the totals computed from the finer rows, grouped by the keys.
func (r rollup) sums() string {
	return "SELECT " + r.groupKeys + ", " + strings.Join(r.counts[:], ", ") + " FROM " + r.from +
		" GROUP BY " + r.groupKeys
}

// fill writes the totals from the finer rows, into an empty table.
func (r rollup) fill(tx *gorm.DB) error {
	err := tx.Exec("INSERT INTO " + r.into + " (" + r.keys + ", " + r.values + ") " + r.sums()).Error
	if err != nil {
		return fmt.Errorf("build %s from %s: %w", r.into, r.from, err)
	}
	return nil
}

// add adds the totals computed from the finer rows to the stored ones:
// SQLite's (and PostgreSQL's) upsert. The SELECT has a WHERE, as SQLite
// asks of an upsert's SELECT to tell its ON from a join's.
func (r rollup) add(tx *gorm.DB) error {
	var set []string
	for _, v := range strings.Split(r.values, ", ") {
		set = append(set, v+" = "+r.into+"."+v+" + excluded."+v)
	}
	err := tx.Exec("INSERT INTO " + r.into + " (" + r.keys + ", " + r.values + ") " + r.sums() +
		" ON CONFLICT (" + r.keys + ") DO UPDATE SET " + strings.Join(set, ", ")).Error
	if err != nil {
		return fmt.Errorf("add to %s from %s: %w", r.into, r.from, err)
	}
	return nil
}

// mismatch counts the keys whose stored totals differ from those computed
// from the finer rows, both ways. Rows that count nothing (every rating
// taken out again) are equal to no row.
func (r rollup) mismatch(tx *gorm.DB) (int, error) {
	counted, _, _ := strings.Cut(r.values, ",")
	stored := "SELECT " + r.keys + ", " + r.values + " FROM " + r.into + " WHERE " + counted + " <> 0"
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
