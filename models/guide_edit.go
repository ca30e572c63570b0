package models

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The values a guide's closed lists may take, in the order forms offer them.
var (
	// ItemTypes are the 事项类型.
	ItemTypes = []string{"行政许可", "行政给付", "行政确认", "行政裁决", "公共服务", "其他"}
	// LimitUnits are the units of a 办结时限.
	LimitUnits = []string{"工作日", "自然日"}
	// MaterialNecessities are the 必要性 of a material.
	MaterialNecessities = []string{"必要", "容缺", "非必要"}
	// MaterialForms are the 材料形式.
	MaterialForms = []string{"原件", "复印件", "原件和复印件", "电子"}
	// MaterialSources are the 来源渠道.
	MaterialSources = []string{"申请人自备", "政府部门核发", "中介机构出具", "其他"}
)

// Limits on a guide's lists: enough for any real guide, and a bound on what
// one form can make the server store.
const (
	maxGuideRows = 50
	maxSort      = 999
	maxLimitDays = 999
	maxVisits    = 9
	maxCopies    = 99
)

// GuideStatus is where a guide stands for the public.
type GuideStatus string

// The statuses of a guide. A repealed item stays readable (when published)
// and says it is repealed.
const (
	GuidePublished   GuideStatus = "published"
	GuideUnpublished GuideStatus = "unpublished"
	GuideRepealed    GuideStatus = "repealed"
)

// Status says whether the item is repealed, published or neither.
func (it ServiceItem) Status() GuideStatus {
	switch {
	case it.RepealedAt != nil:
		return GuideRepealed
	case it.Published:
		return GuidePublished
	}
	return GuideUnpublished
}

// StatusLabel is the status as staff read it, e.g. "已发布" or
// "已废止（2026-03-02），未发布".
func (it ServiceItem) StatusLabel() string {
	if it.RepealedAt == nil {
		if it.Published {
			return "已发布"
		}
		return "未发布"
	}
	label := "已废止（" + it.RepealedAt.Format("2006-01-02") + "）"
	if !it.Published {
		label += "，未发布"
	}
	return label
}

// LimitInput is a 办结时限 as typed: a number of days (0 for 即办), its unit
// and a note.
type LimitInput struct {
	Value string
	Unit  string
	Note  string
}

// RowInput is what every row of a guide's lists carries besides its content:
// its 顺序 number and the "删除此行" box.
type RowInput struct {
	Sort   string
	Delete bool
}

// MaterialInput is one row of 申请材料 as typed.
type MaterialInput struct {
	RowInput
	Name      string
	Necessity string
	Form      string
	Copies    string
	Source    string
	BlankForm bool
	Sample    bool
	Note      string
}

// Blank reports whether the row was left empty (its 顺序 aside): such a row
// is one of the form's spare rows and is ignored.
func (m MaterialInput) Blank() bool {
	return blank(m.Name, m.Necessity, m.Form, m.Copies, m.Source, m.Note) && !m.BlankForm && !m.Sample
}

// StepInput is one row of 办理流程 as typed.
type StepInput struct {
	RowInput
	Name        string
	Actor       string
	Duration    string
	Description string
}

// Blank reports whether the row was left empty (its 顺序 aside).
func (s StepInput) Blank() bool { return blank(s.Name, s.Actor, s.Duration, s.Description) }

// FeeInput is one row of 收费标准 as typed.
type FeeInput struct {
	RowInput
	Item     string
	Standard string
	Basis    string
}

// Blank reports whether the row was left empty (its 顺序 aside).
func (f FeeInput) Blank() bool { return blank(f.Item, f.Standard, f.Basis) }

// FAQInput is one row of 常见问题 as typed.
type FAQInput struct {
	RowInput
	Question string
	Answer   string
}

// Blank reports whether the row was left empty (its 顺序 aside).
func (q FAQInput) Blank() bool { return blank(q.Question, q.Answer) }

func blank(values ...string) bool {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// GuideInput is what staff submit for a service item's 办事指南: every
// element that may be edited, as typed. Numbers stay text so that a form
// re-rendered after an error shows what was typed. The 实施编码 is not here:
// it is in public URLs and never changes.
type GuideInput struct {
	Name string
	// Type is one of ItemTypes.
	Type string
	// Audience is person, company or both.
	Audience string
	// Theme is the slug of the 主题分类.
	Theme string
	// Department is the slug of the 实施主体. Only a 系统管理员 may move an
	// item to another department; empty keeps it where it is.
	Department string
	Summary    string
	// LegalBasis (设定依据) and Conditions (受理条件) hold one entry per line.
	LegalBasis    string
	Conditions    string
	LegalLimit    LimitInput
	PromisedLimit LimitInput
	PlaceNote     string
	HoursNote     string
	// Visits is 到办事现场次数.
	Visits            string
	Online            bool
	OnlineURL         string
	Appointment       bool
	Delivery          bool
	ConsultPhone      string
	SupervisePhone    string
	PromiseApplicable bool
	PromiseNote       string
	Materials         []MaterialInput
	Steps             []StepInput
	Fees              []FeeInput
	FAQs              []FAQInput
}

// GuideInputOf is the form of a stored guide, rows numbered in order.
func GuideInputOf(it *ServiceItem) GuideInput {
	limit := func(l TimeLimit) LimitInput {
		return LimitInput{Value: strconv.Itoa(l.Value), Unit: l.Unit, Note: l.Note}
	}
	row := func(i int) RowInput { return RowInput{Sort: strconv.Itoa(i + 1)} }
	in := GuideInput{
		Name: it.Name, Type: it.Type, Audience: string(it.Audience), Theme: it.Theme.Slug, Department: it.Department.Slug,
		Summary: it.Summary, LegalBasis: it.LegalBasis, Conditions: it.Conditions,
		LegalLimit: limit(it.LegalLimit), PromisedLimit: limit(it.PromisedLimit),
		PlaceNote: it.PlaceNote, HoursNote: it.HoursNote, Visits: strconv.Itoa(it.Visits),
		Online: it.Online, OnlineURL: it.OnlineURL, Appointment: it.Appointment, Delivery: it.Delivery,
		ConsultPhone: it.ConsultPhone, SupervisePhone: it.SupervisePhone,
		PromiseApplicable: it.PromiseApplicable, PromiseNote: it.PromiseNote,
	}
	for i, m := range it.Materials {
		in.Materials = append(in.Materials, MaterialInput{RowInput: row(i), Name: m.Name, Necessity: m.Necessity, Form: m.Form,
			Copies: strconv.Itoa(m.Copies), Source: m.Source, BlankForm: m.BlankForm, Sample: m.Sample, Note: m.Note})
	}
	for i, s := range it.Steps {
		in.Steps = append(in.Steps, StepInput{RowInput: row(i), Name: s.Name, Actor: s.Actor, Duration: s.Duration, Description: s.Description})
	}
	for i, f := range it.Fees {
		in.Fees = append(in.Fees, FeeInput{RowInput: row(i), Item: f.Item, Standard: f.Standard, Basis: f.Basis})
	}
	for i, q := range it.FAQs {
		in.FAQs = append(in.FAQs, FAQInput{RowInput: row(i), Question: q.Question, Answer: q.Answer})
	}
	return in
}

// MapText returns a copy of the input with f applied to every text field,
// rows included; a handler uses it to make input safe to show back.
func (in GuideInput) MapText(f func(string) string) GuideInput {
	out := in
	for _, p := range []*string{&out.Name, &out.Type, &out.Audience, &out.Theme, &out.Department, &out.Summary,
		&out.LegalBasis, &out.Conditions, &out.LegalLimit.Value, &out.LegalLimit.Unit, &out.LegalLimit.Note,
		&out.PromisedLimit.Value, &out.PromisedLimit.Unit, &out.PromisedLimit.Note, &out.PlaceNote, &out.HoursNote,
		&out.Visits, &out.OnlineURL, &out.ConsultPhone, &out.SupervisePhone, &out.PromiseNote} {
		*p = f(*p)
	}
	out.Materials = make([]MaterialInput, len(in.Materials))
	for i, m := range in.Materials {
		m.Sort, m.Name, m.Necessity, m.Form, m.Copies, m.Source, m.Note =
			f(m.Sort), f(m.Name), f(m.Necessity), f(m.Form), f(m.Copies), f(m.Source), f(m.Note)
		out.Materials[i] = m
	}
	out.Steps = make([]StepInput, len(in.Steps))
	for i, s := range in.Steps {
		s.Sort, s.Name, s.Actor, s.Duration, s.Description = f(s.Sort), f(s.Name), f(s.Actor), f(s.Duration), f(s.Description)
		out.Steps[i] = s
	}
	out.Fees = make([]FeeInput, len(in.Fees))
	for i, fe := range in.Fees {
		fe.Sort, fe.Item, fe.Standard, fe.Basis = f(fe.Sort), f(fe.Item), f(fe.Standard), f(fe.Basis)
		out.Fees[i] = fe
	}
	out.FAQs = make([]FAQInput, len(in.FAQs))
	for i, q := range in.FAQs {
		q.Sort, q.Question, q.Answer = f(q.Sort), f(q.Question), f(q.Answer)
		out.FAQs[i] = q
	}
	return out
}

// guidePhonePattern admits office numbers (8812 3410, 0571-88123411) and
// the five-digit hotlines (12345, 12329).
var guidePhonePattern = regexp.MustCompile(`^[0-9][0-9 -]{3,18}[0-9]$`)

// guideChecker collects the messages of one guide's validation, by field.
type guideChecker struct {
	errs map[string]string
}

func (c *guideChecker) fail(key, msg string) {
	if _, ok := c.errs[key]; !ok {
		c.errs[key] = msg
	}
}

// text cleans a text field (trimmed, Windows line ends made plain) and
// checks its length; required fields must not be empty.
func (c *guideChecker) text(key, value, label string, max int, required bool) string {
	value = strings.TrimSpace(strings.ReplaceAll(value, "\r\n", "\n"))
	switch n := utf8.RuneCountInString(value); {
	case !utf8.ValidString(value):
		c.fail(key, label+"含有无法识别的字符，请重新输入。")
	case n == 0 && required:
		c.fail(key, "请填写"+label+"。")
	case n > max:
		c.fail(key, fmt.Sprintf("%s不能超过 %d 个字（现有 %d 个字）。", label, max, n))
	}
	return value
}

// line is text on one line: a line break in a name would break the lists
// that show it.
func (c *guideChecker) line(key, value, label string, max int, required bool) string {
	value = c.text(key, value, label, max, required)
	if strings.ContainsAny(value, "\r\n") {
		c.fail(key, label+"只能填写一行。")
	}
	return value
}

// number parses a whole number between lo and hi; empty gives def when
// def >= 0, else a message.
func (c *guideChecker) number(key, value, label string, lo, hi, def int) int {
	value = strings.TrimSpace(value)
	if value == "" {
		if def >= 0 {
			return def
		}
		c.fail(key, "请填写"+label+"。")
		return 0
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < lo || n > hi {
		c.fail(key, fmt.Sprintf("%s应为 %d 到 %d 之间的整数。", label, lo, hi))
		return 0
	}
	return n
}

// choice checks a value against its list.
func (c *guideChecker) choice(key, value, label string, options []string) string {
	value = strings.TrimSpace(value)
	for _, o := range options {
		if value == o {
			return value
		}
	}
	if value == "" {
		c.fail(key, "请选择"+label+"。")
	} else {
		c.fail(key, label+"只能选择"+strings.Join(options, "、")+"之一。")
	}
	return value
}

func (c *guideChecker) limit(key string, in LimitInput, label string) TimeLimit {
	return TimeLimit{
		Value: c.number(key+".value", in.Value, label+"（天数，即办填 0）", 0, maxLimitDays, -1),
		Unit:  c.choice(key+".unit", in.Unit, label+"的单位", LimitUnits),
		Note:  c.line(key+".note", in.Note, label+"说明", 200, false),
	}
}

// sortKey orders a row: by its 顺序 number, rows without one after those
// with one, ties in the order the form sent them.
type sortKey struct {
	sort, index int
}

func (c *guideChecker) rowSort(key string, r RowInput, index int) sortKey {
	return sortKey{sort: c.number(key, r.Sort, "顺序", 1, maxSort, maxSort+1), index: index}
}

// listRow is a row of an editable list: it can be blank (a spare row left
// empty) and carries its 顺序 and 删除此行.
type listRow interface {
	Blank() bool
	row() RowInput
}

func (r RowInput) row() RowInput { return r }

// parseRows turns the rows of one list into stored values: blank and
// deleted rows dropped, each row checked by convert under its field keys
// ("materials.2."), the rest put in the order of their 顺序.
func parseRows[I listRow, T any](c *guideChecker, list string, rows []I, convert func(key string, row I) T) []T {
	var out []T
	var keys []sortKey
	for i, r := range rows {
		if r.row().Delete || r.Blank() {
			continue
		}
		k := list + "." + strconv.Itoa(i) + "."
		keys = append(keys, c.rowSort(k+"sort", r.row(), i))
		out = append(out, convert(k, r))
	}
	sortRows(out, keys)
	return out
}

func sortRows[T any](rows []T, keys []sortKey) {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := keys[idx[a]], keys[idx[b]]
		if ka.sort != kb.sort {
			return ka.sort < kb.sort
		}
		return ka.index < kb.index
	})
	sorted := make([]T, len(rows))
	for i, j := range idx {
		sorted[i] = rows[j]
	}
	copy(rows, sorted)
}

// parse checks the input and returns the guide it describes: the item's
// editable fields and its lists, rows ordered by 顺序 and numbered from 1.
// Messages are keyed by form field; a row's by its place in the form, as in
// "materials.2.name". The theme and department are resolved by the caller.
func (in GuideInput) parse() (ServiceItem, map[string]string) {
	c := &guideChecker{errs: map[string]string{}}
	var it ServiceItem
	it.Name = c.line("name", in.Name, "事项名称", 200, true)
	it.Type = c.choice("type", in.Type, "事项类型", ItemTypes)
	switch a := Audience(strings.TrimSpace(in.Audience)); a {
	case AudiencePerson, AudienceCompany, AudienceBoth:
		it.Audience = a
	case "":
		c.fail("audience", "请选择服务对象。")
	default:
		c.fail("audience", "服务对象只能选择“个人”“法人”或“个人、法人”。")
	}
	if strings.TrimSpace(in.Theme) == "" {
		c.fail("theme", "请选择主题分类。")
	}
	it.Summary = c.text("summary", in.Summary, "事项概述", 500, false)
	it.LegalBasis = c.text("legal_basis", in.LegalBasis, "设定依据", 4000, true)
	it.Conditions = c.text("conditions", in.Conditions, "受理条件", 4000, false)
	it.LegalLimit = c.limit("legal_limit", in.LegalLimit, "法定办结时限")
	it.PromisedLimit = c.limit("promised_limit", in.PromisedLimit, "承诺办结时限")
	if _, bad := c.errs["promised_limit.value"]; !bad {
		legal, promised := it.LegalLimit, it.PromisedLimit
		_, badLegal := c.errs["legal_limit.value"]
		switch {
		case badLegal:
		case legal.Value == 0 && promised.Value > 0:
			c.fail("promised_limit.value", "法定办结时限为即办，承诺办结时限也只能是即办（填 0）。")
		case legal.Unit == promised.Unit && promised.Value > legal.Value:
			c.fail("promised_limit.value", fmt.Sprintf("承诺办结时限不能长于法定办结时限（%s）。", legal.String()))
		}
	}
	it.PlaceNote = c.text("place_note", in.PlaceNote, "办理地点说明", 500, false)
	it.HoursNote = c.text("hours_note", in.HoursNote, "办理时间说明", 500, false)
	it.Visits = c.number("visits", in.Visits, "到办事现场次数", 0, maxVisits, -1)
	it.Online, it.Appointment, it.Delivery = in.Online, in.Appointment, in.Delivery
	it.OnlineURL = c.line("online_url", in.OnlineURL, "网上办理地址", 300, false)
	if _, bad := c.errs["online_url"]; !bad && it.OnlineURL != "" {
		u, err := url.Parse(it.OnlineURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https"):
			c.fail("online_url", "网上办理地址须以 http:// 或 https:// 开头，如 https://zwfw.example.gov.cn/。")
		case u.Host == "" || u.User != nil || strings.ContainsAny(it.OnlineURL, " \t"):
			c.fail("online_url", "网上办理地址不是有效的网址，请从浏览器地址栏复制完整地址。")
		}
	}
	if it.OnlineURL != "" && !it.Online {
		c.fail("online", "填写了网上办理地址的，请勾选“支持网上办理”；不支持的，请清空地址。")
	}
	if _, bad := c.errs["visits"]; !bad && it.Visits == 0 && !it.Online {
		c.fail("visits", "到办事现场次数为 0（全程网办）的事项须支持网上办理。")
	}
	for _, p := range []struct {
		key, label string
		value      string
		dst        *string
	}{{"consult_phone", "咨询电话", in.ConsultPhone, &it.ConsultPhone}, {"supervise_phone", "监督投诉电话", in.SupervisePhone, &it.SupervisePhone}} {
		*p.dst = c.line(p.key, p.value, p.label, 40, true)
		if _, bad := c.errs[p.key]; !bad && !guidePhonePattern.MatchString(*p.dst) {
			c.fail(p.key, p.label+"只能由数字、空格和“-”组成，如 8812 3410、0571-88123411 或 12345。")
		}
	}
	it.PromiseApplicable = in.PromiseApplicable
	it.PromiseNote = c.text("promise_note", in.PromiseNote, "告知承诺说明", 500, false)
	if it.PromiseApplicable && it.PromiseNote == "" {
		c.fail("promise_note", "适用告知承诺制的，请说明以书面承诺替代哪些材料。")
	}

	it.Materials = parseRows(c, "materials", in.Materials, func(k string, m MaterialInput) Material {
		return Material{
			Name:      c.line(k+"name", m.Name, "材料名称", 200, true),
			Necessity: c.choice(k+"necessity", m.Necessity, "必要性", MaterialNecessities),
			Form:      c.choice(k+"form", m.Form, "材料形式", MaterialForms),
			Copies:    c.number(k+"copies", m.Copies, "纸质份数", 0, maxCopies, 0),
			Source:    c.choice(k+"source", m.Source, "来源渠道", MaterialSources),
			BlankForm: m.BlankForm, Sample: m.Sample,
			Note: c.text(k+"note", m.Note, "填报须知", 500, false),
		}
	})
	it.Steps = parseRows(c, "steps", in.Steps, func(k string, s StepInput) Step {
		return Step{
			Name:        c.line(k+"name", s.Name, "环节名称", 40, true),
			Actor:       c.line(k+"actor", s.Actor, "办理人员", 100, false),
			Duration:    c.line(k+"duration", s.Duration, "办理时限", 40, false),
			Description: c.text(k+"description", s.Description, "办理说明", 500, false),
		}
	})
	it.Fees = parseRows(c, "fees", in.Fees, func(k string, f FeeInput) Fee {
		return Fee{
			Item:     c.line(k+"item", f.Item, "收费项目", 100, true),
			Standard: c.line(k+"standard", f.Standard, "收费标准", 200, true),
			Basis:    c.line(k+"basis", f.Basis, "收费依据", 300, false),
		}
	})
	it.FAQs = parseRows(c, "faqs", in.FAQs, func(k string, q FAQInput) FAQ {
		return FAQ{
			Question: c.line(k+"question", q.Question, "问题", 300, true),
			Answer:   c.text(k+"answer", q.Answer, "解答", 4000, true),
		}
	})

	if len(it.Steps) == 0 {
		c.fail("steps", "请至少填写一个办理环节，如“申请”“受理”“审查”“决定”。")
	}
	for _, l := range []struct {
		key, label string
		n          int
	}{{"materials", "申请材料", len(it.Materials)}, {"steps", "办理流程", len(it.Steps)}, {"fees", "收费项目", len(it.Fees)}, {"faqs", "常见问题", len(it.FAQs)}} {
		if l.n > maxGuideRows {
			c.fail(l.key, fmt.Sprintf("%s不能超过 %d 项（现有 %d 项）。", l.label, maxGuideRows, l.n))
		}
	}
	for i := range it.Materials {
		it.Materials[i].Sort = i + 1
	}
	for i := range it.Steps {
		it.Steps[i].Sort = i + 1
	}
	for i := range it.Fees {
		it.Fees[i].Sort = i + 1
	}
	for i := range it.FAQs {
		it.FAQs[i].Sort = i + 1
	}
	return it, c.errs
}

// guideRecord is what the audit log keeps of a guide, field by field with
// the names staff read; lists are kept one row per line.
func guideRecord(it *ServiceItem) map[string]string {
	yes := func(b bool) string {
		if b {
			return "是"
		}
		return "否"
	}
	limit := func(l TimeLimit) string { return joinNonEmpty("；", l.String(), l.Note) }
	var materials, steps, fees, faqs []string
	for _, m := range it.Materials {
		materials = append(materials, fmt.Sprintf("%s（%s，%s，%d 份，%s，空白表格：%s，示例样表：%s）%s",
			m.Name, m.Necessity, m.Form, m.Copies, m.Source, yes(m.BlankForm), yes(m.Sample), m.Note))
	}
	for _, s := range it.Steps {
		steps = append(steps, joinNonEmpty("；", s.Name, s.Actor, s.Duration, s.Description))
	}
	for _, f := range it.Fees {
		fees = append(fees, joinNonEmpty("；", f.Item, f.Standard, f.Basis))
	}
	for _, q := range it.FAQs {
		faqs = append(faqs, "问："+q.Question+" 答："+strings.ReplaceAll(q.Answer, "\n", " "))
	}
	return map[string]string{
		"事项名称": it.Name, "事项类型": it.Type, "服务对象": it.Audience.Label(), "主题分类": it.Theme.Name,
		"实施主体": it.Department.Name, "事项概述": it.Summary, "设定依据": it.LegalBasis, "受理条件": it.Conditions,
		"法定办结时限": limit(it.LegalLimit), "承诺办结时限": limit(it.PromisedLimit),
		"办理地点": it.PlaceNote, "办理时间": it.HoursNote, "到办事现场次数": strconv.Itoa(it.Visits),
		"网上办理": yes(it.Online), "网上办理地址": it.OnlineURL, "预约办理": yes(it.Appointment), "物流快递": yes(it.Delivery),
		"咨询电话": it.ConsultPhone, "监督投诉电话": it.SupervisePhone,
		"告知承诺制": yes(it.PromiseApplicable), "告知承诺说明": it.PromiseNote,
		"申请材料": strings.Join(materials, "\n"), "办理流程": strings.Join(steps, "\n"),
		"收费标准": strings.Join(fees, "\n"), "常见问题": strings.Join(faqs, "\n"),
	}
}

// findGuideOf loads a service item with everything its guide shows, if it
// belongs to the department (any department's for 0), published or not.
func findGuideOf(tx *gorm.DB, departmentID, id uint) (*ServiceItem, error) {
	var it ServiceItem
	q := tx.Preload("Department").
		Preload("Theme").
		Preload("Materials", orderBySort).
		Preload("Steps", orderBySort).
		Preload("Fees", orderBySort).
		Preload("FAQs", orderBySort).
		Where("id = ?", id)
	if departmentID != 0 {
		q = q.Where("department_id = ?", departmentID)
	}
	if err := q.First(&it).Error; err != nil {
		return nil, err
	}
	return &it, nil
}

// FindGuideForEdit returns a service item of a department (any department
// for 0) with its lists in order, published or not, for editing.
func (s *Store) FindGuideForEdit(ctx context.Context, departmentID, id uint) (*ServiceItem, error) {
	it, err := findGuideOf(s.db.WithContext(ctx), departmentID, id)
	if err != nil {
		return nil, fmt.Errorf("find guide %d for edit: %w", id, mapError(err))
	}
	return it, nil
}

// ListGuidesForAdmin returns the service items of a department (all for 0),
// published or not, with their department and theme, by department and
// code. Status and StatusLabel say where each stands.
func (s *Store) ListGuidesForAdmin(ctx context.Context, departmentID uint) ([]ServiceItem, error) {
	var items []ServiceItem
	q := s.db.WithContext(ctx).Joins("Department").Preload("Theme")
	if departmentID != 0 {
		q = q.Where("service_items.department_id = ?", departmentID)
	}
	if err := q.Order(clause.OrderBy{Columns: []clause.OrderByColumn{
		// Columns, not a string: the join's alias is quoted, so that
		// PostgreSQL keeps its capital letter.
		{Column: clause.Column{Table: "Department", Name: "sort"}},
		{Column: clause.Column{Table: "Department", Name: "id"}},
		{Column: clause.Column{Table: "service_items", Name: "code"}},
	}}).Find(&items).Error; err != nil {
		return nil, fmt.Errorf("list guides for admin: %w", mapError(err))
	}
	return items, nil
}

// UpdateGuide saves a guide: the item's elements and its lists, which
// replace the stored ones, all in one transaction with the search index and
// an audit entry holding the guide before and after. The guide's 最后更新
// becomes now. version is the version the editor started from: if someone
// saved in between, the save is refused with ErrConflict. A departmentID of
// 0 (a 系统管理员) allows any department's item and moving it to another
// department; for others in.Department is ignored. A save that changes
// nothing writes nothing.
func (s *Store) UpdateGuide(ctx context.Context, departmentID, id uint, version int, in GuideInput, by Actor) error {
	draft, errs := in.parse()
	now := time.Now().UTC().Truncate(time.Second)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		old, err := findGuideOf(forUpdate(tx), departmentID, id)
		if err != nil {
			return err
		}
		if theme := strings.TrimSpace(in.Theme); theme != "" {
			if err := tx.Where("slug = ?", theme).First(&draft.Theme).Error; errors.Is(err, gorm.ErrRecordNotFound) {
				errs["theme"] = "没有这个主题分类，请从列表中选择。"
			} else if err != nil {
				return err
			}
		}
		draft.Department = old.Department
		if dept := strings.TrimSpace(in.Department); departmentID == 0 && dept != "" && dept != old.Department.Slug {
			var moved Department
			if err := tx.Where("slug = ?", dept).First(&moved).Error; errors.Is(err, gorm.ErrRecordNotFound) {
				errs["department"] = "没有这个部门，请从列表中选择。"
			} else if err != nil {
				return err
			}
			draft.Department = moved
		}
		if len(errs) > 0 {
			return &ValidationError{Fields: errs}
		}
		if old.Version != version {
			return ErrConflict
		}
		draft.ID, draft.Code, draft.BasicCode = old.ID, old.Code, old.BasicCode
		// An edit leaves the item published or not, which the search
		// index's key carries.
		draft.Published = old.Published
		draft.ThemeID, draft.DepartmentID = draft.Theme.ID, draft.Department.ID
		before, after := guideRecord(old), guideRecord(&draft)
		if mapsEqual(before, after) {
			return nil
		}
		// The version in the WHERE clause makes the check and the write one
		// step, whatever runs beside it.
		res := tx.Model(&ServiceItem{}).Where("id = ? AND version = ?", old.ID, old.Version).UpdateColumns(map[string]any{
			"name": draft.Name, "type": draft.Type, "audience": draft.Audience,
			"theme_id": draft.ThemeID, "department_id": draft.DepartmentID,
			"summary": draft.Summary, "legal_basis": draft.LegalBasis, "conditions": draft.Conditions,
			"legal_limit_value": draft.LegalLimit.Value, "legal_limit_unit": draft.LegalLimit.Unit, "legal_limit_note": draft.LegalLimit.Note,
			"promised_limit_value": draft.PromisedLimit.Value, "promised_limit_unit": draft.PromisedLimit.Unit, "promised_limit_note": draft.PromisedLimit.Note,
			"place_note": draft.PlaceNote, "hours_note": draft.HoursNote, "visits": draft.Visits,
			"online": draft.Online, "online_url": draft.OnlineURL, "appointment": draft.Appointment, "delivery": draft.Delivery,
			"consult_phone": draft.ConsultPhone, "supervise_phone": draft.SupervisePhone,
			"promise_applicable": draft.PromiseApplicable, "promise_note": draft.PromiseNote,
			"version": old.Version + 1, "updated_at": now,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrConflict
		}
		if err := replaceGuideLists(tx, &draft); err != nil {
			return err
		}
		if draft.DepartmentID != old.DepartmentID {
			// A moved item leaves the old department's counters: they no
			// longer handle it, and their staff could not untick it.
			err := tx.Exec(`DELETE FROM counter_service_items WHERE service_item_id = ? AND counter_id IN
				(SELECT id FROM counters WHERE department_id = ?)`, old.ID, old.DepartmentID).Error
			if err != nil {
				return err
			}
		}
		if err := indexGuide(tx, &draft, draft.Theme.Name, &draft.Department); err != nil {
			return err
		}
		return audit(tx, by, "修改办事指南", guideObject(&draft), before, after, now)
	})
	var verr *ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &verr):
		return verr
	case errors.Is(err, ErrConflict):
		return ErrConflict
	}
	return fmt.Errorf("update guide %d: %w", id, mapError(err))
}

// replaceGuideLists replaces the stored lists of an item with the draft's.
func replaceGuideLists(tx *gorm.DB, draft *ServiceItem) error {
	for _, m := range []any{&Material{}, &Step{}, &Fee{}, &FAQ{}} {
		if err := tx.Where("service_item_id = ?", draft.ID).Delete(m).Error; err != nil {
			return err
		}
	}
	for i := range draft.Materials {
		draft.Materials[i].ServiceItemID = draft.ID
	}
	for i := range draft.Steps {
		draft.Steps[i].ServiceItemID = draft.ID
	}
	for i := range draft.Fees {
		draft.Fees[i].ServiceItemID = draft.ID
	}
	for i := range draft.FAQs {
		draft.FAQs[i].ServiceItemID = draft.ID
	}
	if len(draft.Materials) > 0 {
		if err := tx.Create(&draft.Materials).Error; err != nil {
			return err
		}
	}
	if len(draft.Steps) > 0 {
		if err := tx.Create(&draft.Steps).Error; err != nil {
			return err
		}
	}
	if len(draft.Fees) > 0 {
		if err := tx.Create(&draft.Fees).Error; err != nil {
			return err
		}
	}
	if len(draft.FAQs) > 0 {
		if err := tx.Create(&draft.FAQs).Error; err != nil {
			return err
		}
	}
	return nil
}

func guideObject(it *ServiceItem) string {
	return "办事指南 " + it.Code + " " + it.Name
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// SetGuidePublished publishes a guide (the public can find and read it) or
// withdraws it (its page answers 404 and search no longer lists it), and
// records who did so. The version goes up, so that an edit form opened
// before meets a conflict rather than hiding the change; 最后更新, which
// dates the content, stays. Asking for the state it is in changes nothing.
func (s *Store) SetGuidePublished(ctx context.Context, departmentID, id uint, published bool, by Actor) (*ServiceItem, error) {
	action := "停止发布办事指南"
	if published {
		action = "发布办事指南"
	}
	return s.setGuideState(ctx, departmentID, id, by, func(it *ServiceItem) (string, map[string]any, bool) {
		if it.Published == published {
			return "", nil, false
		}
		return action, map[string]any{"published": published}, true
	})
}

// SetGuideRepealed marks an item repealed (已废止) as of now's date in
// China, or, with repealed false, in force again. Its guide stays readable
// and says since when it is repealed. Like SetGuidePublished it bumps the
// version, keeps 最后更新 and is audited.
//
// The date is kept as midnight UTC of the Chinese calendar day, so that it
// reads the same day wherever it is formatted.
func (s *Store) SetGuideRepealed(ctx context.Context, departmentID, id uint, repealed bool, by Actor, now time.Time) (*ServiceItem, error) {
	local := now.In(chinaTime)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	return s.setGuideState(ctx, departmentID, id, by, func(it *ServiceItem) (string, map[string]any, bool) {
		switch {
		case repealed && it.RepealedAt == nil:
			return "废止办事事项", map[string]any{"repealed_at": day}, true
		case !repealed && it.RepealedAt != nil:
			return "撤销废止", map[string]any{"repealed_at": nil}, true
		}
		return "", nil, false
	})
}

// setGuideState applies a change of status decided by change, which says
// the audit action, the columns to set, and whether there is anything to do.
func (s *Store) setGuideState(ctx context.Context, departmentID, id uint, by Actor,
	change func(*ServiceItem) (string, map[string]any, bool)) (*ServiceItem, error) {
	now := time.Now().UTC().Truncate(time.Second)
	var it ServiceItem
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := forUpdate(tx).Where("id = ?", id)
		if departmentID != 0 {
			q = q.Where("department_id = ?", departmentID)
		}
		if err := q.First(&it).Error; err != nil {
			return err
		}
		keyBefore, keyErr := searchKey(&it)
		action, cols, ok := change(&it)
		if !ok {
			return nil
		}
		before := statusRecord(&it)
		cols["version"] = it.Version + 1
		// UpdateColumns leaves updated_at (最后更新) alone.
		res := tx.Model(&ServiceItem{}).Where("id = ? AND version = ?", it.ID, it.Version).UpdateColumns(cols)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrConflict
		}
		// A fresh value: gorm leaves a field alone when the column is NULL,
		// and an undone repeal must read as undone.
		var fresh ServiceItem
		if err := tx.Preload("Theme").Preload("Department").First(&fresh, it.ID).Error; err != nil {
			return err
		}
		it = fresh
		// A state holds no text of the search index, but whether the item
		// is published is a facet of its key there: the index is rewritten
		// when the key changes (and by indexGuide's error when it cannot
		// be made), not on every repeal or restoration.
		if key, err := searchKey(&it); keyErr != nil || err != nil || key != keyBefore {
			if err := indexGuide(tx, &it, it.Theme.Name, &it.Department); err != nil {
				return err
			}
		}
		return audit(tx, by, action, guideObject(&it), before, statusRecord(&it), now)
	})
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, ErrConflict
		}
		return nil, fmt.Errorf("set guide %d status: %w", id, mapError(err))
	}
	return &it, nil
}

func statusRecord(it *ServiceItem) map[string]string {
	return map[string]string{"状态": it.StatusLabel()}
}
