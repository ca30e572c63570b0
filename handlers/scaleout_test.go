package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/zwfw/portal/models"
)

// TestTwoInstancesShareOneDatabase runs two portal instances, each with its
// own connection pool as two processes would have, against one PostgreSQL
// (or MySQL) database, and sends ratings from many phones to both at once:
// every acknowledged rating must be stored exactly once, the anti-abuse
// rules must hold across the instances, and the running totals must equal a
// recount.
func TestTwoInstancesShareOneDatabase(t *testing.T) {
	server := os.Getenv("PORTAL_TEST_DATABASE_URL")
	if !strings.HasPrefix(server, "postgres") && !strings.HasPrefix(server, "mysql") {
		t.Skip("needs a shared database server: runs in make test-postgres and make test-mysql (PORTAL_TEST_DATABASE_URL)")
	}
	ctx := context.Background()
	dbURL, drop, err := models.CreateDatabase(ctx, server, "portal_scale")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	const perAddress = 5
	rules := models.DefaultRatingRules()
	rules.PerAddressPerHour = perAddress
	var bases []string
	var stores []*models.Store
	for i := 0; i < 2; i++ {
		store, err := models.OpenURL(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		if _, err := store.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := store.LoadDemoData(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// The same keys on every instance, as the deployment requires:
		// a form fetched from one instance is posted to the other.
		h, err := New(store, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{
			SessionKey: []byte(strings.Repeat("k", 32)), Rating: rules, TrustProxy: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h.Routes())
		t.Cleanup(srv.Close)
		bases = append(bases, srv.URL)
		stores = append(stores, store)
	}
	before, err := stores[0].CountRows(ctx, "ratings")
	if err != nil {
		t.Fatal(err)
	}

	// Six busy addresses (a hall's Wi-Fi) with four phones each, over the
	// hourly limit, and six quiet ones with one phone each, under it. Every
	// phone rates three counters, each twice at the same moment, once
	// through each instance: one of the two may count.
	counters := []string{"B01", "C02", "C03"}
	type phone struct {
		addr string
		id   int
	}
	var phones []phone
	for a := 0; a < 12; a++ {
		n := 1
		if a < 6 {
			n = 4
		}
		for i := 0; i < n; i++ {
			phones = append(phones, phone{addr: fmt.Sprintf("203.0.113.%d", a+1), id: len(phones)})
		}
	}
	var mu sync.Mutex
	acked := map[string]int{}   // per address
	perPair := map[string]int{} // per phone and counter
	total := 0
	var wg sync.WaitGroup
	errs := make(chan error, len(phones)*len(counters)*2)
	for _, p := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jar, _ := cookiejar.New(nil)
			client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}}
			req := func(method, target string, body url.Values) (*http.Response, string, error) {
				var rd io.Reader
				if body != nil {
					rd = strings.NewReader(body.Encode())
				}
				r, err := http.NewRequest(method, target, rd)
				if err != nil {
					return nil, "", err
				}
				r.Header.Set("X-Forwarded-For", p.addr)
				if body != nil {
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				res, err := client.Do(r)
				if err != nil {
					return nil, "", err
				}
				defer res.Body.Close()
				b, err := io.ReadAll(res.Body)
				return res, string(b), err
			}
			for _, code := range counters {
				// The form and its token come from one instance; the two
				// posts go to both.
				_, page, err := req(http.MethodGet, bases[p.id%2]+"/r/"+code, nil)
				if err != nil {
					errs <- err
					return
				}
				m := csrfField.FindStringSubmatch(page)
				if m == nil {
					errs <- fmt.Errorf("phone %d: no CSRF token on /r/%s", p.id, code)
					return
				}
				var both sync.WaitGroup
				for _, base := range bases {
					both.Add(1)
					go func() {
						defer both.Done()
						res, _, err := req(http.MethodPost, base+"/r/"+code, url.Values{"_csrf": {m[1]}, "level": {"4"}})
						if err != nil {
							errs <- err
							return
						}
						switch {
						case res.StatusCode == http.StatusSeeOther && strings.HasSuffix(res.Header.Get("Location"), "/thanks"):
							mu.Lock()
							acked[p.addr]++
							perPair[fmt.Sprint(p.id, code)]++
							total++
							mu.Unlock()
						case res.StatusCode == http.StatusConflict, res.StatusCode == http.StatusTooManyRequests:
						default:
							errs <- fmt.Errorf("phone %d rating %s: status %d", p.id, code, res.StatusCode)
						}
					}()
				}
				both.Wait()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for pair, n := range perPair {
		if n > 1 {
			t.Errorf("phone and counter %s: %d ratings acknowledged, want 1", pair, n)
		}
	}
	for a := 0; a < 12; a++ {
		addr := fmt.Sprintf("203.0.113.%d", a+1)
		want := len(counters)
		if a < 6 {
			want = perAddress
		}
		if acked[addr] != want {
			t.Errorf("address %s: %d ratings acknowledged, want %d", addr, acked[addr], want)
		}
	}
	// Both instances see the same database.
	for i, s := range stores {
		after, err := s.CountRows(ctx, "ratings")
		if err != nil {
			t.Fatal(err)
		}
		if after-before != total {
			t.Errorf("instance %d: %d ratings stored, %d acknowledged", i+1, after-before, total)
		}
	}
	if bad, err := stores[1].TotalsMismatch(ctx); err != nil || bad != 0 {
		t.Errorf("running totals differ from a recount on %d counter-days (%v)", bad, err)
	}
	t.Logf("%d phones, %d ratings acknowledged through two instances", len(phones), total)
}
