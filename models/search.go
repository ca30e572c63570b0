package models

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Limits on what a search may ask, so that a hostile query string costs
// little and gets a clear answer.
const (
	MaxQueryRunes = 50
	maxQueryTerms = 8
	// MaxPage is the last page a catalogue listing will serve.
	MaxPage        = 1000
	defaultPerPage = 15
)

// GuideFilter selects service items for the public catalogue. Query must
// already be in Simplified Chinese (the handlers convert Traditional input).
type GuideFilter struct {
	Query      string
	Audience   Audience
	Theme      string // theme slug
	Department string // department slug
	Page       int
	PerPage    int
}

// TextPart is a piece of displayed text; Match marks a piece that matched the
// search, to be highlighted.
type TextPart struct {
	Text  string
	Match bool
}

// GuideHit is one service item in a catalogue listing, with its name and
// summary split into parts for highlighting.
type GuideHit struct {
	ServiceItem
	NameParts    []TextPart
	SummaryParts []TextPart
}

// FacetCount is the number of items under one value of a filter, given the
// other filters in force.
type FacetCount struct {
	Key   string
	Label string
	Count int
}

// GuideResult is one page of a catalogue listing with its counts.
type GuideResult struct {
	Hits    []GuideHit
	Total   int
	Page    int
	PerPage int
	// Terms are the words searched for; Broadened is set when no item had
	// all of them, and the hits are those with any.
	Terms       []string
	Broadened   bool
	Theme       *Theme
	Department  *Department
	Audiences   []FacetCount
	Themes      []FacetCount
	Departments []FacetCount
	// ThemeList and DepartmentList are every theme and department in
	// display order, which the search read to check the filter: the search
	// form names them all, the facets only those with hits.
	ThemeList      []Theme
	DepartmentList []Department
}

// Pages is the number of pages the listing has.
func (r *GuideResult) Pages() int {
	if r.PerPage <= 0 || r.Total == 0 {
		return 1
	}
	return (r.Total + r.PerPage - 1) / r.PerPage
}

// searchSynonyms maps what residents type to the words guides use, so that
// 社保 finds 社会保险 and 开饭店 finds 食品经营许可. It is read only.
var searchSynonyms = map[string][]string{
	"社保":   {"社会保险", "社会保障"},
	"医保":   {"医疗保险", "医疗保障"},
	"个税":   {"个人所得税"},
	"养老金":  {"养老保险待遇"},
	"退休":   {"养老保险待遇"},
	"失业金":  {"失业保险金"},
	"低保":   {"最低生活保障"},
	"开饭店":  {"食品经营", "餐饮"},
	"饭店":   {"食品经营", "餐饮"},
	"开餐馆":  {"食品经营", "餐饮"},
	"餐馆":   {"食品经营", "餐饮"},
	"开公司":  {"企业设立", "企业开办"},
	"办执照":  {"营业执照", "设立登记"},
	"执照":   {"营业执照"},
	"结婚":   {"结婚登记"},
	"换身份证": {"居民身份证换领"},
	"补身份证": {"居民身份证补领"},
	"办身份证": {"居民身份证"},
	"领证":   {"结婚登记"},
	"离婚":   {"离婚登记"},
	"生孩子":  {"出生登记", "生育"},
	"生小孩":  {"出生登记", "生育"},
	"上户口":  {"出生登记", "户口迁入"},
	"落户":   {"户口迁入"},
	"迁户口":  {"户口迁入", "户口迁出"},
	"租房":   {"租赁"},
	"买房":   {"购房", "购买自住住房"},
	"盖房":   {"施工许可", "规划许可"},
	"残疾":   {"残疾人"},
}

// searchTerm is one word of a query, with the FTS expression that finds it
// and the words to highlight for it.
type searchTerm struct {
	word string
	// expr finds the word, or any of its synonyms: in the whole index,
	// anywhere in the item; in the index of names, in its name. phrases
	// finds the same items by the ways of saying the word one by one,
	// where expr has a word mark instead (bm25 scores the phrases).
	expr, phrases string
	// exprAlts are expr's alternatives one by one: the word itself, then
	// its synonyms in the order listed, then a loose match.
	exprAlts  []string
	highlight []string
	// alts are the same ways to match, for the PostgreSQL and MySQL index.
	alts []termAlt
}

// parseQuery splits a query into terms. It returns a ValidationError for
// input no one should be searched with.
func parseQuery(raw string) ([]searchTerm, error) {
	if !utf8.ValidString(raw) {
		return nil, &ValidationError{Fields: map[string]string{"q": "检索词中含有无法识别的字符，请重新输入。"}}
	}
	raw = strings.TrimSpace(raw)
	if utf8.RuneCountInString(raw) > MaxQueryRunes {
		return nil, &ValidationError{Fields: map[string]string{"q": fmt.Sprintf("检索词不能超过 %d 个字，请精简后重试。", MaxQueryRunes)}}
	}
	words := splitWords(strings.ToLower(raw))
	if len(words) == 0 {
		if raw == "" {
			return nil, nil
		}
		return nil, &ValidationError{Fields: map[string]string{"q": "检索词中没有可以检索的文字，请输入事项名称或关键词，如“社保”“营业执照”。"}}
	}
	if len(words) > maxQueryTerms {
		return nil, &ValidationError{Fields: map[string]string{"q": fmt.Sprintf("关键词不能超过 %d 个，请精简后重试。", maxQueryTerms)}}
	}
	var terms []searchTerm
	seen := map[string]bool{}
	for _, w := range words {
		if seen[w] {
			continue
		}
		seen[w] = true
		alts := append([]string{w}, searchSynonyms[w]...)
		var exprs []string
		var structured []termAlt
		for _, alt := range alts {
			if e := termExpr(alt); e != "" {
				exprs = append(exprs, e)
				structured = append(structured, altOf(alt))
			}
		}
		if len(exprs) == 0 {
			continue
		}
		phrases := "(" + strings.Join(exprs, " OR ") + ")"
		expr := phrases
		if len(alts) > 1 {
			// The index marks the items that have the word or a synonym:
			// one token's list to read, where the alternatives were each a
			// phrase to match (wordMark).
			expr = `"` + wordMark(w) + `"`
		}
		terms = append(terms, searchTerm{
			word:      w,
			expr:      expr,
			phrases:   phrases,
			exprAlts:  exprs,
			highlight: alts,
			alts:      structured,
		})
	}
	return terms, nil
}

// splitWords splits a query into words at anything that is not a letter or
// digit, and where Chinese meets other scripts: in 2号 or a社 each part is a
// word, so that a single Chinese character is still searched.
func splitWords(q string) []string {
	var words []string
	var cur []rune
	han := false
	for _, r := range q {
		isWord := unicode.IsLetter(r) || unicode.IsDigit(r)
		isHan := unicode.Is(unicode.Han, r)
		if len(cur) > 0 && (!isWord || isHan != han) {
			words = append(words, string(cur))
			cur = cur[:0]
		}
		if isWord {
			cur = append(cur, r)
			han = isHan
		}
	}
	if len(cur) > 0 {
		words = append(words, string(cur))
	}
	return words
}

// termExpr is the FTS5 expression for one word: the phrase of its bigrams,
// or, for a single Chinese character, the character in the chars column.
// Tokens hold only letters and digits, so quoting them cannot break out of
// the expression.
//
// A phrase names no column, though the chars column is not for words: a
// bigram or a Latin word is never a token of it (it holds single Chinese
// characters and word marks), so the match is the same, and a column filter costs FTS5 a
// look at the columns of each match (a tenth of counting 社保's 14,700
// matches at 100,000 items). A single character keeps its column: FTS5
// splits a bigram at a character it does not count as a letter (a Kangxi
// radical such as ⼒, pasted from a PDF), which would leave the other
// character alone in the bigrams.
func termExpr(word string) string {
	grams, chars := tokenize(word)
	if len(grams) > 0 {
		return `"` + strings.Join(grams, " ") + `"`
	}
	if len(chars) == 1 {
		return `chars : "` + chars[0] + `"`
	}
	return ""
}

// altOf is termExpr's match in structured form.
func altOf(word string) termAlt {
	grams, chars := tokenize(word)
	if len(grams) > 0 {
		return termAlt{grams: grams}
	}
	return termAlt{char: chars[0]}
}

// tokenize turns text into the tokens the search index holds: overlapping
// bigrams of each run of Chinese characters (社保卡 → 社保 保卡), whole
// lower-cased runs of other letters and digits, and, apart, the single
// Chinese characters for one-character queries.
func tokenize(text string) (grams, chars []string) {
	var run []rune
	han := false
	flush := func() {
		switch {
		case len(run) == 0:
		case han:
			for i := 0; i+1 < len(run); i++ {
				grams = append(grams, string(run[i:i+2]))
			}
			for _, r := range run {
				chars = append(chars, string(r))
			}
		default:
			grams = append(grams, strings.ToLower(string(run)))
		}
		run = run[:0]
	}
	for _, r := range text {
		isHan := unicode.Is(unicode.Han, r)
		isWord := isHan || unicode.IsLetter(r) || unicode.IsDigit(r)
		if !isWord || isHan != han {
			flush()
		}
		if isWord {
			han = isHan
			run = append(run, r)
		}
	}
	flush()
	return grams, chars
}

// searchDocument is what the index holds for one service item.
type searchDocument struct {
	// nameGrams and bodyGrams are the bigrams of the name and of the body
	// (summary, type, theme and department); chars the single characters
	// of name and summary, nameChars those of the name alone.
	nameGrams, bodyGrams, chars, nameChars string
	// marks are the word marks of the item, nameMarks those of its name
	// alone (wordMark). Only the SQLite index holds them.
	marks, nameMarks string
	// nameWords are the words with synonyms that the name has, for its
	// rank rows in the SQLite index of names (rankKey).
	nameWords []wordMatch
}

// documentOf builds the index document of an item.
func documentOf(it *ServiceItem, themeName string, dept *Department) searchDocument {
	g, c := tokenize(it.Name)
	// The body holds what says what the item is, not what it needs: nearly
	// every guide lists 居民身份证 or 营业执照 among its materials, and a
	// resident searching 身份证 wants the ID card services, not all of them.
	bg, _ := tokenize(strings.Join([]string{it.Summary, it.Type, themeName, dept.Name, dept.ShortName}, "\n"))
	_, sc := tokenize(it.Summary)
	chars := append(append([]string{}, c...), sc...)
	nameWords := wordMatches([][]string{g}, c)
	return searchDocument{
		nameGrams: strings.Join(g, " "),
		bodyGrams: strings.Join(bg, " "),
		chars:     strings.Join(chars, " "),
		nameChars: strings.Join(c, " "),
		marks:     marksOf(wordMatches([][]string{g, bg}, chars)),
		nameMarks: marksOf(nameWords),
		nameWords: nameWords,
	}
}

// synonymPrefix begins every word mark. A mark is a token of its own in the
// index, in a column of its own (marks), and no text yields it: text yields
// bigrams and single characters of Chinese, and runs of other letters, and
// a mark is Chinese of three or more characters, or Chinese and other
// letters in one token.
const synonymPrefix = "同义"

// wordMark is the token that marks, in the SQLite index, the items that
// have a resident's word with synonyms (a key of searchSynonyms) or any of
// its synonyms.
//
// Searching 社保 means matching 社保 or 社会保险 or 社会保障: three phrases,
// two of three bigrams each, whose position lists FTS5 reads and lines up
// for every item that has their bigrams (社会 and 保险 are in one item of
// seven). At 100,000 items, counting the 14,700 matches that way took 6.6
// ms, reading one token's list 1.0–1.9 ms. The marks are written with the
// rest of an item's index rows; a change to searchSynonyms needs the index
// written anew (a migration that calls rebuildSQLiteSearch, as 22 does),
// which TestWordMarksIndexedFor guards.
func wordMark(word string) string { return synonymPrefix + word }

// synonymWord is a key of searchSynonyms with its ways of being said as
// index tokens: the word first, then its synonyms.
type synonymWord struct {
	word string
	alts []altTokens
}

// altTokens is one way of saying a word, as termExpr matches it: a phrase
// of bigrams, or, for a single Chinese character, that character.
type altTokens struct {
	grams []string
	char  string
}

// synonymWords is searchSynonyms tokenized once, in the order of its keys,
// so that an item's marks are listed the same way each time.
var synonymWords = func() []synonymWord {
	words := make([]string, 0, len(searchSynonyms))
	for w := range searchSynonyms {
		words = append(words, w)
	}
	slices.Sort(words)
	out := make([]synonymWord, 0, len(words))
	for _, w := range words {
		sw := synonymWord{word: w}
		for _, alt := range append([]string{w}, searchSynonyms[w]...) {
			grams, chars := tokenize(alt)
			switch {
			case len(grams) > 0:
				sw.alts = append(sw.alts, altTokens{grams: grams})
			case len(chars) == 1:
				sw.alts = append(sw.alts, altTokens{char: chars[0]})
			}
		}
		out = append(out, sw)
	}
	return out
}()

// wordMatch is a word with synonyms that a text has: its place in
// synonymWords, and which of its ways of being said the text has, as
// nameOrder weighs them (the first the highest bit).
type wordMatch struct {
	index int
	alts  int
}

// wordMatches lists the words with synonyms that a text has, as FTS5
// matches termExpr's phrases: the bigrams of a phrase one after another in
// one column (columns holds each column's bigrams in order), a single
// character among chars.
//
// FTS5 reads the tokens the store writes with its own idea of a letter
// (asFTS5Sees), which this follows. Its tables are of Unicode 6.1, so a
// character added to Unicode since is a separator to FTS5 and a letter to
// Go. No way of saying a word has one; but a bigram of two such characters
// standing alone between two parts of a phrase (社会，𰀀𰀁，会保险) would leave
// the item without the word's mark where the phrase matches it.
func wordMatches(columns [][]string, chars []string) []wordMatch {
	seen := make([][]string, len(columns))
	for i, col := range columns {
		seen[i] = asFTS5Sees(col)
	}
	columns, chars = seen, asFTS5Sees(chars)
	var found []wordMatch
	for i, sw := range synonymWords {
		m := wordMatch{index: i}
		for j, alt := range sw.alts {
			has := false
			if alt.char != "" {
				has = slices.Contains(chars, alt.char)
			} else {
				has = slices.ContainsFunc(columns, func(col []string) bool { return hasRun(col, alt.grams) })
			}
			if has {
				m.alts |= 1 << (len(sw.alts) - 1 - j)
			}
		}
		if m.alts != 0 {
			found = append(found, m)
		}
	}
	return found
}

// asFTS5Sees returns tokens as FTS5's unicode61 tokenizer reads them:
// without the characters that are not letters or digits, at which it
// splits (a Kangxi radical such as ⼒ is of the Han script, but a symbol),
// and without the tokens left empty. A bigram holds at most one token.
func asFTS5Sees(tokens []string) []string {
	out := tokens[:0:0]
	for _, tok := range tokens {
		if strings.IndexFunc(tok, func(r rune) bool { return !isTokenRune(r) }) < 0 {
			out = append(out, tok)
			continue
		}
		if kept := strings.Map(func(r rune) rune {
			if isTokenRune(r) {
				return r
			}
			return -1
		}, tok); kept != "" {
			out = append(out, kept)
		}
	}
	return out
}

// marksOf is the index column text of the words' marks.
func marksOf(words []wordMatch) string {
	marks := make([]string, len(words))
	for i, w := range words {
		marks[i] = wordMark(synonymWords[w.index].word)
	}
	return strings.Join(marks, " ")
}

// hasRun reports whether run occurs in tokens, its tokens one after another.
func hasRun(tokens, run []string) bool {
	for i := 0; i+len(run) <= len(tokens); i++ {
		if slices.Equal(tokens[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

// On SQLite an item has two index rows, and rank rows (rankKey).
// service_item_search holds the whole
// document under a key that carries, besides the item's id, the facets a
// catalogue counts by (published, audience, theme, department): a search
// counts its matches by facet from the index alone, without reading an
// item for each of them, which at 100,000 items cost more than the match
// itself. service_item_names holds the name alone, under a key that carries
// the name's length: the items whose name has the words are listed first,
// shortest name first (nameOrder), ranked from the keys of a small index.
//
// A search key is the item's id times 2³², plus its facets in the lower 32
// bits: the department's id in bits 0–15, the theme's in 16–28, the
// audience in 29–30 and, in bit 31, whether the item is published. A name
// key is the item's id times 2³², plus the name's length in characters. An
// item's rows are the keys from id×2³² to id×2³²+2³²−1, so rewriting them
// needs no lookup.
const (
	facetBits  = 32
	facetMask  = 1<<facetBits - 1
	deptBits   = 16
	themeBits  = 13
	maxItemKey = 1<<(63-facetBits) - 1
)

// audienceFacets are the audiences by their two bits in a search key, the
// one table that searchKey writes and facetGroup reads; 0 is an item
// without one.
func audienceFacets() [4]Audience {
	return [4]Audience{1: AudiencePerson, 2: AudienceCompany, 3: AudienceBoth}
}

// searchKey is the service_item_search rowid of an item.
func searchKey(it *ServiceItem) (int64, error) {
	if it.ID > maxItemKey || it.DepartmentID >= 1<<deptBits || it.ThemeID >= 1<<themeBits {
		return 0, fmt.Errorf("search key of item %d (theme %d, department %d): out of range", it.ID, it.ThemeID, it.DepartmentID)
	}
	audiences := audienceFacets()
	aud := int64(max(slices.Index(audiences[:], it.Audience), 0))
	var pub int64
	if it.Published {
		pub = 1
	}
	facets := pub<<(facetBits-1) | aud<<(deptBits+themeBits) | int64(it.ThemeID)<<deptBits | int64(it.DepartmentID)
	return int64(it.ID)<<facetBits | facets, nil
}

// nameKey is the service_item_names rowid of an item's name row.
func nameKey(it *ServiceItem) (int64, error) {
	if it.ID > maxItemKey {
		return 0, fmt.Errorf("name key of item %d: out of range", it.ID)
	}
	return int64(it.ID)<<facetBits | int64(min(utf8.RuneCountInString(it.Name), rankRow-1)), nil
}

// Rank rows. Ranking a search's name matches as nameOrder does costs, for
// a word with synonyms, a look into a list of matches per way of saying it
// for every name that has the word: for 社保's 2,989 names at 100,000
// items, that and reading the items to sort them took 4.2 ms, the match
// itself 0.2 ms. So, besides its name row, an item has in the index of
// names a rank row for each word with synonyms its name has, which holds
// the word's rank mark alone, under a key that ranks it for that word:
//
//	bit 31       1, a rank row (a name row's key has the name's length here)
//	bits 23–30   255 less the word's ways of saying it that the name has,
//	             as nameOrder weighs them (a name with more first)
//	bits 7–22    the name's length (a name has at most 200 characters)
//	bits 0–6     the word's place in synonymWords, to keep keys apart
//
// A search for one such word ranks its rank rows by their keys, as it
// ranks a search without synonyms by the name rows' keys (rankedByKey).
const (
	rankRow        = 1 << 31
	rankAltsShift  = 23
	rankLenShift   = 7
	maxRankLen     = 1<<16 - 1
	maxSynonymWord = 1<<rankLenShift - 1
	// maxWordAlts is how many ways of saying a word the 8 bits of a rank
	// key can weigh.
	maxWordAlts = 8
)

// rankPrefix begins every rank mark, which is a token for the same reason
// a word mark is (synonymPrefix).
const rankPrefix = "同序"

// rankMark is the token of a word's rank rows in the index of names.
func rankMark(word string) string { return rankPrefix + word }

// rankKey is the service_item_names rowid of an item's rank row for a word.
func rankKey(it *ServiceItem, w wordMatch) int64 {
	n := min(utf8.RuneCountInString(it.Name), maxRankLen)
	return int64(it.ID)<<facetBits | rankRow | int64(255-w.alts)<<rankAltsShift | int64(n)<<rankLenShift | int64(w.index)
}

// facetGroup reads the facets in the lower bits of a search key.
func facetGroup(facets int64) (g group, published bool) {
	g.DepartmentID = uint(facets & (1<<deptBits - 1))
	g.ThemeID = uint(facets >> deptBits & (1<<themeBits - 1))
	g.Audience = audienceFacets()[facets>>(deptBits+themeBits)&3]
	return g, facets>>(facetBits-1)&1 == 1
}

// indexGuide writes (or rewrites) the search index rows of one service
// item. It must run whenever what the index holds changes: the text, and on
// SQLite the facets of the key too (publishing, audience, theme, department).
func indexGuide(tx *gorm.DB, it *ServiceItem, themeName string, dept *Department) error {
	doc := documentOf(it, themeName, dept)
	if tx.Dialector.Name() != "sqlite" {
		if err := indexGuideServer(tx, it.ID, doc.nameGrams, doc.bodyGrams, doc.chars); err != nil {
			return fmt.Errorf("index guide %s: %w", it.Code, err)
		}
		return nil
	}
	key, err := searchKey(it)
	if err != nil {
		return fmt.Errorf("index guide %s: %w", it.Code, err)
	}
	first := int64(it.ID) << facetBits
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{"DELETE FROM service_item_search WHERE rowid BETWEEN ? AND ?", []any{first, first | facetMask}},
		{"INSERT INTO service_item_search (rowid, name_grams, body_grams, chars, marks) VALUES (?, ?, ?, ?, ?)",
			[]any{key, doc.nameGrams, doc.bodyGrams, doc.chars, doc.marks}},
		{"DELETE FROM service_item_names WHERE rowid BETWEEN ? AND ?", []any{first, first | facetMask}},
	} {
		if err := tx.Exec(stmt.sql, stmt.args...).Error; err != nil {
			return fmt.Errorf("index guide %s: %w", it.Code, err)
		}
	}
	if err := insertNameRows(tx, it, doc); err != nil {
		return fmt.Errorf("index guide %s: %w", it.Code, err)
	}
	return nil
}

// insertNameRows writes an item's rows in the SQLite index of names: its
// name row and its rank rows.
func insertNameRows(tx *gorm.DB, it *ServiceItem, doc searchDocument) error {
	name, err := nameKey(it)
	if err != nil {
		return err
	}
	if err := tx.Exec("INSERT INTO service_item_names (rowid, name_grams, chars, marks) VALUES (?, ?, ?, ?)",
		name, doc.nameGrams, doc.nameChars, doc.nameMarks).Error; err != nil {
		return err
	}
	for _, w := range doc.nameWords {
		if err := tx.Exec("INSERT INTO service_item_names (rowid, name_grams, chars, marks) VALUES (?, '', '', ?)",
			rankKey(it, w), rankMark(synonymWords[w.index].word)).Error; err != nil {
			return err
		}
	}
	return nil
}

// reindexGuides writes the search index rows of every service item, a
// thousand at a time.
func reindexGuides(tx *gorm.DB) error { return eachGuide(tx, indexGuide) }

// reindexNames writes the SQLite index of names again, after a change of
// its keys: the old rows, whatever their keys, all go. Rewritten row by row,
// an FTS5 index is left in many segments and with the old rows' deletion
// markers, all of which a match then reads (rewriting the whole index of
// 100,000 items this way made counting 社保's matches twice as slow), so
// 'optimize' merges it into one segment. At 100,000 items the rewrite took
// 8 s, the merge 0.2 s of it.
func reindexNames(tx *gorm.DB) error {
	if err := tx.Exec("DELETE FROM service_item_names").Error; err != nil {
		return err
	}
	err := eachGuide(tx, func(tx *gorm.DB, it *ServiceItem, themeName string, dept *Department) error {
		if err := insertNameRows(tx, it, documentOf(it, themeName, dept)); err != nil {
			return fmt.Errorf("reindex name of %s: %w", it.Code, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tx.Exec("INSERT INTO service_item_names (service_item_names) VALUES ('optimize')").Error
}

// eachGuide calls index with every service item and its theme's name and
// department, reading a thousand items at a time.
func eachGuide(tx *gorm.DB, index func(tx *gorm.DB, it *ServiceItem, themeName string, dept *Department) error) error {
	var themes []Theme
	if err := tx.Find(&themes).Error; err != nil {
		return err
	}
	themeNames := make(map[uint]string, len(themes))
	for _, th := range themes {
		themeNames[th.ID] = th.Name
	}
	var depts []Department
	if err := tx.Find(&depts).Error; err != nil {
		return err
	}
	byID := make(map[uint]*Department, len(depts))
	for i := range depts {
		byID[depts[i].ID] = &depts[i]
	}
	for last := uint(0); ; {
		var items []ServiceItem
		err := tx.Select("id", "code", "name", "summary", "type", "audience", "theme_id", "department_id", "published").
			Where("id > ?", last).Order("id").Limit(1000).Find(&items).Error
		if err != nil || len(items) == 0 {
			return err
		}
		for i := range items {
			it := &items[i]
			dept := byID[it.DepartmentID]
			if dept == nil {
				return fmt.Errorf("reindex guide %s: department %d missing", it.Code, it.DepartmentID)
			}
			if err := index(tx, it, themeNames[it.ThemeID], dept); err != nil {
				return err
			}
		}
		last = items[len(items)-1].ID
	}
}

// FindGuides returns one page of published service items that match the
// filter, ranked by relevance when there is a query (else most viewed
// first), with the counts for each audience, theme and department.
func (s *Store) FindGuides(ctx context.Context, f GuideFilter) (*GuideResult, error) {
	terms, err := parseQuery(f.Query)
	if err != nil {
		return nil, err
	}
	res := &GuideResult{Page: f.Page, PerPage: f.PerPage}
	if res.Page < 1 {
		res.Page = 1
	}
	if res.PerPage < 1 || res.PerPage > 100 {
		res.PerPage = defaultPerPage
	}
	if f.Audience != "" && f.Audience != AudiencePerson && f.Audience != AudienceCompany {
		return nil, &ValidationError{Fields: map[string]string{"audience": "服务对象只能选择“个人”或“法人”。"}}
	}
	db := s.db.WithContext(ctx)
	sel := selection{audience: f.Audience}
	themes, err := s.FindThemes(ctx)
	if err != nil {
		return nil, fmt.Errorf("find guides: %w", err)
	}
	depts, err := s.FindDepartments(ctx)
	if err != nil {
		return nil, fmt.Errorf("find guides: %w", err)
	}
	res.ThemeList, res.DepartmentList = themes, depts
	if f.Theme != "" {
		for i := range themes {
			if themes[i].Slug == f.Theme {
				res.Theme, sel.themeID = &themes[i], themes[i].ID
			}
		}
		if res.Theme == nil {
			return nil, &ValidationError{Fields: map[string]string{"theme": "没有找到这个主题分类，请从列表中选择。"}}
		}
	}
	if f.Department != "" {
		for i := range depts {
			if depts[i].Slug == f.Department {
				res.Department, sel.departmentID = &depts[i], depts[i].ID
			}
		}
		if res.Department == nil {
			return nil, &ValidationError{Fields: map[string]string{"department": "没有找到这个部门，请从列表中选择。"}}
		}
	}
	for _, t := range terms {
		res.Terms = append(res.Terms, t.word)
	}
	var ids []uint
	run := func() (err error) {
		ids, err = s.search(db, sel, res, themes, depts)
		return err
	}
	if len(terms) > 0 {
		sel.setTerms(terms, " AND ")
		if err := run(); err != nil {
			return nil, err
		}
		if res.Total == 0 {
			if loose, ok, err := s.loosen(db, terms); err != nil {
				return nil, err
			} else if ok {
				terms = loose
				sel.setTerms(terms, " AND ")
				if err := run(); err != nil {
					return nil, err
				}
			}
		}
		if res.Total == 0 && len(terms) > 1 {
			sel.setTerms(terms, " OR ")
			sel.anyTerm = true
			res.Broadened = true
			if err := run(); err != nil {
				return nil, err
			}
		}
	} else if err := run(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return res, nil
	}
	var items []ServiceItem
	if err := db.Preload("Department").Preload("Theme").Where("id IN ?", ids).Find(&items).Error; err != nil {
		return nil, fmt.Errorf("find guides: %w", err)
	}
	byID := make(map[uint]ServiceItem, len(items))
	for _, it := range items {
		byID[it.ID] = it
	}
	var marks []string
	for _, t := range terms {
		marks = append(marks, t.highlight...)
	}
	for _, id := range ids {
		it := byID[id]
		res.Hits = append(res.Hits, GuideHit{
			ServiceItem:  it,
			NameParts:    Highlight(it.Name, marks),
			SummaryParts: Highlight(it.Summary, marks),
		})
	}
	return res, nil
}

// loosen rewrites the terms that are runs of three or more Chinese
// characters to match their bigrams anywhere in the item rather than as one
// phrase: residents write 公积金提取 where the guide says 提取住房公积金. A
// bigram that no item has (金提) is dropped, as it can only be the seam
// between two words. It reports whether any term changed.
func (s *Store) loosen(db *gorm.DB, terms []searchTerm) ([]searchTerm, bool, error) {
	out := make([]searchTerm, 0, len(terms))
	changed := false
	for _, t := range terms {
		grams, _ := tokenize(t.word)
		if len(grams) < 2 || !isHanWord(t.word) {
			out = append(out, t)
			continue
		}
		var known []string
		var err error
		if s.dialect == dialectSQLite {
			err = db.Table("service_item_search_vocab").Where("term IN ?", grams).Pluck("term", &known).Error
		} else {
			known, err = knownGramsServer(db, grams)
		}
		if err != nil {
			return nil, false, fmt.Errorf("loosen search: %w", err)
		}
		if len(known) < 2 {
			out = append(out, t)
			continue
		}
		quoted := make([]string, len(known))
		for i, g := range known {
			quoted[i] = `"` + g + `"`
		}
		all := "(" + strings.Join(quoted, " AND ") + ")"
		out = append(out, searchTerm{
			word:      t.word,
			expr:      "(" + t.expr + " OR " + all + ")",
			phrases:   "(" + t.phrases + " OR " + all + ")",
			exprAlts:  append(append([]string{}, t.exprAlts...), all),
			highlight: append(known, t.highlight...),
			alts:      append(append([]termAlt{}, t.alts...), termAlt{grams: known, loose: true}),
		})
		changed = true
	}
	return out, changed, nil
}

func isHanWord(w string) bool {
	for _, r := range w {
		if !unicode.Is(unicode.Han, r) {
			return false
		}
	}
	return true
}

// asciiLower lower-cases ASCII letters only, so that byte offsets in the
// result are offsets in the input (full Unicode case mapping can change a
// character's length).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// joinExprs combines the terms' expressions with AND or OR.
func joinExprs(terms []searchTerm, op string) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = t.expr
	}
	return strings.Join(parts, op)
}

// setTerms makes the selection match the terms, all (op AND) or any (OR).
func (sel *selection) setTerms(terms []searchTerm, op string) {
	phrases := make([]string, len(terms))
	for i, t := range terms {
		phrases[i] = t.phrases
	}
	sel.match, sel.phrases, sel.terms = joinExprs(terms, op), strings.Join(phrases, op), terms
}

// selection is a resolved GuideFilter.
type selection struct {
	// match is the FTS expression an item must match; in the index of
	// names it finds the items whose name has the words, which rank first.
	// phrases is the same match by phrases, for bm25 (searchTerm).
	match, phrases string
	// terms and anyTerm are the same match for the PostgreSQL and MySQL
	// index: all terms, or any when anyTerm.
	terms        []searchTerm
	anyTerm      bool
	audience     Audience
	themeID      uint
	departmentID uint
}

// filter keeps the published items of "si" that pass the selection's
// filters.
func (sel selection) filter(q *gorm.DB) *gorm.DB {
	q = q.Where("si.published = ?", true)
	if sel.audience != "" {
		q = q.Where("si.audience IN ?", []Audience{sel.audience, AudienceBoth})
	}
	if sel.themeID != 0 {
		q = q.Where("si.theme_id = ?", sel.themeID)
	}
	if sel.departmentID != 0 {
		q = q.Where("si.department_id = ?", sel.departmentID)
	}
	return q
}

// items queries the selected items as "si", without a search.
func (sel selection) items(db *gorm.DB) *gorm.DB {
	return sel.filter(db.Table("service_items AS si"))
}

// matches queries the selected items that match the search, as "si". The
// FTS table drives the query (CROSS JOIN fixes the order): SQLite would
// otherwise walk every published item and probe the index once per row.
// Each match's item is read through the narrow covering index, by the id in
// the upper bits of its key.
func (sel selection) matches(db *gorm.DB) *gorm.DB { return sel.matchesOf(db, sel.match) }

// matchesOf is matches by another expression of the same match.
func (sel selection) matchesOf(db *gorm.DB, match string) *gorm.DB {
	return sel.filter(db.Table("service_item_search CROSS JOIN service_items AS si"+sqliteIndex(db, "idx_service_items_cover")+
		" ON si.id = service_item_search.rowid >> ?", facetBits).
		Where("service_item_search MATCH ?", match))
}

// nameMatches queries the selected items whose name has the words, as "si",
// from the index of names.
func (sel selection) nameMatches(db *gorm.DB) *gorm.DB { return sel.nameMatchesOf(db, sel.match) }

// nameMatchesOf queries the selected items whose rows in the index of
// names match an expression, as "si".
func (sel selection) nameMatchesOf(db *gorm.DB, match string) *gorm.DB {
	return sel.filter(db.Table("service_item_names CROSS JOIN service_items AS si"+sqliteIndex(db, "idx_service_items_cover")+
		" ON si.id = service_item_names.rowid >> ?", facetBits).
		Where("service_item_names MATCH ?", match))
}

// sqliteIndex makes SQLite read a table through the index named, where its
// planner, which keeps no statistics here, would choose worse: the search
// reads its matches through the narrow covering index (id, published,
// audience, theme, department, views) instead of the wide item rows, whose
// lookup by id pages in every item's text. It is SQLite syntax; other
// databases get no hint.
func sqliteIndex(db *gorm.DB, index string) string {
	if db.Dialector.Name() == "sqlite" {
		return " INDEXED BY " + index
	}
	return ""
}

// search fills in the counts of res for sel and returns the ids of the
// requested page, best first.
//
// Items whose name has the words come first, ranked as nameOrder says in
// the index of names, then the other matches by bm25 in the whole index (a
// name's words weigh most), then the most viewed. No row per match reaches
// Go: the counts come from the facets in the index keys, listed in one
// string (countFacets), and only the page's ids are fetched. The name
// matches are always ranked; the other matches only when the page reaches
// past them, and bm25, the costly part, only there. SQLite keeps just the
// best OFFSET+LIMIT rows while it ranks (ORDER BY with LIMIT).
//
// The counting and the ranking of the name matches are independent
// statements, each bound to one core inside SQLite: they run at once on two
// pooled connections (WAL lets readers run side by side), so that a search
// takes about the longer of the two, not their sum. Each statement already
// read its own snapshot when they ran one after the other, so running them
// at once changes nothing a user sees.
func (s *Store) search(db *gorm.DB, sel selection, res *GuideResult, themes []Theme, depts []Department) ([]uint, error) {
	t := newTally(sel)
	if sel.match == "" {
		return s.browse(db, sel, res, t, themes, depts)
	}
	if s.dialect != dialectSQLite {
		return s.searchServer(db, sel, res, themes, depts)
	}
	from := (res.Page - 1) * res.PerPage
	type ranked struct {
		ids []uint
		err error
	}
	first := make(chan ranked, 1)
	go func() {
		var ids []uint
		var err error
		if match, ok := sel.rankedByKey(); ok {
			ids, err = sel.nameMatchesByKey(db, match, from, res.PerPage)
		} else {
			err = sel.nameMatches(db).Order(sel.nameOrder()).Limit(res.PerPage).Offset(from).Pluck("si.id", &ids).Error
		}
		first <- ranked{ids, err}
	}()
	err := countFacets(db, sel.match, false, t)
	names := <-first
	if err != nil {
		return nil, fmt.Errorf("search guides: %w", err)
	}
	if names.err != nil {
		return nil, fmt.Errorf("search guides: %w", names.err)
	}
	t.fill(res, themes, depts)
	if from >= res.Total {
		return nil, nil
	}
	ids := names.ids
	if len(ids) == res.PerPage || from+len(ids) >= res.Total {
		return ids, nil
	}
	// The page runs past the name matches. Only when it starts past them
	// does the rest's offset need their number.
	offset := 0
	if len(ids) == 0 {
		named := newTally(sel)
		if err := countFacets(db, sel.match, true, named); err != nil {
			return nil, fmt.Errorf("search guides: %w", err)
		}
		offset = from - named.total
	}
	var rest []uint
	err = sel.otherMatches(db).Limit(res.PerPage-len(ids)).Offset(offset).Pluck("si.id", &rest).Error
	if err != nil {
		return nil, fmt.Errorf("search guides: %w", err)
	}
	return append(ids, rest...), nil
}

// nameOrder ranks the name matches. When no item has every word (a
// widened search), names with more of the words come first. Then the ways
// of saying each word a name has: the resident's own word first, then its
// synonyms in the order they are listed (开公司 means 企业设立 before
// 企业开办), and a name with more of them before one with fewer (退休 finds
// 企业职工基本养老保险待遇申领（退休）, which has the word and its synonym
// 养老保险待遇, first). Each word's alternatives are the bits of a number,
// the first the highest, so that one list per alternative, built once,
// ranks them; the numbers of several words add up, which only weighs when
// more than one of them has synonyms. bm25 alone would put the rarest
// synonym first, which is no better a match for being rare. Then come the
// shortest names, a short name that has the words being mostly the words
// themselves (租房提取住房公积金 before 退休、离职销户提取住房公积金), then
// the most viewed. The length is in the name's key, so that ranking a
// match reads nothing but the covering index. bm25, which ranked names
// about the same, cost more than all the rest: ranking 公积金's 7,352 name
// matches at 100,000 items took 7.6 ms with it, 2.8 ms without.
func (sel selection) nameOrder() clause.OrderBy {
	var keys []string
	var args []any
	if sel.anyTerm {
		words := make([]string, len(sel.terms))
		for i, t := range sel.terms {
			words[i] = "(si.id IN " + nameMatchList + ")"
			args = append(args, t.expr)
		}
		keys = append(keys, "("+strings.Join(words, " + ")+") DESC")
	}
	var alts []string
	for _, t := range sel.terms {
		if len(t.exprAlts) < 2 {
			continue
		}
		for i, alt := range t.exprAlts {
			alts = append(alts, fmt.Sprintf("(si.id IN %s) * %d", nameMatchList, 1<<(len(t.exprAlts)-1-i)))
			args = append(args, alt)
		}
	}
	if len(alts) > 0 {
		keys = append(keys, "("+strings.Join(alts, " + ")+") DESC")
	}
	keys = append(keys, fmt.Sprintf("service_item_names.rowid & %d", facetMask), "si.view_count DESC", "si.id")
	return clause.OrderBy{Expression: clause.Expr{SQL: strings.Join(keys, ", "), Vars: args, WithoutParentheses: true}}
}

// rankedByKey returns the expression whose matches in the index of names
// nameOrder ranks by their keys before the items' views, and whether there
// is one: the search's own, when no word has synonyms; the word's rank
// mark, when the search is for one word with synonyms (rankKey). Other
// searches (several words with synonyms, a widened or loosened search) are
// ranked by nameOrder in full.
func (sel selection) rankedByKey() (string, bool) {
	if sel.anyTerm {
		return "", false
	}
	if len(sel.terms) == 1 {
		t := sel.terms[0]
		i, found := slices.BinarySearchFunc(synonymWords, t.word, func(sw synonymWord, w string) int { return strings.Compare(sw.word, w) })
		if found && len(t.exprAlts) == len(synonymWords[i].alts) {
			return `"` + rankMark(t.word) + `"`, true
		}
	}
	for _, t := range sel.terms {
		if len(t.exprAlts) > 1 {
			return "", false
		}
	}
	return sel.match, true
}

// nameMatchesByKey returns a page of the selected items among the matches
// of match in the index of names, ranked by their keys, then the most
// viewed. Reading an item for each match costs more than the match: at
// 100,000 items, 公积金's 7,352 names took 4.3 ms, their keys alone 0.3 ms.
// So, when no filter is chosen, only the matches ranked no later than the
// page's end and as many again are read, with every match of the same key
// rank as the last of them: those are the first in nameOrder, and a page
// that they fill is the page. Otherwise (the items they read were mostly
// withdrawn) the page is read from all matches.
func (sel selection) nameMatchesByKey(db *gorm.DB, match string, from, perPage int) ([]uint, error) {
	order := fmt.Sprintf("service_item_names.rowid & %d, si.view_count DESC, si.id", facetMask)
	page := func(q *gorm.DB) ([]uint, error) {
		var ids []uint
		err := q.Order(order).Limit(perPage).Offset(from).Pluck("si.id", &ids).Error
		return ids, err
	}
	if sel.audience == "" && sel.themeID == 0 && sel.departmentID == 0 {
		var last []int64
		err := db.Table("service_item_names").Where("service_item_names MATCH ?", match).
			Order(fmt.Sprintf("rowid & %d", facetMask)).Limit(1).Offset(2*(from+perPage)-1).
			Pluck(fmt.Sprintf("rowid & %d", facetMask), &last).Error
		if err != nil {
			return nil, err
		}
		if len(last) == 0 {
			// No more matches than that: all are read.
			return page(sel.nameMatchesOf(db, match))
		}
		ids, err := page(sel.nameMatchesOf(db, match).Where("service_item_names.rowid & ? <= ?", facetMask, last[0]))
		if err != nil || len(ids) == perPage {
			return ids, err
		}
	}
	return page(sel.nameMatchesOf(db, match))
}

// otherMatches orders the selected matches whose name lacks the words, best
// first. The name matches' list is built once and checked on each match
// before the item is read and scored. The matches are found by phrases, not
// word marks: bm25 weighs a phrase by the column it is in (a name's words
// most), where a word mark has a column of its own.
func (sel selection) otherMatches(db *gorm.DB) *gorm.DB {
	return sel.matchesOf(db, sel.phrases).
		Where("+(service_item_search.rowid >> ?) NOT IN "+nameMatchList, facetBits, sel.match).
		Order("bm25(service_item_search, 10.0, 2.0, 1.0), si.view_count DESC, si.id")
}

// nameMatchList is the ids of the items whose name matches an expression,
// a list SQLite builds once per statement: "+" on the left keeps it from
// driving the query instead of the FTS match. 32 is facetBits, which the
// constants below hold to.
const nameMatchList = "(SELECT rowid >> 32 FROM service_item_names WHERE service_item_names MATCH ?)"

const (
	_ uint = facetBits - 32
	_ uint = 32 - facetBits
)

// countFacets adds to t the published items that match, grouped by
// audience, theme and department, read from the facets of their index keys;
// with inName, only those whose name has the words. SQLite lists the
// matches' facets in one string, and they are counted here: its GROUP BY
// sorts the matches first, which for 公积金's 13,340 matches at 100,000
// items cost as much as finding them (3.3 ms in all, 1.8 ms without it).
func countFacets(db *gorm.DB, match string, inName bool, t *tally) error {
	var list sql.NullString
	if err := facetList(db, match, inName).Row().Scan(&list); err != nil {
		return err
	}
	counts, err := countList(list.String)
	if err != nil {
		return err
	}
	for facets, n := range counts {
		g, published := facetGroup(facets)
		if published {
			g.N = n
			t.add(g)
		}
	}
	return nil
}

// countList counts the numbers of a comma-separated list of them, as
// SQLite's group_concat writes it.
func countList(list string) (map[int64]int, error) {
	counts := map[int64]int{}
	var n int64
	for i := 0; i < len(list); i++ {
		switch c := list[i]; {
		case c >= '0' && c <= '9' && n <= (math.MaxInt64-9)/10:
			n = n*10 + int64(c-'0')
		case c == ',' && i > 0 && list[i-1] != ',':
			counts[n]++
			n = 0
		default:
			return nil, fmt.Errorf("count facets: %q at %d of the list of facets", c, i)
		}
	}
	if list != "" {
		if list[len(list)-1] == ',' {
			return nil, fmt.Errorf("count facets: the list of facets ends in a comma")
		}
		counts[n]++
	}
	return counts, nil
}

// facetList selects the facets of the matches' keys as one comma-separated
// list, for countFacets.
func facetList(db *gorm.DB, match string, inName bool) *gorm.DB {
	q := db.Table("service_item_search").Where("service_item_search MATCH ?", match)
	if inName {
		q = q.Where("+(service_item_search.rowid >> ?) IN "+nameMatchList, facetBits, match)
	}
	return q.Select("group_concat(service_item_search.rowid & ?)", facetMask)
}

// browse counts and pages the catalogue without a search: counts grouped
// over the covering index, the page in order of views.
func (s *Store) browse(db *gorm.DB, sel selection, res *GuideResult, t *tally, themes []Theme, depts []Department) ([]uint, error) {
	var groups []group
	err := (selection{}).items(db).
		Select("si.audience, si.theme_id, si.department_id, COUNT(*) AS n").
		Group("si.audience, si.theme_id, si.department_id").
		Scan(&groups).Error
	if err != nil {
		return nil, fmt.Errorf("count guides: %w", err)
	}
	for _, g := range groups {
		t.add(g)
	}
	t.fill(res, themes, depts)
	if (res.Page-1)*res.PerPage >= res.Total {
		return nil, nil
	}
	var ids []uint
	err = sel.items(db).Order("si.view_count DESC, si.id").
		Limit(res.PerPage).Offset((res.Page-1)*res.PerPage).Pluck("si.id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("find guides: %w", err)
	}
	return ids, nil
}

// group is a number of items sharing audience, theme and department.
type group struct {
	Audience     Audience
	ThemeID      uint
	DepartmentID uint
	N            int
}

// tally counts items for the listing and for each filter's values, with the
// other filters kept: what choosing that value would give.
type tally struct {
	sel             selection
	total           int
	person, company int
	byTheme         map[uint]int
	byDept          map[uint]int
}

func newTally(sel selection) *tally {
	return &tally{sel: sel, byTheme: map[uint]int{}, byDept: map[uint]int{}}
}

func audienceOK(a, want Audience) bool { return want == "" || a == want || a == AudienceBoth }

// add counts a group and reports whether it passes every filter.
func (t *tally) add(g group) bool {
	aud := audienceOK(g.Audience, t.sel.audience)
	theme := t.sel.themeID == 0 || g.ThemeID == t.sel.themeID
	dept := t.sel.departmentID == 0 || g.DepartmentID == t.sel.departmentID
	if theme && dept {
		if audienceOK(g.Audience, AudiencePerson) {
			t.person += g.N
		}
		if audienceOK(g.Audience, AudienceCompany) {
			t.company += g.N
		}
	}
	if aud && dept {
		t.byTheme[g.ThemeID] += g.N
	}
	if aud && theme {
		t.byDept[g.DepartmentID] += g.N
	}
	if aud && theme && dept {
		t.total += g.N
		return true
	}
	return false
}

// fill writes the counts into res, facets in display order.
func (t *tally) fill(res *GuideResult, themes []Theme, depts []Department) {
	res.Total = t.total
	res.Audiences = []FacetCount{
		{Key: string(AudiencePerson), Label: "个人办事", Count: t.person},
		{Key: string(AudienceCompany), Label: "法人办事", Count: t.company},
	}
	res.Themes = res.Themes[:0]
	for _, th := range themes {
		if t.byTheme[th.ID] > 0 || th.ID == t.sel.themeID {
			res.Themes = append(res.Themes, FacetCount{Key: th.Slug, Label: th.Name, Count: t.byTheme[th.ID]})
		}
	}
	res.Departments = res.Departments[:0]
	for _, d := range depts {
		if t.byDept[d.ID] > 0 || d.ID == t.sel.departmentID {
			res.Departments = append(res.Departments, FacetCount{Key: d.Slug, Label: d.Name, Count: t.byDept[d.ID]})
		}
	}
}

// Highlight splits text into parts, marking every occurrence of any of the
// words (case-insensitively for Latin letters). Overlapping matches merge.
func Highlight(text string, words []string) []TextPart {
	if text == "" {
		return nil
	}
	lower := asciiLower(text)
	type span struct{ from, to int }
	var spans []span
	for _, w := range words {
		if w = asciiLower(w); w == "" {
			continue
		}
		for i := 0; i < len(lower); {
			j := strings.Index(lower[i:], w)
			if j < 0 {
				break
			}
			spans = append(spans, span{i + j, i + j + len(w)})
			i += j + len(w)
		}
	}
	if len(spans) == 0 {
		return []TextPart{{Text: text}}
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].from < spans[b].from })
	var parts []TextPart
	pos := 0
	for _, sp := range spans {
		if sp.to <= pos {
			continue
		}
		if sp.from > pos {
			parts = append(parts, TextPart{Text: text[pos:sp.from]})
		} else {
			sp.from = pos
		}
		parts = append(parts, TextPart{Text: text[sp.from:sp.to], Match: true})
		pos = sp.to
	}
	if pos < len(text) {
		parts = append(parts, TextPart{Text: text[pos:]})
	}
	return parts
}

// isTokenRune reports whether r may stand in an index token.
func isTokenRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
