package handlers

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/longbridgeapp/opencc"
	"golang.org/x/net/html"
)

// Converter converts between Simplified and Traditional Chinese: whole pages
// to Traditional for the 繁體 view, and Traditional search input to
// Simplified, the script the guides are written and indexed in. Building
// one loads the dictionaries (about 100 ms), so it is built once and shared;
// it is only read afterwards and safe for concurrent use.
type Converter struct {
	// toTraditional is OpenCC's s2tw: Taiwan standard characters without
	// phrase substitution. s2twp would turn 窗口 into 視窗 (a computer
	// window); s2t gives characters no reader's standard uses.
	toTraditional *opencc.OpenCC
	toSimplified  *opencc.OpenCC
	// corrections fixes what s2tw gets wrong on our pages.
	corrections *strings.Replacer
}

// traditionalCorrections lists s2tw's mistakes found on the portal's pages,
// as pairs of s2tw's output and the right Traditional text. s2tw splits a
// sentence into the longest phrases of its dictionary, and sometimes a
// phrase straddles two words: 保险金发放 is read as 金发 (blond hair) + 放.
// Each pair is as short as the mistake allows and is tested.
func traditionalCorrections() []string {
	return []string{
		"去幹擾", "去干擾", // 去干扰: 干扰 is interference, not 幹
		"金髮放", "金發放", // 保险金发放: paying out, not blond hair
		"額髮放", "額發放", // 足额发放: in full, not forehead hair
		"金髮票", "金發票", // 租金发票: a receipt
		"理髮票", "理發票", // 办理发票: 办理 + 发票, not 理发 (haircut)
		"換髮", "換發", // 换发证照: reissue
		"網籤", "網簽", // 网签备案: signing online, not drawing lots
		"面籤", "面簽", // 面签: signing in person
		"要籤", "要簽", // 为什么要签承诺书
		"制證", "製證", // 制证: making the card
		"併產生", "並產生", // …并产生: "and", not "merge"
		"併為其", "並為其", // 就业并为其办理: "and"
		"統一併", "統一並", // 统一并提交: 统一 + 并, not 一并
		"發佈", "發布", // Taiwan's standard form (教育部) is 發布
		"公佈", "公布", // likewise 公布, as Taiwan's laws are 公布
	}
}

// NewConverter loads the dictionaries.
func NewConverter() (*Converter, error) {
	s2tw, err := opencc.New("s2tw")
	if err != nil {
		return nil, fmt.Errorf("chinese converter s2tw: %w", err)
	}
	t2s, err := opencc.New("t2s")
	if err != nil {
		return nil, fmt.Errorf("chinese converter t2s: %w", err)
	}
	return &Converter{
		toTraditional: s2tw,
		toSimplified:  t2s,
		corrections:   strings.NewReplacer(traditionalCorrections()...),
	}, nil
}

// Simplified converts Traditional Chinese to Simplified; on the converter's
// failure it returns the input, which at worst finds fewer results.
func (cv *Converter) Simplified(s string) string {
	out, err := cv.toSimplified.Convert(s)
	if err != nil {
		return s
	}
	return out
}

// Traditional converts Simplified Chinese text to Traditional (Taiwan
// standard) with the corrections applied. Only the runs of non-ASCII
// characters are converted: spaces, digits, Latin text and character
// references stay byte for byte.
func (cv *Converter) Traditional(s string) string {
	if !hasHan(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] < utf8.RuneSelf {
			i++
		}
		b.WriteString(s[:i])
		s = s[i:]
		j := 0
		for j < len(s) && s[j] >= utf8.RuneSelf {
			j++
		}
		b.WriteString(cv.traditionalRun(s[:j]))
		s = s[j:]
	}
	return b.String()
}

func (cv *Converter) traditionalRun(run string) string {
	if run == "" || !utf8.ValidString(run) || !hasHan(run) {
		return run
	}
	out, err := cv.toTraditional.Convert(run)
	if err != nil {
		return run
	}
	return cv.corrections.Replace(out)
}

// hasHan reports whether s holds a Chinese character.
func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x2E80 && unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// readableAttr reports whether an attribute's value is read or heard by
// people; every other attribute (value, href, src, action, name, id,
// data-…) is data and stays as it is. content counts only on <meta>.
func readableAttr(name, tag string) bool {
	switch name {
	case "title", "alt", "placeholder", "label", "aria-label", "aria-description",
		"aria-roledescription", "aria-placeholder", "aria-valuetext":
		return true
	case "content":
		return tag == "meta"
	}
	return false
}

// TraditionalHTML converts a rendered page to Traditional Chinese: text and
// the readable attributes, but not what the user typed or what machines
// read: input values, <textarea> content, <script> and <style>, URLs, and
// nothing inside an element marked lang="zh-Hans" (the switch back to
// Simplified, which must stay readable to whoever wants it). Everything else
// is copied byte for byte.
func (cv *Converter) TraditionalHTML(page []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(page) + len(page)/8)
	z := html.NewTokenizer(bytes.NewReader(page))
	rawText := false // the text token after <script>, <style>, <textarea>
	keepTag := ""    // inside this element marked lang="zh-Hans" …
	keepDepth := 0   // … nested this deep in elements of its name
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				// Not a page we rendered: better unconverted than cut.
				return page
			}
			break
		}
		// TagName and TagAttr lower-case the buffer in place: keep the raw
		// bytes first.
		raw := z.Raw()
		switch tt {
		case html.TextToken:
			if rawText || keepTag != "" {
				out.Write(raw)
			} else {
				out.WriteString(cv.Traditional(string(raw)))
			}
			rawText = false
			continue
		case html.StartTagToken, html.SelfClosingTagToken:
			rawCopy := append([]byte(nil), raw...)
			name, _ := z.TagName()
			tag := string(name)
			rawText = tt == html.StartTagToken && (tag == "script" || tag == "style" || tag == "textarea")
			switch {
			case keepTag != "":
				if tag == keepTag && tt == html.StartTagToken {
					keepDepth++
				}
				out.Write(rawCopy)
			case tt == html.StartTagToken && !voidElement(tag) && simplifiedOnly(z):
				keepTag, keepDepth = tag, 1
				out.Write(rawCopy)
			default:
				out.Write(cv.traditionalAttrs(rawCopy, tag))
			}
			continue
		case html.EndTagToken:
			if keepTag != "" {
				name, _ := z.TagName()
				if string(name) == keepTag {
					keepDepth--
					if keepDepth == 0 {
						keepTag = ""
					}
				}
			}
		}
		rawText = false
		out.Write(raw)
	}
	return out.Bytes()
}

// simplifiedOnly reports whether the current start tag says lang="zh-Hans".
func simplifiedOnly(z *html.Tokenizer) bool {
	for {
		key, val, more := z.TagAttr()
		if string(key) == "lang" && strings.EqualFold(string(val), "zh-Hans") {
			return true
		}
		if !more {
			return false
		}
	}
}

func voidElement(tag string) bool {
	switch tag {
	case "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr":
		return true
	}
	return false
}

// traditionalAttrs converts the readable attribute values in the raw text of
// a start tag and copies everything else as it is. It scans the attributes
// as HTML's tokenizer does (quoted, unquoted or no value).
func (cv *Converter) traditionalAttrs(raw []byte, tag string) []byte {
	if !hasHan(string(raw)) {
		return raw
	}
	var out []byte
	i := 1 // after '<'
	for i < len(raw) && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' {
		i++
	}
	out = append(out, raw[:i]...)
	for i < len(raw) {
		// Between attributes.
		start := i
		for i < len(raw) && (isSpace(raw[i]) || raw[i] == '/') {
			i++
		}
		if i >= len(raw) || raw[i] == '>' {
			out = append(out, raw[start:]...)
			return out
		}
		// The name.
		nameStart := i
		for i < len(raw) && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' && raw[i] != '=' {
			i++
		}
		name := strings.ToLower(string(raw[nameStart:i]))
		for i < len(raw) && isSpace(raw[i]) {
			i++
		}
		if i >= len(raw) || raw[i] != '=' {
			out = append(out, raw[start:i]...)
			continue
		}
		i++ // '='
		for i < len(raw) && isSpace(raw[i]) {
			i++
		}
		// The value.
		var valStart, valEnd int
		if i < len(raw) && (raw[i] == '"' || raw[i] == '\'') {
			quote := raw[i]
			valStart = i + 1
			valEnd = bytes.IndexByte(raw[valStart:], quote)
			if valEnd < 0 {
				out = append(out, raw[start:]...)
				return out
			}
			valEnd += valStart
			i = valEnd + 1
		} else {
			valStart = i
			for i < len(raw) && !isSpace(raw[i]) && raw[i] != '>' {
				i++
			}
			valEnd = i
		}
		out = append(out, raw[start:valStart]...)
		if readableAttr(name, tag) {
			out = append(out, cv.Traditional(string(raw[valStart:valEnd]))...)
		} else {
			out = append(out, raw[valStart:valEnd]...)
		}
		out = append(out, raw[valEnd:i]...)
	}
	return out
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f'
}
