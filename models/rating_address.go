package models

import "time"

// addressCounts counts, for the rating writer, the ratings from each
// address (its pseudonym's hash) in each minute. The per-address hourly
// limit sums an address's minutes here instead of counting its ratings: a
// hall's Wi-Fi, or a raised limit, can put thousands of ratings behind one
// address, and counting them would read them all on every rating.
//
// The hour before a rating starts part-way through a minute, so the sums
// bound the count from both sides: the minutes wholly inside the hour from
// below, with the minute it starts in from above. Below the limit from
// above, the rating is allowed; at it from below, refused; only when the
// limit falls between the two does the writer count that one minute's
// ratings (addressMinuteSQL), a range of idx_ratings_created_at. So the
// rule needs no index of all the ratings by address: on SQLite there is
// none (migration 17), since keeping it wrote about a fifth of the pages of
// each batch of ratings.
//
// It lives in the writer because on SQLite the writer stores every rating:
// it is loaded from the ratings of the last hour, from the start of its
// first minute, on the first batch and then follows each commit. Only the
// writer goroutine touches it.
type addressCounts struct {
	// horizon is the first minute counted: a rating whose hour starts
	// before it is checked by counting in the database.
	horizon  int64
	loaded   bool
	byMinute map[string]map[int64]int
}

// minuteOf is a moment's minute, as Unix time divided by 60.
func minuteOf(t time.Time) int64 { return t.Unix() / 60 }

// hourBefore is the start of the hour a rating at now is counted against:
// the limit counts the address's ratings after it.
func hourBefore(now time.Time) time.Time { return now.Add(-time.Hour) }

// bounds returns the number of the address's ratings after now - 1 hour,
// counting those of the batch in hand too, as lower and upper bounds: the
// minutes after the one the hour starts in, and those with it. ok is false
// when the counts do not reach back that far.
func (a *addressCounts) bounds(pending map[string]map[int64]int, address string, now time.Time) (lower, upper int64, ok bool) {
	first := minuteOf(hourBefore(now))
	if !a.loaded || first < a.horizon {
		return 0, 0, false
	}
	for _, m := range []map[int64]int{a.byMinute[address], pending[address]} {
		for minute, n := range m {
			switch {
			case minute > first:
				lower += int64(n)
				upper += int64(n)
			case minute == first:
				upper += int64(n)
			}
		}
	}
	return lower, upper, true
}

// add counts ratings from an address in a minute into counts.
func add(counts map[string]map[int64]int, address string, minute int64, n int) {
	m := counts[address]
	if m == nil {
		m = map[int64]int{}
		counts[address] = m
	}
	m[minute] += n
}

// commit counts a committed batch's ratings and, once a minute, forgets the
// minutes that can no longer count.
func (a *addressCounts) commit(pending map[string]map[int64]int, now time.Time) {
	for address, m := range pending {
		for minute, n := range m {
			add(a.byMinute, address, minute, n)
		}
	}
	from := minuteOf(hourBefore(now))
	if from <= a.horizon {
		return
	}
	a.horizon = from
	for address, m := range a.byMinute {
		for minute := range m {
			if minute < from {
				delete(m, minute)
			}
		}
		if len(m) == 0 {
			delete(a.byMinute, address)
		}
	}
}

// addressCountSQL is the exact count of an address's ratings in the last
// hour, stopping at the limit: a range of idx_ratings_address, which
// PostgreSQL and MySQL keep (rateOnServer).
const addressCountSQL = `SELECT COUNT(*) FROM (SELECT 1 FROM ratings
	WHERE address_hash = ? AND created_at > ? LIMIT ?) AS r`

// addressMinuteSQL counts an address's ratings in part of a minute, for the
// rating writer on SQLite when addressCounts' bounds straddle the limit: a
// range of idx_ratings_created_at a minute long at most.
const addressMinuteSQL = `SELECT COUNT(*) FROM ratings
	WHERE created_at > ? AND created_at < ? AND address_hash = ?`

// addressHourSQL counts an address's ratings in the last hour when the
// rating writer's counts do not reach back that far (a rating dated before
// the writer started, as tests and imports write): a range of
// idx_ratings_created_at, stopping at the limit.
const addressHourSQL = `SELECT COUNT(*) FROM (SELECT 1 FROM ratings
	WHERE created_at > ? AND address_hash = ? LIMIT ?) AS r`
