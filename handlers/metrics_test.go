package handlers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestMetricsOffWithoutToken(t *testing.T) {
	app := newTestApp(t)
	if res, _ := app.get(t, "/metrics"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics without a configured token: %d, want 404", res.StatusCode)
	}
}

func TestMetricsNeedTheTokenAndCountByRoute(t *testing.T) {
	app := newTestAppWith(t, Config{MetricsToken: "s3cret-token"})
	scrape := func(auth string) (*http.Response, string) {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return newBrowser(app, "10.30.0.1").do(t, req)
	}
	for _, auth := range []string{"", "Bearer wrong", "s3cret-token", "Basic czNjcmV0LXRva2Vu"} {
		if res, body := scrape(auth); res.StatusCode != http.StatusUnauthorized || strings.Contains(body, "portal_") {
			t.Fatalf("/metrics with Authorization %q: %d, want 401 and no figures", auth, res.StatusCode)
		}
	}
	app.get(t, "/services/11QHHZK0002-01")
	app.get(t, "/services/NOPE-0001")
	// Made-up methods share one label, or each would be a series.
	for _, method := range []string{"BREW", "WHEN"} {
		newBrowser(app, "10.30.0.3").do(t, httptest.NewRequest(method, "/services", nil))
	}
	phone := newBrowser(app, "10.30.0.2")
	if res, _ := phone.post(t, "/r/C02", "/r/C02", url.Values{"level": {"2"}, "reasons": {"事难办"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("rating: %d", res.StatusCode)
	}
	res, body := scrape("Bearer s3cret-token")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics with the token: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`portal_http_requests_total{method="GET",route="/services/:code",status="200"} 1`,
		`portal_http_requests_total{method="GET",route="/services/:code",status="404"} 1`,
		`portal_http_requests_total{method="POST",route="/r/:code",status="303"} 1`,
		`portal_http_request_duration_seconds_bucket{method="GET",route="/services/:code",le="+Inf"} 2`,
		"portal_ratings_stored_total 1",
		"portal_cases_open 1",
		"portal_cases_overdue 0",
		fmt.Sprintf("portal_db_connections_max %d", app.store.DBStats().MaxOpenConnections),
		"# TYPE portal_db_connection_waits_total counter",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "BREW") || !regexp.MustCompile(`portal_http_requests_total\{method="other",[^}]*\} 2\n`).MatchString(body) {
		t.Error("/metrics must count made-up methods under one label, other")
	}
	if strings.Contains(body, "11QHHZK0002-01") || strings.Contains(body, "NOPE-0001") {
		t.Error("/metrics must label requests by route pattern, not by raw path")
	}
	m := regexp.MustCompile(`(?m)^portal_ratings (\d+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("/metrics lacks portal_ratings")
	}
	if n, _ := strconv.Atoi(m[1]); n != app.count(t, "ratings") {
		t.Errorf("portal_ratings %d, the database holds %d", n, app.count(t, "ratings"))
	}
}
