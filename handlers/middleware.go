package handlers

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy allows only our own origin: no inline script or
// style, no framing.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// newRequestID returns a short random ID that users can quote and operators
// can find in the logs.
func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// securityHeaders sets the security headers on every response; a form's
// redirect drops those of a document (seeOther). A page's referrer policy
// is in the page itself (views.documentMeta), and its language is its
// <html lang>.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		setSecurityHeaders(c.Response().Header(), c.Scheme() == "https")
		return next(c)
	}
}

// setSecurityHeaders sets them on one response; the page cache's fast path
// calls it directly.
func setSecurityHeaders(hdr http.Header, tls bool) {
	hdr["Content-Security-Policy"] = []string{contentSecurityPolicy}
	hdr["X-Content-Type-Options"] = []string{"nosniff"}
	// Browsers that know CSP's frame-ancestors ignore it; older ones,
	// such as the IE mode of some office browsers, still read it.
	hdr["X-Frame-Options"] = []string{"DENY"}
	if tls {
		// Over TLS, browsers are told to keep to it for a year.
		hdr["Strict-Transport-Security"] = []string{"max-age=31536000; includeSubDomains"}
	}
}

// seeOther sends the browser on after a form or a setting: 303 See Other,
// with no body. It goes without the headers that govern a document (its
// policy, nosniff, framing), since a browser renders nothing of a
// redirect; HSTS and the request ID stay. Every rating ends with one, and
// these three were most of its headers.
func seeOther(c echo.Context, url string) error {
	hdr := c.Response().Header()
	delete(hdr, "Content-Security-Policy")
	delete(hdr, "X-Content-Type-Options")
	delete(hdr, "X-Frame-Options")
	return c.Redirect(http.StatusSeeOther, url)
}

// warningKey holds a problem that did not stop the request, for the request
// log to report.
const warningKey = "portal.warning"

// noteWarning records a problem that did not stop the request; handlers do
// not log, the request logger does.
func noteWarning(c echo.Context, err error) { c.Set(warningKey, err) }

// requestLogger logs one structured line per request, with its request ID;
// server errors are logged in detail by the error handler. The error
// handler picks the status, so it answers before the line is written, as
// the log must show the status the user got; the error still goes up, for
// the metrics outside, and the error handler then leaves the committed
// response alone. Echo's RequestLogger does the same, but gathers its
// values on the heap for every request, logged or not.
func (h *Handler) requestLogger(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		h.logRequest(c, c.Response().Status, time.Since(start))
		return err
	}
}

// logRequest writes the request's line: at info level, or at warning level
// with the problem noted by noteWarning.
func (h *Handler) logRequest(c echo.Context, status int, latency time.Duration) {
	level := slog.LevelInfo
	warning, warned := c.Get(warningKey).(error)
	if warned {
		level = slog.LevelWarn
	}
	ctx := c.Request().Context()
	if !h.logger.Enabled(ctx, level) {
		return
	}
	req := c.Request()
	attrs := []slog.Attr{
		slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
		slog.String("method", req.Method),
		slog.String("path", req.URL.Path),
		slog.Int("status", status),
		slog.Duration("latency", latency.Round(time.Microsecond)),
		slog.String("remote_ip", c.RealIP()),
	}
	if warned {
		attrs = append(attrs, slog.Any("warning", warning))
	}
	h.logger.LogAttrs(ctx, level, "request", attrs...)
}

// csrfProtection guards every state-changing request of its routes with a
// token in a cookie and the form (double submit); the GET routes of the
// same group set the cookie. It replaces echo's CSRF middleware, which cost
// a fifth of the server's time on the rating flow (it formats and re-sets
// the cookie on every response, POSTs included) and let a request that
// says Sec-Fetch-Site: same-origin through without any token. This one is
// stricter: the token is always checked, only in the request body (never
// the query string), and a cross-site post is refused before that.
func (h *Handler) csrfProtection() echo.MiddlewareFunc {
	attrs := h.cookieAttrs("/", 86400)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			token := ""
			if ck, err := req.Cookie(csrfCookie); err == nil && wellFormedCSRFToken(ck.Value) {
				token = ck.Value
			}
			switch req.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
				if token == "" {
					token = newCSRFToken()
				}
				// Set again on every page, so that the token lives a day
				// after the last page that showed a form.
				hdr := c.Response().Header()
				hdr.Add(echo.HeaderSetCookie, csrfCookie+"="+token+attrs)
				hdr.Add(echo.HeaderVary, echo.HeaderCookie)
			default:
				if !csrfTokenMatches(req, token) {
					return echo.NewHTTPError(http.StatusForbidden, csrfFailure)
				}
			}
			c.Set(csrfContextKey, token)
			return next(c)
		}
	}
}

// cookieAttrs are the attributes of a cookie the portal sets (HttpOnly, Lax,
// and Secure over TLS), for a Set-Cookie header written at once: the
// cookies of every rating (CSRF, rater, flash) are set this way, which
// costs less than formatting an http.Cookie. Values set with them must be
// of cookie-safe characters (base64url, hex).
func (h *Handler) cookieAttrs(path string, maxAge int) string {
	attrs := "; Path=" + path + "; Max-Age=" + strconv.Itoa(maxAge) + "; HttpOnly; SameSite=Lax"
	if h.secureCookies {
		attrs += "; Secure"
	}
	return attrs
}

// csrfTokenMatches reports whether a state-changing request carries the
// cookie's token in its body. A browser that says the post comes from
// another site is refused whatever it carries.
func csrfTokenMatches(req *http.Request, token string) bool {
	if req.Header.Get("Sec-Fetch-Site") == "cross-site" || token == "" {
		return false
	}
	if req.PostForm == nil {
		// As Request.FormValue does; a body over the limit fails the check.
		if err := req.ParseMultipartForm(32 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			return false
		}
	}
	sent := req.PostForm[csrfFormField]
	return len(sent) == 1 && subtle.ConstantTimeCompare([]byte(sent[0]), []byte(token)) == 1
}

// newCSRFToken returns a new random token: 192 bits, in cookie-safe
// characters.
func newCSRFToken() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// wellFormedCSRFToken reports whether a cookie's value can be a token: long
// enough to be unguessable and of the characters a cookie and an HTML
// attribute carry unchanged. Tokens issued by echo's middleware (32
// letters) still pass, so nobody's open form breaks at a deploy.
func wellFormedCSRFToken(v string) bool {
	if len(v) < 32 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		ch := v[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// csrfFormField is the form field that carries the token.
const csrfFormField = "_csrf"

// csrfContextKey is where the middleware leaves the token for the forms.
const csrfContextKey = "csrf"

// csrfCookie holds the CSRF token (double submit).
const csrfCookie = "_csrf"

// csrfFailure marks a 403 of the CSRF check, which the error page explains
// as an expired page rather than a missing permission.
const csrfFailure = "csrf"

// csrfToken is the token to put in the forms of a CSRF-protected page.
func csrfToken(c echo.Context) string {
	token, _ := c.Get(csrfContextKey).(string)
	return token
}
