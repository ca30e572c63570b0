package handlers

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zwfw/portal/models"
)

// metrics are the portal's Prometheus metrics. The registry belongs to the
// Handler, not to the package: two handlers in one process (tests) count
// apart.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// ratings counts the ratings this process stored; portal_ratings (from
	// the database) counts all of them, across instances and restarts.
	ratings prometheus.Counter
	// series holds each route's series once looked up (seriesKey →
	// *requestSeries), as Prometheus advises for labels used often: the
	// vectors hash and check their label values at every lookup, two a
	// request.
	series sync.Map
}

// seriesKey is what a request's series are labelled by.
type seriesKey struct {
	route, method string
	status        int
}

// requestSeries are the series one kind of request counts in.
type requestSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics(store *models.Store) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portal_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portal_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern and method.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		ratings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portal_ratings_stored_total",
			Help: "Ratings stored by this process since it started.",
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.ratings, newStoreCollector(store),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// middleware counts every request under its route pattern (/services/:code,
// never the raw path, so that the number of series stays bounded). It runs
// outside the request logger, which has let the error handler choose the
// status by then.
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		if !c.Response().Committed && err != nil {
			if he, ok := err.(*echo.HTTPError); ok {
				status = he.Code
			} else {
				status = http.StatusInternalServerError
			}
		}
		m.observe(route, c.Request().Method, status, time.Since(start))
		return err
	}
}

// observe counts one answered request.
func (m *metrics) observe(route, method string, status int, latency time.Duration) {
	key := seriesKey{route: route, method: methodLabel(method), status: status}
	s, ok := m.series.Load(key)
	if !ok {
		s, _ = m.series.LoadOrStore(key, &requestSeries{
			requests: m.requests.WithLabelValues(key.route, key.method, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(key.route, key.method),
		})
	}
	rs := s.(*requestSeries)
	rs.requests.Inc()
	rs.latency.Observe(latency.Seconds())
}

// methodLabel is a request's method as a label: a client may send any
// token as its method, and each would otherwise be a series of its own.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// handler serves the registry in the Prometheus text format, to holders of
// the configured bearer token only.
func (m *metrics) handler(token string) echo.HandlerFunc {
	serve := promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	want := []byte("Bearer " + token)
	return func(c echo.Context) error {
		got := []byte(c.Request().Header.Get(echo.HeaderAuthorization))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
			return echo.NewHTTPError(http.StatusUnauthorized)
		}
		serve.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// storeCollector reads the store's figures at scrape time: ratings, open
// and overdue cases (cheap queries), and the connection pool.
type storeCollector struct {
	store                                      *models.Store
	ratings, open, overdue                     *prometheus.Desc
	poolOpen, poolInUse, poolIdle, poolMax     *prometheus.Desc
	poolWaits, poolWaitSeconds, poolClosedIdle *prometheus.Desc
}

func newStoreCollector(store *models.Store) *storeCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &storeCollector{
		store:           store,
		ratings:         d("portal_ratings", "Ratings in the statistics, from the monthly running totals."),
		open:            d("portal_cases_open", "Cases (督办单) not yet closed."),
		overdue:         d("portal_cases_overdue", "Open cases past their current deadline."),
		poolOpen:        d("portal_db_connections_open", "Open database connections."),
		poolInUse:       d("portal_db_connections_in_use", "Database connections in use."),
		poolIdle:        d("portal_db_connections_idle", "Idle database connections."),
		poolMax:         d("portal_db_connections_max", "Most database connections the pool may open."),
		poolWaits:       d("portal_db_connection_waits_total", "Times a request waited for a database connection."),
		poolWaitSeconds: d("portal_db_connection_wait_seconds_total", "Time spent waiting for database connections."),
		poolClosedIdle:  d("portal_db_connections_closed_idle_total", "Connections closed for idling too long."),
	}
}

// Describe sends the descriptions of the store's metrics.
func (sc *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sc.ratings, sc.open, sc.overdue, sc.poolOpen, sc.poolInUse, sc.poolIdle,
		sc.poolMax, sc.poolWaits, sc.poolWaitSeconds, sc.poolClosedIdle} {
		ch <- d
	}
}

// Collect reads the figures now. A failed read is reported as such; the
// pool statistics are sent all the same.
func (sc *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if f, err := sc.store.FindOpsFigures(ctx, time.Now()); err != nil {
		ch <- prometheus.NewInvalidMetric(sc.ratings, err)
	} else {
		ch <- prometheus.MustNewConstMetric(sc.ratings, prometheus.GaugeValue, float64(f.Ratings))
		ch <- prometheus.MustNewConstMetric(sc.open, prometheus.GaugeValue, float64(f.CasesOpen))
		ch <- prometheus.MustNewConstMetric(sc.overdue, prometheus.GaugeValue, float64(f.CasesOverdue))
	}
	st := sc.store.DBStats()
	ch <- prometheus.MustNewConstMetric(sc.poolOpen, prometheus.GaugeValue, float64(st.OpenConnections))
	ch <- prometheus.MustNewConstMetric(sc.poolInUse, prometheus.GaugeValue, float64(st.InUse))
	ch <- prometheus.MustNewConstMetric(sc.poolIdle, prometheus.GaugeValue, float64(st.Idle))
	ch <- prometheus.MustNewConstMetric(sc.poolMax, prometheus.GaugeValue, float64(st.MaxOpenConnections))
	ch <- prometheus.MustNewConstMetric(sc.poolWaits, prometheus.CounterValue, float64(st.WaitCount))
	ch <- prometheus.MustNewConstMetric(sc.poolWaitSeconds, prometheus.CounterValue, st.WaitDuration.Seconds())
	ch <- prometheus.MustNewConstMetric(sc.poolClosedIdle, prometheus.CounterValue, float64(st.MaxIdleTimeClosed))
}
