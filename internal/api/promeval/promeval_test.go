package promeval

import (
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
