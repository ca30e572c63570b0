package views

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

func renderTrendChart(t *testing.T, title string, points []TrendPoint) string {
	t.Helper()
	var buf bytes.Buffer
	if err := TrendChart(title, points).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// twelveMonths is a year of ratings with two months without any.
func twelveMonths() []TrendPoint {
	return []TrendPoint{
		{Label: "2025-12", Rate: 0.93, Total: 120},
		{Label: "2026-01", Rate: 0.95, Total: 1234},
		{Label: "2026-02", Rate: 0.881, Total: 80},
		{Label: "2026-03", Rate: 0.9512, Total: 300},
		{Label: "2026-04", Total: 0},
		{Label: "2026-05", Rate: 0.972, Total: 410},
		{Label: "2026-06", Rate: 0.96, Total: 380},
		{Label: "2026-07", Rate: 0.5, Total: 0},
		{Label: "2026-08", Rate: 0.92, Total: 200},
		{Label: "2026-09", Rate: 0.93, Total: 210},
		{Label: "2026-10", Rate: 0.95, Total: 220},
		{Label: "2026-11", Rate: 0.94, Total: 12345},
	}
}

func TestTrendChart(t *testing.T) {
	html := renderTrendChart(t, "近 12 个月满意率", twelveMonths())

	t.Run("accessible svg", func(t *testing.T) {
		m := regexp.MustCompile(`<svg [^>]*role="img" [^>]*aria-labelledby="([^"]+)" aria-describedby="([^"]+)"`).FindStringSubmatch(html)
		if m == nil {
			t.Fatalf("no <svg role=img> labelled by its title and described by its desc in\n%s", html)
		}
		if want := `<title id="` + m[1] + `">近 12 个月满意率</title>`; !strings.Contains(html, want) {
			t.Errorf("the svg's label %q is not its <title>", m[1])
		}
		if !strings.Contains(html, `<desc id="`+m[2]+`">`) {
			t.Errorf("the svg's description %q is not its <desc>", m[2])
		}
		if !strings.Contains(html, `<figcaption>近 12 个月满意率</figcaption>`) {
			t.Error("the figure has no caption")
		}
		if !strings.Contains(html, `viewBox="0 0 480 240"`) || !strings.Contains(html, `width="100%"`) {
			t.Error("the svg must scale: a viewBox and width 100%")
		}
		if strings.Contains(html, "style=") || strings.Contains(html, "<script") {
			t.Error("the CSP forbids inline style and script")
		}
	})

	t.Run("desc names the range, the best and worst month and the gaps", func(t *testing.T) {
		want := "<desc id=\"" + trendChart("近 12 个月满意率", twelveMonths()).DescID + "\">" +
			"2025-12 至 2026-11 满意率，最高 2026-05 为 97.2%，最低 2026-02 为 88.1%；2026-04、2026-07 无评价，曲线在此中断。</desc>"
		if !strings.Contains(html, want) {
			t.Errorf("desc: want %s in\n%s", want, html)
		}
	})

	t.Run("months without ratings are gaps", func(t *testing.T) {
		if got, want := strings.Count(html, "<circle "), 10; got != want {
			t.Errorf("%d points, want %d (none for the two empty months)", got, want)
		}
		// 12–3, gap, 5–6, gap, 8–11: three separate lines.
		if got, want := strings.Count(html, "<polyline "), 3; got != want {
			t.Errorf("%d polylines, want %d: the line must break at each empty month", got, want)
		}
		if strings.Contains(html, "2026-04：") || strings.Contains(html, "2026-07：") {
			t.Error("an empty month has a point")
		}
		if !strings.Contains(html, "<title>2026-03：满意率 95.1%，共 300 条评价</title>") ||
			!strings.Contains(html, "<title>2026-11：满意率 94.0%，共 12,345 条评价</title>") {
			t.Error("a point's tooltip is missing or misformatted")
		}
	})

	t.Run("axes", func(t *testing.T) {
		for _, label := range []string{">100%</text>", ">90%</text>", ">80%</text>", ">70%</text>", ">12月</text>", ">2025</text>", ">1月</text>", ">2026</text>", ">4月</text>"} {
			if !strings.Contains(html, label) {
				t.Errorf("axis label %s missing", label)
			}
		}
		if strings.Contains(html, ">60%</text>") {
			t.Error("the y axis goes lower than 10 points under the minimum, floored")
		}
		if got, want := strings.Count(html, ">2026</text>"), 1; got != want {
			t.Errorf("the year 2026 is shown %d times, want %d (on January only)", got, want)
		}
	})

	t.Run("data table", func(t *testing.T) {
		if !strings.Contains(html, "<details class=\"trend-data\"><summary>查看数据表</summary>") {
			t.Error("no <details> with the data table")
		}
		for _, row := range []string{
			`<tr><th scope="row">2026-01</th><td>95.0%</td><td>1,234</td></tr>`,
			`<tr><th scope="row">2026-02</th><td>88.1%</td><td>80</td></tr>`,
			`<tr><th scope="row">2026-04</th><td>无评价</td><td>0</td></tr>`,
			`<tr><th scope="row">2026-07</th><td>无评价</td><td>0</td></tr>`,
		} {
			if !strings.Contains(html, row) {
				t.Errorf("table row missing: %s", row)
			}
		}
		if got, want := strings.Count(html, `<th scope="row">`), 12; got != want {
			t.Errorf("%d table rows, want %d", got, want)
		}
	})
}

func TestTrendChartEmpty(t *testing.T) {
	for name, points := range map[string][]TrendPoint{
		"no points": nil,
		"all zero":  {{Label: "2026-01"}, {Label: "2026-02", Rate: 0.9}},
	} {
		t.Run(name, func(t *testing.T) {
			html := renderTrendChart(t, "满意率", points)
			if !strings.Contains(html, "暂无评价数据。") {
				t.Errorf("no empty-state sentence in %s", html)
			}
			if strings.Contains(html, "<svg") || strings.Contains(html, "<table") {
				t.Error("an empty chart draws an svg or a table")
			}
		})
	}
}

func TestTrendChartOneMonth(t *testing.T) {
	html := renderTrendChart(t, "满意率", []TrendPoint{{Label: "2026-03", Rate: 1, Total: 5}})
	if !strings.Contains(html, "2026-03 满意率，仅 2026-03 有评价，为 100.0%。") {
		t.Errorf("desc of a single month: %s", html)
	}
	if strings.Count(html, "<circle ") != 1 || strings.Contains(html, "<polyline") {
		t.Error("a single month is one point and no line")
	}
	if !strings.Contains(html, ">90%</text>") {
		t.Error("a 100% month still gets an axis from 90%")
	}
}

func TestTrendChartEscapes(t *testing.T) {
	html := renderTrendChart(t, `<script>alert("t")</script>`, []TrendPoint{
		{Label: `<script>alert(1)</script>`, Rate: 0.9, Total: 3},
		{Label: `"><img src=x onerror=alert(2)>`, Rate: 0.8, Total: 4},
	})
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(html, bad) {
			t.Errorf("a label reached the page as markup: %s", bad)
		}
	}
	if !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the label is not shown escaped")
	}
}

func TestTrendChartIDs(t *testing.T) {
	a := trendChart("办事满意率", twelveMonths())
	b := trendChart("窗口满意率", twelveMonths())
	if a.TitleID == b.TitleID || a.DescID == b.DescID {
		t.Errorf("two charts on one page share ids: %s", a.TitleID)
	}
	if !regexp.MustCompile(`^trend-[0-9a-z]+-title$`).MatchString(a.TitleID) {
		t.Errorf("id %q is not a plain HTML id", a.TitleID)
	}
}

func TestTrendLowerBound(t *testing.T) {
	tests := []struct {
		lowest float64
		want   float64
	}{
		{0.881, 0.7},
		{0.95, 0.8},
		{0.9, 0.8},
		{1, 0.9},
		{0.3, 0.2},
		{0.05, 0},
		{0, 0},
	}
	for _, tt := range tests {
		points := []TrendPoint{{Label: "2026-01", Rate: 1, Total: 1}, {Label: "2026-02", Rate: tt.lowest, Total: 1}, {Label: "2026-03", Rate: 0.01, Total: 0}}
		if got := trendLowerBound(points); got < tt.want-1e-9 || got > tt.want+1e-9 {
			t.Errorf("lowest %v: lower bound %v, want %v", tt.lowest, got, tt.want)
		}
	}
}

func TestNumberFormats(t *testing.T) {
	percents := map[float64]string{0.9512: "95.1%", 1: "100.0%", 0: "0.0%", 0.881: "88.1%", 1.2: "100.0%", -0.1: "0.0%"}
	for in, want := range percents {
		if got := percent(in); got != want {
			t.Errorf("percent(%v) = %q, want %q", in, got, want)
		}
	}
	counts := map[int]string{0: "0", 999: "999", 1000: "1,000", 1234: "1,234", 12345: "12,345", 1234567: "1,234,567", -1234: "-1,234"}
	for in, want := range counts {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
	months := map[string][2]string{"2026-03": {"2026", "3月"}, "2026-12": {"2026", "12月"}, "三月": {"", "三月"}, "2026-13": {"", "2026-13"}}
	for in, want := range months {
		if y, m := splitMonth(in); y != want[0] || m != want[1] {
			t.Errorf("splitMonth(%q) = %q, %q, want %q, %q", in, y, m, want[0], want[1])
		}
	}
}
