package models

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"gorm.io/gorm"
)

// The roles of staff accounts.
const (
	// RoleSystemAdmin (系统管理员) manages departments, counters and users
	// and sees everything.
	RoleSystemAdmin = "sysadmin"
	// RoleDepartmentAdmin (部门管理员) works on one department only.
	RoleDepartmentAdmin = "deptadmin"
)

// User is a staff account of the admin area.
type User struct {
	ID           uint   `gorm:"primaryKey"`
	Username     string `gorm:"size:40;not null;uniqueIndex"`
	DisplayName  string `gorm:"size:40;not null"`
	PasswordHash string `gorm:"size:200;not null"`
	Role         string `gorm:"size:20;not null"`
	// DepartmentID is the department of a 部门管理员; nil for a 系统管理员.
	DepartmentID *uint
	Department   *Department `gorm:"constraint:OnDelete:RESTRICT"`
	Disabled     bool        `gorm:"not null"`
	// SessionVersion is written into the user's session cookies; raising it
	// (at sign-out, password change or disabling) ends every session at
	// once, though cookies carry no server-side state.
	SessionVersion int `gorm:"not null"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RoleLabel is the user's role as staff read it.
func (u User) RoleLabel() string {
	if u.Role == RoleSystemAdmin {
		return "系统管理员"
	}
	return "部门管理员"
}

// CanManage reports whether the user may change what belongs to a
// department: a 系统管理员 any, a 部门管理员 only their own.
func (u User) CanManage(departmentID uint) bool {
	if u.Role == RoleSystemAdmin {
		return true
	}
	return u.DepartmentID != nil && *u.DepartmentID == departmentID
}

// Argon2id parameters: OWASP's minimum for interactive logins (19 MiB, two
// passes), so that a sign-in costs tens of milliseconds on two cores and a
// stolen hash costs an attacker as much. bcrypt is not used: it ignores
// everything past 72 bytes, which is 24 Chinese characters.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns the argon2id hash of a password in the PHC string
// format, with a random salt.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// checkPassword reports whether password matches a hash made by
// HashPassword, in constant time.
func checkPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when a username does not exist, so that a
// sign-in takes as long either way and does not tell which usernames exist.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$7f9rZ3Uo0f8m1pC7Xb9Yc3o9l6j0mQ1Jz8iYw3nqv1g"

// SignInLimits throttle failed sign-ins.
type SignInLimits struct {
	// PerAccount and PerAddress failures within Window lock further tries.
	PerAccount, PerAddress int
	Window                 time.Duration
}

// DefaultSignInLimits are 5 failures an account and 20 an address in 15
// minutes.
func DefaultSignInLimits() SignInLimits {
	return SignInLimits{PerAccount: 5, PerAddress: 20, Window: 15 * time.Minute}
}

// signInFailure records a failed sign-in or case lookup, by account (or case
// number) and by address (both
// hashed: the log of failures must not become a list of usernames tried).
type signInFailure struct {
	ID          uint      `gorm:"primaryKey"`
	AccountHash string    `gorm:"size:64;not null;index:idx_sign_in_failures_account,priority:1"`
	AddressHash string    `gorm:"size:64;not null;index:idx_sign_in_failures_address,priority:1"`
	CreatedAt   time.Time `gorm:"not null;index:idx_sign_in_failures_account,priority:2;index:idx_sign_in_failures_address,priority:2"`
}

func (signInFailure) TableName() string { return "sign_in_failures" }

// throttled reports whether a key (an account, a case number) or an
// address has had too many failures within the window. Sign-in and the case
// lookup share it.
func throttled(db *gorm.DB, key, address string, limits SignInLimits, now time.Time) (bool, error) {
	since := now.UTC().Add(-limits.Window)
	var byKey, byAddress int64
	if err := db.Model(&signInFailure{}).Where("account_hash = ? AND created_at > ?", key, since).Count(&byKey).Error; err != nil {
		return false, err
	}
	if err := db.Model(&signInFailure{}).Where("address_hash = ? AND created_at > ?", address, since).Count(&byAddress).Error; err != nil {
		return false, err
	}
	return byKey >= int64(limits.PerAccount) || byAddress >= int64(limits.PerAddress), nil
}

// recordFailure counts one failure against a key and an address.
func recordFailure(db *gorm.DB, key, address string, now time.Time) error {
	return db.Create(&signInFailure{AccountHash: key, AddressHash: address, CreatedAt: now.UTC()}).Error
}

// ErrSignInFailed means a wrong username or password, or a disabled
// account: deliberately one error, so that none of them can be told apart.
var ErrSignInFailed = errors.New("sign-in failed")

// ErrSignInThrottled means too many failed sign-ins for the account or the
// address; try again after the window.
var ErrSignInThrottled = errors.New("sign-in throttled")

// Authenticate checks a username and password under the throttling limits
// and returns the user.
func (s *Store) Authenticate(ctx context.Context, username, password, address string, limits SignInLimits, now time.Time) (*User, error) {
	db := s.db.WithContext(ctx)
	username = strings.ToLower(strings.TrimSpace(username))
	account, addr := hashOf("account", username), hashOf("address", address)
	if locked, err := throttled(db, account, addr, limits, now); err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	} else if locked {
		return nil, ErrSignInThrottled
	}
	var u User
	err := db.Preload("Department").Where("username = ?", username).First(&u).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = dummyHash
	}
	ok := checkPassword(hash, password) && u.ID != 0 && !u.Disabled
	if !ok {
		if err := recordFailure(db, account, addr, now); err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		return nil, ErrSignInFailed
	}
	if err := db.Where("account_hash = ?", account).Delete(&signInFailure{}).Error; err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return &u, nil
}

// FindUser returns an enabled user by ID, for the session of each request.
func (s *Store) FindUser(ctx context.Context, id uint) (*User, error) {
	var u User
	err := s.db.WithContext(ctx).Preload("Department").Where("id = ? AND disabled = ?", id, false).First(&u).Error
	if err != nil {
		return nil, fmt.Errorf("find user %d: %w", id, mapError(err))
	}
	return &u, nil
}

// UserInput is what creates a user.
type UserInput struct {
	Username, DisplayName, Password, Role string
	// Department is the slug of a 部门管理员's department.
	Department string
}

var usernamePattern = regexp.MustCompile(`^[a-z][a-z0-9._-]{2,39}$`)

// MinPasswordRunes is the shortest password accepted.
const MinPasswordRunes = 10

func validatePassword(errs map[string]string, field, password string) {
	switch n := utf8.RuneCountInString(password); {
	case n < MinPasswordRunes:
		errs[field] = fmt.Sprintf("密码至少 %d 位（汉字、字母、数字、符号均可）。", MinPasswordRunes)
	case n > 200:
		errs[field] = "密码不能超过 200 个字符。"
	}
}

// CreateUser adds a staff account.
func (s *Store) CreateUser(ctx context.Context, in UserInput) (*User, error) {
	errs := map[string]string{}
	in.Username = strings.ToLower(strings.TrimSpace(in.Username))
	if !usernamePattern.MatchString(in.Username) {
		errs["username"] = "用户名为 3–40 位小写字母、数字、“.”“_”“-”，以字母开头。"
	}
	requireText(errs, "display_name", in.DisplayName, "姓名", 40)
	validatePassword(errs, "password", in.Password)
	u := User{Username: in.Username, DisplayName: strings.TrimSpace(in.DisplayName), Role: in.Role}
	switch in.Role {
	case RoleSystemAdmin:
	case RoleDepartmentAdmin:
		var d Department
		if err := s.db.WithContext(ctx).Where("slug = ?", in.Department).First(&d).Error; err != nil {
			errs["department"] = "请选择部门管理员所属的部门。"
		} else {
			u.DepartmentID = &d.ID
		}
	default:
		errs["role"] = "请选择角色：系统管理员或部门管理员。"
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	u.PasswordHash = hash
	if err := s.db.WithContext(ctx).Omit("Department").Create(&u).Error; err != nil {
		if errors.Is(mapError(err), ErrConflict) {
			return nil, &ValidationError{Fields: map[string]string{"username": "该用户名已被使用，请换一个。"}}
		}
		return nil, fmt.Errorf("create user: %w", mapError(err))
	}
	return &u, nil
}

// ChangePassword sets a new password after checking the current one.
func (s *Store) ChangePassword(ctx context.Context, userID uint, current, next string) error {
	var u User
	if err := s.db.WithContext(ctx).First(&u, userID).Error; err != nil {
		return fmt.Errorf("change password: %w", mapError(err))
	}
	errs := map[string]string{}
	if !checkPassword(u.PasswordHash, current) {
		errs["current"] = "当前密码不正确。"
	}
	validatePassword(errs, "password", next)
	if len(errs) == 0 && current == next {
		errs["password"] = "新密码不能与当前密码相同。"
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	hash, err := HashPassword(next)
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&u).Updates(map[string]any{"password_hash": hash, "session_version": gorm.Expr("session_version + 1")}).Error; err != nil {
			return err
		}
		return audit(tx, Actor{UserID: u.ID, Login: u.Username, Name: u.DisplayName}, "修改密码", "用户 "+u.Username, nil, nil, time.Now().UTC())
	})
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}

// EndSessions ends every session of a user: at sign-out, so that a copied
// cookie is worthless too.
func (s *Store) EndSessions(ctx context.Context, userID uint) error {
	err := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).
		Update("session_version", gorm.Expr("session_version + 1")).Error
	if err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

// DemoPassword is the password of the demo data set's staff accounts. They
// exist only where the demo data is loaded; a real deployment creates its
// first administrator with `portal create-admin`.
const DemoPassword = "qinghe-demo-2026"

// LoadDemoUsers adds the demo staff accounts, if there are no accounts yet:
// "admin", a 系统管理员, and "<slug>.admin", the 部门管理员 of each
// department. It returns how many it added.
func (s *Store) LoadDemoUsers(ctx context.Context) (int, error) {
	db := s.db.WithContext(ctx)
	var n int64
	if err := db.Model(&User{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("load demo users: %w", err)
	}
	if n > 0 {
		return 0, nil
	}
	var depts []Department
	if err := db.Order("sort, id").Find(&depts).Error; err != nil {
		return 0, fmt.Errorf("load demo users: %w", err)
	}
	inputs := []UserInput{{Username: "admin", DisplayName: "中心管理员", Password: DemoPassword, Role: RoleSystemAdmin}}
	for _, d := range depts {
		inputs = append(inputs, UserInput{Username: d.Slug + ".admin", DisplayName: d.ShortName + "管理员",
			Password: DemoPassword, Role: RoleDepartmentAdmin, Department: d.Slug})
	}
	for _, in := range inputs {
		if _, err := s.CreateUser(ctx, in); err != nil {
			return 0, fmt.Errorf("load demo users: %s: %w", in.Username, err)
		}
	}
	return len(inputs), nil
}

// ListUsers returns every staff account, 系统管理员 first.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	var users []User
	err := s.db.WithContext(ctx).Preload("Department").Order("role DESC, username").Find(&users).Error
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// CreateUserBy adds a staff account on behalf of a 系统管理员 and audits it.
func (s *Store) CreateUserBy(ctx context.Context, in UserInput, by Actor) (*User, error) {
	u, err := s.CreateUser(ctx, in)
	if err != nil {
		return nil, err
	}
	dept := "全部"
	if u.Role == RoleDepartmentAdmin {
		dept = in.Department
	}
	err = audit(s.db.WithContext(ctx), by, "新增用户", "用户 "+u.Username, nil,
		map[string]string{"姓名": u.DisplayName, "角色": u.RoleLabel(), "部门": dept}, time.Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// SetUserDisabled disables (ending every session at once) or re-enables an
// account. Nobody disables their own account: a portal must never lose its
// last administrator by a slip.
func (s *Store) SetUserDisabled(ctx context.Context, id uint, disabled bool, by Actor) error {
	if disabled && id == by.UserID {
		return &ValidationError{Fields: map[string]string{"user": "不能停用自己的账号。"}}
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := forUpdate(tx).First(&u, id).Error; err != nil {
			return err
		}
		if u.Disabled == disabled {
			return nil
		}
		if err := tx.Model(&u).Updates(map[string]any{"disabled": disabled, "session_version": gorm.Expr("session_version + 1")}).Error; err != nil {
			return err
		}
		action := "启用用户"
		if disabled {
			action = "停用用户"
		}
		return audit(tx, by, action, "用户 "+u.Username, map[string]bool{"停用": !disabled}, map[string]bool{"停用": disabled}, time.Now().UTC())
	})
	if err != nil {
		return fmt.Errorf("set user %d disabled: %w", id, mapError(err))
	}
	return nil
}

// ResetPassword sets a new password for a user who forgot theirs, ending
// their sessions; the 系统管理员 hands it over in person.
func (s *Store) ResetPassword(ctx context.Context, id uint, password string, by Actor) error {
	errs := map[string]string{}
	validatePassword(errs, "password", password)
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := forUpdate(tx).First(&u, id).Error; err != nil {
			return err
		}
		if err := tx.Model(&u).Updates(map[string]any{"password_hash": hash, "session_version": gorm.Expr("session_version + 1")}).Error; err != nil {
			return err
		}
		return audit(tx, by, "重置密码", "用户 "+u.Username, nil, nil, time.Now().UTC())
	})
	if err != nil {
		return fmt.Errorf("reset password of user %d: %w", id, mapError(err))
	}
	return nil
}
