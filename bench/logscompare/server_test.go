package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestPushRetrying wants a push answered 503 retried until it passes, and
// one answered 400 not retried.
func TestPushRetrying(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case r.URL.Path == "/bad":
			http.Error(w, "bad line", http.StatusBadRequest)
		case n <= 2:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	push := func(path string) func(context.Context, []byte) error {
		return func(ctx context.Context, b []byte) error {
			return post(ctx, srv.URL+path, "text/plain", bytes.NewReader(b))
		}
	}
	if err := pushRetrying(context.Background(), push("/ok"), []byte("x")); err != nil || calls.Load() != 3 {
		t.Fatalf("after two 503s: %v, %d calls, want success in 3", err, calls.Load())
	}
	calls.Store(10)
	if err := pushRetrying(context.Background(), push("/bad"), []byte("x")); err == nil || calls.Load() != 11 {
		t.Fatalf("a 400: %v, %d calls, want the error after 1", err, calls.Load()-10)
	}
}
