package handlers

import (
	"fmt"
	"strings"

	"github.com/boombuler/barcode/qr"

	"github.com/zwfw/portal/views"
)

// quietZone is the blank margin, in modules, that scanners need round a QR
// code.
const quietZone = 4

// qrCode encodes text as a QR code drawn as one SVG path: each run of dark
// modules in a row is one rectangle, so the code stays crisp at any size.
func qrCode(text string) (views.QRCode, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return views.QRCode{}, fmt.Errorf("qr code: %w", err)
	}
	bounds := code.Bounds()
	n := bounds.Dx()
	var path strings.Builder
	for y := 0; y < n; y++ {
		for x := 0; x < n; {
			if !dark(code.At(bounds.Min.X+x, bounds.Min.Y+y)) {
				x++
				continue
			}
			start := x
			for x < n && dark(code.At(bounds.Min.X+x, bounds.Min.Y+y)) {
				x++
			}
			fmt.Fprintf(&path, "M%d %dh%dv1h-%dz", start+quietZone, y+quietZone, x-start, x-start)
		}
	}
	return views.QRCode{Size: n + 2*quietZone, Path: path.String()}, nil
}

// dark reports whether a QR module is black.
func dark(c interface{ RGBA() (r, g, b, a uint32) }) bool {
	r, _, _, _ := c.RGBA()
	return r < 0x8000
}
