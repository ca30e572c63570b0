package handlers

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// The page cache keeps the final bytes of public pages, as the render
// helper produced them (display modes included), with their gzip and
// ETag, so that a repeated request costs a map lookup instead of queries and
// a template. It is exact: an entry is served only while the store's content
// version is the one read before the page was rendered, and the store bumps
// that version when any write commits (models/content_version.go). A change
// is therefore visible on the very next request. The version is per process:
// several instances behind a load balancer must run with the cache off
// (-page-cache-mb 0) until it is shared through the database.
//
// Only anonymous requests use the cache: a request with the session cookie
// (a one-time message) or the staff cookie is rendered afresh and never
// stored, and so is any response that sets a cookie or is not a 200 HTML
// page. (Browsers send the staff cookie under /admin only, so staff see the
// same public pages as everyone: those pages carry nothing per-user.)

// maxCachedPage is the largest page the cache keeps. A department's board
// lists all its service items: at 100,000 items in the catalogue it is
// 1.3 MB and takes seconds to render, exactly the page that most needs the
// cache. Bigger ones would crowd out the rest.
const maxCachedPage = 4 << 20

// pageCache is a byte-bounded LRU of rendered pages, safe for concurrent use.
type pageCache struct {
	mu      sync.Mutex
	budget  int
	used    int
	lru     *list.List // front: most recently used; values are *cachedPage
	entries map[string]*list.Element
	// rendering holds the pages being rendered: concurrent requests for
	// one wait for it instead of rendering it again (a board at scale
	// takes seconds, and 32 renders at once take 32 times longer).
	rendering map[string]chan struct{}
	// compressors are gzip writers for newPage to reuse: each holds about
	// a megabyte of deflate state, which a new writer per rendered page
	// (a search, a month's statistics) made into garbage every time.
	compressors sync.Pool
}

// cachedPage is one rendered page and what serving it needs.
type cachedPage struct {
	key     string
	version uint64
	body    []byte
	gzipped []byte // nil when gzip does not make it smaller
	etag    string
	// route is the route pattern (/services/:code) that rendered the page,
	// for the metrics of requests served before routing.
	route string
	// viewOf is the guide whose views the page counts, or "".
	viewOf string
	// tokenAt is where a form page's token goes (formcache.go); such an
	// entry has no gzip or ETag and is never served as it is.
	tokenAt int
	// showsRatings marks a page that shows ratings, their totals or cases:
	// it is current while the content version is; any other page while the
	// catalogue version is, so that ratings do not empty it.
	showsRatings bool
	// The header values a hit sends, made once: a hit then allocates no
	// header value of its own. Nothing may modify these slices.
	contentType, etagValue, plainLength, gzipLength []string
}

func (p *cachedPage) size() int { return len(p.key) + len(p.body) + len(p.gzipped) + 128 }

func newPageCache(budget int) *pageCache {
	return &pageCache{budget: budget, lru: list.New(), entries: map[string]*list.Element{}, rendering: map[string]chan struct{}{}}
}

// versions are the store's content and catalogue versions, read at once.
type versions struct{ content, catalogue uint64 }

// of is the version a page is current at.
func (v versions) of(showsRatings bool) uint64 {
	if showsRatings {
		return v.content
	}
	return v.catalogue
}

// currentVersions reads the store's versions.
func (h *Handler) currentVersions() versions {
	return versions{content: h.store.ContentVersion(), catalogue: h.store.CatalogueVersion()}
}

// get returns the page under key if it is current at v.
func (pc *pageCache) get(key string, v versions) *cachedPage {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	el, ok := pc.entries[key]
	if !ok {
		return nil
	}
	p := el.Value.(*cachedPage)
	if p.version != v.of(p.showsRatings) {
		pc.remove(el)
		return nil
	}
	pc.lru.MoveToFront(el)
	return p
}

// put stores a page, evicting the least recently used ones over budget.
func (pc *pageCache) put(p *cachedPage) {
	if p.size() > pc.budget/4 {
		return
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if el, ok := pc.entries[p.key]; ok {
		// A page rendered at an older version than the one stored (a slow
		// request finishing late) must not replace it.
		if old := el.Value.(*cachedPage); old.showsRatings == p.showsRatings && old.version > p.version {
			return
		}
		pc.remove(el)
	}
	pc.entries[p.key] = pc.lru.PushFront(p)
	pc.used += p.size()
	for pc.used > pc.budget {
		pc.remove(pc.lru.Back())
	}
}

// begin makes the caller the renderer of key, or returns a channel that is
// closed when the current renderer is done.
func (pc *pageCache) begin(key string) (wait <-chan struct{}, renderer bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if ch, ok := pc.rendering[key]; ok {
		return ch, false
	}
	pc.rendering[key] = make(chan struct{})
	return nil, true
}

// end lets the requests waiting for key go on.
func (pc *pageCache) end(key string) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	close(pc.rendering[key])
	delete(pc.rendering, key)
}

func (pc *pageCache) remove(el *list.Element) {
	p := pc.lru.Remove(el).(*cachedPage)
	delete(pc.entries, p.key)
	pc.used -= p.size()
}

// pageKey is what makes two requests get the same bytes: method (HEAD is
// served from GET's entry), host (absolute links use it when no base URL is
// set), path and query, and the display-mode cookies.
func pageKey(req *http.Request, d display) string {
	mode := " standard"
	switch {
	case d.care && d.traditional:
		mode = " care hant"
	case d.care:
		mode = " care"
	case d.traditional:
		mode = " hant"
	}
	return req.Host + " " + req.URL.RequestURI() + mode
}

// readCookies reads the display mode from the request's cookies, in one
// pass over them, and whether the request is anonymous: a request with the
// session cookie (a case lookup), the flash cookie (a one-time message) or
// the staff cookie is not.
func readCookies(req *http.Request) (d display, anonymous bool) {
	anonymous = true
	if _, ok := req.Header["Cookie"]; !ok {
		return d, true
	}
	// The first cookie of a name counts, as in displayOf.
	var careSeen, scriptSeen bool
	for _, ck := range req.Cookies() {
		switch {
		case ck.Name == sessionName || ck.Name == flashCookie || ck.Name == adminCookie:
			anonymous = false
		case ck.Name == careCookie && !careSeen:
			d.care, careSeen = ck.Value == "1", true
		case ck.Name == scriptCookie && !scriptSeen:
			d.traditional, scriptSeen = ck.Value == "hant", true
		}
	}
	return d, anonymous
}

// cacheKey returns the cache's key for a request, or false if the request
// must not use the cache: the cache is off, the method is not GET or HEAD,
// the request is not anonymous, or its URL is too long to be worth keeping.
func (h *Handler) cacheKey(req *http.Request) (string, bool) {
	if h.pages == nil || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return "", false
	}
	d, anonymous := readCookies(req)
	if !anonymous {
		return "", false
	}
	key := pageKey(req, d)
	return key, len(key) <= 2048
}

// serveCachedPage is the page cache's fast path, run before routing: a
// request for a page that is cached and current is answered here, without
// the router and the middleware chain a rendered page needs, which cost
// more than serving the bytes. What that chain gives every response, a hit
// gets here too: the request ID, the security headers, the metrics, the
// request log and the guide's view count.
func (h *Handler) serveCachedPage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		key, ok := h.cacheKey(req)
		if !ok {
			return next(c)
		}
		p := h.pages.get(key, h.currentVersions())
		if p == nil {
			return next(c)
		}
		start := time.Now()
		hdr := c.Response().Header()
		id := req.Header.Get(echo.HeaderXRequestID) // as middleware.RequestID does
		if id == "" {
			id = newRequestID()
		}
		hdr[echo.HeaderXRequestID] = []string{id}
		setSecurityHeaders(hdr, c.Scheme() == "https")
		err := servePage(c, p)
		status := c.Response().Status
		if p.viewOf != "" {
			h.countView(c, p.viewOf, status)
		}
		latency := time.Since(start)
		h.metrics.observe(p.route, req.Method, status, latency)
		h.logRequest(c, status, latency)
		return err
	}
}

// cachePage is the middleware of the public pages' routes that show no
// rating, total or case: it answers from the cache what the fast path did
// not (requests that waited for a render), and stores what the handler
// rendered, current until the catalogue changes.
func (h *Handler) cachePage(next echo.HandlerFunc) echo.HandlerFunc {
	return h.cachePageOf(next, false)
}

// cacheRatingsPage is cachePage for the pages that show ratings, their
// totals or cases: they are current until any write, ratings included.
func (h *Handler) cacheRatingsPage(next echo.HandlerFunc) echo.HandlerFunc {
	return h.cachePageOf(next, true)
}

func (h *Handler) cachePageOf(next echo.HandlerFunc, showsRatings bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		key, ok := h.cacheKey(req)
		if !ok {
			return next(c)
		}
		if p := h.pages.get(key, h.currentVersions()); p != nil {
			return servePage(c, p)
		}
		if wait, renderer := h.pages.begin(key); renderer {
			defer h.pages.end(key)
		} else {
			select {
			case <-wait:
			case <-req.Context().Done():
				return req.Context().Err()
			}
			if p := h.pages.get(key, h.currentVersions()); p != nil {
				return servePage(c, p)
			}
			// Not cacheable, or changed meanwhile: render it here.
		}
		// Read before rendering: a write committing during the render
		// makes the stored entry stale at once, never wrongly current.
		version := h.currentVersions().of(showsRatings)

		res := c.Response()
		orig := res.Writer
		rec := &pageRecorder{header: orig.Header()}
		res.Writer = rec
		err := next(c)
		res.Writer = orig
		if !rec.wroteHeader && rec.buf.Len() == 0 {
			// Nothing written: the error handler answers.
			return err
		}
		ctype := orig.Header().Get(echo.HeaderContentType)
		if err != nil || rec.status != http.StatusOK || orig.Header().Get("Set-Cookie") != "" ||
			!strings.HasPrefix(ctype, echo.MIMETextHTML) || rec.buf.Len() > maxCachedPage {
			if rec.wroteHeader {
				orig.WriteHeader(rec.status)
			}
			_, werr := orig.Write(rec.buf.Bytes())
			if err == nil {
				err = werr
			}
			return err
		}
		p := h.pages.newPage(key, version, ctype, bytes.Clone(rec.buf.Bytes()))
		p.route, p.showsRatings = c.Path(), showsRatings
		if code, ok := c.Get(countsViewKey).(string); ok {
			p.viewOf = code
		}
		h.pages.put(p)
		// The handler's WriteHeader only reached the recorder: let the
		// response write again.
		res.Committed = false
		return servePage(c, p)
	}
}

// newPage builds the cache entry of a rendered page: its ETag, header
// values and gzipped body.
func (pc *pageCache) newPage(key string, version uint64, ctype string, body []byte) *cachedPage {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	p := &cachedPage{key: key, version: version, body: body, etag: etag,
		contentType: []string{ctype}, etagValue: []string{etag},
		plainLength: []string{strconv.Itoa(len(body))}}
	var gz bytes.Buffer
	zw, _ := pc.compressors.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(&gz, pageGzipLevel)
	} else {
		zw.Reset(&gz)
	}
	if _, err := zw.Write(body); err == nil && zw.Close() == nil && gz.Len() < len(body) {
		p.gzipped = gz.Bytes()
		p.gzipLength = []string{strconv.Itoa(gz.Len())}
	}
	pc.compressors.Put(zw)
	return p
}

// pageGzipLevel is the compression of cached pages. It is paid on the
// request that renders the page, and /ratings, 200 KB of table, is rendered
// afresh after every rating. There, level 5 took 0.96 ms against the
// default (6) level's 1.59 ms, for 2 % more bytes (19.2 KB against 18.8 KB
// with ten million ratings); the best level (9) took 7.9 ms for 7 % fewer.
// Level 6 also cost more the more varied the figures: 0.84 ms with ten
// thousand ratings, against level 5's 0.68 ms.
const pageGzipLevel = 5

// The header values every cached page is sent with.
const (
	pageCacheControl = "no-cache"
	pageVary         = "Accept-Encoding, Cookie"
)

// servePage answers with a cached page: 304 when the browser has it, gzip
// when the browser takes it. HTML is always revalidated (no-cache), so that
// a change shows on the next visit.
func servePage(c echo.Context, p *cachedPage) error {
	req, res := c.Request(), c.Response()
	hdr := res.Header()
	// Canonical keys, values made once (newPage).
	hdr["Etag"] = p.etagValue
	hdr["Cache-Control"] = []string{pageCacheControl}
	hdr["Vary"] = []string{pageVary}
	if etagMatches(req.Header.Get("If-None-Match"), p.etag) {
		delete(hdr, echo.HeaderContentType)
		res.WriteHeader(http.StatusNotModified)
		return nil
	}
	hdr["Content-Type"] = p.contentType
	body, length := p.body, p.plainLength
	if p.gzipped != nil && acceptsGzip(req.Header.Get(echo.HeaderAcceptEncoding)) {
		hdr["Content-Encoding"] = []string{"gzip"}
		body, length = p.gzipped, p.gzipLength
	}
	hdr["Content-Length"] = length
	res.WriteHeader(http.StatusOK)
	if req.Method == http.MethodHead {
		return nil
	}
	if _, err := res.Write(body); err != nil {
		return err
	}
	return sendNow(c)
}

// sendNow sends what net/http still holds of a response whose body is
// written. net/http keeps up to 4 KB of it (a small page whole, the tail of
// a bigger one) until the handler and every middleware have returned, so
// the request's bookkeeping (metrics, the request log, a guide's view
// count), and any time the scheduler takes the goroutine away meanwhile,
// would come before the page's last bytes. The flush costs no system call:
// the one at the request's end then has nothing left to write. Measured in
// alternating wrk runs of the guide page (7.3 KB, whose last 3.9 KB waited
// so): p99 7.2–9.5 ms against 7.9–10.6 ms, better in each of nine rounds.
func sendNow(c echo.Context) error {
	err := http.NewResponseController(c.Response().Writer).Flush()
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	return err
}

// etagMatches applies If-None-Match's weak comparison.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding allows gzip (q=0 refuses it).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.TrimSpace(name) != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		if strings.HasPrefix(q, "q=") {
			if v, err := strconv.ParseFloat(q[2:], 64); err == nil && v == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// pageRecorder holds a handler's response so that the cache can keep it;
// headers go straight to the real response.
type pageRecorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	buf         bytes.Buffer
}

func (r *pageRecorder) Header() http.Header { return r.header }

func (r *pageRecorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
}

func (r *pageRecorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	return r.buf.Write(b)
}
