package models

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"
)

// TestSearchRankingUsesTheIndexes checks the plans of the statements of a
// search: the matches come from the FTS indexes, the counts from the index
// keys alone, each ranked item is read through the narrow covering index,
// and the name matches are a list built once and checked on each match. A
// plan that scanned the items, read an item for each counted match or
// probed the FTS table once per item would make a search at 100,000 items
// many times slower.
func TestSearchRankingUsesTheIndexes(t *testing.T) {
	s := newDemoStore(t)
	skipUnlessSQLite(t, s, "reads SQLite's EXPLAIN QUERY PLAN of the FTS5 index")
	terms, err := parseQuery("社保")
	if err != nil {
		t.Fatal(err)
	}
	sel := selection{audience: AudiencePerson, terms: terms}
	sel.match = joinExprs(terms, " AND ")
	var ids []uint
	for _, tt := range []struct {
		name        string
		query       func(*gorm.DB) *gorm.DB
		want, avoid []string
	}{
		{"name matches", func(tx *gorm.DB) *gorm.DB {
			return sel.nameMatches(tx).Order(sel.nameOrder()).Limit(15).Pluck("si.id", &ids)
		}, []string{"VIRTUAL TABLE INDEX", "LIST SUBQUERY", "COVERING INDEX idx_service_items_cover"}, []string{"SCAN si", "CORRELATED"}},
		{"other matches", func(tx *gorm.DB) *gorm.DB {
			return sel.otherMatches(tx).Limit(15).Pluck("si.id", &ids)
		}, []string{"VIRTUAL TABLE INDEX", "LIST SUBQUERY", "COVERING INDEX idx_service_items_cover"}, []string{"SCAN si", "CORRELATED"}},
		{"counts", func(tx *gorm.DB) *gorm.DB {
			var list sql.NullString
			return facetList(tx, sel.match, false).Scan(&list)
		}, []string{"VIRTUAL TABLE INDEX"}, []string{"service_items", " si"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := explain(t, s, s.db.ToSQL(tt.query))
			for _, want := range tt.want {
				if !strings.Contains(text, want) {
					t.Errorf("plan lacks %q:\n%s", want, text)
				}
			}
			for _, avoid := range tt.avoid {
				if strings.Contains(text, avoid) {
					t.Errorf("plan has %q:\n%s", avoid, text)
				}
			}
		})
	}
}

// TestConcurrentSearchesAgree runs the same searches one at a time and then
// many at once: each search counts and ranks on two connections at once,
// and a page must not depend on what else the store is doing.
func TestConcurrentSearchesAgree(t *testing.T) {
	s := newTestStore(t)
	generateCatalogue(t, s, 300)
	ctx := context.Background()
	filters := []GuideFilter{
		{Query: "社保", PerPage: 10},
		{Query: "社保", PerPage: 10, Page: 3},
		{Query: "公积金", PerPage: 10, Audience: AudiencePerson},
		{Query: "营业执照", PerPage: 5, Page: 2},
		{Query: "身份证 火星", PerPage: 10},
		{Query: "公积金提取", PerPage: 10},
		{Query: "养老", PerPage: 10, Page: 99},
	}
	summary := func(res *GuideResult) string {
		var ids []uint
		for _, h := range res.Hits {
			ids = append(ids, h.ID)
		}
		return fmt.Sprint(res.Total, res.Broadened, ids, res.Audiences, res.Themes, res.Departments)
	}
	want := make([]string, len(filters))
	for i, f := range filters {
		res, err := s.FindGuides(ctx, f)
		if err != nil {
			t.Fatalf("FindGuides(%+v): %v", f, err)
		}
		if f.Page != 99 && len(res.Hits) == 0 {
			t.Fatalf("FindGuides(%+v) found nothing", f)
		}
		want[i] = summary(res)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(filters))
	for round := 0; round < 4; round++ {
		for i, f := range filters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := s.FindGuides(ctx, f)
				if err != nil {
					errs <- fmt.Errorf("FindGuides(%+v): %w", f, err)
					return
				}
				if got := summary(res); got != want[i] {
					errs <- fmt.Errorf("FindGuides(%+v) at once with others:\n got %s\nwant %s", f, got, want[i])
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCatalogueListsNameEveryThemeAndDepartment checks that the lists the
// catalogue's form shows, read without counts, are the counted lists'
// themes and departments in the same order.
func TestCatalogueListsNameEveryThemeAndDepartment(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	themes, err := s.FindThemes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counted, err := s.ListThemes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, want := slugs(themes, func(th Theme) string { return th.Slug }), slugs(counted, func(th ThemeSummary) string { return th.Slug })
	if len(got) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("FindThemes = %q, want %q", got, want)
	}
	depts, err := s.FindDepartments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	countedDepts, err := s.ListDepartments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got = slugs(depts, func(d Department) string { return d.Slug })
	want = slugs(countedDepts, func(d DepartmentSummary) string { return d.Slug })
	if len(got) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("FindDepartments = %q, want %q", got, want)
	}
}

// slugs lists the slugs of a list, in its order.
func slugs[T any](list []T, slug func(T) string) []string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = slug(x)
	}
	return out
}
