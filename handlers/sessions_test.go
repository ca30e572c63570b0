package handlers

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/zwfw/portal/models"
)

// appWithKeys is another portal process on the same database, configured
// with its own session keys, newest first.
func appWithKeys(t *testing.T, store *models.Store, keys ...string) *testApp {
	t.Helper()
	cfg := Config{SessionKey: []byte(keys[0])}
	for _, k := range keys[1:] {
		cfg.OldSessionKeys = append(cfg.OldSessionKeys, []byte(k))
	}
	h, err := New(store, slog.New(slog.NewTextHandler(io.Discard, nil)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testApp{store: store, e: h.Routes()}
}

// cookieLayers decodes a gorilla cookie value as far as anyone without the
// keys can: base64, then "date|value|mac", then the value's base64.
func cookieLayers(t *testing.T, value string) []byte {
	t.Helper()
	outer, err := base64.URLEncoding.DecodeString(value)
	if err != nil {
		t.Fatalf("cookie is not base64: %v", err)
	}
	parts := bytes.SplitN(outer, []byte("|"), 3)
	if len(parts) != 3 {
		t.Fatalf("cookie has %d parts, want date|value|mac", len(parts))
	}
	inner, err := base64.URLEncoding.DecodeString(string(parts[1]))
	if err != nil {
		t.Fatalf("cookie value is not base64: %v", err)
	}
	return inner
}

func TestSessionCookiesAreEncryptedAndKeysRotate(t *testing.T) {
	oldKey, newKey, otherKey := strings.Repeat("o", 32), strings.Repeat("n", 32), strings.Repeat("x", 32)
	base := newAdminApp(t)
	before := appWithKeys(t, base.store, oldKey)
	rotated := appWithKeys(t, base.store, newKey, oldKey)
	dropped := appWithKeys(t, base.store, otherKey)

	b := newBrowser(before, "10.20.0.1")
	signIn(t, b, "rsj.admin", models.DemoPassword)
	session := b.cookies[adminCookie]
	if session == nil {
		t.Fatal("no admin session cookie after sign-in")
	}
	t.Run("not readable", func(t *testing.T) {
		plain := cookieLayers(t, session.Value)
		// Signed-only cookies carry the gob of the values, whose keys and
		// strings are readable; an encrypted one carries none of them.
		for _, clear := range []string{"uid", "ver", "iat", "seen", "int64", "uint"} {
			if bytes.Contains(plain, []byte(clear)) {
				t.Errorf("the session cookie shows %q in clear: it is not encrypted", clear)
			}
		}
	})
	t.Run("old key accepted after rotation", func(t *testing.T) {
		b.app = rotated
		res, body := b.get(t, "/admin")
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "工作台") {
			t.Fatalf("a session signed with the old key after rotation: %d → %q", res.StatusCode, res.Header.Get("Location"))
		}
	})
	t.Run("unknown key refused", func(t *testing.T) {
		other := newBrowser(dropped, "10.20.0.2")
		other.cookies[adminCookie] = session
		if res, _ := other.get(t, "/admin"); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("a session under a key no longer configured: %d, want the sign-in page", res.StatusCode)
		}
	})
	t.Run("tampered refused", func(t *testing.T) {
		v := []byte(session.Value)
		i := len(v) / 2
		if v[i] == 'A' {
			v[i] = 'B'
		} else {
			v[i] = 'A'
		}
		tb := newBrowser(rotated, "10.20.0.3")
		tb.cookies[adminCookie] = &http.Cookie{Name: adminCookie, Value: string(v)}
		if res, _ := tb.get(t, "/admin"); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("a tampered session cookie: %d, want the sign-in page", res.StatusCode)
		}
	})
	t.Run("rater cookie survives rotation", func(t *testing.T) {
		phone := newBrowser(before, "10.20.0.4")
		phone.get(t, "/r/C02")
		if phone.cookies[raterCookie] == nil {
			t.Fatal("no rater cookie")
		}
		phone.app = rotated
		res, _ := phone.post(t, "/r/C02", "/r/C02", url.Values{"level": {"4"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("rating with a rater cookie signed under the old key: %d, want 303", res.StatusCode)
		}
		forged := newBrowser(rotated, "10.20.0.5")
		forged.get(t, "/r/C02")
		id, _, _ := strings.Cut(forged.cookies[raterCookie].Value, ".")
		forged.cookies[raterCookie] = &http.Cookie{Name: raterCookie, Value: id + "." + strings.Repeat("0", 32)}
		_, body := forged.get(t, "/r/C02")
		m := csrfField.FindStringSubmatch(body)
		forged.cookies[raterCookie] = &http.Cookie{Name: raterCookie, Value: id + "." + strings.Repeat("0", 32)}
		res, _ = forged.do(t, httptestPost("/r/C02", url.Values{"level": {"4"}, "_csrf": {m[1]}}))
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("a rater cookie with a forged signature: %d, want 403", res.StatusCode)
		}
	})
}

// TestSignInRenewsTheSession checks that signing in replaces whatever the
// browser held: a new session cookie and a new CSRF token.
func TestSignInRenewsTheSession(t *testing.T) {
	app := newAdminApp(t)
	b := newBrowser(app, "10.21.0.1")
	signIn(t, b, "rsj.admin", models.DemoPassword)
	first := b.cookies[adminCookie].Value
	b.get(t, "/admin")
	csrfBefore := b.cookies[csrfCookie].Value

	res, _ := b.post(t, "/admin/login", "/admin/login", url.Values{"username": {"hzk.admin"}, "password": {models.DemoPassword}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d", res.StatusCode)
	}
	if b.cookies[adminCookie].Value == first {
		t.Fatal("sign-in kept the previous session cookie")
	}
	if _, ok := b.cookies[csrfCookie]; ok {
		t.Fatal("sign-in must drop the CSRF token issued before it")
	}
	_, body := b.get(t, "/admin")
	if !strings.Contains(body, "户政科") {
		t.Fatal("after the second sign-in the session must be the new user's")
	}
	if b.cookies[csrfCookie] == nil || b.cookies[csrfCookie].Value == csrfBefore {
		t.Fatal("the first page after sign-in must issue a new CSRF token")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
