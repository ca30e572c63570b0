package models

import "time"

// addressCounts counts, for the rating writer, the ratings from each
// address (its pseudonym's hash) in each clock hour. The per-address hourly
// limit sums an address's hours here instead of counting its ratings: a
// hall's Wi-Fi, or a raised limit, can put thousands of ratings behind one
// address, and counting them would read them all on every rating. The hours
// summed cover the last hour and more, so the sum can only overstate the
// count: below the limit, the rating is allowed at once; at or above it, the
// exact count decides (addressCountSQL), as before.
//
// It lives in the writer because on SQLite the writer stores every rating:
// it is loaded from the ratings of the last two hours on the first batch
// and then follows each commit. Only the writer goroutine touches it.
type addressCounts struct {
	// horizon is the first hour counted: a rating time whose previous hour
	// is before it is checked by the exact count alone.
	horizon int64
	loaded  bool
	byHour  map[string]map[int64]int
}

// hourOf is a moment's clock hour, as Unix time divided by 3600.
func hourOf(t time.Time) int64 { return t.Unix() / 3600 }

// bound returns at least the number of the address's ratings after
// now - 1 hour, counting those of the batch in hand too; ok is false when
// the counts do not reach back that far.
func (a *addressCounts) bound(pending map[string]map[int64]int, address string, now time.Time) (n int64, ok bool) {
	from := hourOf(now) - 1
	if !a.loaded || from < a.horizon {
		return 0, false
	}
	for _, m := range []map[int64]int{a.byHour[address], pending[address]} {
		for h, c := range m {
			if h >= from {
				n += int64(c)
			}
		}
	}
	return n, true
}

// add counts ratings from an address at an hour into counts.
func add(counts map[string]map[int64]int, address string, hour int64, n int) {
	m := counts[address]
	if m == nil {
		m = map[int64]int{}
		counts[address] = m
	}
	m[hour] += n
}

// commit counts a committed batch's ratings and forgets the hours that can
// no longer count.
func (a *addressCounts) commit(pending map[string]map[int64]int, now time.Time) {
	for address, m := range pending {
		for h, n := range m {
			add(a.byHour, address, h, n)
		}
	}
	from := hourOf(now) - 1
	if from <= a.horizon {
		return
	}
	a.horizon = from
	for address, m := range a.byHour {
		for h := range m {
			if h < from {
				delete(m, h)
			}
		}
		if len(m) == 0 {
			delete(a.byHour, address)
		}
	}
}

// addressCountSQL is the exact count of an address's ratings in the last
// hour, stopping at the limit: a range of idx_ratings_address.
const addressCountSQL = `SELECT COUNT(*) FROM (SELECT 1 FROM ratings
	WHERE address_hash = ? AND created_at > ? LIMIT ?) AS r`
