package models

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// at is a moment in China Standard Time.
func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, chinaTime)
	if err != nil {
		panic(err)
	}
	return t
}

func rate(t *testing.T, s *Store, in RatingInput, now time.Time) *RatingReceipt {
	t.Helper()
	rec, err := s.RateCounter(context.Background(), in, DefaultRatingRules(), now)
	if err != nil {
		t.Fatalf("RateCounter(%+v): %v", in, err)
	}
	return rec
}

func countRows(t *testing.T, s *Store) [3]int64 {
	t.Helper()
	// The monthly totals as they will be stored: what the writer holds is
	// written first, not whenever its flush comes.
	if err := s.syncTotals(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out [3]int64
	for i, m := range []any{&Rating{}, &Case{}, &RatingMonth{}} {
		if err := s.db.Model(m).Count(&out[i]).Error; err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestRatingSatisfiedAndDissatisfied(t *testing.T) {
	s := newDemoStore(t)
	now := at("2026-11-20 10:00")
	good := rate(t, s, RatingInput{CounterCode: "C02", Level: LevelSatisfied, Reasons: []string{"门难进"}, Phone: "13812345678",
		Device: "d1", Address: "10.0.0.1"}, now)
	if good.Case != nil || good.Rating.Reasons != "" || good.Rating.Phone != "" {
		t.Fatalf("a 满意 keeps no reasons or phone and opens no case: %+v", good)
	}
	bad := rate(t, s, RatingInput{CounterCode: "C02", Level: LevelDissatisfied, Reasons: []string{"事难办", "办事效率低"},
		Comment: "材料说法不一致", Phone: "138-1234-5678", Device: "d2", Address: "10.0.0.1"}, now)
	c := bad.Case
	if c == nil || c.State != CaseAwaitingCallback || !strings.HasPrefix(c.Number, "DB20261120-") || len(c.LookupCode) != 6 {
		t.Fatalf("a 不满意 opens a case awaiting its 回访: %+v", c)
	}
	if bad.Rating.Phone != "13812345678" || MaskPhone(bad.Rating.Phone) != "138****5678" {
		t.Fatalf("phone %q", bad.Rating.Phone)
	}
	// Friday 2026-11-20: 回访 by the end of Monday, 整改 within 15 working days.
	if got := c.CallbackDue.In(chinaTime).Format("2006-01-02"); got != "2026-11-23" {
		t.Fatalf("回访 due %s, want 2026-11-23", got)
	}
	if got := c.RectifyDue.In(chinaTime).Format("2006-01-02"); got != "2026-12-11" {
		t.Fatalf("整改 due %s, want 2026-12-11", got)
	}
	found, err := s.LookupCase(context.Background(), strings.ToLower(c.Number), c.LookupCode, "1.1.1.1", now)
	if err != nil || len(found.Events) != 1 {
		t.Fatalf("lookup: %v, %+v", err, found)
	}
	if _, err := s.LookupCase(context.Background(), c.Number, "000000", "1.1.1.1", now); !errors.Is(err, ErrNotFound) && c.LookupCode != "000000" {
		t.Fatalf("a wrong lookup code: %v, want ErrNotFound", err)
	}
}

func TestRatingRulesAreHonest(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	rules := DefaultRatingRules()
	rules.PerAddressPerHour = 3
	now := at("2026-11-20 10:00")
	in := RatingInput{CounterCode: "C02", Level: LevelSatisfied, Device: "phone-1", Address: "10.0.0.9"}
	if _, err := s.RateCounter(ctx, in, rules, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RateCounter(ctx, in, rules, now.Add(11*time.Hour)); !errors.Is(err, ErrAlreadyRated) {
		t.Fatalf("the same phone again within 12 hours: %v, want ErrAlreadyRated", err)
	}
	in.CounterCode = "C01"
	if _, err := s.RateCounter(ctx, in, rules, now.Add(time.Minute)); err != nil {
		t.Fatalf("another counter is another rating: %v", err)
	}
	in.CounterCode = "C02"
	if _, err := s.RateCounter(ctx, in, rules, now.Add(13*time.Hour)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	in.Device = "phone-2"
	if _, err := s.RateCounter(ctx, in, rules, now.Add(13*time.Hour+time.Minute)); err != nil {
		t.Fatal(err)
	}
	in.Device = "phone-3"
	if _, err := s.RateCounter(ctx, in, rules, now.Add(13*time.Hour+2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	in.Device = "phone-4"
	if _, err := s.RateCounter(ctx, in, rules, now.Add(13*time.Hour+3*time.Minute)); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("a fourth rating from one address in an hour: %v, want ErrRateLimited", err)
	}
}

func TestBadRatingsStoreNothing(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	before := countRows(t, s)
	now := at("2026-11-20 10:00")
	tests := []struct {
		name  string
		in    RatingInput
		field string
	}{
		{"no level", RatingInput{CounterCode: "C02", Level: 0}, "level"},
		{"five-level answer on the two-answer scale", RatingInput{CounterCode: "C02", Level: LevelVerySatisfied}, "level"},
		{"no reason", RatingInput{CounterCode: "C02", Level: LevelDissatisfied}, "reasons"},
		{"unknown reason", RatingInput{CounterCode: "C02", Level: LevelDissatisfied, Reasons: []string{"<script>"}}, "reasons"},
		{"其他 without a word", RatingInput{CounterCode: "C02", Level: LevelDissatisfied, Reasons: []string{"其他"}}, "comment"},
		{"overlong comment", RatingInput{CounterCode: "C02", Level: LevelDissatisfied, Reasons: []string{"事难办"}, Comment: strings.Repeat("慢", 201)}, "comment"},
		{"bad phone", RatingInput{CounterCode: "C02", Level: LevelDissatisfied, Reasons: []string{"事难办"}, Phone: "12345"}, "phone"},
		{"landline", RatingInput{CounterCode: "C02", Level: LevelDissatisfied, Reasons: []string{"事难办"}, Phone: "8812 3400"}, "phone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.RateCounter(ctx, tt.in, DefaultRatingRules(), now)
			if v, ok := AsValidationError(err); !ok || v.Field(tt.field) == "" {
				t.Fatalf("err = %v, want a message on %s", err, tt.field)
			}
		})
	}
	for _, code := range []string{"Z99", "", "<b>", strings.Repeat("A", 60)} {
		if _, err := s.RateCounter(ctx, RatingInput{CounterCode: code, Level: LevelSatisfied}, DefaultRatingRules(), now); !errors.Is(err, ErrNotFound) {
			t.Errorf("counter %q: %v, want ErrNotFound", code, err)
		}
	}
	if err := s.db.Model(&Counter{}).Where("code = ?", "C03").Update("enabled", false).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := s.RateCounter(ctx, RatingInput{CounterCode: "C03", Level: LevelSatisfied}, DefaultRatingRules(), now); !errors.Is(err, ErrNotFound) {
		t.Errorf("a disabled counter: %v, want ErrNotFound", err)
	}
	if after := countRows(t, s); after != before {
		t.Fatalf("rejected ratings stored something: %v → %v", before, after)
	}
}

func TestFiveLevelScale(t *testing.T) {
	s := newDemoStore(t)
	rules := DefaultRatingRules()
	rules.FiveLevels = true
	rec, err := s.RateCounter(context.Background(), RatingInput{CounterCode: "C02", Level: LevelFair, Device: "a"}, rules, at("2026-11-20 10:00"))
	if err != nil || rec.Case != nil {
		t.Fatalf("基本满意 is no 差评: %v %+v", err, rec)
	}
	rec, err = s.RateCounter(context.Background(), RatingInput{CounterCode: "C02", Level: LevelVeryDissatisfied, Reasons: []string{"话难听"}, Device: "b"}, rules, at("2026-11-20 10:00"))
	if err != nil || rec.Case == nil {
		t.Fatalf("非常不满意 opens a case: %v %+v", err, rec)
	}
}

func TestCaseLifecycleAndReopen(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	rules := DefaultRatingRules()
	now := at("2026-11-20 10:00")
	rec := rate(t, s, RatingInput{CounterCode: "B01", Level: LevelDissatisfied, Reasons: []string{"话难听"}, Device: "x", Address: "y"}, now)
	c := rec.Case
	other := c.DepartmentID + 1

	if err := s.RecordFinding(ctx, c.ID, c.DepartmentID, CaseStep{By: Actor{Name: "a"}, Finding: FindingTrue, Note: "n"}, now); !errors.Is(err, ErrWrongState) {
		t.Fatalf("核实 before 回访: %v, want ErrWrongState", err)
	}
	if err := s.RecordCallback(ctx, c.ID, other, CaseStep{By: Actor{Name: "a"}, Note: "n"}, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another department's case: %v, want ErrNotFound", err)
	}
	if err := s.RecordCallback(ctx, c.ID, c.DepartmentID, CaseStep{By: Actor{Name: "a"}}, now); !isValidation(err) {
		t.Fatalf("回访 without a note: %v", err)
	}
	steps := []func() error{
		func() error {
			return s.RecordCallback(ctx, c.ID, c.DepartmentID, CaseStep{By: Actor{Name: "人社局 王敏"}, Note: "已电话联系"}, now.Add(time.Hour))
		},
		func() error {
			return s.RecordFinding(ctx, c.ID, c.DepartmentID, CaseStep{By: Actor{Name: "人社局 王敏"}, Finding: FindingTrue, Note: "录音属实"}, now.Add(2*time.Hour))
		},
		func() error {
			return s.StartRectification(ctx, c.ID, c.DepartmentID, CaseStep{By: Actor{Name: "人社局 李强"}, ResponsiblePerson: "李强", Measures: "批评教育并培训"}, now.Add(3*time.Hour))
		},
		func() error {
			return s.CloseCase(ctx, c.ID, c.DepartmentID, CaseStep{By: Actor{Name: "人社局 李强"}, Outcome: OutcomeFixed, Resolution: "已培训"}, now.Add(48*time.Hour))
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
	closed, err := s.LookupCase(ctx, c.Number, c.LookupCode, "1.1.1.1", now)
	if err != nil {
		t.Fatal(err)
	}
	if closed.State != CaseClosed || closed.Outcome != OutcomeFixed || !closed.ClosedOnTime || len(closed.Events) != 5 {
		t.Fatalf("closed case: %+v", closed)
	}
	reopened, err := s.FollowUpCase(ctx, c.Number, c.LookupCode, "1.1.1.1", false, rules, at("2026-11-23 09:00"))
	if err != nil {
		t.Fatal(err)
	}
	if reopened.State != CaseAwaitingCallback || reopened.Reopened != 1 || reopened.ClosedAt != nil ||
		reopened.CallbackDue.In(chinaTime).Format("2006-01-02") != "2026-11-24" {
		t.Fatalf("追评 不满意 must reopen (复号) with new deadlines: %+v", reopened)
	}
	last := reopened.Events[len(reopened.Events)-1]
	if last.Actor != "评价人" || last.From != CaseClosed || last.To != CaseAwaitingCallback {
		t.Fatalf("the reopening is not recorded: %+v", last)
	}
	if _, err := s.FollowUpCase(ctx, c.Number, c.LookupCode, "1.1.1.1", true, rules, at("2026-11-23 10:00")); !errors.Is(err, ErrWrongState) {
		t.Fatalf("追评 on an open case: %v, want ErrWrongState", err)
	}
	if !reopened.Overdue(at("2026-11-25 10:00")) || reopened.Overdue(at("2026-11-24 10:00")) {
		t.Fatal("超期 must follow the 回访 deadline")
	}
}

func TestTotalsEqualARecount(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	n, err := s.LoadDemoRatings(ctx, DefaultRatingRules(), at("2026-11-20 18:00"))
	if err != nil {
		t.Fatal(err)
	}
	if n < 10000 {
		t.Fatalf("%d demo ratings, want a year's worth", n)
	}
	for i := 0; i < 20; i++ {
		in := RatingInput{CounterCode: []string{"C02", "B01", "A04"}[i%3], Level: []int{LevelSatisfied, LevelDissatisfied}[i%2],
			Reasons: []string{"事难办"}, Device: string(rune('a' + i)), Address: "1.2.3.4"}
		if _, err := s.RateCounter(ctx, in, DefaultRatingRules(), at("2026-11-20 19:00")); err != nil {
			t.Fatal(err)
		}
	}
	if bad, err := s.TotalsMismatch(ctx); err != nil || bad != 0 {
		t.Fatalf("running totals differ from a recount on %d counter-days (%v)", bad, err)
	}
	again, err := s.LoadDemoRatings(ctx, DefaultRatingRules(), at("2026-11-21 18:00"))
	if err != nil || again != 0 {
		t.Fatalf("a second load added %d ratings (%v)", again, err)
	}
	var states []struct {
		State string
		N     int
	}
	s.db.Model(&Case{}).Select("state, COUNT(*) AS n").Group("state").Scan(&states)
	if len(states) != 5 {
		t.Fatalf("demo cases in states %+v, want all five", states)
	}
}

func TestCaseDeadlinesSkipHolidaysAndCountMakeUpDays(t *testing.T) {
	s := newDemoStore(t)
	// 2026-09-30, the eve of 国庆: 10-01 to 10-07 are off, Saturday 10-10 is
	// a make-up working day.
	rec := rate(t, s, RatingInput{CounterCode: "C02", Level: LevelDissatisfied, Reasons: []string{"事难办"}, Device: "d", Address: "a"},
		at("2026-09-30 16:00"))
	if got := rec.Case.CallbackDue.In(chinaTime).Format("2006-01-02"); got != "2026-10-08" {
		t.Fatalf("回访 due %s, want 2026-10-08, the first working day after the holiday", got)
	}
	if got := rec.Case.RectifyDue.In(chinaTime).Format("2006-01-02"); got != "2026-10-27" {
		t.Fatalf("整改 due %s, want 2026-10-27 (15 working days, the make-up Saturday 10-10 counted)", got)
	}
}

func TestFollowUpsSentAtOnceCountOnce(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	rules := DefaultRatingRules()
	now := at("2026-11-20 10:00")
	rec := rate(t, s, RatingInput{CounterCode: "B01", Level: LevelDissatisfied, Reasons: []string{"话难听"}, Device: "x", Address: "y"}, now)
	c := rec.Case
	by := CaseStep{By: Actor{Name: "a"}}
	for _, step := range []func() error{
		func() error { b := by; b.Note = "n"; return s.RecordCallback(ctx, c.ID, 0, b, now) },
		func() error {
			b := by
			b.Note = "n"
			b.Finding = FindingUnverified
			return s.RecordFinding(ctx, c.ID, 0, b, now)
		},
		func() error {
			b := by
			b.Outcome, b.Resolution = OutcomeExplained, "已解释"
			return s.CloseCase(ctx, c.ID, 0, b, now)
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			_, err := s.FollowUpCase(ctx, c.Number, c.LookupCode, "z", false, rules, now.Add(time.Hour))
			errs <- err
		}()
	}
	ok := 0
	for i := 0; i < 8; i++ {
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, ErrWrongState) {
			t.Fatalf("follow-up: %v", err)
		}
	}
	got, err := s.LookupCase(ctx, c.Number, c.LookupCode, "z", now)
	if err != nil {
		t.Fatal(err)
	}
	if ok != 1 || got.Reopened != 1 {
		t.Fatalf("%d follow-ups accepted, reopened %d times; want 1 and 1", ok, got.Reopened)
	}
}

func TestClosingOutcomesFollowTheFinding(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	now := at("2026-11-20 10:00")
	open := func(device, finding string) *Case {
		rec := rate(t, s, RatingInput{CounterCode: "A04", Level: LevelDissatisfied, Reasons: []string{"事难办"}, Device: device, Address: device}, now)
		if err := s.RecordCallback(ctx, rec.Case.ID, 0, CaseStep{By: Actor{Name: "a"}, Note: "n"}, now); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordFinding(ctx, rec.Case.ID, 0, CaseStep{By: Actor{Name: "a"}, Note: "n", Finding: finding}, now); err != nil {
			t.Fatal(err)
		}
		return rec.Case
	}
	untrue := open("u", FindingUntrue)
	if err := s.CloseCase(ctx, untrue.ID, 0, CaseStep{Outcome: OutcomeFixed, Resolution: "x"}, now); !isValidation(err) {
		t.Fatalf("已整改 on an untrue complaint: %v", err)
	}
	if err := s.CloseCase(ctx, untrue.ID, 0, CaseStep{Outcome: OutcomeUntrue, Resolution: "经核实不属实"}, now); err != nil {
		t.Fatal(err)
	}
	fixing := open("f", FindingTrue)
	if err := s.StartRectification(ctx, fixing.ID, 0, CaseStep{ResponsiblePerson: "李强", Measures: "培训",
		Deadline: fixing.RectifyDue.Add(48 * time.Hour)}, now); !isValidation(err) {
		t.Fatalf("a 整改 deadline later than the rule: %v", err)
	}
	if err := s.StartRectification(ctx, fixing.ID, 0, CaseStep{ResponsiblePerson: "李强", Measures: "培训"}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseCase(ctx, fixing.ID, 0, CaseStep{Outcome: OutcomeNotFixed, Resolution: "需上级系统改造"}, now); err != nil {
		t.Fatal(err)
	}
	list, err := s.FindPublishedCases(ctx, CaseFilter{}, now)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]bool{}
	for _, c := range list.Cases {
		outcomes[c.Outcome] = true
		if c.Rating.Phone != "" || c.Rating.Comment != "" || c.LookupCode != "" {
			t.Fatalf("the 亮单 shows a rater's data: %+v", c.Rating)
		}
	}
	if !outcomes[OutcomeUntrue] || !outcomes[OutcomeNotFixed] {
		t.Fatalf("the 亮单 must publish unfavourable outcomes too: %v", outcomes)
	}
}

func TestOverdueCountsInBeijingTime(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	// Friday 10:00: the 回访 is due by the end of Monday 2026-11-23, Beijing
	// time, which is 15:59:59 UTC.
	rec := rate(t, s, RatingInput{CounterCode: "A04", Level: LevelDissatisfied, Reasons: []string{"事难办"}, Device: "d", Address: "a"}, at("2026-11-20 10:00"))
	overdue := func(now time.Time) int {
		list, err := s.FindPublishedCases(ctx, CaseFilter{}, now)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range list.Figures {
			n += f.Overdue
		}
		return n
	}
	if got := overdue(at("2026-11-23 23:00")); got != 0 {
		t.Fatalf("at 23:00 on the due day: %d overdue, want 0", got)
	}
	if got := overdue(at("2026-11-24 01:00")); got != 1 || !rec.Case.Overdue(at("2026-11-24 01:00")) {
		t.Fatalf("at 01:00 the next day (Beijing): %d overdue, want 1", got)
	}
}

// TestAddressLimitCountsTheLastHourOnly: ratings older than an hour must
// not count against the address, and the ones within it must.
func TestAddressLimitCountsTheLastHourOnly(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	rules := DefaultRatingRules()
	rules.PerAddressPerHour = 2
	now := at("2026-11-20 10:30")
	rate := func(device string, when time.Time) error {
		_, err := s.RateCounter(ctx, RatingInput{CounterCode: "C02", Level: LevelSatisfied, Device: device, Address: "10.0.0.7"}, rules, when)
		return err
	}
	for _, d := range []string{"phone-1", "phone-2"} {
		if err := rate(d, now.Add(-61*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := rate("phone-3", now); err != nil {
		t.Fatalf("ratings over an hour old count against the address: %v", err)
	}
	if err := rate("phone-4", now.Add(time.Minute)); err != nil {
		t.Fatalf("the second rating of the hour: %v", err)
	}
	if err := rate("phone-5", now.Add(2*time.Minute)); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("a third rating from one address in an hour: %v, want ErrRateLimited", err)
	}
	if err := rate("phone-6", now.Add(62*time.Minute)); err != nil {
		t.Fatalf("an hour after the first of the two: %v", err)
	}
}

// TestRatableCounterFollowsEdits: the rating page and the rating POST see a
// counter's edits, and its being disabled, on the very next request,
// whatever was looked up before; ratings in between change nothing.
func TestRatableCounterFollowsEdits(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	if _, err := s.FindRatableCounter(ctx, "B01"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RateCounter(ctx, RatingInput{CounterCode: "B01", Level: LevelSatisfied, Device: "phone-1", Address: "10.0.0.8"},
		DefaultRatingRules(), time.Now()); err != nil {
		t.Fatal(err)
	}
	b01 := editableCounter(t, s, "B01")
	x := Actor{UserID: 2, Name: "人社局 李强"}
	in := counterInputOf(b01)
	in.Name = "社保卡综合窗口"
	if err := s.UpdateCounter(ctx, b01.DepartmentID, b01.ID, b01.Version, in, x); err != nil {
		t.Fatal(err)
	}
	ctr, err := s.FindRatableCounter(ctx, "B01")
	if err != nil || ctr.Name != "社保卡综合窗口" || ctr.Department.Name == "" {
		t.Fatalf("after a rename: %+v, %v", ctr, err)
	}
	if err := s.SetCounterEnabled(ctx, b01.DepartmentID, b01.ID, false, x); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindRatableCounter(ctx, "B01"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a disabled counter is still ratable: %v", err)
	}
}

// TestRatingInAMonthsLastMomentCountsInThatMonth rates, with a 差评 and its
// case, in the last half-millisecond of a Beijing month. MySQL keeps
// milliseconds and rounds the rest (MariaDB, which CI runs, truncates), so
// it would store the time in the next month while the running totals
// counted it in this one: the rating's time is kept to the millisecond, and
// the stored rating, its case and every total agree on the month.
func TestRatingInAMonthsLastMomentCountsInThatMonth(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	last := at("2026-11-30 23:59").Add(59*time.Second + 999*time.Millisecond + 600*time.Microsecond)
	rec, err := s.RateCounter(ctx, RatingInput{CounterCode: "C02", Level: LevelDissatisfied, Reasons: []string{"事难办"},
		Device: "phone-1", Address: "10.0.0.1"}, DefaultRatingRules(), last)
	if err != nil {
		t.Fatal(err)
	}
	if want := last.Truncate(time.Millisecond); !rec.Rating.CreatedAt.Equal(want) {
		t.Fatalf("rated at %s, want the millisecond %s", rec.Rating.CreatedAt, want)
	}
	var stored Rating
	if err := s.db.First(&stored, rec.Rating.ID).Error; err != nil {
		t.Fatal(err)
	}
	var c Case
	if err := s.db.Where("rating_id = ?", rec.Rating.ID).First(&c).Error; err != nil {
		t.Fatal(err)
	}
	if MonthOf(stored.CreatedAt) != "2026-11" || MonthOf(c.CreatedAt) != "2026-11" {
		t.Fatalf("stored at %s, its case at %s: want both in 2026-11", stored.CreatedAt.In(chinaTime), c.CreatedAt.In(chinaTime))
	}
	if n, err := s.TotalsMismatch(ctx); err != nil || n != 0 {
		t.Fatalf("TotalsMismatch = %d, %v", n, err)
	}
}

// TestAddressLimitIsExactAtTheMinute: the writer counts addresses' ratings
// by minute, and the hour before a rating starts part-way through one; a
// rating in that minute counts exactly when it is inside the hour.
func TestAddressLimitIsExactAtTheMinute(t *testing.T) {
	s := newDemoStore(t)
	ctx := context.Background()
	rules := DefaultRatingRules()
	rules.PerAddressPerHour = 2
	first := at("2026-11-20 10:00").Add(30*time.Second + 500*time.Millisecond)
	rate := func(device string, when time.Time) error {
		_, err := s.RateCounter(ctx, RatingInput{CounterCode: "C02", Level: LevelSatisfied, Device: device, Address: "10.0.0.6"}, rules, when)
		return err
	}
	for i, when := range []time.Time{first, first.Add(20 * time.Minute)} {
		if err := rate("phone-"+strconv.Itoa(i), when); err != nil {
			t.Fatal(err)
		}
	}
	if err := rate("phone-2", first.Add(time.Hour-100*time.Millisecond)); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("100 ms before the first rating is an hour old: %v, want ErrRateLimited", err)
	}
	if err := rate("phone-3", first.Add(time.Hour+100*time.Millisecond)); err != nil {
		t.Fatalf("100 ms after the first rating is an hour old: %v", err)
	}
	if err := rate("phone-4", first.Add(time.Hour+200*time.Millisecond)); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("the third rating of the hour from 10:20:30: %v, want ErrRateLimited", err)
	}
}
