package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

// catalogFilter reads the catalogue's query string. The raw values are kept
// (made valid UTF-8) to show in the form; the filter is what the store
// gets; errs says, by field, what could not be used.
func (h *Handler) catalogFilter(c echo.Context) (raw views.CatalogFilter, f models.GuideFilter, errs map[string]string) {
	q := c.QueryParams()
	raw = views.CatalogFilter{
		Query:      strings.TrimSpace(displayable(q.Get("q"))),
		Audience:   displayable(q.Get("audience")),
		Theme:      displayable(q.Get("theme")),
		Department: displayable(q.Get("department")),
		Page:       displayable(q.Get("page")),
	}
	f = models.GuideFilter{
		// The store checks the query itself (length, characters). Only a
		// query it can accept is converted to Simplified for matching:
		// conversion costs CPU in proportion to the input.
		Query:      q.Get("q"),
		Audience:   models.Audience(q.Get("audience")),
		Theme:      q.Get("theme"),
		Department: q.Get("department"),
		Page:       1,
	}
	if utf8.ValidString(f.Query) && utf8.RuneCountInString(f.Query) <= models.MaxQueryRunes {
		f.Query = h.simplified(f.Query)
	}
	if p := strings.TrimSpace(q.Get("page")); p != "" {
		n, err := strconv.Atoi(p)
		switch {
		case err != nil || n < 1:
			errs = map[string]string{"page": "页码应为大于 0 的整数。"}
		case n > models.MaxPage:
			errs = map[string]string{"page": "页码超出范围，请缩小查找范围后再翻页。"}
		default:
			f.Page = n
		}
	}
	return raw, f, errs
}

func (h *Handler) handleGuideIndex(c echo.Context) error {
	ctx := c.Request().Context()
	raw, filter, errs := h.catalogFilter(c)
	data := views.CatalogData{Filter: raw, Errors: errs, Suggestions: hotWords()}
	p := h.page(c, "办事指南")
	p.Query = raw.Query
	status := http.StatusOK
	if errs != nil {
		// A bad page number still gets the first page, with the message.
		status = http.StatusUnprocessableEntity
	}
	res, err := h.store.FindGuides(ctx, filter)
	if verr, ok := models.AsValidationError(err); ok {
		data.Errors = mergeErrors(errs, verr.Fields)
		// The form again, naming every theme and department; their item
		// counts are the search's facets, not these lists'.
		if data.Themes, err = h.store.FindThemes(ctx); err != nil {
			return err
		}
		if data.Departments, err = h.store.FindDepartments(ctx); err != nil {
			return err
		}
		return h.render(c, http.StatusUnprocessableEntity, views.CatalogPage(p, data))
	}
	if err != nil {
		return err
	}
	// The search read the lists the form names.
	data.Result, data.Themes, data.Departments = res, res.ThemeList, res.DepartmentList
	p.Title = views.CatalogHeading(data)
	if raw.Query != "" {
		p.Title = "“" + raw.Query + "”的查询结果 - " + p.Title
	}
	return h.render(c, status, views.CatalogPage(p, data))
}

// mergeErrors joins field messages; the first map's message wins.
func mergeErrors(first, second map[string]string) map[string]string {
	out := make(map[string]string, len(first)+len(second))
	for k, v := range second {
		out[k] = v
	}
	for k, v := range first {
		out[k] = v
	}
	return out
}

func (h *Handler) handleCounterIndex(c echo.Context) error {
	counters, err := h.store.ListCounters(c.Request().Context())
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.CountersPage(h.page(c, "窗口指引"), counters))
}

func (h *Handler) handleGuideShow(c echo.Context) error {
	ctx := c.Request().Context()
	it, err := h.store.FindGuideByCode(ctx, c.Param("code"))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.GuidePage(h.page(c, it.Name), it))
}

func (h *Handler) handleCounterShow(c echo.Context) error {
	ctr, err := h.store.FindCounterByCode(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	tallies, err := h.store.FindCounterTallies(c.Request().Context(), ctr.ID, time.Now())
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.CounterPage(h.page(c, ctr.Name+"（"+ctr.Code+"）"), ctr, tallies))
}

// countGuideView counts the views of a guide page, served by the handler or
// from the page cache alike (a 304 is a view too); HEAD requests and errors
// do not count. It marks the request, so that the page cache knows which
// guide a cached page counts when it serves the page before routing.
func (h *Handler) countGuideView(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(countsViewKey, c.Param("code"))
		if err := next(c); err != nil {
			return err
		}
		h.countView(c, c.Param("code"), c.Response().Status)
		return nil
	}
}

// countsViewKey holds, in a request's context, the guide the page counts a
// view of.
const countsViewKey = "portal.counts_view"

// countView counts a view of a guide by a GET answered with the page or
// 304, and starts the write of the views due.
func (h *Handler) countView(c echo.Context, code string, status int) {
	if c.Request().Method != http.MethodGet || (status != http.StatusOK && status != http.StatusNotModified) {
		return
	}
	if due := h.views.add(code, time.Now()); due != nil {
		// Off the request: the write waits for SQLite's write lock (the
		// rating writer may hold it) and took 0.5-5 ms under the bench's
		// load, which the resident whose view happened to be due waited
		// for, and so did the next request on that connection. Nor is it
		// the resident's: it outlives the request's context.
		h.views.writes.Go(func() {
			if err := h.store.RecordGuideViews(context.Background(), due); err != nil {
				// A lost view count must not cost anyone a page.
				h.logger.Warn("record guide views", slog.Int("guides", len(due)), slog.Any("error", err))
			}
		})
	}
}

// viewCounter gathers guide views in memory and hands them over for writing
// once a second (or at 1,000 guides), instead of a write per view: the
// write would cost more than serving the cached page. Views counted since
// the last write are lost if the process dies; FlushViews at shutdown
// writes them.
type viewCounter struct {
	mu      sync.Mutex
	pending map[string]int
	last    time.Time
	// writes are the writes of views handed over, in flight.
	writes sync.WaitGroup
}

// add counts a view and returns the views due for writing, if it is time.
func (v *viewCounter) add(code string, now time.Time) map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pending == nil {
		v.pending, v.last = map[string]int{}, now
	}
	v.pending[code]++
	if now.Sub(v.last) < time.Second && len(v.pending) < 1000 {
		return nil
	}
	return v.takeLocked(now)
}

// take returns every pending view.
func (v *viewCounter) take(now time.Time) map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.takeLocked(now)
}

func (v *viewCounter) takeLocked(now time.Time) map[string]int {
	due := v.pending
	v.pending, v.last = map[string]int{}, now
	return due
}

// FlushViews waits for the writes of views in flight, then writes the guide
// views still counted in memory; the server calls it at shutdown, once no
// request is left to count one.
func (h *Handler) FlushViews(ctx context.Context) error {
	h.views.writes.Wait()
	due := h.views.take(time.Now())
	if len(due) == 0 {
		return nil
	}
	return h.store.RecordGuideViews(ctx, due)
}
