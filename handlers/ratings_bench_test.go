package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
)

// BenchmarkRatingFlow measures the server's own work for one rating as the
// bench's phones make it: a new phone opens a counter's form, then posts
// 满意 with the cookies and token it was given. Raters run in parallel, as
// a busy hall's do, so that the rating writer batches their commits as it
// does under load; the network is left out.
func BenchmarkRatingFlow(b *testing.B) {
	rules := models.DefaultRatingRules()
	// All raters come from one address, as in the bench.
	rules.PerAddressPerHour = 1 << 30
	app := newTestAppWith(b, Config{Rating: rules})
	// As make bench runs the portal: -log-level error.
	app.h.logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
	codes := []string{"C01", "C02", "C03"}
	var failed atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			target := "/r/" + codes[i%len(codes)]
			get := httptest.NewRequest(http.MethodGet, target, nil)
			get.RemoteAddr = "127.0.0.1:40000"
			w := &bodyWriter{header: http.Header{}}
			app.e.ServeHTTP(w, get)
			token := csrfField.FindSubmatch(w.body)
			if w.status != http.StatusOK || token == nil {
				failed.Add(1)
				continue
			}
			post := httptest.NewRequest(http.MethodPost, target, strings.NewReader(url.Values{"_csrf": {string(token[1])}, "level": {"4"}}.Encode()))
			post.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
			post.RemoteAddr = get.RemoteAddr
			for _, ck := range (&http.Response{Header: w.header}).Cookies() {
				post.AddCookie(ck)
			}
			w = &bodyWriter{header: http.Header{}}
			app.e.ServeHTTP(w, post)
			if w.status != http.StatusSeeOther {
				failed.Add(1)
			}
		}
	})
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d ratings not acknowledged", n)
	}
}

// bodyWriter is a ResponseWriter that keeps the status, headers and body.
type bodyWriter struct {
	header http.Header
	status int
	body   []byte
}

func (w *bodyWriter) Header() http.Header { return w.header }
func (w *bodyWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *bodyWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, p...)
	return len(p), nil
}
