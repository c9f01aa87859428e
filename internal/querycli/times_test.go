package querycli

import (
	"flag"
	"io"
	"reflect"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"now":                       now,
		"now-2h":                    now.Add(-2 * time.Hour),
		"now - 1d":                  now.Add(-24 * time.Hour),
		"now+1h30m":                 now.Add(90 * time.Minute),
		"2025-02-28T10:00:00Z":      time.Date(2025, 2, 28, 10, 0, 0, 0, time.UTC),
		"2025-02-28T10:00:00+02:00": time.Date(2025, 2, 28, 8, 0, 0, 0, time.UTC),
		"2025-02-28":                time.Date(2025, 2, 28, 0, 0, 0, 0, time.UTC),
		"1740830400":                time.Unix(1740830400, 0),
		"1740830400.25":             time.Unix(1740830400, 250e6),
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "now-", "now*2h", "now-2x", "2h", "NaN", "1e300"} {
		if got, err := ParseTime(in, now); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", in, got)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                         "0s",
		999:                       "999ns",
		1500:                      "1.5µs",
		850 * time.Microsecond:    "850µs",
		12345 * time.Microsecond:  "12.3ms",
		100 * time.Millisecond:    "100ms",
		999600 * time.Microsecond: "1s",
		1250 * time.Millisecond:   "1.25s",
		125 * time.Second:         "2m5s",
		-3 * time.Millisecond:     "-3ms",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%d) = %q, want %q", d, got, want)
		}
	}
}

func TestDefaultStep(t *testing.T) {
	now := time.Now()
	for r, want := range map[time.Duration]time.Duration{
		time.Hour: time.Minute, 6 * time.Hour: 6 * time.Minute, 10 * time.Second: time.Second, 90 * time.Minute: 90 * time.Second, 61 * time.Second: 2 * time.Second,
	} {
		if got := defaultStep(now.Add(-r), now); got != want {
			t.Errorf("defaultStep over %s = %s, want %s", r, got, want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		v    bool
	}{
		{[]string{"-v", "up"}, []string{"up"}, true},
		{[]string{"up", "-v"}, []string{"up"}, true},
		{[]string{"logql", "-v", "{a=\"b\"}"}, []string{"logql", "{a=\"b\"}"}, true},
		{[]string{"--", "-up"}, []string{"-up"}, false},
		{[]string{"-v", "x", "--", "-1", "-v"}, []string{"x", "-1", "-v"}, true},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		v := fs.Bool("v", false, "")
		pos, err := parseArgs(fs, tc.args)
		if err != nil || !reflect.DeepEqual(pos, tc.pos) || *v != tc.v {
			t.Errorf("parseArgs(%q) = %q, -v %v, %v; want %q, -v %v", tc.args, pos, *v, err, tc.pos, tc.v)
		}
	}
}

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		offset, dur, total time.Duration
		want               string
	}{
		{0, 10, 10, "##########"},
		{0, 0, 10, "#         "},
		{9, 1, 10, "         #"},
		{10, 0, 10, "         #"},
		{2, 3, 10, "  ###     "},
		{0, 0, 0, "##########"}, // a trace of no duration
		{1, 1, 1000, "#         "},
	} {
		got := bar(tc.offset, tc.dur, tc.total, 10)
		if want := replaceHash(tc.want); got != want {
			t.Errorf("bar(%d, %d, %d) = %q, want %q", tc.offset, tc.dur, tc.total, got, want)
		}
	}
}

func replaceHash(s string) string {
	out := []rune{}
	for _, r := range s {
		if r == '#' {
			r = '█'
		}
		out = append(out, r)
	}
	return string(out)
}
