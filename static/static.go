// Package static embeds the portal's stylesheets and images and serves them
// under content-hashed names, so that they can be cached for a year and a
// change still reaches every browser at once.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"strings"
)

//go:embed css img
var files embed.FS

// Prefix is the URL path under which assets are served.
const Prefix = "/static/"

// Assets maps the logical names of the embedded files (e.g. "css/site.css")
// to their hashed URLs and serves them. It is built once and only read.
type Assets struct {
	urls   map[string]string // logical name → URL
	byPath map[string]asset  // hashed path below Prefix → content
}

type asset struct {
	body        []byte
	gzipped     []byte // compressed once at start; nil when it would not shrink
	contentType string
}

// New reads the embedded files and computes their hashed names.
func New() (*Assets, error) {
	a := &Assets{urls: map[string]string{}, byPath: map[string]asset{}}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:5]) + ext
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		a.urls[name] = Prefix + hashed
		a.byPath[hashed] = asset{body: body, gzipped: compress(body), contentType: ctype}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static assets: %w", err)
	}
	return a, nil
}

// URL returns the hashed URL of a logical name; it panics on a name that is
// not embedded, which is a programming error caught by any test.
func (a *Assets) URL(name string) string {
	u, ok := a.urls[name]
	if !ok {
		panic("static: no asset " + name)
	}
	return u
}

// Lookup returns the content and type of the asset at a hashed path below
// Prefix.
func (a *Assets) Lookup(hashedPath string) (body []byte, contentType string, ok bool) {
	f, ok := a.byPath[hashedPath]
	return f.body, f.contentType, ok
}

// LookupGzip returns the gzip-compressed content of the asset at a hashed
// path, compressed once at start, or nil when compression does not help.
func (a *Assets) LookupGzip(hashedPath string) []byte {
	return a.byPath[hashedPath].gzipped
}

// compress gzips an asset, if that makes it at least a tenth smaller (it
// does for stylesheets and SVG, not for PNG).
func compress(body []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(body); err != nil || zw.Close() != nil || buf.Len() > len(body)*9/10 {
		return nil
	}
	return buf.Bytes()
}
