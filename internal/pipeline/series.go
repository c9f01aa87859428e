package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/store/events"
)

// groupSpec names the metrics of a series group: counters by full name,
// histograms by family name (_bucket, _sum and _count are appended).
type groupSpec struct {
	counters   []string
	histograms []string
	buckets    []float64 // upper bounds of every histogram, seconds
}

// group is the metrics one label set has in a deriver: for span metrics
// calls, size and latency of a service, span name, kind, status and
// dimensions; for the service graph requests, failures and latencies of
// one edge.
type group struct {
	lbls     labels.Labels // without __name__
	counters []float64
	hists    []histogram
	updated  time.Time
	written  bool // the counters have been flushed once
}

type histogram struct {
	count     uint64
	sum       float64
	buckets   []uint64       // per bucket, not cumulative; the last is +Inf
	exemplars []spanExemplar // per bucket, the last span since the flush
	written   bool
}

// spanExemplar is the span an exemplar points to; labels are made at
// flush, not per span.
type spanExemplar struct {
	trace events.TraceID
	span  events.SpanID
	secs  float64
	ms    int64 // 0: none
}

// exemplarOf is the exemplar of a span, with value secs.
func exemplarOf(e *events.Event, secs float64) spanExemplar {
	return spanExemplar{trace: e.TraceID, span: e.SpanID, secs: secs, ms: max(e.End()/1e6, 1)}
}

func (h *histogram) observe(bounds []float64, x spanExemplar) {
	h.count++
	h.sum += x.secs
	i, _ := slices.BinarySearch(bounds, x.secs)
	h.buckets[i]++
	h.exemplars[i] = x
}

// groups holds the series groups of a deriver, keyed by a hash of their
// labels, bounded in number, and writes them to the metrics store. It
// does not lock: its deriver does.
type groups struct {
	spec       groupSpec
	max        int
	staleAfter time.Duration
	m          map[uint64]*group
	dropped    prometheus.Counter // spans that would have made a group beyond max
}

func newGroups(spec groupSpec, maxGroups int, staleAfter time.Duration, dropped prometheus.Counter) *groups {
	if spec.buckets == nil {
		spec.buckets = DefaultLatencyBuckets
	}
	if maxGroups <= 0 {
		maxGroups = 50000
	}
	if staleAfter <= 0 {
		staleAfter = 15 * time.Minute
	}
	return &groups{spec: spec, max: maxGroups, staleAfter: staleAfter, m: map[uint64]*group{}, dropped: dropped}
}

// add makes the group of hash h with labels lbls, or returns nil and
// counts a dropped span when there are max groups already.
func (g *groups) add(h uint64, lbls labels.Labels) *group {
	if len(g.m) >= g.max {
		g.dropped.Inc()
		return nil
	}
	gr := &group{lbls: lbls, counters: make([]float64, len(g.spec.counters)), hists: make([]histogram, len(g.spec.histograms))}
	for i := range gr.hists {
		gr.hists[i] = histogram{buckets: make([]uint64, len(g.spec.buckets)+1), exemplars: make([]spanExemplar, len(g.spec.buckets)+1)}
	}
	g.m[h] = gr
	return gr
}

var (
	counterMeta   = metadata.Metadata{Type: model.MetricTypeCounter}
	histogramMeta = metadata.Metadata{Type: model.MetricTypeHistogram, Unit: "seconds"}
)

// flush writes every group's current values at time now to app and
// commits; groups idle for staleAfter get a staleness marker and are
// forgotten.
func (g *groups) flush(ctx context.Context, app storage.AppendableV2, now time.Time) error {
	a := app.AppenderV2(ctx)
	w := groupWriter{a: a, t: now.UnixMilli(), spec: &g.spec}
	for h, gr := range g.m {
		w.stale = now.Sub(gr.updated) > g.staleAfter
		if err := w.write(gr); err != nil {
			_ = a.Rollback()
			return err
		}
		if w.stale {
			delete(g.m, h)
		}
	}
	return a.Commit()
}

type groupWriter struct {
	a     storage.AppenderV2
	t     int64
	spec  *groupSpec
	stale bool
	sb    labels.ScratchBuilder
}

func (w *groupWriter) labels(base labels.Labels, name string, le string) labels.Labels {
	w.sb.Reset()
	w.sb.Add(model.MetricNameLabel, name)
	base.Range(func(l labels.Label) { w.sb.Add(l.Name, l.Value) })
	if le != "" {
		w.sb.Add(model.BucketLabel, le)
	}
	w.sb.Sort()
	return w.sb.Labels()
}

// append writes a sample of ls at the flush time. A new series (first)
// starts with a 0 a millisecond before, as Tempo's do, so that rate and
// increase count the spans of its first flush.
func (w *groupWriter) append(ls labels.Labels, v float64, meta metadata.Metadata, family string, exs []exemplar.Exemplar, first bool) error {
	if w.stale {
		v, exs = math.Float64frombits(value.StaleNaN), nil
	}
	opts := storage.AppendV2Options{MetricFamilyName: family, Metadata: meta}
	if first && !w.stale {
		if _, err := w.a.Append(0, ls, 0, w.t-1, 0, nil, nil, opts); err != nil {
			return err
		}
	}
	opts.Exemplars = exs
	_, err := w.a.Append(0, ls, 0, w.t, v, nil, nil, opts)
	var partial *storage.AppendPartialError
	if errors.As(err, &partial) {
		return nil // an exemplar refused: the sample is in
	}
	return err
}

func (w *groupWriter) write(gr *group) error {
	for i, name := range w.spec.counters {
		if err := w.append(w.labels(gr.lbls, name, ""), gr.counters[i], counterMeta, name, nil, !gr.written); err != nil {
			return err
		}
	}
	gr.written = true
	for i, family := range w.spec.histograms {
		h := &gr.hists[i]
		if h.count == 0 {
			continue // a histogram of the group never observed: no series
		}
		var cum uint64
		for b, c := range h.buckets {
			cum += c
			le := "+Inf"
			if b < len(w.spec.buckets) {
				le = strconv.FormatFloat(w.spec.buckets[b], 'g', -1, 64)
			}
			var exs []exemplar.Exemplar
			if x := h.exemplars[b]; x.ms != 0 {
				exs = []exemplar.Exemplar{{
					Labels: labels.FromStrings("trace_id", x.trace.String(), "span_id", x.span.String()),
					Value:  x.secs, Ts: x.ms, HasTs: true,
				}}
				h.exemplars[b] = spanExemplar{}
			}
			if err := w.append(w.labels(gr.lbls, family+"_bucket", le), float64(cum), histogramMeta, family, exs, !h.written); err != nil {
				return err
			}
		}
		if err := w.append(w.labels(gr.lbls, family+"_sum", ""), h.sum, histogramMeta, family, nil, !h.written); err != nil {
			return err
		}
		if err := w.append(w.labels(gr.lbls, family+"_count", ""), float64(h.count), histogramMeta, family, nil, !h.written); err != nil {
			return err
		}
		h.written = true
	}
	return nil
}

// flusher is a deriver whose series are written to the metrics store
// periodically.
type flusher interface {
	Flush(ctx context.Context, app storage.AppendableV2, now time.Time) error
}

// runFlusher flushes f every interval until ctx ends, then once more.
func runFlusher(ctx context.Context, f flusher, app storage.AppendableV2, interval time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := f.Flush(context.Background(), app, time.Now()); err != nil {
				logger.Error("writing derived metrics failed", "err", err)
			}
			return
		case now := <-tick.C:
			if err := f.Flush(ctx, app, now); err != nil {
				logger.Error("writing derived metrics failed", "err", err)
			}
		}
	}
}
