package traceql

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/horus-obs/horus/internal/store/events"
)

// MetricsRequest is a TraceQL metrics query over a range, as
// /api/metrics/query_range asks it, or over one interval, as
// /api/metrics/query asks it.
//
// The range is aligned as Tempo's query frontend aligns it (grafana/tempo
// pkg/traceql/engine_metrics.go, AlignRequest, alignStart, alignEnd and
// IntervalMapperQueryRange): Start is rounded down to a multiple of Step
// and moved one step earlier, End is rounded up to a multiple of Step;
// each interval is right-closed, (t - Step, t], and its sample is stamped
// with its end t. So a range from 10:00 to 10:50 by 1m has 51 samples,
// stamped 10:00 (the spans of (9:59, 10:00]) to 10:50.
type MetricsRequest struct {
	Tenant string
	Query  *Query // with Metrics set
	// Start and End are the range asked for (unix ns); Step is the width
	// of a sample's interval (ns). See the type's comment for how they
	// are aligned.
	Start, End, Step int64
	// MaxSeries bounds the series; 0 is 1000.
	MaxSeries int
	// Exemplars is the most exemplars a series carries; 0 is none.
	Exemplars int
	// Instant is one interval, [Start, End] (both ends included, as
	// Tempo's IntervalMapperInstant), not aligned, stamped End.
	Instant bool
}

// LimitError is a metrics query refused for its size or shape: the
// client's to change.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return e.Msg }

func limitErr(format string, args ...any) error { return &LimitError{fmt.Sprintf(format, args...)} }

// MaxPoints bounds series × steps of one metrics query.
const MaxPoints = 5_000_000

// Label is a series label: a by() field (written as in the query), p for
// a quantile, __bucket for a histogram bucket, or __name__ for the
// function of a query without by().
type Label struct {
	Key   string
	Value Value
}

// Series is one result series: a value per step, NaN where it has none.
type Series struct {
	Labels    []Label
	Samples   []float64
	Exemplars []Exemplar
}

// Exemplar is a span behind a series' value.
type Exemplar struct {
	TraceID events.TraceID
	SpanID  events.SpanID
	Time    int64 // unix ns: the span's start
	Value   float64
}

// Timestamp is the time a sample of interval i is stamped with (unix
// ns): the interval's end, as Tempo's TimestampOf.
func (r *MetricsRequest) Timestamp(i int) int64 {
	if r.Instant {
		return r.End
	}
	return r.first() + int64(i+1)*r.Step
}

// first is the aligned range's exclusive start (Tempo's AlignRequest):
// Start rounded down to the step, one step earlier.
func (r *MetricsRequest) first() int64 {
	if r.Instant {
		return r.Start
	}
	f := r.Start - r.Start%r.Step
	if f > r.Step {
		f -= r.Step
	}
	return f
}

// last is the aligned range's inclusive end: End rounded up to the step.
func (r *MetricsRequest) last() int64 {
	if r.Instant || r.End%r.Step == 0 {
		return r.End
	}
	return r.End + r.Step - r.End%r.Step
}

// Steps is the number of intervals of r.
func (r *MetricsRequest) Steps() int {
	if r.Instant {
		return 1
	}
	return int((r.last() - r.first()) / r.Step)
}

// interval is the interval a span starting at ts counts in, -1 if none:
// (first + i·Step, first + (i+1)·Step] for a range, [Start, End] for an
// instant query.
func (r *MetricsRequest) interval(ts int64) int {
	if r.Instant {
		if ts < r.Start || ts > r.End {
			return -1
		}
		return 0
	}
	first := r.first()
	if ts <= first || ts > r.last() {
		return -1
	}
	return int((ts - first - 1) / r.Step)
}

// scanRange is the event-store range ([start, end), unix ns) of the
// spans r counts.
func (r *MetricsRequest) scanRange() (start, end int64) {
	if r.Instant {
		return r.Start, r.End + 1
	}
	return r.first() + 1, r.last() + 1
}

// cell is what one series has in one interval.
type cell struct {
	n, sum, min, max float64
	vals             []float64 // quantile_over_time
	ex               *Exemplar
}

type acc struct {
	labels []Label
	cells  []cell // per step, made on first use
}

// Metrics evaluates a metrics query: the spans of the spansets the query
// selects, counted or measured per interval of their start time and per
// by() value.
func Metrics(ctx context.Context, store SpanStore, req MetricsRequest) ([]Series, SearchStats, error) {
	var st SearchStats
	m := req.Query.Metrics
	if m == nil {
		return nil, st, limitErr("not a metrics query: add | rate() or another metrics function")
	}
	if req.Instant {
		req.Step = req.End - req.Start
	}
	if req.Step <= 0 || req.End <= req.Start {
		return nil, st, limitErr("step must be > 0 and end after start")
	}
	if req.MaxSeries <= 0 {
		req.MaxSeries = 1000
	}
	scanStart, scanEnd := req.scanRange()
	steps := req.Steps()
	if steps > MaxPoints {
		return nil, st, limitErr("%d steps are too many: choose a larger step", steps)
	}
	series := map[string]*acc{}
	var key strings.Builder
	var byVals []Value
	var tooMany error
	record := func(t *Trace, i int) {
		e := &t.Spans[i]
		idx := req.interval(e.Time)
		if idx < 0 {
			return
		}
		v := math.NaN()
		if m.Field != nil {
			f := EvalField(m.Field, t, i)
			switch f.T {
			case TInt, TFloat:
				v = f.float()
			case TDuration:
				v = float64(f.I) / 1e9
			default:
				return // not a number: not measured
			}
		}
		key.Reset()
		byVals = byVals[:0]
		for _, b := range m.By {
			bv := EvalField(b, t, i)
			byVals = append(byVals, bv)
			key.WriteString(bv.T.String())
			key.WriteByte(0)
			key.WriteString(bv.Text())
			key.WriteByte(0xff)
		}
		bucket := 0.0
		if m.Func == "histogram_over_time" {
			bucket = bucketOf(v)
			fmt.Fprint(&key, bucket)
		}
		a := series[key.String()]
		if a == nil {
			switch {
			case len(series) >= req.MaxSeries:
				tooMany = limitErr("the query has more than %d series (query.tempo.max_response_series): narrow it, or group by fewer values", req.MaxSeries)
				return
			case (len(series)+1)*steps > MaxPoints:
				tooMany = limitErr("the query has more than %d series × steps: narrow it, group by fewer values or choose a larger step", MaxPoints)
				return
			}
			a = &acc{labels: seriesLabels(m, byVals, bucket)}
			series[key.String()] = a
		}
		if a.cells == nil {
			a.cells = make([]cell, steps)
		}
		c := &a.cells[idx]
		if c.n == 0 || v < c.min {
			c.min = v
		}
		if c.n == 0 || v > c.max {
			c.max = v
		}
		c.n++
		c.sum += v
		if m.Func == "quantile_over_time" {
			c.vals = append(c.vals, v)
		}
		if req.Exemplars > 0 {
			c.ex = &Exemplar{TraceID: e.TraceID, SpanID: e.SpanID, Time: e.Time, Value: v}
		}
	}

	if perSpan(req.Query) {
		// Every condition reads the span alone: evaluate spans as they
		// are scanned, without fetching their traces.
		t := &Trace{parent: []int{-1}}
		scan, err := store.Scan(ctx, events.Query{Tenant: req.Tenant, Kind: events.KindSpan, Start: scanStart, End: scanEnd, Filters: Pushdown(req.Query)},
			func(evs []events.Event) error {
				st.InspectedSpans += int64(len(evs))
				for i := range evs {
					t.Spans, t.ID, t.Start, t.End, t.nested = evs[i:i+1], evs[i].TraceID, evs[i].Time, evs[i].End(), nil
					clear(t.arrays) // keyed by the address of text the next batch may reuse
					t.Root = -1
					if evs[i].ParentSpanID.IsZero() {
						t.Root = 0
					}
					if len(req.Query.Eval(t)) > 0 {
						record(t, 0)
					}
				}
				return tooMany
			})
		st.Units += scan.Units
		if err != nil {
			return nil, st, err
		}
	} else {
		ids, err := candidates(ctx, store, req.Tenant, req.Query, scanStart, scanEnd, &st)
		if err != nil {
			return nil, st, err
		}
		for len(ids) > 0 {
			n := min(len(ids), batch)
			traces, err := store.Traces(ctx, req.Tenant, ids[:n])
			if err != nil {
				return nil, st, err
			}
			for _, id := range ids[:n] {
				if len(traces[id]) == 0 {
					continue
				}
				st.InspectedTraces++
				t := NewTrace(traces[id])
				for _, s := range flatten(req.Query.Eval(t)) {
					record(t, s)
				}
				if tooMany != nil {
					return nil, st, tooMany
				}
			}
			ids = ids[n:]
		}
	}
	return finish(req, series), st, nil
}

// seriesLabels are the labels of a new series: the by() values present,
// the histogram bucket, or, with neither, __name__ = the function.
func seriesLabels(m *MetricsFunc, byVals []Value, bucket float64) []Label {
	var labels []Label
	for j, bv := range byVals {
		if bv.T != TNil {
			labels = append(labels, Label{m.By[j].String(), bv})
		}
	}
	switch {
	case m.Func == "histogram_over_time":
		labels = append(labels, Label{"__bucket", FloatV(bucket)})
	case len(m.By) == 0:
		labels = []Label{{"__name__", StrV(m.Func)}}
	}
	return labels
}

// finish turns the accumulated cells into series, sorted by labels.
func finish(req MetricsRequest, series map[string]*acc) []Series {
	m := req.Query.Metrics
	steps := req.Steps()
	stepSecs := float64(req.Step) / 1e9
	var out []Series
	for _, a := range series {
		switch m.Func {
		case "quantile_over_time":
			qs := make([]Series, len(m.Quantiles))
			for j, q := range m.Quantiles {
				qs[j] = Series{Labels: append(slices.Clip(a.labels), Label{"p", FloatV(q)}), Samples: make([]float64, steps)}
			}
			for i := range a.cells {
				c := &a.cells[i]
				slices.Sort(c.vals)
				for j, q := range m.Quantiles {
					qs[j].Samples[i] = quantile(c.vals, q)
				}
				if c.ex != nil { // on the quantile series nearest its value
					j := 0
					for k := range qs {
						if math.Abs(qs[k].Samples[i]-c.ex.Value) < math.Abs(qs[j].Samples[i]-c.ex.Value) {
							j = k
						}
					}
					qs[j].Exemplars = append(qs[j].Exemplars, *c.ex)
				}
			}
			out = append(out, qs...)
			continue
		}
		s := Series{Labels: a.labels, Samples: make([]float64, steps)}
		for i := range a.cells {
			c := &a.cells[i]
			var v float64
			switch m.Func {
			case "rate":
				v = c.n / stepSecs
			case "count_over_time", "histogram_over_time":
				v = c.n
			case "sum_over_time":
				v = nanIfEmpty(c, c.sum)
			case "min_over_time":
				v = nanIfEmpty(c, c.min)
			case "max_over_time":
				v = nanIfEmpty(c, c.max)
			case "avg_over_time":
				v = nanIfEmpty(c, c.sum/c.n)
			}
			s.Samples[i] = v
			if c.ex != nil {
				x := *c.ex
				if m.Field == nil || m.Func == "histogram_over_time" {
					x.Value = v // Tempo's: the series' value in the interval
				}
				s.Exemplars = append(s.Exemplars, x)
			}
		}
		out = append(out, s)
	}
	for i := range out {
		out[i].Exemplars = thin(out[i].Exemplars, req.Exemplars)
	}
	slices.SortFunc(out, func(a, b Series) int { return compareLabels(a.Labels, b.Labels) })
	return out
}

func nanIfEmpty(c *cell, v float64) float64 {
	if c.n == 0 {
		return math.NaN()
	}
	return v
}

// quantile is the q-quantile of sorted vals, interpolated linearly
// between ranks as Prometheus' quantile(); NaN without values.
func quantile(vals []float64, q float64) float64 {
	if len(vals) == 0 {
		return math.NaN()
	}
	r := q * float64(len(vals)-1)
	lo := int(math.Floor(r))
	hi := min(lo+1, len(vals)-1)
	return vals[lo] + (vals[hi]-vals[lo])*(r-float64(lo))
}

// bucketOf is the histogram_over_time bucket of v: the power of two at or
// above it, as Tempo's log2 buckets (in seconds for durations).
func bucketOf(v float64) float64 {
	if v <= 0 || math.IsNaN(v) {
		return 0
	}
	return math.Pow(2, math.Ceil(math.Log2(v)))
}

// thin keeps at most n exemplars, spread evenly.
func thin(xs []Exemplar, n int) []Exemplar {
	if len(xs) <= n {
		return xs
	}
	out := make([]Exemplar, 0, n)
	for i := range n {
		out = append(out, xs[i*len(xs)/n])
	}
	return out
}

func compareLabels(a, b []Label) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := cmp.Or(strings.Compare(a[i].Key, b[i].Key), strings.Compare(a[i].Value.Text(), b[i].Value.Text()),
			cmp.Compare(a[i].Value.float(), b[i].Value.float())); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// perSpan reports whether every field q reads is of the span alone (no
// structure, no trace-level intrinsics, no parent), so that spans can be
// evaluated without their traces.
func perSpan(q *Query) bool {
	f, ok := q.Root.(*Filter)
	if !ok {
		return false
	}
	exprs := []Expr{f.Cond}
	if q.Metrics.Field != nil {
		exprs = append(exprs, q.Metrics.Field)
	}
	exprs = append(exprs, q.Metrics.By...)
	var spanOnly func(Expr) bool
	spanOnly = func(e Expr) bool {
		switch x := e.(type) {
		case *Attribute:
			switch x.Intrinsic {
			case IRootName, IRootService, ITraceDuration, INestedSetParent, INestedSetLeft, INestedSetRight, IChildCount:
				return false
			}
			return x.Scope != "parent"
		case *Binary:
			return spanOnly(x.L) && spanOnly(x.R)
		case *Unary:
			return spanOnly(x.X)
		}
		return true
	}
	for _, e := range exprs {
		if e != nil && !spanOnly(e) {
			return false
		}
	}
	return true
}
