package handlers

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// The labels that derive a separate key for each use from one configured
// secret, so that no key serves two purposes: a key that only signs cannot
// help decrypt, and the pseudonyms of addresses say nothing about cookies.
const (
	labelSessionHash  = "portal session cookie hmac v1"
	labelSessionBlock = "portal session cookie aes v1"
	labelRater        = "portal rater cookie hmac v1"
	labelPseudonym    = "portal address pseudonym hmac v1"
	labelFlash        = "portal flash cookie aes-gcm v1"
)

// keyRing holds the keys derived from the configured secrets, newest first:
// the newest signs and encrypts, every one is still accepted, so a key can
// be rotated without signing everyone out.
type keyRing struct {
	// sessionPairs are hash and block key pairs for gorilla/sessions.
	sessionPairs [][]byte
	// rater signs the rater cookie; all are accepted, the first signs.
	rater []*macKey
	// flash seal the one-time message cookie (flash.go); all open, the
	// first seals.
	flash []cipher.AEAD
	// pseudonym keys the pseudonyms of network addresses. Only the newest
	// is used: after a rotation, per-address counts start afresh (they span
	// an hour at most).
	pseudonym *macKey
}

// newKeyRing derives the keys from the secrets, newest first; each secret
// must have at least 32 bytes.
func newKeyRing(secrets [][]byte) (*keyRing, error) {
	if len(secrets) == 0 {
		return nil, errors.New("handlers: no session key")
	}
	kr := &keyRing{}
	for i, s := range secrets {
		if len(s) < 32 {
			return nil, fmt.Errorf("handlers: session key %d has %d bytes, needs at least 32", i+1, len(s))
		}
		derive := func(label string) []byte {
			// HKDF-SHA256 with a 32-byte output cannot fail.
			k, err := hkdf.Key(sha256.New, s, nil, label, 32)
			if err != nil {
				panic(err)
			}
			return k
		}
		kr.sessionPairs = append(kr.sessionPairs, derive(labelSessionHash), derive(labelSessionBlock))
		kr.rater = append(kr.rater, newMACKey(derive(labelRater)))
		block, err := aes.NewCipher(derive(labelFlash))
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		kr.flash = append(kr.flash, aead)
		if i == 0 {
			kr.pseudonym = newMACKey(derive(labelPseudonym))
		}
	}
	return kr, nil
}

// macKey computes HMAC-SHA256 under one key. It keeps the keyed hash
// states for reuse: a new HMAC hashes the key's two pads before the value,
// which for a short value is most of the work, and every rating computes
// three (the rater cookie's signature, twice, and the address pseudonym).
type macKey struct{ states sync.Pool }

func newMACKey(key []byte) *macKey {
	k := &macKey{}
	k.states.New = func() any { return hmac.New(sha256.New, key) }
	return k
}

// mac is the HMAC of a value, in hex, shortened to 128 bits.
func (k *macKey) mac(value string) string {
	h := k.states.Get().(hash.Hash)
	h.Reset()
	io.WriteString(h, value)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	k.states.Put(h)
	return hex.EncodeToString(sum[:16])
}

// signRater signs a rater ID with the newest key.
func (kr *keyRing) signRater(id string) string { return kr.rater[0].mac(id) }

// raterSigned reports whether sig is a rater ID's signature under any key
// still accepted.
func (kr *keyRing) raterSigned(id, sig string) bool {
	for _, k := range kr.rater {
		if hmac.Equal([]byte(sig), []byte(k.mac(id))) {
			return true
		}
	}
	return false
}
