package demo

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestLocalOnly: the control API answers loopback hosts and JSON POSTs
// only.
func TestLocalOnly(t *testing.T) {
	h := localOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, c := range []struct {
		method, host, ctype string
		want                int
	}{
		{"GET", "127.0.0.1:3390", "", http.StatusTeapot},
		{"GET", "localhost:3390", "", http.StatusTeapot},
		{"GET", "[::1]:3390", "", http.StatusTeapot},
		{"DELETE", "127.0.0.1", "", http.StatusTeapot},
		{"POST", "127.0.0.1:3390", "application/json", http.StatusTeapot},
		{"POST", "127.0.0.1:3390", "application/json; charset=utf-8", http.StatusTeapot},
		{"GET", "evil.example:3390", "", http.StatusForbidden},
		{"GET", "10.0.0.1:3390", "", http.StatusForbidden},
		{"POST", "127.0.0.1:3390", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"POST", "127.0.0.1:3390", "text/plain", http.StatusUnsupportedMediaType},
		{"POST", "127.0.0.1:3390", "", http.StatusUnsupportedMediaType},
	} {
		r := httptest.NewRequest(c.method, "http://x/api/demo/faults", strings.NewReader("{}"))
		r.Host = c.host
		if c.ctype != "" {
			r.Header.Set("Content-Type", c.ctype)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s Host %s Content-Type %q: %d, want %d", c.method, c.host, c.ctype, w.Code, c.want)
		}
	}
}

// TestPrefixWriter: each whole line gets the prefix, a line split across
// writes is held until its end, a line too long to hold is cut.
func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	w := &prefixWriter{prefix: []byte("orders-1 | "), w: &out, mu: &sync.Mutex{}}
	for _, s := range []string{"one\ntw", "o\n", "three\nfour"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := out.String(), "orders-1 | one\norders-1 | two\norders-1 | three\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	out.Reset()
	long := strings.Repeat("x", maxPartialLine+10)
	_, _ = w.Write([]byte(long))
	if !strings.HasPrefix(out.String(), "orders-1 | four"+strings.Repeat("x", 10)) || out.Len() < maxPartialLine {
		t.Fatalf("long line: %d bytes written, %q...", out.Len(), out.String()[:40])
	}
}
