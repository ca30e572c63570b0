package models

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"gorm.io/gorm"
)

// LoadDemoRatings adds twelve months of plausible ratings, up to now, for
// every counter of the demo data set, with a case for every 差评 in the state
// its age makes likely: the oldest closed (a few late, a few reopened by the
// rater), the newest still awaiting their 回访. The figures are drawn from a
// fixed seed, so every load gives the same figures for the same day. It adds
// nothing if any rating exists.
func (s *Store) LoadDemoRatings(ctx context.Context, rules RatingRules, now time.Time) (int, error) {
	db := s.db.WithContext(ctx)
	var n int64
	if err := db.Model(&Rating{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("load demo ratings: %w", err)
	}
	if n > 0 {
		return 0, nil
	}
	var counters []Counter
	if err := db.Preload("Department").Order("id").Find(&counters).Error; err != nil {
		return 0, fmt.Errorf("load demo ratings: %w", err)
	}
	rng := rand.New(rand.NewSource(20261122))
	today := time.Date(now.In(chinaTime).Year(), now.In(chinaTime).Month(), now.In(chinaTime).Day(), 0, 0, 0, 0, chinaTime)
	first := today.AddDate(-1, 0, 1)

	var ratings []Rating
	for _, c := range counters {
		busy := 2 + rng.Intn(7)
		good := 0.93 + rng.Float64()*0.055
		saturday := strings.Contains(c.ExtendedHours, "周六")
		for day := first; !day.After(today); day = day.AddDate(0, 0, 1) {
			open := s.cal.IsWorkingDay(day) || (saturday && day.Weekday() == time.Saturday && !s.isHoliday(day))
			if !open {
				continue
			}
			p := good
			// Queues after the Spring Festival and in the last weeks of the
			// year bring more complaints.
			if day.Month() == time.February || (day.Month() == time.December && day.Day() > 15) {
				p -= 0.03
			}
			count := busy/2 + rng.Intn(busy+1)
			for i := 0; i < count; i++ {
				at := day.Add(time.Duration(9*60+rng.Intn(8*60)) * time.Minute)
				if day.Equal(today) && at.After(now) {
					continue
				}
				r := Rating{CounterID: c.ID, DepartmentID: c.DepartmentID, Level: LevelSatisfied,
					DeviceHash: hashOf("device", fmt.Sprintf("demo-%d", rng.Int63())), AddressHash: hashOf("address", "demo"),
					CreatedAt: at.UTC()}
				if rules.FiveLevels {
					r.Level = []int{LevelVerySatisfied, LevelVerySatisfied, LevelSatisfied, LevelFair}[rng.Intn(4)]
				}
				if rng.Float64() > p {
					r.Level = LevelDissatisfied
					if rules.FiveLevels && rng.Intn(3) == 0 {
						r.Level = LevelVeryDissatisfied
					}
					reasons := BadReasons()[:5]
					r.Reasons = reasons[rng.Intn(len(reasons))]
					if rng.Intn(3) == 0 {
						if second := reasons[rng.Intn(len(reasons))]; second != r.Reasons {
							r.Reasons += "、" + second
						}
					}
					r.Comment = demoComments[rng.Intn(len(demoComments))]
					if rng.Intn(10) < 6 {
						r.Phone = fmt.Sprintf("1%d%09d", 3+rng.Intn(7), rng.Intn(1_000_000_000))
					}
				}
				ratings = append(ratings, r)
			}
		}
	}

	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Omit("Counter").CreateInBatches(&ratings, 500).Error; err != nil {
			return err
		}
		type key struct {
			month               string
			counter, department uint
		}
		index := map[key]int{}
		var rows []RatingMonth
		for _, r := range ratings {
			k := key{MonthOf(r.CreatedAt), r.CounterID, r.DepartmentID}
			i, ok := index[k]
			if !ok {
				i = len(rows)
				index[k] = i
				rows = append(rows, RatingMonth{Month: k.month, CounterID: r.CounterID, DepartmentID: r.DepartmentID})
			}
			rows[i].Total++
			if IsBad(r.Level) {
				rows[i].Bad++
			} else {
				rows[i].Satisfied++
			}
		}
		if err := addToMonths(tx, rows); err != nil {
			return err
		}
		if err := markAllRatingsCounted(tx); err != nil {
			return err
		}
		byCounter := map[uint]Counter{}
		for _, c := range counters {
			byCounter[c.ID] = c
		}
		for _, r := range ratings {
			if IsBad(r.Level) {
				if err := s.demoCase(tx, rng, r, byCounter[r.CounterID], rules, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("load demo ratings: %w", err)
	}
	return len(ratings), nil
}

// isHoliday reports a statutory holiday: a weekday that is not a working day.
func (s *Store) isHoliday(day time.Time) bool {
	return day.Weekday() != time.Saturday && day.Weekday() != time.Sunday && !s.cal.IsWorkingDay(day)
}

// demoCase opens the case of a demo 差评 and takes it as far as its age
// makes likely, through the same steps staff take; a case the rater
// reopens goes round again.
func (s *Store) demoCase(tx *gorm.DB, rng *rand.Rand, r Rating, ctr Counter, rules RatingRules, now time.Time) error {
	c, err := s.openCase(tx, r, rules, r.CreatedAt)
	if err != nil {
		return err
	}
	staffName := demoStaff[int(ctr.DepartmentID)%len(demoStaff)]
	staff := ctr.Department.ShortName + " " + staffName
	start := r.CreatedAt
	for round := 0; round < 2; round++ {
		reopened, err := s.demoRound(tx, rng, c, r, ctr, staff, staffName, start, rules, now)
		if err != nil || reopened.IsZero() {
			return ignoreStop(err)
		}
		start = reopened
	}
	return nil
}

// demoRound takes a case from 待回访 as far as it gets before now, and
// returns when the rater reopened it, if they did.
func (s *Store) demoRound(tx *gorm.DB, rng *rand.Rand, c *Case, r Rating, ctr Counter, staff, staffName string, start time.Time, rules RatingRules, now time.Time) (time.Time, error) {
	at := start.Add(time.Duration(2+rng.Intn(20)) * time.Hour)
	// A few cases slip: their 回访 comes late.
	if rng.Intn(25) == 0 {
		at = at.Add(72 * time.Hour)
	}
	step := func(who string, apply func(c *Case) (string, error)) error {
		if at.After(now) {
			return errStop
		}
		return s.saveStep(tx, c, who, at.UTC(), apply)
	}
	err := step(staff, func(c *Case) (string, error) {
		t := at.UTC()
		c.State, c.CalledBackAt = CaseCalledBack, &t
		return "回访：已与评价人联系，了解到" + strings.ReplaceAll(r.Reasons, "、", "和") + "的具体情况，评价人同意配合核实。", nil
	})
	if err != nil {
		return time.Time{}, err
	}
	at = at.Add(time.Duration(1+rng.Intn(3)) * 24 * time.Hour)
	finding := FindingTrue
	switch x := rng.Intn(20); {
	case x < 2:
		finding = FindingUntrue
	case x < 4:
		finding = FindingUnverified
	}
	err = step(staff, func(c *Case) (string, error) {
		c.State, c.Finding = CaseVerified, finding
		return "核实结果“" + finding + "”：调取窗口录音录像并询问当班工作人员。", nil
	})
	if err != nil {
		return time.Time{}, err
	}
	at = at.Add(time.Duration(4+rng.Intn(20)) * time.Hour)
	fix := demoFix(rng, r.Reasons)
	if finding == FindingTrue {
		err = step(staff, func(c *Case) (string, error) {
			c.State = CaseRectifying
			c.ResponsiblePerson = staffName
			c.Measures = fix
			return "整改责任人 " + staffName + "：" + fix, nil
		})
		if err != nil {
			return time.Time{}, err
		}
		at = at.Add(time.Duration(2+rng.Intn(14*24)) * time.Hour)
		if rng.Intn(12) == 0 {
			at = c.RectifyDue.Add(time.Duration(24+rng.Intn(120)) * time.Hour)
		}
	}
	outcome, resolution := OutcomeFixed, "已落实整改："+fix
	switch {
	case finding == FindingUntrue:
		outcome, resolution = OutcomeUntrue, "经调取录音录像核实，窗口工作人员按规定办理，评价所述情况不属实，已向评价人说明。"
	case finding == FindingUnverified:
		outcome, resolution = OutcomeExplained, "因无录音录像等可查证据无法核实，已向评价人解释办理规定，并提醒窗口规范服务。"
	case rng.Intn(20) == 0:
		outcome, resolution = OutcomeNotFixed, "涉及上级部门业务系统改造，本部门暂无法解决，已报送市级主管部门，进展将另行告知。"
	}
	err = step(staff, func(c *Case) (string, error) {
		t := at.UTC()
		onTime := !t.After(c.RectifyDue) && c.CalledBackAt != nil && !c.CalledBackAt.After(c.CallbackDue)
		c.State, c.Outcome, c.Resolution = CaseClosed, outcome, resolution
		c.ClosedAt, c.ClosedOnTime, c.FollowUp = &t, onTime, ""
		return "办结（" + outcome + "）：" + resolution, nil
	})
	if err != nil {
		return time.Time{}, err
	}
	at = at.Add(time.Duration(1+rng.Intn(72)) * time.Hour)
	if rng.Intn(3) != 0 {
		return time.Time{}, nil
	}
	var reopenedAt time.Time
	err = step("评价人", func(c *Case) (string, error) {
		if rng.Intn(6) != 0 {
			c.FollowUp = "满意"
			return "评价人对办理结果表示满意", nil
		}
		reopen(s.cal, c, rules, at)
		reopenedAt = at
		return "评价人对办理结果不满意，督办单重新办理（复号），重新回访", nil
	})
	return reopenedAt, err
}

// demoFix picks an 整改 that answers the complaint.
func demoFix(rng *rand.Rand, reasons string) string {
	var options []string
	switch {
	case strings.Contains(reasons, "办事效率低"):
		options = demoFixes[1:2]
		options = append(options, demoFixes[4])
	case strings.Contains(reasons, "事难办"):
		options = []string{demoFixes[2], demoFixes[5]}
	case strings.Contains(reasons, "门难进"):
		options = []string{demoFixes[3], demoFixes[1]}
	default: // 脸难看, 话难听
		options = []string{demoFixes[0], demoFixes[5]}
	}
	return options[rng.Intn(len(options))]
}

// errStop ends a demo case's steps at the present.
var errStop = fmt.Errorf("demo case reached the present")

func ignoreStop(err error) error {
	if err == errStop {
		return nil
	}
	return err
}

var demoStaff = []string{"王敏", "李强", "陈静", "刘洋", "赵磊", "孙丽", "周杰", "吴霞", "郑伟", "冯晨", "何芳"}

var demoComments = []string{
	"", "", "",
	"排队一个多小时，只开了两个窗口。",
	"工作人员说话不耐烦，问两遍就不高兴。",
	"材料要求网上和窗口说法不一致，白跑一趟。",
	"午休时间窗口没人，等了四十分钟。",
	"叫号系统出错，号被跳过了。",
	"让我回去补材料，但没有一次说清楚。",
	"系统故障办不了，也没有说什么时候能好。",
}

var demoFixes = []string{
	"对当事工作人员进行批评教育，科室开展服务规范和文明用语培训，纳入月度考核。",
	"高峰时段增开 1 个综合窗口，安排导办人员分流，并在网站公布每日排队情况。",
	"统一网上办事指南和窗口告知的材料要求，制作一次性告知单放置窗口。",
	"落实午间不断岗轮班表，由值班长每日检查并公示在岗人员。",
	"协调运维单位修复叫号系统，增设人工复核，被跳号的群众优先办理。",
	"对窗口人员开展业务培训，推行首问负责和一次性告知，对同类问题建立台账。",
}
