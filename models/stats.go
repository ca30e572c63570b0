package models

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// Tally is a count of ratings with its satisfaction rate.
type Tally struct {
	Total, Satisfied, Bad int
}

// plus is the sum of two tallies.
func (t Tally) plus(u Tally) Tally {
	return Tally{Total: t.Total + u.Total, Satisfied: t.Satisfied + u.Satisfied, Bad: t.Bad + u.Bad}
}

// Rate is 满意 ÷ all, or 0 without ratings.
func (t Tally) Rate() float64 {
	if t.Total == 0 {
		return 0
	}
	return float64(t.Satisfied) / float64(t.Total)
}

// UnitTally is the tally of one department or counter.
type UnitTally struct {
	Tally
	Key, Name, Department string
}

// MonthTally is the tally of one month, "2026-03".
type MonthTally struct {
	Tally
	Month string
}

// RatingStats is what /ratings publishes for a month.
type RatingStats struct {
	Month       string
	All         Tally
	Departments []UnitTally
	Counters    []UnitTally
	Trend       []MonthTally
}

// MonthOf returns the "2006-01" month of t in China Standard Time.
func MonthOf(t time.Time) string { return t.In(chinaTime).Format("2006-01") }

// ParseMonth checks a "2006-01" month.
func ParseMonth(s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01", s, chinaTime)
	if err != nil {
		return time.Time{}, &ValidationError{Fields: map[string]string{"month": "月份格式应为“年-月”，如 2026-03。"}}
	}
	return t, nil
}

// FindRatingStats returns the satisfaction of every department and counter
// for a month, ranked best first, and the trend of the twelve months up to
// it. Every department and every enabled counter is listed, those without
// ratings last, so that a window nobody rated is seen too. It reads the
// running totals only: a row per department and month, and a row per
// counter for the month, so its cost grows with the number of departments
// and counters, not of ratings.
func (s *Store) FindRatingStats(ctx context.Context, month string) (*RatingStats, error) {
	start, err := ParseMonth(month)
	if err != nil {
		return nil, err
	}
	db := s.db.WithContext(ctx)
	st := &RatingStats{Month: month}
	first := start.AddDate(0, -11, 0)
	var rows []MonthTally
	err = s.pending.read(func(pending pendingView) error {
		// KEY is a reserved word in MySQL: the alias is quoted for the engine.
		keyCol := s.quote("key")
		var departments []struct {
			ID uint
			UnitTally
		}
		err := db.Table("departments AS d").
			Joins("LEFT JOIN rating_department_months r ON r.department_id = d.id AND r.month = ?", month).
			Select("d.id AS id, d.slug AS " + keyCol + ", d.name AS name, COALESCE(r.total, 0) AS total, COALESCE(r.satisfied, 0) AS satisfied, COALESCE(r.bad, 0) AS bad").
			Order("d.sort, d.id").Scan(&departments).Error
		if err != nil {
			return err
		}
		for _, d := range departments {
			d.Tally = d.Tally.plus(pending.department(month, d.ID))
			st.Departments = append(st.Departments, d.UnitTally)
		}
		if st.Counters, err = s.counterTallies(db, pending, month); err != nil {
			return err
		}
		err = db.Table("rating_department_months").
			Where("month >= ? AND month <= ?", first.Format("2006-01"), month).
			Select("month, SUM(total) AS total, SUM(satisfied) AS satisfied, SUM(bad) AS bad").
			Group("month").Scan(&rows).Error
		if err != nil {
			return fmt.Errorf("trend: %w", err)
		}
		for m, t := range pending.months(first.Format("2006-01"), month) {
			rows = append(rows, MonthTally{Tally: t, Month: m})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rating stats %s: %w", month, err)
	}
	rankUnits(st.Departments)
	rankUnits(st.Counters)
	for _, d := range st.Departments {
		st.All = st.All.plus(d.Tally)
	}
	byMonth := map[string]Tally{}
	for _, r := range rows {
		byMonth[r.Month] = byMonth[r.Month].plus(r.Tally)
	}
	for m := first; !m.After(start); m = m.AddDate(0, 1, 0) {
		key := m.Format("2006-01")
		st.Trend = append(st.Trend, MonthTally{Tally: byMonth[key], Month: key})
	}
	return st, nil
}

// rankUnits orders units best first: by satisfaction rate, then by number
// of ratings, keeping the given order among equals. Rates are compared by
// cross-multiplying the counts, exact and without a division, and the sort
// moves indexes rather than the units: /ratings ranks a thousand counters
// each time it is rendered, and a stable sort of the units themselves took
// a tenth of the page's time.
func rankUnits(units []UnitTally) {
	order := make([]int, len(units))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := &units[i], &units[j]
		// A unit without ratings has rate 0 (0 of 1), as Rate says.
		if c := cmp.Compare(b.Satisfied*max(a.Total, 1), a.Satisfied*max(b.Total, 1)); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Total, a.Total); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	ranked := make([]UnitTally, len(units))
	for k, i := range order {
		ranked[k] = units[i]
	}
	copy(units, ranked)
}

// counterTallies returns the month's tally of every enabled counter, and
// of a disabled one that was rated in the month, in the order of their ids.
// A counter moved to another department has a row per department it was
// rated under: its figure is their sum. The counters and the month's
// totals are read in two queries and joined here: one query that joined
// and grouped them took twice as long. The rows are scanned by hand: for
// a thousand counters, GORM's reflection took as long as the query.
func (s *Store) counterTallies(db *gorm.DB, pending pendingView, month string) ([]UnitTally, error) {
	rows, err := db.Raw("SELECT counter_id, total, satisfied, bad FROM rating_months WHERE month = ?", month).Rows()
	if err != nil {
		return nil, err
	}
	rated := map[uint]Tally{}
	for rows.Next() {
		var id uint
		var t Tally
		if err := rows.Scan(&id, &t.Total, &t.Satisfied, &t.Bad); err != nil {
			rows.Close()
			return nil, err
		}
		rated[id] = rated[id].plus(t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	pending.counters(month, func(k counterMonth, t Tally) { rated[k.counter] = rated[k.counter].plus(t) })
	rows, err = db.Raw(`SELECT c.id, c.code, c.name, d.short_name, c.enabled FROM counters c
		JOIN departments d ON d.id = c.department_id ORDER BY c.id`).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]UnitTally, 0, len(rated))
	for rows.Next() {
		var id uint
		var enabled bool
		var u UnitTally
		if err := rows.Scan(&id, &u.Key, &u.Name, &u.Department, &enabled); err != nil {
			return nil, err
		}
		t, ok := rated[id]
		if !enabled && !ok {
			continue
		}
		u.Tally = t
		out = append(out, u)
	}
	return out, rows.Err()
}

// TotalsMismatch compares the counters' monthly totals with a recount of
// the stored ratings, the departments' monthly totals with the counters',
// and the departments' monthly case counts with a recount of the cases, and
// returns how many rows differ. Zero is the only healthy answer.
func (s *Store) TotalsMismatch(ctx context.Context) (int, error) {
	// The stored totals, without what the writer holds: it writes that
	// first. A rating committed meanwhile shows as a difference.
	if err := s.syncTotals(ctx); err != nil {
		return 0, fmt.Errorf("check totals: %w", err)
	}
	bad := 0
	for _, r := range []rollup{monthsFromRatings(s.dialect), departmentMonthsFromMonths, caseMonthsFromCases(s.dialect)} {
		k, err := r.mismatch(s.db.WithContext(ctx))
		if err != nil {
			return 0, fmt.Errorf("check totals: %w", err)
		}
		bad += k
	}
	return bad, nil
}

// CaseFilter selects the published cases (亮单).
type CaseFilter struct {
	Department string // slug
	Month      string // "2006-01" of closing
	Page       int
}

// PublishedCase is a closed case as the public may read it: no rater, no
// phone, no comment, only what happened.
type PublishedCase struct {
	Case
	// WorkingDays is how long it took, in working days.
	WorkingDays int
}

// DepartmentCaseFigures are one department's case figures.
type DepartmentCaseFigures struct {
	Slug, Name                     string
	Cases, Closed, OnTime, Overdue int
}

// OnTimeRate is the share of closed cases closed by their deadline.
func (f DepartmentCaseFigures) OnTimeRate() float64 {
	if f.Closed == 0 {
		return 0
	}
	return float64(f.OnTime) / float64(f.Closed)
}

// CaseList is a page of the 亮单 with the departments' figures.
type CaseList struct {
	Cases   []PublishedCase
	Total   int
	Page    int
	PerPage int
	Figures []DepartmentCaseFigures
}

// Pages is the number of pages of the list.
func (l *CaseList) Pages() int {
	if l.Total == 0 {
		return 1
	}
	return (l.Total + l.PerPage - 1) / l.PerPage
}

// FindPublishedCases returns closed cases, newest first, anonymised, and
// every department's figures: cases, closed, closed on time, overdue now.
func (s *Store) FindPublishedCases(ctx context.Context, f CaseFilter, now time.Time) (*CaseList, error) {
	db := s.db.WithContext(ctx)
	l := &CaseList{Page: max(f.Page, 1), PerPage: 20}
	q := db.Model(&Case{}).Where("cases.state = ?", CaseClosed)
	var deptID uint
	var monthStart time.Time
	if f.Department != "" {
		var d Department
		if err := db.Where("slug = ?", f.Department).First(&d).Error; err != nil {
			return nil, &ValidationError{Fields: map[string]string{"department": "没有找到这个部门，请从列表中选择。"}}
		}
		deptID = d.ID
		q = q.Where("cases.department_id = ?", d.ID)
	}
	if f.Month != "" {
		start, err := ParseMonth(f.Month)
		if err != nil {
			return nil, err
		}
		monthStart = start
		q = q.Where("cases.closed_at >= ? AND cases.closed_at < ?", start.UTC(), start.AddDate(0, 1, 0).UTC())
	}
	// Without a month, the number of closed cases is the departments'
	// figures' sum (below); a month of closing is a short range of
	// idx_cases_closed.
	if f.Month != "" {
		var total int64
		if err := q.Count(&total).Error; err != nil {
			return nil, fmt.Errorf("published cases: %w", err)
		}
		l.Total = int(total)
	}
	var cases []Case
	err := q.Preload("Rating").Preload("Counter").Preload("Department").
		Order("cases.closed_at DESC, cases.id DESC").Limit(l.PerPage).Offset((l.Page - 1) * l.PerPage).
		Find(&cases).Error
	if err != nil {
		return nil, fmt.Errorf("published cases: %w", err)
	}
	for _, c := range cases {
		c.Rating.Phone, c.Rating.Comment, c.Rating.DeviceHash, c.Rating.AddressHash = "", "", "", ""
		c.LookupCode = ""
		pc := PublishedCase{Case: c}
		if c.ClosedAt != nil {
			pc.WorkingDays = s.cal.WorkingDaysBetween(c.CreatedAt.In(chinaTime), c.ClosedAt.In(chinaTime))
		}
		l.Cases = append(l.Cases, pc)
	}
	// The figures follow the filters: the chosen department, and the cases
	// opened in the chosen month. Cases, closed and on time are running
	// counts by department and month (case_department_months); only the
	// overdue, which depend on the time, are counted, among the open cases.
	figures := map[uint]*DepartmentCaseFigures{}
	figuresOf := func(id uint) *DepartmentCaseFigures {
		if figures[id] == nil {
			figures[id] = &DepartmentCaseFigures{}
		}
		return figures[id]
	}
	tq := db.Table("case_department_months").
		Select("department_id, SUM(cases) AS cases, SUM(closed) AS closed, SUM(on_time) AS on_time").Group("department_id")
	now = now.UTC()
	oq := db.Table("cases AS c").Select("c.department_id, COUNT(*) AS overdue").
		Where("c.state IN ?", openCaseStates()).
		Where("(c.state = ? AND c.callback_due < ?) OR (c.state <> ? AND c.rectify_due < ?)",
			CaseAwaitingCallback, now, CaseAwaitingCallback, now).
		Group("c.department_id")
	if deptID != 0 {
		tq = tq.Where("department_id = ?", deptID)
		oq = oq.Where("c.department_id = ?", deptID)
	}
	if !monthStart.IsZero() {
		tq = tq.Where("month = ?", MonthOf(monthStart))
		oq = oq.Where("c.created_at >= ? AND c.created_at < ?", monthStart.UTC(), monthStart.AddDate(0, 1, 0).UTC())
	}
	var totals []struct {
		DepartmentID          uint
		Cases, Closed, OnTime int
	}
	if err := tq.Scan(&totals).Error; err != nil {
		return nil, fmt.Errorf("case figures: %w", err)
	}
	for _, t := range totals {
		fig := figuresOf(t.DepartmentID)
		fig.Cases, fig.Closed, fig.OnTime = t.Cases, t.Closed, t.OnTime
	}
	var overdue []struct {
		DepartmentID uint
		Overdue      int
	}
	if err := oq.Scan(&overdue).Error; err != nil {
		return nil, fmt.Errorf("case figures: %w", err)
	}
	for _, o := range overdue {
		figuresOf(o.DepartmentID).Overdue = o.Overdue
	}
	var depts []Department
	if err := db.Order("sort, id").Find(&depts).Error; err != nil {
		return nil, fmt.Errorf("case figures: %w", err)
	}
	for _, d := range depts {
		var fig DepartmentCaseFigures
		if c := figures[d.ID]; c != nil {
			fig = *c
		}
		fig.Slug, fig.Name = d.Slug, d.Name
		l.Figures = append(l.Figures, fig)
		if f.Month == "" {
			l.Total += fig.Closed
		}
	}
	return l, nil
}

// CounterTallies are a counter's ratings this month and over the last
// twelve months.
type CounterTallies struct {
	Month, Year Tally
}

// FindCounterTallies sums a counter's monthly totals for the month of now
// and for the twelve months that end with it: at most twelve rows (more
// if the counter moved department), found by the primary key.
func (s *Store) FindCounterTallies(ctx context.Context, counterID uint, now time.Time) (CounterTallies, error) {
	var out CounterTallies
	local := now.In(chinaTime)
	monthStart := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, chinaTime)
	months := make([]string, 12)
	for i := range months {
		months[i] = monthStart.AddDate(0, -i, 0).Format("2006-01")
	}
	err := s.pending.read(func(pending pendingView) error {
		rows, err := s.db.WithContext(ctx).Table("rating_months").
			Where("month IN ? AND counter_id = ?", months, counterID).
			Select("month, total, satisfied, bad").Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		add := func(month string, t Tally) {
			out.Year = out.Year.plus(t)
			if month == months[0] {
				out.Month = out.Month.plus(t)
			}
		}
		for rows.Next() {
			var month string
			var t Tally
			if err := rows.Scan(&month, &t.Total, &t.Satisfied, &t.Bad); err != nil {
				return err
			}
			add(month, t)
		}
		for _, m := range months {
			add(m, pending.counter(m, counterID))
		}
		return rows.Err()
	})
	if err != nil {
		return CounterTallies{}, fmt.Errorf("counter tallies: %w", err)
	}
	return out, nil
}

// CountRows counts the rows of one of the tables that hold what residents
// submit, for health checks and tests.
func (s *Store) CountRows(ctx context.Context, table string) (int, error) {
	switch table {
	case "ratings", "cases", "case_events", "rating_months", "audit_entries", "board_versions":
	default:
		return 0, fmt.Errorf("count rows: %q is not a countable table", table)
	}
	if table == "rating_months" {
		// As stored once the rating writer has written what it holds, not
		// whenever its flush comes.
		if err := s.syncTotals(ctx); err != nil {
			return 0, fmt.Errorf("count rows of %s: %w", table, err)
		}
	}
	var n int64
	if err := s.db.WithContext(ctx).Table(table).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", table, err)
	}
	return int(n), nil
}
