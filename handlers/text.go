package handlers

import (
	"strings"
	"unicode/utf8"
)

const maxDisplayRunes = 2000

// displayable makes user input safe to show back in a form: valid UTF-8 and
// not absurdly long. What the user typed is otherwise left as it is.
func displayable(s string) string {
	s = strings.ToValidUTF8(s, "")
	if utf8.RuneCountInString(s) > maxDisplayRunes {
		s = string([]rune(s)[:maxDisplayRunes])
	}
	return s
}
