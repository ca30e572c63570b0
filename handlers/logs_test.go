package handlers

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zwfw/portal/models"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsKeepSecretsOut signs in (with a wrong password first), rates with
// a phone number, looks up the case and fails a lookup, all logged as JSON
// at debug level: no password, session cookie or full phone number appears.
func TestLogsKeepSecretsOut(t *testing.T) {
	ctx := context.Background()
	store := openDemoStore(t, filepath.Join(t.TempDir(), "portal.db"))
	if _, err := store.LoadDemoUsers(ctx); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := New(store, logger, Config{SessionKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	app := &testApp{store: store, e: h.Routes()}

	const wrongPassword = "wrong-password-XYZ"
	const phone = "13912345678"
	b := newBrowser(app, "10.40.0.1")
	b.post(t, "/admin/login", "/admin/login", url.Values{"username": {"rsj.admin"}, "password": {wrongPassword}})
	signIn(t, b, "rsj.admin", models.DemoPassword)
	b.get(t, "/admin")
	b.post(t, "/admin/password", "/admin/password", url.Values{"current": {models.DemoPassword}, "password": {"新密码一二三四五六七八九十"}, "confirm": {"不一致的密码一二三四五六"}})

	rater := newBrowser(app, "10.40.0.2")
	res, _ := rater.post(t, "/r/B01?level=2", "/r/B01", url.Values{"level": {"2"}, "reasons": {"事难办"}, "phone": {phone}, "comment": {"等了很久"}})
	_, thanks := rater.follow(t, res)
	number := regexpFind(`(DB\d{8}-\d+)`, thanks)
	code := regexpFind(`\b(\d{6})\b`, stripTags(thanks[strings.Index(thanks, number)+len(number):]))
	if number == "" || code == "" {
		t.Fatal("no case number and lookup code on the thank-you page")
	}
	rater.post(t, "/cases/lookup", "/cases/lookup", url.Values{"number": {number}, "code": {code}})
	rater.post(t, "/cases/lookup?new=1", "/cases/lookup", url.Values{"number": {number}, "code": {"000000"}})
	// A request with the secrets in its query string and headers.
	req := httptestPost("/r/B01?phone="+phone+"&password="+wrongPassword, url.Values{"phone": {phone}})
	req.Header.Set("Authorization", "Bearer "+wrongPassword)
	b.do(t, req)

	out := logs.String()
	if !strings.Contains(out, `"msg":"request"`) || strings.Count(out, "\n") < 10 {
		t.Fatalf("the requests were not logged:\n%s", out)
	}
	secrets := map[string]string{
		"the demo password": models.DemoPassword, "a wrong password": wrongPassword,
		"the phone number": phone, "the lookup code": code,
	}
	for _, c := range b.cookies {
		secrets["cookie "+c.Name] = c.Value
	}
	for _, c := range rater.cookies {
		secrets["cookie "+c.Name] = c.Value
	}
	for what, s := range secrets {
		if len(s) >= 6 && strings.Contains(out, s) {
			t.Errorf("the log holds %s", what)
		}
	}
	if res, _ := b.get(t, "/admin"); res.StatusCode != http.StatusOK {
		t.Fatalf("still signed in: %d", res.StatusCode)
	}
}
