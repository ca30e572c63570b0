package models

import (
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// inFull is the selection of a query as every search was made before the
// word marks and rank rows (migration 22): each word matched by its ways of
// saying it, one phrase each, and the name matches ranked by nameOrder in
// full.
func inFull(t *testing.T, query string) selection {
	t.Helper()
	terms, err := parseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	exprs := make([]string, len(terms))
	for i, term := range terms {
		exprs[i] = "(" + strings.Join(term.exprAlts, " OR ") + ")"
	}
	match := strings.Join(exprs, " AND ")
	return selection{match: match, phrases: match, terms: terms}
}

// selectionOf is the selection of a query as FindGuides makes it.
func selectionOf(t *testing.T, query string) selection {
	t.Helper()
	terms, err := parseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	var sel selection
	sel.setTerms(terms, " AND ")
	return sel
}

// TestRankedByKeyAsInFull: a search for one word ranks its name matches
// by their keys in the index of names (its rank rows when it has
// synonyms), and counts them by its word mark: every page, with and
// without filters, lists what nameOrder in full lists, and the counts are
// those of the word's phrases. Withdrawn items among the best ranked make
// the reading of a page's first matches come up short, so that the whole
// list is read. The other matches, after the name matches, are ranked by
// bm25 as before.
func TestRankedByKeyAsInFull(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	skipUnlessSQLite(t, s, "word marks and rank rows are in the SQLite index")
	generateCatalogue(t, s, 1500)
	db := s.db.WithContext(ctx)
	themes, err := s.FindThemes(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Withdraw the four best ranked names of two words.
	for _, q := range []string{"社保", "公积金"} {
		var ids []uint
		full := inFull(t, q)
		if err := full.nameMatches(db).Order(full.nameOrder()).Limit(4).Pluck("si.id", &ids).Error; err != nil {
			t.Fatal(err)
		}
		if len(ids) != 4 {
			t.Fatalf("%s: %d name matches, want at least 4", q, len(ids))
		}
		for _, id := range ids {
			if _, err := s.SetGuidePublished(ctx, 0, id, false, Actor{Name: "中心管理员"}); err != nil {
				t.Fatal(err)
			}
		}
	}

	for _, q := range []string{"社保", "医保", "开公司", "退休", "公积金", "身份证", "营业执照", "养老"} {
		// The theme with the most matches.
		all := newTally(selection{})
		if err := countFacets(db, inFull(t, q).match, false, all); err != nil {
			t.Fatal(err)
		}
		var theme Theme
		for _, th := range themes {
			if all.byTheme[th.ID] > all.byTheme[theme.ID] {
				theme = th
			}
		}
		var dept uint
		for id, n := range all.byDept {
			if n > all.byDept[dept] || (n == all.byDept[dept] && id < dept) {
				dept = id
			}
		}
		filters := []struct {
			name string
			set  func(*selection)
		}{
			{"no filter", func(*selection) {}},
			{"个人", func(sel *selection) { sel.audience = AudiencePerson }},
			{"theme " + theme.Slug, func(sel *selection) { sel.themeID = theme.ID }},
			{fmt.Sprint("department ", dept), func(sel *selection) { sel.departmentID = dept }},
		}
		for _, f := range filters {
			full := inFull(t, q)
			f.set(&full)
			sel := selectionOf(t, q)
			f.set(&sel)
			match, ok := sel.rankedByKey()
			if !ok {
				t.Fatalf("%s: not ranked by key", q)
			}
			if _, synonyms := searchSynonyms[q]; synonyms != (match == `"`+rankMark(q)+`"`) {
				t.Fatalf("%s: ranked by the matches of %s", q, match)
			}

			want, got := newTally(full), newTally(sel)
			if err := countFacets(db, full.match, false, want); err != nil {
				t.Fatal(err)
			}
			if err := countFacets(db, sel.match, false, got); err != nil {
				t.Fatal(err)
			}
			got.sel = want.sel
			if (want.total == 0 && f.name == "no filter") || !reflect.DeepEqual(want, got) {
				t.Fatalf("%s, %s: counted %d %v %v by the word mark, %d %v %v by its phrases", q, f.name,
					got.total, got.byTheme, got.byDept, want.total, want.byTheme, want.byDept)
			}

			for _, perPage := range []int{2, 15} {
				for from := 0; ; from += perPage {
					var wantIDs []uint
					if err := full.nameMatches(db).Order(full.nameOrder()).Limit(perPage).Offset(from).Pluck("si.id", &wantIDs).Error; err != nil {
						t.Fatal(err)
					}
					gotIDs, err := sel.nameMatchesByKey(db, match, from, perPage)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(gotIDs, wantIDs) {
						t.Fatalf("%s, %s, %d from %d: ranked by key %v, in full %v", q, f.name, perPage, from, gotIDs, wantIDs)
					}
					if len(wantIDs) < perPage {
						break
					}
				}
			}

			for from := 0; ; from += 15 {
				var wantIDs, gotIDs []uint
				if err := full.otherMatches(db).Limit(15).Offset(from).Pluck("si.id", &wantIDs).Error; err != nil {
					t.Fatal(err)
				}
				if err := sel.otherMatches(db).Limit(15).Offset(from).Pluck("si.id", &gotIDs).Error; err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(gotIDs, wantIDs) {
					t.Fatalf("%s, %s, other matches from %d: %v, before %v", q, f.name, from, gotIDs, wantIDs)
				}
				if len(wantIDs) < 15 {
					break
				}
			}
		}
	}

	// Several words with synonyms, or a widened search, are ranked in full.
	for _, q := range []string{"社保 医保", "社保 公积金"} {
		sel := selectionOf(t, q)
		if _, ok := sel.rankedByKey(); ok {
			t.Errorf("%s: ranked by key %v", q, ok)
		}
		sel.anyTerm = true
		if _, ok := sel.rankedByKey(); ok {
			t.Errorf("%s, widened: ranked by key", q)
		}
	}
	// So is a loosened word (its bigrams anywhere), with or without
	// synonyms: its loose match is one more way of saying it.
	for _, q := range []string{"公积金提取", "开饭店"} {
		terms, err := parseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		loose, changed, err := s.loosen(db, terms)
		if err != nil || !changed {
			t.Fatalf("%s: loosened %v (%v)", q, changed, err)
		}
		var sel selection
		sel.setTerms(loose, " AND ")
		if _, ok := sel.rankedByKey(); ok {
			t.Errorf("%s, loosened: ranked by key", q)
		}
	}
}

// indexedSynonyms is the fingerprint of the synonyms that the SQLite index's
// word marks and rank rows were last written with, by migration 22.
const indexedSynonyms = "1e00f3e2bc6d"

// TestWordMarksIndexedFor: the word marks and rank rows in an existing
// database were written from the synonyms as they were then. A change to
// searchSynonyms must come with a migration that writes the index anew
// (rebuildSQLiteSearch), or searches of the changed words would miss items,
// as must a change to tokenize, on which every index row depends.
func TestWordMarksIndexedFor(t *testing.T) {
	h := sha256.New()
	for _, sw := range synonymWords {
		fmt.Fprintf(h, "%s=%s;", sw.word, strings.Join(searchSynonyms[sw.word], ","))
	}
	if got := fmt.Sprintf("%x", h.Sum(nil))[:12]; got != indexedSynonyms {
		t.Fatalf("searchSynonyms changed (fingerprint %s, the index was written for %s): add a migration that calls rebuildSQLiteSearch, and set indexedSynonyms to the new fingerprint",
			got, indexedSynonyms)
	}
	if len(synonymWords) > maxSynonymWord+1 {
		t.Fatalf("%d words with synonyms: a rank key has room for %d", len(synonymWords), maxSynonymWord+1)
	}
	for _, sw := range synonymWords {
		if len(sw.alts) > maxWordAlts {
			t.Errorf("%s: %d ways of saying it, a rank key weighs %d", sw.word, len(sw.alts), maxWordAlts)
		}
	}
}

// TestWordMarksAsFTS5Matches: an item has a word's mark exactly when FTS5
// matches one of the word's ways of saying it in the item's rows, for text
// that FTS5 reads otherwise than Go: punctuation between the words, a
// Kangxi radical (a symbol to FTS5, Han to Go) between the parts of a
// phrase, a phrase across the fields of the body, Latin letters and digits.
func TestWordMarksAsFTS5Matches(t *testing.T) {
	s := newTestStore(t)
	skipUnlessSQLite(t, s, "word marks are in the SQLite index")
	dept := &Department{Name: "市人力资源和社会保障局", ShortName: "人社局"}
	texts := []struct{ name, summary, typ, theme string }{
		{"社会保险登记", "", "行政确认", "社会保障"},
		{"社会，⼒⼒，会保险费缴纳", "", "公共服务", "就业"},
		{"社会⼒保险", "会保险", "其他", "其他"},
		{"养老保险待遇申领", "城乡居民社会", "保险待遇", "退休"},
		{"个人所得税汇算", "个税App办理", "行政征收", "纳税"},
		{"食品经营许可（餐饮）", "开饭店须办理", "行政许可", "餐饮"},
		{"居民身份证换领", "有效期满换证", "公共服务", "户籍"},
		{"结婚登记", "婚姻登记处", "行政确认", "婚育"},
		{"户口迁入", "落户 2026 年新政", "行政确认", "户籍"},
		{"⼒⼒⼒", "", "", ""},
	}
	for i, tx := range texts {
		it := &ServiceItem{Name: tx.name, Summary: tx.summary, Type: tx.typ}
		it.ID = uint(i + 1)
		doc := documentOf(it, tx.theme, dept)
		if err := s.db.Exec("INSERT INTO service_item_search (rowid, name_grams, body_grams, chars, marks) VALUES (?, ?, ?, ?, ?)",
			it.ID, doc.nameGrams, doc.bodyGrams, doc.chars, doc.marks).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.db.Exec("INSERT INTO service_item_names (rowid, name_grams, chars, marks) VALUES (?, ?, ?, ?)",
			it.ID, doc.nameGrams, doc.nameChars, doc.nameMarks).Error; err != nil {
			t.Fatal(err)
		}
	}
	marked := 0
	for _, sw := range synonymWords {
		full := inFull(t, sw.word)
		for _, table := range []string{"service_item_search", "service_item_names"} {
			var byPhrases, byMark []int64
			q := "SELECT rowid FROM " + table + " WHERE " + table + " MATCH ? ORDER BY rowid"
			if err := s.db.Raw(q, full.match).Scan(&byPhrases).Error; err != nil {
				t.Fatal(err)
			}
			if err := s.db.Raw(q, `"`+wordMark(sw.word)+`"`).Scan(&byMark).Error; err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(byMark, byPhrases) {
				t.Errorf("%s in %s: marked %v, its phrases match %v", sw.word, table, byMark, byPhrases)
			}
			marked += len(byMark)
		}
	}
	if marked < 10 {
		t.Fatalf("only %d marks: the texts must have the words", marked)
	}
}
