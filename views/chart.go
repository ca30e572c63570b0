package views

import (
	"hash/fnv"
	"math"
	"strconv"
	"strings"
)

// TrendPoint is one month of a satisfaction trend.
type TrendPoint struct {
	// Label names the month as "2006-01", e.g. "2026-03".
	Label string
	// Rate is the share of satisfied ratings, from 0 to 1.
	Rate float64
	// Total is the number of ratings that month; 0 makes the month a gap.
	Total int
}

// The chart is drawn in its own coordinate system (the viewBox) and scaled
// by the browser, so it fits a phone as well as a desktop. 480 units leave
// room for twelve month labels side by side; a phone shrinks them, so the
// stylesheet enlarges the labels on narrow screens (the data table below
// the chart gives the exact numbers at any size).
const (
	trendWidth  = 480
	trendHeight = 240
	trendLeft   = 48 // room for "100%"
	trendRight  = 20 // half of the last month label
	trendTop    = 12
	trendBottom = 40 // month and year labels
)

// trendModel is everything TrendChart draws, computed here in plain Go so
// that the template only iterates and the geometry can be tested.
type trendModel struct {
	TitleID string
	DescID  string
	ViewBox string
	Desc    string
	PlotX0  string
	PlotX1  string
	// YLabelX is where the y labels end; MonthY and YearY are the
	// baselines of the two rows of x labels.
	YLabelX string
	MonthY  string
	YearY   string
	Grid    []trendGridLine
	XLabels []trendXLabel
	// Lines are the polylines' points attributes, one per run of months
	// that have ratings: a month without ratings breaks the line.
	Lines []string
	Dots  []trendDot
	Rows  []trendRow
}

type trendGridLine struct {
	Y     string
	Label string
}

type trendXLabel struct {
	X     string
	Month string
	// Year is set on January and on the first month, under the month.
	Year string
}

type trendDot struct {
	X, Y string
	Tip  string
}

type trendRow struct {
	Label string
	Rate  string
	Total string
}

// hasTrendData reports whether any month has ratings; without one the chart
// would be an empty frame, so TrendChart says so in words instead.
func hasTrendData(points []TrendPoint) bool {
	for _, p := range points {
		if p.Total > 0 {
			return true
		}
	}
	return false
}

// trendChart lays out the chart. The points are expected in month order,
// one per month, gaps included, so that their spacing is time's.
func trendChart(title string, points []TrendPoint) trendModel {
	id := trendID(title, points)
	m := trendModel{
		TitleID: id + "-title",
		DescID:  id + "-desc",
		ViewBox: "0 0 " + itoa(trendWidth) + " " + itoa(trendHeight),
		PlotX0:  coord(trendLeft),
		PlotX1:  coord(trendWidth - trendRight),
		YLabelX: coord(trendLeft - 6),
		MonthY:  coord(trendHeight - trendBottom + 18),
		YearY:   coord(trendHeight - trendBottom + 33),
		Desc:    trendDesc(points),
	}

	lo := trendLowerBound(points)
	plotH := float64(trendHeight - trendTop - trendBottom)
	y := func(rate float64) float64 {
		return trendTop + (1-clamp01(rate))/(1-lo)*plotH
	}
	step := 0.1
	if 1-lo > 0.5 {
		step = 0.2
	}
	// Count down from 100% in whole steps so that float error does not
	// pile up, and stop at the lower bound, which is always drawn.
	for i := 0; ; i++ {
		v := 1 - float64(i)*step
		if v < lo+1e-9 {
			break
		}
		m.Grid = append(m.Grid, trendGridLine{Y: coord(y(v)), Label: percentWhole(v)})
	}
	m.Grid = append(m.Grid, trendGridLine{Y: coord(y(lo)), Label: percentWhole(lo)})

	plotW := float64(trendWidth - trendLeft - trendRight)
	x := func(i int) float64 {
		if len(points) == 1 {
			return trendLeft + plotW/2
		}
		return trendLeft + float64(i)*plotW/float64(len(points)-1)
	}
	// A month without ratings ends a run of the line. A run of one month is
	// only a dot: a one-point polyline would draw nothing.
	var line []string
	flush := func() {
		if len(line) > 1 {
			m.Lines = append(m.Lines, strings.Join(line, " "))
		}
		line = nil
	}
	for i, p := range points {
		year, month := splitMonth(p.Label)
		xl := trendXLabel{X: coord(x(i)), Month: month}
		if i == 0 || month == "1月" {
			xl.Year = year
		}
		m.XLabels = append(m.XLabels, xl)

		if p.Total <= 0 {
			flush()
			m.Rows = append(m.Rows, trendRow{Label: p.Label, Rate: "无评价", Total: "0"})
			continue
		}
		m.Rows = append(m.Rows, trendRow{Label: p.Label, Rate: percent(p.Rate), Total: thousands(p.Total)})
		px, py := coord(x(i)), coord(y(p.Rate))
		line = append(line, px+","+py)
		m.Dots = append(m.Dots, trendDot{
			X: px, Y: py,
			Tip: p.Label + "：满意率 " + percent(p.Rate) + "，共 " + thousands(p.Total) + " 条评价",
		})
	}
	flush()
	return m
}

// trendLowerBound is the bottom of the y axis: 10 percentage points below
// the lowest month, floored to a multiple of 10%, between 0% and 90% so that
// the axis always spans at least one gridline.
func trendLowerBound(points []TrendPoint) float64 {
	lowest := 1.0
	for _, p := range points {
		if p.Total > 0 {
			lowest = math.Min(lowest, clamp01(p.Rate))
		}
	}
	lo := math.Floor((lowest-0.1)*10+1e-9) / 10
	return math.Max(0, math.Min(lo, 0.9))
}

// trendDesc summarises the chart in a sentence for screen readers: the
// months covered, the best and worst month and the months without ratings.
func trendDesc(points []TrendPoint) string {
	if len(points) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(points[0].Label)
	if len(points) > 1 {
		b.WriteString(" 至 " + points[len(points)-1].Label)
	}
	b.WriteString(" 满意率")
	hi, lo, n := -1, -1, 0
	var gaps []string
	for i, p := range points {
		if p.Total <= 0 {
			gaps = append(gaps, p.Label)
			continue
		}
		n++
		if hi < 0 || clamp01(p.Rate) > clamp01(points[hi].Rate) {
			hi = i
		}
		if lo < 0 || clamp01(p.Rate) < clamp01(points[lo].Rate) {
			lo = i
		}
	}
	switch {
	case n == 1:
		b.WriteString("，仅 " + points[hi].Label + " 有评价，为 " + percent(points[hi].Rate))
	case n > 1:
		b.WriteString("，最高 " + points[hi].Label + " 为 " + percent(points[hi].Rate))
		b.WriteString("，最低 " + points[lo].Label + " 为 " + percent(points[lo].Rate))
	}
	if len(gaps) > 0 {
		b.WriteString("；" + strings.Join(gaps, "、") + " 无评价，曲线在此中断")
	}
	b.WriteString("。")
	return b.String()
}

// trendID derives the ids that tie the svg to its title and description
// from the chart's content, so two different charts on one page do not
// share ids without the caller having to name them.
func trendID(title string, points []TrendPoint) string {
	h := fnv.New32a()
	h.Write([]byte(title))
	for _, p := range points {
		h.Write([]byte{0})
		h.Write([]byte(p.Label))
	}
	return "trend-" + strconv.FormatUint(uint64(h.Sum32()), 36)
}

// splitMonth turns "2026-03" into "2026" and "3月"; a label of another form
// is shown as it is.
func splitMonth(label string) (year, month string) {
	y, m, ok := strings.Cut(label, "-")
	if !ok {
		return "", label
	}
	n, err := strconv.Atoi(m)
	if err != nil || n < 1 || n > 12 {
		return "", label
	}
	return y, itoa(n) + "月"
}

// percent formats a rate from 0 to 1 as a percentage with one decimal:
// percent(0.9512) is "95.1%".
func percent(rate float64) string {
	return strconv.FormatFloat(clamp01(rate)*100, 'f', 1, 64) + "%"
}

// percentWhole formats an axis value, a multiple of 10%, without decimals.
func percentWhole(rate float64) string {
	return strconv.Itoa(int(math.Round(clamp01(rate)*100))) + "%"
}

// thousands formats n with a comma between groups of three digits:
// thousands(1234) is "1,234".
func thousands(n int) string {
	s := strconv.Itoa(n)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// coord formats an svg coordinate with at most one decimal.
func coord(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

func clamp01(v float64) float64 {
	switch {
	case math.IsNaN(v) || v < 0:
		return 0
	case v > 1:
		return 1
	}
	return v
}
