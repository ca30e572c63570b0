package models

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// holidayFiles holds one file per year, transcribed from the State Council's
// 节假日安排 notice. The arrangement changes every year, so it is data an
// administrator edits (see the "note" in each file), not code.
//
//go:embed holidays/*.json
var holidayFiles embed.FS

// Calendar tells working days from days off: weekends and statutory holidays
// are off, 调休 make-up days are worked. Deadlines for 回访 and 整改 count in
// working days, so they are computed here.
//
// A Calendar never changes after LoadCalendar returns it, so one value can be
// shared by all requests. The zero value is a weekends-only calendar that
// covers no year.
//
// Days are taken in the location of the time passed in: pass times in China
// Standard Time (Asia/Shanghai), or a rating made at 07:00 in Beijing on a
// server running in UTC would be counted on the previous day.
type Calendar struct {
	holidays map[civilDate]struct{}
	workdays map[civilDate]struct{}
	years    map[int]struct{}
}

// LoadCalendar builds the calendar from the embedded holiday files. It fails
// on any malformed file rather than skipping it, because a silently missing
// holiday would move every deadline in that period.
func LoadCalendar() (*Calendar, error) {
	return loadCalendar(holidayFiles)
}

// loadCalendar reads holidays/*.json from fsys; it takes an fs.FS so tests
// can check the file-level rules without touching the embedded files.
func loadCalendar(fsys fs.FS) (*Calendar, error) {
	names, err := fs.Glob(fsys, "holidays/*.json")
	if err != nil {
		return nil, fmt.Errorf("load calendar: %w", err)
	}
	c := &Calendar{
		holidays: make(map[civilDate]struct{}),
		workdays: make(map[civilDate]struct{}),
		years:    make(map[int]struct{}),
	}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("load calendar: %w", err)
		}
		y, err := parseHolidayYear(data)
		if err != nil {
			return nil, fmt.Errorf("load calendar %s: %w", name, err)
		}
		// The file name must agree with its "year" so that a copy of last
		// year's file with only the dates changed is caught; it also makes
		// two files for one year impossible.
		if base := path.Base(name); base != strconv.Itoa(y.year)+".json" {
			return nil, fmt.Errorf("load calendar %s: file is for year %d, want it named %d.json", name, y.year, y.year)
		}
		c.years[y.year] = struct{}{}
		for d := range y.holidays {
			c.holidays[d] = struct{}{}
		}
		for d := range y.workdays {
			c.workdays[d] = struct{}{}
		}
	}
	return c, nil
}

// Covers reports whether the calendar has the holiday file for year. For
// other years only weekends are off, so callers computing a deadline in such
// a year should warn that the next year's arrangement has not been entered.
func (c *Calendar) Covers(year int) bool {
	_, ok := c.years[year]
	return ok
}

// IsWorkingDay reports whether day's date is a working day: a make-up day,
// or a weekday that is not a holiday.
func (c *Calendar) IsWorkingDay(day time.Time) bool {
	return c.isWorking(dateOf(day))
}

// AddWorkingDays returns the deadline n working days after from: the end
// (23:59:59) of the n-th working day after from's day, in from's location.
// The day of from itself is not counted, because a case raised at 17:00 must
// not lose its first day. With n = 0 it is the end of from's day if that is a
// working day, else of the next working day (立行立改: "today"). A negative n
// counts as 0, since a deadline is never before the event.
func (c *Calendar) AddWorkingDays(from time.Time, n int) time.Time {
	d := dateOf(from)
	if n <= 0 {
		for !c.isWorking(d) {
			d = d.next()
		}
	}
	for i := 0; i < n; {
		d = d.next()
		if c.isWorking(d) {
			i++
		}
	}
	return time.Date(d.year, d.month, d.day, 23, 59, 59, 0, from.Location())
}

// WorkingDaysBetween counts the working days after from's day up to and
// including to's day, both taken in from's location; it is 0 unless to's day
// is after from's. It is the inverse of AddWorkingDays for n ≥ 1, so "第 3 个
// 工作日" on a ledger means the same as a 3-working-day deadline.
func (c *Calendar) WorkingDaysBetween(from, to time.Time) int {
	d, end := dateOf(from), dateOf(to.In(from.Location()))
	n := 0
	for d.before(end) {
		d = d.next()
		if c.isWorking(d) {
			n++
		}
	}
	return n
}

func (c *Calendar) isWorking(d civilDate) bool {
	// Make-up days are checked first: they fall on weekends by definition.
	if _, ok := c.workdays[d]; ok {
		return true
	}
	if _, ok := c.holidays[d]; ok {
		return false
	}
	wd := d.weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// holidayFile is the JSON form of one year's arrangement.
type holidayFile struct {
	Year     int    `json:"year"`
	Source   string `json:"source"`
	Note     string `json:"note"`
	Holidays []struct {
		Name string `json:"name"`
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"holidays"`
	Workdays []struct {
		Name string `json:"name"`
		Date string `json:"date"`
	} `json:"workdays"`
}

// holidayYear is one checked year file, dates expanded day by day.
type holidayYear struct {
	year     int
	holidays map[civilDate]struct{}
	workdays map[civilDate]struct{}
}

// parseHolidayYear decodes and checks one year file. The checks target the
// mistakes an administrator copying a notice by hand is likely to make: a
// misspelt field (silently ignored by a lenient decoder), last year's dates
// left in, a range typed backwards, a date entered in both lists.
func parseHolidayYear(data []byte) (*holidayYear, error) {
	var f holidayFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode holiday file: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decode holiday file: data after the JSON object")
	}
	if f.Year < 2000 || f.Year > 2999 {
		return nil, fmt.Errorf("year %d: want a four-digit year from 2000", f.Year)
	}
	if strings.TrimSpace(f.Source) == "" {
		return nil, errors.New("source is empty: name the notice the dates come from")
	}
	if len(f.Holidays) == 0 {
		return nil, errors.New("holidays is empty: every year has statutory holidays")
	}
	y := &holidayYear{
		year:     f.Year,
		holidays: make(map[civilDate]struct{}),
		workdays: make(map[civilDate]struct{}),
	}
	inYear := func(s string) (civilDate, error) {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return civilDate{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
		}
		if t.Year() != f.Year {
			return civilDate{}, fmt.Errorf("date %s is outside %d: put it in %d.json", s, f.Year, t.Year())
		}
		return dateOf(t), nil
	}
	for _, h := range f.Holidays {
		if strings.TrimSpace(h.Name) == "" {
			return nil, fmt.Errorf("holiday %s–%s has no name", h.From, h.To)
		}
		from, err := inYear(h.From)
		if err != nil {
			return nil, fmt.Errorf("holiday %s: %w", h.Name, err)
		}
		to, err := inYear(h.To)
		if err != nil {
			return nil, fmt.Errorf("holiday %s: %w", h.Name, err)
		}
		if to.before(from) {
			return nil, fmt.Errorf("holiday %s: from %s is after to %s", h.Name, from, to)
		}
		for d := from; !to.before(d); d = d.next() {
			if _, dup := y.holidays[d]; dup {
				return nil, fmt.Errorf("holiday %s: %s is listed twice", h.Name, d)
			}
			y.holidays[d] = struct{}{}
		}
	}
	for _, w := range f.Workdays {
		if strings.TrimSpace(w.Name) == "" {
			return nil, fmt.Errorf("make-up day %s has no name", w.Date)
		}
		d, err := inYear(w.Date)
		if err != nil {
			return nil, fmt.Errorf("make-up day %s: %w", w.Name, err)
		}
		// A 调休 make-up day replaces a weekend day; one on a weekday is a
		// typo that would otherwise have no effect and go unnoticed.
		if wd := d.weekday(); wd != time.Saturday && wd != time.Sunday {
			return nil, fmt.Errorf("make-up day %s: %s is a %s, not a weekend day", w.Name, d, wd)
		}
		if _, dup := y.workdays[d]; dup {
			return nil, fmt.Errorf("make-up day %s: %s is listed twice", w.Name, d)
		}
		if _, both := y.holidays[d]; both {
			return nil, fmt.Errorf("make-up day %s: %s is also listed as a holiday", w.Name, d)
		}
		y.workdays[d] = struct{}{}
	}
	return y, nil
}

// civilDate is a calendar day with no time or location, so that map lookups
// and day steps are not disturbed by time zones or daylight saving.
type civilDate struct {
	year  int
	month time.Month
	day   int
}

func dateOf(t time.Time) civilDate {
	y, m, d := t.Date()
	return civilDate{y, m, d}
}

func (d civilDate) midnight() time.Time {
	return time.Date(d.year, d.month, d.day, 0, 0, 0, 0, time.UTC)
}

func (d civilDate) next() civilDate { return dateOf(d.midnight().AddDate(0, 0, 1)) }

func (d civilDate) weekday() time.Weekday { return d.midnight().Weekday() }

func (d civilDate) before(e civilDate) bool { return d.midnight().Before(e.midnight()) }

func (d civilDate) String() string { return d.midnight().Format(time.DateOnly) }
