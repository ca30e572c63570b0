package models

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSearchQuery holds the search parser to its promises for any input:
// it either refuses with a ValidationError or builds FTS expressions whose
// quoted tokens hold only letters and digits, so no input can break out of
// the expression; and highlighting never loses or splits a character.
func FuzzSearchQuery(f *testing.F) {
	for _, seed := range []string{"社保", "公积金 提取", "營業執照", `"社保`, "社保*", "' OR 1=1 --", "<script>", "2号", "\xff\xfe", "", "　", "a社b保"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, q string) {
		terms, err := parseQuery(q)
		if err != nil {
			if _, ok := AsValidationError(err); !ok {
				t.Fatalf("parseQuery(%q): %v, want a ValidationError", q, err)
			}
			return
		}
		for _, term := range terms {
			for _, expr := range append([]string{term.expr}, term.exprAlts...) {
				// Between the quotes of each phrase: letters, digits and
				// the spaces that separate tokens, nothing else.
				parts := strings.Split(expr, `"`)
				for i := 1; i < len(parts); i += 2 {
					for _, r := range parts[i] {
						if r != ' ' && !isTokenRune(r) {
							t.Fatalf("parseQuery(%q): %q in a quoted phrase of %q", q, r, expr)
						}
					}
				}
				if strings.Count(expr, `"`)%2 != 0 {
					t.Fatalf("parseQuery(%q): unbalanced quotes in %q", q, expr)
				}
			}
		}
		if !utf8.ValidString(q) {
			return
		}
		var words []string
		for _, term := range terms {
			words = append(words, term.highlight...)
		}
		var b strings.Builder
		for _, p := range Highlight(q, words) {
			if !utf8.ValidString(p.Text) {
				t.Fatalf("Highlight(%q) split a character: %q", q, p.Text)
			}
			b.WriteString(p.Text)
		}
		if q != "" && b.String() != q {
			t.Fatalf("Highlight(%q) lost text: %q", q, b.String())
		}
	})
}
