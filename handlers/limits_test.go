package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestContentSecurityPolicyIsStrict reads the policy every page carries:
// own origin only, no inline script or style, no framing.
func TestContentSecurityPolicyIsStrict(t *testing.T) {
	app := newTestApp(t)
	for _, page := range []string{"/", "/r/C02", "/admin/login", "/no/such/page"} {
		res, _ := app.get(t, page)
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
			"frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: the policy lacks %s: %q", page, want, csp)
			}
		}
		for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "http:", "https:"} {
			if strings.Contains(csp, bad) {
				t.Errorf("GET %s: the policy allows %s: %q", page, bad, csp)
			}
		}
	}
}

// TestOversizedBodyIsRefused posts a rating with a comment past the body
// limit (1 MB): 413, and nothing is stored.
func TestOversizedBodyIsRefused(t *testing.T) {
	app := newTestApp(t)
	phone := newBrowser(app, "10.70.0.1")
	res, body := phone.post(t, "/r/C02", "/r/C02", url.Values{"level": {"2"}, "reasons": {"其他"}, "comment": {strings.Repeat("长", 400_000)}})
	if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "提交的内容过大") {
		t.Fatalf("a 1.2 MB form: %d, want 413 with a message", res.StatusCode)
	}
	if app.count(t, "ratings") != 0 {
		t.Fatal("an oversized form was stored")
	}
}

// TestReadinessFollowsTheDatabase: /readyz fails once the database is gone,
// while /healthz (the process) still answers.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	app := newTestApp(t)
	if res, _ := app.get(t, "/readyz"); res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %d", res.StatusCode)
	}
	app.store.Close()
	if res, _ := app.get(t, "/readyz"); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz without a database: %d, want 503", res.StatusCode)
	}
	if res, _ := app.get(t, "/healthz"); res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz without a database: %d, want 200", res.StatusCode)
	}
}
