package slo

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/horus-obs/horus/internal/pipeline"
)

// The span metrics Horus derives from traces (internal/pipeline,
// SpanMetrics), as Tempo's metrics-generator names them.
const (
	spanCalls   = "traces_spanmetrics_calls_total"
	spanLatency = "traces_spanmetrics_latency"
)

// The Horus form (version: horus/v1): Sloth's layout, whose SLIs may be
// read from span metrics by service, and optionally operation (span name)
// and route.
type horusSpec struct {
	Version string            `yaml:"version"`
	Service string            `yaml:"service"`
	Labels  map[string]string `yaml:"labels"`
	SLOs    []yaml.Node       `yaml:"slos"`
}

type horusSLO struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Objective   float64           `yaml:"objective"`
	Window      model.Duration    `yaml:"window"`
	Labels      map[string]string `yaml:"labels"`
	SLI         horusSLI          `yaml:"sli"`
	Alerting    slothAlerting     `yaml:"alerting"`
}

type horusSLI struct {
	// Availability: calls without an error status over calls.
	Availability *spanSelector `yaml:"availability"`
	// Latency: calls that took at most threshold_ms over calls.
	Latency *latencySLI `yaml:"latency"`
	// Events and Raw are Sloth's.
	Events *slothEvents `yaml:"events"`
	Raw    *slothRaw    `yaml:"raw"`
}

// spanSelector picks the spans of an SLI within the file's service.
type spanSelector struct {
	// SpanName is the operation (the span_name label); "" all.
	SpanName string `yaml:"span_name"`
	// Route is the http_route label (the http.route attribute, a span
	// metrics dimension by default); "" all.
	Route string `yaml:"route"`
	// SpanKind is server (the default: the calls the service answers),
	// client, internal, producer, consumer or any.
	SpanKind string `yaml:"span_kind"`
}

type latencySLI struct {
	spanSelector `yaml:",inline"`
	// ThresholdMS is the latency a good call stays within, in ms; it must
	// be one of the latency histogram's bucket bounds.
	ThresholdMS float64 `yaml:"threshold_ms"`
}

func parseHorus(d document) ([]SLO, error) {
	var spec horusSpec
	if err := decodeStrict(d, d.node, &spec, ""); err != nil {
		return nil, err
	}
	if len(spec.SLOs) == 0 {
		return nil, fmt.Errorf("%s: slos: at least one SLO is required", d.pos(nil))
	}
	return eachSLO(d, spec.SLOs, func(n *yaml.Node, hs *horusSLO) (SLO, error) { return hs.slo(d, n, spec) })
}

func (hs *horusSLO) slo(d document, n *yaml.Node, spec horusSpec) (SLO, error) {
	ss := slothSLO{Name: hs.Name, Description: hs.Description, Objective: hs.Objective, Labels: hs.Labels, Alerting: hs.Alerting}
	var err error
	switch sli := hs.SLI; {
	case countSet(sli.Availability != nil, sli.Latency != nil, sli.Events != nil, sli.Raw != nil) > 1:
		err = errors.New("sli: give one of availability, latency, events and raw")
	case sli.Availability != nil:
		ss.SLI.Events, err = availability(spec.Service, *sli.Availability)
	case sli.Latency != nil:
		ss.SLI.Events, err = latency(spec.Service, *sli.Latency)
	default:
		ss.SLI.Events, ss.SLI.Raw = sli.Events, sli.Raw
	}
	if err != nil {
		return SLO{}, fmt.Errorf("%s: SLO %s-%s: %w", d.pos(n), spec.Service, hs.Name, err)
	}
	if ss.Alerting.Name == "" {
		ss.Alerting.Name = alertName(spec.Service, hs.Name)
	}
	window := DefaultWindow
	if hs.Window != 0 {
		window = time.Duration(hs.Window)
	}
	return ss.slo(d, n, spec.Service, spec.Labels, SpecHorus, window)
}

func countSet(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// matchers are the PromQL matchers of a selector.
func (sel spanSelector) matchers(service string) (string, error) {
	kind := "SPAN_KIND_SERVER"
	switch k := strings.ToLower(strings.TrimPrefix(strings.ToUpper(sel.SpanKind), "SPAN_KIND_")); k {
	case "", "server":
	case "client", "internal", "producer", "consumer":
		kind = "SPAN_KIND_" + strings.ToUpper(k)
	case "any":
		kind = ""
	default:
		return "", fmt.Errorf("span_kind %q: want server (the default), client, internal, producer, consumer or any", sel.SpanKind)
	}
	ms := []string{"service=" + strconv.Quote(service)}
	if kind != "" {
		ms = append(ms, "span_kind="+strconv.Quote(kind))
	}
	if sel.SpanName != "" {
		ms = append(ms, "span_name="+strconv.Quote(sel.SpanName))
	}
	if sel.Route != "" {
		ms = append(ms, pipeline.LabelName("http.route")+"="+strconv.Quote(sel.Route))
	}
	return strings.Join(ms, ", "), nil
}

// availability: failed calls are those with an error status (Tempo's
// status_code STATUS_CODE_ERROR); "or vector(0)" keeps the ratio 0, not
// absent, while no call has failed (the error series do not exist yet).
func availability(service string, sel spanSelector) (*slothEvents, error) {
	m, err := sel.matchers(service)
	if err != nil {
		return nil, err
	}
	return &slothEvents{
		ErrorQuery: fmt.Sprintf(`(sum(rate(%s{%s, status_code="STATUS_CODE_ERROR"}[{{.window}}])) or vector(0))`, spanCalls, m),
		TotalQuery: fmt.Sprintf(`sum(rate(%s{%s}[{{.window}}]))`, spanCalls, m),
	}, nil
}

// latency: slow calls are all calls less those in the threshold's bucket.
func latency(service string, sel latencySLI) (*slothEvents, error) {
	m, err := sel.matchers(service)
	if err != nil {
		return nil, err
	}
	le, ok := "", false
	var bounds []string
	for _, b := range pipeline.DefaultLatencyBuckets {
		ms := strconv.FormatFloat(b*1000, 'f', -1, 64)
		bounds = append(bounds, ms)
		if b*1000 == sel.ThresholdMS {
			// The le label as the span metrics write it.
			le, ok = strconv.FormatFloat(b, 'g', -1, 64), true
		}
	}
	if !ok {
		return nil, fmt.Errorf("threshold_ms %v: a latency SLI counts the calls in the histogram's buckets, so the threshold must be a bucket bound: one of %s ms", sel.ThresholdMS, strings.Join(bounds, ", "))
	}
	return &slothEvents{
		ErrorQuery: fmt.Sprintf(`(sum(rate(%s_count{%s}[{{.window}}])) - sum(rate(%s_bucket{%s, le="%s"}[{{.window}}])))`, spanLatency, m, spanLatency, m, le),
		TotalQuery: fmt.Sprintf(`sum(rate(%s_count{%s}[{{.window}}]))`, spanLatency, m),
	}, nil
}

// alertName is the default alert name of an SLO: its service and name in
// CamelCase, then "SLO" (checkout, availability → CheckoutAvailabilitySLO).
func alertName(service, name string) string {
	var b strings.Builder
	for _, w := range slices.Concat(strings.FieldsFunc(service, notAlnum), strings.FieldsFunc(name, notAlnum)) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	s := b.String()
	if s == "" || unicode.IsDigit(rune(s[0])) {
		s = "SLO" + s
	}
	return s + "SLO"
}

func notAlnum(r rune) bool {
	return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
}
