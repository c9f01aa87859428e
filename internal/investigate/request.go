package investigate

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/horus-obs/horus/internal/api/promeval"
)

// Signal is what makes a request bad.
type Signal string

// The signals.
const (
	// SignalErrors: a span in error (status code 2) is bad.
	SignalErrors Signal = "errors"
	// SignalLatency: a span slower than Request.Threshold is bad.
	SignalLatency Signal = "latency"
	// SignalPromQL: the symptom is a PromQL expression (Request.Expr),
	// whose series the onset is found on; spans in error are the bad
	// ones (latency when Threshold is set).
	SignalPromQL Signal = "promql"
)

// Request is what to investigate: an alert (Fingerprint, or Rule with
// Labels), or a symptom (Service, Signal and the window). Fields an alert
// resolves are only filled from it when the request leaves them empty.
type Request struct {
	// Tenant is the X-Scope-OrgID of the request ("default" without).
	Tenant string `json:"tenant"`

	// Fingerprint is an active alert's id, as in its horus_url
	// (<external_url>/alerts/<fingerprint>): 16 hex digits.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Rule is an alerting rule's name (its alertname); Labels pick one of
	// its alerts (all must be equal).
	Rule   string            `json:"rule,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`

	// Service is the service.name of the symptom; Route, if set, keeps
	// its entry spans whose name is Route or ends with " "+Route (span
	// names of HTTP servers are "METHOD route").
	Service string `json:"service"`
	Route   string `json:"route,omitempty"`
	Signal  Signal `json:"signal"`
	// Threshold makes spans slower than it bad (SignalLatency; with
	// SignalPromQL, latency instead of errors). Zero with SignalLatency:
	// the window's 90th percentile, said in the answer.
	Threshold time.Duration `json:"threshold,omitempty"`
	// Expr is the PromQL expression of SignalPromQL.
	Expr string `json:"expr,omitempty"`
	// Alert and AlertSummary are the name and summary annotation of the
	// alert the request was resolved from: the answer names the symptom
	// by them rather than by the rule's expression.
	Alert        string `json:"alert,omitempty"`
	AlertSummary string `json:"alertSummary,omitempty"`
	// Start and End bound the window investigated.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`

	// MaxBadTraces and MaxGoodTraces bound the traces BubbleUp and the
	// critical-path analysis read (0: DefaultMaxTraces each).
	MaxBadTraces  int `json:"maxBadTraces,omitempty"`
	MaxGoodTraces int `json:"maxGoodTraces,omitempty"`
}

// Limits of a request.
const (
	// DefaultWindow is the window of a request without start.
	DefaultWindow = time.Hour
	// MaxWindow is the longest window.
	MaxWindow = 7 * 24 * time.Hour
	// DefaultMaxTraces is the default of MaxBadTraces and MaxGoodTraces;
	// MaxTraces their largest value.
	DefaultMaxTraces = 1000
	MaxTraces        = 20000
)

// BadRequestError is a request refused for its content: the message names
// the parameter and what is wanted. The API answers it 400.
type BadRequestError struct{ msg string }

func (e *BadRequestError) Error() string { return e.msg }

func badf(format string, a ...any) error { return &BadRequestError{fmt.Sprintf(format, a...)} }

// NotFoundError is an alert that is not there (no active alert with the
// fingerprint, no rule of the name). The API answers it 404.
type NotFoundError struct{ msg string }

func (e *NotFoundError) Error() string { return e.msg }

// IsBadRequest reports whether err is the request's fault.
func IsBadRequest(err error) bool {
	var b *BadRequestError
	return errors.As(err, &b)
}

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// params are the query parameters ParseRequest knows.
var params = []string{"fingerprint", "rule", "alertname", "labels", "service", "route", "operation", "signal", "threshold",
	"expr", "start", "end", "max_bad_traces", "max_good_traces"}

// ParseRequest reads a request from the query parameters of GET
// /api/v1/investigate (docs/investigate.md): fingerprint; or rule (or
// alertname) and labels (a PromQL selector body, {a="b", c="d"}, or
// a=b,c=d); or service, route (or operation), signal (errors, latency,
// promql; errors by default, latency when threshold is given, promql
// when expr is), threshold (a
// Prometheus or Go duration, or seconds), expr; start and end (RFC 3339
// or Unix seconds; end defaults to now, start to DefaultWindow before
// end). The tenant is set by the caller. Errors are *BadRequestError.
func ParseRequest(form url.Values, now time.Time) (Request, error) {
	for k := range form {
		if !slices.Contains(params, k) {
			return Request{}, badf("unknown parameter %q; the parameters are %s", k, strings.Join(params, ", "))
		}
	}
	r := Request{
		Fingerprint: strings.ToLower(form.Get("fingerprint")),
		Rule:        first(form.Get("rule"), form.Get("alertname")),
		Service:     form.Get("service"),
		Route:       first(form.Get("route"), form.Get("operation")),
		Expr:        form.Get("expr"),
	}
	if r.Fingerprint != "" && !fingerprintRE.MatchString(r.Fingerprint) {
		return r, badf("fingerprint %q: want 16 hex digits, as in an alert's horus_url (/alerts/<fingerprint>)", form.Get("fingerprint"))
	}
	if v := form.Get("labels"); v != "" {
		ls, err := parseLabels(v)
		if err != nil {
			return r, badf("labels %q: %v", v, err)
		}
		r.Labels = ls
		if r.Rule == "" {
			r.Rule = ls[model.AlertNameLabel]
		}
	}
	switch s := Signal(form.Get("signal")); s {
	case "":
		if r.Expr != "" {
			r.Signal = SignalPromQL
		}
	case SignalErrors, SignalLatency, SignalPromQL:
		r.Signal = s
	default:
		return r, badf("signal %q: want errors, latency or promql", s)
	}
	if r.Signal == SignalPromQL && r.Expr == "" {
		return r, badf("signal=promql needs expr, a PromQL expression of the symptom")
	}
	if r.Expr != "" && r.Signal != SignalPromQL {
		return r, badf("expr is given but signal is %s: send signal=promql, or leave signal out", r.Signal)
	}
	if v := form.Get("threshold"); v != "" {
		d, err := parseDuration(v)
		if err != nil || d <= 0 {
			return r, badf("threshold %q: want a positive duration (500ms, 2s) or seconds (0.5)", v)
		}
		r.Threshold = d
	}
	switch {
	case r.Threshold > 0 && r.Signal == SignalErrors:
		return r, badf("threshold is for signal=latency (or promql), not errors")
	case r.Threshold > 0 && r.Signal == "":
		r.Signal = SignalLatency
	}
	if r.Expr != "" {
		if _, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr); err != nil {
			return r, badf("expr: %v", err)
		}
	}
	var err error
	if r.End, err = promeval.ParseTime(form.Get("end"), now); err != nil {
		return r, badf("end: %v", err)
	}
	if r.Start, err = promeval.ParseTime(form.Get("start"), time.Time{}); err != nil {
		return r, badf("start: %v", err)
	}
	for _, p := range []struct {
		name string
		to   *int
	}{{"max_bad_traces", &r.MaxBadTraces}, {"max_good_traces", &r.MaxGoodTraces}} {
		if v := form.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxTraces {
				return r, badf("%s %q: want a whole number from 1 to %d", p.name, v, MaxTraces)
			}
			*p.to = n
		}
	}
	if r.Fingerprint == "" && r.Rule == "" && r.Service == "" {
		return r, badf("nothing to investigate: give an alert (fingerprint, or rule and labels) or a symptom (service, with signal and start/end)")
	}
	if r.Fingerprint != "" && r.Rule != "" {
		return r, badf("give fingerprint or rule, not both")
	}
	if r.Route != "" && r.Service == "" && r.Fingerprint == "" && r.Rule == "" {
		return r, badf("route %q needs service", r.Route)
	}
	return r, nil
}

// check validates a resolved request: a service, a signal, a window.
func (r *Request) check(now time.Time) error {
	if r.Service == "" {
		return badf("no service: give service (the alert's labels have none of %s)", strings.Join(serviceLabels, ", "))
	}
	if r.Signal == "" {
		r.Signal = SignalErrors
	}
	if r.End.IsZero() {
		r.End = now
	}
	if r.Start.IsZero() {
		r.Start = r.End.Add(-DefaultWindow)
	}
	if !r.End.After(r.Start) {
		return badf("end %s is not after start %s", r.End.UTC().Format(time.RFC3339), r.Start.UTC().Format(time.RFC3339))
	}
	if r.End.Sub(r.Start) > MaxWindow {
		return badf("the window from start to end is %v, more than the limit of %v", r.End.Sub(r.Start), MaxWindow)
	}
	if r.MaxBadTraces == 0 {
		r.MaxBadTraces = DefaultMaxTraces
	}
	if r.MaxGoodTraces == 0 {
		r.MaxGoodTraces = DefaultMaxTraces
	}
	return nil
}

// Query renders the request as the query string ParseRequest reads: the
// link to the investigation itself.
func (r *Request) Query() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("fingerprint", r.Fingerprint)
	set("rule", r.Rule)
	if len(r.Labels) > 0 {
		keys := make([]string, 0, len(r.Labels))
		for k := range r.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%q", k, r.Labels[k])
		}
		b.WriteByte('}')
		v.Set("labels", b.String())
	}
	set("service", r.Service)
	set("route", r.Route)
	set("signal", string(r.Signal))
	if r.Threshold > 0 {
		v.Set("threshold", model.Duration(r.Threshold).String())
	}
	set("expr", r.Expr)
	if !r.Start.IsZero() {
		v.Set("start", unixString(r.Start))
	}
	if !r.End.IsZero() {
		v.Set("end", unixString(r.End))
	}
	return v
}

func unixString(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

var labelPairRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,"]*?))\s*(?:,|$)`)

// parseLabels reads {a="b", c="d"} or a=b,c=d.
func parseLabels(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		if !strings.HasSuffix(s, "}") {
			return nil, errors.New("a selector must end with }")
		}
		s = s[1 : len(s)-1]
	}
	out := map[string]string{}
	for strings.TrimSpace(s) != "" {
		m := labelPairRE.FindStringSubmatchIndex(s)
		if m == nil {
			return nil, fmt.Errorf("cannot read %q: want name=\"value\" pairs separated by commas", s)
		}
		name := s[m[2]:m[3]]
		var val string
		if m[4] >= 0 {
			uq, err := strconv.Unquote(`"` + s[m[4]:m[5]] + `"`)
			if err != nil {
				return nil, fmt.Errorf("label %s: %w", name, err)
			}
			val = uq
		} else {
			val = s[m[6]:m[7]]
		}
		out[name] = val
		s = s[m[1]:]
	}
	if len(out) == 0 {
		return nil, errors.New("no labels")
	}
	return out, nil
}

// parseDuration reads a Prometheus duration (1m30s), a Go duration
// (1.5s) or seconds (0.5).
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return time.ParseDuration(s)
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
