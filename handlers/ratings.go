package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/zwfw/portal/models"
	"github.com/zwfw/portal/views"
)

// raterCookie identifies a rater's phone, so that one phone rates a counter
// once in the window. It holds a random number, nothing about the person.
const raterCookie = "rater"

// raterCookieLifetime is how long a phone keeps its rater cookie, in
// seconds: 400 days, the longest browsers keep one.
const raterCookieLifetime = 400 * 24 * 3600

// rater returns the rater's device ID from its signed cookie, setting a new
// one when there is none. ok is false when the request carried no valid
// cookie: a rating is accepted only from a phone that opened the page.
func (h *Handler) rater(c echo.Context) (id string, ok bool) {
	if ck, err := c.Cookie(raterCookie); err == nil {
		if id, sig, found := strings.Cut(ck.Value, "."); found && h.keys.raterSigned(id, sig) {
			return id, true
		}
	}
	var b [16]byte
	rand.Read(b[:])
	id = hex.EncodeToString(b[:])
	c.Response().Header().Add(echo.HeaderSetCookie, raterCookie+"="+id+"."+h.keys.signRater(id)+h.raterCookieAttrs)
	return id, false
}

// pseudonym keys a network address, so that the database never holds an
// address anyone could look up.
func (h *Handler) pseudonym(address string) string { return h.keys.pseudonym.mac("address:" + address) }

// ratingForm is the rating page's data for a counter.
func (h *Handler) ratingForm(c echo.Context, ctr *models.Counter) views.RatingForm {
	return views.RatingForm{
		Counter: ctr, CSRF: csrfToken(c), Levels: h.rules.Levels(), Reasons: models.BadReasons(),
		MaxComment: models.MaxCommentRunes, Window: h.rules.Window, CallbackDays: h.rules.CallbackDays,
	}
}

// handleRatingNew is /r/{code}, what the counter's QR code opens: 满意 in
// one tap, 不满意 (or a level below 基本满意) on to the reasons.
func (h *Handler) handleRatingNew(c echo.Context) error {
	ctr, err := h.store.FindRatableCounter(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	h.rater(c)
	title := "评价 " + ctr.Name
	if lv, err := strconv.Atoi(c.QueryParam("level")); err == nil && models.IsBad(lv) && validLevel(h.rules, lv) {
		form := h.ratingForm(c, ctr)
		form.Level = lv
		return h.render(c, http.StatusOK, views.RatingReasonsPage(h.page(c, title), form))
	}
	// The first page is the same for every rater but for the token.
	return h.renderForm(c, csrfToken(c), func(token string) templ.Component {
		form := h.ratingForm(c, ctr)
		form.CSRF = token
		return views.RatingPage(h.page(c, title), form)
	})
}

func validLevel(rules models.RatingRules, level int) bool {
	for _, l := range rules.Levels() {
		if l == level {
			return true
		}
	}
	return false
}

// handleRatingCreate stores a rating and sends the rater to the thank-you
// page, or says plainly why it was not counted.
func (h *Handler) handleRatingCreate(c echo.Context) error {
	ctx := c.Request().Context()
	ctr, err := h.store.FindRatableCounter(ctx, c.Param("code"))
	if err != nil {
		return err
	}
	device, ok := h.rater(c)
	if !ok {
		return echo.NewHTTPError(http.StatusForbidden)
	}
	params, _ := c.FormParams()
	level, _ := strconv.Atoi(params.Get("level"))
	in := models.RatingInput{
		CounterCode: ctr.Code, Counter: ctr, Level: level, Reasons: params["reasons"],
		Comment: params.Get("comment"), Phone: params.Get("phone"),
		Device: device, Address: h.pseudonym(c.RealIP()),
	}
	rec, err := h.store.RateCounter(ctx, in, h.rules, time.Now())
	if err == nil {
		h.metrics.ratings.Inc()
		// Only a 差评's receipt needs the flash: its lookup code is for
		// this rater alone. After any other rating the thank-you page is
		// the same for everyone, and a sealed cookie for it (an AES-GCM
		// seal, a Set-Cookie the phone parses and keeps, and its deletion
		// on the next page) cost a busy hall's every rating for nothing.
		if rec.Case != nil {
			if err := h.setFlash(c, receiptCase+rec.Case.Number+" "+rec.Case.LookupCode); err != nil {
				return err
			}
		}
		return seeOther(c, "/r/"+ctr.Code+"/thanks")
	}
	// Not counted: the form again with what the rater sent, or why not.
	form := h.ratingForm(c, ctr)
	form.Level, form.Chosen = level, params["reasons"]
	form.Comment, form.Phone = displayable(params.Get("comment")), displayable(params.Get("phone"))
	p := h.page(c, "评价 "+ctr.Name)
	var verr *models.ValidationError
	switch {
	case errors.As(err, &verr):
		form.Errors = verr.Fields
		if verr.Field("level") != "" {
			return h.render(c, http.StatusUnprocessableEntity, views.RatingPage(p, form))
		}
		return h.render(c, http.StatusUnprocessableEntity, views.RatingReasonsPage(p, form))
	case errors.Is(err, models.ErrAlreadyRated):
		return h.render(c, http.StatusConflict, views.RatingRefusedPage(p, form, views.RefusedAlreadyRated))
	case errors.Is(err, models.ErrRateLimited):
		return h.render(c, http.StatusTooManyRequests, views.RatingRefusedPage(p, form, views.RefusedRateLimited))
	}
	return err
}

// handleRatingThanks confirms a rating; after a 差评 it gives the case
// number and lookup code once.
func (h *Handler) handleRatingThanks(c echo.Context) error {
	ctr, err := h.store.FindRatableCounter(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	p := h.page(c, "感谢您的评价")
	receipt := p.Flash
	p.Flash = ""
	data := views.ThanksData{Counter: ctr, CallbackDays: h.rules.CallbackDays}
	if rest, ok := strings.CutPrefix(receipt, receiptCase); ok {
		data.CaseNumber, data.LookupCode, _ = strings.Cut(rest, " ")
	}
	return h.render(c, http.StatusOK, views.RatingThanksPage(p, data))
}

// receiptCase starts the receipt a 差评 leaves in the flash for the
// thank-you page: its case's number and lookup code follow.
const receiptCase = "receipt:case:"

// handleCounterPoster is the counter's A4 QR poster.
func (h *Handler) handleCounterPoster(c echo.Context) error {
	ctr, err := h.store.FindRatableCounter(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	target := h.absoluteURL(c, "/r/"+ctr.Code)
	code, err := qrCode(target)
	if err != nil {
		return err
	}
	p := h.page(c, ctr.Name+"评价二维码")
	p.URL = target
	return h.render(c, http.StatusOK, views.PosterPage(p, ctr, code, h.rules.FiveLevels))
}

// handleRatingStats is /ratings: satisfaction by department and counter
// for a month, ranked, with the twelve-month trend.
func (h *Handler) handleRatingStats(c echo.Context) error {
	month := c.QueryParam("month")
	current := models.MonthOf(time.Now())
	if month == "" {
		month = current
	}
	st, err := h.store.FindRatingStats(c.Request().Context(), displayable(month))
	p := h.page(c, "好差评公示")
	var verr *models.ValidationError
	if errors.As(err, &verr) {
		st, err = h.store.FindRatingStats(c.Request().Context(), current)
		if err != nil {
			return err
		}
		p.Title = "好差评公示"
		return h.render(c, http.StatusUnprocessableEntity, views.RatingStatsPage(p, views.StatsData{Stats: st, Months: lastMonths(12), Error: verr.Field("month")}))
	}
	if err != nil {
		return err
	}
	p.Title = st.Month + " 好差评公示"
	return h.render(c, http.StatusOK, views.RatingStatsPage(p, views.StatsData{Stats: st, Months: lastMonths(12)}))
}

// lastMonths lists the n months up to this one, newest first, in Beijing
// time like the statistics.
func lastMonths(n int) []string {
	now := models.InBeijing(time.Now())
	first := time.Date(now.Year(), now.Month(), 1, 12, 0, 0, 0, now.Location())
	out := make([]string, n)
	for i := range out {
		out[i] = models.MonthOf(first.AddDate(0, -i, 0))
	}
	return out
}
