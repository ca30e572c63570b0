package models

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPasswordHashing(t *testing.T) {
	long := strings.Repeat("政务服务", 20) // 240 bytes: bcrypt would cut it at 72
	hash, err := HashPassword(long)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id", hash)
	}
	if !checkPassword(hash, long) || checkPassword(hash, long[:len(long)-3]) {
		t.Fatal("a long Chinese password must match whole, and only whole")
	}
	other, _ := HashPassword(long)
	if other == hash {
		t.Fatal("two hashes of one password must differ (random salt)")
	}
	if checkPassword(dummyHash, "") {
		t.Fatal("the dummy hash must match nothing")
	}
}

func TestAuthenticateAndThrottle(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	if _, err := s.CreateUser(ctx, UserInput{Username: "Wang.Min", DisplayName: "王敏", Password: "人社局服务为民2026", Role: RoleDepartmentAdmin, Department: "rsj"}); err != nil {
		t.Fatal(err)
	}
	limits := SignInLimits{PerAccount: 3, PerAddress: 5, Window: 15 * time.Minute}
	now := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	u, err := s.Authenticate(ctx, " wang.min ", "人社局服务为民2026", "10.0.0.1", limits, now)
	if err != nil || u.Department == nil || u.Department.Slug != "rsj" || !u.CanManage(u.Department.ID) || u.CanManage(u.Department.ID+1) {
		t.Fatalf("sign-in: %v %+v", err, u)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.Authenticate(ctx, "wang.min", "wrong", "10.0.0.1", limits, now); !errors.Is(err, ErrSignInFailed) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := s.Authenticate(ctx, "wang.min", "人社局服务为民2026", "10.0.0.2", limits, now); !errors.Is(err, ErrSignInThrottled) {
		t.Fatalf("after 3 failures the account is throttled even with the right password: %v", err)
	}
	if _, err := s.Authenticate(ctx, "wang.min", "人社局服务为民2026", "10.0.0.2", limits, now.Add(16*time.Minute)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	// Unknown usernames fail exactly like wrong passwords, and count
	// against the address.
	for i := 0; i < 5; i++ {
		if _, err := s.Authenticate(ctx, "nobody"+string(rune('a'+i)), "x", "10.0.0.9", limits, now); !errors.Is(err, ErrSignInFailed) {
			t.Fatalf("unknown user: %v", err)
		}
	}
	if _, err := s.Authenticate(ctx, "wang.min", "人社局服务为民2026", "10.0.0.9", limits, now); !errors.Is(err, ErrSignInThrottled) {
		t.Fatalf("an address with many failures is throttled: %v", err)
	}
	if err := s.db.Model(&User{}).Where("username = ?", "wang.min").Update("disabled", true).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "wang.min", "人社局服务为民2026", "10.0.0.3", limits, now.Add(time.Hour)); !errors.Is(err, ErrSignInFailed) {
		t.Fatalf("a disabled user: %v", err)
	}
}

func TestCreateUserAndChangePassword(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	_, err := s.CreateUser(ctx, UserInput{Username: "1x", Password: "short", Role: "boss"})
	v, ok := AsValidationError(err)
	if !ok || v.Field("username") == "" || v.Field("password") == "" || v.Field("role") == "" || v.Field("display_name") == "" {
		t.Fatalf("bad input: %v", err)
	}
	u, err := s.CreateUser(ctx, UserInput{Username: "li.qiang", DisplayName: "李强", Password: "0123456789a", Role: RoleSystemAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, UserInput{Username: "li.qiang", DisplayName: "李强", Password: "0123456789a", Role: RoleSystemAdmin}); err == nil {
		t.Fatal("a duplicate username must be refused")
	} else if v, ok := AsValidationError(err); !ok || v.Field("username") == "" {
		t.Fatalf("duplicate username: %v", err)
	}
	if err := s.ChangePassword(ctx, u.ID, "wrong-current", "a-new-password"); !isValidation(err) {
		t.Fatalf("wrong current password: %v", err)
	}
	if err := s.ChangePassword(ctx, u.ID, "0123456789a", "一个足够长的全新密码串"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "li.qiang", "一个足够长的全新密码串", "1.1.1.1", DefaultSignInLimits(), time.Now()); err != nil {
		t.Fatalf("the new password: %v", err)
	}
}

func TestCaseStepsAreAudited(t *testing.T) {
	ctx := context.Background()
	s := newDemoStore(t)
	rec := rate(t, s, RatingInput{CounterCode: "B01", Level: LevelDissatisfied, Reasons: []string{"话难听"}, Device: "x", Address: "y"}, at("2026-11-20 10:00"))
	by := Actor{UserID: 7, Name: "人社局 王敏"}
	if err := s.RecordCallback(ctx, rec.Case.ID, rec.Case.DepartmentID, CaseStep{By: by, Note: "已电话联系"}, at("2026-11-20 11:00")); err != nil {
		t.Fatal(err)
	}
	page, err := s.FindAuditEntries(ctx, AuditFilter{Username: "王敏"})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 1 || page.Entries[0].UserID != 7 || !strings.Contains(page.Entries[0].Before, "待回访") ||
		!strings.Contains(page.Entries[0].After, "已回访") || page.Entries[0].Object != "督办单 "+rec.Case.Number {
		t.Fatalf("audit: %+v", page.Entries)
	}
	queue, err := s.FindCaseQueue(ctx, rec.Case.DepartmentID, at("2026-11-30 10:00"))
	if err != nil || len(queue) == 0 || queue[0].ID != rec.Case.ID {
		t.Fatalf("queue: %v %d", err, len(queue))
	}
}
