package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
)

// TestMACKeyReusesOnlyTheKey: a reused hash state gives every value the
// HMAC a new one would, whatever was computed with it before, from many
// goroutines at once; so rater cookies signed before stay valid.
func TestMACKeyReusesOnlyTheKey(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	want := func(v string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(v))
		return hex.EncodeToString(m.Sum(nil))[:32]
	}
	k := newMACKey(key)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				v := []string{"address:10.0.0.1", "9b3c2400549522d818743cf852b5d127", ""}[(g+i)%3]
				if got := k.mac(v); got != want(v) {
					t.Errorf("mac(%q) = %s, want %s", v, got, want(v))
					return
				}
			}
		}()
	}
	wg.Wait()
}
