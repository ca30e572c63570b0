package models

import (
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"
)

// PostgreSQL and MySQL have no FTS5, and neither segments Chinese; MariaDB's
// FULLTEXT also ignores two-character tokens unless the server is configured
// for them. So on both servers the search index is the same pair of plain
// tables, which behave identically on every engine:
//
//   - service_item_grams holds one row per (bigram or character, field,
//     item) with its number of occurrences, under a B-tree on the gram: it
//     finds the candidates for a word and gives the relevance count.
//   - service_item_search holds the item's token strings (the same text the
//     SQLite FTS5 table holds), padded with spaces, so that a word of three
//     or more characters is confirmed as a phrase: its bigrams in a row, as
//     FTS5's phrase query requires.

// searchGram is one token of one field of an item in the server index.
type searchGram struct {
	Gram   string `gorm:"primaryKey;size:64"`
	Field  int    `gorm:"primaryKey;autoIncrement:false"`
	ItemID uint   `gorm:"primaryKey;autoIncrement:false;index"`
	N      int    `gorm:"not null"`
}

func (searchGram) TableName() string { return "service_item_grams" }

// searchText is the token strings of one item in the server index.
type searchText struct {
	ItemID    uint   `gorm:"primaryKey;autoIncrement:false"`
	NameGrams string `gorm:"type:text;not null"`
	BodyGrams string `gorm:"type:text;not null"`
	Chars     string `gorm:"type:text;not null"`
}

func (searchText) TableName() string { return "service_item_search" }

// Fields of searchGram, and their weights in the relevance count (as the
// bm25 weights on SQLite: a word in the name counts most).
const (
	fieldName  = 0
	fieldBody  = 1
	fieldChars = 2
)

// maxGramBytes bounds an indexed token; longer Latin runs are cut, in the
// index and in queries alike.
const maxGramBytes = 64

// termAlt is one way a query word matches: the phrase of its bigrams (or a
// lone bigram, or a Latin word), a single Chinese character, or, when
// loosened, all of some bigrams anywhere in the item.
type termAlt struct {
	grams []string
	char  string
	loose bool
}

func clampGram(g string) string {
	if len(g) <= maxGramBytes {
		return g
	}
	cut := maxGramBytes
	for cut > 0 && g[cut]&0xC0 == 0x80 {
		cut--
	}
	return g[:cut]
}

// migrateServerSearch creates the server search index (migration 2 on
// PostgreSQL and MySQL).
func migrateServerSearch(tx *gorm.DB) error {
	return tx.AutoMigrate(&searchText{}, &searchGram{})
}

// indexGuideServer writes (or rewrites) the server index rows of one item.
func indexGuideServer(tx *gorm.DB, id uint, name, body, chars string) error {
	if err := tx.Where("item_id = ?", id).Delete(&searchGram{}).Error; err != nil {
		return err
	}
	if err := tx.Where("item_id = ?", id).Delete(&searchText{}).Error; err != nil {
		return err
	}
	pad := func(s string) string { return " " + s + " " }
	if err := tx.Create(&searchText{ItemID: id, NameGrams: pad(name), BodyGrams: pad(body), Chars: pad(chars)}).Error; err != nil {
		return err
	}
	type key struct {
		gram  string
		field int
	}
	counts := map[key]int{}
	for field, text := range []string{name, body, chars} {
		for _, g := range strings.Fields(text) {
			counts[key{clampGram(g), field}]++
		}
	}
	rows := make([]searchGram, 0, len(counts))
	for k, n := range counts {
		rows = append(rows, searchGram{Gram: k.gram, Field: k.field, ItemID: id, N: n})
	}
	// A stable order keeps concurrent rewrites from deadlocking on the
	// primary key.
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Gram != rows[j].Gram {
			return rows[i].Gram < rows[j].Gram
		}
		return rows[i].Field < rows[j].Field
	})
	if len(rows) == 0 {
		return nil
	}
	return tx.CreateInBatches(&rows, 500).Error
}

// knownGramsServer returns which of grams occur in any item's name or body.
func knownGramsServer(db *gorm.DB, grams []string) ([]string, error) {
	var known []string
	err := db.Model(&searchGram{}).Distinct("gram").
		Where("gram IN ? AND field IN ?", grams, []int{fieldName, fieldBody}).Pluck("gram", &known).Error
	return known, err
}

// serverCond is a WHERE fragment over service_items AS si and
// service_item_search AS ss, with its arguments.
type serverCond struct {
	sql  string
	args []any
}

// altCond matches one alternative of a word, in names only or anywhere.
func altCond(a termAlt, nameOnly bool) serverCond {
	fields := []int{fieldName, fieldBody}
	if nameOnly {
		fields = []int{fieldName}
	}
	if a.char != "" {
		c := serverCond{"si.id IN (SELECT item_id FROM service_item_grams WHERE field = ? AND gram = ?)",
			[]any{fieldChars, a.char}}
		if nameOnly {
			// The characters field holds the summary's too. A single
			// Chinese character carries no LIKE wildcard.
			c.sql = "(" + c.sql + " AND si.name LIKE ?)"
			c.args = append(c.args, "%"+a.char+"%")
		}
		return c
	}
	grams := make([]string, len(a.grams))
	distinct := map[string]bool{}
	for i, g := range a.grams {
		grams[i] = clampGram(g)
		distinct[grams[i]] = true
	}
	if len(distinct) == 1 {
		return serverCond{"si.id IN (SELECT item_id FROM service_item_grams WHERE field IN ? AND gram = ?)",
			[]any{fields, grams[0]}}
	}
	c := serverCond{"si.id IN (SELECT item_id FROM service_item_grams WHERE field IN ? AND gram IN ? GROUP BY item_id HAVING COUNT(DISTINCT gram) = ?)",
		[]any{fields, grams, len(distinct)}}
	if a.loose {
		return c
	}
	// Tokens hold only letters and digits, so they cannot carry LIKE's
	// wildcards.
	phrase := "% " + strings.Join(grams, " ") + " %"
	if nameOnly {
		c.sql = "(" + c.sql + " AND ss.name_grams LIKE ?)"
		c.args = append(c.args, phrase)
	} else {
		c.sql = "(" + c.sql + " AND (ss.name_grams LIKE ? OR ss.body_grams LIKE ?))"
		c.args = append(c.args, phrase, phrase)
	}
	return c
}

// nameWords counts the words an item's name has, which ranks the name
// matches of a widened search first, as nameOrder does on SQLite. It is 0
// when every word must match.
func nameWords(terms []searchTerm, anyTerm bool) serverCond {
	if !anyTerm {
		return serverCond{sql: "0"}
	}
	var parts []string
	var args []any
	for _, t := range terms {
		c := termsCond([]searchTerm{t}, false, true)
		parts = append(parts, "CASE WHEN "+c.sql+" THEN 1 ELSE 0 END")
		args = append(args, c.args...)
	}
	return serverCond{"(" + strings.Join(parts, " + ") + ")", args}
}

// nameAlternatives numbers the ways of saying each word that an item's name
// has, as nameOrder does on SQLite: the first alternative is the highest
// bit. It is 0 when no word has synonyms.
func nameAlternatives(terms []searchTerm) serverCond {
	var parts []string
	var args []any
	for _, t := range terms {
		if len(t.alts) < 2 {
			continue
		}
		for i, a := range t.alts {
			c := altCond(a, true)
			parts = append(parts, fmt.Sprintf("CASE WHEN %s THEN %d ELSE 0 END", c.sql, 1<<(len(t.alts)-1-i)))
			args = append(args, c.args...)
		}
	}
	if len(parts) == 0 {
		return serverCond{sql: "0"}
	}
	return serverCond{"(" + strings.Join(parts, " + ") + ")", args}
}

// termsCond matches the terms, all of them or (any) at least one.
func termsCond(terms []searchTerm, any, nameOnly bool) serverCond {
	var out serverCond
	op := " AND "
	if any {
		op = " OR "
	}
	var parts []string
	for _, t := range terms {
		var alts []string
		for _, a := range t.alts {
			c := altCond(a, nameOnly)
			alts = append(alts, c.sql)
			out.args = append(out.args, c.args...)
		}
		parts = append(parts, "("+strings.Join(alts, " OR ")+")")
	}
	out.sql = "(" + strings.Join(parts, op) + ")"
	return out
}

// searchServer is search on PostgreSQL and MySQL: one pass over the matches
// gives every count and the ranking. Items whose name has the words come
// first, ranked as on SQLite (nameOrder), then the weighted count of the
// query's tokens in the item, then the most viewed.
func (s *Store) searchServer(db *gorm.DB, sel selection, res *GuideResult, themes []Theme, depts []Department) ([]uint, error) {
	t := newTally(sel)
	match := termsCond(sel.terms, sel.anyTerm, false)
	name := termsCond(sel.terms, sel.anyTerm, true)
	alts := nameAlternatives(sel.terms)
	words := nameWords(sel.terms, sel.anyTerm)
	var grams, chars []string
	for _, term := range sel.terms {
		for _, a := range term.alts {
			if a.char != "" {
				chars = append(chars, a.char)
			}
			for _, g := range a.grams {
				grams = append(grams, clampGram(g))
			}
		}
	}
	if len(grams) == 0 {
		grams = []string{""}
	}
	if len(chars) == 0 {
		chars = []string{""}
	}
	q := `SELECT si.id, si.audience, si.theme_id, si.department_id, si.view_count,
		COALESCE(sc.score, 0),
		CASE WHEN ` + name.sql + ` THEN 0 ELSE 1 END, ` + words.sql + `, ` + alts.sql + `, CHAR_LENGTH(si.name)
	FROM service_items si
	JOIN service_item_search ss ON ss.item_id = si.id
	LEFT JOIN (SELECT item_id, SUM(n * CASE field WHEN 0 THEN 10 WHEN 1 THEN 2 ELSE 1 END) AS score
		FROM service_item_grams
		WHERE (field IN (0, 1) AND gram IN ?) OR (field = 2 AND gram IN ?)
		GROUP BY item_id) sc ON sc.item_id = si.id
	WHERE si.published = ? AND ` + match.sql
	args := append([]any{}, name.args...)
	args = append(args, words.args...)
	args = append(args, alts.args...)
	args = append(args, grams, chars, true)
	args = append(args, match.args...)
	rows, err := db.Raw(q, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("search guides: %w", err)
	}
	defer rows.Close()
	type hit struct {
		id    uint
		views int64
		score float64
		tier  int
		// words, alts and nameLength rank the name matches, as on
		// SQLite (nameOrder).
		words, alts, nameLength int
	}
	var hits []hit
	for rows.Next() {
		var h hit
		var g group
		if err := rows.Scan(&h.id, &g.Audience, &g.ThemeID, &g.DepartmentID, &h.views, &h.score, &h.tier, &h.words, &h.alts, &h.nameLength); err != nil {
			return nil, fmt.Errorf("search guides: %w", err)
		}
		g.N = 1
		if t.add(g) {
			hits = append(hits, h)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search guides: %w", err)
	}
	t.fill(res, themes, depts)
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		switch {
		case a.tier != b.tier:
			return a.tier < b.tier
		case a.tier == 0:
			// As nameOrder ranks them on SQLite.
			switch {
			case a.words != b.words:
				return a.words > b.words
			case a.alts != b.alts:
				return a.alts > b.alts
			case a.nameLength != b.nameLength:
				return a.nameLength < b.nameLength
			case a.views != b.views:
				return a.views > b.views
			}
			return a.id < b.id
		case a.score != b.score:
			return a.score > b.score
		case a.views != b.views:
			return a.views > b.views
		}
		return a.id < b.id
	})
	from := (res.Page - 1) * res.PerPage
	if from >= len(hits) {
		return nil, nil
	}
	ids := make([]uint, 0, res.PerPage)
	for _, h := range hits[from:min(from+res.PerPage, len(hits))] {
		ids = append(ids, h.id)
	}
	return ids, nil
}
