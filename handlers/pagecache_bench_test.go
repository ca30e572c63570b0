package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkCachedPage measures the server's own work for a cached page,
// against a bare net/http handler writing the same bytes from memory (the
// bench's "Go from memory" baseline), in the same run.
func BenchmarkCachedPage(b *testing.B) {
	app := newTestApp(b)
	// As make bench runs the portal: -log-level error.
	app.h.logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
	const target = "/services/11QHMZJ0003-01"
	res, body := app.fetch(b, target, nil)
	if res.StatusCode != 200 {
		b.Fatal(res.StatusCode)
	}
	page := []byte(body)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.Write(page)
	})
	for _, s := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"portal", app.e}} {
		b.Run(s.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			b.ReportAllocs()
			for b.Loop() {
				w := &discardWriter{header: http.Header{}}
				s.h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatal(w.status)
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}
