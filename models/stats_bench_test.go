package models

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

// benchNow is the moment the generated ratings lead up to.
var benchNow = at("2026-11-20 18:00")

// generateRatings adds n ratings spread over the year before benchNow across
// the demo counters, one in twenty a 差评 with its case (two in three of
// those closed), with their daily and monthly running totals: what the
// portal would hold after n ratings. It writes in SQL, so that millions take
// seconds; it is for benchmarks only.
func generateRatings(tb testing.TB, s *Store, n int) {
	tb.Helper()
	ctx := context.Background()
	if _, err := s.LoadDemoData(ctx); err != nil {
		tb.Fatal(err)
	}
	var counters int
	if err := s.db.Raw("SELECT COUNT(*) FROM counters").Scan(&counters).Error; err != nil {
		tb.Fatal(err)
	}
	end := benchNow.UTC().Format("2006-01-02 15:04:05")
	steps := []struct {
		sql  string
		args []any
	}{
		{`WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ? - 1),
			c AS (SELECT id, department_id, row_number() OVER (ORDER BY id) - 1 AS k FROM counters)
		INSERT INTO ratings (counter_id, department_id, level, reasons, comment, phone, device_hash,
			address_hash, created_at, excluded)
		SELECT c.id, c.department_id, CASE WHEN i % 20 = 0 THEN 2 ELSE 4 END,
			CASE WHEN i % 20 = 0 THEN '事难办' ELSE '' END, '', '', printf('d%d', i), printf('a%d', i % 5000),
			strftime('%Y-%m-%d %H:%M:%S', ?, printf('-%d seconds', (i * 7919) % 31536000)) || '+00:00', 0
		FROM seq JOIN c ON c.k = seq.i % ?`, []any{n, end, counters}},
		{`INSERT INTO cases (number, lookup_code, rating_id, counter_id, department_id, state, callback_due,
			rectify_due, finding, responsible_person, measures, outcome, resolution, closed_at, closed_on_time,
			reopened, follow_up, created_at, updated_at)
		SELECT printf('DBGEN-%08d', id), '123456', id, counter_id, department_id,
			CASE WHEN id % 3 = 0 THEN ? ELSE ? END, created_at, created_at, '', '', '', '', '',
			CASE WHEN id % 3 = 0 THEN NULL ELSE created_at END, id % 2, 0, '', created_at, created_at
		FROM ratings WHERE level <= 2`, []any{CaseAwaitingCallback, CaseClosed}},
	}
	err := s.db.Transaction(func(tx *gorm.DB) error {
		for _, st := range steps {
			if err := tx.Exec(st.sql, st.args...).Error; err != nil {
				return err
			}
		}
		if err := monthsFromRatings(dialectSQLite).fill(tx); err != nil {
			return err
		}
		if err := departmentMonthsFromMonths.fill(tx); err != nil {
			return err
		}
		return markAllRatingsCounted(tx)
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.db.Exec("PRAGMA optimize").Error; err != nil {
		tb.Fatal(err)
	}
}

// largeRatings is how many ratings the large benchmark database holds: one
// million by default (about a minute to build on a loaded two-core
// machine); PORTAL_BENCH_RATINGS=10000000 gives the ten million.
func largeRatings(tb testing.TB) int {
	if v := os.Getenv("PORTAL_BENCH_RATINGS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10_000 {
			tb.Fatalf("PORTAL_BENCH_RATINGS=%q: want a number of ratings of at least 10000", v)
		}
		return n
	}
	return 1_000_000
}

// BenchmarkStatistics measures the published statistics, a counter's
// satisfaction and start-up on a database of 10,000 ratings and on a large
// one (see largeRatings), built in the same run: the ratio of the two is
// the figure, and must stay near 1, as none of them reads the ratings.
func BenchmarkStatistics(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10_000, largeRatings(b)} {
		path := filepath.Join(b.TempDir(), "stats.db")
		s, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		generateRatings(b, s, n)
		b.Logf("generated %d ratings in %s", n, time.Since(t0).Round(time.Millisecond))
		ctr, err := s.FindRatableCounter(ctx, "C02")
		if err != nil {
			b.Fatal(err)
		}
		size := strconv.Itoa(n)
		for name, fn := range map[string]func() error{
			"FindRatingStats": func() error {
				_, err := s.FindRatingStats(ctx, "2026-10")
				return err
			},
			"FindPublishedCases": func() error {
				_, err := s.FindPublishedCases(ctx, CaseFilter{}, benchNow)
				return err
			},
			"FindPublishedCases-filtered": func() error {
				_, err := s.FindPublishedCases(ctx, CaseFilter{Department: ctr.Department.Slug, Month: "2026-10"}, benchNow)
				return err
			},
			"FindCounterTallies": func() error {
				_, err := s.FindCounterTallies(ctx, ctr.ID, benchNow)
				return err
			},
		} {
			b.Run(name+"/ratings-"+size, func(b *testing.B) { measure(b, fn) })
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		// Start-up as cmd/portal serve does it: open (with the calendar)
		// and migrate an already migrated database.
		b.Run("startup/ratings-"+size, func(b *testing.B) {
			measure(b, func() error {
				s, err := Open(path)
				if err != nil {
					return err
				}
				defer s.Close()
				_, err = s.Migrate(ctx)
				return err
			})
		})
	}
}

// TestStatisticsUseIndexes checks the plan of every query the statistics
// make. Those of /ratings and of a counter's satisfaction read running
// totals only: no step touches the ratings or the cases, and no step walks
// a table that grows with them (only departments and counters, which do
// not, may be walked whole). The 亮单 reads its page of cases through
// indexes and its ratings by primary key.
func TestStatisticsUseIndexes(t *testing.T) {
	s := newTestStore(t)
	if s.dialect != dialectSQLite {
		t.Skip("reads SQLite's EXPLAIN QUERY PLAN; the plans of PostgreSQL and MySQL are their optimisers'")
	}
	generateRatings(t, s, 2000)
	ctx := context.Background()
	ctr, err := s.FindRatableCounter(ctx, "C02")
	if err != nil {
		t.Fatal(err)
	}
	type query struct {
		sql  string
		vars []any
	}
	var queries []query
	record := func(db *gorm.DB) {
		queries = append(queries, query{db.Statement.SQL.String(), db.Statement.Vars})
	}
	if err := s.db.Callback().Query().After("gorm:query").Register("test:record", record); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Callback().Row().After("gorm:row").Register("test:record", record); err != nil {
		t.Fatal(err)
	}
	defer s.db.Callback().Query().Remove("test:record")
	defer s.db.Callback().Row().Remove("test:record")
	plans := func(t *testing.T, run func() error) [][2]string {
		t.Helper()
		queries = nil
		if err := run(); err != nil {
			t.Fatal(err)
		}
		var steps [][2]string
		for _, q := range queries {
			var plan []struct{ Detail string }
			if err := s.db.Raw("EXPLAIN QUERY PLAN "+q.sql, q.vars...).Scan(&plan).Error; err != nil {
				t.Fatal(err)
			}
			for _, p := range plan {
				steps = append(steps, [2]string{p.Detail, q.sql})
			}
		}
		if len(queries) == 0 {
			t.Fatal("recorded no queries")
		}
		return steps
	}

	t.Run("ratings page and counter", func(t *testing.T) {
		steps := plans(t, func() error {
			if _, err := s.FindRatingStats(ctx, "2026-10"); err != nil {
				return err
			}
			_, err := s.FindCounterTallies(ctx, ctr.ID, benchNow)
			return err
		})
		// Tables that grow with ratings or cases may only be searched by
		// key: a row per counter or department and month.
		growing := map[string]bool{"ratings": true, "cases": true, "case_events": true,
			"rating_months": true, "rating_department_months": true}
		for _, st := range steps {
			detail, sql := st[0], st[1]
			table := planTable(detail, sql)
			switch {
			case table == "ratings" || table == "cases" || table == "case_events":
				t.Errorf("reads %s: plan step %q of\n%s", table, detail, sql)
			case strings.HasPrefix(detail, "SCAN ") && growing[table]:
				t.Errorf("walks %s: plan step %q of\n%s", table, detail, sql)
			}
		}
	})

	t.Run("published cases", func(t *testing.T) {
		for _, f := range []CaseFilter{{}, {Department: ctr.Department.Slug, Month: "2026-10", Page: 2}} {
			steps := plans(t, func() error {
				_, err := s.FindPublishedCases(ctx, f, benchNow)
				return err
			})
			for _, st := range steps {
				detail, sql := st[0], st[1]
				table := planTable(detail, sql)
				scan := strings.HasPrefix(detail, "SCAN ") && !strings.HasPrefix(detail, "SCAN CONSTANT")
				// case_department_months has a row per department and
				// month: it grows with time, not with cases.
				small := table == "departments" || table == "counters" || table == "case_department_months" ||
					strings.Contains(detail, "COVERING INDEX")
				// A page's ratings by primary key are bounded by the page.
				byKey := strings.Contains(detail, "USING INTEGER PRIMARY KEY")
				if (table == "ratings" && !byKey) || (scan && !small) {
					t.Errorf("plan step %q of\n%s", detail, sql)
				}
			}
		}
	})
}

// planTable is the table a step of SQLite's query plan reads ("SCAN c",
// "SEARCH r USING …"), its alias resolved through the query's FROM and
// JOIN clauses.
func planTable(detail, sql string) string {
	fields := strings.Fields(detail)
	if len(fields) < 2 || (fields[0] != "SCAN" && fields[0] != "SEARCH") {
		return ""
	}
	name := fields[1]
	for _, m := range tableAlias.FindAllStringSubmatch(sql, -1) {
		if m[2] == name {
			return m[1]
		}
	}
	return name
}

// tableAlias finds "FROM table AS alias" and "JOIN table alias".
var tableAlias = regexp.MustCompile("(?i)(?:FROM|JOIN)\\s+[`\"]?(\\w+)[`\"]?\\s+(?:AS\\s+)?[`\"]?(\\w+)")
