package views

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zwfw/portal/models"
)

func TestGuidePageShowsStoredTextAsText(t *testing.T) {
	repealed := time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	it := &models.ServiceItem{
		Code:       "T-1",
		Name:       `<script>alert("x")</script>证明`,
		Summary:    `<img src=x onerror=alert(1)>`,
		OnlineURL:  "javascript:alert(1)",
		Online:     true,
		RepealedAt: &repealed,
		Materials:  []models.Material{{Name: "<b>身份证</b>", Necessity: "必要", Form: "原件", Source: "申请人自备"}},
	}
	var buf bytes.Buffer
	if err := GuidePage(Page{URL: "http://example.test/services/T-1"}, it).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>身份证", `href="javascript:`} {
		if strings.Contains(html, bad) {
			t.Errorf("stored input reached the page as markup: %q", bad)
		}
	}
	if !strings.Contains(html, "本事项已于 2026-06-30 废止") {
		t.Error("a repealed item must say so, with the date")
	}
	if strings.Contains(html, "标注“容缺”") {
		t.Error("the 容缺 note shows though no material is 容缺")
	}
}

func TestCatalogFilterURLs(t *testing.T) {
	f := CatalogFilter{Query: "社保", Audience: "person", Page: "3"}
	if got, want := f.With("theme", "shebao"), "/services?audience=person&q=%E7%A4%BE%E4%BF%9D&theme=shebao"; got != want {
		t.Fatalf("With = %q, want %q (filters kept, back to page 1)", got, want)
	}
	if got, want := f.With("audience", ""), "/services?q=%E7%A4%BE%E4%BF%9D"; got != want {
		t.Fatalf("removing a filter: %q, want %q", got, want)
	}
	if got, want := f.PageURL(1), "/services?audience=person&q=%E7%A4%BE%E4%BF%9D"; got != want {
		t.Fatalf("page 1: %q, want %q", got, want)
	}
}

func TestPageWindow(t *testing.T) {
	tests := []struct {
		current, last int
		want          []int
	}{
		{1, 1, []int{1}},
		{1, 5, []int{1, 2, 3, 4, 5}},
		{10, 20, []int{1, 0, 8, 9, 10, 11, 12, 0, 20}},
		{20, 20, []int{1, 0, 18, 19, 20}},
	}
	for _, tt := range tests {
		if got := pageWindow(tt.current, tt.last); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("pageWindow(%d, %d) = %v, want %v", tt.current, tt.last, got, tt.want)
		}
	}
}
