package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/zwfw/portal/models"
)

// TestLimitsHoldAcrossInstances runs two portal instances on one database,
// as behind a load balancer, and sends each request to the other one: the
// one-rating-per-phone window, the per-address limit and the sign-in
// throttle all hold, because they are kept in the database.
func TestLimitsHoldAcrossInstances(t *testing.T) {
	key := strings.Repeat("s", 32)
	base := newAdminApp(t)
	a, b := appWithKeys(t, base.store, key), appWithKeys(t, base.store, key)

	phone := newBrowser(a, "10.60.0.1")
	if res, _ := phone.post(t, "/r/C02", "/r/C02", url.Values{"level": {"4"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("first rating on instance A: %d", res.StatusCode)
	}
	phone.app = b
	if res, body := phone.post(t, "/r/C02", "/r/C02", url.Values{"level": {"4"}}); res.StatusCode != http.StatusConflict {
		t.Fatalf("the same phone again on instance B: %d, want 409\n%s", res.StatusCode, stripTags(body))
	}

	limited := newTestApp(t)
	hA := appWithKeysRules(t, limited.store, key, 2)
	hB := appWithKeysRules(t, limited.store, key, 2)
	for i, app := range []*testApp{hA, hB, hA} {
		p := newBrowser(app, "10.60.1.1")
		res, _ := p.post(t, "/r/C02", "/r/C02", url.Values{"level": {"4"}})
		want := http.StatusSeeOther
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		if res.StatusCode != want {
			t.Fatalf("rating %d from one address, alternating instances: %d, want %d", i+1, res.StatusCode, want)
		}
	}

	for i := 0; i < 5; i++ {
		app := []*testApp{a, b}[i%2]
		newBrowser(app, "10.60.2.1").post(t, "/admin/login", "/admin/login", url.Values{"username": {"rsj.admin"}, "password": {"wrong-password"}})
	}
	res, _ := newBrowser(b, "10.60.2.2").post(t, "/admin/login", "/admin/login", url.Values{"username": {"rsj.admin"}, "password": {models.DemoPassword}})
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after 5 failures spread over two instances: %d, want 429", res.StatusCode)
	}
}

// appWithKeysRules is appWithKeys with a per-address rating limit.
func appWithKeysRules(t *testing.T, store *models.Store, key string, perAddress int) *testApp {
	t.Helper()
	rules := models.DefaultRatingRules()
	rules.PerAddressPerHour = perAddress
	h, err := New(store, discardLogger(), Config{SessionKey: []byte(key), Rating: rules})
	if err != nil {
		t.Fatal(err)
	}
	return &testApp{store: store, e: h.Routes()}
}
