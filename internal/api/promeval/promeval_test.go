package promeval

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	def := time.Unix(42, 0)
	for in, want := range map[string]time.Time{
		"":                     def,
		"1700000000.5":         time.Unix(1700000000, 5e8),
		"2026-01-02T15:04:05Z": time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
	} {
		got, err := ParseTime(in, def)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"NaN", "1e12", "yesterday"} {
		if _, err := ParseTime(bad, def); err == nil {
			t.Errorf("ParseTime(%q): no error", bad)
		}
	}
}

// TestWriteJSONEncodesFirst: a value JSON cannot encode (a NaN) is a 500
// with an error envelope naming the problem, not a 200 with an empty body
// (the status once went out before the encoding failed); a good one is
// written whole with its status.
func TestWriteJSONEncodesFirst(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusOK, map[string]any{"status": "success", "data": math.NaN()})
	var r Response
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || rec.Code != http.StatusInternalServerError || r.Status != "error" || !strings.Contains(r.Error, "NaN") {
		t.Fatalf("a NaN: %d %q (%v), want 500 naming it", rec.Code, rec.Body.String(), err)
	}
	rec = httptest.NewRecorder()
	WriteJSON(rec, http.StatusAccepted, map[string]any{"status": "success"})
	if rec.Code != http.StatusAccepted || strings.TrimSpace(rec.Body.String()) != `{"status":"success"}` || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q %q", rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
	}
}
