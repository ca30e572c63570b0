package handlers

import (
	"strings"
	"sync"
	"testing"
)

// TestTraditionalCorrections checks each correction on the text where our
// pages have it, and that s2tw alone gets it wrong: a correction that is no
// longer needed shows up here.
func TestTraditionalCorrections(t *testing.T) {
	cv := sharedConverter(t)
	tests := []struct{ simplified, want, wrong string }{
		{"去干扰", "去干擾", "去幹擾"},
		{"养老保险金发放至本人账户", "養老保險金發放至本人賬戶", "金髮放"},
		{"足额发放工资", "足額發放工資", "額髮放"},
		{"租金发票", "租金發票", "金髮票"},
		{"办理发票遗失", "辦理發票遺失", "理髮票"},
		{"换发营业执照", "換發營業執照", "換髮"},
		{"商品房网签备案", "商品房網簽備案", "網籤"},
		{"现场面签", "現場面簽", "面籤"},
		{"为什么要签承诺书", "為什麼要簽承諾書", "要籤"},
		{"窗口可即时制证", "窗口可即時製證", "制證"},
		{"形成空档并产生欠费", "形成空檔並產生欠費", "併產生"},
		{"协助就业并为其办理", "協助就業並為其辦理", "併為其"},
		{"由系统统一并提交", "由系統統一並提交", "統一併"},
		{"发布办事指南", "發布辦事指南", "發佈"},
		{"依法公布", "依法公布", "公佈"},
	}
	for _, tt := range tests {
		t.Run(tt.simplified, func(t *testing.T) {
			raw, err := cv.toTraditional.Convert(tt.simplified)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(raw, tt.wrong) {
				t.Errorf("s2tw gives %q: no %q to correct any more", raw, tt.wrong)
			}
			if got := cv.Traditional(tt.simplified); got != tt.want {
				t.Errorf("Traditional(%q) = %q, want %q", tt.simplified, got, tt.want)
			}
		})
	}
	// Every correction is tested above.
	pairs := traditionalCorrections()
	if len(pairs)%2 != 0 {
		t.Fatal("corrections come in pairs")
	}
	for i := 0; i < len(pairs); i += 2 {
		found := false
		for _, tt := range tests {
			found = found || tt.wrong == pairs[i]
		}
		if !found {
			t.Errorf("correction %q → %q has no test", pairs[i], pairs[i+1])
		}
	}
}

// TestTraditionalKeepsWhatIsRight guards the words a wider correction or
// another configuration would break.
func TestTraditionalKeepsWhatIsRight(t *testing.T) {
	cv := sharedConverter(t)
	for simplified, want := range map[string]string{
		"窗口":          "窗口", // s2twp would say 視窗
		"办事指南":        "辦事指南",
		"理发店":         "理髮店",
		"干部":          "幹部",
		"以后":          "以後",
		"皇后":          "皇后",
		"面条":          "麵條",
		"一并办理":        "一併辦理",
		"身份证":         "身份證",
		"住房公积金":       "住房公積金",
		"营业执照":        "營業執照",
		"C02 号窗口":     "C02 號窗口",
		"9:00–17:00":  "9:00–17:00",
		"&amp;简&#34;": "&amp;簡&#34;",
	} {
		if got := cv.Traditional(simplified); got != want {
			t.Errorf("Traditional(%q) = %q, want %q", simplified, got, want)
		}
	}
	if got := cv.Simplified("社會保險 身份證"); got != "社会保险 身份证" {
		t.Errorf("Simplified = %q", got)
	}
}

func TestTraditionalHTML(t *testing.T) {
	cv := sharedConverter(t)
	tests := []struct{ name, in, want string }{
		{"text and title", `<title>办事指南 - 政务服务</title><p>请带身份证</p>`, `<title>辦事指南 - 政務服務</title><p>請帶身份證</p>`},
		{"markup is kept byte for byte", "<!DOCTYPE html>\n<html lang=\"zh-Hant\"><!-- 注释 --><svg viewBox=\"0 0 10 10\"><path d=\"M0 0h1\"></path></svg>",
			"<!DOCTYPE html>\n<html lang=\"zh-Hant\"><!-- 注释 --><svg viewBox=\"0 0 10 10\"><path d=\"M0 0h1\"></path></svg>"},
		{"readable attributes", `<img alt="办事大厅" src="/img/办.png" title='窗口'><input placeholder="请输入" aria-label="搜索办事事项">`,
			`<img alt="辦事大廳" src="/img/办.png" title='窗口'><input placeholder="請輸入" aria-label="搜索辦事事項">`},
		{"input values stay", `<input name="q" value="社保" placeholder="请输入"><option value="户政">户政</option>`,
			`<input name="q" value="社保" placeholder="請輸入"><option value="户政">戶政</option>`},
		{"textarea stays", `<label>说明</label><textarea name="c">后来发现</textarea><p>后</p>`, `<label>說明</label><textarea name="c">后来发现</textarea><p>後</p>`},
		{"empty textarea", `<textarea></textarea><p>发</p>`, `<textarea></textarea><p>發</p>`},
		{"script and style stay", `<script src="/a.js"></script><script>var s="简";</script><style>p::after{content:"简"}</style><b>简</b>`,
			`<script src="/a.js"></script><script>var s="简";</script><style>p::after{content:"简"}</style><b>簡</b>`},
		{"URLs stay", `<a href="/services?q=%E7%A4%BE%E4%BF%9D&amp;x=社保" data-note="社保">社保</a><form action="/搜索"></form>`,
			`<a href="/services?q=%E7%A4%BE%E4%BF%9D&amp;x=社保" data-note="社保">社保</a><form action="/搜索"></form>`},
		{"meta content", `<meta name="description" content="政务服务"><meta charset="utf-8">`, `<meta name="description" content="政務服務"><meta charset="utf-8">`},
		{"lang zh-Hans stays", `<li><a lang="zh-Hans" aria-label="简体中文" href="/x">简<b>体</b></a></li><li>简</li>`,
			`<li><a lang="zh-Hans" aria-label="简体中文" href="/x">简<b>体</b></a></li><li>簡</li>`},
		{"nested zh-Hans", `<div lang="zh-Hans"><div>简</div>简</div>简`, `<div lang="zh-Hans"><div>简</div>简</div>簡`},
		{"unquoted and empty attributes", `<button disabled title=提交>提交</button><p title="">说</p>`, `<button disabled title=提交>提交</button><p title="">說</p>`},
		{"entities", `<p>&lt;办&gt; &amp; “说”</p>`, `<p>&lt;辦&gt; &amp; “說”</p>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(cv.TraditionalHTML([]byte(tt.in))); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestConverterIsSafeForConcurrentUse: one converter serves every request
// (run with -race).
func TestConverterIsSafeForConcurrentUse(t *testing.T) {
	cv := sharedConverter(t)
	page := []byte(`<p title="办事">保险金发放</p><input value="社保">`)
	want := string(cv.TraditionalHTML(page))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if got := string(cv.TraditionalHTML(page)); got != want {
					t.Errorf("got %s", got)
					return
				}
			}
		})
	}
	wg.Wait()
}
