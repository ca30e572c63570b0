package models

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"time"

	"gorm.io/gorm"
)

// BenchDataVersion names the generator: a data set cached on disk is reused
// only if it was made by the same version at the same size. Bump it with any
// change to what GenerateBenchData writes.
const BenchDataVersion = 12

// ErrBenchSQLiteOnly is returned by GenerateBenchData on PostgreSQL and
// MySQL: the benchmark's data set is a SQLite file.
var ErrBenchSQLiteOnly = errors.New("the benchmark data generator writes SQLite databases only")

// BenchSize is the size of a generated benchmark data set.
type BenchSize struct {
	// Items is the number of generated service items, beside the demo ones.
	Items int
	// Counters is the number of counters in all, the demo ones included.
	Counters int
	// Ratings is the number of ratings, spread over Days days up to End.
	Ratings int
	Days    int
	// End is the last day of the ratings: fixed, so that a data set is the
	// same whenever it is generated.
	End time.Time
}

// BenchEnd is the last day of generated ratings.
var BenchEnd = time.Date(2026, 10, 31, 0, 0, 0, 0, chinaTime)

// GenerateBenchData fills an empty, migrated database with a deterministic
// data set at scale: the demo catalogue, generated service items indexed as
// the store indexes real ones, counters, and ratings with their daily
// running totals and a closed case for every 差评. Everything is drawn from
// fixed seeds or computed from row numbers, so two runs give the same rows.
// The ratings are written by batched SQL, with the indexes dropped and
// rebuilt, and the totals and cases computed in SQL at the end: ten million
// ratings take minutes.
func (s *Store) GenerateBenchData(ctx context.Context, size BenchSize) error {
	if s.dialect != dialectSQLite {
		// The benchmark runs on a SQLite file; the bulk SQL below is SQLite's.
		return fmt.Errorf("generate bench data on %s: %w", s.name, ErrBenchSQLiteOnly)
	}
	if size.Days <= 0 {
		size.Days = 730
	}
	if size.End.IsZero() {
		size.End = BenchEnd
	}
	if _, err := s.LoadDemoData(ctx); err != nil {
		return err
	}
	if err := s.generateItems(ctx, size.Items); err != nil {
		return fmt.Errorf("generate items: %w", err)
	}
	if err := s.generateCounters(ctx, size.Counters); err != nil {
		return fmt.Errorf("generate counters: %w", err)
	}
	if err := s.generateRatings(ctx, size); err != nil {
		return fmt.Errorf("generate ratings: %w", err)
	}
	return nil
}

// generateItems adds n published service items made deterministically from
// the demo items (same themes, departments and wording, varied names),
// indexed for search as real ones are.
func (s *Store) generateItems(ctx context.Context, n int) error {
	var bases []ServiceItem
	err := s.db.WithContext(ctx).Preload("Materials").Preload("Theme").Preload("Department").Order("id").Find(&bases).Error
	if err != nil {
		return err
	}
	qualifiers := []string{"（个人）", "（单位）", "（首次申请）", "（变更）", "（延续）", "（补办）", "（跨省通办）",
		"（港澳台居民）", "（外籍人员）", "（承诺制）", "（简易程序）", "（即办件）"}
	places := []string{"清河", "滨江", "东湖", "西山", "南港", "北塘", "新城", "老街", "望江", "凤鸣"}
	rng := rand.New(rand.NewSource(20261122))
	const batch = 5000
	for start := 0; start < n; start += batch {
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			for i := start; i < n && i < start+batch; i++ {
				base := bases[rng.Intn(len(bases))]
				it := base
				it.ID = 0
				it.Code = fmt.Sprintf("GEN%07d", i)
				it.Name = places[rng.Intn(len(places))] + base.Name + qualifiers[rng.Intn(len(qualifiers))]
				it.ViewCount = int64(rng.Intn(50000))
				it.Materials, it.Steps, it.Fees, it.FAQs, it.Counters = nil, nil, nil, nil, nil
				if err := tx.Omit("Theme", "Department").Create(&it).Error; err != nil {
					return err
				}
				it.Materials = base.Materials
				if err := indexGuide(tx, &it, base.Theme.Name, &base.Department); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// generateCounters adds counters, spread over the departments, until there
// are n.
func (s *Store) generateCounters(ctx context.Context, n int) error {
	db := s.db.WithContext(ctx)
	var have int64
	if err := db.Model(&Counter{}).Count(&have).Error; err != nil {
		return err
	}
	var depts []Department
	if err := db.Order("id").Find(&depts).Error; err != nil {
		return err
	}
	halls := []string{"综合受理大厅", "不动产登记大厅", "社保医保大厅", "企业开办专区"}
	var add []Counter
	for i := int(have); i < n; i++ {
		d := depts[i%len(depts)]
		add = append(add, Counter{Code: fmt.Sprintf("G%04d", i), Name: d.ShortName + "综合窗口", DepartmentID: d.ID,
			Hall: halls[i%len(halls)], Floor: fmt.Sprintf("%d楼", 1+i%4), Number: fmt.Sprintf("G%04d", i),
			Hours: "工作日 9:00-17:00", StaffPost: "综合受理岗", Enabled: true, Version: 1})
	}
	if len(add) == 0 {
		return nil
	}
	return db.Omit("Department", "ServiceItems").CreateInBatches(&add, 500).Error
}

// generateRatings writes the ratings by SQL from row numbers: counter, time
// and level are hashes of the number. One 差评 in about 33 opens a case,
// closed long ago.
func (s *Store) generateRatings(ctx context.Context, size BenchSize) error {
	if size.Ratings <= 0 {
		return nil
	}
	db := s.db.WithContext(ctx)
	var have int64
	if err := db.Model(&Rating{}).Count(&have).Error; err != nil {
		return err
	}
	if have > 0 {
		return fmt.Errorf("the database already has %d ratings", have)
	}
	// Index maintenance of random keys dominates bulk inserts: drop the
	// indexes and build them once at the end, from sorted data.
	type index struct{ Name, SQL string }
	var indexes []index
	if err := db.Raw(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ratings' AND sql IS NOT NULL`).
		Scan(&indexes).Error; err != nil {
		return err
	}
	for _, ix := range indexes {
		if err := db.Exec(`DROP INDEX "` + ix.Name + `"`).Error; err != nil {
			return err
		}
	}
	// The temp table lives on one connection: keep every statement of the
	// generation on it, in a transaction per batch, through one Conn.
	first := size.End.AddDate(0, 0, 1-size.Days)
	return db.Connection(func(conn *gorm.DB) error {
		// Index builds and the GROUP BYs sort tens of millions of keys: a
		// large page cache and in-memory temporaries save re-reading the
		// file many times over. This connection only.
		if err := conn.Exec(`PRAGMA cache_size = -262144`).Error; err != nil {
			return err
		}
		if err := conn.Exec(`PRAGMA temp_store = MEMORY`).Error; err != nil {
			return err
		}
		if err := conn.Exec(`CREATE TEMP TABLE IF NOT EXISTS bench_counters (idx INTEGER PRIMARY KEY, id INTEGER, department_id INTEGER)`).Error; err != nil {
			return err
		}
		if err := conn.Exec(`DELETE FROM bench_counters`).Error; err != nil {
			return err
		}
		if err := conn.Exec(`INSERT INTO bench_counters (idx, id, department_id)
			SELECT ROW_NUMBER() OVER (ORDER BY id) - 1, id, department_id FROM counters WHERE enabled`).Error; err != nil {
			return err
		}
		var nCounters int64
		if err := conn.Raw(`SELECT COUNT(*) FROM bench_counters`).Scan(&nCounters).Error; err != nil {
			return err
		}
		const batch = 500_000
		for lo := 0; lo < size.Ratings; lo += batch {
			hi := min(lo+batch, size.Ratings) - 1
			// h is a multiplicative hash of the row number; the day grows
			// with the number, the hour falls in 9:00–17:00 Beijing time.
			err := conn.Transaction(func(tx *gorm.DB) error {
				return tx.Exec(`
					WITH RECURSIVE seq(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM seq WHERE n < ?),
					h AS (SELECT n, (n * 2654435761) % 4294967296 AS h FROM seq)
					INSERT INTO ratings (counter_id, department_id, level, reasons, comment, phone, device_hash, address_hash, created_at, excluded)
					SELECT bc.id, bc.department_id,
						CASE WHEN h.h % 1000 < 30 THEN 2 ELSE 4 END,
						CASE WHEN h.h % 1000 < 30 THEN '事难办' ELSE '' END,
						'', '', printf('bench-%d', h.n), 'bench',
						strftime('%Y-%m-%d %H:%M:%S', ? + (h.n * ? / ?) * 86400 + 3600 + (h.h / 7) % 28800, 'unixepoch') || '+00:00',
						0
					FROM h JOIN bench_counters bc ON bc.idx = (h.h / 1000) % ?`,
					lo, hi, first.Unix(), size.Days, size.Ratings, nCounters).Error
			})
			if err != nil {
				return err
			}
		}
		for _, ix := range indexes {
			if err := conn.Exec(ix.SQL).Error; err != nil {
				return err
			}
		}
		return conn.Transaction(func(tx *gorm.DB) error {
			// The running totals by Beijing month, counters' and
			// departments', as the rating writer keeps them.
			for _, r := range []rollup{monthsFromRatings(dialectSQLite), departmentMonthsFromMonths} {
				if err := tx.Exec(`DELETE FROM ` + r.into).Error; err != nil {
					return err
				}
				if err := r.fill(tx); err != nil {
					return err
				}
			}
			if err := markAllRatingsCounted(tx); err != nil {
				return err
			}
			// A closed case for every 差评, numbered by day as openCase
			// numbers them, with its two events.
			if err := tx.Exec(`INSERT INTO cases (number, lookup_code, rating_id, counter_id, department_id, state,
					callback_due, rectify_due, called_back_at, finding, responsible_person, measures, outcome, resolution,
					closed_at, closed_on_time, reopened, follow_up, created_at, updated_at)
				SELECT 'DB' || replace(substr(datetime(created_at, '+8 hours'), 1, 10), '-', '') || '-' ||
						printf('%04d', ROW_NUMBER() OVER (PARTITION BY substr(datetime(created_at, '+8 hours'), 1, 10) ORDER BY id)),
					printf('%06d', (id * 2654435761) % 1000000), id, counter_id, department_id, ?,
					strftime('%Y-%m-%d %H:%M:%S', created_at, '+1 day') || '+00:00',
					strftime('%Y-%m-%d %H:%M:%S', created_at, '+21 days') || '+00:00',
					strftime('%Y-%m-%d %H:%M:%S', created_at, '+4 hours') || '+00:00',
					?, '窗口负责人', ?, ?, ?,
					strftime('%Y-%m-%d %H:%M:%S', created_at, '+3 days') || '+00:00',
					1, 0, '', created_at, strftime('%Y-%m-%d %H:%M:%S', created_at, '+3 days') || '+00:00'
				FROM ratings WHERE level <= 2`,
				CaseClosed, FindingTrue, demoFixes[2], OutcomeFixed, "已落实整改："+demoFixes[2]).Error; err != nil {
				return err
			}
			if err := tx.Exec(`INSERT INTO case_events (case_id, created_at, actor, "from", "to", note)
				SELECT id, created_at, '系统', '', ?, '群众评价“不满意”，自动生成督办单' FROM cases`, CaseAwaitingCallback).Error; err != nil {
				return err
			}
			if err := tx.Exec(`INSERT INTO case_events (case_id, created_at, actor, "from", "to", note)
				SELECT id, closed_at, '窗口负责人', ?, ?, '办结（已整改）：' || resolution FROM cases`, CaseRectifying, CaseClosed).Error; err != nil {
				return err
			}
			if err := tx.Exec(`DELETE FROM case_department_months`).Error; err != nil {
				return err
			}
			return caseMonthsFromCases(dialectOf(tx)).fill(tx)
		})
	})
}

// CheckBenchData checks a generated data set cheaply enough for ten million
// ratings: the counters' and departments' monthly totals add up to the
// ratings, every 差评 has its case, and the departments' monthly case counts
// add up to the cases. (TotalsMismatch compares row by row; the tests run it
// on small sets.)
func (s *Store) CheckBenchData(ctx context.Context) error {
	if err := s.syncTotals(ctx); err != nil {
		return fmt.Errorf("check bench data: %w", err)
	}
	var got struct{ Ratings, Months, DepartmentMonths, Bad, Cases, CaseTotals int64 }
	err := s.db.WithContext(ctx).Raw(`SELECT
		(SELECT COUNT(*) FROM ratings WHERE NOT excluded) AS ratings,
		(SELECT COALESCE(SUM(total), 0) FROM rating_months) AS months,
		(SELECT COALESCE(SUM(total), 0) FROM rating_department_months) AS department_months,
		(SELECT COUNT(*) FROM ratings WHERE level <= 2) AS bad,
		(SELECT COUNT(*) FROM cases) AS cases,
		(SELECT COALESCE(SUM(cases), 0) FROM case_department_months) AS case_totals`).Scan(&got).Error
	if err != nil {
		return fmt.Errorf("check bench data: %w", err)
	}
	if got.Ratings != got.Months || got.Ratings != got.DepartmentMonths ||
		got.Bad != got.Cases || got.Cases != got.CaseTotals {
		return fmt.Errorf("check bench data: %d ratings but totals of %d by month, %d by department and month; %d 差评 but %d cases, counted as %d",
			got.Ratings, got.Months, got.DepartmentMonths, got.Bad, got.Cases, got.CaseTotals)
	}
	return nil
}
