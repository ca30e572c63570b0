package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// migration is one ordered, recorded step of the schema's history. Steps are
// never edited once released; a change to the schema is a new step. Steps
// describe tables through the current Go types, so a later step that adds a
// column checks Migrator().HasColumn first.
type migration struct {
	version int
	name    string
	up      func(tx *gorm.DB) error
}

// schemaMigration records an applied migration.
type schemaMigration struct {
	Version   int    `gorm:"primaryKey;autoIncrement:false"`
	Name      string `gorm:"size:200;not null"`
	AppliedAt time.Time
}

func (schemaMigration) TableName() string { return "schema_migrations" }

func migrations() []migration {
	return []migration{
		{1, "catalogue: themes, departments, counters, service items and guide elements", func(tx *gorm.DB) error {
			// AutoMigrate, unlike CreateTable, also creates the many-to-many
			// join table of counters and service items.
			return tx.AutoMigrate(&Theme{}, &Department{}, &Counter{}, &ServiceItem{},
				&Material{}, &Step{}, &Fee{}, &FAQ{})
		}},
		{2, "search index of service items (character bigrams)", func(tx *gorm.DB) error {
			if tx.Dialector.Name() != "sqlite" {
				return migrateServerSearch(tx)
			}
			// unicode61 splits on the spaces between the bigrams that the
			// store writes; it cannot segment Chinese itself.
			if err := tx.Exec(`CREATE VIRTUAL TABLE service_item_search USING fts5(
				name_grams, body_grams, chars, tokenize = 'unicode61')`).Error; err != nil {
				return err
			}
			// The vocabulary tells which bigrams occur at all, for loose
			// matching of compound words.
			return tx.Exec(`CREATE VIRTUAL TABLE service_item_search_vocab USING fts5vocab(service_item_search, 'row')`).Error
		}},
		{3, "responsibility boards: sections, entries, boundaries and their version history", func(tx *gorm.DB) error {
			return tx.AutoMigrate(&DutySection{}, &DutyEntry{}, &DutyBoundary{}, &BoardVersion{})
		}},
		{4, "ratings, their daily running totals, cases and case events", func(tx *gorm.DB) error {
			return tx.AutoMigrate(&Rating{}, &ratingDay{}, &Case{}, &CaseEvent{})
		}},
		{5, "staff accounts, failed sign-ins and the audit log", func(tx *gorm.DB) error {
			return tx.AutoMigrate(&User{}, &signInFailure{}, &AuditEntry{})
		}},
		{6, "versions of responsibility entries, for conflict detection", func(tx *gorm.DB) error {
			if tx.Migrator().HasColumn(&DutyEntry{}, "Version") {
				return nil
			}
			if err := tx.Migrator().AddColumn(&DutyEntry{}, "Version"); err != nil {
				return err
			}
			return tx.Exec("UPDATE duty_entries SET version = 1").Error
		}},
		{7, "versions of service items and counters, for conflict detection", func(tx *gorm.DB) error {
			for _, m := range []any{&ServiceItem{}, &Counter{}} {
				if tx.Migrator().HasColumn(m, "Version") {
					continue
				}
				if err := tx.Migrator().AddColumn(m, "Version"); err != nil {
					return err
				}
			}
			if err := tx.Exec("UPDATE service_items SET version = 1 WHERE version = 0").Error; err != nil {
				return err
			}
			return tx.Exec("UPDATE counters SET version = 1 WHERE version = 0").Error
		}},
		{8, "rating guards: per-address locks for concurrent writers on PostgreSQL and MySQL", func(tx *gorm.DB) error {
			return tx.AutoMigrate(&ratingGuard{})
		}},
		{9, "monthly running totals of ratings, for statistics that do not grow with the ratings", func(tx *gorm.DB) error {
			if err := tx.AutoMigrate(&RatingMonth{}); err != nil {
				return err
			}
			// Portable SQL: substr is in SQLite, PostgreSQL and MySQL.
			return tx.Exec(`INSERT INTO rating_months (counter_id, month, department_id, total, satisfied, bad)
				SELECT counter_id, substr(day, 1, 7), department_id, SUM(total), SUM(satisfied), SUM(bad)
				FROM rating_days GROUP BY counter_id, substr(day, 1, 7), department_id`).Error
		}},
		{10, "indexes for the published cases: newest closed first, and the departments' figures", func(tx *gorm.DB) error {
			// Plain CREATE INDEX, valid in SQLite, PostgreSQL and MySQL.
			if err := tx.Exec(`CREATE INDEX idx_cases_closed ON cases (state, closed_at, id)`).Error; err != nil {
				return err
			}
			return tx.Exec(`CREATE INDEX idx_cases_figures ON cases (department_id, created_at, state,
				closed_on_time, callback_due, rectify_due)`).Error
		}},
		{11, "indexes that count a theme's and a department's published items without reading the items", func(tx *gorm.DB) error {
			// The home and catalogue pages count items per theme and per
			// department: at 100,000 items, reading each row to check
			// published took 300 ms a list. Plain SQL, valid on all three.
			if err := tx.Exec(`CREATE INDEX idx_service_items_theme_published ON service_items (theme_id, published)`).Error; err != nil {
				return err
			}
			return tx.Exec(`CREATE INDEX idx_service_items_department_published ON service_items (department_id, published)`).Error
		}},
		{12, "monthly running totals of departments, for department figures and a trend that do not grow with counters or ratings", func(tx *gorm.DB) error {
			if err := tx.AutoMigrate(&RatingDepartmentMonth{}); err != nil {
				return err
			}
			// From the counters' monthly totals: a few tens of thousands
			// of rows at ten million ratings, well under a second.
			return departmentMonthsFromMonths.fill(tx)
		}},
		{13, "search index keyed by item and facets, and an index of names (SQLite)", func(tx *gorm.DB) error {
			if tx.Dialector.Name() != "sqlite" {
				// The PostgreSQL and MySQL index is unchanged.
				return nil
			}
			// The index is written by the current code, so it is created
			// in the current shape (the marks column came with 22).
			return rebuildSQLiteSearch(tx)
		}},
		{14, "no index of ratings by counter and phone on SQLite: the rating writer knows the window's ratings", func(tx *gorm.DB) error {
			if tx.Dialector.Name() != "sqlite" {
				// Any number of instances write there: the check reads the index.
				return nil
			}
			return tx.Exec(`DROP INDEX IF EXISTS idx_ratings_device`).Error
		}},
		{15, "monthly running counts of departments' cases, for the 亮单's figures", func(tx *gorm.DB) error {
			if err := tx.AutoMigrate(&CaseDepartmentMonth{}); err != nil {
				return err
			}
			return caseMonthsFromCases(dialectOf(tx)).fill(tx)
		}},
		{16, "no index of ratings by department: nothing reads it, and each rating wrote a page of it", func(tx *gorm.DB) error {
			if !tx.Migrator().HasIndex(&Rating{}, "idx_ratings_department_id") {
				return nil
			}
			return tx.Migrator().DropIndex(&Rating{}, "idx_ratings_department_id")
		}},
		{17, "no index of ratings by address on SQLite: the rating writer counts each address's ratings by minute", func(tx *gorm.DB) error {
			if tx.Dialector.Name() != "sqlite" {
				// Any number of instances write there: the limit reads the index.
				return nil
			}
			return tx.Exec(`DROP INDEX IF EXISTS idx_ratings_address`).Error
		}},
		{18, "no daily running totals of ratings: nothing reads them since the monthly ones, and each rating wrote them", func(tx *gorm.DB) error {
			return tx.Exec(`DROP TABLE IF EXISTS rating_days`).Error
		}},
		{19, "counters' monthly totals keyed by month first, WITHOUT ROWID on SQLite: a month's rows lie together", func(tx *gorm.DB) error {
			return rekeyRatingMonths(tx)
		}},
		{20, "index of names keyed by item and name length (SQLite): name matches ranked without bm25", func(tx *gorm.DB) error {
			if tx.Dialector.Name() != "sqlite" {
				return nil
			}
			return reindexNames(tx)
		}},
		{21, "mark of the last rating the stored totals count (SQLite): the rating writer adds to them once a second", createTotalsMark},
		{22, "search index marks the items that have a resident's word or one of its synonyms (SQLite)", markWords},
	}
}

// ratingDay is the daily running total of a counter's ratings as
// migrations 4 to 17 knew it: migration 9 built the monthly totals from it,
// and migration 18 drops it.
type ratingDay struct {
	CounterID    uint   `gorm:"primaryKey;autoIncrement:false"`
	Day          string `gorm:"primaryKey;size:10"`
	DepartmentID uint   `gorm:"not null;index"`
	Total        int    `gorm:"not null"`
	Satisfied    int    `gorm:"not null"`
	Bad          int    `gorm:"not null"`
}

func (ratingDay) TableName() string { return "rating_days" }

// rekeyRatingMonths is migration 19. /ratings reads every counter's total
// of one month: keyed by counter first, that was a thousand lookups in the
// key's index and as many in the table; keyed by month first, WITHOUT ROWID,
// it is one range of the table. The writer's updates of the current month
// then fall on that range's few pages, and no index is left to update. On
// PostgreSQL and MySQL only the key's order changes. The index by month,
// which the new key makes redundant, goes.
//
// GORM's SQLite migrator rebuilds a table from its columns to alter or
// drop one, and would lose WITHOUT ROWID: a later change to this table on
// SQLite must rebuild it by hand, as this one does.
func rekeyRatingMonths(tx *gorm.DB) error {
	var stmts []string
	switch tx.Dialector.Name() {
	case "sqlite":
		// A table cannot change its key in SQLite: it is rebuilt (25,000
		// rows at ten million ratings), and its index goes with the old one.
		stmts = []string{
			`CREATE TABLE rating_months_rekeyed (month text, counter_id integer, department_id integer,
				total integer NOT NULL, satisfied integer NOT NULL, bad integer NOT NULL,
				PRIMARY KEY (month, counter_id, department_id)) WITHOUT ROWID`,
			`INSERT INTO rating_months_rekeyed (month, counter_id, department_id, total, satisfied, bad)
				SELECT month, counter_id, department_id, total, satisfied, bad FROM rating_months`,
			`DROP TABLE rating_months`,
			`ALTER TABLE rating_months_rekeyed RENAME TO rating_months`,
		}
	case "postgres":
		// GORM leaves the key unnamed, so PostgreSQL names it; read the
		// name rather than assume it.
		var name string
		err := tx.Raw(`SELECT conname FROM pg_constraint
			WHERE conrelid = 'rating_months'::regclass AND contype = 'p'`).Scan(&name).Error
		if err != nil {
			return err
		}
		if name == "" {
			return errors.New("rating_months has no primary key")
		}
		stmts = []string{`ALTER TABLE rating_months DROP CONSTRAINT ` + tx.Statement.Quote(name) + `,
			ADD PRIMARY KEY (month, counter_id, department_id)`}
	default:
		stmts = []string{`ALTER TABLE rating_months DROP PRIMARY KEY, ADD PRIMARY KEY (month, counter_id, department_id)`}
	}
	for _, stmt := range stmts {
		if err := tx.Exec(stmt).Error; err != nil {
			return err
		}
	}
	if tx.Migrator().HasIndex(&RatingMonth{}, "idx_rating_months_month") {
		return tx.Migrator().DropIndex(&RatingMonth{}, "idx_rating_months_month")
	}
	return nil
}

// Migrate applies, in order and each in its own transaction, the migrations
// the database has not recorded yet. It returns how many it applied.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	db := s.db.WithContext(ctx)
	if s.dialect == dialectMySQL {
		// Tables take the database's defaults: the full UTF-8 set (not
		// MySQL's three-byte utf8) and binary comparison, as SQLite
		// compares, so that unique names and search tokens match exactly.
		if err := db.Exec("ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").Error; err != nil {
			return 0, fmt.Errorf("migrate: character set: %w", err)
		}
	}
	if err := db.AutoMigrate(&schemaMigration{}); err != nil {
		return 0, fmt.Errorf("migrate: record table: %w", err)
	}
	var applied []int
	if err := db.Model(&schemaMigration{}).Pluck("version", &applied).Error; err != nil {
		return 0, fmt.Errorf("migrate: read applied: %w", err)
	}
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}
	n := 0
	for _, m := range migrations() {
		if done[m.version] {
			continue
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := m.up(tx); err != nil {
				return err
			}
			return tx.Create(&schemaMigration{Version: m.version, Name: m.name, AppliedAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return n, fmt.Errorf("migrate: %d %s: %w", m.version, m.name, err)
		}
		n++
	}
	return n, nil
}

// SchemaVersion returns the highest applied migration, or 0.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.WithContext(ctx).Model(&schemaMigration{}).Select("COALESCE(MAX(version), 0)").Scan(&v).Error
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// markWords is migration 22: the SQLite index gains a column of word marks
// (wordMark) and, in the index of names, rank rows (rankKey).
func markWords(tx *gorm.DB) error {
	if tx.Dialector.Name() != "sqlite" {
		// The PostgreSQL and MySQL index matches the synonyms themselves.
		return nil
	}
	return rebuildSQLiteSearch(tx)
}

// rebuildSQLiteSearch creates the SQLite search index anew in its current
// shape, writes every item's rows and merges each index into one segment,
// as reindexNames does for the same reason. At 100,000 items it takes about
// 40 s.
func rebuildSQLiteSearch(tx *gorm.DB) error {
	for _, stmt := range []string{
		`DROP TABLE IF EXISTS service_item_search_vocab`,
		`DROP TABLE IF EXISTS service_item_search`,
		`DROP TABLE IF EXISTS service_item_names`,
		// unicode61 splits on the spaces between the tokens that the
		// store writes; it cannot segment Chinese itself.
		`CREATE VIRTUAL TABLE service_item_search USING fts5(
			name_grams, body_grams, chars, marks, tokenize = 'unicode61')`,
		// The vocabulary tells which bigrams occur at all, for loose
		// matching of compound words.
		`CREATE VIRTUAL TABLE service_item_search_vocab USING fts5vocab(service_item_search, 'row')`,
		`CREATE VIRTUAL TABLE service_item_names USING fts5(name_grams, chars, marks, tokenize = 'unicode61')`,
	} {
		if err := tx.Exec(stmt).Error; err != nil {
			return err
		}
	}
	if err := reindexGuides(tx); err != nil {
		return err
	}
	for _, stmt := range []string{
		"INSERT INTO service_item_search (service_item_search) VALUES ('optimize')",
		"INSERT INTO service_item_names (service_item_names) VALUES ('optimize')",
	} {
		if err := tx.Exec(stmt).Error; err != nil {
			return err
		}
	}
	return nil
}
