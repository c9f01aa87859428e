package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/value"
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
// status_code and the configured dimensions. Counts accumulate in memory
// and Flush writes them, cumulative, to the metrics store.
type SpanMetrics struct {
	opts    SpanMetricsOptions
	dimKeys []string // label names of the dimensions

	mu     sync.Mutex
	series map[uint64]*spanSeries
	buf    []byte

	dropped prometheus.Counter
	active  prometheus.GaugeFunc
}

// spanExemplar is the span an exemplar points to; labels are made at
// flush, not per span.
type spanExemplar struct {
	trace events.TraceID
	span  events.SpanID
	secs  float64
	ms    int64 // 0: none
}

type spanSeries struct {
	lbls      labels.Labels // without __name__
	calls     float64
	size      float64
	count     uint64
	sum       float64
	buckets   []uint64       // per bucket, not cumulative; the last is +Inf
	exemplars []spanExemplar // per bucket, the last span since the flush
	updated   time.Time
}

// NewSpanMetrics returns the deriver. reg, if not nil, gets its own
// metrics.
func NewSpanMetrics(opts SpanMetricsOptions, reg prometheus.Registerer) *SpanMetrics {
	if opts.Buckets == nil {
		opts.Buckets = DefaultLatencyBuckets
	}
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = 50000
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 15 * time.Minute
	}
	m := &SpanMetrics{opts: opts, series: map[uint64]*spanSeries{}}
	for _, d := range opts.Dimensions {
		m.dimKeys = append(m.dimKeys, LabelName(d))
	}
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "horus_spanmetrics_dropped_spans_total",
		Help: "Spans not counted in span metrics because they would have made a series beyond the limit.",
	})
	m.active = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "horus_spanmetrics_active_series",
		Help: "Span-metrics series kept in memory.",
	}, func() float64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		return float64(len(m.series))
	})
	if reg != nil {
		reg.MustRegister(m.dropped, m.active)
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
		s, ok := m.series[h]
		if !ok {
			if len(m.series) >= m.opts.MaxSeries {
				m.dropped.Inc()
				continue
			}
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
				lb.Add("tenant", tenantID)
			}
			lb.Sort()
			s = &spanSeries{lbls: lb.Labels(), buckets: make([]uint64, len(m.opts.Buckets)+1), exemplars: make([]spanExemplar, len(m.opts.Buckets)+1)}
			m.series[h] = s
		}
		secs := float64(e.Duration) / 1e9
		s.calls++
		s.count++
		s.sum += secs
		s.size += float64(spanSize(e))
		bi, _ := slices.BinarySearch(m.opts.Buckets, secs)
		s.buckets[bi]++
		s.exemplars[bi] = spanExemplar{trace: e.TraceID, span: e.SpanID, secs: secs, ms: max((e.Time+e.Duration)/1e6, 1)}
		s.updated = now
	}
}

// spanSize is a span's size as Tempo's traces_spanmetrics_size_total
// counts it: near its protobuf size.
func spanSize(e *events.Event) int {
	n := 16 + 8 + 8 + 16 + 8 + len(e.Name) + len(e.StatusMessage) + len(e.TraceState)
	for _, a := range e.Attrs {
		n += len(a.Key) + len(a.Value.Str) + 8
	}
	for _, ev := range e.Events {
		n += 8 + len(ev.Name)
		for _, a := range ev.Attrs {
			n += len(a.Key) + len(a.Value.Str) + 8
		}
	}
	return n + 40*len(e.Links)
}

var (
	counterMeta   = metadata.Metadata{Type: model.MetricTypeCounter}
	histogramMeta = metadata.Metadata{Type: model.MetricTypeHistogram, Unit: "seconds"}
)

// Flush writes every series' current values at time now (ms) to app and
// commits; series idle for StaleAfter get a staleness marker and are
// forgotten.
func (m *SpanMetrics) Flush(ctx context.Context, app storage.AppendableV2, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := app.AppenderV2(ctx)
	t := now.UnixMilli()
	stale := math.Float64frombits(value.StaleNaN)
	var sb labels.ScratchBuilder
	with := func(base labels.Labels, name string, extra ...string) labels.Labels {
		sb.Reset()
		sb.Add(model.MetricNameLabel, name)
		base.Range(func(l labels.Label) { sb.Add(l.Name, l.Value) })
		for i := 0; i+1 < len(extra); i += 2 {
			sb.Add(extra[i], extra[i+1])
		}
		sb.Sort()
		return sb.Labels()
	}
	for h, s := range m.series {
		idle := now.Sub(s.updated) > m.opts.StaleAfter
		val := func(v float64) float64 {
			if idle {
				return stale
			}
			return v
		}
		if err := m.appendSeries(a, s, with, t, val); err != nil {
			_ = a.Rollback()
			return err
		}
		if idle {
			delete(m.series, h)
		}
	}
	return a.Commit()
}

func (m *SpanMetrics) appendSeries(a storage.AppenderV2, s *spanSeries, with func(labels.Labels, string, ...string) labels.Labels, t int64, val func(float64) float64) error {
	appendOne := func(ls labels.Labels, v float64, meta metadata.Metadata, family string, exs []exemplar.Exemplar) error {
		_, err := a.Append(0, ls, 0, t, v, nil, nil, storage.AppendV2Options{MetricFamilyName: family, Metadata: meta, Exemplars: exs})
		var partial *storage.AppendPartialError
		if errors.As(err, &partial) {
			return nil // an exemplar refused: the sample is in
		}
		return err
	}
	if err := appendOne(with(s.lbls, "traces_spanmetrics_calls_total"), val(s.calls), counterMeta, "traces_spanmetrics_calls_total", nil); err != nil {
		return err
	}
	if err := appendOne(with(s.lbls, "traces_spanmetrics_size_total"), val(s.size), counterMeta, "traces_spanmetrics_size_total", nil); err != nil {
		return err
	}
	const family = "traces_spanmetrics_latency"
	var cum uint64
	for i, c := range s.buckets {
		cum += c
		le := "+Inf"
		if i < len(m.opts.Buckets) {
			le = strconv.FormatFloat(m.opts.Buckets[i], 'g', -1, 64)
		}
		var exs []exemplar.Exemplar
		if x := s.exemplars[i]; x.ms != 0 {
			exs = []exemplar.Exemplar{{
				Labels: labels.FromStrings("trace_id", x.trace.String(), "span_id", x.span.String()),
				Value:  x.secs, Ts: x.ms, HasTs: true,
			}}
			s.exemplars[i] = spanExemplar{}
		}
		if err := appendOne(with(s.lbls, family+"_bucket", "le", le), val(float64(cum)), histogramMeta, family, exs); err != nil {
			return err
		}
	}
	if err := appendOne(with(s.lbls, family+"_sum"), val(s.sum), histogramMeta, family, nil); err != nil {
		return err
	}
	return appendOne(with(s.lbls, family+"_count"), val(float64(s.count)), histogramMeta, family, nil)
}

// Run flushes every interval until ctx ends, then once more.
func (m *SpanMetrics) Run(ctx context.Context, app storage.AppendableV2, interval time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := m.Flush(context.Background(), app, time.Now()); err != nil {
				logger.Error("writing span metrics failed", "err", err)
			}
			return
		case now := <-tick.C:
			if err := m.Flush(ctx, app, now); err != nil {
				logger.Error("writing span metrics failed", "err", err)
			}
		}
	}
}
