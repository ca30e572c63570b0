package models

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorm.io/gorm"
)

// newTestStore opens a migrated store on a fresh SQLite file, or, when
// PORTAL_TEST_DATABASE_URL names a PostgreSQL or MySQL server, on a fresh
// database there (dropped afterwards). An unreachable server fails the test.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	s := openTestStore(t)
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// openTestStore opens an empty, unmigrated store as newTestStore describes.
func openTestStore(t testing.TB) *Store {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "portal.db")
	if server := os.Getenv("PORTAL_TEST_DATABASE_URL"); server != "" {
		url, drop, err := CreateDatabase(context.Background(), server, "portal_test")
		if err != nil {
			t.Fatalf("PORTAL_TEST_DATABASE_URL: %v", err)
		}
		t.Cleanup(func() {
			if err := drop(); err != nil {
				t.Errorf("drop test database: %v", err)
			}
		})
		dsn = url
	}
	s, err := OpenURL(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// skipUnlessSQLite skips a test of something only SQLite has.
func skipUnlessSQLite(t *testing.T, s *Store, why string) {
	t.Helper()
	if s.dialect != dialectSQLite {
		t.Skipf("SQLite only (%s); this run is on %s", why, s.dialect)
	}
}

// newDemoStore opens a migrated store with the demo data set loaded.
func newDemoStore(t testing.TB) *Store {
	t.Helper()
	s := newTestStore(t)
	if _, err := s.LoadDemoData(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// newRatedDemoStore is newDemoStore with the demo ratings of the year up to
// 20 November 2026, and their cases.
func newRatedDemoStore(t testing.TB) *Store {
	t.Helper()
	s := newDemoStore(t)
	if _, err := s.LoadDemoRatings(context.Background(), DefaultRatingRules(), at("2026-11-20 18:00")); err != nil {
		t.Fatal(err)
	}
	return s
}

// migrationUp is the step of one migration, for tests that run it again on
// a database made to look as it did before.
func migrationUp(t testing.TB, version int) func(*gorm.DB) error {
	t.Helper()
	for _, m := range migrations() {
		if m.version == version {
			return m.up
		}
	}
	t.Fatalf("no migration %d", version)
	return nil
}

func TestMigrateIsRecordedAndRunsOnce(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(migrations()); v != want {
		t.Fatalf("schema version = %d, want %d", v, want)
	}
	n, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("second Migrate applied %d migrations, want 0", n)
	}
}

func TestMigrationsAreOrdered(t *testing.T) {
	for i, m := range migrations() {
		if m.version != i+1 {
			t.Fatalf("migration %d has version %d: versions must run 1, 2, 3… without gaps", i, m.version)
		}
	}
}

func TestOpenSetsServerPragmas(t *testing.T) {
	s := newTestStore(t)
	skipUnlessSQLite(t, s, "checks SQLite's PRAGMAs")
	ctx := context.Background()
	// Several connections: every pooled connection must carry the settings.
	for i := 0; i < 3; i++ {
		var mode string
		var fk, timeout int
		if err := s.db.WithContext(ctx).Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.db.WithContext(ctx).Raw("PRAGMA foreign_keys").Scan(&fk).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.db.WithContext(ctx).Raw("PRAGMA busy_timeout").Scan(&timeout).Error; err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || fk != 1 || timeout < 1000 {
			t.Fatalf("journal_mode=%q foreign_keys=%d busy_timeout=%d, want wal, 1, ≥1000", mode, fk, timeout)
		}
	}
}

func TestDemoDataIsCompleteAndLoadsOnce(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	first, err := s.LoadDemoData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Departments < 8 || first.ServiceItems < 60 || first.Counters < 20 || first.Boards != first.Departments {
		t.Fatalf("demo data has %d departments, %d service items, %d counters; want ≥8, ≥60, ≥20",
			first.Departments, first.ServiceItems, first.Counters)
	}
	before := snapshot(t, s)
	again, err := s.LoadDemoData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Added() != 0 {
		t.Fatalf("second load added %+v, want nothing", again)
	}
	if after := snapshot(t, s); after != before {
		t.Fatalf("second load changed the data:\nbefore %s\nafter  %s", before, after)
	}

	res := mustFind(t, s, GuideFilter{PerPage: 100})
	audiences := map[Audience]int{}
	for _, h := range res.Hits {
		it, err := s.FindGuideByCode(ctx, h.Code)
		if err != nil {
			t.Fatal(err)
		}
		audiences[it.Audience]++
		switch {
		case len(it.Materials) == 0, len(it.Steps) < 2, len(it.Counters) == 0, len(it.FAQs) == 0:
			t.Errorf("%s %s: materials %d, steps %d, counters %d, FAQ %d", it.Code, it.Name,
				len(it.Materials), len(it.Steps), len(it.Counters), len(it.FAQs))
		case it.LegalLimit.Unit == "" && it.LegalLimit.Value > 0, it.ConsultPhone == "", it.SupervisePhone == "",
			len(it.ConditionList()) == 0, len(it.LegalBasisList()) == 0:
			t.Errorf("%s %s: incomplete guide elements", it.Code, it.Name)
		}
	}
	if audiences[AudiencePerson] < 20 || audiences[AudienceCompany] < 20 {
		t.Fatalf("items by audience %v: want both people and companies well served", audiences)
	}
}

// snapshot summarises the whole catalogue, so that any change shows.
func snapshot(t *testing.T, s *Store) string {
	t.Helper()
	var row struct {
		Items, Materials, Steps, Fees, FAQs, Links, Indexed, Counters, Departments, Themes int
		Entries, Boundaries, Versions                                                      int
		Updated                                                                            string
	}
	err := s.db.Raw(`SELECT
		(SELECT COUNT(*) FROM service_items) AS items, (SELECT COUNT(*) FROM materials) AS materials,
		(SELECT COUNT(*) FROM steps) AS steps, (SELECT COUNT(*) FROM fees) AS fees, (SELECT COUNT(*) FROM faqs) AS faqs,
		(SELECT COUNT(*) FROM counter_service_items) AS links, (SELECT COUNT(*) FROM service_item_search) AS indexed,
		(SELECT COUNT(*) FROM counters) AS counters, (SELECT COUNT(*) FROM departments) AS departments,
		(SELECT COUNT(*) FROM themes) AS themes, (SELECT COUNT(*) FROM duty_entries) AS entries,
		(SELECT COUNT(*) FROM duty_boundaries) AS boundaries, (SELECT COUNT(*) FROM board_versions) AS versions,
		(SELECT MAX(updated_at) || '/' || SUM(view_count) FROM service_items) AS updated`).Scan(&row).Error
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%+v", row)
}

func TestFindGuideByCode(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	for _, code := range []string{"NOPE-0001", "", "<script>", "11QH%27", strings.Repeat("A", 100)} {
		if _, err := s.FindGuideByCode(ctx, code); !errors.Is(err, ErrNotFound) {
			t.Errorf("FindGuideByCode(%q) = %v, want ErrNotFound", code, err)
		}
	}
	it, err := s.FindGuideByCode(ctx, "11QHHZK0002-01")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range it.Materials {
		if m.Sort != i+1 {
			t.Fatalf("materials out of order: %d at %d", m.Sort, i)
		}
	}
	if it.Department.Slug != "hzk" || len(it.Counters) == 0 || it.Theme.Name == "" {
		t.Fatalf("guide lacks its department, theme or counters: %+v", it)
	}
}

func TestRecordGuideViewKeepsLastUpdated(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	it, err := s.FindGuideByCode(ctx, "11QHHZK0002-01")
	if err != nil {
		t.Fatal(err)
	}
	version := s.ContentVersion()
	if err := s.RecordGuideViews(ctx, map[string]int{it.Code: 2, "NO-SUCH-CODE": 1}); err != nil {
		t.Fatal(err)
	}
	if s.ContentVersion() != version {
		t.Fatal("counting views emptied the page cache")
	}
	again, err := s.FindGuideByCode(ctx, it.Code)
	if err != nil {
		t.Fatal(err)
	}
	if again.ViewCount != it.ViewCount+2 {
		t.Fatalf("views %d → %d, want +2", it.ViewCount, again.ViewCount)
	}
	if !again.UpdatedAt.Equal(it.UpdatedAt) {
		t.Fatalf("最后更新 moved from %v to %v on a view", it.UpdatedAt, again.UpdatedAt)
	}
}

func TestFindCounterByCode(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	c, err := s.FindCounterByCode(ctx, "C02")
	if err != nil {
		t.Fatal(err)
	}
	if c.Department.Slug != "hzk" || len(c.ServiceItems) == 0 {
		t.Fatalf("counter C02: department %q, %d items", c.Department.Slug, len(c.ServiceItems))
	}
	if got, want := c.Location(), "一楼 户政服务区 C02 号窗口"; got != want {
		t.Fatalf("Location() = %q, want %q", got, want)
	}
	if _, err := s.FindCounterByCode(ctx, "Z99"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown counter: %v, want ErrNotFound", err)
	}
}

func TestListCounters(t *testing.T) {
	s := newDemoStore(t)
	list, err := s.ListCounters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) < 20 {
		t.Fatalf("%d counters", len(list))
	}
	for i := 1; i < len(list); i++ {
		a, b := list[i-1], list[i]
		if a.Floor == b.Floor && a.Hall == b.Hall && a.Code > b.Code {
			t.Fatalf("counters out of order: %s before %s", a.Code, b.Code)
		}
	}
	for _, c := range list {
		if c.Code == "C02" && (c.ItemCount == 0 || c.Department.Slug != "hzk") {
			t.Fatalf("C02: %d items, department %q", c.ItemCount, c.Department.Slug)
		}
	}
}

func TestZeroValuesSurviveASave(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	var online int64
	if err := s.db.Model(&ServiceItem{}).Where("visits = 0").Count(&online).Error; err != nil {
		t.Fatal(err)
	}
	if online == 0 {
		t.Fatal("no item is stored as 全程网办 (visits 0), though the demo data has many")
	}
	hidden := ServiceItem{Code: "HIDDEN-1", Name: "未发布事项", Type: "其他", Audience: AudiencePerson,
		ThemeID: 1, DepartmentID: 1, Published: false}
	if err := s.db.Create(&hidden).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindGuideByCode(ctx, "HIDDEN-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unpublished item is public: %v", err)
	}
}

// TestItemCountsReadOnlyIndexes: the home and catalogue pages count each
// theme's and department's published items on every render; those counts
// must come from an index alone, or 100,000 items cost 300 ms a list.
func TestItemCountsReadOnlyIndexes(t *testing.T) {
	s := newTestStore(t)
	if s.dialect != dialectSQLite {
		t.Skip("reads SQLite's EXPLAIN QUERY PLAN; the plans of PostgreSQL and MySQL are their optimisers'")
	}
	for column, index := range map[string]string{
		"theme_id":      "idx_service_items_theme_published",
		"department_id": "idx_service_items_department_published",
	} {
		plan := explain(t, s, "SELECT COUNT(*) FROM service_items si WHERE si."+column+" = ? AND si.published = ?", 1, true)
		if !strings.Contains(plan, "COVERING INDEX "+index) {
			t.Errorf("counting by %s: plan %q, want the covering index %s", column, plan, index)
		}
	}
}

// TestPopularGuidesReadTheViewsIndex: the home page's 热门事项 must read
// down the views index and stop at n items. Without the hint SQLite's
// planner, given "published = ?", sorted every item (0.4 s a home page at
// 100,000 items); the plan is the same for the demo's 68 items, as SQLite
// keeps no statistics here.
func TestPopularGuidesReadTheViewsIndex(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	if _, err := s.LoadDemoData(ctx); err != nil {
		t.Fatal(err)
	}
	// The statements as run, with their placeholders (the plan differs
	// with the value written in).
	type query struct {
		sql  string
		vars []any
	}
	var queries []query
	if s.dialect == dialectSQLite {
		record := func(db *gorm.DB) {
			if db.Statement.Table == "" || strings.HasPrefix(db.Statement.Table, "service_items") {
				queries = append(queries, query{db.Statement.SQL.String(), db.Statement.Vars})
			}
		}
		if err := s.db.Callback().Query().After("gorm:query").Register("test:record", record); err != nil {
			t.Fatal(err)
		}
	}
	popular, err := s.FindPopularGuides(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	s.db.Callback().Query().Remove("test:record")
	if len(popular) != 10 || popular[0].Department.Name == "" {
		t.Fatalf("popular guides: %d, the first with department %q", len(popular), popular[0].Department.Name)
	}
	for i := 1; i < len(popular); i++ {
		if popular[i].ViewCount > popular[i-1].ViewCount {
			t.Fatalf("popular guides out of order: %d views after %d", popular[i].ViewCount, popular[i-1].ViewCount)
		}
	}
	if s.dialect != dialectSQLite {
		return // the plans of PostgreSQL and MySQL are their optimisers'
	}
	var sql string
	var vars []any
	for _, q := range queries {
		if strings.Contains(q.sql, "view_count") {
			sql, vars = q.sql, q.vars
		}
	}
	if sql == "" {
		t.Fatalf("no query of the items by views among %v", queries)
	}
	var plan []struct{ Detail string }
	if err := s.db.Raw("EXPLAIN QUERY PLAN "+sql, vars...).Scan(&plan).Error; err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, p := range plan {
		steps = append(steps, p.Detail)
	}
	got := strings.Join(steps, "\n")
	if !strings.Contains(got, "idx_service_items_view_count") || strings.Contains(got, "TEMP B-TREE FOR ORDER BY") {
		t.Errorf("popular guides should read down the views index, plan:\n%s", got)
	}
}
