package static

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// carePairs are the text/background colour pairs of the 关怀版, as names
// of custom properties (read from care.css, falling back to site.css) or
// literal colours that site.css uses for tinted boxes. Each must reach 7:1,
// WCAG's enhanced contrast (AAA).
var carePairs = []struct{ text, background, where string }{
	{"--text", "#fff", "body text"},
	{"--muted", "#fff", "secondary text"},
	{"--blue", "#fff", "links"},
	{"--blue-dark", "#fff", "links on hover"},
	{"#fff", "--blue", "header, buttons, the selected filter"},
	{"#fff", "--blue-dark", "buttons on hover"},
	{"--red", "#fff", "field errors, 不满意 button"},
	{"--red", "#fdecea", "repealed notice, overdue tag"},
	{"--green", "#fff", "good news"},
	{"#fff", "--green", "满意 button"},
	{"--green", "#e6f4ea", "online tag"},
	{"--amber", "#fff", "warnings"},
	{"--text", "--bg", "footer, search panel"},
	{"--muted", "--bg", "footer notes"},
	{"--blue", "--blue-light", "links in the hero and key facts"},
	{"--text", "#e6f4ea", "flash message"},
	{"--text", "#fff8e1", "notice"},
	{"--text", "#fff0a8", "search highlight"},
	{"#000", "--focus", "skip link"},
}

var customProperty = regexp.MustCompile(`(--[a-z-]+):\s*(#[0-9a-fA-F]{3,6})\b`)

// properties returns the colour custom properties a stylesheet declares.
func properties(t *testing.T, name string) map[string]string {
	t.Helper()
	css, err := files.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range customProperty.FindAllStringSubmatch(string(css), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// luminance is WCAG's relative luminance of a #rgb or #rrggbb colour.
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 {
		t.Fatalf("colour %q", hex)
	}
	var l [3]float64
	for i := range l {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			t.Fatalf("colour %q", hex)
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			l[i] = c / 12.92
		} else {
			l[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

func contrast(a, b float64) float64 {
	return (max(a, b) + 0.05) / (min(a, b) + 0.05)
}

func TestLuminanceAndContrast(t *testing.T) {
	if got := contrast(luminance(t, "#000"), luminance(t, "#fff")); math.Abs(got-21) > 0.01 {
		t.Fatalf("black on white %.2f, want 21", got)
	}
	// WCAG's own example: #767676 on white is 4.54:1.
	if got := contrast(luminance(t, "#767676"), luminance(t, "#ffffff")); math.Abs(got-4.54) > 0.01 {
		t.Fatalf("#767676 on white %.2f, want 4.54", got)
	}
}

func TestCareContrastIsAtLeast7To1(t *testing.T) {
	care, site := properties(t, "css/care.css"), properties(t, "css/site.css")
	colour := func(v string) string {
		if !strings.HasPrefix(v, "--") {
			return v
		}
		if c, ok := care[v]; ok {
			return c
		}
		if c, ok := site[v]; ok {
			return c
		}
		t.Fatalf("no colour %s", v)
		return ""
	}
	for _, p := range carePairs {
		fg, bg := colour(p.text), colour(p.background)
		if got := contrast(luminance(t, fg), luminance(t, bg)); got < 7 {
			t.Errorf("%s: %s (%s) on %s (%s) is %.2f:1 in 关怀版, want at least 7:1", p.where, p.text, fg, p.background, bg, got)
		}
	}
	// The care stylesheet must set the colours it is tested with: the
	// standard ones do not all reach 7:1.
	for _, v := range []string{"--text", "--muted", "--blue", "--red", "--green", "--amber"} {
		if _, ok := care[v]; !ok {
			t.Errorf("care.css does not set %s", v)
		}
	}
}

// TestCareRules checks the rules the 关怀版 promises, as they are written.
func TestCareRules(t *testing.T) {
	b, err := files.ReadFile("css/care.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(b)
	for _, want := range []string{
		"font-size: 112.5%",                        // 18px text without browser zoom
		".care .bare-main { font-size: 1.25rem; }", // 22.5px on the rating pages
		"line-height: 1.6",
		"min-height: 60px",
		"transition: none !important; animation: none !important",
		"grid-template-columns: 1fr !important",
		"@media screen",
	} {
		if !strings.Contains(css, want) {
			t.Errorf("care.css lacks %q", want)
		}
	}
	// No smaller text than the 18px root in care mode: every font-size is
	// in rem or percent and at least 1rem.
	for _, m := range regexp.MustCompile(`font-size:\s*([0-9.]+)(rem|%|px|em)`).FindAllStringSubmatch(css, -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		if (m[2] == "rem" && v < 1) || m[2] == "px" || m[2] == "em" || (m[2] == "%" && v < 112.5) {
			t.Errorf("care.css sets font-size %s%s", m[1], m[2])
		}
	}
}
