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
		hdr := c.Response().Header()
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		hdr.Set("X-Frame-Options", "DENY")
		if c.Scheme() == "https" {
			// Over TLS, browsers are told to keep to it for a year.
			hdr.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		return next(c)
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
		LogStatus:    true,
		LogMethod:    true,
		LogURIPath:   true,
		LogLatency:   true,
		LogRequestID: true,
		LogRemoteIP:  true,
		// The error handler picks the status; let it run before logging so
		// that the log shows the status the user got.
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			attrs := []slog.Attr{
				slog.String("request_id", v.RequestID),
				slog.String("method", v.Method),
				slog.String("path", v.URIPath),
				slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency.Round(time.Microsecond)),
				slog.String("remote_ip", v.RemoteIP),
			}
			level := slog.LevelInfo
			if warning, ok := c.Get(warningKey).(error); ok {
				level = slog.LevelWarn
				attrs = append(attrs, slog.Any("warning", warning))
			}
			h.logger.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		},
	})
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
