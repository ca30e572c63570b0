package models

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Audience says whom a service item serves: people (个人办事), companies and
// other legal persons (法人办事), or both.
type Audience string

// The audiences of a service item.
const (
	AudiencePerson  Audience = "person"
	AudienceCompany Audience = "company"
	AudienceBoth    Audience = "both"
)

// Label is the audience as residents read it.
func (a Audience) Label() string {
	switch a {
	case AudiencePerson:
		return "个人"
	case AudienceCompany:
		return "法人"
	case AudienceBoth:
		return "个人、法人"
	}
	return ""
}

// Theme is a life-event theme (主题分类) such as 生育收养 for people or 企业开办
// for companies.
type Theme struct {
	ID       uint     `gorm:"primaryKey"`
	Slug     string   `gorm:"size:40;not null;uniqueIndex"`
	Name     string   `gorm:"size:40;not null"`
	Audience Audience `gorm:"size:10;not null"`
	Sort     int      `gorm:"not null;default:0"`
}

// TimeLimit is a 办结时限: a number of working or calendar days. A zero Value
// means the matter is settled on the spot (即办).
type TimeLimit struct {
	Value int    `gorm:"not null;default:0"`
	Unit  string `gorm:"size:10;not null;default:''"`
	Note  string `gorm:"size:200;not null;default:''"`
}

// String renders the limit as a guide shows it, e.g. "5 个工作日" or "即办".
func (t TimeLimit) String() string {
	if t.Value == 0 {
		return "即办"
	}
	return strconv.Itoa(t.Value) + " 个" + t.Unit
}

// ServiceItem is a 政务服务事项; its public page is the 办事指南 (guide).
//
// The index idx_service_items_cover holds what search joins on and counts
// by, so that a search reads the index, not the items' wide rows.
type ServiceItem struct {
	ID uint `gorm:"primaryKey;index:idx_service_items_cover,priority:1"`
	// Code is the 实施编码, used in the item's public URL. It never changes.
	Code      string `gorm:"size:40;not null;uniqueIndex"`
	BasicCode string `gorm:"size:20;not null;default:''"`
	Name      string `gorm:"size:200;not null"`
	// Type is the 事项类型: 行政许可, 行政给付, 行政确认, 行政裁决, 公共服务 or 其他.
	Type         string     `gorm:"size:20;not null"`
	Audience     Audience   `gorm:"size:10;not null;index:idx_service_items_cover,priority:3"`
	ThemeID      uint       `gorm:"not null;index;index:idx_service_items_cover,priority:4"`
	Theme        Theme      `gorm:"constraint:OnDelete:RESTRICT"`
	DepartmentID uint       `gorm:"not null;index;index:idx_service_items_cover,priority:5"`
	Department   Department `gorm:"constraint:OnDelete:RESTRICT"`
	Summary      string     `gorm:"size:500;not null;default:''"`
	// LegalBasis (设定依据) and Conditions (受理条件) hold one entry per line.
	LegalBasis    string     `gorm:"type:text;not null"`
	Conditions    string     `gorm:"type:text;not null"`
	Materials     []Material `gorm:"constraint:OnDelete:CASCADE"`
	Steps         []Step     `gorm:"constraint:OnDelete:CASCADE"`
	LegalLimit    TimeLimit  `gorm:"embedded;embeddedPrefix:legal_limit_"`
	PromisedLimit TimeLimit  `gorm:"embedded;embeddedPrefix:promised_limit_"`
	Fees          []Fee      `gorm:"constraint:OnDelete:CASCADE"`
	Counters      []Counter  `gorm:"many2many:counter_service_items"`
	PlaceNote     string     `gorm:"size:500;not null;default:''"`
	HoursNote     string     `gorm:"size:500;not null;default:''"`
	// Visits is 到办事现场次数: 0 means 全程网办, 1 means 最多跑一次. Fields
	// whose zero value means something carry no gorm default: gorm leaves
	// zero values out of an INSERT when a column has one.
	Visits         int    `gorm:"not null"`
	Online         bool   `gorm:"not null;default:false"`
	OnlineURL      string `gorm:"size:300;not null;default:''"`
	Appointment    bool   `gorm:"not null;default:false"`
	Delivery       bool   `gorm:"not null;default:false"`
	ConsultPhone   string `gorm:"size:40;not null;default:''"`
	SupervisePhone string `gorm:"size:40;not null;default:''"`
	// PromiseApplicable says whether 告知承诺制 applies; PromiseNote says
	// which proofs the written promise replaces.
	PromiseApplicable bool   `gorm:"not null;default:false"`
	PromiseNote       string `gorm:"size:500;not null;default:''"`
	FAQs              []FAQ  `gorm:"constraint:OnDelete:CASCADE"`
	Published         bool   `gorm:"not null;index:idx_service_items_cover,priority:2"`
	// RepealedAt marks an item that was repealed (已废止); its guide stays
	// readable and says so.
	RepealedAt *time.Time
	ViewCount  int64 `gorm:"not null;default:0;index;index:idx_service_items_cover,priority:6"`
	// Version counts the saves of the guide, for conflict detection.
	Version   int `gorm:"not null"`
	CreatedAt time.Time
	// UpdatedAt is the guide's 最后更新.
	UpdatedAt time.Time
}

// LegalBasisList returns the 设定依据 entries.
func (it ServiceItem) LegalBasisList() []string { return splitLines(it.LegalBasis) }

// ConditionList returns the 受理条件 entries.
func (it ServiceItem) ConditionList() []string { return splitLines(it.Conditions) }

// Free reports whether the item charges no fee.
func (it ServiceItem) Free() bool { return len(it.Fees) == 0 }

// VisitsLabel renders 到办事现场次数 as residents know it.
func (it ServiceItem) VisitsLabel() string {
	switch it.Visits {
	case 0:
		return "0 次（全程网办）"
	case 1:
		return "1 次（最多跑一次）"
	}
	return strconv.Itoa(it.Visits) + " 次"
}

// Material is one entry of a guide's 申请材料 list.
type Material struct {
	ID            uint   `gorm:"primaryKey"`
	ServiceItemID uint   `gorm:"not null;index"`
	Sort          int    `gorm:"not null;default:0"`
	Name          string `gorm:"size:200;not null"`
	// Necessity is 必要, 容缺 or 非必要.
	Necessity string `gorm:"size:10;not null"`
	// Form is 原件, 复印件, 电子 or 原件和复印件.
	Form   string `gorm:"size:20;not null"`
	Copies int    `gorm:"not null;default:0"`
	// Source is the 来源渠道, e.g. 申请人自备 or 政府部门核发.
	Source    string `gorm:"size:40;not null"`
	BlankForm bool   `gorm:"not null;default:false"`
	Sample    bool   `gorm:"not null;default:false"`
	Note      string `gorm:"size:500;not null;default:''"`
}

// Step is one step of a guide's 办理流程.
type Step struct {
	ID            uint   `gorm:"primaryKey"`
	ServiceItemID uint   `gorm:"not null;index"`
	Sort          int    `gorm:"not null;default:0"`
	Name          string `gorm:"size:40;not null"`
	Actor         string `gorm:"size:100;not null;default:''"`
	Duration      string `gorm:"size:40;not null;default:''"`
	Description   string `gorm:"size:500;not null;default:''"`
}

// Fee is one 收费项目 of a guide.
type Fee struct {
	ID            uint   `gorm:"primaryKey"`
	ServiceItemID uint   `gorm:"not null;index"`
	Sort          int    `gorm:"not null;default:0"`
	Item          string `gorm:"size:100;not null"`
	Standard      string `gorm:"size:200;not null"`
	Basis         string `gorm:"size:300;not null;default:''"`
}

// FAQ is one question and answer of a guide's 常见问题.
type FAQ struct {
	ID            uint   `gorm:"primaryKey"`
	ServiceItemID uint   `gorm:"not null;index"`
	Sort          int    `gorm:"not null;default:0"`
	Question      string `gorm:"size:300;not null"`
	Answer        string `gorm:"type:text;not null"`
}

// TableName keeps the table name plural and lower case like the others.
func (FAQ) TableName() string { return "faqs" }

// FindGuideByCode returns a published service item with everything its guide
// shows: materials, steps, fees and FAQ in order, its department, theme, and
// the counters that handle it.
func (s *Store) FindGuideByCode(ctx context.Context, code string) (*ServiceItem, error) {
	if !validCode(code) {
		return nil, ErrNotFound
	}
	var it ServiceItem
	err := s.db.WithContext(ctx).
		Preload("Department").
		Preload("Theme").
		Preload("Materials", orderBySort).
		Preload("Steps", orderBySort).
		Preload("Fees", orderBySort).
		Preload("FAQs", orderBySort).
		Preload("Counters", "enabled = ?", true).
		Where("code = ? AND published = ?", code, true).
		First(&it).Error
	if err != nil {
		return nil, fmt.Errorf("find guide %q: %w", code, mapError(err))
	}
	return &it, nil
}

// RecordGuideViews adds counted views to guides, by code; the handlers
// count views in memory and write them every second or so, so that a page
// served from the cache costs no write. Unknown codes count nothing.
func (s *Store) RecordGuideViews(ctx context.Context, views map[string]int) error {
	db := withoutContentChange(s.db.WithContext(ctx))
	for code, n := range views {
		err := db.Exec("UPDATE service_items SET view_count = view_count + ? WHERE code = ?", n, code).Error
		if err != nil {
			return fmt.Errorf("record guide views %s: %w", code, mapError(err))
		}
	}
	return nil
}

// FindPopularGuides returns the n most viewed published service items that
// are still in force.
func (s *Store) FindPopularGuides(ctx context.Context, n int) ([]ServiceItem, error) {
	var items []ServiceItem
	db := s.db.WithContext(ctx)
	// Read down the views index until n items qualify. Given "published =
	// ?" SQLite's planner takes the (department, published) index instead
	// and sorts every item: 0.4 s at 100,000 items, on the home page.
	err := db.Table("service_items"+sqliteIndex(db, "idx_service_items_view_count")).
		Preload("Department").
		Where("published = ? AND repealed_at IS NULL", true).
		Order("view_count DESC, id").
		Limit(n).
		Find(&items).Error
	if err != nil {
		return nil, fmt.Errorf("find popular guides: %w", mapError(err))
	}
	return items, nil
}

// ThemeSummary is a theme with its number of published service items.
type ThemeSummary struct {
	Theme
	ItemCount int
}

// FindThemes returns every theme in display order, without counts: a form
// that only names the themes need not count 100,000 items for numbers it
// does not show.
func (s *Store) FindThemes(ctx context.Context) ([]Theme, error) {
	var out []Theme
	if err := s.db.WithContext(ctx).Order("sort, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("find themes: %w", mapError(err))
	}
	return out, nil
}

// ListThemes returns every theme in display order with its count of
// published service items.
func (s *Store) ListThemes(ctx context.Context) ([]ThemeSummary, error) {
	var out []ThemeSummary
	err := s.db.WithContext(ctx).
		Table("themes").
		Select("themes.*, (SELECT COUNT(*) FROM service_items si WHERE si.theme_id = themes.id AND si.published = ?) AS item_count", true).
		Order("themes.sort, themes.id").
		Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list themes: %w", mapError(err))
	}
	return out, nil
}

func orderBySort(db *gorm.DB) *gorm.DB { return db.Order("sort, id") }
