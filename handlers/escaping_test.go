package handlers

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/zwfw/portal/models"
)

// hostileText is what a careless or malicious editor might type: markup
// that would run as script, and a spreadsheet formula.
const hostileText = `=HYPERLINK("http://evil.example","<script>alert(1)</script>")`

// TestStoredMarkupIsShownAsText stores hostile text in a board entry, a
// guide, a counter's name and a rating's comment, then reads every page,
// print view, poster and export that shows them: the script is shown as
// text, never as markup, and no export cell starts a formula.
func TestStoredMarkupIsShownAsText(t *testing.T) {
	app := newAdminApp(t)
	ctx := context.Background()
	by := models.Actor{Name: "测试"}

	ctr, err := app.store.FindCounterByCode(ctx, "B01")
	if err != nil {
		t.Fatal(err)
	}
	edit, err := app.store.FindCounterForEdit(ctx, 0, ctr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(edit.ServiceItems) == 0 {
		t.Fatal("B01 handles no item")
	}
	in := models.CounterInput{Name: hostileText, Floor: edit.Floor, Hall: edit.Hall, Number: edit.Number, Hours: hostileText}
	for _, it := range edit.ServiceItems {
		in.ItemIDs = append(in.ItemIDs, it.ID)
	}
	if err := app.store.UpdateCounter(ctx, 0, ctr.ID, edit.Version, in, by); err != nil {
		t.Fatal(err)
	}

	guide, err := app.store.FindGuideForEdit(ctx, 0, edit.ServiceItems[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	gin := models.GuideInputOf(guide)
	gin.Name, gin.Summary = hostileText, hostileText
	if err := app.store.UpdateGuide(ctx, 0, guide.ID, guide.Version, gin, by); err != nil {
		t.Fatal(err)
	}

	board, err := app.store.FindBoard(ctx, "rsj")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.store.AddDutyEntry(ctx, board.Department.ID, board.Sections[0].ID, models.DutyEntryInput{
		Duty: hostileText, Tasks: hostileText, Basis: hostileText, Accountability: hostileText,
		Office: "办公室", PersonName: "张三", PersonPost: "科长", Phone: "8812 3411"}, by); err != nil {
		t.Fatal(err)
	}

	rec, err := app.store.RateCounter(ctx, models.RatingInput{CounterCode: "B01", Level: models.LevelDissatisfied,
		Reasons: []string{"其他"}, Comment: hostileText, Device: "d", Address: "a"}, models.DefaultRatingRules(), time.Now())
	if err != nil {
		t.Fatal(err)
	}

	escaped := "&lt;script&gt;alert(1)&lt;/script&gt;"
	public := newBrowser(app, "10.50.0.1")
	for _, page := range []string{
		"/services/" + guide.Code, "/counters", "/counters/B01", "/counters/B01/poster", "/r/B01", "/r/B01?level=2",
		"/departments/rsj", "/departments/rsj/print", "/services?department=rsj",
	} {
		res, body := public.get(t, page)
		if res.StatusCode != 200 {
			t.Errorf("GET %s: %d", page, res.StatusCode)
			continue
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("GET %s: the stored script is in the page as markup", page)
		}
		if !strings.Contains(body, escaped) {
			t.Errorf("GET %s: the stored text is not shown (escaped)", page)
		}
	}
	admin := newBrowser(app, "10.50.0.2")
	signIn(t, admin, "admin", models.DemoPassword)
	for _, page := range []string{"/admin/cases/" + strconv.Itoa(int(rec.Case.ID)), "/admin/cases", "/admin/board?department=rsj",
		"/admin/counters", "/admin/counters/" + strconv.Itoa(int(ctr.ID)), "/admin/guides", "/admin/guides/" + strconv.Itoa(int(guide.ID)), "/admin/audit"} {
		res, body := admin.get(t, page)
		if res.StatusCode != 200 {
			t.Errorf("GET %s: %d", page, res.StatusCode)
			continue
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("GET %s: the stored script is in the page as markup", page)
		}
	}

	from, to := models.DefaultExportPeriod(time.Now())
	period := "&from=" + from + "&to=" + to
	for _, kind := range []string{"ratings", "cases"} {
		rows := readCSV(t, download(t, admin, "kind="+kind+"&format=csv"+period, "text/csv; charset=utf-8", kind+"_"+from+"_"+to+".csv"))
		checkCells(t, kind+" CSV", rows)
		body := download(t, admin, "kind="+kind+"&format=xlsx"+period,
			"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", kind+"_"+from+"_"+to+".xlsx")
		f, err := excelize.OpenReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		sheet := f.GetSheetList()[0]
		xrows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		checkCells(t, kind+" Excel", xrows)
		for r, row := range xrows {
			for c := range row {
				cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if formula, _ := f.GetCellFormula(sheet, cell); formula != "" {
					t.Errorf("%s Excel %s is a formula: %q", kind, cell, formula)
				}
			}
		}
		f.Close()
	}
}

// checkCells finds the hostile text in an export, neutralised, and no cell
// that a spreadsheet would take for a formula.
func checkCells(t *testing.T, what string, rows [][]string) {
	t.Helper()
	found := false
	for _, row := range rows {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("%s: cell %q starts a formula", what, cell)
			}
			found = found || strings.HasPrefix(cell, "'"+hostileText)
		}
	}
	if !found {
		t.Errorf("%s: the hostile text is missing or not neutralised with a leading '", what)
	}
}
