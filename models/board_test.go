package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestFindBoard(t *testing.T) {
	s := newDemoStore(t)
	b, err := s.FindBoard(context.Background(), "rsj")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Sections) < 3 || b.EntryCount() < 6 || len(b.Boundaries) == 0 {
		t.Fatalf("rsj board: %d sections, %d entries, %d boundaries", len(b.Sections), b.EntryCount(), len(b.Boundaries))
	}
	for _, bd := range b.Boundaries {
		if bd.OtherDepartment.Slug == "" || bd.OtherDepartment.Slug == "rsj" {
			t.Fatalf("boundary %q links to %q", bd.Matter, bd.OtherDepartment.Slug)
		}
	}
	if len(b.Counters) == 0 || len(b.Items) == 0 {
		t.Fatalf("rsj board: %d counters, %d items", len(b.Counters), len(b.Items))
	}
	if len(b.Versions) != 1 || b.Versions[0].Number != 1 || b.LastUpdated.IsZero() {
		t.Fatalf("a freshly loaded board has one version: %+v", b.Versions)
	}
	e := b.Sections[0].Entries[0]
	if e.PersonName == "" || len(e.TaskList()) == 0 || len(e.AccountabilityList()) == 0 {
		t.Fatalf("entry lacks its responsible person, tasks or accountability: %+v", e)
	}
	if _, err := s.FindBoard(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown slug: %v, want ErrNotFound", err)
	}
}

func validEntry() DutyEntryInput {
	return DutyEntryInput{
		Duty: "灵活就业人员参保登记", Tasks: "受理环节：一次性告知所需材料\n审核环节：当场核验",
		Basis: "《中华人民共和国社会保险法》", Accountability: "对符合条件的申请不予受理的",
		Office: "社会保险经办科", PersonName: "林晓东", PersonPost: "科长", Phone: "8812 3412",
	}
}

func TestBoardChangesAreVersioned(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	b, err := s.FindBoard(ctx, "rsj")
	if err != nil {
		t.Fatal(err)
	}
	dept, sec := b.Department.ID, b.Sections[0]
	entry := sec.Entries[0]

	in := DutyEntryInput{Duty: entry.Duty, Tasks: entry.Tasks, Basis: entry.Basis, Accountability: entry.Accountability,
		Office: entry.Office, PersonName: "王建新", PersonPost: entry.PersonPost, Phone: "8812 3499"}
	zhang, li := Actor{UserID: 1, Name: "人社局 张敏"}, Actor{UserID: 2, Name: "人社局 李强"}
	if err := s.UpdateDutyEntry(ctx, dept, entry.ID, entry.Version, in, zhang); err != nil {
		t.Fatal(err)
	}
	// The same save again, from a form of the old version: a conflict.
	if err := s.UpdateDutyEntry(ctx, dept, entry.ID, entry.Version, in, zhang); !errors.Is(err, ErrConflict) {
		t.Fatalf("a save from an old version: %v, want ErrConflict", err)
	}
	// From the new version with nothing changed: nothing recorded.
	if err := s.UpdateDutyEntry(ctx, dept, entry.ID, entry.Version+1, in, zhang); err != nil {
		t.Fatal(err)
	}
	added, err := s.AddDutyEntry(ctx, dept, sec.ID, validEntry(), zhang)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDutyEntry(ctx, dept, added.ID, li); err != nil {
		t.Fatal(err)
	}

	b, err = s.FindBoard(ctx, "rsj")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Sections[0].Entries[0]; got.PersonName != "王建新" || got.Phone != "8812 3499" {
		t.Fatalf("the board does not show the change: %+v", got)
	}
	if len(b.Versions) != 4 {
		t.Fatalf("%d versions, want 4: published, updated (the repeat save records nothing), added, deleted", len(b.Versions))
	}
	upd := b.Versions[2]
	if upd.Author != "人社局 张敏" || !strings.Contains(upd.Summary, "责任人") || !strings.Contains(upd.Summary, "联系电话") {
		t.Fatalf("update version: %+v", upd)
	}
	changes := upd.ChangeList()
	if len(changes) != 2 || changes[0].Before != entry.PersonName || changes[0].After != "王建新" {
		t.Fatalf("recorded changes %+v, want 责任人 %s → 王建新 and 联系电话", changes, entry.PersonName)
	}
	del := b.Versions[0]
	if del.Author != "人社局 李强" || !strings.Contains(del.Summary, "删除责任事项“灵活就业人员参保登记”") ||
		del.ChangeList()[0].Before != "灵活就业人员参保登记" {
		t.Fatalf("delete version keeps what was removed: %+v", del)
	}
	if !b.LastUpdated.Equal(del.CreatedAt) {
		t.Fatalf("最后更新 %v, want the last change %v", b.LastUpdated, del.CreatedAt)
	}
}

func TestBoardChangesAreChecked(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	rsj, _ := s.FindBoard(ctx, "rsj")
	hzk, _ := s.FindBoard(ctx, "hzk")
	before := snapshotBoards(t, s)

	bad := validEntry()
	bad.Duty, bad.Phone, bad.PersonName = "", "请致电办公室", strings.Repeat("名", 41)
	x := Actor{Name: "x"}
	_, err := s.AddDutyEntry(ctx, rsj.Department.ID, rsj.Sections[0].ID, bad, x)
	verr, ok := AsValidationError(err)
	if !ok || verr.Field("duty") == "" || verr.Field("phone") == "" || verr.Field("person_name") == "" {
		t.Fatalf("err = %v, want messages on duty, phone and person_name", err)
	}
	// Another department's entry or section is out of reach.
	other := hzk.Sections[0].Entries[0].ID
	if err := s.UpdateDutyEntry(ctx, rsj.Department.ID, other, 1, validEntry(), x); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of another department's entry: %v, want ErrNotFound", err)
	}
	if err := s.DeleteDutyEntry(ctx, rsj.Department.ID, other, x); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of another department's entry: %v, want ErrNotFound", err)
	}
	if _, err := s.AddDutyEntry(ctx, rsj.Department.ID, hzk.Sections[0].ID, validEntry(), x); !errors.Is(err, ErrNotFound) {
		t.Fatalf("add to another department's section: %v, want ErrNotFound", err)
	}
	if after := snapshotBoards(t, s); after != before {
		t.Fatalf("rejected changes changed the boards: %s → %s", before, after)
	}
}

func snapshotBoards(t *testing.T, s *Store) string {
	t.Helper()
	var n struct{ Entries, Versions int }
	if err := s.db.Raw("SELECT (SELECT COUNT(*) FROM duty_entries) AS entries, (SELECT COUNT(*) FROM board_versions) AS versions").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d entries, %d versions", n.Entries, n.Versions)
}

func TestMoveDutyEntry(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	b, _ := s.FindBoard(ctx, "rsj")
	first, second := b.Sections[0].Entries[0], b.Sections[0].Entries[1]
	if err := s.MoveDutyEntry(ctx, b.Department.ID, second.ID, -1, Actor{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.MoveDutyEntry(ctx, b.Department.ID, second.ID, -1, Actor{Name: "x"}); err != nil {
		t.Fatal("moving the first entry up must do nothing, not fail:", err)
	}
	b, _ = s.FindBoard(ctx, "rsj")
	if b.Sections[0].Entries[0].ID != second.ID || b.Sections[0].Entries[1].ID != first.ID || len(b.Versions) != 2 {
		t.Fatalf("after moving up: %d, %d; %d versions", b.Sections[0].Entries[0].ID, b.Sections[0].Entries[1].ID, len(b.Versions))
	}
}

func TestBoardListsTheMostUsedItemsAndCountsAll(t *testing.T) {
	s := newTestStore(t)
	generateCatalogue(t, s, 1000)
	b, err := s.FindBoard(context.Background(), "rsj")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Items) != BoardItemLimit || b.ItemCount <= BoardItemLimit {
		t.Fatalf("board lists %d of %d items, want %d of more", len(b.Items), b.ItemCount, BoardItemLimit)
	}
	for i := 1; i < len(b.Items); i++ {
		if b.Items[i].ViewCount > b.Items[i-1].ViewCount {
			t.Fatalf("item %d has more views than the one before it", i)
		}
	}
	small := newDemoStore(t)
	d, err := small.FindBoard(context.Background(), "rsj")
	if err != nil {
		t.Fatal(err)
	}
	if d.ItemCount != int64(len(d.Items)) || len(d.Items) == 0 {
		t.Fatalf("demo board: %d items listed, %d counted", len(d.Items), d.ItemCount)
	}
}
