package handlers

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/xuri/excelize/v2"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

// exportKind is one kind of export: its names, its columns and its rows.
type exportKind struct {
	// name is the Chinese name in the file name, ascii the fallback for
	// clients that cannot read RFC 5987; sheet names the Excel sheet.
	name, ascii, sheet string
	header             []string
	// widths are the Excel column widths, in characters, one per column.
	widths []float64
	rows   func(ctx context.Context, s *models.Store, departmentID uint, p models.ExportPeriod, now time.Time, emit func([]string) error) error
}

// exportKinds are the kinds of export by their form value. It is only read.
var exportKinds = map[string]exportKind{
	"ratings": {
		name: "评价记录", ascii: "ratings", sheet: "评价",
		header: models.RatingExportHeader(),
		widths: []float64{17, 28, 10, 20, 10, 22, 40, 17},
		rows: func(ctx context.Context, s *models.Store, dept uint, p models.ExportPeriod, _ time.Time, emit func([]string) error) error {
			return s.ExportRatings(ctx, dept, p, emit)
		},
	},
	"cases": {
		name: "督办单", ascii: "cases", sheet: "督办单",
		header: models.CaseExportHeader(),
		widths: []float64{17, 28, 26, 8, 9, 17, 17, 17, 10, 12, 36, 17, 12, 36, 17, 9, 9, 13},
		rows: func(ctx context.Context, s *models.Store, dept uint, p models.ExportPeriod, now time.Time, emit func([]string) error) error {
			return s.ExportCases(ctx, dept, p, now, emit)
		},
	},
}

// exportFormat is a file format of the exports.
type exportFormat struct {
	ext, contentType string
	write            func(w io.Writer, kind exportKind, rows func(emit func([]string) error) error) error
}

// exportFormats are the file formats by their form value. It is only read.
var exportFormats = map[string]exportFormat{
	"csv":  {ext: ".csv", contentType: "text/csv; charset=utf-8", write: writeCSV},
	"xlsx": {ext: ".xlsx", contentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", write: writeXLSX},
}

// exportForm reads and checks the export form from the query string. Empty
// dates stand for the current month.
func exportForm(c echo.Context, now time.Time) (views.ExportForm, models.ExportPeriod) {
	f := views.ExportForm{
		Kind: displayable(c.QueryParam("kind")), Format: displayable(c.QueryParam("format")),
		From: displayable(strings.TrimSpace(c.QueryParam("from"))), To: displayable(strings.TrimSpace(c.QueryParam("to"))),
	}
	from, to := models.DefaultExportPeriod(now)
	if f.From == "" {
		f.From = from
	}
	if f.To == "" {
		f.To = to
	}
	errs := map[string]string{}
	if _, ok := exportKinds[f.Kind]; !ok {
		errs["kind"] = "请选择导出内容：评价记录或督办单。"
	}
	if _, ok := exportFormats[f.Format]; !ok {
		errs["format"] = "请选择导出格式：CSV 或 Excel。"
	}
	p, err := models.ParseExportPeriod(f.From, f.To)
	if v, ok := models.AsValidationError(err); ok {
		maps.Copy(errs, v.Fields)
	}
	if len(errs) > 0 {
		f.Errors = errs
	}
	return f, p
}

// handleAdminExportForm shows the export form: this month's ratings as CSV
// unless the query string (a link, or a form sent back) says otherwise.
func (h *Handler) handleAdminExportForm(c echo.Context) error {
	if len(c.QueryParams()) == 0 {
		from, to := models.DefaultExportPeriod(time.Now())
		f := views.ExportForm{Kind: "ratings", Format: "csv", From: from, To: to}
		return h.render(c, http.StatusOK, views.AdminExportPage(h.adminPage(c, "导出"), f))
	}
	f, _ := exportForm(c, time.Now())
	status := http.StatusOK
	if f.Errors != nil {
		status = http.StatusUnprocessableEntity
	}
	return h.render(c, status, views.AdminExportPage(h.adminPage(c, "导出"), f))
}

// handleAdminExportDownload sends the ratings or cases of a period, of the
// user's department (of every department for a 系统管理员), as a file to
// save. The file is written to a temporary file first and sent only when
// complete: a failure half-way becomes a clean error page, not a truncated
// file that looks whole, and memory stays small however long the period.
func (h *Handler) handleAdminExportDownload(c echo.Context) error {
	now := time.Now()
	f, p := exportForm(c, now)
	if f.Errors != nil {
		return h.render(c, http.StatusUnprocessableEntity, views.AdminExportPage(h.adminPage(c, "导出"), f))
	}
	kind, format := exportKinds[f.Kind], exportFormats[f.Format]
	tmp, err := os.CreateTemp("", "portal-export-*")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	ctx, dept := c.Request().Context(), scope(c)
	err = format.write(tmp, kind, func(emit func([]string) error) error {
		return kind.rows(ctx, h.store, dept, p, now, emit)
	})
	if err != nil {
		return fmt.Errorf("export %s as %s: %w", f.Kind, f.Format, err)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}

	period := f.From + "_" + f.To
	if f.From == f.To {
		period = f.From
	}
	header := c.Response().Header()
	header.Set(echo.HeaderContentDisposition, attachment(kind.ascii+"_"+period+format.ext, kind.name+"_"+period+format.ext))
	header.Set(echo.HeaderContentLength, strconv.FormatInt(size, 10))
	header.Set("Cache-Control", "no-store")
	return c.Stream(http.StatusOK, format.contentType, tmp)
}

// attachment is a Content-Disposition that saves a file under a Chinese
// name (RFC 6266 with RFC 5987 encoding), with an ASCII name for clients
// that read only the plain parameter.
func attachment(ascii, name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		ch := name[i]
		// RFC 5987 attr-char; every other byte is percent-encoded.
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || strings.IndexByte("!#$&+-.^_`|~", ch) >= 0 {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + b.String()
}

// neutralise keeps a cell from being taken for a formula when the file is
// opened in a spreadsheet (formula injection): a cell that starts with
// = + - @, a tab or a carriage return gets a leading apostrophe. Ratings
// carry the public's free text, so any cell may be hostile.
func neutralise(cell string) string {
	if cell != "" && strings.IndexByte("=+-@\t\r", cell[0]) >= 0 {
		return "'" + cell
	}
	return cell
}

// writeCSV writes an export as CSV: UTF-8 with a byte order mark, without
// which Excel reads Chinese as the local code page, and CRLF line ends.
func writeCSV(w io.Writer, kind exportKind, rows func(emit func([]string) error) error) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	write := func(row []string) error {
		safe := make([]string, len(row))
		for i, cell := range row {
			safe[i] = neutralise(cell)
		}
		return cw.Write(safe)
	}
	if err := write(kind.header); err != nil {
		return err
	}
	if err := rows(write); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// writeXLSX writes an export as an Excel workbook of one sheet, streamed
// row by row: the header in bold and frozen, the columns sized.
func writeXLSX(w io.Writer, kind exportKind, rows func(emit func([]string) error) error) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName(f.GetSheetName(0), kind.sheet); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(kind.sheet)
	if err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	for i, width := range kind.widths {
		if err := sw.SetColWidth(i+1, i+1, width); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	cells := make([]any, len(kind.header))
	for i, name := range kind.header {
		cells[i] = excelize.Cell{StyleID: bold, Value: name}
	}
	if err := sw.SetRow("A1", cells); err != nil {
		return err
	}
	n := 1
	err = rows(func(row []string) error {
		n++
		values := make([]any, len(row))
		for i, cell := range row {
			values[i] = neutralise(cell)
		}
		return sw.SetRow("A"+strconv.Itoa(n), values)
	})
	if err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.Write(w)
}
