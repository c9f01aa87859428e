package ui

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestIsRoute(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/services": true, "/service/payments": true, "/service/a%2Fb": true,
		"/explore": true, "/trace/b1c9ace8c0e2c68c40ec587a835dff92": true,
		"/alerts": true, "/alerts/3f0c5d2e9a1b7c44": true, "/slos": true, "/slos/checkout-availability": true,
		"/changes": true, "/investigate": true,
		"/service": false, "/service/": false, "/service/a/b": false, "/trace": false, "/services/x": false,
		"/explore/x": false, "/api/v1/nope": false, "/loki/api/v1/x": false, "/favicon.ico": false,
		"/index.html": false, "/assets": false, "": false, "/metrics": false, "/runbooks/x": false,
	} {
		if got := IsRoute(p); got != want {
			t.Errorf("IsRoute(%q) = %v, want %v", p, got, want)
		}
	}
}

func get(t *testing.T, h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestHandler serves the committed build: index.html (no-cache) for every
// page, the hashed assets it names (cached for a year, gzipped when
// asked), 404 for the rest.
func TestHandler(t *testing.T) {
	h := Handler()
	resp := get(t, h, "/service/payments")
	body := resp.Body.Bytes()
	if resp.Code != 200 || !strings.Contains(string(body), `<div id="app">`) {
		t.Fatalf("/service/payments: %d %s", resp.Code, body)
	}
	if cc := resp.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("index.html Cache-Control %q", cc)
	}
	if ct := resp.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("index.html Content-Type %q", ct)
	}
	assets := regexp.MustCompile(`/assets/[^"]+\.(?:js|css)`).FindAllString(string(body), -1)
	if len(assets) < 2 {
		t.Fatalf("index.html names %v, want a script and a style sheet", assets)
	}
	for _, a := range assets {
		resp := get(t, h, a, "Accept-Encoding", "gzip, deflate, br")
		if resp.Code != 200 {
			t.Fatalf("%s: %d", a, resp.Code)
		}
		if cc := resp.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
			t.Errorf("%s Cache-Control %q", a, cc)
		}
		if resp.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("%s not gzipped", a)
			continue
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %d bytes, %v", a, len(b), err)
		}
		etag := resp.Header().Get("ETag")
		if r := get(t, h, a, "If-None-Match", etag); r.Code != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: %d", a, r.Code)
		}
	}
	for _, p := range []string{"/assets/nope.js", "/api/v1/nope", "/favicon.ico", "/service/a/b", "/index.html"} {
		if r := get(t, h, p); r.Code != 404 {
			t.Errorf("%s: %d, want 404", p, r.Code)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", w.Code)
	}
}
