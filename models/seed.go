package models

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// demoFiles is the demo data set of a fictional district's 政务服务中心:
// core.json (themes, departments, counters) and items-*.json (service items).
//
//go:embed demodata/*.json
var demoFiles embed.FS

type demoData struct {
	Themes      []demoTheme      `json:"themes"`
	Departments []demoDepartment `json:"departments"`
	Counters    []demoCounter    `json:"counters"`
	Items       []demoItem       `json:"items"`
	Boards      []demoBoard      `json:"boards"`
}

type demoBoard struct {
	Department string `json:"department"`
	Updated    string `json:"updated"`
	Sections   []struct {
		Title   string `json:"title"`
		Entries []struct {
			Duty           string   `json:"duty"`
			Tasks          []string `json:"tasks"`
			Basis          []string `json:"basis"`
			Accountability []string `json:"accountability"`
			Office         string   `json:"office"`
			Person         string   `json:"person"`
			Post           string   `json:"post"`
			Phone          string   `json:"phone"`
		} `json:"entries"`
	} `json:"sections"`
	Boundaries []struct {
		Matter          string `json:"matter"`
		Own             string `json:"own"`
		OtherDepartment string `json:"other_department"`
		Other           string `json:"other"`
		Basis           string `json:"basis"`
	} `json:"boundaries"`
}

type demoTheme struct {
	Slug     string   `json:"slug"`
	Name     string   `json:"name"`
	Audience Audience `json:"audience"`
	Sort     int      `json:"sort"`
}

type demoDepartment struct {
	Slug           string `json:"slug"`
	Name           string `json:"name"`
	ShortName      string `json:"short_name"`
	Sort           int    `json:"sort"`
	Address        string `json:"address"`
	Hours          string `json:"hours"`
	ConsultPhone   string `json:"consult_phone"`
	SupervisePhone string `json:"supervise_phone"`
	Duties         string `json:"duties"`
}

type demoCounter struct {
	Code          string `json:"code"`
	Name          string `json:"name"`
	Department    string `json:"department"`
	Hall          string `json:"hall"`
	Floor         string `json:"floor"`
	Number        string `json:"number"`
	Hours         string `json:"hours"`
	ExtendedHours string `json:"extended_hours"`
	StaffPost     string `json:"staff_post"`
}

type demoLimit struct {
	Value int    `json:"value"`
	Unit  string `json:"unit"`
	Note  string `json:"note"`
}

type demoItem struct {
	Code          string    `json:"code"`
	BasicCode     string    `json:"basic_code"`
	Name          string    `json:"name"`
	Type          string    `json:"type"`
	Audience      Audience  `json:"audience"`
	Theme         string    `json:"theme"`
	Department    string    `json:"department"`
	Summary       string    `json:"summary"`
	LegalBasis    []string  `json:"legal_basis"`
	Conditions    []string  `json:"conditions"`
	LegalLimit    demoLimit `json:"legal_limit"`
	PromisedLimit demoLimit `json:"promised_limit"`
	Materials     []struct {
		Name      string `json:"name"`
		Necessity string `json:"necessity"`
		Form      string `json:"form"`
		Copies    int    `json:"copies"`
		Source    string `json:"source"`
		BlankForm bool   `json:"blank_form"`
		Sample    bool   `json:"sample"`
		Note      string `json:"note"`
	} `json:"materials"`
	Steps []struct {
		Name        string `json:"name"`
		Actor       string `json:"actor"`
		Duration    string `json:"duration"`
		Description string `json:"description"`
	} `json:"steps"`
	Fees []struct {
		Item     string `json:"item"`
		Standard string `json:"standard"`
		Basis    string `json:"basis"`
	} `json:"fees"`
	Counters       []string `json:"counters"`
	PlaceNote      string   `json:"place_note"`
	HoursNote      string   `json:"hours_note"`
	Visits         int      `json:"visits"`
	Online         bool     `json:"online"`
	OnlineURL      string   `json:"online_url"`
	Appointment    bool     `json:"appointment"`
	Delivery       bool     `json:"delivery"`
	ConsultPhone   string   `json:"consult_phone"`
	SupervisePhone string   `json:"supervise_phone"`
	Promise        struct {
		Applicable bool   `json:"applicable"`
		Note       string `json:"note"`
	} `json:"promise"`
	FAQ []struct {
		Q string `json:"q"`
		A string `json:"a"`
	} `json:"faq"`
	Updated string `json:"updated"`
	Views   int64  `json:"views"`
}

// SeedReport counts what LoadDemoData added.
type SeedReport struct {
	Themes, Departments, Counters, ServiceItems, Boards int
}

// Added is the number of records added in all.
func (r SeedReport) Added() int {
	return r.Themes + r.Departments + r.Counters + r.ServiceItems + r.Boards
}

func readDemoData() (*demoData, error) {
	names, err := fs.Glob(demoFiles, "demodata/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var all demoData
	for _, name := range names {
		raw, err := demoFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var part demoData
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&part); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		all.Themes = append(all.Themes, part.Themes...)
		all.Departments = append(all.Departments, part.Departments...)
		all.Counters = append(all.Counters, part.Counters...)
		all.Items = append(all.Items, part.Items...)
		all.Boards = append(all.Boards, part.Boards...)
	}
	return &all, nil
}

// LoadDemoData adds the demo data set in one transaction. Records are matched
// by their public keys (slug or code); those already present are left as
// they are, so loading twice changes nothing and staff edits survive.
func (s *Store) LoadDemoData(ctx context.Context) (SeedReport, error) {
	var rep SeedReport
	data, err := readDemoData()
	if err != nil {
		return rep, fmt.Errorf("load demo data: %w", err)
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		themes := map[string]*Theme{}
		for _, t := range data.Themes {
			th := Theme{Slug: t.Slug, Name: t.Name, Audience: t.Audience, Sort: t.Sort}
			added, err := firstOrCreate(tx, &th, "slug = ?", t.Slug)
			if err != nil {
				return fmt.Errorf("theme %s: %w", t.Slug, err)
			}
			rep.Themes += added
			themes[t.Slug] = &th
		}
		depts := map[string]*Department{}
		for _, d := range data.Departments {
			dep := Department{Slug: d.Slug, Name: d.Name, ShortName: d.ShortName, Sort: d.Sort, Address: d.Address,
				OfficeHours: d.Hours, ConsultPhone: d.ConsultPhone, SupervisePhone: d.SupervisePhone, Duties: d.Duties}
			added, err := firstOrCreate(tx, &dep, "slug = ?", d.Slug)
			if err != nil {
				return fmt.Errorf("department %s: %w", d.Slug, err)
			}
			rep.Departments += added
			depts[d.Slug] = &dep
		}
		counters := map[string]*Counter{}
		for _, c := range data.Counters {
			dep, ok := depts[c.Department]
			if !ok {
				return fmt.Errorf("counter %s: unknown department %q", c.Code, c.Department)
			}
			ctr := Counter{Code: c.Code, Name: c.Name, DepartmentID: dep.ID, Hall: c.Hall, Floor: c.Floor,
				Number: c.Number, Hours: c.Hours, ExtendedHours: c.ExtendedHours, StaffPost: c.StaffPost, Enabled: true, Version: 1}
			added, err := firstOrCreate(tx, &ctr, "code = ?", c.Code)
			if err != nil {
				return fmt.Errorf("counter %s: %w", c.Code, err)
			}
			rep.Counters += added
			counters[c.Code] = &ctr
		}
		for i := range data.Items {
			d := &data.Items[i]
			var n int64
			if err := tx.Model(&ServiceItem{}).Where("code = ?", d.Code).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			if err := createDemoItem(tx, d, themes, depts, counters); err != nil {
				return fmt.Errorf("service item %s: %w", d.Code, err)
			}
			rep.ServiceItems++
		}
		for i := range data.Boards {
			b := &data.Boards[i]
			dep, ok := depts[b.Department]
			if !ok {
				return fmt.Errorf("board: unknown department %q", b.Department)
			}
			var n int64
			if err := tx.Model(&DutySection{}).Where("department_id = ?", dep.ID).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			if err := createDemoBoard(tx, b, dep, depts); err != nil {
				return fmt.Errorf("board %s: %w", b.Department, err)
			}
			rep.Boards++
		}
		return nil
	})
	if err != nil {
		return SeedReport{}, fmt.Errorf("load demo data: %w", mapError(err))
	}
	return rep, nil
}

// firstOrCreate loads the record matching the condition into dst, or creates
// dst; it returns 1 when it created.
func firstOrCreate(tx *gorm.DB, dst any, cond string, key string) (int, error) {
	res := tx.Where(cond, key).Limit(1).Find(dst)
	if res.Error != nil {
		return 0, res.Error
	}
	if res.RowsAffected > 0 {
		return 0, nil
	}
	return 1, tx.Create(dst).Error
}

func createDemoItem(tx *gorm.DB, d *demoItem, themes map[string]*Theme, depts map[string]*Department, counters map[string]*Counter) error {
	th, ok := themes[d.Theme]
	if !ok {
		return fmt.Errorf("unknown theme %q", d.Theme)
	}
	dep, ok := depts[d.Department]
	if !ok {
		return fmt.Errorf("unknown department %q", d.Department)
	}
	updated, err := time.ParseInLocation("2006-01-02", d.Updated, time.UTC)
	if err != nil {
		return fmt.Errorf("updated: %w", err)
	}
	it := ServiceItem{
		Code: d.Code, BasicCode: d.BasicCode, Name: d.Name, Type: d.Type, Audience: d.Audience,
		ThemeID: th.ID, DepartmentID: dep.ID, Summary: d.Summary,
		LegalBasis: strings.Join(d.LegalBasis, "\n"), Conditions: strings.Join(d.Conditions, "\n"),
		LegalLimit:    TimeLimit{Value: d.LegalLimit.Value, Unit: d.LegalLimit.Unit, Note: d.LegalLimit.Note},
		PromisedLimit: TimeLimit{Value: d.PromisedLimit.Value, Unit: d.PromisedLimit.Unit, Note: d.PromisedLimit.Note},
		PlaceNote:     d.PlaceNote, HoursNote: d.HoursNote, Visits: d.Visits, Online: d.Online, OnlineURL: d.OnlineURL,
		Appointment: d.Appointment, Delivery: d.Delivery, ConsultPhone: d.ConsultPhone, SupervisePhone: d.SupervisePhone,
		PromiseApplicable: d.Promise.Applicable, PromiseNote: d.Promise.Note,
		Published: true, ViewCount: d.Views, CreatedAt: updated, UpdatedAt: updated, Version: 1,
	}
	for i, m := range d.Materials {
		it.Materials = append(it.Materials, Material{Sort: i + 1, Name: m.Name, Necessity: m.Necessity, Form: m.Form,
			Copies: m.Copies, Source: m.Source, BlankForm: m.BlankForm, Sample: m.Sample, Note: m.Note})
	}
	for i, st := range d.Steps {
		it.Steps = append(it.Steps, Step{Sort: i + 1, Name: st.Name, Actor: st.Actor, Duration: st.Duration, Description: st.Description})
	}
	for i, f := range d.Fees {
		it.Fees = append(it.Fees, Fee{Sort: i + 1, Item: f.Item, Standard: f.Standard, Basis: f.Basis})
	}
	for i, q := range d.FAQ {
		it.FAQs = append(it.FAQs, FAQ{Sort: i + 1, Question: q.Q, Answer: q.A})
	}
	for _, code := range d.Counters {
		c, ok := counters[code]
		if !ok {
			return fmt.Errorf("unknown counter %q", code)
		}
		it.Counters = append(it.Counters, *c)
	}
	// Associations are saved with the item; the counters exist already, so
	// only the links are written.
	if err := tx.Omit("Counters.*").Create(&it).Error; err != nil {
		return err
	}
	return indexGuide(tx, &it, th.Name, dep)
}

// demoAuthor signs the first version of each demo board.
const demoAuthor = "系统初始化"

func createDemoBoard(tx *gorm.DB, b *demoBoard, dep *Department, depts map[string]*Department) error {
	published, err := time.ParseInLocation("2006-01-02", b.Updated, time.UTC)
	if err != nil {
		return fmt.Errorf("updated: %w", err)
	}
	entries := 0
	for i, sec := range b.Sections {
		ds := DutySection{DepartmentID: dep.ID, Sort: i + 1, Title: sec.Title}
		for j, e := range sec.Entries {
			ds.Entries = append(ds.Entries, DutyEntry{Sort: j + 1, Duty: e.Duty,
				Tasks: strings.Join(e.Tasks, "\n"), Basis: strings.Join(e.Basis, "\n"),
				Accountability: strings.Join(e.Accountability, "\n"),
				Office:         e.Office, PersonName: e.Person, PersonPost: e.Post, Phone: e.Phone, Version: 1})
		}
		entries += len(ds.Entries)
		if err := tx.Create(&ds).Error; err != nil {
			return err
		}
	}
	for i, bd := range b.Boundaries {
		other, ok := depts[bd.OtherDepartment]
		if !ok {
			return fmt.Errorf("boundary %q: unknown department %q", bd.Matter, bd.OtherDepartment)
		}
		row := DutyBoundary{DepartmentID: dep.ID, Sort: i + 1, Matter: bd.Matter, Own: bd.Own,
			OtherDepartmentID: other.ID, Other: bd.Other, Basis: bd.Basis}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
	}
	v := BoardVersion{DepartmentID: dep.ID, Number: 1, CreatedAt: published, Author: demoAuthor,
		Summary: fmt.Sprintf("发布责任清单，共 %d 个部分、%d 项责任事项、%d 项职责边界", len(b.Sections), entries, len(b.Boundaries)),
		Changes: "[]"}
	if err := tx.Create(&v).Error; err != nil {
		return err
	}
	return tx.Model(&Department{}).Where("id = ?", dep.ID).Update("updated_at", published).Error
}
