package models

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// counterByCode returns a counter of the demo data for editing.
func editableCounter(t *testing.T, s *Store, code string) *CounterForEdit {
	t.Helper()
	var c Counter
	if err := s.db.Where("code = ?", code).First(&c).Error; err != nil {
		t.Fatal(err)
	}
	out, err := s.FindCounterForEdit(context.Background(), 0, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func counterInputOf(c *CounterForEdit) CounterInput {
	in := CounterInput{Name: c.Name, Hall: c.Hall, Floor: c.Floor, Number: c.Number, Hours: c.Hours,
		ExtendedHours: c.ExtendedHours, StaffPost: c.StaffPost}
	for _, it := range c.ServiceItems {
		in.ItemIDs = append(in.ItemIDs, it.ID)
	}
	return in
}

func counterItemIDs(items []ServiceItem) []uint {
	out := make([]uint, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	slices.Sort(out)
	return out
}

func TestUpdateCounter(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	b01 := editableCounter(t, s, "B01")
	dept := b01.DepartmentID
	if len(b01.Choices) < 2 || len(b01.ServiceItems) == 0 {
		t.Fatalf("B01: %d choices, %d items; the test needs more", len(b01.Choices), len(b01.ServiceItems))
	}
	for _, ch := range b01.Choices {
		if ch.DepartmentID != dept || !ch.Published {
			t.Fatalf("choice %s is not a published item of the counter's department", ch.Name)
		}
	}

	in := counterInputOf(b01)
	in.Hours = "  周一至周六\n9:00–17:00 "
	in.ItemIDs = []uint{b01.Choices[0].ID, b01.Choices[1].ID, b01.Choices[0].ID}
	zhang := Actor{UserID: 1, Name: "人社局 张敏"}
	if err := s.UpdateCounter(ctx, dept, b01.ID, b01.Version, in, zhang); err != nil {
		t.Fatal(err)
	}
	got := editableCounter(t, s, "B01")
	if got.Hours != "周一至周六 9:00–17:00" || got.Version != b01.Version+1 || got.Code != "B01" {
		t.Fatalf("after the save: hours %q, version %d, code %s", got.Hours, got.Version, got.Code)
	}
	if want := counterItemIDs(b01.Choices[:2]); !slices.Equal(counterItemIDs(got.ServiceItems), want) {
		t.Fatalf("items %v, want %v", counterItemIDs(got.ServiceItems), want)
	}
	pub, err := s.FindCounterByCode(ctx, "B01")
	if err != nil || len(pub.ServiceItems) != 2 || pub.Hours != got.Hours {
		t.Fatalf("the public counter: %v, %+v", err, pub)
	}

	// A save from the old version is a conflict; the newer save stays.
	stale := counterInputOf(b01)
	stale.Hours = "周一至周五 8:30–17:30"
	if err := s.UpdateCounter(ctx, dept, b01.ID, b01.Version, stale, zhang); !errors.Is(err, ErrConflict) {
		t.Fatalf("a save from an old version: %v, want ErrConflict", err)
	}
	// A save that changes nothing records nothing and keeps the version.
	before := counterAuditCount(t, s)
	if err := s.UpdateCounter(ctx, dept, b01.ID, got.Version, counterInputOf(got), zhang); err != nil {
		t.Fatal(err)
	}
	if counterAuditCount(t, s) != before || editableCounter(t, s, "B01").Version != got.Version {
		t.Fatal("a save without changes was recorded")
	}

	page, err := s.FindAuditEntries(ctx, AuditFilter{Action: "修改窗口信息"})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 1 {
		t.Fatalf("%d audit entries, want 1", page.Total)
	}
	e := page.Entries[0]
	if e.Username != "人社局 张敏" || !strings.Contains(e.Object, "B01") || !strings.Contains(e.Before, "周一至周五 9:00–17:00") ||
		!strings.Contains(e.After, "周一至周六 9:00–17:00") || !strings.Contains(e.After, b01.Choices[1].Name) {
		t.Fatalf("audit entry: %+v", e)
	}
}

func counterAuditCount(t *testing.T, s *Store) int {
	t.Helper()
	var n int64
	if err := s.db.Model(&AuditEntry{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestUpdateCounterIsChecked(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	b01, c01 := editableCounter(t, s, "B01"), editableCounter(t, s, "C01")
	dept := b01.DepartmentID
	x := Actor{Name: "x"}

	bad := counterInputOf(b01)
	bad.Name, bad.Hours, bad.Number = "", " ", strings.Repeat("1", 21)
	err := s.UpdateCounter(ctx, dept, b01.ID, b01.Version, bad, x)
	verr, ok := AsValidationError(err)
	if !ok || verr.Field("name") == "" || verr.Field("hours") == "" || verr.Field("number") == "" || verr.Field("hall") != "" {
		t.Fatalf("err = %v, want messages on name, hours and number only", err)
	}

	// Another department's item, or an unpublished one, cannot be attached.
	foreign := counterInputOf(b01)
	foreign.ItemIDs = append(foreign.ItemIDs, c01.Choices[0].ID)
	err = s.UpdateCounter(ctx, dept, b01.ID, b01.Version, foreign, x)
	if verr, ok := AsValidationError(err); !ok || verr.Field("items") == "" {
		t.Fatalf("attaching another department's item: %v, want a message on items", err)
	}
	// Not by a 系统管理员 either: the items are the counter's department's.
	if err := s.UpdateCounter(ctx, 0, b01.ID, b01.Version, foreign, x); err == nil {
		t.Fatal("a 系统管理员 attached another department's item")
	}
	if err := s.db.Model(&ServiceItem{}).Where("id = ?", b01.Choices[0].ID).Update("published", false).Error; err != nil {
		t.Fatal(err)
	}
	unpublished := counterInputOf(b01)
	unpublished.ItemIDs = []uint{b01.Choices[0].ID}
	if _, ok := AsValidationError(s.UpdateCounter(ctx, dept, b01.ID, b01.Version, unpublished, x)); !ok {
		t.Fatal("an unpublished item was attached")
	}

	// Another department's counter is out of reach.
	if err := s.UpdateCounter(ctx, dept, c01.ID, c01.Version, counterInputOf(c01), x); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of another department's counter: %v, want ErrNotFound", err)
	}
	if err := s.SetCounterEnabled(ctx, dept, c01.ID, false, x); !errors.Is(err, ErrNotFound) {
		t.Fatalf("disabling another department's counter: %v, want ErrNotFound", err)
	}
	if _, err := s.FindCounterForEdit(ctx, dept, c01.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finding another department's counter: %v, want ErrNotFound", err)
	}
	if n := counterAuditCount(t, s); n != 0 {
		t.Fatalf("refused changes wrote %d audit entries", n)
	}
	if got := editableCounter(t, s, "C01"); got.Version != c01.Version || !got.Enabled {
		t.Fatal("a refused change changed another department's counter")
	}
}

// A 综合窗口 may handle another department's items (the demo's E01 handles
// 住建局's 建筑工程施工许可证核发): its editors cannot choose them, and a save
// keeps them.
func TestUpdateCounterKeepsOtherLinks(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	e01 := editableCounter(t, s, "E01")
	kept := e01.Kept()
	if len(kept) == 0 {
		t.Fatal("E01 handles no other department's item in the demo data")
	}
	in := counterInputOf(e01)
	in.ItemIDs = nil
	if err := s.UpdateCounter(ctx, e01.DepartmentID, e01.ID, e01.Version, in, Actor{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := editableCounter(t, s, "E01"); !slices.Equal(counterItemIDs(got.ServiceItems), counterItemIDs(kept)) {
		t.Fatalf("items after clearing the choices: %v, want the kept %v", counterItemIDs(got.ServiceItems), counterItemIDs(kept))
	}
}

func TestSetCounterEnabled(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	b01 := editableCounter(t, s, "B01")
	x := Actor{UserID: 2, Name: "人社局 李强"}
	if err := s.SetCounterEnabled(ctx, b01.DepartmentID, b01.ID, false, x); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindRatableCounter(ctx, "B01"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a disabled counter is ratable: %v", err)
	}
	if _, err := s.FindCounterByCode(ctx, "B01"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a disabled counter is public: %v", err)
	}
	list, err := s.ListCountersForAdmin(ctx, b01.DepartmentID)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(c CounterSummary) bool { return c.Code == "B01" })
	if i < 0 || list[i].Enabled {
		t.Fatal("the admin list lacks the disabled counter")
	}
	for _, c := range list {
		if c.DepartmentID != b01.DepartmentID {
			t.Fatalf("the department's list has %s of another department", c.Code)
		}
	}
	// Disabling twice records once; a pending edit is not refused by it.
	if err := s.SetCounterEnabled(ctx, b01.DepartmentID, b01.ID, false, x); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCounterEnabled(ctx, 0, b01.ID, true, x); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindRatableCounter(ctx, "B01"); err != nil {
		t.Fatalf("an enabled counter is not ratable: %v", err)
	}
	if n := counterAuditCount(t, s); n != 2 {
		t.Fatalf("%d audit entries, want 2 (停用, 启用)", n)
	}
	in := counterInputOf(b01)
	in.StaffPost = "社保综合岗"
	if err := s.UpdateCounter(ctx, b01.DepartmentID, b01.ID, b01.Version, in, x); err != nil {
		t.Fatalf("an edit begun before the counter was disabled and enabled: %v", err)
	}
	all, err := s.ListCountersForAdmin(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	s.db.Model(&Counter{}).Count(&total)
	if len(all) != int(total) {
		t.Fatalf("the 系统管理员's list has %d counters, want all %d", len(all), total)
	}
}
