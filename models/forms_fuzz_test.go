package models

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"
)

// checkFieldErrors holds a validation result to its promise: either no
// error, or a message for a known field that a user can read.
func checkFieldErrors(t *testing.T, what string, fields map[string]string) {
	t.Helper()
	for k, msg := range fields {
		if k == "" || msg == "" || !utf8.ValidString(msg) {
			t.Fatalf("%s: unusable message %q for field %q", what, msg, k)
		}
	}
}

// FuzzRatingForm feeds the rating form's fields to its validation: no
// input panics; what is accepted is a known level, known reasons, a comment
// within the limit and a mobile number or none.
func FuzzRatingForm(f *testing.F) {
	f.Add(4, "", "", "")
	f.Add(2, "事难办", "窗口<script>alert(1)</script>", "138 1234 5678")
	f.Add(2, "其他", "", "+8613812345678")
	f.Add(1, "\xff", "=HYPERLINK(\"x\")", "1381234567８")
	f.Fuzz(func(t *testing.T, level int, reason, comment, phone string) {
		for _, rules := range []RatingRules{DefaultRatingRules(), {FiveLevels: true}} {
			in := RatingInput{Level: level, Reasons: []string{reason, reason}, Comment: comment, Phone: phone}
			err := in.validate(rules)
			var verr *ValidationError
			if errors.As(err, &verr) {
				checkFieldErrors(t, "rating", verr.Fields)
				continue
			}
			if err != nil {
				t.Fatalf("validate: %v, want nil or a ValidationError", err)
			}
			if !validLevelOf(rules, in.Level) || utf8.RuneCountInString(in.Comment) > MaxCommentRunes || !utf8.ValidString(in.Comment) {
				t.Fatalf("accepted level %d, comment %q", in.Level, in.Comment)
			}
			if in.Phone != "" && !mobilePattern.MatchString(in.Phone) {
				t.Fatalf("accepted phone %q", in.Phone)
			}
			if len(in.Reasons) > 1 {
				t.Fatalf("a reason chosen twice is kept twice: %q", in.Reasons)
			}
		}
	})
}

func validLevelOf(rules RatingRules, level int) bool {
	for _, l := range rules.Levels() {
		if l == level {
			return true
		}
	}
	return false
}

// FuzzAdminForms feeds the admin forms (board entry, counter, guide) to
// their validation: no input panics, errors are readable messages, and
// what is accepted is valid UTF-8.
func FuzzAdminForms(f *testing.F) {
	f.Add("办理居民身份证", "8812 3411", "3", "工作日", "<script>alert(1)</script>")
	f.Add("", "", "", "", "")
	f.Add("\xff\xfe", "0571-88123411", "-1", "自然日", "=cmd|' /C calc'!A0")
	f.Add("a\r\nb", "1", "99999999999999999999", "\t", "javascript:alert(1)")
	f.Fuzz(func(t *testing.T, text, phone, number, unit, other string) {
		entry := DutyEntryInput{Duty: text, Tasks: other, Basis: text + "\n" + other, Accountability: other,
			Office: text, PersonName: other, PersonPost: text, Phone: phone}
		err := entry.validate()
		var verr *ValidationError
		switch {
		case errors.As(err, &verr):
			checkFieldErrors(t, "board entry", verr.Fields)
		case err != nil:
			t.Fatalf("entry validate: %v", err)
		case !utf8.ValidString(entry.Duty + entry.Tasks + entry.Phone):
			t.Fatal("an entry with invalid UTF-8 was accepted")
		}

		ctr := CounterInput{Name: text, Hall: other, Floor: number, Number: number, Hours: other, ExtendedHours: text, StaffPost: unit}
		errs := ctr.validate()
		checkFieldErrors(t, "counter", errs)
		if len(errs) == 0 && !utf8.ValidString(ctr.Name+ctr.Hours+ctr.Hall) {
			t.Fatal("a counter with invalid UTF-8 was accepted")
		}

		row := RowInput{Sort: number, Delete: len(other)%2 == 1}
		g := GuideInput{Name: text, Type: unit, Audience: other, Theme: text, Summary: other,
			LegalBasis: text, Conditions: other,
			LegalLimit:    LimitInput{Value: number, Unit: unit, Note: other},
			PromisedLimit: LimitInput{Value: number, Unit: unit, Note: text},
			PlaceNote:     other, HoursNote: text, Visits: number, Online: true, OnlineURL: other,
			ConsultPhone: phone, SupervisePhone: phone, PromiseNote: other,
			Materials: []MaterialInput{{RowInput: row, Name: text, Necessity: unit, Form: unit, Copies: number, Source: other, Note: other}},
			Steps:     []StepInput{{RowInput: row, Name: text, Actor: other, Duration: number, Description: other}},
			Fees:      []FeeInput{{RowInput: row, Item: text, Standard: number, Basis: other}},
			FAQs:      []FAQInput{{RowInput: row, Question: text, Answer: other}},
		}
		it, gerrs := g.parse()
		checkFieldErrors(t, "guide", gerrs)
		if len(gerrs) == 0 && !utf8.ValidString(it.Name+it.Summary+it.OnlineURL) {
			t.Fatal("a guide with invalid UTF-8 was accepted")
		}
	})
}

// FuzzCaseLookup tries any case number and code against a real database:
// never a panic or an internal error, only not found (or throttled), and a
// case only for its own number and code.
func FuzzCaseLookup(f *testing.F) {
	s := newDemoStore(f)
	rec, err := s.RateCounter(context.Background(), RatingInput{CounterCode: "C02", Level: LevelDissatisfied,
		Reasons: []string{"事难办"}, Device: "fuzz", Address: "fuzz"}, DefaultRatingRules(), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	number, code := rec.Case.Number, rec.Case.LookupCode
	f.Add(number, code)
	f.Add(number, "000000")
	f.Add(" "+number+" ", " "+code)
	f.Add("DB2026' OR 1=1 --", "%")
	f.Add("\xff", "\x00")
	i := 0
	f.Fuzz(func(t *testing.T, n, c string) {
		// A new address each time, so that the throttle does not hide the
		// lookup itself.
		i++
		got, err := s.LookupCase(context.Background(), n, c, "fuzz-"+strconv.Itoa(i), time.Now())
		switch {
		case err == nil:
			if got.Number != number || got.LookupCode != code {
				t.Fatalf("LookupCase(%q, %q) found case %s", n, c, got.Number)
			}
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrLookupThrottled):
		default:
			t.Fatalf("LookupCase(%q, %q): %v", n, c, err)
		}
	})
}
