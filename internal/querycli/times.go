package querycli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// ParseTime reads a time as --from, --to and --time take it: "now",
// "now-2h" or "now+30m" (a Prometheus duration: ms, s, m, h, d, w, y,
// combined as 1h30m), RFC 3339 ("2024-05-01T10:00:00Z", or a date alone,
// UTC midnight), or Unix seconds with an optional fraction.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "now"); ok {
		rest = strings.TrimSpace(rest)
		if rest == "" {
			return now, nil
		}
		sign := time.Duration(1)
		switch rest[0] {
		case '-':
			sign = -1
		case '+':
		default:
			return time.Time{}, fmt.Errorf("%q: want now, now-DURATION or now+DURATION", s)
		}
		d, err := model.ParseDuration(strings.TrimSpace(rest[1:]))
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %w", s, err)
		}
		return now.Add(sign * time.Duration(d)), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1e11 {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want now, now-2h, RFC 3339 (2024-05-01T10:00:00Z) or Unix seconds", s)
}

// durationFlag is a Prometheus duration flag (1h, 30m, 7d, 1h30m) that
// remembers whether it was set.
type durationFlag struct {
	d   time.Duration
	set bool
}

func (f *durationFlag) String() string {
	if !f.set {
		return ""
	}
	return model.Duration(f.d).String()
}

func (f *durationFlag) Set(s string) error {
	d, err := model.ParseDuration(s)
	if err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("%q: want a positive duration", s)
	}
	f.d, f.set = time.Duration(d), true
	return nil
}

// timeFlag is a time flag read by ParseTime when the command runs.
type timeFlag struct {
	text string
	set  bool
}

func (f *timeFlag) String() string { return f.text }

func (f *timeFlag) Set(s string) error {
	if _, err := ParseTime(s, time.Now()); err != nil {
		return err
	}
	f.text, f.set = s, true
	return nil
}

// defaultStep is the step of a range query without --step: about 60
// points, in whole seconds (an hour: 1m).
func defaultStep(start, end time.Time) time.Duration {
	step := end.Sub(start) / 60
	return max(time.Second, (step+time.Second-1)/time.Second*time.Second)
}

// seconds formats t as Unix seconds with milliseconds, as the Prometheus
// API reads it.
func seconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', -1, 64)
}

// stepSeconds formats a step as seconds, which every API reads.
func stepSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// formatDuration writes d short, with three significant digits at most:
// 0s, 850µs, 12.3ms, 1.25s, 2m5s.
func formatDuration(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	// Three significant digits, before the unit is chosen: 999.6ms is 1s.
	m := time.Duration(1)
	for d/m >= 1000 {
		m *= 10
	}
	d = d.Round(m)
	var v float64
	var unit string
	switch {
	case d == 0:
		return "0s"
	case d < time.Microsecond:
		return neg + strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		v, unit = float64(d)/1e3, "µs"
	case d < time.Second:
		v, unit = float64(d)/1e6, "ms"
	case d < time.Minute:
		v, unit = d.Seconds(), "s"
	default:
		return neg + d.Round(time.Second).String()
	}
	prec := 2
	switch {
	case v >= 100:
		prec = 0
	case v >= 10:
		prec = 1
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return neg + s + unit
}
