package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// CounterInput is what staff submit for a counter. The code is not part of
// it: it is printed on the counter's poster and never changes.
type CounterInput struct {
	Name          string
	Hall          string
	Floor         string
	Number        string
	Hours         string
	ExtendedHours string
	StaffPost     string
	// ItemIDs are the service items the counter handles, chosen among the
	// published items of the counter's department.
	ItemIDs []uint
}

// validate tidies the text fields (each is one line) and checks them, with a
// Chinese message per field. The items are checked against the database by
// UpdateCounter.
func (in *CounterInput) validate() map[string]string {
	errs := map[string]string{}
	check := func(field string, p *string, label string, required bool, max int) {
		if !utf8.ValidString(*p) {
			errs[field] = label + "含有无法识别的字符。"
			return
		}
		// Line breaks and tabs pasted from documents become single spaces.
		*p = strings.Join(strings.Fields(*p), " ")
		switch n := utf8.RuneCountInString(*p); {
		case n == 0 && required:
			errs[field] = "请填写" + label + "。"
		case n > max:
			errs[field] = fmt.Sprintf("%s不能超过 %d 个字（现有 %d 个字）。", label, max, n)
		}
	}
	check("name", &in.Name, "窗口名称", true, 100)
	check("floor", &in.Floor, "楼层", false, 20)
	check("hall", &in.Hall, "所在大厅", false, 100)
	check("number", &in.Number, "窗口号", false, 20)
	check("hours", &in.Hours, "办公时间", true, 200)
	check("extended_hours", &in.ExtendedHours, "延时服务", false, 200)
	check("staff_post", &in.StaffPost, "值守岗位", false, 100)
	return errs
}

// counterFields lists the editable fields of a counter with their Chinese
// names, in the order a change is described.
func counterFields(c Counter) [][2]string {
	return [][2]string{
		{"窗口名称", c.Name}, {"楼层", c.Floor}, {"所在大厅", c.Hall}, {"窗口号", c.Number},
		{"办公时间", c.Hours}, {"延时服务", c.ExtendedHours}, {"值守岗位", c.StaffPost},
	}
}

// counterRecord is what the audit log keeps of a counter: its fields and
// the names of the items it handles.
func counterRecord(c Counter, items []ServiceItem) map[string]string {
	out := map[string]string{}
	for _, f := range counterFields(c) {
		out[f[0]] = f[1]
	}
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.Name
	}
	out["办理事项"] = strings.Join(names, "、")
	return out
}

// CounterForEdit is a counter as its edit form shows it: the counter with
// its department and every item it handles, and the items it may handle.
type CounterForEdit struct {
	Counter
	// Choices are the published service items of the counter's department,
	// the ones its editors may attach.
	Choices []ServiceItem
}

// Kept returns the items the counter handles that are not among the
// choices: another department's items (a 综合窗口 may handle them) or items
// not published now. A save leaves them as they are.
func (c CounterForEdit) Kept() []ServiceItem {
	var out []ServiceItem
	for _, it := range c.ServiceItems {
		if !slices.ContainsFunc(c.Choices, func(ch ServiceItem) bool { return ch.ID == it.ID }) {
			out = append(out, it)
		}
	}
	return out
}

// Handles reports whether the counter handles an item.
func (c CounterForEdit) Handles(itemID uint) bool {
	return slices.ContainsFunc(c.ServiceItems, func(it ServiceItem) bool { return it.ID == itemID })
}

// FindCounterForEdit returns a counter of a department (any department's for
// 0), enabled or not, with the items it handles and its department's
// published items to choose from.
func (s *Store) FindCounterForEdit(ctx context.Context, departmentID, id uint) (*CounterForEdit, error) {
	c, err := findCounterOf(s.db.WithContext(ctx), departmentID, id)
	if err != nil {
		return nil, fmt.Errorf("find counter %d: %w", id, mapError(err))
	}
	return c, nil
}

// findCounterOf loads a counter for editing only if it belongs to the
// department (any department's for 0).
func findCounterOf(tx *gorm.DB, departmentID, id uint) (*CounterForEdit, error) {
	var out CounterForEdit
	q := tx.Preload("Department").
		Preload("ServiceItems", func(db *gorm.DB) *gorm.DB { return db.Order("service_items.code") }).
		Preload("ServiceItems.Department").
		Where("id = ?", id)
	if departmentID != 0 {
		q = q.Where("department_id = ?", departmentID)
	}
	if err := q.First(&out.Counter).Error; err != nil {
		return nil, err
	}
	err := tx.Preload("Theme").Where("department_id = ? AND published = ?", out.DepartmentID, true).
		Order("theme_id, code").Find(&out.Choices).Error
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListCountersForAdmin returns a department's counters (every department's
// for 0), disabled ones too, with their departments and counts of published
// items, by department and then in walking order.
func (s *Store) ListCountersForAdmin(ctx context.Context, departmentID uint) ([]CounterSummary, error) {
	db := s.db.WithContext(ctx)
	var counters []Counter
	q := db.Preload("Department").
		Joins("JOIN departments d ON d.id = counters.department_id").
		Select("counters.*").
		Order("d.sort, d.id, counters.floor, counters.hall, counters.code")
	if departmentID != 0 {
		q = q.Where("counters.department_id = ?", departmentID)
	}
	if err := q.Find(&counters).Error; err != nil {
		return nil, fmt.Errorf("list counters for admin: %w", mapError(err))
	}
	out, err := s.withItemCounts(ctx, counters)
	if err != nil {
		return nil, fmt.Errorf("list counters for admin: %w", err)
	}
	return out, nil
}

// UpdateCounter changes a counter of a department (any department's for 0):
// its details and the items it handles, in one transaction with its audit
// entry. The items chosen replace those of the department's published items
// the counter handled; other links (another department's items, items not
// published now) are kept. version is the version the editor started from:
// if someone saved in between, the save is refused with ErrConflict. A save
// that changes nothing records nothing.
func (s *Store) UpdateCounter(ctx context.Context, departmentID, id uint, version int, in CounterInput, by Actor) error {
	errs := in.validate()
	now := time.Now().UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		old, err := findCounterOf(forUpdate(tx), departmentID, id)
		if err != nil {
			return err
		}
		chosen, ok := chosenItems(old.Choices, in.ItemIDs)
		if !ok {
			// Only a forged form can get here: the form offers the choices
			// alone. It may name another department's item.
			errs["items"] = "所选事项中有不属于本部门或未公开的事项，请刷新页面后重新选择。"
		}
		if len(errs) > 0 {
			return &ValidationError{Fields: errs}
		}
		if old.Version != version {
			return ErrConflict
		}
		items := append(old.Kept(), chosen...)
		updated := old.Counter
		updated.Name, updated.Floor, updated.Hall, updated.Number = in.Name, in.Floor, in.Hall, in.Number
		updated.Hours, updated.ExtendedHours, updated.StaffPost = in.Hours, in.ExtendedHours, in.StaffPost
		added, removed := itemDiff(old.ServiceItems, items)
		if slices.Equal(counterFields(old.Counter), counterFields(updated)) && len(added) == 0 && len(removed) == 0 {
			return nil
		}
		// The version in the WHERE clause makes the check and the write one
		// step, whatever runs beside it.
		res := tx.Model(&Counter{}).Where("id = ? AND version = ?", old.ID, old.Version).Updates(map[string]any{
			"name": updated.Name, "floor": updated.Floor, "hall": updated.Hall, "number": updated.Number,
			"hours": updated.Hours, "extended_hours": updated.ExtendedHours, "staff_post": updated.StaffPost,
			"version": old.Version + 1, "updated_at": now,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrConflict
		}
		if len(removed) > 0 {
			if err := tx.Exec("DELETE FROM counter_service_items WHERE counter_id = ? AND service_item_id IN ?", old.ID, removed).Error; err != nil {
				return err
			}
		}
		if len(added) > 0 {
			rows := make([]map[string]any, len(added))
			for i, itemID := range added {
				rows[i] = map[string]any{"counter_id": old.ID, "service_item_id": itemID}
			}
			if err := tx.Table("counter_service_items").Create(rows).Error; err != nil {
				return err
			}
		}
		slices.SortFunc(items, func(a, b ServiceItem) int { return strings.Compare(a.Code, b.Code) })
		return audit(tx, by, "修改窗口信息", counterObject(old.Counter), counterRecord(old.Counter, old.ServiceItems),
			counterRecord(updated, items), now)
	})
	if err != nil {
		var verr *ValidationError
		switch {
		case errors.As(err, &verr):
			return verr
		case errors.Is(err, ErrConflict):
			return ErrConflict
		}
		return fmt.Errorf("update counter %d: %w", id, mapError(err))
	}
	return nil
}

// chosenItems returns the choices named by ids, once each; ok is false if
// an id is not among the choices.
func chosenItems(choices []ServiceItem, ids []uint) (out []ServiceItem, ok bool) {
	seen := map[uint]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		i := slices.IndexFunc(choices, func(it ServiceItem) bool { return it.ID == id })
		if i < 0 {
			return nil, false
		}
		out = append(out, choices[i])
	}
	return out, true
}

// itemDiff returns the IDs of the items in after but not before, and in
// before but not after.
func itemDiff(before, after []ServiceItem) (added, removed []uint) {
	has := func(list []ServiceItem, id uint) bool {
		return slices.ContainsFunc(list, func(it ServiceItem) bool { return it.ID == id })
	}
	for _, it := range after {
		if !has(before, it.ID) {
			added = append(added, it.ID)
		}
	}
	for _, it := range before {
		if !has(after, it.ID) {
			removed = append(removed, it.ID)
		}
	}
	return added, removed
}

// counterObject names a counter in the audit log by its code and name.
func counterObject(c Counter) string {
	return "窗口 " + c.Code + " " + c.Name
}

// SetCounterEnabled enables or disables a counter of a department (any
// department's for 0), recording the change. A disabled counter leaves the
// public pages and cannot be rated: its poster's QR code leads nowhere until
// it is enabled again. The version is left alone, so that an edit in
// progress is not refused for a change it does not touch.
func (s *Store) SetCounterEnabled(ctx context.Context, departmentID, id uint, enabled bool, by Actor) error {
	now := time.Now().UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c Counter
		q := forUpdate(tx).Where("id = ?", id)
		if departmentID != 0 {
			q = q.Where("department_id = ?", departmentID)
		}
		if err := q.First(&c).Error; err != nil {
			return err
		}
		if c.Enabled == enabled {
			return nil
		}
		if err := tx.Model(&Counter{}).Where("id = ?", c.ID).
			Updates(map[string]any{"enabled": enabled, "updated_at": now}).Error; err != nil {
			return err
		}
		action, state := "停用窗口", map[bool]string{true: "启用", false: "停用"}
		if enabled {
			action = "启用窗口"
		}
		return audit(tx, by, action, counterObject(c), map[string]string{"状态": state[c.Enabled]},
			map[string]string{"状态": state[enabled]}, now)
	})
	if err != nil {
		return fmt.Errorf("set counter %d enabled: %w", id, mapError(err))
	}
	return nil
}
