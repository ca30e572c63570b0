// Package handlers turns HTTP requests into calls on the store and renders
// views. routes.go lists every route; render.go and errors.go hold the one
// render helper and the one error handler.
package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/sessions"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/static"
)

// Config is what the handlers need from the deployment.
type Config struct {
	// SessionKey is the newest secret (at least 32 bytes): the keys that
	// sign and encrypt cookies and key the pseudonyms of addresses are
	// derived from it.
	SessionKey []byte
	// OldSessionKeys are earlier secrets, newest first, whose cookies are
	// still accepted: a key is rotated by moving it here, so nobody is
	// signed out.
	OldSessionKeys [][]byte
	// SecureCookies marks cookies Secure; set it when served over TLS.
	SecureCookies bool
	// Rating holds the rules of 好差评: scale, window, limits, deadlines.
	Rating models.RatingRules
	// TrustProxy takes the client's address from X-Forwarded-For; set it
	// only behind a reverse proxy that sets the header, or anyone can claim
	// any address and escape the rating limits.
	TrustProxy bool
	// BaseURL is the portal's public address (https://zwfw.example.gov.cn),
	// printed on paper copies; empty means the address the request used.
	BaseURL string
	// Converter converts between Simplified and Traditional Chinese. It
	// takes about 100 ms to build and is only read, so one can serve many
	// handlers (tests build many); nil builds one.
	Converter *Converter
	// PageCacheBytes bounds the page cache (pagecache.go); 0 turns it off.
	PageCacheBytes int
	// MetricsToken turns on /metrics for requests that carry it as a bearer
	// token; empty leaves /metrics off (404).
	MetricsToken string
}

// Handler holds what every handler needs. It is built once by New and only
// read afterwards, so it is safe for concurrent requests.
type Handler struct {
	store    *models.Store
	logger   *slog.Logger
	sessions *sessions.CookieStore
	assets   *static.Assets
	baseURL  string
	rules    models.RatingRules
	// secureCookies marks every cookie Secure (served over TLS).
	secureCookies bool
	// raterCookieAttrs and flashCookieAttrs are those cookies' attributes
	// (cookieAttrs), made once.
	raterCookieAttrs, flashCookieAttrs string
	trustProxy                         bool
	// keys sign the rater cookie and key the pseudonyms of addresses.
	keys *keyRing
	// metrics count requests and read the store's figures for /metrics.
	metrics      *metrics
	metricsToken string
	// chinese converts pages to Traditional for the 繁體 view and search
	// input to Simplified.
	chinese *Converter
	// pages caches rendered public pages; nil when off.
	pages *pageCache
	// views counts guide views between writes.
	views *viewCounter
}

// New builds the handlers.
func New(store *models.Store, logger *slog.Logger, cfg Config) (*Handler, error) {
	if cfg.Rating.Window == 0 && cfg.Rating.RectifyDays == 0 {
		cfg.Rating = models.DefaultRatingRules()
	}
	if len(cfg.SessionKey) < 32 {
		return nil, errors.New("handlers: the session key must have at least 32 bytes")
	}
	keys, err := newKeyRing(append([][]byte{cfg.SessionKey}, cfg.OldSessionKeys...))
	if err != nil {
		return nil, err
	}
	assets, err := static.New()
	if err != nil {
		return nil, err
	}
	chinese := cfg.Converter
	if chinese == nil {
		if chinese, err = NewConverter(); err != nil {
			return nil, fmt.Errorf("handlers: %w", err)
		}
	}
	// Signed and encrypted (AES-256): the session holds a case's lookup
	// code and the user's ID, which a shared computer's next user must not
	// read from the cookie.
	cookies := sessions.NewCookieStore(keys.sessionPairs...)
	// CookieStore's defaults (30 days, not Secure) do not suit a government
	// site on shared computers: a browser-session cookie, never sent to
	// scripts or with cross-site posts.
	cookies.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   0,
		HttpOnly: true,
		Secure:   cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	}
	var pages *pageCache
	if cfg.PageCacheBytes > 0 {
		pages = newPageCache(cfg.PageCacheBytes)
	}
	h := &Handler{
		pages:         pages,
		views:         &viewCounter{},
		store:         store,
		logger:        logger,
		sessions:      cookies,
		assets:        assets,
		baseURL:       strings.TrimRight(cfg.BaseURL, "/"),
		rules:         cfg.Rating,
		secureCookies: cfg.SecureCookies,
		trustProxy:    cfg.TrustProxy,
		chinese:       chinese,
		keys:          keys,
		metrics:       newMetrics(store),
		metricsToken:  cfg.MetricsToken,
	}
	h.raterCookieAttrs = h.cookieAttrs("/r/", raterCookieLifetime)
	h.flashCookieAttrs = h.cookieAttrs("/", int(flashLifetime/time.Second))
	return h, nil
}

// simplified converts Traditional Chinese search input to Simplified.
func (h *Handler) simplified(s string) string { return h.chinese.Simplified(s) }
