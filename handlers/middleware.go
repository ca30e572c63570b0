package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
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

// securityHeaders sets the headers every response carries.
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
	hdr["Referrer-Policy"] = []string{"strict-origin-when-cross-origin"}
	hdr["X-Frame-Options"] = []string{"DENY"}
	if tls {
		// Over TLS, browsers are told to keep to it for a year.
		hdr["Strict-Transport-Security"] = []string{"max-age=31536000; includeSubDomains"}
	}
}

// warningKey holds a problem that did not stop the request, for the request
// log to report.
const warningKey = "portal.warning"

// noteWarning records a problem that did not stop the request; handlers do
// not log, the request logger does.
func noteWarning(c echo.Context, err error) { c.Set(warningKey, err) }

// requestLogger logs one structured line per request, with its request ID;
// server errors are logged in detail by the error handler.
func (h *Handler) requestLogger() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus:  true,
		LogLatency: true,
		// The error handler picks the status; let it run before logging so
		// that the log shows the status the user got.
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			h.logRequest(c, v.Status, v.Latency)
			return nil
		},
	})
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
// same group set the cookie.
func (h *Handler) csrfProtection() echo.MiddlewareFunc {
	return middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:_csrf",
		CookieName:     csrfCookie,
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   h.secureCookies,
		CookieSameSite: http.SameSiteLaxMode,
		ContextKey:     "csrf",
		ErrorHandler: func(err error, c echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden, csrfFailure)
		},
	})
}

// csrfCookie holds the CSRF token (double submit).
const csrfCookie = "_csrf"

// csrfFailure marks a 403 of the CSRF check, which the error page explains
// as an expired page rather than a missing permission.
const csrfFailure = "csrf"

// csrfToken is the token to put in the forms of a CSRF-protected page.
func csrfToken(c echo.Context) string {
	token, _ := c.Get("csrf").(string)
	return token
}
