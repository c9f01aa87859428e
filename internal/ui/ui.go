// Package ui serves Horus' web UI: the production build of web/ (Vite),
// committed in dist/ and embedded in the binary, so that a clean clone
// builds and runs the UI without Node.
//
// The UI is a single-page application: every UI route (IsRoute) answers
// index.html, whose script reads the path; the hashed files under
// /assets/ are cached for a year (a new build has new names), index.html
// never without revalidation. Anything else is a 404, so an unknown API
// path stays one.
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed all:dist
var dist embed.FS

// routes are the first path segments of the UI's pages (docs/ui.md), and
// whether the page takes one more segment (/service/<name>) and whether it
// may be without it (/alerts and /alerts/<fingerprint>).
var routes = map[string]struct{ sub, bare bool }{
	"services":    {false, true},
	"service":     {true, false},
	"explore":     {false, true},
	"trace":       {true, false},
	"alerts":      {true, true},
	"slos":        {true, true},
	"changes":     {false, true},
	"investigate": {false, true},
}

// IsRoute reports whether p is the path of a page of the UI.
func IsRoute(p string) bool {
	if p == "/" {
		return true
	}
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return false
	}
	first, sub, hasSub := strings.Cut(rest, "/")
	r, ok := routes[first]
	switch {
	case !ok:
		return false
	case !hasSub:
		return r.bare
	default:
		return r.sub && sub != "" && !strings.Contains(sub, "/")
	}
}

// WantsHTML reports whether the request is a browser's for a page (its
// Accept names text/html), not a script's.
func WantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// file is one file of the build, ready to serve.
type file struct {
	body, gz    []byte
	contentType string
	etag        string
}

var (
	filesOnce sync.Once
	files     map[string]*file
)

// load reads the build once: each file with its gzip form (when smaller)
// and an ETag of its content.
func load() map[string]*file {
	filesOnce.Do(func() {
		files = map[string]*file{}
		sub, err := fs.Sub(dist, "dist")
		if err != nil {
			return
		}
		_ = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || path.Base(p) == ".gitkeep" {
				return err
			}
			b, err := fs.ReadFile(sub, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			f := &file{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
			f.contentType = mime.TypeByExtension(path.Ext(p))
			if f.contentType == "" {
				f.contentType = "application/octet-stream"
			}
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = zw.Write(b)
			_ = zw.Close()
			if buf.Len() < len(b) {
				f.gz = buf.Bytes()
			}
			files["/"+p] = f
			return nil
		})
	})
	return files
}

// Handler serves the UI: the pages (index.html), the assets, and a 404
// for any other path.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		all := load()
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, "/assets/"):
			f := all[p]
			if f == nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			serve(w, r, f)
		case IsRoute(p):
			f := all["/index.html"]
			if f == nil {
				http.Error(w, "the web UI was not built into this binary (make web)", http.StatusNotFound)
				return
			}
			h := w.Header()
			h.Set("Cache-Control", "no-cache")
			h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "same-origin")
			serve(w, r, f)
		default:
			http.NotFound(w, r)
		}
	})
}

func serve(w http.ResponseWriter, r *http.Request, f *file) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
