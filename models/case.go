package models

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// The states of a case (督办单), in the order a case moves through them.
const (
	CaseAwaitingCallback = "待回访"
	CaseCalledBack       = "已回访"
	CaseVerified         = "已核实"
	CaseRectifying       = "整改中"
	CaseClosed           = "已办结"
)

// openCaseStates are the states of a case not yet closed, for the queries
// that read open cases by the state's index.
func openCaseStates() []string {
	return []string{CaseAwaitingCallback, CaseCalledBack, CaseVerified, CaseRectifying}
}

// The findings of a 核实.
const (
	FindingTrue       = "属实"
	FindingUntrue     = "不属实"
	FindingUnverified = "无法核实"
)

// The outcomes of a closed case. Every one is published, the unfavourable
// ones too.
const (
	OutcomeFixed     = "已整改"
	OutcomeExplained = "已解释说明"
	OutcomeUntrue    = "不属实"
	OutcomeNotFixed  = "未能整改"
)

// Case is the follow-up of one 差评: 回访 → 核实 → 整改 → 销号, with
// deadlines in working days. A rater follows it with its number and lookup
// code, and may reopen it (复号) by rating the outcome 不满意.
type Case struct {
	ID           uint    `gorm:"primaryKey"`
	Number       string  `gorm:"size:20;not null;uniqueIndex"`
	LookupCode   string  `gorm:"size:10;not null"`
	RatingID     uint    `gorm:"not null;uniqueIndex"`
	Rating       Rating  `gorm:"constraint:OnDelete:RESTRICT"`
	CounterID    uint    `gorm:"not null;index"`
	Counter      Counter `gorm:"constraint:OnDelete:RESTRICT"`
	DepartmentID uint    `gorm:"not null;index"`
	Department   Department
	State        string    `gorm:"size:10;not null;index"`
	CallbackDue  time.Time `gorm:"not null"`
	RectifyDue   time.Time `gorm:"not null"`
	CalledBackAt *time.Time
	// Finding is the result of the 核实: 属实, 不属实 or 无法核实.
	Finding string `gorm:"size:10;not null"`
	// ResponsiblePerson and Measures describe the 整改.
	ResponsiblePerson string `gorm:"size:60;not null"`
	Measures          string `gorm:"size:1000;not null"`
	Outcome           string `gorm:"size:10;not null"`
	// Resolution is what was done, in words fit to publish (亮单).
	Resolution string `gorm:"size:1000;not null"`
	ClosedAt   *time.Time
	// ClosedOnTime is set at closing: closed by its 整改 deadline.
	ClosedOnTime bool `gorm:"not null"`
	Reopened     int  `gorm:"not null"`
	// FollowUp is the rater's 追评 of the outcome: 满意 or 不满意.
	FollowUp  string `gorm:"size:10;not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
	Events    []CaseEvent `gorm:"constraint:OnDelete:CASCADE"`
}

// CaseEvent records one step of a case: who, when, from which state to
// which, and a note.
type CaseEvent struct {
	ID        uint `gorm:"primaryKey"`
	CaseID    uint `gorm:"not null;index"`
	CreatedAt time.Time
	Actor     string `gorm:"size:100;not null"`
	From      string `gorm:"size:10;not null"`
	To        string `gorm:"size:10;not null"`
	Note      string `gorm:"size:1000;not null"`
}

// Due is the deadline the case is working to now.
func (c Case) Due() time.Time {
	if c.State == CaseAwaitingCallback {
		return c.CallbackDue
	}
	return c.RectifyDue
}

// Overdue reports whether an open case is past its deadline (超期).
func (c Case) Overdue(now time.Time) bool {
	return c.State != CaseClosed && now.After(c.Due())
}

// caseDayGuard is the guard key of a day's case numbers (lockGuard).
func caseDayGuard(now time.Time) string {
	return "case-day:" + now.In(chinaTime).Format("20060102")
}

// openCase opens the case of a 差评, numbered by day, with its deadlines.
func (s *Store) openCase(tx *gorm.DB, r Rating, rules RatingRules, now time.Time) (*Case, error) {
	day := now.In(chinaTime).Format("20060102")
	// Numbers count the day's cases: two instances opening cases at once
	// on PostgreSQL or MySQL would count alike, so they take turns.
	if err := lockGuard(tx, caseDayGuard(now)); err != nil {
		return nil, err
	}
	var n int64
	// A range, not LIKE, so that the unique index on number serves it.
	if err := tx.Model(&Case{}).Where("number >= ? AND number < ?", "DB"+day+"-", "DB"+day+".").Count(&n).Error; err != nil {
		return nil, err
	}
	code, err := randomDigits(6)
	if err != nil {
		return nil, err
	}
	local := now.In(chinaTime)
	c := Case{
		Number: fmt.Sprintf("DB%s-%04d", day, n+1), LookupCode: code,
		RatingID: r.ID, CounterID: r.CounterID, DepartmentID: r.DepartmentID,
		State: CaseAwaitingCallback,
		// Times are stored in UTC: SQLite compares them as text, and text
		// with mixed offsets does not sort as time.
		CallbackDue: s.cal.AddWorkingDays(local, rules.CallbackDays).UTC(),
		RectifyDue:  s.cal.AddWorkingDays(local, rules.RectifyDays).UTC(),
		CreatedAt:   now.UTC(), UpdatedAt: now.UTC(),
	}
	if err := tx.Omit("Rating", "Counter", "Department").Create(&c).Error; err != nil {
		return nil, err
	}
	if err := addCaseTotals(tx, c.DepartmentID, c.CreatedAt, 1, 0, 0); err != nil {
		return nil, err
	}
	ev := CaseEvent{CaseID: c.ID, CreatedAt: now, Actor: "系统", To: CaseAwaitingCallback,
		Note: "群众评价“" + LevelLabel(r.Level) + "”，自动生成督办单"}
	if err := tx.Create(&ev).Error; err != nil {
		return nil, err
	}
	return &c, nil
}

// ErrLookupThrottled means too many wrong lookup codes for a case or from
// an address: the lookup is locked for a while.
var ErrLookupThrottled = errors.New("lookup throttled")

// lookupLimits lock a case number after 5 wrong codes, and an address after
// 20, for 15 minutes: a six-digit code cannot be guessed at that rate. They
// are the sign-in limits, by design.
func lookupLimits() SignInLimits { return DefaultSignInLimits() }

// LookupCase returns a case with its events for a rater who has its number
// and lookup code. A wrong code is reported as not found, so that numbers
// cannot be probed, and counted against the case and the address.
func (s *Store) LookupCase(ctx context.Context, number, code, address string, now time.Time) (*Case, error) {
	number = strings.ToUpper(strings.TrimSpace(number))
	code = strings.TrimSpace(code)
	db := s.db.WithContext(ctx)
	key, addr := hashOf("case", number), hashOf("address", address)
	if locked, err := throttled(db, key, addr, lookupLimits(), now); err != nil {
		return nil, fmt.Errorf("lookup case: %w", err)
	} else if locked {
		return nil, ErrLookupThrottled
	}
	var c Case
	err := ErrNotFound
	if validCode(number) && code != "" && len(code) <= 10 {
		err = db.Preload("Rating").Preload("Counter").Preload("Department").
			Preload("Events", func(db *gorm.DB) *gorm.DB { return db.Order("created_at, id") }).
			Where("number = ?", number).First(&c).Error
	}
	if err == nil && subtle.ConstantTimeCompare([]byte(c.LookupCode), []byte(code)) != 1 {
		err = ErrNotFound
	}
	if err != nil {
		if mapError(err) != ErrNotFound {
			return nil, fmt.Errorf("lookup case %s: %w", number, err)
		}
		if ferr := recordFailure(db, key, addr, now); ferr != nil {
			return nil, fmt.Errorf("lookup case: %w", ferr)
		}
		return nil, fmt.Errorf("lookup case %s: %w", number, ErrNotFound)
	}
	return &c, nil
}

// CaseStep is a staff action on a case.
type CaseStep struct {
	// By is the staff member taking the step.
	By   Actor
	Note string
	// Finding, for a verification: 属实, 不属实 or 无法核实.
	Finding string
	// ResponsiblePerson, Measures and Deadline, for starting a 整改.
	ResponsiblePerson string
	Measures          string
	Deadline          time.Time
	// Outcome and Resolution, for closing.
	Outcome    string
	Resolution string
}

// ErrWrongState means a step that the case's state does not allow.
var ErrWrongState = errors.New("step not allowed in this state")

func requireText(errs map[string]string, field, value, label string, max int) {
	switch n := utf8.RuneCountInString(strings.TrimSpace(value)); {
	case n == 0:
		errs[field] = "请填写" + label + "。"
	case n > max:
		errs[field] = fmt.Sprintf("%s不能超过 %d 个字（现有 %d 个字）。", label, max, n)
	}
}

// advance applies one step to a case, records the event, and saves, in one
// transaction. A departmentID other than 0 restricts the step to that
// department's cases.
func (s *Store) advance(ctx context.Context, caseID, departmentID uint, by Actor, now time.Time, apply func(c *Case) (note string, err error)) error {
	now = now.UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c Case
		q := forUpdate(tx).Where("id = ?", caseID)
		if departmentID != 0 {
			q = q.Where("department_id = ?", departmentID)
		}
		if err := q.First(&c).Error; err != nil {
			return err
		}
		before := caseRecord(c)
		if err := s.saveStep(tx, &c, by.Name, now, apply); err != nil {
			return err
		}
		return audit(tx, by, "督办单"+c.State, "督办单 "+c.Number, before, caseRecord(c), now)
	})
	return caseError(caseID, err)
}

func (s *Store) saveStep(tx *gorm.DB, c *Case, actor string, now time.Time, apply func(c *Case) (string, error)) error {
	from, wasOnTime := c.State, c.ClosedOnTime
	note, err := apply(c)
	if err != nil {
		return err
	}
	c.UpdatedAt = now
	if err := tx.Omit("Rating", "Counter", "Department", "Events").Save(c).Error; err != nil {
		return err
	}
	if err := caseStepTotals(tx, c, from == CaseClosed, wasOnTime); err != nil {
		return err
	}
	return tx.Create(&CaseEvent{CaseID: c.ID, CreatedAt: now, Actor: actor, From: from, To: c.State, Note: note}).Error
}

// caseRecord is what the audit log keeps of a case: its working fields,
// not the rater's.
func caseRecord(c Case) map[string]any {
	return map[string]any{"状态": c.State, "核实结果": c.Finding, "整改责任人": c.ResponsiblePerson,
		"整改措施": c.Measures, "整改期限": c.RectifyDue.In(chinaTime).Format("2006-01-02"),
		"办理结果": c.Outcome, "办理情况": c.Resolution}
}

func caseError(caseID uint, err error) error {
	var verr *ValidationError
	if err == nil || errors.As(err, &verr) || errors.Is(err, ErrWrongState) {
		return err
	}
	return fmt.Errorf("case %d: %w", caseID, mapError(err))
}

func wrongState(c *Case, want ...string) error {
	for _, w := range want {
		if c.State == w {
			return nil
		}
	}
	return fmt.Errorf("%w: the case is %s", ErrWrongState, c.State)
}

// RecordCallback records the 回访 of a case: 待回访 → 已回访.
func (s *Store) RecordCallback(ctx context.Context, caseID, departmentID uint, step CaseStep, now time.Time) error {
	return s.advance(ctx, caseID, departmentID, step.By, now, func(c *Case) (string, error) {
		if err := wrongState(c, CaseAwaitingCallback); err != nil {
			return "", err
		}
		errs := map[string]string{}
		requireText(errs, "note", step.Note, "回访情况", 1000)
		if len(errs) > 0 {
			return "", &ValidationError{Fields: errs}
		}
		c.State, c.CalledBackAt = CaseCalledBack, &now
		return "回访：" + strings.TrimSpace(step.Note), nil
	})
}

// RecordFinding records the 核实 of a case: 已回访 → 已核实.
func (s *Store) RecordFinding(ctx context.Context, caseID, departmentID uint, step CaseStep, now time.Time) error {
	return s.advance(ctx, caseID, departmentID, step.By, now, func(c *Case) (string, error) {
		if err := wrongState(c, CaseCalledBack); err != nil {
			return "", err
		}
		errs := map[string]string{}
		if step.Finding != FindingTrue && step.Finding != FindingUntrue && step.Finding != FindingUnverified {
			errs["finding"] = "请选择核实结果：属实、不属实或无法核实。"
		}
		requireText(errs, "note", step.Note, "核实情况", 1000)
		if len(errs) > 0 {
			return "", &ValidationError{Fields: errs}
		}
		c.State, c.Finding = CaseVerified, step.Finding
		return "核实结果“" + step.Finding + "”：" + strings.TrimSpace(step.Note), nil
	})
}

// StartRectification starts the 整改 of a verified complaint: 已核实 (属实)
// → 整改中, with a responsible person, the measures and, if given, a
// deadline other than the default.
func (s *Store) StartRectification(ctx context.Context, caseID, departmentID uint, step CaseStep, now time.Time) error {
	return s.advance(ctx, caseID, departmentID, step.By, now, func(c *Case) (string, error) {
		if err := wrongState(c, CaseVerified); err != nil {
			return "", err
		}
		errs := map[string]string{}
		if c.Finding != FindingTrue {
			errs["finding"] = "核实结果为“" + c.Finding + "”的督办单无需整改，请直接办结并说明情况。"
		}
		requireText(errs, "responsible_person", step.ResponsiblePerson, "整改责任人", 60)
		requireText(errs, "measures", step.Measures, "整改措施", 1000)
		switch {
		case step.Deadline.IsZero():
		case step.Deadline.Before(now):
			errs["deadline"] = "整改期限不能早于今天。"
		case step.Deadline.After(c.RectifyDue):
			errs["deadline"] = "整改期限不能晚于规定期限 " + c.RectifyDue.In(chinaTime).Format("2006-01-02") + "，可以提前，不能延后。"
		}
		if len(errs) > 0 {
			return "", &ValidationError{Fields: errs}
		}
		c.State = CaseRectifying
		c.ResponsiblePerson, c.Measures = strings.TrimSpace(step.ResponsiblePerson), strings.TrimSpace(step.Measures)
		if !step.Deadline.IsZero() {
			c.RectifyDue = step.Deadline.UTC()
		}
		return fmt.Sprintf("整改责任人 %s，期限 %s：%s", c.ResponsiblePerson, c.RectifyDue.In(chinaTime).Format("2006-01-02"), c.Measures), nil
	})
}

// CloseCase closes a case (销号) with an honest outcome: from 整改中 as
// 已整改 or 未能整改; from 已核实 as 已解释说明, or 不属实 when the finding
// was so.
func (s *Store) CloseCase(ctx context.Context, caseID, departmentID uint, step CaseStep, now time.Time) error {
	return s.advance(ctx, caseID, departmentID, step.By, now, func(c *Case) (string, error) {
		if err := wrongState(c, CaseRectifying, CaseVerified); err != nil {
			return "", err
		}
		errs := map[string]string{}
		var allowed []string
		if c.State == CaseRectifying {
			allowed = []string{OutcomeFixed, OutcomeNotFixed}
		} else if c.Finding == FindingUntrue {
			allowed = []string{OutcomeUntrue, OutcomeExplained}
		} else {
			allowed = []string{OutcomeExplained}
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == step.Outcome
		}
		if !ok {
			errs["outcome"] = "当前阶段可选的办理结果：" + strings.Join(allowed, "、") + "。"
		}
		requireText(errs, "resolution", step.Resolution, "办理情况", 1000)
		if len(errs) > 0 {
			return "", &ValidationError{Fields: errs}
		}
		c.State, c.Outcome, c.Resolution = CaseClosed, step.Outcome, strings.TrimSpace(step.Resolution)
		// On time means both deadlines kept: the 回访 and the 整改.
		onTime := !now.After(c.RectifyDue) && c.CalledBackAt != nil && !c.CalledBackAt.After(c.CallbackDue)
		c.ClosedAt, c.ClosedOnTime, c.FollowUp = &now, onTime, ""
		return "办结（" + c.Outcome + "）：" + c.Resolution, nil
	})
}

// FollowUpCase records the rater's 追评 of a closed case. 不满意 reopens it
// (复号) with new deadlines; the rater needs the number and lookup code.
// The case is read again inside the transaction, so that two 追评 sent at
// once cannot both count.
func (s *Store) FollowUpCase(ctx context.Context, number, code, address string, satisfied bool, rules RatingRules, now time.Time) (*Case, error) {
	now = now.UTC()
	found, err := s.LookupCase(ctx, number, code, address, now)
	if err != nil {
		return nil, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c Case
		if err := forUpdate(tx).First(&c, found.ID).Error; err != nil {
			return err
		}
		return s.saveStep(tx, &c, "评价人", now, func(c *Case) (string, error) {
			if c.State != CaseClosed {
				return "", fmt.Errorf("%w: 督办单尚未办结", ErrWrongState)
			}
			if c.FollowUp != "" {
				return "", fmt.Errorf("%w: 已追评", ErrWrongState)
			}
			if satisfied {
				c.FollowUp = "满意"
				return "评价人对办理结果表示满意", nil
			}
			reopen(s.cal, c, rules, now)
			return "评价人对办理结果不满意，督办单重新办理（复号），重新回访", nil
		})
	})
	if err != nil {
		return nil, caseError(found.ID, err)
	}
	return s.LookupCase(ctx, number, code, address, now)
}

// reopen puts a closed case back to 待回访 (复号) with new deadlines.
func reopen(cal *Calendar, c *Case, rules RatingRules, now time.Time) {
	local := now.In(chinaTime)
	c.FollowUp, c.Reopened = "不满意", c.Reopened+1
	c.State, c.ClosedAt, c.ClosedOnTime, c.CalledBackAt = CaseAwaitingCallback, nil, false, nil
	c.CallbackDue = cal.AddWorkingDays(local, rules.CallbackDays).UTC()
	c.RectifyDue = cal.AddWorkingDays(local, rules.RectifyDays).UTC()
}

// FindCaseQueue returns the open cases of a department (all departments
// for 0), overdue first, then by the nearest deadline: the work queue.
func (s *Store) FindCaseQueue(ctx context.Context, departmentID uint, now time.Time) ([]Case, error) {
	q := s.db.WithContext(ctx).Preload("Counter").Preload("Department").Preload("Rating").
		Where("state <> ?", CaseClosed)
	if departmentID != 0 {
		q = q.Where("department_id = ?", departmentID)
	}
	due := "CASE WHEN state = '" + CaseAwaitingCallback + "' THEN callback_due ELSE rectify_due END"
	var cases []Case
	err := q.Order(clauseExpr("CASE WHEN "+due+" < ? THEN 0 ELSE 1 END, "+due+", id", now.UTC())).Find(&cases).Error
	if err != nil {
		return nil, fmt.Errorf("case queue: %w", err)
	}
	return cases, nil
}

// FindCase returns a case with its rating (the rater's number included:
// staff need it for the 回访) and events, if it belongs to the department
// (any department for 0).
func (s *Store) FindCase(ctx context.Context, id, departmentID uint) (*Case, error) {
	q := s.db.WithContext(ctx).Preload("Counter").Preload("Department").Preload("Rating").
		Preload("Events", func(db *gorm.DB) *gorm.DB { return db.Order("created_at, id") }).
		Where("id = ?", id)
	if departmentID != 0 {
		q = q.Where("department_id = ?", departmentID)
	}
	var c Case
	if err := q.First(&c).Error; err != nil {
		return nil, fmt.Errorf("find case %d: %w", id, mapError(err))
	}
	return &c, nil
}
