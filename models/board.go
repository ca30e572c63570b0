package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// DutySection is one ordered section of a department's 责任清单, such as
// 行政许可类 or 公共服务类.
type DutySection struct {
	ID           uint        `gorm:"primaryKey"`
	DepartmentID uint        `gorm:"not null;index"`
	Sort         int         `gorm:"not null"`
	Title        string      `gorm:"size:100;not null"`
	Entries      []DutyEntry `gorm:"constraint:OnDelete:CASCADE"`
}

// DutyEntry is one row of a 责任清单: a duty, how it is carried out, on what
// basis, when staff are held accountable, and who answers for it.
type DutyEntry struct {
	ID            uint `gorm:"primaryKey"`
	DutySectionID uint `gorm:"not null;index"`
	Sort          int  `gorm:"not null"`
	// Duty is the 职责事项 (主要职责).
	Duty string `gorm:"size:300;not null"`
	// Tasks (具体责任事项), Basis (依据) and Accountability (追责情形) hold
	// one entry per line.
	Tasks          string `gorm:"type:text;not null"`
	Basis          string `gorm:"type:text;not null"`
	Accountability string `gorm:"type:text;not null"`
	// Office is the 承办科室.
	Office     string `gorm:"size:100;not null"`
	PersonName string `gorm:"size:40;not null"`
	PersonPost string `gorm:"size:60;not null"`
	Phone      string `gorm:"size:40;not null"`
	// Version counts the saves of the entry: a save based on an older
	// version is a conflict, never a silent overwrite.
	Version int `gorm:"not null"`
}

// TaskList returns the 具体责任事项, one per step.
func (e DutyEntry) TaskList() []string { return splitLines(e.Tasks) }

// BasisList returns the 依据 entries.
func (e DutyEntry) BasisList() []string { return splitLines(e.Basis) }

// AccountabilityList returns the 追责情形 entries.
func (e DutyEntry) AccountabilityList() []string { return splitLines(e.Accountability) }

// DutyBoundary is a 职责边界 entry: a matter shared with another department,
// saying which part each handles, so that residents go to the right door.
type DutyBoundary struct {
	ID                uint       `gorm:"primaryKey"`
	DepartmentID      uint       `gorm:"not null;index"`
	Sort              int        `gorm:"not null"`
	Matter            string     `gorm:"size:200;not null"`
	Own               string     `gorm:"type:text;not null"`
	OtherDepartmentID uint       `gorm:"not null;index"`
	OtherDepartment   Department `gorm:"constraint:OnDelete:RESTRICT"`
	Other             string     `gorm:"type:text;not null"`
	Basis             string     `gorm:"size:500;not null"`
}

// BoardVersion records one change to a department's board: who made it,
// when, and what changed, field by field. Versions are only ever added.
type BoardVersion struct {
	ID           uint `gorm:"primaryKey"`
	DepartmentID uint `gorm:"not null;uniqueIndex:idx_board_versions_number,priority:1"`
	Number       int  `gorm:"not null;uniqueIndex:idx_board_versions_number,priority:2"`
	CreatedAt    time.Time
	Author       string `gorm:"size:100;not null"`
	// Summary says in one sentence what changed, e.g. 修改责任事项“…”.
	Summary string `gorm:"size:500;not null"`
	// Changes is the JSON list of the fields changed, with the values before
	// and after.
	Changes string `gorm:"type:text;not null"`
}

// FieldChange is one changed field of a board entry.
type FieldChange struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// ChangeList decodes the version's field changes.
func (v BoardVersion) ChangeList() []FieldChange {
	var out []FieldChange
	if json.Unmarshal([]byte(v.Changes), &out) != nil {
		return nil
	}
	return out
}

// Board is everything a department publishes on its wall and web page.
type Board struct {
	Department Department
	Sections   []DutySection
	Boundaries []DutyBoundary
	Counters   []CounterSummary
	// Items are the most used of the department's published items, at
	// most BoardItemLimit; ItemCount counts them all.
	Items       []ServiceItem
	ItemCount   int64
	Versions    []BoardVersion
	LastUpdated time.Time
}

// BoardItemLimit caps the service items a board lists: a department with
// thousands of items links to its catalogue page instead of printing a page
// of megabytes.
const BoardItemLimit = 60

// EntryCount is the number of responsibility entries on the board.
func (b *Board) EntryCount() int {
	n := 0
	for _, s := range b.Sections {
		n += len(s.Entries)
	}
	return n
}

// FindBoard returns a department's board by its slug: sections with their
// entries in order, boundaries, counters, published service items and the
// change history, newest first.
func (s *Store) FindBoard(ctx context.Context, slug string) (*Board, error) {
	db := s.db.WithContext(ctx)
	var b Board
	if err := db.Where("slug = ?", slug).First(&b.Department).Error; err != nil {
		return nil, fmt.Errorf("find board %q: %w", slug, mapError(err))
	}
	id := b.Department.ID
	err := db.Preload("Entries", orderBySort).Where("department_id = ?", id).Order("sort, id").Find(&b.Sections).Error
	if err == nil {
		err = db.Preload("OtherDepartment").Where("department_id = ?", id).Order("sort, id").Find(&b.Boundaries).Error
	}
	if err == nil {
		err = db.Preload("Theme").Where("department_id = ? AND published = ?", id, true).
			Order("view_count DESC, id").Limit(BoardItemLimit).Find(&b.Items).Error
	}
	if err == nil {
		b.ItemCount = int64(len(b.Items))
		if b.ItemCount == BoardItemLimit {
			err = db.Model(&ServiceItem{}).Where("department_id = ? AND published = ?", id, true).Count(&b.ItemCount).Error
		}
	}
	if err == nil {
		err = db.Where("department_id = ?", id).Order("number DESC").Find(&b.Versions).Error
	}
	if err != nil {
		return nil, fmt.Errorf("find board %q: %w", slug, mapError(err))
	}
	counters, err := s.listCounters(db.Where("department_id = ?", id))
	if err != nil {
		return nil, fmt.Errorf("find board %q: %w", slug, err)
	}
	b.Counters = counters
	b.LastUpdated = b.Department.UpdatedAt
	if len(b.Versions) > 0 {
		b.LastUpdated = b.Versions[0].CreatedAt
	}
	return &b, nil
}

// DutyEntryInput is what staff submit for a responsibility entry. List
// fields hold one entry per line.
type DutyEntryInput struct {
	Duty           string
	Tasks          string
	Basis          string
	Accountability string
	Office         string
	PersonName     string
	PersonPost     string
	Phone          string
}

var phonePattern = regexp.MustCompile(`^[0-9][0-9 -]{5,18}[0-9]$`)

// validate trims the input and checks it, with a Chinese message per field.
func (in *DutyEntryInput) validate() error {
	trim := func(p *string) { *p = strings.TrimSpace(strings.ReplaceAll(*p, "\r\n", "\n")) }
	for _, p := range []*string{&in.Duty, &in.Tasks, &in.Basis, &in.Accountability, &in.Office, &in.PersonName, &in.PersonPost, &in.Phone} {
		trim(p)
	}
	errs := map[string]string{}
	need := func(field, value, label string, max int) {
		switch n := utf8.RuneCountInString(value); {
		case !utf8.ValidString(value):
			errs[field] = label + "含有无法识别的字符。"
		case n == 0:
			errs[field] = "请填写" + label + "。"
		case n > max:
			errs[field] = fmt.Sprintf("%s不能超过 %d 个字（现有 %d 个字）。", label, max, n)
		}
	}
	need("duty", in.Duty, "职责事项", 300)
	need("tasks", in.Tasks, "具体责任事项", 4000)
	need("basis", in.Basis, "依据", 4000)
	need("accountability", in.Accountability, "追责情形", 4000)
	need("office", in.Office, "承办科室", 100)
	need("person_name", in.PersonName, "责任人姓名", 40)
	need("person_post", in.PersonPost, "责任人职务", 60)
	need("phone", in.Phone, "联系电话", 40)
	if _, bad := errs["phone"]; !bad && !phonePattern.MatchString(in.Phone) {
		errs["phone"] = "联系电话只能由数字、空格和“-”组成，如 8812 3411 或 0571-88123411。"
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

func (in DutyEntryInput) entry() DutyEntry {
	return DutyEntry{Duty: in.Duty, Tasks: in.Tasks, Basis: in.Basis, Accountability: in.Accountability,
		Office: in.Office, PersonName: in.PersonName, PersonPost: in.PersonPost, Phone: in.Phone}
}

// entryFields lists the fields of an entry with their Chinese names, in the
// order a change is described.
func entryFields(e DutyEntry) [][2]string {
	return [][2]string{
		{"职责事项", e.Duty}, {"具体责任事项", e.Tasks}, {"依据", e.Basis}, {"追责情形", e.Accountability},
		{"承办科室", e.Office}, {"责任人", e.PersonName}, {"责任人职务", e.PersonPost}, {"联系电话", e.Phone},
	}
}

// AddDutyEntry adds an entry at the end of a section of a department's
// board, and records the change. A departmentID of 0 allows any
// department's section (a 系统管理员).
func (s *Store) AddDutyEntry(ctx context.Context, departmentID, sectionID uint, in DutyEntryInput, by Actor) (*DutyEntry, error) {
	// Out of reach comes before invalid: another department's section is
	// not found, whatever the input says.
	if _, err := s.FindDutySection(ctx, departmentID, sectionID); err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	e := in.entry()
	now := time.Now().UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var sec DutySection
		q := forUpdate(tx).Where("id = ?", sectionID)
		if departmentID != 0 {
			q = q.Where("department_id = ?", departmentID)
		}
		if err := q.First(&sec).Error; err != nil {
			return err
		}
		var last int
		if err := tx.Model(&DutyEntry{}).Where("duty_section_id = ?", sec.ID).Select("COALESCE(MAX(sort), 0)").Scan(&last).Error; err != nil {
			return err
		}
		e.DutySectionID, e.Sort, e.Version = sec.ID, last+1, 1
		if err := tx.Create(&e).Error; err != nil {
			return err
		}
		var changes []FieldChange
		for _, f := range entryFields(e) {
			changes = append(changes, FieldChange{Field: f[0], After: f[1]})
		}
		summary := fmt.Sprintf("在“%s”中新增责任事项“%s”", sec.Title, e.Duty)
		if err := recordVersion(tx, sec.DepartmentID, by.Name, summary, changes); err != nil {
			return err
		}
		return audit(tx, by, "新增责任事项", "责任事项 "+e.Duty, nil, entryRecord(e), now)
	})
	if err != nil {
		return nil, fmt.Errorf("add duty entry: %w", mapError(err))
	}
	return &e, nil
}

// entryRecord is what the audit log keeps of an entry.
func entryRecord(e DutyEntry) map[string]string {
	out := map[string]string{}
	for _, f := range entryFields(e) {
		out[f[0]] = f[1]
	}
	return out
}

// FindDutyEntry returns an entry of a department's board (any department
// for 0), for editing.
func (s *Store) FindDutyEntry(ctx context.Context, departmentID, entryID uint) (*DutyEntry, error) {
	e, err := findEntryOf(s.db.WithContext(ctx), departmentID, entryID)
	if err != nil {
		return nil, fmt.Errorf("find duty entry %d: %w", entryID, mapError(err))
	}
	return e, nil
}

// UpdateDutyEntry changes an entry of a department's board and records which
// fields changed, before and after. version is the version the editor
// started from: if someone saved in between, the save is refused with
// ErrConflict. A save that changes nothing records nothing.
func (s *Store) UpdateDutyEntry(ctx context.Context, departmentID, entryID uint, version int, in DutyEntryInput, by Actor) error {
	// Out of reach comes before invalid: another department's entry is not
	// found, whatever the input says.
	if _, err := s.FindDutyEntry(ctx, departmentID, entryID); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return err
	}
	now := time.Now().UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		old, err := findEntryOf(forUpdate(tx), departmentID, entryID)
		if err != nil {
			return err
		}
		if old.Version != version {
			return ErrConflict
		}
		updated := in.entry()
		updated.ID, updated.DutySectionID, updated.Sort, updated.Version = old.ID, old.DutySectionID, old.Sort, old.Version+1
		var changes []FieldChange
		before, after := entryFields(*old), entryFields(updated)
		for i := range before {
			if before[i][1] != after[i][1] {
				changes = append(changes, FieldChange{Field: before[i][0], Before: before[i][1], After: after[i][1]})
			}
		}
		if len(changes) == 0 {
			return nil
		}
		// The version in the WHERE clause makes the check and the write one
		// step, whatever runs beside it.
		res := tx.Model(&DutyEntry{}).Where("id = ? AND version = ?", old.ID, old.Version).
			Select("*").Updates(&updated)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrConflict
		}
		names := make([]string, len(changes))
		for i, c := range changes {
			names[i] = c.Field
		}
		summary := fmt.Sprintf("修改责任事项“%s”的%s", updated.Duty, strings.Join(names, "、"))
		var sec DutySection
		if err := tx.First(&sec, old.DutySectionID).Error; err != nil {
			return err
		}
		if err := recordVersion(tx, sec.DepartmentID, by.Name, summary, changes); err != nil {
			return err
		}
		return audit(tx, by, "修改责任事项", "责任事项 "+updated.Duty, entryRecord(*old), entryRecord(updated), now)
	})
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return ErrConflict
		}
		return fmt.Errorf("update duty entry %d: %w", entryID, mapError(err))
	}
	return nil
}

// DeleteDutyEntry removes an entry from a department's board; the version
// history keeps what it said.
func (s *Store) DeleteDutyEntry(ctx context.Context, departmentID, entryID uint, by Actor) error {
	now := time.Now().UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		old, err := findEntryOf(forUpdate(tx), departmentID, entryID)
		if err != nil {
			return err
		}
		if err := tx.Delete(&DutyEntry{}, old.ID).Error; err != nil {
			return err
		}
		var changes []FieldChange
		for _, f := range entryFields(*old) {
			changes = append(changes, FieldChange{Field: f[0], Before: f[1]})
		}
		var sec DutySection
		if err := tx.First(&sec, old.DutySectionID).Error; err != nil {
			return err
		}
		if err := recordVersion(tx, sec.DepartmentID, by.Name, fmt.Sprintf("删除责任事项“%s”", old.Duty), changes); err != nil {
			return err
		}
		return audit(tx, by, "删除责任事项", "责任事项 "+old.Duty, entryRecord(*old), nil, now)
	})
	if err != nil {
		return fmt.Errorf("delete duty entry %d: %w", entryID, mapError(err))
	}
	return nil
}

// MoveDutyEntry moves an entry one place up (-1) or down (+1) within its
// section, and records the change.
func (s *Store) MoveDutyEntry(ctx context.Context, departmentID, entryID uint, direction int, by Actor) error {
	now := time.Now().UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		e, err := findEntryOf(forUpdate(tx), departmentID, entryID)
		if err != nil {
			return err
		}
		var other DutyEntry
		q := tx.Where("duty_section_id = ?", e.DutySectionID)
		if direction < 0 {
			q = q.Where("sort < ?", e.Sort).Order("sort DESC")
		} else {
			q = q.Where("sort > ?", e.Sort).Order("sort")
		}
		if err := q.First(&other).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil // already first or last
			}
			return err
		}
		if err := tx.Model(&DutyEntry{}).Where("id = ?", e.ID).Update("sort", other.Sort).Error; err != nil {
			return err
		}
		if err := tx.Model(&DutyEntry{}).Where("id = ?", other.ID).Update("sort", e.Sort).Error; err != nil {
			return err
		}
		var sec DutySection
		if err := tx.First(&sec, e.DutySectionID).Error; err != nil {
			return err
		}
		where := "后移"
		if direction < 0 {
			where = "前移"
		}
		summary := fmt.Sprintf("调整“%s”中的顺序：“%s”%s", sec.Title, e.Duty, where)
		if err := recordVersion(tx, sec.DepartmentID, by.Name, summary, nil); err != nil {
			return err
		}
		return audit(tx, by, "调整责任事项顺序", "责任事项 "+e.Duty, map[string]int{"顺序": e.Sort}, map[string]int{"顺序": other.Sort}, now)
	})
	if err != nil {
		return fmt.Errorf("move duty entry %d: %w", entryID, mapError(err))
	}
	return nil
}

// findEntryOf loads an entry only if it belongs to the department's board
// (any department's for 0).
func findEntryOf(tx *gorm.DB, departmentID, entryID uint) (*DutyEntry, error) {
	var e DutyEntry
	q := tx.Joins("JOIN duty_sections ds ON ds.id = duty_entries.duty_section_id").Where("duty_entries.id = ?", entryID)
	if departmentID != 0 {
		q = q.Where("ds.department_id = ?", departmentID)
	}
	err := q.First(&e).Error
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// recordVersion adds the next version of a department's board and marks the
// department updated.
func recordVersion(tx *gorm.DB, departmentID uint, author, summary string, changes []FieldChange) error {
	var last int
	if err := tx.Model(&BoardVersion{}).Where("department_id = ?", departmentID).
		Select("COALESCE(MAX(number), 0)").Scan(&last).Error; err != nil {
		return err
	}
	raw, err := json.Marshal(changes)
	if err != nil {
		return err
	}
	v := BoardVersion{DepartmentID: departmentID, Number: last + 1, Author: author, Summary: summary, Changes: string(raw)}
	if err := tx.Create(&v).Error; err != nil {
		return err
	}
	return tx.Model(&Department{}).Where("id = ?", departmentID).Update("updated_at", v.CreatedAt).Error
}

// validSectionTitle checks a section title.
func validSectionTitle(title string) (string, error) {
	title = strings.TrimSpace(title)
	errs := map[string]string{}
	requireText(errs, "title", title, "部分名称", 100)
	if len(errs) > 0 {
		return "", &ValidationError{Fields: errs}
	}
	return title, nil
}

// AddDutySection adds a section at the end of a department's board.
func (s *Store) AddDutySection(ctx context.Context, departmentID uint, title string, by Actor) error {
	title, err := validSectionTitle(title)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var last int
		if err := tx.Model(&DutySection{}).Where("department_id = ?", departmentID).Select("COALESCE(MAX(sort), 0)").Scan(&last).Error; err != nil {
			return err
		}
		if err := tx.Create(&DutySection{DepartmentID: departmentID, Sort: last + 1, Title: title}).Error; err != nil {
			return err
		}
		if err := recordVersion(tx, departmentID, by.Name, "新增部分“"+title+"”", nil); err != nil {
			return err
		}
		return audit(tx, by, "新增责任清单部分", "部分 "+title, nil, map[string]string{"名称": title}, now)
	})
	if err != nil {
		return fmt.Errorf("add duty section: %w", mapError(err))
	}
	return nil
}

// findSectionOf loads a section only if it belongs to the department (any
// for 0).
func findSectionOf(tx *gorm.DB, departmentID, sectionID uint) (*DutySection, error) {
	var sec DutySection
	q := tx.Where("id = ?", sectionID)
	if departmentID != 0 {
		q = q.Where("department_id = ?", departmentID)
	}
	if err := q.First(&sec).Error; err != nil {
		return nil, err
	}
	return &sec, nil
}

// FindDutySection returns a section of a department's board (any for 0).
func (s *Store) FindDutySection(ctx context.Context, departmentID, sectionID uint) (*DutySection, error) {
	sec, err := findSectionOf(s.db.WithContext(ctx), departmentID, sectionID)
	if err != nil {
		return nil, fmt.Errorf("find duty section %d: %w", sectionID, mapError(err))
	}
	return sec, nil
}

// RenameDutySection changes a section's title.
func (s *Store) RenameDutySection(ctx context.Context, departmentID, sectionID uint, title string, by Actor) error {
	title, err := validSectionTitle(title)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sec, err := findSectionOf(forUpdate(tx), departmentID, sectionID)
		if err != nil {
			return err
		}
		if sec.Title == title {
			return nil
		}
		if err := tx.Model(sec).Update("title", title).Error; err != nil {
			return err
		}
		change := []FieldChange{{Field: "部分名称", Before: sec.Title, After: title}}
		if err := recordVersion(tx, sec.DepartmentID, by.Name, "部分“"+sec.Title+"”更名为“"+title+"”", change); err != nil {
			return err
		}
		return audit(tx, by, "修改责任清单部分", "部分 "+title, map[string]string{"名称": sec.Title}, map[string]string{"名称": title}, now)
	})
	if err != nil {
		return fmt.Errorf("rename duty section %d: %w", sectionID, mapError(err))
	}
	return nil
}

// DeleteDutySection removes an empty section; one with entries is refused,
// so that no entry disappears by the way.
func (s *Store) DeleteDutySection(ctx context.Context, departmentID, sectionID uint, by Actor) error {
	now := time.Now().UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sec, err := findSectionOf(forUpdate(tx), departmentID, sectionID)
		if err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&DutyEntry{}).Where("duty_section_id = ?", sec.ID).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return &ValidationError{Fields: map[string]string{"section": fmt.Sprintf("“%s”下还有 %d 项责任事项，请先删除这些事项再删除该部分。", sec.Title, n)}}
		}
		if err := tx.Delete(sec).Error; err != nil {
			return err
		}
		if err := recordVersion(tx, sec.DepartmentID, by.Name, "删除部分“"+sec.Title+"”", nil); err != nil {
			return err
		}
		return audit(tx, by, "删除责任清单部分", "部分 "+sec.Title, map[string]string{"名称": sec.Title}, nil, now)
	})
	var verr *ValidationError
	if errors.As(err, &verr) {
		return err
	}
	if err != nil {
		return fmt.Errorf("delete duty section %d: %w", sectionID, mapError(err))
	}
	return nil
}

// MoveDutySection moves a section one place up (-1) or down (+1).
func (s *Store) MoveDutySection(ctx context.Context, departmentID, sectionID uint, direction int, by Actor) error {
	now := time.Now().UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sec, err := findSectionOf(forUpdate(tx), departmentID, sectionID)
		if err != nil {
			return err
		}
		var other DutySection
		q := tx.Where("department_id = ?", sec.DepartmentID)
		if direction < 0 {
			q = q.Where("sort < ?", sec.Sort).Order("sort DESC")
		} else {
			q = q.Where("sort > ?", sec.Sort).Order("sort")
		}
		if err := q.First(&other).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil
			}
			return err
		}
		if err := tx.Model(&DutySection{}).Where("id = ?", sec.ID).Update("sort", other.Sort).Error; err != nil {
			return err
		}
		if err := tx.Model(&DutySection{}).Where("id = ?", other.ID).Update("sort", sec.Sort).Error; err != nil {
			return err
		}
		if err := recordVersion(tx, sec.DepartmentID, by.Name, "调整部分顺序：“"+sec.Title+"”", nil); err != nil {
			return err
		}
		return audit(tx, by, "调整责任清单部分顺序", "部分 "+sec.Title, map[string]int{"顺序": sec.Sort}, map[string]int{"顺序": other.Sort}, now)
	})
	if err != nil {
		return fmt.Errorf("move duty section %d: %w", sectionID, mapError(err))
	}
	return nil
}
