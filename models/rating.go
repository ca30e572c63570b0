package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The levels of a rating. A deployment offers either the two answers
// 满意 / 不满意 (the default) or the national five-level scale; both are
// stored on the same 1–5 scale, and levels 1 and 2 are 差评.
const (
	LevelVeryDissatisfied = 1
	LevelDissatisfied     = 2
	LevelFair             = 3
	LevelSatisfied        = 4
	LevelVerySatisfied    = 5
)

// LevelLabel is a level as the rater reads it.
func LevelLabel(level int) string {
	switch level {
	case LevelVerySatisfied:
		return "非常满意"
	case LevelSatisfied:
		return "满意"
	case LevelFair:
		return "基本满意"
	case LevelDissatisfied:
		return "不满意"
	case LevelVeryDissatisfied:
		return "非常不满意"
	}
	return ""
}

// IsBad reports whether a level is a 差评, which opens a case.
func IsBad(level int) bool { return level <= LevelDissatisfied }

// BadReasons are the reasons a rater may give for 不满意: the classic four
// complaints, slowness, and 其他 with a comment.
func BadReasons() []string {
	return []string{"门难进", "脸难看", "话难听", "事难办", "办事效率低", "其他"}
}

// RatingRules are a deployment's settings for rating and follow-up.
type RatingRules struct {
	// FiveLevels selects the national five-level scale instead of the two
	// answers 满意 / 不满意.
	FiveLevels bool
	// Window is how long a device must wait to rate the same counter again.
	Window time.Duration
	// PerAddressPerHour caps the ratings from one network address in an hour.
	PerAddressPerHour int
	// CallbackDays and RectifyDays are the working days allowed for the
	// 回访 and for the 整改 of a 差评.
	CallbackDays, RectifyDays int
}

// DefaultRatingRules are the rules when a deployment sets none.
func DefaultRatingRules() RatingRules {
	// A hall's public Wi-Fi is one address for everyone in it: the limit
	// must let a busy hour through and still stop a script.
	return RatingRules{Window: 12 * time.Hour, PerAddressPerHour: 100, CallbackDays: 1, RectifyDays: 15}
}

// Levels returns the levels raters choose from, best first.
func (r RatingRules) Levels() []int {
	if r.FiveLevels {
		return []int{LevelVerySatisfied, LevelSatisfied, LevelFair, LevelDissatisfied, LevelVeryDissatisfied}
	}
	return []int{LevelSatisfied, LevelDissatisfied}
}

// MaxCommentRunes is the longest comment a rater may leave.
const MaxCommentRunes = 200

// Rating is one resident's rating of a counter. The rater's phone number
// is for the 回访 only and is never shown to the rated unit unmasked;
// device and address are kept only as hashes, to count honestly.
type Rating struct {
	ID        uint    `gorm:"primaryKey"`
	CounterID uint    `gorm:"not null;index:idx_ratings_device,priority:1"`
	Counter   Counter `gorm:"constraint:OnDelete:RESTRICT"`
	// DepartmentID has no index of its own (migration 16): the statistics
	// read the running totals, and an export reads its period by time.
	DepartmentID uint `gorm:"not null"`
	Level        int  `gorm:"not null"`
	// Reasons holds the chosen BadReasons, separated by "、".
	Reasons string `gorm:"size:100;not null"`
	Comment string `gorm:"size:800;not null"`
	Phone   string `gorm:"size:20;not null"`
	// The indexes by device and by address serve the anti-abuse rules on
	// PostgreSQL and MySQL. SQLite has neither (migrations 14 and 17): its
	// one rating writer remembers what the rules need.
	DeviceHash  string    `gorm:"size:64;not null;index:idx_ratings_device,priority:2"`
	AddressHash string    `gorm:"size:64;not null;index:idx_ratings_address,priority:1"`
	CreatedAt   time.Time `gorm:"not null;index;index:idx_ratings_device,priority:3;index:idx_ratings_address,priority:2"`
	// Excluded marks a rating set aside by an upheld 申诉复核: kept on
	// record, left out of the statistics.
	Excluded bool `gorm:"not null"`
}

// ReasonList returns the chosen reasons.
func (r Rating) ReasonList() []string {
	if r.Reasons == "" {
		return nil
	}
	return strings.Split(r.Reasons, "、")
}

// RatingMonth is the running total of one counter's ratings in one month
// ("2006-01"), under the department the ratings were given to, updated
// with each rating: the published statistics read months, so that their
// cost depends on the number of counters, not on how many ratings there
// are. addToTotals and the rating writer keep it. The key leads with the
// month, so that a month's rows lie together: /ratings reads them as one
// range, and the writer's updates of the current month touch few pages.
// On SQLite the table is WITHOUT ROWID, the rows themselves in key order
// (migration 19; GORM's SQLite migrator would not keep that when it
// rebuilds a table to alter a column).
type RatingMonth struct {
	Month        string `gorm:"primaryKey;size:7"`
	CounterID    uint   `gorm:"primaryKey;autoIncrement:false"`
	DepartmentID uint   `gorm:"primaryKey;autoIncrement:false"`
	Total        int    `gorm:"not null"`
	Satisfied    int    `gorm:"not null"`
	Bad          int    `gorm:"not null"`
}

// RatingDepartmentMonth is the running total of one department's ratings in
// one month, kept with the counters' monthly totals: the department figures
// and the twelve-month trend of /ratings read a row per department and
// month, however many counters and ratings there are.
type RatingDepartmentMonth struct {
	Month        string `gorm:"primaryKey;size:7"`
	DepartmentID uint   `gorm:"primaryKey;autoIncrement:false"`
	Total        int    `gorm:"not null"`
	Satisfied    int    `gorm:"not null"`
	Bad          int    `gorm:"not null"`
}

// RatingInput is what a rater submits.
type RatingInput struct {
	CounterCode string
	Level       int
	Reasons     []string
	Comment     string
	Phone       string
	// Device identifies the rater's phone (a random cookie), Address its
	// network address; both are stored hashed.
	Device, Address string
	// Counter is the counter of CounterCode as FindRatableCounter returned
	// it, if the caller has it: RateCounter then does not look it up again.
	Counter *Counter
}

// RatingReceipt is what a rater is told after rating.
type RatingReceipt struct {
	Rating Rating
	// Case is the follow-up opened for a 差评, or nil.
	Case *Case
}

// ErrAlreadyRated means the device rated this counter within the window.
var ErrAlreadyRated = errors.New("already rated")

// ErrRateLimited means too many ratings came from one address.
var ErrRateLimited = errors.New("rate limited")

var mobilePattern = regexp.MustCompile(`^1[3-9][0-9]{9}$`)

// normalisePhone keeps the digits of a mobile number as typed with spaces
// or dashes.
func normalisePhone(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if r != ' ' && r != '-' {
			return s
		}
	}
	return b.String()
}

// MaskPhone hides the middle of a mobile number: 138****5678.
func MaskPhone(p string) string {
	if len(p) != 11 {
		return ""
	}
	return p[:3] + "****" + p[7:]
}

func (in *RatingInput) validate(rules RatingRules) error {
	errs := map[string]string{}
	allowed := false
	for _, l := range rules.Levels() {
		allowed = allowed || l == in.Level
	}
	if !allowed {
		errs["level"] = "请选择您对本窗口服务的评价。"
	}
	in.Comment = strings.TrimSpace(in.Comment)
	in.Phone = normalisePhone(strings.TrimSpace(in.Phone))
	if IsBad(in.Level) {
		known := map[string]bool{}
		for _, r := range BadReasons() {
			known[r] = true
		}
		seen := map[string]bool{}
		var reasons []string
		for _, r := range in.Reasons {
			if !known[r] {
				errs["reasons"] = "请从列出的原因中选择。"
			} else if !seen[r] {
				seen[r] = true
				reasons = append(reasons, r)
			}
		}
		in.Reasons = reasons
		switch {
		case len(reasons) == 0 && errs["reasons"] == "":
			errs["reasons"] = "请至少选择一项不满意的原因。"
		case seen["其他"] && in.Comment == "":
			errs["comment"] = "选择“其他”时，请简要说明情况。"
		}
	} else {
		// Reasons and a number are for a 差评 only: a satisfied rater is
		// not asked, and nothing they might send is kept.
		in.Reasons, in.Phone = nil, ""
	}
	switch n := utf8.RuneCountInString(in.Comment); {
	case !utf8.ValidString(in.Comment):
		errs["comment"] = "具体情况中含有无法识别的字符，请重新输入。"
	case n > MaxCommentRunes:
		errs["comment"] = fmt.Sprintf("具体情况不能超过 %d 个字（现有 %d 个字）。", MaxCommentRunes, n)
	}
	if in.Phone != "" && !mobilePattern.MatchString(in.Phone) {
		errs["phone"] = "请填写 11 位手机号码，如 13812345678；不愿留号码可不填。"
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

func hashOf(kind, value string) string {
	sum := sha256.Sum256([]byte("portal:" + kind + ":" + value))
	return hex.EncodeToString(sum[:])
}

// FindRatableCounter returns an enabled counter by its code, for the rating
// page. On SQLite the counter is the cache's, shared by every request of
// the same counter: read it, never change it.
func (s *Store) FindRatableCounter(ctx context.Context, code string) (*Counter, error) {
	if !validCode(code) {
		return nil, ErrNotFound
	}
	if s.counters == nil {
		var c Counter
		err := s.db.WithContext(ctx).Joins("Department").
			Where("counters.code = ? AND counters.enabled = ?", code, true).Take(&c).Error
		if err != nil {
			return nil, fmt.Errorf("find counter %q: %w", code, mapError(err))
		}
		return &c, nil
	}
	byCode, err := s.counters.load(func() (map[string]*Counter, error) {
		var all []Counter
		if err := s.db.WithContext(ctx).Joins("Department").Where("counters.enabled = ?", true).Find(&all).Error; err != nil {
			return nil, err
		}
		byCode := make(map[string]*Counter, len(all))
		for i := range all {
			byCode[all[i].Code] = &all[i]
		}
		return byCode, nil
	}, s.version.catalogue.Load)
	if err != nil {
		return nil, fmt.Errorf("find counter %q: %w", code, mapError(err))
	}
	// Shared, not copied: the copies for a rating's page and POST cost
	// it 860 bytes.
	c, ok := byCode[code]
	if !ok {
		return nil, fmt.Errorf("find counter %q: %w", code, ErrNotFound)
	}
	return c, nil
}

// counterCache keeps every ratable counter, read in one query, for the
// version of the catalogue it was read at: every rating page and every
// rating POST looks its counter up, and counters change only when staff
// edit them, which moves the version and empties the cache. A code that
// is not in it is not ratable, without a query, however many unknown codes
// are tried. Only on SQLite, whose one process sees every write (see
// contentVersion); a nil cache means no cache.
type counterCache struct {
	mu      sync.RWMutex
	version uint64
	byCode  map[string]*Counter
	// loading lets one request read the counters while the others wait.
	loading sync.Mutex
}

// load returns the counters cached for the current version, reading them
// with read when there are none. The version is taken before the read: a
// change committed meanwhile leaves them stale at once.
func (cc *counterCache) load(read func() (map[string]*Counter, error), current func() uint64) (map[string]*Counter, error) {
	if m, ok := cc.at(current()); ok {
		return m, nil
	}
	cc.loading.Lock()
	defer cc.loading.Unlock()
	version := current()
	if m, ok := cc.at(version); ok {
		return m, nil
	}
	m, err := read()
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if version >= cc.version {
		cc.version, cc.byCode = version, m
	}
	cc.mu.Unlock()
	return m, nil
}

// at returns the counters, if they were read at version. They are never
// changed once cached: readers share them.
func (cc *counterCache) at(version uint64) (map[string]*Counter, bool) {
	cc.mu.RLock()
	defer cc.mu.RUnlock()
	return cc.byCode, cc.byCode != nil && cc.version == version
}

// RateCounter stores a rating under the anti-abuse rules, updates the
// running totals, and for a 差评 opens a case with its deadlines, all in one
// transaction: a rating is stored whole or not at all. The store's rating
// writer commits it, with the ratings that arrived at the same time; it
// returns once the rating is committed.
func (s *Store) RateCounter(ctx context.Context, in RatingInput, rules RatingRules, now time.Time) (*RatingReceipt, error) {
	// Milliseconds, as MySQL's DATETIME(3) stores them: a rating (or case)
	// in a day's or month's last half-millisecond must not be stored in
	// the next one while its totals count it in this one.
	now = now.UTC().Truncate(time.Millisecond)
	if err := in.validate(rules); err != nil {
		return nil, err
	}
	ctr := in.Counter
	var err error
	if ctr == nil || ctr.Code != in.CounterCode {
		if ctr, err = s.FindRatableCounter(ctx, in.CounterCode); err != nil {
			return nil, err
		}
	}
	req := rateRequest{ctr: ctr, in: in, rules: rules, now: now,
		device: hashOf("device", in.Device), address: hashOf("address", in.Address)}
	var rec *RatingReceipt
	if s.w != nil {
		rec, err = s.submitRating(ctx, req)
	} else {
		rec, err = s.rateOnServer(ctx, req)
	}
	if err != nil {
		if errors.Is(err, ErrAlreadyRated) || errors.Is(err, ErrRateLimited) {
			return nil, err
		}
		return nil, fmt.Errorf("rate counter %s: %w", in.CounterCode, mapError(err))
	}
	rec.Rating.Counter = *ctr
	return rec, nil
}

// joinReasons is how a rating stores its reasons.
func joinReasons(reasons []string) string { return strings.Join(reasons, "、") }

// chinaTime is Beijing time (UTC+8), without a time zone database on the
// machine: days, months and deadlines are Beijing days.
var chinaTime = time.FixedZone("CST", 8*60*60)

// InBeijing returns t in Beijing time, the time of every date the portal
// shows or reads.
func InBeijing(t time.Time) time.Time { return t.In(chinaTime) }

// addToTotals adds (or, with sign -1, removes) a rating to its counter's
// and its department's running totals for its month.
func addToTotals(tx *gorm.DB, r Rating, sign int) error {
	t := tallyOf(r.Level)
	return addToMonths(tx, []RatingMonth{{CounterID: r.CounterID, Month: MonthOf(r.CreatedAt), DepartmentID: r.DepartmentID,
		Total: sign * t.Total, Satisfied: sign * t.Satisfied, Bad: sign * t.Bad}})
}

// addToMonths adds counters' monthly totals (or changes to them) to the
// stored ones, and their sums to the departments'.
func addToMonths(tx *gorm.DB, months []RatingMonth) error {
	type deptKey struct {
		month      string
		department uint
	}
	index := map[deptKey]int{}
	var depts []RatingDepartmentMonth
	for i := range months {
		m := &months[i]
		err := tx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "month"}, {Name: "counter_id"}, {Name: "department_id"}},
			DoUpdates: clause.Assignments(map[string]any{
				"total":     gorm.Expr("rating_months.total + ?", m.Total),
				"satisfied": gorm.Expr("rating_months.satisfied + ?", m.Satisfied),
				"bad":       gorm.Expr("rating_months.bad + ?", m.Bad),
			}),
		}).Create(m).Error
		if err != nil {
			return err
		}
		k := deptKey{m.Month, m.DepartmentID}
		j, ok := index[k]
		if !ok {
			j = len(depts)
			index[k] = j
			depts = append(depts, RatingDepartmentMonth{Month: m.Month, DepartmentID: m.DepartmentID})
		}
		depts[j].Total += m.Total
		depts[j].Satisfied += m.Satisfied
		depts[j].Bad += m.Bad
	}
	for i := range depts {
		d := &depts[i]
		err := tx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "month"}, {Name: "department_id"}},
			DoUpdates: clause.Assignments(map[string]any{
				"total":     gorm.Expr("rating_department_months.total + ?", d.Total),
				"satisfied": gorm.Expr("rating_department_months.satisfied + ?", d.Satisfied),
				"bad":       gorm.Expr("rating_department_months.bad + ?", d.Bad),
			}),
		}).Create(d).Error
		if err != nil {
			return err
		}
	}
	return nil
}

// randomDigits returns n random decimal digits, for lookup codes.
func randomDigits(n int) (string, error) {
	var b strings.Builder
	for i := 0; i < n; i++ {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			return "", err
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String(), nil
}
