package grafana

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// variableRE is Grafana's template variable syntax
// (public/app/features/variables/utils.ts, variableRegex; documented in
// https://grafana.com/docs/grafana/latest/dashboards/variables/variable-syntax/):
// $name, [[name:format]] and ${name.fieldPath:format}.
var variableRE = regexp.MustCompile(`\$(\w+)|\[\[(\s*[\w.]+)(?::(\w+))?\s*\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// usedVariables lists the variable names s refers to.
func usedVariables(s string) []string {
	var names []string
	for _, m := range variableRE.FindAllStringSubmatch(s, -1) {
		names = append(names, firstNonEmpty(m[1], strings.TrimSpace(m[2]), m[4]))
	}
	return names
}

// builtinVariable reports whether name is one Grafana defines itself:
// the global variables of
// https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#global-variables,
// the data links' (__data, __value, __url_time_range) and the trace
// view's (__span, __trace, __tags).
func builtinVariable(name string) bool {
	switch name {
	case "__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range", "__range_s", "__range_ms",
		"__auto", "__from", "__to", "__url_time_range", "__data", "__value", "__span", "__trace", "__tags":
		return true
	}
	return false
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// varValue is a dashboard variable's current value.
type varValue struct {
	values   []string
	all      bool   // "All" is selected
	allValue string // the variable's custom all value
	multi    bool   // multi-value or include-All: formatted as a regex
}

// scope holds what a query is interpolated with: the dashboard's
// variables and, for links, the scoped variables by name and field path
// ("__span.traceId", "__tags", "__value.raw").
type scope struct {
	vars   map[string]varValue
	scoped map[string]string
}

// interpolate replaces the template variables of s as Grafana's
// TemplateSrv.replace does with the Prometheus, Loki and Tempo data
// sources' formatter (packages/grafana-prometheus/src/datasource.ts,
// interpolateQueryExpr): a single value as it is; a multi-value or
// include-All variable as a regex, each value's regex characters escaped
// (prometheusSpecialRegexEscape), several values as (a|b); All as the
// variable's allValue, unformatted. The interval and range variables are
// left for expandIntervals, as Grafana leaves them to the data source's
// backend. A variable neither defined nor built in is an error: Grafana
// would send it as text, and the query would fail or find nothing.
func (s scope) interpolate(text string) (string, error) {
	var err error
	out := variableRE.ReplaceAllStringFunc(text, func(m string) string {
		sm := variableRE.FindStringSubmatch(m)
		name, path := firstNonEmpty(sm[1], strings.TrimSpace(sm[2]), sm[4]), sm[5]
		if strings.Contains(name, ".") { // [[a.b]]
			name, path, _ = strings.Cut(name, ".")
		}
		key := name
		if path != "" {
			key += "." + path
		}
		if v, ok := s.scoped[key]; ok {
			return v
		}
		if v, ok := s.vars[name]; ok && path == "" {
			return v.format()
		}
		switch name {
		case "__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range", "__range_s", "__range_ms":
			return m
		}
		if err == nil {
			err = fmt.Errorf("%q: %s is not defined", text, m)
		}
		return m
	})
	return out, err
}

// format is the variable's value as interpolateQueryExpr formats it.
func (v varValue) format() string {
	if v.all && v.allValue != "" {
		return v.allValue
	}
	if !v.multi {
		if len(v.values) == 0 {
			return ""
		}
		return v.values[0]
	}
	esc := make([]string, len(v.values))
	for i, x := range v.values {
		esc[i] = promRegexEscape(x)
	}
	if len(esc) == 1 {
		return esc[0]
	}
	return "(" + strings.Join(esc, "|") + ")"
}

// promRegexEscape is Grafana's prometheusSpecialRegexEscape: a regex
// metacharacter gets a backslash, itself escaped for a PromQL string.
func promRegexEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\\\`)
		case '$', '^', '*', '{', '}', '[', ']', '\'', '+', '?', '.', '(', ')', '|':
			b.WriteString(`\\`)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// queryInterval is the interval Grafana gives a query over rng
// (intervalv2.Calculator.Calculate in pkg/promlib/intervalv2, as
// rangeUtil.calculateInterval in the frontend): the range over the
// panel's data points, or minInterval if that is longer, rounded to a
// "nice" interval (roundInterval). maxDataPoints is the panel's width in
// pixels unless the panel sets it; the test takes 1000.
func queryInterval(rng time.Duration, maxDataPoints int, minInterval time.Duration) time.Duration {
	iv := rng / time.Duration(maxDataPoints)
	if iv < minInterval {
		iv = minInterval
	}
	return roundInterval(iv)
}

// promStep is the Prometheus data source's step and $__interval
// (pkg/promlib/models/query.go, calculatePrometheusInterval): the query
// interval with the data source's scrape interval (jsonData.timeInterval)
// or the panel's interval as its minimum, and at least the range over
// 11000 points.
func promStep(rng time.Duration, minInterval time.Duration) time.Duration {
	step := queryInterval(rng, 1000, minInterval)
	if safe := roundInterval(rng / 11000); safe > step {
		step = safe
	}
	return step
}

// rateInterval is $__rate_interval (query.go, calculateRateInterval, and
// https://grafana.com/docs/grafana/latest/datasources/prometheus/template-variables/#use-__rate_interval):
// the larger of the step plus the scrape interval and four scrape
// intervals.
func rateInterval(step, scrape time.Duration) time.Duration {
	return time.Duration(math.Max(float64(step+scrape), 4*float64(scrape)))
}

// expandIntervals replaces the interval and range variables as Grafana's
// backends do (pkg/promlib/models/query.go, interpolateVariables; the
// Loki data source's pkg/tsdb/loki/parse_query.go does the same for
// $__interval, $__range and $__auto): $__interval in Grafana's interval
// format (formatInterval), $__range as whole seconds, $__rate_interval as
// Go prints a time.Duration ("1m0s", which PromQL reads).
func expandIntervals(expr string, step, rate, rng time.Duration) string {
	rangeMs := rng.Milliseconds()
	rangeS := int64(math.Round(float64(rangeMs) / 1000))
	r := strings.NewReplacer(
		"${__interval_ms}", strconv.FormatInt(step.Milliseconds(), 10), "$__interval_ms", strconv.FormatInt(step.Milliseconds(), 10),
		"${__interval}", formatInterval(step), "$__interval", formatInterval(step),
		"${__auto}", formatInterval(step), "$__auto", formatInterval(step),
		"${__range_ms}", strconv.FormatInt(rangeMs, 10), "$__range_ms", strconv.FormatInt(rangeMs, 10),
		"${__range_s}", strconv.FormatInt(rangeS, 10), "$__range_s", strconv.FormatInt(rangeS, 10),
		"${__range}", strconv.FormatInt(rangeS, 10)+"s", "$__range", strconv.FormatInt(rangeS, 10)+"s",
		"${__rate_interval_ms}", strconv.FormatInt(rate.Milliseconds(), 10), "$__rate_interval_ms", strconv.FormatInt(rate.Milliseconds(), 10),
		"${__rate_interval}", rate.String(), "$__rate_interval", rate.String(),
	)
	// strings.Replacer tries the patterns in order at each position, so the
	// longer names come before their prefixes above.
	return r.Replace(expr)
}

// formatInterval is grafana-plugin-sdk-go's gtime.FormatInterval: the
// largest whole unit of y, d, h, m, s or ms.
func formatInterval(d time.Duration) string {
	const day, year = 24 * time.Hour, 365 * 24 * time.Hour
	switch {
	case d >= year:
		return fmt.Sprintf("%dy", d/year)
	case d >= day:
		return fmt.Sprintf("%dd", d/day)
	case d >= time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d >= time.Second:
		return fmt.Sprintf("%ds", d/time.Second)
	case d >= time.Millisecond:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return "1ms"
}

// roundInterval is gtime.RoundInterval (grafana-plugin-sdk-go
// backend/gtime, the frontend's rangeUtil.roundInterval): each interval
// up to the midpoint between two nice ones becomes the lower one.
func roundInterval(d time.Duration) time.Duration {
	ms, s, m, h := time.Millisecond, time.Second, time.Minute, time.Hour
	steps := []struct{ upTo, is time.Duration }{
		{10 * ms, ms}, {15 * ms, 10 * ms}, {35 * ms, 20 * ms}, {75 * ms, 50 * ms}, {150 * ms, 100 * ms},
		{350 * ms, 200 * ms}, {750 * ms, 500 * ms}, {1500 * ms, s}, {3500 * ms, 2 * s}, {7500 * ms, 5 * s},
		{12500 * ms, 10 * s}, {17500 * ms, 15 * s}, {25 * s, 20 * s}, {45 * s, 30 * s}, {90 * s, m},
		{210 * s, 2 * m}, {450 * s, 5 * m}, {750 * s, 10 * m}, {1050 * s, 15 * m}, {1500 * s, 20 * m},
		{2700 * s, 30 * m}, {5400 * s, h}, {9000 * s, 2 * h}, {16200 * s, 3 * h}, {32400 * s, 6 * h},
		{24 * h, 12 * h}, {7 * 24 * h, 24 * h}, {30 * 24 * h, 7 * 24 * h},
	}
	for _, st := range steps {
		if d <= st.upTo {
			return st.is
		}
	}
	return 30 * 24 * h
}

// alignTime is the Prometheus data source's alignment of a range query's
// start and end down to a multiple of the step (query.go,
// AlignTimeRange, with no time zone offset).
func alignTime(t time.Time, step time.Duration) time.Time {
	return time.Unix(0, t.UnixNano()/int64(step)*int64(step))
}

func TestInterpolate(t *testing.T) {
	s := scope{
		vars: map[string]varValue{
			"service": {values: []string{"shop"}},
			"op":      {values: []string{"GET /a", "POST /b.c"}, multi: true},
			"kind":    {values: []string{"x"}, multi: true, all: true, allValue: ".+"},
		},
		scoped: map[string]string{"__span.traceId": "abc", "__tags": `service="shop"`},
	}
	for in, want := range map[string]string{
		`{service="$service"}`:                       `{service="shop"}`,
		`{service="${service}", op=~"$op"}`:          `{service="shop", op=~"(GET /a|POST /b\\.c)"}`,
		`{kind=~"[[kind]]"}`:                         `{kind=~".+"}`,
		`{${__tags}} | trace_id="${__span.traceId}"`: `{service="shop"} | trace_id="abc"`,
		`rate(x[$__rate_interval])`:                  `rate(x[$__rate_interval])`,
	} {
		got, err := s.interpolate(in)
		if err != nil || got != want {
			t.Errorf("interpolate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := s.interpolate(`{a="$nope"}`); err == nil {
		t.Error("an undefined variable is not an error")
	}

	// One hour at 1000 points with a 15 s scrape interval: Grafana's step is
	// 15 s and $__rate_interval 1m0s (4 × 15 s).
	step := promStep(time.Hour, 15*time.Second)
	if step != 15*time.Second || rateInterval(step, 15*time.Second) != time.Minute {
		t.Errorf("step %v, rate interval %v", step, rateInterval(step, 15*time.Second))
	}
	if got := promStep(24*time.Hour, 15*time.Second); got != time.Minute { // 86.4 s rounds to 1m
		t.Errorf("step over 24h = %v, want 1m", got)
	}
	got := expandIntervals("rate(x[$__rate_interval]) / $__range_s [$__interval] $__interval_ms $__range", 15*time.Second, time.Minute, time.Hour)
	if want := "rate(x[1m0s]) / 3600 [15s] 15000 3600s"; got != want {
		t.Errorf("expandIntervals = %q, want %q", got, want)
	}
	if got := expandProvisioning("${HORUS_URL}/x $${__value.raw} $$a", func(string) string { return "http://h" }); got != "http://h/x ${__value.raw} $a" {
		t.Errorf("expandProvisioning = %q", got)
	}
}

// FuzzInterpolate checks that interpolation (Grafana's template
// variables, and the provisioning files' environment variables) never
// panics and leaves text without variables as it is.
func FuzzInterpolate(f *testing.F) {
	for _, s := range []string{`{a="$service"}`, `${__span.traceId}`, `[[op:regex]]`, `${x.y:z}`, `$$`, `${`, `[[`, "plain"} {
		f.Add(s)
	}
	s := scope{vars: map[string]varValue{"service": {values: []string{"a"}}, "op": {values: []string{"a", "b"}, multi: true}},
		scoped: map[string]string{"__span.traceId": "t"}}
	f.Fuzz(func(t *testing.T, text string) {
		out, err := s.interpolate(text)
		if !strings.Contains(text, "$") && !strings.Contains(text, "[[") && (out != text || err != nil) {
			t.Fatalf("interpolate(%q) = %q, %v", text, out, err)
		}
		_ = expandIntervals(text, time.Second, time.Minute, time.Hour)
		if got := expandProvisioning(text, func(string) string { return "" }); !strings.Contains(text, "$") && got != text {
			t.Fatalf("expandProvisioning(%q) = %q", text, got)
		}
	})
}
