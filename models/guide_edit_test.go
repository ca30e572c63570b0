package models

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// guideOf returns a demo item by code, published or not, for editing.
func guideOf(t *testing.T, s *Store, code string) *ServiceItem {
	t.Helper()
	var id uint
	if err := s.db.Model(&ServiceItem{}).Where("code = ?", code).Pluck("id", &id).Error; err != nil || id == 0 {
		t.Fatalf("no item %s: %v", code, err)
	}
	it, err := s.FindGuideForEdit(context.Background(), 0, id)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func departmentID(t *testing.T, s *Store, slug string) uint {
	t.Helper()
	var d Department
	if err := s.db.Where("slug = ?", slug).First(&d).Error; err != nil {
		t.Fatal(err)
	}
	return d.ID
}

func auditActions(t *testing.T, s *Store, action string) []AuditEntry {
	t.Helper()
	page, err := s.FindAuditEntries(context.Background(), AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return page.Entries
}

var rsjEditor = Actor{UserID: 7, Name: "人社局 人社局管理员"}

func TestEveryDemoGuideSurvivesItsOwnForm(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	items, err := s.ListGuidesForAdmin(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) < 60 {
		t.Fatalf("%d items", len(items))
	}
	for _, listed := range items {
		it, err := s.FindGuideForEdit(ctx, 0, listed.ID)
		if err != nil {
			t.Fatal(err)
		}
		in := GuideInputOf(it)
		if _, errs := in.parse(); len(errs) > 0 {
			t.Errorf("%s %s: the stored guide fails its own form: %v", it.Code, it.Name, errs)
			continue
		}
		// Saved unchanged, nothing is written.
		if err := s.UpdateGuide(ctx, 0, it.ID, it.Version, in, rsjEditor); err != nil {
			t.Fatalf("%s: %v", it.Code, err)
		}
		again, _ := s.FindGuideForEdit(ctx, 0, it.ID)
		if again.Version != it.Version || !again.UpdatedAt.Equal(it.UpdatedAt) {
			t.Fatalf("%s: an unchanged save moved the version or 最后更新", it.Code)
		}
	}
	if n := len(auditActions(t, s, "修改办事指南")); n != 0 {
		t.Fatalf("%d audit entries for saves that changed nothing", n)
	}
}

func TestUpdateGuide(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	rsj := departmentID(t, s, "rsj")
	it := guideOf(t, s, "11QHRSJ0001-01")
	in := GuideInputOf(it)
	in.Name = "企业职工基本养老保险待遇申领（含弹性退休）"
	in.PromisedLimit.Value = "5"
	// A new row numbered 1 goes after the row already numbered 1.
	in.Materials = append(in.Materials, MaterialInput{RowInput: RowInput{Sort: "1"}, Name: "弹性退休申请表",
		Necessity: "必要", Form: "原件", Copies: "1", Source: "申请人自备", BlankForm: true})
	in.Materials[1].Delete = true
	removed := in.Materials[1].Name
	// The first step goes last by its 顺序 number.
	in.Steps[0].Sort = "99"
	firstStep := in.Steps[0].Name
	in.FAQs = append(in.FAQs, FAQInput{}) // a spare row left empty
	// A 部门管理员 cannot move the item to another department.
	in.Department = "hzk"

	start := time.Now().UTC().Truncate(time.Second)
	if err := s.UpdateGuide(ctx, rsj, it.ID, it.Version, in, rsjEditor); err != nil {
		t.Fatal(err)
	}
	got := guideOf(t, s, it.Code)
	if got.Name != in.Name || got.PromisedLimit.Value != 5 || got.Version != it.Version+1 || got.Department.Slug != "rsj" {
		t.Fatalf("saved: name %q, promised %v, version %d, department %s", got.Name, got.PromisedLimit, got.Version, got.Department.Slug)
	}
	if got.UpdatedAt.Before(start) {
		t.Fatalf("最后更新 %v, want now", got.UpdatedAt)
	}
	if len(got.Materials) != len(it.Materials) || got.Materials[1].Name != "弹性退休申请表" || !got.Materials[1].BlankForm {
		t.Fatalf("materials: %+v", got.Materials)
	}
	for i, m := range got.Materials {
		if m.Sort != i+1 || m.Name == removed {
			t.Fatalf("material %d: %+v (removed %q)", i, m, removed)
		}
	}
	if got.Steps[len(got.Steps)-1].Name != firstStep || len(got.FAQs) != len(it.FAQs) {
		t.Fatalf("steps end with %q, want %q; %d FAQ, want %d", got.Steps[len(got.Steps)-1].Name, firstStep, len(got.FAQs), len(it.FAQs))
	}
	if pub, err := s.FindGuideByCode(ctx, it.Code); err != nil || pub.Name != in.Name {
		t.Fatalf("public guide: %v", err)
	}
	res, err := s.FindGuides(ctx, GuideFilter{Query: "弹性退休"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) == 0 || res.Hits[0].ID != it.ID {
		t.Fatalf("search for the new name finds %d items", len(res.Hits))
	}
	entries := auditActions(t, s, "修改办事指南")
	if len(entries) != 1 || entries[0].Username != rsjEditor.Name || !strings.Contains(entries[0].Before, removed) ||
		!strings.Contains(entries[0].After, "弹性退休申请表") || !strings.Contains(entries[0].Object, it.Code) {
		t.Fatalf("audit: %+v", entries)
	}

	// The same form again, from the old version: a conflict, nothing saved.
	in.Name = "被覆盖的名称"
	if err := s.UpdateGuide(ctx, rsj, it.ID, it.Version, in, rsjEditor); !errors.Is(err, ErrConflict) {
		t.Fatalf("a save from an old version: %v, want ErrConflict", err)
	}
	// Another department's item is out of reach.
	other := guideOf(t, s, "11QHHZK0002-01")
	if err := s.UpdateGuide(ctx, rsj, other.ID, other.Version, GuideInputOf(other), rsjEditor); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another department's item: %v, want ErrNotFound", err)
	}
	if _, err := s.FindGuideForEdit(ctx, rsj, other.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finding another department's item: %v, want ErrNotFound", err)
	}
	if got := guideOf(t, s, it.Code); got.Name == "被覆盖的名称" {
		t.Fatal("a refused save was stored")
	}

	// A 系统管理员 may move an item to another department.
	in = GuideInputOf(got)
	in.Department = "hzk"
	if err := s.UpdateGuide(ctx, 0, got.ID, got.Version, in, Actor{Name: "中心管理员"}); err != nil {
		t.Fatal(err)
	}
	if moved := guideOf(t, s, it.Code); moved.Department.Slug != "hzk" {
		t.Fatalf("department %s, want hzk", moved.Department.Slug)
	}
}

func TestUpdateGuideChecksInput(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	it := guideOf(t, s, "11QHRSJ0001-01")
	before := guideRecord(it)
	in := GuideInputOf(it)
	in.Name = "  "
	in.LegalLimit = LimitInput{Value: "20", Unit: "工作日"}
	in.PromisedLimit = LimitInput{Value: "30", Unit: "工作日"}
	in.OnlineURL = "javascript:alert(1)"
	in.ConsultPhone = "请拨打办公室"
	in.Theme = "no-such-theme"
	in.Materials = append(in.Materials, MaterialInput{Necessity: "必要", Form: "原件", Copies: "x", Source: "申请人自备"})
	in.Steps[0].Sort = "第一"
	row := len(in.Materials) - 1

	err := s.UpdateGuide(ctx, 0, it.ID, it.Version, in, rsjEditor)
	verr, ok := AsValidationError(err)
	if !ok {
		t.Fatalf("bad input: %v, want a ValidationError", err)
	}
	want := map[string]string{
		"name":                 "请填写事项名称",
		"promised_limit.value": "不能长于法定办结时限（20 个工作日）",
		"online_url":           "http:// 或 https://",
		"consult_phone":        "只能由数字",
		"theme":                "没有这个主题分类",
		"materials." + strconv.Itoa(row) + ".name":   "请填写材料名称",
		"materials." + strconv.Itoa(row) + ".copies": "纸质份数应为 0 到 99",
		"steps.0.sort": "顺序应为",
	}
	for key, msg := range want {
		if !strings.Contains(verr.Field(key), msg) {
			t.Errorf("%s: %q, want it to say %q", key, verr.Field(key), msg)
		}
	}
	if len(verr.Fields) != len(want) {
		t.Errorf("messages %v, want only %d", verr.Fields, len(want))
	}
	if after := guideRecord(guideOf(t, s, it.Code)); !mapsEqual(before, after) {
		t.Fatal("bad input changed the guide")
	}

	// Promised against legal: only compared in the same unit; 即办 allows
	// only 即办.
	for _, c := range []struct {
		legal, promised LimitInput
		ok              bool
	}{
		{LimitInput{Value: "10", Unit: "自然日"}, LimitInput{Value: "12", Unit: "工作日"}, true},
		{LimitInput{Value: "10", Unit: "工作日"}, LimitInput{Value: "10", Unit: "工作日"}, true},
		{LimitInput{Value: "10", Unit: "工作日"}, LimitInput{Value: "0", Unit: "工作日"}, true},
		{LimitInput{Value: "0", Unit: "工作日"}, LimitInput{Value: "1", Unit: "自然日"}, false},
		{LimitInput{Value: "", Unit: "工作日"}, LimitInput{Value: "1", Unit: "工作日"}, false},
		{LimitInput{Value: "5", Unit: "月"}, LimitInput{Value: "1", Unit: "工作日"}, false},
	} {
		in := GuideInputOf(it)
		in.LegalLimit, in.PromisedLimit = c.legal, c.promised
		_, errs := in.parse()
		if (len(errs) == 0) != c.ok {
			t.Errorf("legal %v, promised %v: %v", c.legal, c.promised, errs)
		}
	}
	// A 全程网办 item must be online; a URL without the box is a slip.
	in = GuideInputOf(it)
	in.Visits, in.Online, in.OnlineURL = "0", false, ""
	if _, errs := in.parse(); errs["visits"] == "" {
		t.Errorf("全程网办 without 网上办理: %v", errs)
	}
	in.Visits, in.OnlineURL = "1", "https://zwfw.example.gov.cn/"
	if _, errs := in.parse(); errs["online"] == "" {
		t.Errorf("a URL without 网上办理: %v", errs)
	}
	for _, u := range []string{"ftp://x.example/", "https://", "//evil.example/", "https://user@evil.example/", "http://a b.example/"} {
		in := GuideInputOf(it)
		in.OnlineURL = u
		if _, errs := in.parse(); errs["online_url"] == "" {
			t.Errorf("online URL %q accepted", u)
		}
	}
	// Steps cannot all go; a deleted row with a bad value is just deleted.
	in = GuideInputOf(it)
	for i := range in.Steps {
		in.Steps[i].Delete = true
	}
	in.Materials[0].Delete, in.Materials[0].Name = true, ""
	if _, errs := in.parse(); errs["steps"] == "" || len(errs) != 1 {
		t.Errorf("no steps: %v", errs)
	}
}

func TestGuideStatus(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	rsj := departmentID(t, s, "rsj")
	it := guideOf(t, s, "11QHRSJ0001-01")

	got, err := s.SetGuidePublished(ctx, rsj, it.ID, false, rsjEditor)
	if err != nil {
		t.Fatal(err)
	}
	if got.Published || got.Version != it.Version+1 || !got.UpdatedAt.Equal(it.UpdatedAt) || got.Status() != GuideUnpublished {
		t.Fatalf("withdrawn: %+v", got)
	}
	if _, err := s.FindGuideByCode(ctx, it.Code); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a withdrawn guide is public: %v", err)
	}
	list, err := s.ListGuidesForAdmin(ctx, rsj)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range list {
		if l.Department.Slug != "rsj" {
			t.Fatalf("another department's item listed: %s", l.Code)
		}
		if l.ID == it.ID {
			found = l.StatusLabel() == "未发布"
		}
	}
	if !found {
		t.Fatal("the admin list lacks the unpublished item or its status")
	}
	// Withdrawing again changes nothing.
	if again, err := s.SetGuidePublished(ctx, rsj, it.ID, false, rsjEditor); err != nil || again.Version != got.Version {
		t.Fatalf("withdrawing twice: %v", err)
	}
	if _, err := s.SetGuidePublished(ctx, rsj, it.ID, true, rsjEditor); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindGuideByCode(ctx, it.Code); err != nil {
		t.Fatalf("republished: %v", err)
	}

	// 23:30 UTC on 1 March is 2 March in China.
	now := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	got, err = s.SetGuideRepealed(ctx, rsj, it.ID, true, rsjEditor, now)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := s.FindGuideByCode(ctx, it.Code)
	if err != nil || pub.RepealedAt == nil || pub.RepealedAt.Format("2006-01-02") != "2026-03-02" {
		t.Fatalf("repealed: %v %v", pub.RepealedAt, err)
	}
	if got.StatusLabel() != "已废止（2026-03-02）" || got.Status() != GuideRepealed {
		t.Fatalf("status %q", got.StatusLabel())
	}
	if _, err := s.SetGuideRepealed(ctx, rsj, it.ID, false, rsjEditor, now); err != nil {
		t.Fatal(err)
	}
	if pub, _ := s.FindGuideByCode(ctx, it.Code); pub.RepealedAt != nil {
		t.Fatal("the repeal was not undone")
	}

	other := guideOf(t, s, "11QHHZK0002-01")
	if _, err := s.SetGuidePublished(ctx, rsj, other.ID, false, rsjEditor); !errors.Is(err, ErrNotFound) {
		t.Fatalf("withdrawing another department's item: %v", err)
	}
	if _, err := s.SetGuideRepealed(ctx, rsj, other.ID, true, rsjEditor, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("repealing another department's item: %v", err)
	}
	if o := guideOf(t, s, other.Code); !o.Published || o.RepealedAt != nil || o.Version != other.Version {
		t.Fatal("a refused change was stored")
	}
	for _, action := range []string{"停止发布办事指南", "发布办事指南", "废止办事事项", "撤销废止"} {
		if n := len(auditActions(t, s, action)); n != 1 {
			t.Errorf("%s: %d audit entries, want 1", action, n)
		}
	}
	// A form opened before the status changed meets a conflict.
	if err := s.UpdateGuide(ctx, rsj, it.ID, it.Version, GuideInputOf(it), rsjEditor); !errors.Is(err, ErrConflict) {
		t.Fatalf("a stale form after a status change: %v", err)
	}
}

func TestUndoRepealAndMoveDepartment(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	it, err := s.FindGuideByCode(ctx, "11QHRSJ0001-01")
	if err != nil {
		t.Fatal(err)
	}
	by := Actor{UserID: 1, Login: "admin", Name: "中心管理员"}
	now := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	if _, err := s.SetGuideRepealed(ctx, 0, it.ID, true, by, now); err != nil {
		t.Fatal(err)
	}
	undone, err := s.SetGuideRepealed(ctx, 0, it.ID, false, by, now)
	if err != nil {
		t.Fatal(err)
	}
	if undone.RepealedAt != nil {
		t.Fatalf("an undone repeal still reads as repealed: %v", undone.RepealedAt)
	}
	page, _ := s.FindAuditEntries(ctx, AuditFilter{Username: "admin"})
	if page.Total < 2 || page.Entries[0].Before == page.Entries[0].After {
		t.Fatalf("the audit of the undo must show a change: %+v", page.Entries[0])
	}

	// Moving the item to another department unlinks the old department's
	// counters.
	fresh, err := s.FindGuideForEdit(ctx, 0, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	in := GuideInputOf(fresh)
	in.Department = "hzk"
	if err := s.UpdateGuide(ctx, 0, it.ID, fresh.Version, in, by); err != nil {
		t.Fatal(err)
	}
	moved, err := s.FindGuideByCode(ctx, "11QHRSJ0001-01")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range moved.Counters {
		if c.DepartmentID != moved.DepartmentID {
			t.Fatalf("the moved item is still at %s of another department", c.Code)
		}
	}
}

// TestGuideStateInSearch: search follows a guide's state. Withdrawn, it is
// neither listed nor counted; published again, it is both; repealed, it
// stays listed (its guide says since when), and its index rows stay one of
// each, with a rank row for each word with synonyms its name has, whatever
// the order of the changes.
func TestGuideStateInSearch(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	rsj := departmentID(t, s, "rsj")
	it := guideOf(t, s, "11QHRSJ0001-01")
	// A word of its name that other items' names have too: the search
	// finds them whether or not it finds this one.
	const word = "养老保险"
	if !strings.Contains(it.Name, word) {
		t.Fatalf("%s is not a %s item", it.Name, word)
	}
	total := mustFind(t, s, GuideFilter{Query: word}).Total
	listed := func(when string, want bool) {
		t.Helper()
		res := mustFind(t, s, GuideFilter{Query: word, PerPage: 100})
		got := false
		for _, g := range res.Hits {
			got = got || g.ID == it.ID
		}
		if got != want {
			t.Errorf("%s: listed %v, want %v", when, got, want)
		}
		// The counts come from the index's keys, not from the items.
		if wantTotal := total - 1 + boolInt(want); res.Total != wantTotal {
			t.Errorf("%s: %d found, want %d", when, res.Total, wantTotal)
		}
		if s.dialect == dialectSQLite {
			var rows, names, ranks int
			s.db.Raw("SELECT COUNT(*) FROM service_item_search WHERE rowid >> ? = ?", facetBits, it.ID).Scan(&rows)
			s.db.Raw("SELECT COUNT(*) FROM service_item_names WHERE rowid >> ? = ? AND rowid & ? = 0", facetBits, it.ID, rankRow).Scan(&names)
			s.db.Raw("SELECT COUNT(*) FROM service_item_names WHERE rowid >> ? = ? AND rowid & ? != 0", facetBits, it.ID, rankRow).Scan(&ranks)
			g, c := tokenize(it.Name)
			if want := len(wordMatches([][]string{g}, c)); rows != 1 || names != 1 || ranks != want {
				t.Errorf("%s: %d rows of the item in the index, %d of its name and %d rank rows, want one, one and %d",
					when, rows, names, ranks, want)
			}
		}
	}
	listed("as loaded", true)
	steps := []struct {
		name   string
		change func() error
		listed bool
	}{
		{"withdrawn", func() error { _, err := s.SetGuidePublished(ctx, rsj, it.ID, false, rsjEditor); return err }, false},
		{"repealed while withdrawn", func() error {
			_, err := s.SetGuideRepealed(ctx, rsj, it.ID, true, rsjEditor, time.Now())
			return err
		}, false},
		{"published again, repealed", func() error { _, err := s.SetGuidePublished(ctx, rsj, it.ID, true, rsjEditor); return err }, true},
		{"in force again", func() error {
			_, err := s.SetGuideRepealed(ctx, rsj, it.ID, false, rsjEditor, time.Now())
			return err
		}, true},
	}
	for _, st := range steps {
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		listed(st.name, st.listed)
	}
}
