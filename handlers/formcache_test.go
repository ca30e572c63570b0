package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/zwfw/portal/models"
)

// TestRatingFormFromTheCache: the rating page comes from the page cache
// with each rater's own token in its form, and each rater's post with it
// counts; an edit of the counter shows on the next page, in either script.
func TestRatingFormFromTheCache(t *testing.T) {
	app := newAdminApp(t)
	phones := []*browser{newBrowser(app, "10.3.0.1"), newBrowser(app, "10.3.0.2"), newBrowser(app, "10.3.0.3")}
	var pages []string
	for _, phone := range phones {
		res, body := phone.get(t, "/r/C02")
		token := csrfField.FindStringSubmatch(body)
		if res.StatusCode != 200 || token == nil || phone.cookies[csrfCookie] == nil || token[1] != phone.cookies[csrfCookie].Value {
			t.Fatalf("rating page: %d, the form's token is not the phone's own", res.StatusCode)
		}
		if strings.Contains(body, formPlaceholder) {
			t.Fatal("the rating page shows the placeholder of its token")
		}
		pages = append(pages, strings.Replace(body, token[1], "TOKEN", 1))
	}
	if pages[0] != pages[1] || pages[1] != pages[2] {
		t.Fatal("raters see different pages, beyond their tokens")
	}
	for i, phone := range phones[:2] {
		res, _ := phone.post(t, "/r/C02", "/r/C02", url.Values{"level": {"4"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("phone %d's rating with the cached form's token: %d", i, res.StatusCode)
		}
	}
	// A token that is not the phone's own is refused, cached page or not.
	_, body := phones[2].get(t, "/r/C02")
	phones[2].cookies[csrfCookie].Value = strings.Repeat("x", 32)
	req := httptestPost("/r/C02", url.Values{"level": {"4"}, "_csrf": {csrfField.FindStringSubmatch(body)[1]}})
	if res, _ := phones[2].do(t, req); res.StatusCode != http.StatusForbidden {
		t.Fatalf("another token than the cookie's: %d, want 403", res.StatusCode)
	}

	ctr := adminCounter(t, app, "C02")
	in := models.CounterInput{Name: "居民身份证受理窗口", Hall: ctr.Hall, Floor: ctr.Floor, Number: ctr.Number,
		Hours: ctr.Hours, ExtendedHours: ctr.ExtendedHours, StaffPost: ctr.StaffPost}
	for _, it := range ctr.ServiceItems {
		in.ItemIDs = append(in.ItemIDs, it.ID)
	}
	if err := app.store.UpdateCounter(context.Background(), 0, ctr.ID, ctr.Version, in, models.Actor{UserID: 1, Name: "管理员"}); err != nil {
		t.Fatal(err)
	}
	if _, body := newBrowser(app, "10.3.0.4").get(t, "/r/C02"); !strings.Contains(body, "居民身份证受理窗口") {
		t.Fatal("the rating page after the counter's edit shows the old name")
	}
	hant := newBrowser(app, "10.3.0.5")
	hant.cookies[scriptCookie] = &http.Cookie{Name: scriptCookie, Value: "hant"}
	for range 2 {
		res, body := hant.get(t, "/r/C02")
		token := csrfField.FindStringSubmatch(body)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `<html lang="zh-Hant"`) || !strings.Contains(body, "居民身份證受理窗口") ||
			token == nil || token[1] != hant.cookies[csrfCookie].Value {
			t.Fatalf("the 繁體 rating page: %d, %v", res.StatusCode, token)
		}
	}
}
