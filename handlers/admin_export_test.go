package handlers

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/zwfw/portal/models"
)

// rateAt stores a rating made at a Beijing time, "2006-01-02 15:04".
func rateAt(t *testing.T, app *testApp, in models.RatingInput, when string) *models.RatingReceipt {
	t.Helper()
	at, err := time.ParseInLocation("2006-01-02 15:04", when, models.InBeijing(time.Now()).Location())
	if err != nil {
		t.Fatal(err)
	}
	in.Device, in.Address = "device-"+when, "address-"+when
	rec, err := app.store.RateCounter(context.Background(), in, models.DefaultRatingRules(), at)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// newExportApp is the admin app with ratings in March 2026, stored out of
// time order: two for 人社局 (B01, B02), one for 户政科 (C02), and one each
// side of the month.
func newExportApp(t *testing.T) *testApp {
	t.Helper()
	app := newAdminApp(t)
	hostile := "=cmd|' /C calc'!A0"
	bad := func(counter string) models.RatingInput {
		return models.RatingInput{CounterCode: counter, Level: models.LevelDissatisfied, Reasons: []string{"事难办", "其他"},
			Comment: hostile, Phone: "13912345678"}
	}
	rateAt(t, app, bad("B01"), "2026-03-20 10:00")
	rateAt(t, app, bad("C02"), "2026-03-06 11:00")
	rateAt(t, app, models.RatingInput{CounterCode: "B02", Level: models.LevelSatisfied, Comment: "+1 办得快"}, "2026-03-02 09:30")
	rateAt(t, app, bad("B01"), "2026-02-28 23:59")
	rateAt(t, app, bad("B01"), "2026-04-01 00:00")
	return app
}

const march = "&from=2026-03-01&to=2026-03-31"

// download fetches an export and checks the headers every export has.
func download(t *testing.T, b *browser, query, contentType, filename string) []byte {
	t.Helper()
	res, body := b.get(t, "/admin/export/download?"+query)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", query, res.StatusCode, stripTags(body))
	}
	if got := res.Header.Get("Content-Type"); got != contentType {
		t.Errorf("Content-Type %q, want %q", got, contentType)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	want := `attachment; filename="` + filename + `"; filename*=UTF-8''`
	if got := res.Header.Get("Content-Disposition"); !strings.HasPrefix(got, want) {
		t.Errorf("Content-Disposition %q, want it to start %q", got, want)
	}
	return []byte(body)
}

// readCSV checks the byte order mark and parses the rest.
func readCSV(t *testing.T, body []byte) [][]string {
	t.Helper()
	rest, ok := bytes.CutPrefix(body, []byte{0xEF, 0xBB, 0xBF})
	if !ok {
		t.Fatal("the CSV does not start with a UTF-8 byte order mark: Excel would garble the Chinese")
	}
	rows, err := csv.NewReader(bytes.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestExportCSVOfOwnDepartment(t *testing.T) {
	app := newExportApp(t)
	b := newBrowser(app, "10.11.0.1")
	signIn(t, b, "rsj.admin", models.DemoPassword)

	body := download(t, b, "kind=ratings&format=csv"+march, "text/csv; charset=utf-8", "ratings_2026-03-01_2026-03-31.csv")
	res, _ := b.get(t, "/admin/export/download?kind=ratings&format=csv"+march)
	if got, want := res.Header.Get("Content-Disposition"), "filename*=UTF-8''"+url.PathEscape("评价记录_2026-03-01_2026-03-31.csv"); !strings.HasSuffix(got, want) {
		t.Errorf("Content-Disposition %q, want the Chinese name %q", got, want)
	}
	if bytes.Contains(body, []byte("13912345678")) || bytes.Contains(body, []byte("139****")) {
		t.Fatal("a ratings export carries the rater's number")
	}
	rows := readCSV(t, body)
	if !reflect.DeepEqual(rows[0], models.RatingExportHeader()) {
		t.Fatalf("header %q", rows[0])
	}
	rows = rows[1:]
	if len(rows) != 2 {
		t.Fatalf("%d ratings, want the department's 2 of March:\n%q", len(rows), rows)
	}
	for _, row := range rows {
		if row[1] != "清河区人力资源和社会保障局" || row[2] == "C02" {
			t.Fatalf("another department's rating in a 部门管理员's export: %q", row)
		}
	}
	first, second := rows[0], rows[1]
	if first[0] != "2026-03-02 09:30" || first[2] != "B02" || first[4] != "满意" || first[6] != "'+1 办得快" || first[7] != "" {
		t.Errorf("first row %q", first)
	}
	if second[0] != "2026-03-20 10:00" || second[4] != "不满意" || second[5] != "事难办、其他" ||
		second[6] != "'=cmd|' /C calc'!A0" || !strings.HasPrefix(second[7], "DB20260320-") {
		t.Errorf("second row %q", second)
	}

	body = download(t, b, "kind=cases&format=csv"+march, "text/csv; charset=utf-8", "cases_2026-03-01_2026-03-31.csv")
	if bytes.Contains(body, []byte("13912345678")) {
		t.Fatal("a cases export carries the rater's full number")
	}
	rows = readCSV(t, body)
	if !reflect.DeepEqual(rows[0], models.CaseExportHeader()) || len(rows) != 2 {
		t.Fatalf("cases: %q", rows)
	}
	if c := rows[1]; !strings.HasPrefix(c[0], "DB20260320-") || c[2] != "社保综合窗口（B01）" || c[3] != models.CaseAwaitingCallback ||
		c[len(c)-1] != "139****5678" {
		t.Errorf("case row %q", c)
	}

	// A 系统管理员 exports every department.
	sys := newBrowser(app, "10.11.0.2")
	signIn(t, sys, "admin", models.DemoPassword)
	rows = readCSV(t, download(t, sys, "kind=ratings&format=csv"+march, "text/csv; charset=utf-8", "ratings_2026-03-01_2026-03-31.csv"))
	if len(rows) != 4 || rows[2][2] != "C02" {
		t.Fatalf("the 系统管理员's export: %q", rows)
	}
}

func TestExportExcel(t *testing.T) {
	app := newExportApp(t)
	b := newBrowser(app, "10.11.1.1")
	signIn(t, b, "admin", models.DemoPassword)
	const xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

	tests := []struct {
		kind, sheet string
		header      []string
		rows        int
	}{
		{"ratings", "评价", models.RatingExportHeader(), 3},
		{"cases", "督办单", models.CaseExportHeader(), 2},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			body := download(t, b, "kind="+tt.kind+"&format=xlsx"+march, xlsx, tt.kind+"_2026-03-01_2026-03-31.xlsx")
			f, err := excelize.OpenReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := f.GetSheetList(); !reflect.DeepEqual(got, []string{tt.sheet}) {
				t.Fatalf("sheets %q, want one named %s", got, tt.sheet)
			}
			rows, err := f.GetRows(tt.sheet)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rows[0], tt.header) || len(rows) != tt.rows+1 {
				t.Fatalf("rows %q", rows)
			}
			style, err := f.GetCellStyle(tt.sheet, "A1")
			if err != nil {
				t.Fatal(err)
			}
			if s, err := f.GetStyle(style); err != nil || s.Font == nil || !s.Font.Bold {
				t.Error("the header row is not bold")
			}
			if w, err := f.GetColWidth(tt.sheet, "A"); err != nil || w < 15 {
				t.Errorf("column A is %v wide", w)
			}
			// The time column, in the order of the rows.
			col := 0
			if tt.kind == "cases" {
				col = 5
			}
			var times []string
			for _, row := range rows[1:] {
				times = append(times, row[col])
				if strings.Contains(strings.Join(row, ","), "13912345678") {
					t.Fatal("an export carries the rater's full number")
				}
			}
			if !sort.StringsAreSorted(times) || times[0] < "2026-03-01" || times[len(times)-1] >= "2026-04" {
				t.Errorf("times %q, want March in ascending order", times)
			}
			last := rows[len(rows)-1]
			switch tt.kind {
			case "ratings":
				if last[6] != "'=cmd|' /C calc'!A0" {
					t.Errorf("comment %q, want it neutralised", last[6])
				}
			case "cases":
				if last[len(last)-1] != "139****5678" {
					t.Errorf("回访电话 %q, want it masked", last[len(last)-1])
				}
			}
		})
	}
}

func TestExportRejectsBadInput(t *testing.T) {
	app := newAdminApp(t)
	b := newBrowser(app, "10.11.2.1")
	signIn(t, b, "rsj.admin", models.DemoPassword)
	tests := []struct {
		name, query, want, kept string
	}{
		{"backwards", "kind=ratings&format=csv&from=2026-03-10&to=2026-03-01", "截止日期不能早于起始日期", `value="2026-03-10"`},
		{"no such month", "kind=ratings&format=csv&from=2026-13-01&to=2026-03-01", "起始日期格式应为", `value="2026-13-01"`},
		{"not a date", "kind=cases&format=xlsx&from=2026-03-01&to=%3Cb%3E", "截止日期格式应为", `value="&lt;b&gt;"`},
		{"over a year", "kind=cases&format=xlsx&from=2025-01-01&to=2026-03-01", "一次最多导出 366 天，所选时段共 425 天", `value="2025-01-01"`},
		{"unknown kind", "kind=users&format=csv", "请选择导出内容", `value="csv" checked`},
		{"unknown format", "kind=cases&format=pdf", "请选择导出格式", `value="cases" checked`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, page := range []string{"/admin/export/download", "/admin/export"} {
				res, body := b.get(t, page+"?"+tt.query)
				if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, tt.want) {
					t.Fatalf("GET %s: %d, want 422 with %q\n%s", page, res.StatusCode, tt.want, stripTags(body))
				}
				if !strings.Contains(body, tt.kept) || !strings.Contains(body, `aria-invalid="true"`) {
					t.Errorf("GET %s: the input is not kept, or the field not marked", page)
				}
				if res.Header.Get("Content-Disposition") != "" {
					t.Errorf("GET %s: a refused export sent a file", page)
				}
			}
		})
	}
}

func TestExportForm(t *testing.T) {
	app := newAdminApp(t)
	id := openCase(t, app, "B01")
	for _, target := range []string{"/admin/export", "/admin/export/download?kind=cases&format=csv"} {
		res, _ := app.get(t, target)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login?next=") {
			t.Errorf("anonymous GET %s: %d → %q, want the sign-in page", target, res.StatusCode, res.Header.Get("Location"))
		}
	}

	b := newBrowser(app, "10.11.3.1")
	signIn(t, b, "rsj.admin", models.DemoPassword)
	res, body := b.get(t, "/admin/export")
	from, to := models.DefaultExportPeriod(time.Now())
	if res.StatusCode != http.StatusOK {
		t.Fatalf("form: %d", res.StatusCode)
	}
	for _, w := range []string{"内容", "评价记录", "督办单", "格式", "CSV", "Excel", `<label for="from">起始日期</label>`,
		`<label for="to">截止日期</label>`, `type="date"`, `value="` + from + `"`, `value="` + to + `"`, "导出本部门"} {
		if !strings.Contains(body, w) {
			t.Errorf("the form lacks %q", w)
		}
	}
	// Without dates, the current month: today's case is in it.
	rows := readCSV(t, download(t, b, "kind=cases&format=csv", "text/csv; charset=utf-8", "cases_"+from+"_"+to+".csv"))
	if c, _ := app.store.FindCase(context.Background(), id, 0); len(rows) != 2 || rows[1][0] != c.Number {
		t.Fatalf("this month's cases: %q", rows)
	}
}

func TestNeutralise(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1":               "'=1+1",
		"=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0",
		"+86 139":            "'+86 139",
		"-2":                 "'-2",
		"@SUM(A1)":           "'@SUM(A1)",
		"\t=1":               "'\t=1",
		"\r=1":               "'\r=1",
		"":                   "",
		"办事效率低":              "办事效率低",
		"a=1":                "a=1",
		"'=1":                "'=1",
		"２０２６":               "２０２６",
		"＝1":                 "＝1",
	} {
		if got := neutralise(in); got != want {
			t.Errorf("neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAttachmentNames(t *testing.T) {
	got := attachment("ratings_2026-03.csv", "评价记录 (三月).csv")
	want := `attachment; filename="ratings_2026-03.csv"; filename*=UTF-8''%E8%AF%84%E4%BB%B7%E8%AE%B0%E5%BD%95%20%28%E4%B8%89%E6%9C%88%29.csv`
	if got != want {
		t.Fatalf("attachment = %s\nwant %s", got, want)
	}
}

func TestExportColumnWidthsMatchHeaders(t *testing.T) {
	for name, k := range exportKinds {
		if len(k.widths) != len(k.header) {
			t.Errorf("%s: %d widths for %d columns", name, len(k.widths), len(k.header))
		}
	}
}
