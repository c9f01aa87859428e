package investigate

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/horus-obs/horus/internal/store/events"
)

// Span kinds (OTLP).
const (
	kindServer   = 2
	kindClient   = 3
	kindConsumer = 5
	statusError  = 2
)

// buckets is the number of buckets of the symptom's series.
const buckets = 120

// entry is one entry span of the symptom's service: a server or consumer
// span, or a root.
type entry struct {
	t, dur int64
	name   uint32
	err    bool
}

// entrySet is the symptom's entry spans in the window, in no order.
type entrySet struct {
	start, end, step int64 // ns
	names            []string
	nameIdx          map[string]uint32
	list             []entry
	// threshold is the latency above which an entry is bad (ns); 0:
	// errors are bad. thresholdAuto: it is the window's p90.
	threshold     int64
	thresholdAuto bool
}

func (s *entrySet) bad(e *entry) bool {
	if s.threshold > 0 {
		return e.dur > s.threshold
	}
	return e.err
}

func (s *entrySet) bucket(t int64) int {
	return min(max(int((t-s.start)/s.step), 0), buckets-1)
}

func (s *entrySet) bucketStart(i int) time.Time { return time.Unix(0, s.start+int64(i)*s.step) }

// isEntry reports whether a span enters its service: a server or
// consumer span, or a root.
func isEntry(kind int32, parent events.SpanID) bool {
	return kind == kindServer || kind == kindConsumer || parent.IsZero()
}

// matchRoute reports whether a span name is the route: the name itself,
// or "METHOD route".
func matchRoute(name, route string) bool {
	return route == "" || name == route || strings.HasSuffix(name, " "+route)
}

// entryFields are the columns the scan of entry spans reads.
var entryFields = []string{"time", "duration", "status_code", "name", "kind", "parent_span_id"}

// scanEntrySpans calls fn with each entry span of the symptom's service
// (and route) in [start, end); when the service has none, with every span
// of it (fallback is then true at the end).
func (r *run) scanEntrySpans(ctx context.Context, start, end int64, fn func(t, dur int64, name string, err bool)) (fallback bool, err error) {
	q := events.Query{
		Tenant: r.req.Tenant, Kind: events.KindSpan, Start: start, End: end,
		Filters: []events.Filter{{Field: "service_name", Op: events.Eq, Value: r.req.Service}},
		Fields:  entryFields,
	}
	type other struct {
		t, dur int64
		name   string
		err    bool
	}
	var others []other
	entries := 0
	_, err = r.e.o.Events.Scan(ctx, q, func(evs []events.Event) error {
		for i := range evs {
			e := &evs[i]
			if !matchRoute(e.Name, r.req.Route) {
				continue
			}
			if isEntry(e.SpanKind, e.ParentSpanID) {
				entries++
				others = nil
				fn(e.Time, e.Duration, e.Name, e.StatusCode == statusError)
			} else if entries == 0 {
				others = append(others, other{e.Time, e.Duration, e.Name, e.StatusCode == statusError})
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if entries == 0 {
		for _, o := range others {
			fn(o.t, o.dur, o.name, o.err)
		}
		return len(others) > 0, nil
	}
	return false, nil
}

// scanEntries reads the symptom's entry spans in the window and sets the
// threshold of a latency symptom.
func (r *run) scanEntries(ctx context.Context) error {
	s := &entrySet{start: r.req.Start.UnixNano(), end: r.req.End.UnixNano(), nameIdx: map[string]uint32{}}
	s.step = max((s.end-s.start+buckets-1)/buckets, 1)
	fallback, err := r.scanEntrySpans(ctx, s.start, s.end, func(t, dur int64, name string, isErr bool) {
		id, ok := s.nameIdx[name]
		if !ok {
			id = uint32(len(s.names))
			s.names = append(s.names, strings.Clone(name))
			s.nameIdx[s.names[id]] = id
		}
		s.list = append(s.list, entry{t: t, dur: dur, name: id, err: isErr})
	})
	if err != nil {
		return fmt.Errorf("reading the spans of %s: %w", r.req.Service, err)
	}
	if fallback {
		r.warn("%s has no server, consumer or root spans in the window: all of its spans are taken as its requests", r.req.Service)
	}
	if len(s.list) == 0 {
		what := "service " + quote(r.req.Service)
		if r.req.Route != "" {
			what += " with route " + quote(r.req.Route)
		}
		r.warn("no spans of %s between %s and %s: the findings come from logs, changes and metrics alone", what,
			r.req.Start.UTC().Format(time.RFC3339), r.req.End.UTC().Format(time.RFC3339))
	}
	switch {
	case r.req.Threshold > 0 && r.req.Signal != SignalErrors:
		s.threshold = int64(r.req.Threshold)
	case r.req.Signal == SignalLatency && len(s.list) > 0:
		// The window's p90, from up to 100k durations taken at a stride.
		stride := max(len(s.list)/100000, 1)
		var ds []float64
		for i := 0; i < len(s.list); i += stride {
			ds = append(ds, float64(s.list[i].dur))
		}
		slices.Sort(ds)
		s.threshold, s.thresholdAuto = int64(Quantile(ds, 0.9)), true
		r.req.Threshold = time.Duration(s.threshold)
	}
	r.entries = s
	for i := range s.list {
		if s.bad(&s.list[i]) {
			r.res.Sampling.BadSpans++
		}
	}
	r.res.Sampling.EntrySpans = len(s.list)
	return nil
}

// series counts bad and total entries per bucket.
func (s *entrySet) series() (bad, total []int) {
	bad, total = make([]int, buckets), make([]int, buckets)
	for i := range s.list {
		b := s.bucket(s.list[i].t)
		total[b]++
		if s.bad(&s.list[i]) {
			bad[b]++
		}
	}
	return bad, total
}

// findOnset finds the change point of the symptom: on the PromQL series
// for a PromQL symptom (the mean-shift test), else on the share of bad
// entry spans (the binomial test), refined to the first bad span of a
// sustained run.
func (r *run) findOnset(ctx context.Context) {
	s := r.entries
	bad, total := s.series()
	r.res.Series = Series{Start: time.Unix(0, s.start).UTC(), StepSeconds: float64(s.step) / 1e9, Bad: bad, Total: total}
	if r.req.Signal == SignalPromQL {
		vals, err := r.promSeries(ctx)
		if err != nil {
			r.warn("the PromQL symptom %s: %v", r.req.Expr, err)
		} else {
			r.res.Series.Values = vals
			if cp, ok := MeanChangePoint(vals); ok {
				r.cp, r.onsetOK = cp, true
				r.onset = s.bucketStart(cp.Index)
				return
			}
		}
	}
	cp, ok := BinomialChangePoint(bad, total)
	if !ok {
		// The buckets may be too coarse: a window much longer than the
		// data in it (a service started minutes before the alert's
		// hour) puts the clean requests and the failing ones in one
		// bucket. With few entries, the same test on each of them.
		r.findOnsetBySpan()
		return
	}
	r.cp, r.onsetOK = cp, true
	r.onset = s.bucketStart(cp.Index)
	// Refine to a span: the same test on the entry spans of the bucket
	// before the change and the bucket of it, each span a bucket of one.
	lo, hi := s.bucketStart(max(cp.Index-1, 0)).UnixNano(), s.bucketStart(cp.Index+1).UnixNano()
	var near []entry
	for _, e := range s.list {
		if e.t >= lo && e.t < hi {
			near = append(near, e)
		}
	}
	bits, ones := s.eachSpan(near)
	if fine, _ := BinomialChangePoint(bits, ones); fine.Index > 0 {
		r.onset = time.Unix(0, near[fine.Index].t)
	}
}

// maxOnsetBySpan is how many entry spans findOnsetBySpan tests one by
// one, at most.
const maxOnsetBySpan = 50000

// findOnsetBySpan is the binomial test on the entry spans in time order,
// each a bucket of one (at most maxOnsetBySpan of them).
func (r *run) findOnsetBySpan() {
	s := r.entries
	if len(s.list) < 2 || len(s.list) > maxOnsetBySpan {
		return
	}
	list := slices.Clone(s.list)
	bits, ones := s.eachSpan(list)
	cp, ok := BinomialChangePoint(bits, ones)
	if !ok {
		return
	}
	r.onset, r.onsetOK = time.Unix(0, list[cp.Index].t), true
	r.cp = ChangePoint{Index: s.bucket(list[cp.Index].t), Before: cp.Before, After: cp.After, Stat: cp.Stat}
}

// eachSpan sorts list by time and makes each entry a bucket of one: 1
// bad of 1 or 0 of 1.
func (s *entrySet) eachSpan(list []entry) (bits, ones []int) {
	sort.Slice(list, func(i, j int) bool { return list[i].t < list[j].t })
	bits, ones = make([]int, len(list)), make([]int, len(list))
	for i := range list {
		ones[i] = 1
		if s.bad(&list[i]) {
			bits[i] = 1
		}
	}
	return bits, ones
}

// promSeries evaluates the PromQL symptom over the window at the
// buckets' starts: the sum of its series (NaN where it has none). An
// alert's condition (expr > threshold, without bool) is read as its
// left-hand side, so the series is there before the alert fires.
func (r *run) promSeries(ctx context.Context) ([]float64, error) {
	if r.e.o.Engine == nil || r.e.o.Metrics == nil {
		return nil, fmt.Errorf("no metrics store here")
	}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.req.Expr)
	if err != nil {
		return nil, badf("expr: %v", err)
	}
	for {
		be, ok := expr.(*parser.BinaryExpr)
		if !ok || !be.Op.IsComparisonOperator() || be.ReturnBool {
			break
		}
		if _, isNum := be.RHS.(*parser.NumberLiteral); !isNum {
			break
		}
		expr = be.LHS
	}
	for {
		pe, ok := expr.(*parser.ParenExpr)
		if !ok {
			break
		}
		expr = pe.Expr
	}
	s := r.entries
	step := time.Duration(s.step)
	m, err := r.rangeQuery(ctx, expr.String(), time.Unix(0, s.start), time.Unix(0, s.start).Add(step*(buckets-1)), step)
	if err != nil {
		return nil, err
	}
	vals := make([]float64, buckets)
	for i := range vals {
		vals[i] = math.NaN()
	}
	for _, series := range m {
		for _, p := range series.Floats {
			i := s.bucket(p.T * int64(time.Millisecond))
			if math.IsNaN(vals[i]) {
				vals[i] = 0
			}
			vals[i] += p.F
		}
	}
	return vals, nil
}

// baseline is the bad share of the symptom in the same window a day or
// a week before.
type baseline struct {
	Offset string `json:"offset"` // "1d" or "1w"
	// Bad and Total are the entry spans of the interval shifted back.
	Bad   int `json:"bad"`
	Total int `json:"total"`
}

// baselines counts the symptom's bad entry spans over the symptom's
// interval (onset to end, or the window) a day and a week before.
func (r *run) baselines(ctx context.Context) [2]baseline {
	from := r.req.Start
	if r.onsetOK {
		from = r.onset
	}
	out := [2]baseline{{Offset: "1d"}, {Offset: "1w"}}
	for i, off := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour} {
		b := &out[i]
		_, err := r.scanEntrySpans(ctx, from.Add(-off).UnixNano(), r.req.End.Add(-off).UnixNano(), func(_, dur int64, _ string, isErr bool) {
			b.Total++
			if r.entries.threshold > 0 && dur > r.entries.threshold || r.entries.threshold == 0 && isErr {
				b.Bad++
			}
		})
		if err != nil {
			r.warn("the baseline %s before: %v", b.Offset, err)
		}
	}
	return out
}

// span is a span as the trace analysis keeps it.
type span struct {
	start, dur  int64
	id, parent  events.SpanID
	service     string
	name        string
	statusMsg   string
	kind        int32
	status      int32
	res, attrs  events.Attrs
	isEntryBad  bool // a bad entry span of the symptom
	isEntryGood bool // a good entry span of the symptom
	// peer is the callee of a client span (resolvePeers).
	peer *peerRef
}

func (s *span) end() int64 { return s.start + s.dur }

// trace is a sampled trace: its spans (those read), whether it is bad.
type trace struct {
	id    events.TraceID
	spans []*span
	bad   bool
	first int64  // its first symptom entry span's start
	name  string // and that span's name
}

// traceSample is the traces compared: bad and good, with the real
// numbers of bad and good entry spans in the slices they came from.
type traceSample struct {
	bad, good []*trace
}

// Pass 2 budgets: the entry spans whose traces are read whole, at most.
const maxEntriesRead = 40000

// spanFields are the columns read for the sampled traces.
var spanFields = []string{"time", "trace_id", "span_id", "parent_span_id", "service_name", "resource", "attrs",
	"name", "kind", "duration", "status_code", "status_message"}

// sampleTraces reads the traces of the symptom's entry spans in one
// contiguous run of buckets around the onset, long enough for
// MaxBadTraces bad and MaxGoodTraces good entry spans (or all of the
// window when it holds fewer than maxEntriesRead), and keeps at most that
// many bad and good traces, chosen by a hash of their ids.
func (r *run) sampleTraces(ctx context.Context) error {
	s := r.entries
	r.traces = &traceSample{}
	if len(s.list) == 0 {
		return nil
	}
	bad, total := r.res.Series.Bad, r.res.Series.Total
	lo, hi := 0, buckets // [lo, hi)
	if len(s.list) > maxEntriesRead {
		center := 0
		if r.onsetOK {
			center = s.bucket(r.onset.UnixNano())
		} else {
			for i := range bad { // the bucket with the most bad spans
				if bad[i] > bad[center] {
					center = i
				}
			}
		}
		lo, hi = center, center
		nb, ng, read := 0, 0, 0
		grow := func(i int) {
			nb += bad[i]
			ng += total[i] - bad[i]
			read += total[i]
		}
		// Forward from the onset (good and bad requests of the same
		// time), then backward if the end of the window came first.
		for hi < buckets && read < maxEntriesRead && (nb < r.req.MaxBadTraces || ng < r.req.MaxGoodTraces) {
			grow(hi)
			hi++
		}
		for lo > 0 && read < maxEntriesRead && (nb < r.req.MaxBadTraces || ng < r.req.MaxGoodTraces) {
			lo--
			grow(lo)
		}
		r.res.Sampling.Sampled = true
	}
	from, to := s.bucketStart(lo).UnixNano(), min(s.bucketStart(hi).UnixNano(), s.end)
	if hi == buckets {
		to = s.end
	}
	if lo > 0 || hi < buckets {
		r.res.Sampling.Sampled = true
		r.res.Sampling.Slices = []TimeRange{{Start: time.Unix(0, from).UTC(), End: time.Unix(0, to).UTC()}}
	}
	// A margin on both sides: the callers of the entry spans start
	// before them, their callees may end after.
	var p99 int64
	{
		var ds []float64
		for i := 0; i < len(s.list); i += max(len(s.list)/10000, 1) {
			ds = append(ds, float64(s.list[i].dur))
		}
		slices.Sort(ds)
		p99 = int64(Quantile(ds, 0.99))
	}
	margin := min(max(2*p99, int64(5*time.Second)), int64(time.Minute))
	byTrace := map[events.TraceID]*trace{}
	q := events.Query{Tenant: r.req.Tenant, Kind: events.KindSpan, Start: from - margin, End: to + margin, Fields: spanFields}
	_, err := r.e.o.Events.Scan(ctx, q, func(evs []events.Event) error {
		// One allocation for the batch's spans (every span read is kept).
		batch := make([]span, len(evs))
		for i := range evs {
			e := &evs[i]
			sp := &batch[i]
			*sp = span{start: e.Time, dur: e.Duration, id: e.SpanID, parent: e.ParentSpanID, service: e.Service, name: e.Name,
				statusMsg: e.StatusMessage, kind: e.SpanKind, status: e.StatusCode, res: e.Resource, attrs: e.Attrs}
			if e.Service == r.req.Service && e.Time >= from && e.Time < to && matchRoute(e.Name, r.req.Route) && isEntry(e.SpanKind, e.ParentSpanID) {
				en := entry{t: e.Time, dur: e.Duration, err: e.StatusCode == statusError}
				if s.bad(&en) {
					sp.isEntryBad = true
				} else {
					sp.isEntryGood = true
				}
			}
			t := byTrace[e.TraceID]
			if t == nil {
				t = &trace{id: e.TraceID}
				byTrace[e.TraceID] = t
			}
			t.spans = append(t.spans, sp)
			r.res.Sampling.SpansRead++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the traces: %w", err)
	}
	var bads, goods []*trace
	all := make([]*trace, 0, len(byTrace))
	for _, t := range byTrace {
		all = append(all, t)
		t.first = math.MaxInt64
		hasEntry := false
		for _, sp := range t.spans {
			if (sp.isEntryBad || sp.isEntryGood) && sp.start < t.first {
				hasEntry = true
				t.first, t.name = sp.start, sp.name
			}
			t.bad = t.bad || sp.isEntryBad
		}
		switch {
		case !hasEntry:
		case t.bad:
			bads = append(bads, t)
		default:
			goods = append(goods, t)
		}
	}
	// The good traces of the routes that have bad ones: a route that
	// cannot fail (a GET that calls no payment) would make everything on
	// the failing routes look over-represented.
	badNames := map[string]bool{}
	for _, t := range bads {
		badNames[t.name] = true
	}
	var same []*trace
	for _, t := range goods {
		if badNames[t.name] {
			same = append(same, t)
		}
	}
	if len(same) >= 20 {
		goods = same
	}
	// And of the same time as the bad ones, after the onset.
	if r.onsetOK {
		var after []*trace
		for _, t := range goods {
			if t.first >= r.onset.UnixNano() {
				after = append(after, t)
			}
		}
		if len(after) >= 20 {
			goods = after
		}
	}
	r.traces.bad = pickTraces(bads, r.req.MaxBadTraces)
	r.traces.good = pickTraces(goods, r.req.MaxGoodTraces)
	// The callees of client spans, from the server spans of every trace
	// read.
	r.resolvePeers(ctx, all)
	if len(bads) > len(r.traces.bad) || len(goods) > len(r.traces.good) {
		r.res.Sampling.Sampled = true
	}
	r.res.Sampling.BadTraces, r.res.Sampling.GoodTraces = len(r.traces.bad), len(r.traces.good)
	return nil
}

// pickTraces keeps at most n traces: those with the smallest hash of
// their ids (a uniform sample that is the same on every run), ordered by
// their first entry span.
func pickTraces(ts []*trace, n int) []*trace {
	if len(ts) > n {
		sort.Slice(ts, func(i, j int) bool { return xxhash.Sum64(ts[i].id[:]) < xxhash.Sum64(ts[j].id[:]) })
		ts = ts[:n]
	}
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].first != ts[j].first {
			return ts[i].first < ts[j].first
		}
		return string(ts[i].id[:]) < string(ts[j].id[:])
	})
	return ts
}
