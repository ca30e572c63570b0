package models

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// calendarZone is China Standard Time; a fixed zone keeps the tests
// independent of the tz database installed on the machine.
var calendarZone = time.FixedZone("CST", 8*60*60)

// calendarTime parses "2006-01-02 15:04" in China Standard Time.
func calendarTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, calendarZone)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mustLoadCalendar loads the embedded holiday files.
func mustLoadCalendar(t *testing.T) *Calendar {
	t.Helper()
	c, err := LoadCalendar()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCalendarAddWorkingDays(t *testing.T) {
	c := mustLoadCalendar(t)
	tests := []struct {
		name string
		from string
		n    int
		want string
	}{
		{"不满意 the day before 国庆 2025, 回访 within 1 working day", "2025-09-30 16:20", 1, "2025-10-09T23:59:59+08:00"},
		{"raised on the 国庆 make-up Sunday", "2025-09-28 10:00", 1, "2025-09-29T23:59:59+08:00"},
		{"make-up Saturday after 国庆 2025 counts", "2025-10-09 09:00", 2, "2025-10-11T23:59:59+08:00"},
		{"春节 2026 make-up Saturday before the break counts", "2026-02-13 11:00", 1, "2026-02-14T23:59:59+08:00"},
		{"春节 2026 skipped after the make-up Saturday", "2026-02-13 11:00", 2, "2026-02-24T23:59:59+08:00"},
		{"春节 2026 make-up Saturday after the break counts", "2026-02-27 15:00", 1, "2026-02-28T23:59:59+08:00"},
		{"15 working days spanning 劳动节 2026", "2026-04-28 10:00", 15, "2026-05-21T23:59:59+08:00"},
		{"rated on a Saturday", "2025-03-08 10:30", 1, "2025-03-10T23:59:59+08:00"},
		{"rated on a Saturday, n=0 is the next working day", "2025-03-08 10:30", 0, "2025-03-10T23:59:59+08:00"},
		{"n=0 on a working day is that day", "2025-03-10 08:00", 0, "2025-03-10T23:59:59+08:00"},
		{"n=0 on a holiday is the first day after it", "2025-10-01 12:00", 0, "2025-10-09T23:59:59+08:00"},
		{"negative n counts as 0", "2025-03-10 08:00", -3, "2025-03-10T23:59:59+08:00"},
		{"across the year files into 元旦 2026 and its make-up Sunday", "2025-12-31 17:00", 1, "2026-01-04T23:59:59+08:00"},
		{"year without a file counts weekends only", "2030-01-01 09:00", 0, "2030-01-01T23:59:59+08:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.AddWorkingDays(calendarTime(t, tt.from), tt.n).Format(time.RFC3339)
			if got != tt.want {
				t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tt.from, tt.n, got, tt.want)
			}
		})
	}
}

func TestCalendarDayIsTakenInTheTimesLocation(t *testing.T) {
	c := mustLoadCalendar(t)
	// 2025-09-30 16:30 UTC is already 2025-10-01 00:30 in Beijing: the
	// deadline follows the day as the caller's location sees it.
	from := time.Date(2025, 9, 30, 16, 30, 0, 0, time.UTC)
	got := c.AddWorkingDays(from.In(calendarZone), 0).Format(time.RFC3339)
	want := "2025-10-09T23:59:59+08:00"
	if got != want {
		t.Errorf("in CST: got %s, want %s", got, want)
	}
	got = c.AddWorkingDays(from, 0).Format(time.RFC3339)
	want = "2025-09-30T23:59:59Z"
	if got != want {
		t.Errorf("in UTC: got %s, want %s", got, want)
	}
}

func TestCalendarIsWorkingDay(t *testing.T) {
	c := mustLoadCalendar(t)
	tests := []struct {
		day  string
		want bool
	}{
		{"2025-09-28", true},  // Sunday, 国庆 make-up day
		{"2026-01-04", true},  // Sunday, 元旦 make-up day
		{"2026-02-14", true},  // Saturday, 春节 make-up day
		{"2025-10-11", true},  // Saturday, 国庆 make-up day
		{"2025-10-12", false}, // ordinary Sunday
		{"2025-10-08", false}, // Wednesday inside 国庆、中秋
		{"2025-10-09", true},  // first Thursday back
		{"2026-09-25", false}, // Friday, 中秋节 2026
		{"2026-06-19", false}, // Friday, 端午节 2026
		{"2025-03-12", true},  // ordinary Wednesday
		{"2030-01-01", true},  // no 2030 file: weekends only
		{"2030-01-05", false}, // Saturday in a year without a file
	}
	for _, tt := range tests {
		t.Run(tt.day, func(t *testing.T) {
			got := c.IsWorkingDay(calendarTime(t, tt.day+" 12:00"))
			if got != tt.want {
				t.Errorf("IsWorkingDay(%s) = %v, want %v", tt.day, got, tt.want)
			}
		})
	}
}

func TestCalendarWorkingDaysBetween(t *testing.T) {
	c := mustLoadCalendar(t)
	tests := []struct {
		name     string
		from, to string
		want     int
	}{
		{"ordinary week", "2025-03-03 09:00", "2025-03-10 09:00", 5},
		{"time of day ignored", "2025-03-03 23:00", "2025-03-04 01:00", 1},
		{"same day", "2025-03-03 09:00", "2025-03-03 18:00", 0},
		{"to before from", "2025-03-10 09:00", "2025-03-03 09:00", 0},
		{"国庆 2025 all off", "2025-09-30 09:00", "2025-10-08 09:00", 0},
		{"first day after 国庆 2025", "2025-09-30 09:00", "2025-10-09 09:00", 1},
		{"春节 2026 with both make-up Saturdays", "2026-02-13 09:00", "2026-02-28 09:00", 6},
		{"spanning 劳动节 2026", "2026-04-28 10:00", "2026-05-21 10:00", 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.WorkingDaysBetween(calendarTime(t, tt.from), calendarTime(t, tt.to))
			if got != tt.want {
				t.Errorf("WorkingDaysBetween(%s, %s) = %d, want %d", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

// TestCalendarWorkingDaysBetweenInvertsAddWorkingDays checks every start day
// of the covered years, so a deadline and a ledger's day count never disagree.
func TestCalendarWorkingDaysBetweenInvertsAddWorkingDays(t *testing.T) {
	c := mustLoadCalendar(t)
	start := calendarTime(t, "2025-01-01 10:00")
	for from := start; from.Year() < 2027; from = from.AddDate(0, 0, 1) {
		for _, n := range []int{1, 5, 15} {
			deadline := c.AddWorkingDays(from, n)
			if got := c.WorkingDaysBetween(from, deadline); got != n {
				t.Fatalf("WorkingDaysBetween(%s, AddWorkingDays(…, %d)) = %d, want %d", from.Format(time.DateOnly), n, got, n)
			}
			if !c.IsWorkingDay(deadline) {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, not a working day", from.Format(time.DateOnly), n, deadline.Format(time.DateOnly))
			}
		}
	}
}

func TestCalendarCovers(t *testing.T) {
	c := mustLoadCalendar(t)
	for year, want := range map[int]bool{2024: false, 2025: true, 2026: true, 2027: false} {
		if got := c.Covers(year); got != want {
			t.Errorf("Covers(%d) = %v, want %v", year, got, want)
		}
	}
	var zero Calendar
	if zero.Covers(2025) || !zero.IsWorkingDay(calendarTime(t, "2025-10-01 12:00")) {
		t.Error("zero Calendar should be weekends-only and cover no year")
	}
}

// validHolidayFile is a small correct year file; each bad case below breaks
// it in exactly one way, so a rejection can only be due to that change.
const (
	validHolidays = `"holidays": [
    {"name": "国庆节、中秋节", "from": "2025-10-01", "to": "2025-10-08"},
    {"name": "元旦", "from": "2025-01-01", "to": "2025-01-01"}
  ]`
	validHolidayFile = `{
  "year": 2025,
  "source": "国办发明电〔2024〕12号",
  "note": "测试",
  ` + validHolidays + `,
  "workdays": [
    {"name": "国庆节调休", "date": "2025-09-28"}
  ]
}`
)

func TestCalendarParseAcceptsValidFile(t *testing.T) {
	y, err := parseHolidayYear([]byte(validHolidayFile))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(y.holidays), 9; got != want {
		t.Errorf("holiday days = %d, want %d", got, want)
	}
	if got, want := len(y.workdays), 1; got != want {
		t.Errorf("make-up days = %d, want %d", got, want)
	}
}

func TestCalendarParseRejectsMalformedFile(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
	}{
		{"not JSON", `"year": 2025,`, `"year": 2025`},
		{"misspelt field", `"workdays"`, `"workday"`},
		{"data after the object", "]\n}", "]\n}\n{}"},
		{"missing year", `"year": 2025,`, ``},
		{"empty source", `"国办发明电〔2024〕12号"`, `""`},
		{"no holidays", validHolidays, `"holidays": []`},
		{"holiday without name", `"name": "元旦"`, `"name": " "`},
		{"make-up day without name", `"name": "国庆节调休"`, `"name": ""`},
		{"date not YYYY-MM-DD", `"to": "2025-10-08"`, `"to": "2025-10-8"`},
		{"impossible date", `"to": "2025-10-08"`, `"to": "2025-10-32"`},
		{"range backwards", `"from": "2025-10-01", "to": "2025-10-08"`, `"from": "2025-10-08", "to": "2025-10-01"`},
		{"holiday outside its year", `"to": "2025-01-01"`, `"to": "2026-01-01"`},
		{"make-up day outside its year", `"date": "2025-09-28"`, `"date": "2024-09-29"`},
		{"year field not the dates' year", `"year": 2025`, `"year": 2026`},
		{"holiday ranges overlap", `"to": "2025-01-01"}`, `"to": "2025-01-01"}, {"name": "重复", "from": "2025-10-08", "to": "2025-10-09"}`},
		{"make-up day listed twice", `{"name": "国庆节调休", "date": "2025-09-28"}`, `{"name": "国庆节调休", "date": "2025-09-28"}, {"name": "国庆节调休", "date": "2025-09-28"}`},
		{"date both holiday and make-up day", `"date": "2025-09-28"`, `"date": "2025-10-04"`},
		{"make-up day on a weekday", `"date": "2025-09-28"`, `"date": "2025-09-29"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(validHolidayFile, tt.old) {
				t.Fatalf("test case does not apply: %q not in the valid file", tt.old)
			}
			bad := strings.Replace(validHolidayFile, tt.old, tt.new, 1)
			if _, err := parseHolidayYear([]byte(bad)); err == nil {
				t.Errorf("parseHolidayYear accepted:\n%s", bad)
			}
		})
	}
}

func TestCalendarLoadChecksFiles(t *testing.T) {
	valid := &fstest.MapFile{Data: []byte(validHolidayFile)}
	t.Run("valid", func(t *testing.T) {
		c, err := loadCalendar(fstest.MapFS{"holidays/2025.json": valid})
		if err != nil {
			t.Fatal(err)
		}
		if !c.Covers(2025) || c.Covers(2026) {
			t.Errorf("Covers(2025), Covers(2026) = %v, %v, want true, false", c.Covers(2025), c.Covers(2026))
		}
	})
	t.Run("file named for another year", func(t *testing.T) {
		if _, err := loadCalendar(fstest.MapFS{"holidays/2024.json": valid}); err == nil {
			t.Error("loadCalendar accepted 2025 data in 2024.json")
		}
	})
	t.Run("one bad file among good ones", func(t *testing.T) {
		fsys := fstest.MapFS{
			"holidays/2025.json": valid,
			"holidays/2026.json": &fstest.MapFile{Data: []byte(`{"year": 2026,`)},
		}
		if _, err := loadCalendar(fsys); err == nil {
			t.Error("loadCalendar accepted a truncated file")
		}
	})
}
