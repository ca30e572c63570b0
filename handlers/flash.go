package handlers

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// flashCookie carries the one-time message of a post/redirect/get. It has a
// cookie of its own, sealed with AES-GCM, rather than a value in the
// gorilla session: encoding a session (gob, then AES and an HMAC) cost a
// third of a rating's handler time, for one short string. Sealed, not only
// signed: after a 差评 it holds the case's lookup code, which a shared
// phone's or computer's next user must not read.
const flashCookie = "flash"

// flashLifetime bounds how long a message waits for its page: the redirect
// follows at once, and a lookup code must not wait on a shared computer.
const flashLifetime = 10 * time.Minute

// setFlash keeps a one-time message for the next page the user sees, after
// a post/redirect/get.
func (h *Handler) setFlash(c echo.Context, msg string) error {
	value := sealFlash(h.keys.flash[0], msg, time.Now())
	// The browser drops it when the message expires, so that a message
	// whose page is never shown does not keep every page out of the cache.
	c.Response().Header().Add(echo.HeaderSetCookie, flashCookie+"="+value+h.flashCookieAttrs)
	return nil
}

// popFlash returns the one-time message, if any, and clears it, so that it
// shows once. A missing, expired or tampered cookie just means no message.
func (h *Handler) popFlash(c echo.Context) string {
	ck, err := c.Request().Cookie(flashCookie)
	if err != nil {
		return ""
	}
	c.SetCookie(&http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: h.secureCookies, SameSite: http.SameSiteLaxMode})
	for _, aead := range h.keys.flash {
		if msg, ok := openFlash(aead, ck.Value, time.Now()); ok {
			return msg
		}
	}
	return ""
}

// sealFlash encrypts a message with the time it was set: nonce, then the
// sealed time and message, in base64url.
func sealFlash(aead cipher.AEAD, msg string, now time.Time) string {
	buf := make([]byte, aead.NonceSize(), aead.NonceSize()+8+len(msg)+16)
	rand.Read(buf)
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(msg)), uint64(now.Unix()))
	plain = append(plain, msg...)
	sealed := aead.Seal(buf, buf, plain, []byte(flashCookie))
	return base64.RawURLEncoding.EncodeToString(sealed)
}

// openFlash decrypts a message sealed by sealFlash, if it is authentic and
// not older than flashLifetime.
func openFlash(aead cipher.AEAD, value string, now time.Time) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	n := aead.NonceSize()
	if err != nil || len(raw) < n {
		return "", false
	}
	plain, err := aead.Open(nil, raw[:n], raw[n:], []byte(flashCookie))
	if err != nil || len(plain) < 8 {
		return "", false
	}
	at := time.Unix(int64(binary.BigEndian.Uint64(plain)), 0)
	if now.Sub(at) > flashLifetime || at.Sub(now) > time.Minute {
		return "", false
	}
	return string(plain[8:]), true
}
