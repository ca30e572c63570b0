package models

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// deviceKey is a phone (the hash of its rater cookie) at a counter.
type deviceKey struct {
	counter uint
	device  [sha256.Size]byte
}

// deviceKeyOf keys a device hash as hashOf writes it (hex SHA-256). Any
// other value (a row written by hand, a future hash) is not keyed: its
// check goes to the database.
func deviceKeyOf(counter uint, deviceHash string) (deviceKey, bool) {
	k := deviceKey{counter: counter}
	if len(deviceHash) != hex.EncodedLen(len(k.device)) {
		return k, false
	}
	_, err := hex.Decode(k.device[:], []byte(deviceHash))
	return k, err == nil
}

// recentDevices remembers, for the rating writer, when each phone last
// rated each counter, for every rating after horizon. The rule "one rating
// per phone and counter in the window" reads it instead of an index of
// (counter, phone, time) over all the ratings: at ten million ratings that
// index's pages are many and cold, one of them read and written for each
// rating, which was about half of what a rating cost the writer. On SQLite
// the index is dropped (migration 14).
//
// Unlike the address counts it is exact: it is loaded from the ratings
// after horizon on the first batch and then follows each commit, and the
// writer stores every rating on SQLite. A check reaching back before
// horizon (a longer window than it was loaded for) is left to the
// database. Only the writer goroutine touches it; it holds a window's
// ratings, about 100 bytes each.
type recentDevices struct {
	horizon time.Time
	loaded  bool
	// last is the time of each phone's latest rating of a counter, in
	// Unix nanoseconds.
	last map[deviceKey]int64
	// window is how far back the checks reach, as loaded.
	window time.Duration
}

// rated reports whether the phone rated the counter after since, counting
// the batch in hand too; ok is false when the answer is not known here.
func (d *recentDevices) rated(pending map[deviceKey]int64, counter uint, deviceHash string, since time.Time) (rated, ok bool) {
	if !d.loaded || since.Before(d.horizon) {
		return false, false
	}
	k, valid := deviceKeyOf(counter, deviceHash)
	if !valid {
		return false, false
	}
	after := since.UnixNano()
	return pending[k] > after || d.last[k] > after, true
}

// note records a rating in times, keeping the latest per phone and counter.
func (d *recentDevices) note(times map[deviceKey]int64, counter uint, deviceHash string, at time.Time) {
	if k, ok := deviceKeyOf(counter, deviceHash); ok && at.UnixNano() > times[k] {
		times[k] = at.UnixNano()
	}
}

// commit adds a committed batch's ratings and, once an hour, forgets those
// that no check can reach any more.
func (d *recentDevices) commit(pending map[deviceKey]int64, now time.Time) {
	for k, t := range pending {
		if t > d.last[k] {
			d.last[k] = t
		}
	}
	from := now.Add(-d.window - time.Hour)
	if from.Sub(d.horizon) < time.Hour {
		return
	}
	d.horizon = from
	cut := from.UnixNano()
	for k, t := range d.last {
		if t <= cut {
			delete(d.last, k)
		}
	}
}
