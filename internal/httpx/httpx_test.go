package httpx

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWriteJSON: a value JSON cannot encode (a NaN) is a 500 in plain text
// naming the problem, not a 200 over an empty body; a good one is written
// whole with its content type.
func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, "application/json", map[string]any{"v": math.NaN()})
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "NaN") {
		t.Fatalf("a NaN: %d %q, want 500 naming it", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	WriteJSON(rec, "application/json; charset=utf-8", map[string]any{"v": 1})
	if rec.Code != http.StatusOK || rec.Body.String() != "{\"v\":1}\n" || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("got %d %q %q", rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
	}
}
