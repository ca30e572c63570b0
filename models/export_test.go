package models

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseExportPeriod(t *testing.T) {
	tests := []struct {
		name, from, to string
		days           int
		field, want    string
	}{
		{"one day", "2026-03-01", "2026-03-01", 1, "", ""},
		{"a leap year", "2024-01-01", "2024-12-31", 366, "", ""},
		{"a year and a day", "2026-01-01", "2027-01-02", 0, "to", "一次最多导出 366 天，所选时段共 367 天"},
		{"backwards", "2026-03-10", "2026-03-09", 0, "to", "截止日期不能早于起始日期"},
		{"no such day", "2026-02-30", "2026-03-09", 0, "from", "起始日期格式应为"},
		{"not a date", "2026-03-01", "3/9/2026", 0, "to", "截止日期格式应为"},
		{"empty", "", "", 0, "from", "起始日期格式应为"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseExportPeriod(tt.from, tt.to)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p.Days() != tt.days || p.From.Format(time.DateOnly) != tt.from || p.From.Hour() != 0 {
					t.Fatalf("period %v – %v: %d days, want %d from %s", p.From, p.To, p.Days(), tt.days, tt.from)
				}
				return
			}
			v, ok := AsValidationError(err)
			if !ok || !strings.Contains(v.Field(tt.field), tt.want) {
				t.Fatalf("error %v, want %q on %s", err, tt.want, tt.field)
			}
		})
	}
}

func TestDefaultExportPeriodIsTheMonthInBeijing(t *testing.T) {
	// 16:30 UTC on 29 February is already 1 March in Beijing.
	from, to := DefaultExportPeriod(time.Date(2028, 2, 29, 16, 30, 0, 0, time.UTC))
	if from != "2028-03-01" || to != "2028-03-31" {
		t.Fatalf("default period %s – %s, want March 2028", from, to)
	}
}

// collect gathers the rows an export emits.
func collect(t *testing.T, export func(emit func([]string) error) error) [][]string {
	t.Helper()
	var out [][]string
	if err := export(func(row []string) error {
		out = append(out, row)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExportRatingsAndCases(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	bad := func(counter, device, when string) *RatingReceipt {
		return rate(t, s, RatingInput{CounterCode: counter, Level: LevelDissatisfied, Reasons: []string{"事难办"},
			Comment: "=cmd|' /C calc'!A0", Phone: "13912345678", Device: device, Address: device}, at(when))
	}
	// Out of the period by minutes on either side, in Beijing time.
	bad("B01", "before", "2026-02-28 23:59")
	bad("B01", "after", "2026-04-01 00:00")
	late := bad("B02", "late", "2026-03-31 23:30")
	rate(t, s, RatingInput{CounterCode: "B01", Level: LevelSatisfied, Comment: "很好", Device: "good", Address: "good"}, at("2026-03-10 09:00"))
	early := bad("B01", "early", "2026-03-05 10:00")
	other := bad("C02", "other", "2026-03-07 11:00")
	rsj := early.Case.DepartmentID

	march, err := ParseExportPeriod("2026-03-01", "2026-03-31")
	if err != nil {
		t.Fatal(err)
	}
	rows := collect(t, func(emit func([]string) error) error { return s.ExportRatings(ctx, rsj, march, emit) })
	want := [][]string{
		{"2026-03-05 10:00", "清河区人力资源和社会保障局", "B01", "社保综合窗口", "不满意", "事难办", "=cmd|' /C calc'!A0", early.Case.Number},
		{"2026-03-10 09:00", "清河区人力资源和社会保障局", "B01", "社保综合窗口", "满意", "", "很好", ""},
		{"2026-03-31 23:30", "清河区人力资源和社会保障局", "B02", "社保综合窗口", "不满意", "事难办", "=cmd|' /C calc'!A0", late.Case.Number},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("the department's ratings in March:\n got %q\nwant %q", rows, want)
	}
	for _, row := range rows {
		if len(row) != len(RatingExportHeader()) {
			t.Fatalf("row of %d cells, header of %d", len(row), len(RatingExportHeader()))
		}
		if strings.Contains(strings.Join(row, ","), "1391") {
			t.Fatal("a ratings export must not carry the rater's number")
		}
	}
	all := collect(t, func(emit func([]string) error) error { return s.ExportRatings(ctx, 0, march, emit) })
	if len(all) != 4 || all[1][0] != "2026-03-07 11:00" || all[1][2] != "C02" {
		t.Fatalf("every department's ratings in March: %q", all)
	}

	// Cases: the same period, masked numbers, 超期 judged at the time given.
	step := CaseStep{By: Actor{Name: "人社局 王敏"}, Note: "已电话联系"}
	if err := s.RecordCallback(ctx, early.Case.ID, rsj, step, at("2026-03-05 15:00")); err != nil {
		t.Fatal(err)
	}
	now := at("2026-03-20 09:00")
	cases := collect(t, func(emit func([]string) error) error { return s.ExportCases(ctx, rsj, march, now, emit) })
	if len(cases) != 2 || cases[0][0] != early.Case.Number || cases[1][0] != late.Case.Number {
		t.Fatalf("the department's cases in March: %q", cases)
	}
	head := CaseExportHeader()
	cell := func(row []string, name string) string {
		for i, h := range head {
			if h == name {
				return row[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	first := cases[0]
	for name, want := range map[string]string{
		"窗口": "社保综合窗口（B01）", "状态": CaseCalledBack, "是否超期": "否", "评价时间": "2026-03-05 10:00",
		"回访时间": "2026-03-05 15:00", "办结时间": "", "是否按期": "", "复号次数": "0", "回访电话": "139****5678",
	} {
		if got := cell(first, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	later := collect(t, func(emit func([]string) error) error {
		return s.ExportCases(ctx, rsj, march, at("2026-04-10 09:00"), emit)
	})
	if cell(later[0], "是否超期") != "是" || cell(later[1], "是否超期") != "是" || cell(later[1], "回访时间") != "" {
		t.Errorf("cases past their deadlines: %q", later)
	}
	for _, row := range cases {
		if len(row) != len(head) || strings.Contains(strings.Join(row, ","), "13912345678") {
			t.Fatalf("case row %q: wrong width or an unmasked number", row)
		}
	}
	if all := collect(t, func(emit func([]string) error) error { return s.ExportCases(ctx, 0, march, now, emit) }); len(all) != 3 || all[1][0] != other.Case.Number {
		t.Fatalf("every department's cases in March: %q", all)
	}

	// A closed case: 按期 instead of 超期.
	if err := s.RecordFinding(ctx, early.Case.ID, rsj, CaseStep{By: step.By, Finding: FindingUntrue, Note: "查看录像"}, at("2026-03-06 09:00")); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseCase(ctx, early.Case.ID, rsj, CaseStep{By: step.By, Outcome: OutcomeUntrue, Resolution: "经核实不属实"}, at("2026-03-06 10:00")); err != nil {
		t.Fatal(err)
	}
	closed := collect(t, func(emit func([]string) error) error { return s.ExportCases(ctx, rsj, march, now, emit) })[0]
	for name, want := range map[string]string{
		"状态": CaseClosed, "是否超期": "", "核实结果": FindingUntrue, "办理结果": OutcomeUntrue,
		"办理情况": "经核实不属实", "办结时间": "2026-03-06 10:00", "是否按期": "是",
	} {
		if got := cell(closed, name); got != want {
			t.Errorf("closed case: %s = %q, want %q", name, got, want)
		}
	}

	stop := errors.New("stop")
	calls := 0
	err = s.ExportRatings(ctx, 0, march, func([]string) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("an error from emit must stop the export: %v after %d rows", err, calls)
	}
}
