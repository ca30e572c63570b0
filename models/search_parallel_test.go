package models

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"
)

// TestSearchRankingUsesTheIndexes checks the plan of the ranking statement,
// which runs beside the counting one: the matches come from the FTS index,
// the name matches are a list built once and checked on each match, and
// each item is read through the narrow covering index. A plan that scanned
// the items or probed the FTS table once per item would make a search at
// 100,000 items many times slower.
func TestSearchRankingUsesTheIndexes(t *testing.T) {
	s := newDemoStore(t)
	skipUnlessSQLite(t, s, "reads SQLite's EXPLAIN QUERY PLAN of the FTS5 index")
	terms, err := parseQuery("社保")
	if err != nil {
		t.Fatal(err)
	}
	sel := selection{audience: AudiencePerson}
	sel.match, sel.nameMatch = joinExprs(terms, " AND ")
	for _, tier := range []string{"IN", "NOT IN"} {
		t.Run(tier, func(t *testing.T) {
			sql := s.db.ToSQL(func(tx *gorm.DB) *gorm.DB {
				var ids []uint
				return sel.rankTier(tx, tier).Limit(15).Pluck("si.id", &ids)
			})
			var plan []struct{ Detail string }
			if err := s.db.Raw("EXPLAIN QUERY PLAN " + sql).Scan(&plan).Error; err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, p := range plan {
				lines = append(lines, p.Detail)
			}
			text := strings.Join(lines, "\n")
			for _, want := range []string{"VIRTUAL TABLE INDEX", "LIST SUBQUERY", "COVERING INDEX idx_service_items_cover"} {
				if !strings.Contains(text, want) {
					t.Errorf("ranking plan lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, "SCAN si") || strings.Contains(text, "CORRELATED") {
				t.Errorf("ranking plan scans the items or reruns the name match per row:\n%s", text)
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
	var got, want []string
	for _, th := range themes {
		got = append(got, th.Slug)
	}
	for _, th := range counted {
		want = append(want, th.Slug)
	}
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
	got, want = nil, nil
	for _, d := range depts {
		got = append(got, d.Slug)
	}
	for _, d := range countedDepts {
		want = append(want, d.Slug)
	}
	if len(got) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("FindDepartments = %q, want %q", got, want)
	}
}
