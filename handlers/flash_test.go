package handlers

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// badRating rates C02 不满意 from a new phone and returns the response (a
// redirect to the thank-you page carrying the flash cookie).
func badRating(t *testing.T, app *testApp, ip string) (*browser, *http.Response) {
	t.Helper()
	b := newBrowser(app, ip)
	res, _ := b.post(t, "/r/C02?level=2", "/r/C02", url.Values{"level": {"2"}, "reasons": {"办事效率低"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("bad rating: %d", res.StatusCode)
	}
	if b.cookies[flashCookie] == nil {
		t.Fatal("no flash cookie after a rating")
	}
	return b, res
}

var caseOnPage = regexp.MustCompile(`<strong>(DB\d{8}-\d{4})</strong>.*?<strong>(\d{6})</strong>`)

func TestFlashCookie(t *testing.T) {
	oldKey, newKey, otherKey := strings.Repeat("o", 32), strings.Repeat("n", 32), strings.Repeat("x", 32)
	base := newTestApp(t)
	before := appWithKeys(t, base.store, oldKey)
	rotated := appWithKeys(t, base.store, newKey, oldKey)
	dropped := appWithKeys(t, base.store, otherKey)

	t.Run("sealed, shown once", func(t *testing.T) {
		b, res := badRating(t, before, "10.40.0.1")
		if loc := res.Header.Get("Location"); loc != "/r/C02/thanks" {
			t.Fatalf("redirect to %q: nothing may follow the path", loc)
		}
		sealed := b.cookies[flashCookie].Value
		_, body := b.follow(t, res)
		m := caseOnPage.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no case number and lookup code on the thank-you page")
		}
		raw, err := base64.RawURLEncoding.DecodeString(sealed)
		if err != nil {
			t.Fatal(err)
		}
		for _, clear := range []string{m[1], m[2], receiptCase} {
			if strings.Contains(string(raw), clear) || strings.Contains(sealed, clear) {
				t.Fatalf("the flash cookie shows %q in clear", clear)
			}
		}
		if _, again := b.get(t, "/r/C02/thanks"); strings.Contains(again, m[2]) {
			t.Fatal("the lookup code is shown again")
		}
		// The cookie was cleared; sent again (a copy), it is still only
		// what it was: a message for the next page, not a new case.
		if b.cookies[flashCookie] != nil {
			t.Fatal("the thank-you page did not clear the flash cookie")
		}
	})
	t.Run("old key accepted after rotation", func(t *testing.T) {
		b, res := badRating(t, before, "10.40.0.2")
		b.app = rotated
		if _, body := b.follow(t, res); caseOnPage.FindStringSubmatch(body) == nil {
			t.Fatal("a flash sealed under the old key was not shown after rotation")
		}
	})
	t.Run("unknown key, tampered or expired refused", func(t *testing.T) {
		b, res := badRating(t, before, "10.40.0.3")
		sealed := b.cookies[flashCookie].Value
		b.app = dropped
		if _, body := b.follow(t, res); caseOnPage.FindStringSubmatch(body) != nil {
			t.Fatal("a flash under a key no longer configured was shown")
		}
		v := []byte(sealed)
		v[len(v)/2] ^= 1
		tb := newBrowser(before, "10.40.0.4")
		tb.cookies[flashCookie] = &http.Cookie{Name: flashCookie, Value: string(v)}
		if _, body := tb.get(t, "/r/C02/thanks"); caseOnPage.FindStringSubmatch(body) != nil {
			t.Fatal("a tampered flash was shown")
		}
		kr, err := newKeyRing([][]byte{[]byte(oldKey)})
		if err != nil {
			t.Fatal(err)
		}
		aead := kr.flash[0]
		stale := sealFlash(aead, receiptCase+"DB20260101-0001 123456", time.Now().Add(-flashLifetime-time.Minute))
		if _, ok := openFlash(aead, stale, time.Now()); ok {
			t.Fatal("an expired flash was opened")
		}
		if msg, ok := openFlash(aead, sealFlash(aead, "已保存", time.Now()), time.Now()); !ok || msg != "已保存" {
			t.Fatalf("a fresh flash: %q, %v", msg, ok)
		}
	})
}
