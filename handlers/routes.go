package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Routes builds the Echo app: middleware, the error handler and every route
// of the portal, all listed here.
func (h *Handler) Routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = h.handleError

	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{RedirectCode: http.StatusMovedPermanently}))
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: newRequestID}))
	e.Use(h.requestLogger())
	e.Use(middleware.Recover())
	e.Use(securityHeaders)
	e.Use(middleware.BodyLimit("1M"))
	e.Use(middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{Timeout: 15 * time.Second}))

	get := func(path string, fn echo.HandlerFunc) {
		e.Match([]string{http.MethodGet, http.MethodHead}, path, fn)
	}

	// Public pages. These URLs are printed on posters and shared: keep them.
	get("/", h.handleHome)
	get("/services", h.handleGuideIndex)
	get("/services/:code", h.handleGuideShow)
	get("/guide", h.handleRightDoor)
	get("/departments", h.handleDepartmentIndex)
	get("/departments/:slug", h.handleBoardShow)
	get("/departments/:slug/print", h.handleBoardPrint)
	get("/counters", h.handleCounterIndex)
	get("/counters/:code", h.handleCounterShow)
	get("/counters/:code/poster", h.handleCounterPoster)
	get("/ratings", h.handleRatingStats)
	get("/cases", h.handleCaseIndex)

	// The rating and case pages post forms: CSRF-protected. /r/{code} is
	// what the counters' QR posters encode: keep it short and stable.
	forms := e.Group("", h.csrfProtection())
	forms.GET("/r/:code", h.handleRatingNew)
	forms.POST("/r/:code", h.handleRatingCreate)
	forms.GET("/r/:code/thanks", h.handleRatingThanks)
	forms.GET("/cases/lookup", h.handleCaseLookupForm)
	forms.POST("/cases/lookup", h.handleCaseLookup)
	forms.POST("/cases/lookup/followup", h.handleCaseFollowUp)

	// Static files and probes for load balancers.
	get("/static/*", h.handleStatic)
	get("/healthz", h.handleHealth)
	get("/readyz", h.handleReady)

	e.RouteNotFound("/*", func(c echo.Context) error { return echo.ErrNotFound })
	return e
}
