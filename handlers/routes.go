package handlers

import (
	"net/http"
	"strings"
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
	// The client's address counts ratings and sign-in failures: take it
	// from the connection unless a trusted proxy stands in front.
	e.IPExtractor = echo.ExtractIPDirect()
	e.SchemeExtractor = echo.ExtractSchemeDirect()
	if h.trustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
		e.SchemeExtractor = echo.ExtractSchemeFromHeaders()
	}

	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{RedirectCode: http.StatusMovedPermanently}))
	// Cached public pages are answered before routing (pagecache.go).
	e.Pre(h.serveCachedPage)
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: newRequestID}))
	e.Use(h.metrics.middleware)
	e.Use(h.requestLogger)
	e.Use(middleware.Recover())
	e.Use(securityHeaders)
	e.Use(middleware.BodyLimit("1M"))
	// Database work is bounded by the request's context. On SQLite the
	// rating routes are left out: their counter comes from memory, and a
	// rating the writer has taken is answered after its commit whatever
	// the context says (models.RateCounter), so the deadline's timer and
	// context, made for each of a busy hall's requests, bound nothing. On
	// PostgreSQL and MySQL a rating is a transaction of its own: bounded.
	sqlite := h.store.Dialect() == "sqlite"
	e.Use(middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{Timeout: 15 * time.Second,
		Skipper: func(c echo.Context) bool { return sqlite && strings.HasPrefix(c.Path(), "/r/") }}))

	get := func(path string, fn echo.HandlerFunc, m ...echo.MiddlewareFunc) {
		e.Match([]string{http.MethodGet, http.MethodHead}, path, fn, m...)
	}

	// Public pages. These URLs are printed on posters and shared: keep them.
	// They are served from the page cache (pagecache.go); those that show
	// ratings, totals or cases are rendered again after every rating, the
	// others only when the catalogue changes.
	get("/", h.handleHome, h.cachePage)
	get("/services", h.handleGuideIndex, h.cachePage)
	get("/services/:code", h.handleGuideShow, h.countGuideView, h.cachePage)
	get("/guide", h.handleRightDoor, h.cachePage)
	get("/departments", h.handleDepartmentIndex, h.cachePage)
	get("/departments/:slug", h.handleBoardShow, h.cachePage)
	get("/departments/:slug/print", h.handleBoardPrint, h.cachePage)
	get("/counters", h.handleCounterIndex, h.cachePage)
	get("/counters/:code", h.handleCounterShow, h.cacheRatingsPage)
	get("/counters/:code/poster", h.handleCounterPoster, h.cachePage)
	get("/ratings", h.handleRatingStats, h.cacheRatingsPage)
	get("/cases", h.handleCaseIndex, h.cacheRatingsPage)
	// 关怀版 and 繁體: plain links that set a cookie and come back.
	get("/display", h.handleDisplay)

	// The rating and case pages post forms: CSRF-protected. /r/{code} is
	// what the counters' QR posters encode: keep it short and stable.
	forms := e.Group("", h.csrfProtection())
	forms.GET("/r/:code", h.handleRatingNew)
	forms.POST("/r/:code", h.handleRatingCreate)
	forms.GET("/r/:code/thanks", h.handleRatingThanks)
	forms.GET("/cases/lookup", h.handleCaseLookupForm)
	forms.POST("/cases/lookup", h.handleCaseLookup)
	forms.POST("/cases/lookup/followup", h.handleCaseFollowUp)

	// The admin area: every route behind sign-in (and CSRF); what a user
	// may touch is checked again by the store, by department.
	forms.GET("/admin/login", h.handleAdminLoginForm)
	forms.POST("/admin/login", h.handleAdminLogin)
	admin := forms.Group("/admin", h.requireStaff)
	admin.GET("", h.handleAdminHome)
	admin.POST("/logout", h.handleAdminLogout)
	admin.GET("/password", h.handleAdminPasswordForm)
	admin.POST("/password", h.handleAdminPasswordUpdate)
	admin.GET("/cases", h.handleAdminCaseIndex)
	admin.GET("/cases/:id", h.handleAdminCaseShow)
	admin.POST("/cases/:id/:step", h.handleAdminCaseStep)
	admin.GET("/board", h.handleAdminBoard)
	admin.GET("/board/entries/new", h.handleAdminEntryNew)
	admin.POST("/board/entries", h.handleAdminEntryCreate)
	admin.GET("/board/entries/:id", h.handleAdminEntryEdit)
	admin.POST("/board/entries/:id", h.handleAdminEntryUpdate)
	admin.GET("/board/entries/:id/delete", h.handleAdminEntryDeleteConfirm)
	admin.POST("/board/entries/:id/delete", h.handleAdminEntryDelete)
	admin.POST("/board/entries/:id/move", h.handleAdminEntryMove)
	admin.POST("/board/sections", h.handleAdminSectionCreate)
	admin.POST("/board/sections/:id", h.handleAdminSectionRename)
	admin.POST("/board/sections/:id/delete", h.handleAdminSectionDelete)
	admin.POST("/board/sections/:id/move", h.handleAdminSectionMove)
	admin.GET("/counters", h.handleAdminCounterIndex)
	admin.GET("/counters/:id", h.handleAdminCounterEdit)
	admin.POST("/counters/:id", h.handleAdminCounterUpdate)
	admin.POST("/counters/:id/enabled", h.handleAdminCounterEnabled)
	admin.GET("/guides", h.handleAdminGuideIndex)
	admin.GET("/guides/:id", h.handleAdminGuideEdit)
	admin.POST("/guides/:id", h.handleAdminGuideUpdate)
	admin.POST("/guides/:id/publish", h.handleAdminGuidePublish)
	admin.POST("/guides/:id/repeal", h.handleAdminGuideRepeal)
	admin.GET("/export", h.handleAdminExportForm)
	admin.GET("/export/download", h.handleAdminExportDownload)
	admin.GET("/users", h.handleAdminUserIndex, requireSystemAdmin)
	admin.POST("/users", h.handleAdminUserCreate, requireSystemAdmin)
	admin.POST("/users/:id/disable", h.handleAdminUserDisable, requireSystemAdmin)
	admin.POST("/users/:id/enable", h.handleAdminUserEnable, requireSystemAdmin)
	admin.POST("/users/:id/password", h.handleAdminUserResetPassword, requireSystemAdmin)
	admin.GET("/audit", h.handleAdminAudit, requireSystemAdmin)

	// Static files and probes for load balancers.
	get("/static/*", h.handleStatic)
	get("/healthz", h.handleHealth)
	get("/readyz", h.handleReady)
	// Prometheus metrics, only when a token is configured: they show the
	// load and the cases, which are not for everyone.
	if h.metricsToken != "" {
		e.GET("/metrics", h.metrics.handler(h.metricsToken))
	}

	e.RouteNotFound("/*", func(c echo.Context) error { return echo.ErrNotFound })
	return e
}
