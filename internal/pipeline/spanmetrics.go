package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/tenant"
)

// DefaultLatencyBuckets are Tempo's metrics-generator buckets, in seconds.
var DefaultLatencyBuckets = []float64{0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384}

// SpanMetricsOptions configure span metrics.
type SpanMetricsOptions struct {
	// Dimensions are span (then resource) attributes added as labels,
	// with dots and other characters Prometheus does not allow in label
	// names turned into '_': http.route → http_route.
	Dimensions []string
	// Buckets are the latency histogram's upper bounds in seconds.
	Buckets []float64
	// MaxSeries bounds the series kept; spans that would make a new one
	// beyond it are counted in horus_spanmetrics_dropped_spans_total.
	MaxSeries int
	// StaleAfter drops series without spans for this long.
	StaleAfter time.Duration
}

// SpanMetrics derives Tempo metrics-generator's span metrics from every
// span: traces_spanmetrics_calls_total, traces_spanmetrics_latency
// (histogram, seconds, with trace_id exemplars) and
// traces_spanmetrics_size_total, by service, span_name, span_kind,
// status_code and the configured dimensions, and for a tenant other than
// tenant.Default the reserved label tenant.Label. Counts accumulate in
// memory and Flush writes them, cumulative, to the metrics store.
type SpanMetrics struct {
	opts    SpanMetricsOptions
	dimKeys []string // label names of the dimensions

	mu     sync.Mutex
	series *groups
	buf    []byte

	active prometheus.GaugeFunc
}

// The counters and histogram of a span-metrics group.
const (
	smCalls = iota
	smSize
)

// NewSpanMetrics returns the deriver. reg, if not nil, gets its own
// metrics.
func NewSpanMetrics(opts SpanMetricsOptions, reg prometheus.Registerer) *SpanMetrics {
	dropped := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "horus_spanmetrics_dropped_spans_total",
		Help: "Spans not counted in span metrics because they would have made a series beyond the limit.",
	})
	m := &SpanMetrics{opts: opts, series: newGroups(groupSpec{
		counters:   []string{"traces_spanmetrics_calls_total", "traces_spanmetrics_size_total"},
		histograms: []string{"traces_spanmetrics_latency"},
		buckets:    opts.Buckets,
	}, opts.MaxSeries, opts.StaleAfter, dropped)}
	for _, d := range opts.Dimensions {
		m.dimKeys = append(m.dimKeys, LabelName(d))
	}
	m.active = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "horus_spanmetrics_active_series",
		Help: "Span-metrics series groups (calls, size and latency of one label set) kept in memory.",
	}, func() float64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		return float64(len(m.series.m))
	})
	if reg != nil {
		reg.MustRegister(dropped, m.active)
	}
	return m
}

// LabelName turns an attribute name into a Prometheus label name.
func LabelName(attr string) string {
	b := []byte(attr)
	for i, c := range b {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9' || i == 0) {
			b[i] = '_'
		}
	}
	return string(b)
}

// SpanKindLabel and StatusLabel are the label values Tempo writes.
var (
	spanKindLabels = []string{"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"}
	statusLabels   = []string{"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}
)

func enumLabel(names []string, v int32) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return names[0]
}

// DeriveSpans implements SpanDeriver.
func (m *SpanMetrics) DeriveSpans(tenantID string, spans []events.Event) {
	now := time.Now()
	dims := make([]string, len(m.opts.Dimensions))
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range spans {
		e := &spans[i]
		kind, status := enumLabel(spanKindLabels, e.SpanKind), enumLabel(statusLabels, e.StatusCode)
		b := m.buf[:0]
		b = append(b, tenantID...)
		b = append(b, 0xff)
		b = append(b, e.Service...)
		b = append(b, 0xff)
		b = append(b, e.Name...)
		b = append(b, 0xff)
		b = append(b, kind...)
		b = append(b, status...)
		for d, key := range m.opts.Dimensions {
			v, _ := e.Attr(key) // absent: ""
			dims[d] = v.String()
			b = append(b, 0xff)
			b = append(b, dims[d]...)
		}
		m.buf = b
		h := xxhash.Sum64(b)
		s, ok := m.series.m[h]
		if !ok {
			lb := labels.NewScratchBuilder(6 + len(dims))
			lb.Add("service", e.Service)
			lb.Add("span_name", e.Name)
			lb.Add("span_kind", kind)
			lb.Add("status_code", status)
			for d, v := range dims {
				if v != "" {
					lb.Add(m.dimKeys[d], v)
				}
			}
			if tenantID != tenant.Default {
				lb.Add(tenant.Label, tenantID)
			}
			lb.Sort()
			if s = m.series.add(h, lb.Labels()); s == nil {
				continue
			}
		}
		s.counters[smCalls]++
		s.counters[smSize] += float64(spanSize(e))
		s.hists[0].observe(m.series.spec.buckets, exemplarOf(e, float64(e.Duration)/1e9))
		s.updated = now
	}
}

// spanSize is a span's size as Tempo's traces_spanmetrics_size_total
// counts it, near its protobuf size: its text plus the ids, times, kind
// and status.
func spanSize(e *events.Event) int { return 16 + 8 + 8 + 16 + 8 + e.TextBytes() }

// Flush writes every series' current values at time now to app and
// commits; series idle for StaleAfter get a staleness marker and are
// forgotten.
func (m *SpanMetrics) Flush(ctx context.Context, app storage.AppendableV2, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.series.flush(ctx, app, now)
}

// Run flushes every interval until ctx ends, then once more.
func (m *SpanMetrics) Run(ctx context.Context, app storage.AppendableV2, interval time.Duration, logger *slog.Logger) {
	runFlusher(ctx, m, app, interval, logger)
}
