package models

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"gorm.io/gorm"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		in           string
		grams, chars []string
	}{
		{"社保卡办理", []string{"社保", "保卡", "卡办", "办理"}, []string{"社", "保", "卡", "办", "理"}},
		{"税", nil, []string{"税"}},
		{"A01 窗口", []string{"a01", "窗口"}, []string{"窗", "口"}},
		{"“社保”，养老！", []string{"社保", "养老"}, []string{"社", "保", "养", "老"}},
		{"ICP备案2026", []string{"icp", "备案", "2026"}, []string{"备", "案"}},
		{"' OR 1=1 --", []string{"or", "1", "1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			grams, chars := tokenize(tt.in)
			if !reflect.DeepEqual(grams, tt.grams) || !reflect.DeepEqual(chars, tt.chars) {
				t.Fatalf("tokenize(%q) = %q, %q; want %q, %q", tt.in, grams, chars, tt.grams, tt.chars)
			}
		})
	}
}

func TestHighlight(t *testing.T) {
	got := Highlight("社会保障卡申领（社会保障）", []string{"社会保障", "申领"})
	want := []TextPart{{"社会保障", true}, {"卡", false}, {"申领", true}, {"（", false}, {"社会保障", true}, {"）", false}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Highlight = %v, want %v", got, want)
	}
	if got := Highlight("开具 ICP 证明", []string{"icp"}); len(got) != 3 || !got[1].Match || got[1].Text != "ICP" {
		t.Fatalf("Latin letters must match case-insensitively, got %v", got)
	}
	// Characters whose lower case has another length must not shift the
	// offsets: every part stays valid UTF-8.
	for _, p := range Highlight("\u023A\u023A社保\u212A", []string{"社保"}) {
		if !utf8.ValidString(p.Text) {
			t.Fatalf("Highlight cut a character: %q", p.Text)
		}
	}
	if got := Highlight("无匹配", []string{"社保"}); len(got) != 1 || got[0].Match {
		t.Fatalf("no match must give the text as one plain part, got %v", got)
	}
}

// names returns the names of a result's hits.
func names(res *GuideResult) []string {
	var out []string
	for _, h := range res.Hits {
		out = append(out, h.Name)
	}
	return out
}

func mustFind(t *testing.T, s *Store, f GuideFilter) *GuideResult {
	t.Helper()
	if f.PerPage == 0 {
		f.PerPage = 100
	}
	res, err := s.FindGuides(context.Background(), f)
	if err != nil {
		t.Fatalf("FindGuides(%+v): %v", f, err)
	}
	return res
}

func TestSearchFindsWhatResidentsType(t *testing.T) {
	s := newDemoStore(t)
	tests := []struct {
		query string
		// want is a part of the name of an item that must be among the hits;
		// first, if set, a part of the top hit's name.
		want, first string
	}{
		{"社保", "社会保障卡", ""},
		{"医保", "异地就医", ""},
		{"养老", "养老保险", "养老"},
		{"公积金", "提取住房公积金", "公积金"},
		{"身份证", "居民身份证", "身份证"},
		{"营业执照", "营业执照遗失补领", "营业执照"},
		{"公积金 租房", "租房提取", "租房"},
		{"公积金提取", "提取住房公积金", "提取住房公积金"},
		{"身份证补办", "居民身份证补领", ""},
		{"开饭店", "食品经营许可", ""},
		// The synonyms in the order listed: 开公司 is 企业设立 first; bm25
		// alone would rank the rarer 企业开办 higher.
		{"开公司", "企业开办", "企业设立"},
		// A name with the word and its synonym (退休, 养老保险待遇) before
		// a shorter one with the word alone.
		{"退休", "退休、离职销户提取住房公积金", "养老保险待遇申领（退休）"},
		{"结婚", "结婚登记", "结婚登记"},
		{"个税", "个人所得税", "个人所得税"},
		// Traditional input is converted by the handlers; the store sees
		// Simplified. Here: a single character.
		{"税", "纳税", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res := mustFind(t, s, GuideFilter{Query: tt.query})
			if res.Total == 0 {
				t.Fatalf("%q found nothing", tt.query)
			}
			found := false
			for _, n := range names(res) {
				if strings.Contains(n, tt.want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("%q: no hit named like %q in %q", tt.query, tt.want, names(res))
			}
			if tt.first != "" && !strings.Contains(res.Hits[0].Name, tt.first) {
				t.Fatalf("%q: top hit %q, want one named like %q (ranking)", tt.query, res.Hits[0].Name, tt.first)
			}
		})
	}
}

// TestSearchRanksShortestNamesFirst: the items whose name has the words
// come first, the shortest name first, however often a longer one was
// viewed; views decide between names of one length.
func TestSearchRanksShortestNamesFirst(t *testing.T) {
	s := newDemoStore(t)
	named := func(word string) []GuideHit {
		var out []GuideHit
		for _, h := range mustFind(t, s, GuideFilter{Query: word}).Hits {
			if !strings.Contains(h.Name, word) {
				break
			}
			out = append(out, h)
		}
		return out
	}
	before := named("公积金")
	if len(before) < 3 {
		t.Fatalf("%d items named with 公积金 first, want at least 3 to rank", len(before))
	}
	longest := before[len(before)-1]
	if err := s.db.Exec("UPDATE service_items SET view_count = ? WHERE id = ?", 1_000_000, longest.ID).Error; err != nil {
		t.Fatal(err)
	}
	if after := named("公积金"); after[len(after)-1].ID != longest.ID {
		t.Errorf("the most viewed %q ranked before the shorter %q", longest.Name, after[len(after)-1].Name)
	}
	ties := 0
	for _, word := range []string{"公积金", "身份证"} {
		hits := named(word)
		for i := 1; i < len(hits); i++ {
			prev, cur := hits[i-1], hits[i]
			pl, cl := utf8.RuneCountInString(prev.Name), utf8.RuneCountInString(cur.Name)
			if pl > cl || pl == cl && prev.ViewCount < cur.ViewCount {
				t.Errorf("%s: %q (%d characters, %d views) ranked before %q (%d characters, %d views)",
					word, prev.Name, pl, prev.ViewCount, cur.Name, cl, cur.ViewCount)
			}
			if pl == cl {
				ties++
			}
		}
	}
	if ties == 0 {
		t.Fatal("no two names of one length: the test needs some for the views to decide")
	}
}

// TestSearchSingleCharacterIgnoresRadicals: FTS5 splits a bigram at a
// Kangxi radical (⼒, U+2F12, common in text pasted from a PDF), which
// leaves the other character alone among the bigrams; a one-character
// search looks at the characters of names and summaries only, so it does
// not find a department's items through its name.
func TestSearchSingleCharacterIgnoresRadicals(t *testing.T) {
	s := newDemoStore(t)
	before := names(mustFind(t, s, GuideFilter{Query: "资"}))
	if err := s.db.Exec("UPDATE departments SET name = ? WHERE slug = ?", "临江市⼈⼒资源和社会保障局", "rsj").Error; err != nil {
		t.Fatal(err)
	}
	if err := s.db.Transaction(reindexGuides); err != nil {
		t.Fatal(err)
	}
	if after := names(mustFind(t, s, GuideFilter{Query: "资"})); !reflect.DeepEqual(before, after) {
		t.Errorf("资 found %q, then %q after the department's name got radicals", before, after)
	}
}

func TestCountList(t *testing.T) {
	for _, tt := range []struct {
		list string
		want map[int64]int
	}{
		{"", map[int64]int{}},
		{"0", map[int64]int{0: 1}},
		{"4294967295", map[int64]int{4294967295: 1}},
		{"2147483649,7,2147483649,7,7", map[int64]int{2147483649: 2, 7: 3}},
	} {
		got, err := countList(tt.list)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("countList(%q) = %v, %v; want %v", tt.list, got, err, tt.want)
		}
	}
	for _, bad := range []string{",", "1,", ",1", "1,,2", "1;2", "-1", "99999999999999999999"} {
		if got, err := countList(bad); err == nil {
			t.Errorf("countList(%q) = %v, want an error", bad, got)
		}
	}
}

func TestSearchHighlightsMatches(t *testing.T) {
	s := newDemoStore(t)
	res := mustFind(t, s, GuideFilter{Query: "身份证"})
	var marked []string
	for _, p := range res.Hits[0].NameParts {
		if p.Match {
			marked = append(marked, p.Text)
		}
	}
	if len(marked) == 0 || marked[0] != "身份证" {
		t.Fatalf("top hit %q: marked %q, want 身份证 marked", res.Hits[0].Name, marked)
	}
}

func TestSearchWithNoMatchIsEmptyNotAnError(t *testing.T) {
	s := newDemoStore(t)
	res := mustFind(t, s, GuideFilter{Query: "火星移民"})
	if res.Total != 0 || len(res.Hits) != 0 {
		t.Fatalf("火星移民 found %d items: %q", res.Total, names(res))
	}
}

func TestSearchBroadensWhenNoItemHasEveryWord(t *testing.T) {
	s := newDemoStore(t)
	res := mustFind(t, s, GuideFilter{Query: "身份证 火星"})
	if !res.Broadened || res.Total == 0 {
		t.Fatalf("broadened=%v total=%d: want the items with 身份证, marked broadened", res.Broadened, res.Total)
	}
	res = mustFind(t, s, GuideFilter{Query: "身份证 补领"})
	if res.Broadened || res.Total == 0 {
		t.Fatalf("身份证 补领: broadened=%v total=%d; items have both words", res.Broadened, res.Total)
	}
	if !strings.Contains(res.Hits[0].Name, "补领") || !strings.Contains(res.Hits[0].Name, "身份证") {
		t.Fatalf("身份证 补领: top hit %q, want the item named with both words", res.Hits[0].Name)
	}
	// Widened, the names with more of the words come first, however short
	// the others are.
	for _, q := range []string{"公积金 贷款 户口", "身份证 补领 户口"} {
		res = mustFind(t, s, GuideFilter{Query: q})
		if !res.Broadened {
			t.Fatalf("%s: not broadened; the test needs words no item has together", q)
		}
		words := strings.Fields(q)
		has := func(name string) int {
			n := 0
			for _, w := range words {
				if strings.Contains(name, w) {
					n++
				}
			}
			return n
		}
		for i := 1; i < len(res.Hits) && has(res.Hits[i].Name) > 0; i++ {
			if prev, cur := has(res.Hits[i-1].Name), has(res.Hits[i].Name); prev < cur {
				t.Errorf("%s: %q (%d of the words) ranked before %q (%d)", q, res.Hits[i-1].Name, prev, res.Hits[i].Name, cur)
			}
		}
		if has(res.Hits[0].Name) < 2 {
			t.Errorf("%s: top hit %q, want a name with two of the words", q, res.Hits[0].Name)
		}
	}
}

func TestSearchRejectsBadQueries(t *testing.T) {
	s := newDemoStore(t)
	for name, q := range map[string]string{
		"too long":      strings.Repeat("社保", MaxQueryRunes),
		"invalid UTF-8": "社保\xff\xfe",
		"no words":      "“”！？%%%",
		"too many":      "一 二 三 四 五 六 七 八 九",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.FindGuides(context.Background(), GuideFilter{Query: q})
			verr, ok := AsValidationError(err)
			if !ok || verr.Field("q") == "" {
				t.Fatalf("err = %v, want a ValidationError on q", err)
			}
		})
	}
}

func TestSearchSurvivesFTSSyntax(t *testing.T) {
	s := newDemoStore(t)
	plain := mustFind(t, s, GuideFilter{Query: "社保"})
	// FTS operators and punctuation are only words or separators: each of
	// these finds what 社保 finds, or, where it adds a word, no error.
	for _, q := range []string{`"社保`, `NEAR(社保`, `社保*`, `-社保`, `^社保`, `{name_grams}: 社保`, `社保)`} {
		res, err := s.FindGuides(context.Background(), GuideFilter{Query: q})
		if err != nil {
			t.Errorf("FindGuides(%q): %v", q, err)
			continue
		}
		if q != `{name_grams}: 社保` && q != `NEAR(社保` && res.Total != plain.Total {
			t.Errorf("FindGuides(%q) found %d, want the %d of 社保", q, res.Total, plain.Total)
		}
	}
	for _, q := range []string{`社保 OR`, `' OR 1=1; DROP TABLE service_items; --`, `<script>alert(1)</script>`, `AND`, `社保 NOT 养老`} {
		if _, err := s.FindGuides(context.Background(), GuideFilter{Query: q}); err != nil {
			t.Errorf("FindGuides(%q): %v, want results or none", q, err)
		}
	}
	if res := mustFind(t, s, GuideFilter{}); res.Total < 60 {
		t.Fatalf("catalogue has %d items after hostile queries", res.Total)
	}
}

func TestSearchUsesTheIndex(t *testing.T) {
	s := newDemoStore(t)
	skipUnlessSQLite(t, s, "reads SQLite's EXPLAIN QUERY PLAN of the FTS5 index")
	terms, err := parseQuery("社保 养老")
	if err != nil {
		t.Fatal(err)
	}
	var sel selection
	sel.match = joinExprs(terms, " AND ")
	sql := s.db.ToSQL(func(tx *gorm.DB) *gorm.DB {
		var ids []uint
		return sel.matches(tx).Pluck("si.id", &ids)
	})
	text := explain(t, s, sql)
	if !strings.Contains(text, "VIRTUAL TABLE INDEX") {
		t.Fatalf("query plan does not use the FTS index:\n%s", text)
	}
	if strings.Contains(text, "SCAN si") {
		t.Fatalf("query plan scans the whole items table:\n%s", text)
	}
}

func TestCatalogueFilters(t *testing.T) {
	s := newDemoStore(t)
	all := mustFind(t, s, GuideFilter{})
	person := mustFind(t, s, GuideFilter{Audience: AudiencePerson})
	company := mustFind(t, s, GuideFilter{Audience: AudienceCompany})
	if person.Total == 0 || company.Total == 0 || person.Total+company.Total < all.Total {
		t.Fatalf("all=%d person=%d company=%d", all.Total, person.Total, company.Total)
	}
	for _, h := range company.Hits {
		if h.Audience == AudiencePerson {
			t.Fatalf("法人 listing has the personal item %q", h.Name)
		}
	}
	if all.Audiences[0].Count != person.Total || all.Audiences[1].Count != company.Total {
		t.Fatalf("audience counts %+v do not match the listings (%d, %d)", all.Audiences, person.Total, company.Total)
	}

	theme := mustFind(t, s, GuideFilter{Theme: "hunyin"})
	if theme.Total == 0 || theme.Theme == nil || theme.Theme.Name != "婚姻登记" {
		t.Fatalf("theme hunyin: total=%d theme=%v", theme.Total, theme.Theme)
	}
	for _, h := range theme.Hits {
		if h.Theme.Slug != "hunyin" {
			t.Fatalf("theme listing has %q of theme %s", h.Name, h.Theme.Slug)
		}
	}
	sum := 0
	for _, c := range all.Themes {
		sum += c.Count
	}
	if sum != all.Total {
		t.Fatalf("theme counts add up to %d, want %d", sum, all.Total)
	}

	dept := mustFind(t, s, GuideFilter{Department: "hzk", Query: "身份证"})
	if dept.Total == 0 {
		t.Fatal("户政科 + 身份证 found nothing")
	}
	for _, h := range dept.Hits {
		if h.Department.Slug != "hzk" {
			t.Fatalf("department listing has %q of %s", h.Name, h.Department.Slug)
		}
	}

	for _, f := range []GuideFilter{{Theme: "nope"}, {Department: "nope"}, {Audience: "alien"}} {
		if _, err := s.FindGuides(context.Background(), f); !isValidation(err) {
			t.Errorf("FindGuides(%+v) = %v, want a ValidationError", f, err)
		}
	}
}

func isValidation(err error) bool {
	var v *ValidationError
	return errors.As(err, &v)
}

func TestCataloguePaging(t *testing.T) {
	s := newDemoStore(t)
	p1 := mustFind(t, s, GuideFilter{Page: 1, PerPage: 10})
	p2 := mustFind(t, s, GuideFilter{Page: 2, PerPage: 10})
	if p1.Total != p2.Total || p1.Pages() < 6 {
		t.Fatalf("totals %d/%d, pages %d", p1.Total, p2.Total, p1.Pages())
	}
	if len(p1.Hits) != 10 || len(p2.Hits) != 10 {
		t.Fatalf("page sizes %d, %d, want 10", len(p1.Hits), len(p2.Hits))
	}
	seen := map[string]bool{}
	for _, h := range append(p1.Hits, p2.Hits...) {
		if seen[h.Code] {
			t.Fatalf("%s is on both pages", h.Code)
		}
		seen[h.Code] = true
	}
	if p1.Hits[0].ViewCount < p1.Hits[9].ViewCount || p1.Hits[9].ViewCount < p2.Hits[0].ViewCount {
		t.Fatal("without a query, the most viewed items must come first")
	}
	beyond := mustFind(t, s, GuideFilter{Page: 99, PerPage: 10})
	if len(beyond.Hits) != 0 || beyond.Total != p1.Total {
		t.Fatalf("page 99: %d hits, total %d", len(beyond.Hits), beyond.Total)
	}
}

func TestSearchIgnoresMaterialLists(t *testing.T) {
	s := newDemoStore(t)
	// Nearly every guide asks for 居民身份证; a search for 身份证 must find
	// the ID card services, not the whole catalogue.
	res := mustFind(t, s, GuideFilter{Query: "身份证"})
	if res.Total > 15 {
		t.Fatalf("身份证 found %d items: %q", res.Total, names(res))
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string][]string{
		"2号":      {"2", "号"},
		"a社":      {"a", "社"},
		"社保卡 补办":  {"社保卡", "补办"},
		"“营业执照”！": {"营业执照"},
	} {
		if got := splitWords(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitWords(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSearchCountsFollowEdits moves an item to another department, theme
// and audience, then withdraws and republishes it: after each change a
// search lists it under what it is now, and the counts of every facet say
// the same. On SQLite the counts come from facets carried in the search
// index's keys, so they are also checked against a recount from the items'
// own columns.
func TestSearchCountsFollowEdits(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	it := guideOf(t, s, "11QHRSJ0001-01") // 企业职工基本养老保险待遇申领（退休）
	const query = "养老"
	facetOf := func(list []FacetCount, key string) int {
		for _, f := range list {
			if f.Key == key {
				return f.Count
			}
		}
		return 0
	}
	check := func(step, dept, theme string, aud Audience, listed bool) {
		t.Helper()
		res := mustFind(t, s, GuideFilter{Query: query, Department: dept, Theme: theme, Audience: aud, PerPage: 100})
		found := false
		for _, h := range res.Hits {
			found = found || h.Code == it.Code
		}
		if found != listed {
			t.Errorf("%s: listed under %s/%s/%s = %v, want %v", step, dept, theme, aud, found, listed)
		}
		all := mustFind(t, s, GuideFilter{Query: query})
		byDept := mustFind(t, s, GuideFilter{Query: query, Department: dept})
		byTheme := mustFind(t, s, GuideFilter{Query: query, Theme: theme})
		if got := facetOf(all.Departments, dept); got != byDept.Total {
			t.Errorf("%s: department %s counted %d, its listing has %d", step, dept, got, byDept.Total)
		}
		if got := facetOf(all.Themes, theme); got != byTheme.Total {
			t.Errorf("%s: theme %s counted %d, its listing has %d", step, theme, got, byTheme.Total)
		}
		if s.dialect != dialectSQLite {
			return
		}
		// The items' own columns, the index only for which items match.
		var want []group
		err := s.db.Table("service_items AS si").
			Where("si.published = ? AND si.id IN (SELECT rowid >> 32 FROM service_item_search WHERE service_item_search MATCH ?)", true, all.searchMatch(t)).
			Select("si.audience, si.theme_id, si.department_id, COUNT(*) AS n").
			Group("si.audience, si.theme_id, si.department_id").Scan(&want).Error
		if err != nil {
			t.Fatal(err)
		}
		recount := newTally(selection{})
		for _, g := range want {
			recount.add(g)
		}
		var fromItems GuideResult
		themes, _ := s.FindThemes(ctx)
		depts, _ := s.FindDepartments(ctx)
		recount.fill(&fromItems, themes, depts)
		if !reflect.DeepEqual(fromItems.Departments, all.Departments) || !reflect.DeepEqual(fromItems.Themes, all.Themes) ||
			!reflect.DeepEqual(fromItems.Audiences, all.Audiences) || fromItems.Total != all.Total {
			t.Errorf("%s: counts from the index keys differ from a recount of the items:\nkeys  %d %v %v %v\nitems %d %v %v %v", step,
				all.Total, all.Audiences, all.Themes, all.Departments,
				fromItems.Total, fromItems.Audiences, fromItems.Themes, fromItems.Departments)
		}
	}
	check("seeded", "rsj", "tuixiu", AudiencePerson, true)

	in := GuideInputOf(it)
	in.Department, in.Theme, in.Audience = "hzk", "huji", string(AudienceCompany)
	if err := s.UpdateGuide(ctx, 0, it.ID, it.Version, in, Actor{Name: "中心管理员"}); err != nil {
		t.Fatal(err)
	}
	check("moved", "hzk", "huji", AudienceCompany, true)
	check("moved, old place", "rsj", "tuixiu", AudiencePerson, false)

	it = guideOf(t, s, it.Code)
	if _, err := s.SetGuidePublished(ctx, 0, it.ID, false, Actor{Name: "中心管理员"}); err != nil {
		t.Fatal(err)
	}
	check("withdrawn", "hzk", "huji", AudienceCompany, false)
	if _, err := s.SetGuidePublished(ctx, 0, it.ID, true, Actor{Name: "中心管理员"}); err != nil {
		t.Fatal(err)
	}
	check("republished", "hzk", "huji", AudienceCompany, true)
}

// searchMatch is the FTS expression of the result's terms.
func (r *GuideResult) searchMatch(t *testing.T) string {
	t.Helper()
	terms, err := parseQuery(strings.Join(r.Terms, " "))
	if err != nil {
		t.Fatal(err)
	}
	return joinExprs(terms, " AND ")
}

// TestSearchIndexMigration runs migration 13, which rebuilds the SQLite
// search index with keys carrying the facets, over a catalogue indexed
// already, as an existing database has it: every search lists the same
// items with the same counts afterwards.
func TestSearchIndexMigration(t *testing.T) {
	s := newDemoStore(t)
	skipUnlessSQLite(t, s, "migration 13 rebuilds the SQLite FTS5 index; the other databases' index is unchanged")
	queries := []GuideFilter{{Query: "社保"}, {Query: "身份证", Department: "hzk"}, {Query: "税"},
		{Query: "公积金 租房"}, {Query: "公积金提取"}, {Query: "养老", Audience: AudienceCompany}}
	before := make([]*GuideResult, len(queries))
	for i, f := range queries {
		before[i] = mustFind(t, s, f)
	}
	rebuild := migrationUp(t, 13)
	// As before migration 13: the index holds every item under its id, and
	// there is no index of names.
	for _, stmt := range []string{
		"DROP TABLE service_item_names",
		"CREATE TABLE old_index AS SELECT rowid >> 32 AS id, name_grams, body_grams, chars FROM service_item_search",
		"DELETE FROM service_item_search",
		"INSERT INTO service_item_search (rowid, name_grams, body_grams, chars) SELECT id, name_grams, body_grams, chars FROM old_index",
	} {
		if err := s.db.Exec(stmt).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Transaction(rebuild); err != nil {
		t.Fatal(err)
	}
	var items, keys, nameRows int64
	s.db.Table("service_items").Count(&items)
	s.db.Table("service_item_search").Count(&keys)
	s.db.Table("service_item_names").Where("rowid & ? = 0", rankRow).Count(&nameRows)
	if keys != items || nameRows != items {
		t.Fatalf("%d items, %d index rows, %d name rows", items, keys, nameRows)
	}
	for i, f := range queries {
		after := mustFind(t, s, f)
		if !reflect.DeepEqual(names(before[i]), names(after)) || before[i].Total != after.Total ||
			!reflect.DeepEqual(before[i].Departments, after.Departments) || !reflect.DeepEqual(before[i].Themes, after.Themes) {
			t.Errorf("%+v: before %d %q, after %d %q", f, before[i].Total, names(before[i]), after.Total, names(after))
		}
	}
}

// TestNameIndexMigration: migration 20 rekeys the index of names by item
// and name length, and searches list what they listed before.
func TestNameIndexMigration(t *testing.T) {
	s := newDemoStore(t)
	skipUnlessSQLite(t, s, "migration 20 rekeys the SQLite FTS5 index of names")
	queries := []GuideFilter{{Query: "社保"}, {Query: "公积金"}, {Query: "开公司"}, {Query: "公积金 租房"}, {Query: "税"}}
	before := make([]*GuideResult, len(queries))
	for i, f := range queries {
		before[i] = mustFind(t, s, f)
	}
	// As before migration 20: the names under the items' ids, and no rank
	// rows (migration 22).
	for _, stmt := range []string{
		"CREATE TABLE old_names AS SELECT rowid >> 32 AS id, name_grams, chars FROM service_item_names WHERE rowid & 2147483648 = 0",
		"DELETE FROM service_item_names",
		"INSERT INTO service_item_names (rowid, name_grams, chars) SELECT id, name_grams, chars FROM old_names",
	} {
		if err := s.db.Exec(stmt).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Transaction(migrationUp(t, 20)); err != nil {
		t.Fatal(err)
	}
	var items []ServiceItem
	s.db.Select("id", "name").Find(&items)
	var keys []int64
	s.db.Raw("SELECT rowid FROM service_item_names WHERE rowid & ? = 0 ORDER BY rowid", rankRow).Scan(&keys)
	if len(keys) != len(items) {
		t.Fatalf("%d items, %d name rows", len(items), len(keys))
	}
	for i := range items {
		if want, err := nameKey(&items[i]); err != nil || keys[i] != want {
			t.Fatalf("%q: name key %d, want %d", items[i].Name, keys[i], want)
		}
	}
	for i, f := range queries {
		after := mustFind(t, s, f)
		if !reflect.DeepEqual(names(before[i]), names(after)) || before[i].Total != after.Total {
			t.Errorf("%+v: before %d %q, after %d %q", f, before[i].Total, names(before[i]), after.Total, names(after))
		}
	}
}

// TestSearchPagesListEveryMatchOnce walks every page of searches whose
// matches run past the name matches: each match is listed once, the name
// matches first, and the pages add up to the total.
func TestSearchPagesListEveryMatchOnce(t *testing.T) {
	s := newDemoStore(t)
	for _, f := range []GuideFilter{
		{Query: "社保", PerPage: 4},
		{Query: "身份证", PerPage: 3},
		{Query: "公积金", PerPage: 5, Audience: AudiencePerson},
		{Query: "税", PerPage: 4},
		{Query: "登记", PerPage: 7, Department: "hzk"},
	} {
		t.Run(fmt.Sprintf("%s %s %s", f.Query, f.Audience, f.Department), func(t *testing.T) {
			first := mustFind(t, s, f)
			terms, err := parseQuery(f.Query)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			inName := func(h GuideHit) bool {
				for _, w := range terms[0].highlight {
					if strings.Contains(h.Name, w) {
						return true
					}
				}
				return false
			}
			otherSeen := false
			for page := 1; page <= first.Pages(); page++ {
				f.Page = page
				res := mustFind(t, s, f)
				if res.Total != first.Total {
					t.Fatalf("page %d: total %d, page 1 said %d", page, res.Total, first.Total)
				}
				for _, h := range res.Hits {
					if seen[h.Code] {
						t.Fatalf("page %d lists %s again", page, h.Code)
					}
					seen[h.Code] = true
					if inName(h) && otherSeen {
						t.Errorf("page %d: %q, a name match, comes after a match elsewhere", page, h.Name)
					}
					otherSeen = otherSeen || !inName(h)
				}
			}
			if len(seen) != first.Total {
				t.Fatalf("%d pages list %d items, the total is %d", first.Pages(), len(seen), first.Total)
			}
			if !otherSeen {
				t.Fatalf("every match of %q is a name match: the test needs one whose name lacks it", f.Query)
			}
		})
	}
}
