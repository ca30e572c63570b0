package models

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// MaxExportDays is the longest period an export may cover: a year, leap
// years included.
const MaxExportDays = 366

// ExportPeriod is a span of whole days in China Standard Time, both ends
// included.
type ExportPeriod struct {
	// From is midnight of the first day, To midnight of the last day.
	From, To time.Time
}

// Days is the number of days of the period.
func (p ExportPeriod) Days() int {
	return int(p.To.Sub(p.From)/(24*time.Hour)) + 1
}

// end is midnight after the last day: the period's open upper bound.
func (p ExportPeriod) end() time.Time { return p.To.AddDate(0, 0, 1) }

// DefaultExportPeriod is the month of now, from its first to its last day,
// as "2006-01-02" dates.
func DefaultExportPeriod(now time.Time) (from, to string) {
	local := now.In(chinaTime)
	first := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, chinaTime)
	return first.Format("2006-01-02"), first.AddDate(0, 1, -1).Format("2006-01-02")
}

// ParseExportPeriod checks a period given as two "2006-01-02" dates, days in
// Beijing: both valid, the last not before the first, at most MaxExportDays
// days. The messages are keyed "from" and "to".
func ParseExportPeriod(from, to string) (ExportPeriod, error) {
	errs := map[string]string{}
	var p ExportPeriod
	var err error
	if p.From, err = time.ParseInLocation("2006-01-02", from, chinaTime); err != nil {
		errs["from"] = "起始日期格式应为“年-月-日”，如 2026-03-01。"
	}
	if p.To, err = time.ParseInLocation("2006-01-02", to, chinaTime); err != nil {
		errs["to"] = "截止日期格式应为“年-月-日”，如 2026-03-31。"
	}
	switch {
	case len(errs) > 0:
	case p.To.Before(p.From):
		errs["to"] = "截止日期不能早于起始日期。"
	case p.Days() > MaxExportDays:
		errs["to"] = fmt.Sprintf("一次最多导出 %d 天，所选时段共 %d 天，请缩短时段。", MaxExportDays, p.Days())
	}
	if len(errs) > 0 {
		return ExportPeriod{}, &ValidationError{Fields: errs}
	}
	return p, nil
}

// RatingExportHeader is the header row of an export of ratings. The rater's
// phone, device and address are never exported: a rating names no one.
func RatingExportHeader() []string {
	return []string{"评价时间", "部门", "窗口编号", "窗口", "评价", "不满意原因", "具体情况", "督办单编号"}
}

// CaseExportHeader is the header row of an export of cases.
func CaseExportHeader() []string {
	return []string{"督办单编号", "部门", "窗口", "状态", "是否超期", "评价时间", "回访时限", "回访时间", "核实结果",
		"整改责任人", "整改措施", "整改时限", "办理结果", "办理情况", "办结时间", "是否按期", "复号次数", "回访电话"}
}

// exportStamp is a moment as an export writes it: to the minute, in Beijing.
func exportStamp(t time.Time) string { return t.In(chinaTime).Format("2006-01-02 15:04") }

func exportNullStamp(t sql.NullTime) string {
	if !t.Valid {
		return ""
	}
	return exportStamp(t.Time)
}

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

// ExportRatings calls emit with one row per rating of the period, in the
// order of RatingExportHeader, oldest first, for a department (every
// department for 0). The rows are read one at a time from a single query,
// so an export of a year costs no more memory than one of a day; an error
// from emit stops the export and is returned.
func (s *Store) ExportRatings(ctx context.Context, departmentID uint, p ExportPeriod, emit func(row []string) error) error {
	q := s.db.WithContext(ctx).Table("ratings AS r").
		Select("r.created_at, d.name, c.code, c.name, r.level, r.reasons, r.comment, COALESCE(k.number, '')").
		Joins("JOIN counters c ON c.id = r.counter_id").
		Joins("JOIN departments d ON d.id = r.department_id").
		Joins("LEFT JOIN cases k ON k.rating_id = r.id").
		// Times are stored in UTC; so are the bounds, to compare as text.
		Where("r.created_at >= ? AND r.created_at < ?", p.From.UTC(), p.end().UTC()).
		Order("r.created_at, r.id")
	if departmentID != 0 {
		q = q.Where("r.department_id = ?", departmentID)
	}
	err := eachRow(q, func(rows *sql.Rows) error {
		var (
			at                                    time.Time
			dept, code, counter, reasons, comment string
			number                                string
			level                                 int
		)
		if err := rows.Scan(&at, &dept, &code, &counter, &level, &reasons, &comment, &number); err != nil {
			return err
		}
		return emit([]string{exportStamp(at), dept, code, counter, LevelLabel(level), reasons, comment, number})
	})
	if err != nil {
		return fmt.Errorf("export ratings: %w", err)
	}
	return nil
}

// ExportCases calls emit with one row per case opened in the period, in the
// order of CaseExportHeader, oldest first, for a department (every
// department for 0). 超期 is judged at now, for open cases only; 按期 is
// given for closed cases only. The rater's number is masked: an export
// leaves the building.
func (s *Store) ExportCases(ctx context.Context, departmentID uint, p ExportPeriod, now time.Time, emit func(row []string) error) error {
	q := s.db.WithContext(ctx).Table("cases AS k").
		Select(`k.number, d.name, c.name, c.code, k.state, r.created_at, k.callback_due, k.called_back_at,
			k.finding, k.responsible_person, k.measures, k.rectify_due, k.outcome, k.resolution,
			k.closed_at, k.closed_on_time, k.reopened, r.phone`).
		Joins("JOIN ratings r ON r.id = k.rating_id").
		Joins("JOIN counters c ON c.id = k.counter_id").
		Joins("JOIN departments d ON d.id = k.department_id").
		Where("k.created_at >= ? AND k.created_at < ?", p.From.UTC(), p.end().UTC()).
		Order("k.created_at, k.id")
	if departmentID != 0 {
		q = q.Where("k.department_id = ?", departmentID)
	}
	err := eachRow(q, func(rows *sql.Rows) error {
		var (
			c                    Case
			dept, counter, code  string
			ratedAt              time.Time
			calledBack, closedAt sql.NullTime
			phone                string
		)
		if err := rows.Scan(&c.Number, &dept, &counter, &code, &c.State, &ratedAt, &c.CallbackDue, &calledBack,
			&c.Finding, &c.ResponsiblePerson, &c.Measures, &c.RectifyDue, &c.Outcome, &c.Resolution,
			&closedAt, &c.ClosedOnTime, &c.Reopened, &phone); err != nil {
			return err
		}
		overdue, onTime := "", ""
		if c.State == CaseClosed {
			onTime = yesNo(c.ClosedOnTime)
		} else {
			overdue = yesNo(c.Overdue(now))
		}
		return emit([]string{c.Number, dept, counter + "（" + code + "）", c.State, overdue, exportStamp(ratedAt),
			exportStamp(c.CallbackDue), exportNullStamp(calledBack), c.Finding, c.ResponsiblePerson, c.Measures,
			exportStamp(c.RectifyDue), c.Outcome, c.Resolution, exportNullStamp(closedAt), onTime,
			strconv.Itoa(c.Reopened), MaskPhone(phone)})
	})
	if err != nil {
		return fmt.Errorf("export cases: %w", err)
	}
	return nil
}

// eachRow runs a query and calls fn for each row as it is read.
func eachRow(q *gorm.DB, fn func(*sql.Rows) error) error {
	rows, err := q.Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
