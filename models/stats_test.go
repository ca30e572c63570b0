package models

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

// recountMonth counts a month's ratings as /ratings should publish them,
// from the ratings themselves: by department, by counter and in all.
func recountMonth(t *testing.T, s *Store, month string) (all Tally, depts, counters map[string]Tally) {
	t.Helper()
	var ratings []Rating
	if err := s.db.Where("NOT excluded").Find(&ratings).Error; err != nil {
		t.Fatal(err)
	}
	var ds []Department
	var cs []Counter
	s.db.Find(&ds)
	s.db.Find(&cs)
	slug, code := map[uint]string{}, map[uint]string{}
	for _, d := range ds {
		slug[d.ID] = d.Slug
	}
	for _, c := range cs {
		code[c.ID] = c.Code
	}
	depts, counters = map[string]Tally{}, map[string]Tally{}
	add := func(t *Tally, r Rating) {
		t.Total++
		if IsBad(r.Level) {
			t.Bad++
		} else {
			t.Satisfied++
		}
	}
	for _, r := range ratings {
		if MonthOf(r.CreatedAt) != month {
			continue
		}
		add(&all, r)
		d, c := depts[slug[r.DepartmentID]], counters[code[r.CounterID]]
		add(&d, r)
		add(&c, r)
		depts[slug[r.DepartmentID]], counters[code[r.CounterID]] = d, c
	}
	return all, depts, counters
}

// checkStatsEqualRecount checks every figure /ratings publishes for a
// month against a recount of the ratings.
func checkStatsEqualRecount(t *testing.T, s *Store, month string) {
	t.Helper()
	ctx := context.Background()
	st, err := s.FindRatingStats(ctx, month)
	if err != nil {
		t.Fatal(err)
	}
	all, depts, counters := recountMonth(t, s, month)
	if st.All != all {
		t.Errorf("%s in all: published %+v, recounted %+v", month, st.All, all)
	}
	var nDepts, nCounters int64
	s.db.Model(&Department{}).Count(&nDepts)
	s.db.Model(&Counter{}).Where("enabled").Count(&nCounters)
	if len(st.Departments) != int(nDepts) || len(st.Counters) < int(nCounters) {
		t.Errorf("%d departments and %d counters listed, want all %d and %d", len(st.Departments), len(st.Counters), nDepts, nCounters)
	}
	for _, units := range []struct {
		list []UnitTally
		want map[string]Tally
	}{{st.Departments, depts}, {st.Counters, counters}} {
		seen := map[string]bool{}
		for i, u := range units.list {
			seen[u.Key] = true
			if u.Tally != units.want[u.Key] {
				t.Errorf("%s %s: published %+v (%.4f), recounted %+v", month, u.Key, u.Tally, u.Rate(), units.want[u.Key])
			}
			if i > 0 && units.list[i-1].Total == 0 && u.Total > 0 {
				t.Errorf("%s: %s, rated, ranks below %s, not rated", month, u.Key, units.list[i-1].Key)
			}
		}
		for key, want := range units.want {
			if !seen[key] {
				t.Errorf("%s: %s with %+v is not listed", month, key, want)
			}
		}
	}
	if last := st.Trend[len(st.Trend)-1]; last.Month != month || last.Tally != all {
		t.Errorf("trend ends with %+v, want %s %+v", last, month, all)
	}
	if bad, err := s.TotalsMismatch(ctx); err != nil || bad != 0 {
		t.Errorf("running totals differ from a recount on %d rows (%v)", bad, err)
	}
}

// checkCaseFiguresEqualRecount checks the departments' case figures of the
// 亮单 against a recount of the cases.
func checkCaseFiguresEqualRecount(t *testing.T, s *Store) {
	t.Helper()
	now := at("2026-11-30 12:00")
	var cases []Case
	s.db.Preload("Department").Find(&cases)
	// Every month with cases, and a department's month: the figures follow
	// the filters.
	filters := []CaseFilter{{}}
	months := map[string]bool{}
	for _, c := range cases {
		if m := MonthOf(c.CreatedAt); !months[m] {
			months[m] = true
			filters = append(filters, CaseFilter{Month: m}, CaseFilter{Month: m, Department: c.Department.Slug})
		}
	}
	for _, filter := range filters {
		l, err := s.FindPublishedCases(context.Background(), filter, now)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]DepartmentCaseFigures{}
		listed := 0
		for _, c := range cases {
			if c.State == CaseClosed && (filter.Department == "" || c.Department.Slug == filter.Department) &&
				(filter.Month == "" || MonthOf(*c.ClosedAt) == filter.Month) {
				listed++
			}
			if (filter.Month != "" && MonthOf(c.CreatedAt) != filter.Month) || (filter.Department != "" && c.Department.Slug != filter.Department) {
				continue
			}
			f := want[c.Department.Slug]
			f.Cases++
			if c.State == CaseClosed {
				f.Closed++
				if c.ClosedOnTime {
					f.OnTime++
				}
			} else if c.Overdue(now) {
				f.Overdue++
			}
			want[c.Department.Slug] = f
		}
		if l.Total != listed {
			t.Errorf("the 亮单 (%+v) says %d closed cases, a recount %d", filter, l.Total, listed)
		}
		for _, f := range l.Figures {
			w := want[f.Slug]
			if f.Cases != w.Cases || f.Closed != w.Closed || f.OnTime != w.OnTime || f.Overdue != w.Overdue {
				t.Errorf("case figures of %s (%+v): published %+v, recounted %+v", f.Slug, filter, f, w)
			}
		}
	}
}

// TestPublishedFiguresEqualARecount rates, excludes a rating, and moves a
// case through its steps and a 追评 that reopens it: after each, every
// department's and counter's rate, the trend and the case figures are what
// a recount of the ratings and cases gives.
func TestPublishedFiguresEqualARecount(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	rules := DefaultRatingRules()
	if _, err := s.LoadDemoRatings(ctx, rules, at("2026-11-20 18:00")); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"2026-10", "2026-11", "2027-01"} {
		checkStatsEqualRecount(t, s, m)
	}
	checkCaseFiguresEqualRecount(t, s)

	var recs []*RatingReceipt
	for i := 0; i < 12; i++ {
		in := RatingInput{CounterCode: []string{"C02", "B01", "A04"}[i%3], Level: []int{LevelSatisfied, LevelDissatisfied}[i%2],
			Reasons: []string{"事难办"}, Device: "recount-" + string(rune('a'+i)), Address: "1.2.3.4"}
		recs = append(recs, rate(t, s, in, at("2026-11-20 19:00")))
	}
	checkStatsEqualRecount(t, s, "2026-11")

	t.Run("exclusion", func(t *testing.T) {
		// An upheld 申诉复核 sets a rating aside and takes it out of
		// the running totals, in one transaction.
		for _, rec := range recs[:2] {
			err := s.db.Transaction(func(tx *gorm.DB) error {
				if err := tx.Model(&Rating{}).Where("id = ?", rec.Rating.ID).Update("excluded", true).Error; err != nil {
					return err
				}
				return addToTotals(tx, rec.Rating, -1)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		checkStatsEqualRecount(t, s, "2026-11")
	})

	t.Run("case steps and reopening", func(t *testing.T) {
		c := recs[1].Case
		by := Actor{Name: "窗口负责人"}
		now := at("2026-11-20 20:00")
		steps := []func() error{
			func() error { return s.RecordCallback(ctx, c.ID, 0, CaseStep{By: by, Note: "已回访"}, now) },
			func() error {
				return s.RecordFinding(ctx, c.ID, 0, CaseStep{By: by, Finding: FindingTrue, Note: "属实"}, now)
			},
			func() error {
				return s.StartRectification(ctx, c.ID, 0, CaseStep{By: by, ResponsiblePerson: "李强", Measures: "培训"}, now)
			},
			func() error {
				return s.CloseCase(ctx, c.ID, 0, CaseStep{By: by, Outcome: OutcomeFixed, Resolution: "已培训"}, now)
			},
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i+1, err)
			}
			checkCaseFiguresEqualRecount(t, s)
		}
		if _, err := s.FollowUpCase(ctx, c.Number, c.LookupCode, "5.6.7.8", false, rules, at("2026-11-23 09:00")); err != nil {
			t.Fatal(err)
		}
		checkCaseFiguresEqualRecount(t, s)
		checkStatsEqualRecount(t, s, "2026-11")
		if n, err := s.TotalsMismatch(ctx); err != nil || n != 0 {
			t.Errorf("after the steps and the reopening, TotalsMismatch = %d, %v", n, err)
		}
	})
}

// TestCaseTotalsMigration builds the departments' monthly case counts from
// the cases, as migration 15 does on a deployed database: the 亮单's
// figures are then what a recount of the cases gives, month by month.
func TestCaseTotalsMigration(t *testing.T) {
	s := newRatedDemoStore(t)
	if err := s.db.Exec("DELETE FROM case_department_months").Error; err != nil {
		t.Fatal(err)
	}
	if err := s.db.Transaction(migrationUp(t, 15)); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.db.Table("case_department_months").Count(&n).Error; err != nil || n == 0 {
		t.Fatalf("%d rows built, %v", n, err)
	}
	checkCaseFiguresEqualRecount(t, s)
}

// legacyRatingMonth is rating_months as migrations 9 to 18 left it: keyed
// by counter first, with an index by month.
type legacyRatingMonth struct {
	CounterID    uint   `gorm:"primaryKey;autoIncrement:false"`
	Month        string `gorm:"primaryKey;size:7;index:idx_rating_months_month"`
	DepartmentID uint   `gorm:"primaryKey;autoIncrement:false"`
	Total        int    `gorm:"not null"`
	Satisfied    int    `gorm:"not null"`
	Bad          int    `gorm:"not null"`
}

func (legacyRatingMonth) TableName() string { return "rating_months" }

// TestRatingMonthsRekeyMigration: migration 19 turns the counters' monthly
// totals of a deployed database, keyed by counter first, into totals keyed
// by month first (WITHOUT ROWID on SQLite), keeping every row: the
// published figures are the same before and after, and the writer goes on
// adding to them.
func TestRatingMonthsRekeyMigration(t *testing.T) {
	s := newRatedDemoStore(t)
	ctx := context.Background()
	// The columns are named: the legacy table has them in another order,
	// and PostgreSQL refuses a cached SELECT * whose columns moved.
	read := s.db.Select("month, counter_id, department_id, total, satisfied, bad").Order("month, counter_id, department_id").Session(&gorm.Session{})
	var months []RatingMonth
	if err := read.Find(&months).Error; err != nil || len(months) == 0 {
		t.Fatalf("%d monthly totals, %v", len(months), err)
	}
	if err := s.db.Migrator().DropTable("rating_months"); err != nil {
		t.Fatal(err)
	}
	if err := s.db.AutoMigrate(&legacyRatingMonth{}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Table("rating_months").CreateInBatches(months, 500).Error; err != nil {
		t.Fatal(err)
	}
	if !s.db.Migrator().HasIndex(&legacyRatingMonth{}, "idx_rating_months_month") {
		t.Fatal("the legacy table has no index by month")
	}
	before, err := s.FindRatingStats(ctx, "2026-10")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Transaction(migrationUp(t, 19)); err != nil {
		t.Fatal(err)
	}
	var after []RatingMonth
	if err := read.Find(&after).Error; err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, months) {
		t.Fatalf("%d rows after the migration, %d before, or they differ", len(after), len(months))
	}
	if s.db.Migrator().HasIndex(&RatingMonth{}, "idx_rating_months_month") {
		t.Error("the index by month is still there")
	}
	if s.dialect == dialectSQLite {
		var ddl string
		s.db.Raw("SELECT sql FROM sqlite_schema WHERE name = 'rating_months'").Scan(&ddl)
		if !strings.Contains(ddl, "WITHOUT ROWID") || !strings.Contains(ddl, "PRIMARY KEY (month, counter_id, department_id)") {
			t.Errorf("rating_months is %s", ddl)
		}
	}
	stats, err := s.FindRatingStats(ctx, "2026-10")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stats, before) {
		t.Error("the published figures changed with the migration")
	}
	checkStatsEqualRecount(t, s, "2026-10")
	now := time.Now()
	for i, level := range []int{LevelSatisfied, LevelDissatisfied, LevelSatisfied} {
		_, err := s.RateCounter(ctx, RatingInput{CounterCode: "C02", Level: level, Reasons: []string{"事难办"},
			Device: fmt.Sprintf("rekeyed-%d", i), Address: "a"}, DefaultRatingRules(), now)
		if err != nil {
			t.Fatal(err)
		}
	}
	checkStatsEqualRecount(t, s, MonthOf(now))
	if n, err := s.TotalsMismatch(ctx); err != nil || n != 0 {
		t.Errorf("TotalsMismatch after the migration and three ratings: %d, %v", n, err)
	}
}

// TestRankUnits ranks units as the page promises: a higher rate first, then
// more ratings, then the order they were given in; a unit without ratings
// after every rated one.
func TestRankUnits(t *testing.T) {
	units := []UnitTally{
		{Key: "none"},
		{Key: "half-of-2", Tally: Tally{Total: 2, Satisfied: 1, Bad: 1}},
		{Key: "all-of-1", Tally: Tally{Total: 1, Satisfied: 1}},
		{Key: "half-of-4", Tally: Tally{Total: 4, Satisfied: 2, Bad: 2}},
		{Key: "none-of-3", Tally: Tally{Total: 3, Bad: 3}},
		{Key: "all-of-5", Tally: Tally{Total: 5, Satisfied: 5}},
		{Key: "also-none"},
		{Key: "two-thirds", Tally: Tally{Total: 3, Satisfied: 2, Bad: 1}},
		{Key: "half-of-2-again", Tally: Tally{Total: 2, Satisfied: 1, Bad: 1}},
	}
	rankUnits(units)
	var got []string
	for _, u := range units {
		got = append(got, u.Key)
	}
	want := []string{"all-of-5", "all-of-1", "two-thirds", "half-of-4", "half-of-2", "half-of-2-again",
		"none-of-3", "none", "also-none"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ranked %v, want %v", got, want)
	}
}

// TestTotalsMismatchFindsDrift: the recount check reports a running total
// that differs from its recount, and a total with nothing behind it, in
// each of the three tables of totals; and nothing once they are put back.
func TestTotalsMismatchFindsDrift(t *testing.T) {
	s := newRatedDemoStore(t)
	ctx := context.Background()
	check := func(what string, want bool) {
		t.Helper()
		n, err := s.TotalsMismatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if (n > 0) != want {
			t.Errorf("%s: TotalsMismatch = %d", what, n)
		}
	}
	check("as loaded", false)
	for _, c := range []struct{ table, column, orphan string }{
		{"rating_months", "satisfied", "INSERT INTO rating_months (month, counter_id, department_id, total, satisfied, bad) VALUES ('1999-01', 1, 1, 1, 1, 0)"},
		{"rating_department_months", "bad", "INSERT INTO rating_department_months (month, department_id, total, satisfied, bad) VALUES ('1999-01', 1, 1, 0, 1)"},
		{"case_department_months", "closed", "INSERT INTO case_department_months (department_id, month, cases, closed, on_time) VALUES (1, '1999-01', 1, 0, 0)"},
	} {
		exec := func(sql string) {
			t.Helper()
			if err := s.db.Exec(sql).Error; err != nil {
				t.Fatal(err)
			}
		}
		exec("UPDATE " + c.table + " SET " + c.column + " = " + c.column + " + 1")
		check(c.table+" counted one too many", true)
		exec("UPDATE " + c.table + " SET " + c.column + " = " + c.column + " - 1")
		check(c.table+" put back", false)
		exec(c.orphan)
		check(c.table+" with a month nothing was counted in", true)
		exec("DELETE FROM " + c.table + " WHERE month = '1999-01'")
		check(c.table+" without it", false)
	}
}

// TestFindCounterTallies sums a counter's months as its page shows them:
// the month of now in Beijing (here just past midnight of the 1st, still
// the last day of the month before in UTC) and the twelve months ending
// with it, under every department it was rated under, and nothing of
// another counter, of the thirteenth month back or of a month to come.
func TestFindCounterTallies(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	rows := []RatingMonth{
		{Month: "2026-03", CounterID: 1, DepartmentID: 1, Total: 2, Satisfied: 1, Bad: 1},
		{Month: "2026-03", CounterID: 1, DepartmentID: 2, Total: 3, Satisfied: 3},
		{Month: "2026-02", CounterID: 1, DepartmentID: 1, Total: 5, Satisfied: 4, Bad: 1},
		{Month: "2025-04", CounterID: 1, DepartmentID: 1, Total: 7, Satisfied: 7},
		{Month: "2025-03", CounterID: 1, DepartmentID: 1, Total: 100, Satisfied: 100},
		{Month: "2026-04", CounterID: 1, DepartmentID: 1, Total: 1000, Bad: 1000},
		{Month: "2026-03", CounterID: 2, DepartmentID: 1, Total: 50, Satisfied: 50},
	}
	if err := s.db.Create(&rows).Error; err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 2, 28, 16, 30, 0, 0, time.UTC) // 00:30 on 1 March in Beijing
	got, err := s.FindCounterTallies(ctx, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	want := CounterTallies{Month: Tally{Total: 5, Satisfied: 4, Bad: 1}, Year: Tally{Total: 17, Satisfied: 15, Bad: 2}}
	if got != want {
		t.Errorf("tallies %+v, want %+v", got, want)
	}
}
