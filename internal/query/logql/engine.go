package logql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/store/events"
)

// Store is what the engine reads: the event store.
type Store interface {
	// ScanConcurrent calls fn with batches of matching events; calls
	// may overlap.
	ScanConcurrent(ctx context.Context, q events.Query, fn func([]events.Event) error) (events.ScanStats, error)
	// ScanStreams calls fn with the times of matching logs grouped by
	// stream; calls may overlap.
	ScanStreams(ctx context.Context, q events.Query, fn func([]events.StreamTimes) error) (events.ScanStats, error)
	// Streams calls fn with the streams that have matching logs, each
	// at least once; calls may overlap.
	Streams(ctx context.Context, q events.Query, fn func([]events.Event) error) (events.ScanStats, error)
}

// Options bound what a query may cost.
type Options struct {
	// MaxSeries bounds the series of a metric query (default 10000).
	MaxSeries int
	// MaxPoints bounds series × steps (default 11000 × MaxSeries / 10).
	MaxPoints int
	// MaxEntries bounds the limit of a log query (default 5000).
	MaxEntries int
}

// Engine evaluates LogQL over a store.
type Engine struct {
	store Store
	opts  Options
	// noStreams turns the grouped line count off, for tests that check
	// it against the general path.
	noStreams bool
}

// NewEngine returns an engine reading store.
func NewEngine(store Store, opts Options) *Engine {
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = 10000
	}
	if opts.MaxPoints <= 0 {
		opts.MaxPoints = 11000 * opts.MaxSeries / 10
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 5000
	}
	return &Engine{store: store, opts: opts}
}

// Params are a query's parameters. A range query has Start < End and a
// Step; an instant query evaluates metric queries at End (Start = End),
// and reads log lines in (End - 1 h... as the caller sets Start).
type Params struct {
	Tenant     string
	Start, End time.Time
	Step       time.Duration
	// Instant evaluates a metric query at End only.
	Instant bool
	// Limit bounds the lines of a log query; Forward returns the oldest
	// lines first, else the newest.
	Limit   int
	Forward bool
}

// Result is a query's result: Streams for a log query, Matrix for a
// range metric query, Vector for an instant one, Scalar for a number.
type Result struct {
	Type    string // streams, matrix, vector, scalar
	Streams []Stream
	Matrix  []Series
	Vector  []Sample
	Scalar  Point
	Stats   Stats
}

// Stream is the lines of one label set, in the query's direction.
type Stream struct {
	Labels  labels.Labels // every label (stream, metadata, parsed)
	Entries []Entry
}

// Entry is one line.
type Entry struct {
	T    int64 // unix ns
	Line string
	// The labels by category, for the categorize-labels encoding.
	Stream, Metadata, Parsed labels.Labels
	// AddedLevel says that Stream's level label is Horus' own (the
	// line's level; the stream was pushed without one), a label Loki's
	// stream lacks. A parser that found a level replaced it: Parsed has
	// level then, and Stream none.
	AddedLevel bool
}

// Series is a metric query's series.
type Series struct {
	Labels labels.Labels
	Points []Point
}

// Point is a value at a time (unix ns).
type Point struct {
	T int64
	V float64
}

// Sample is an instant vector's element.
type Sample struct {
	Labels labels.Labels
	Point
}

// Stats tell what a query read.
type Stats struct {
	Lines      int64
	Bytes      int64
	Units      int
	Skipped    int
	ExecTime   time.Duration
	Streams    int
	Series     int
	QueueTime  time.Duration
	MatchLines int64
}

// Error kinds the API maps to statuses.
var (
	// ErrLimit is a query over a limit: 400.
	ErrLimit = errors.New("query limit")
	// ErrPipeline is a metric query with pipeline errors left: 400.
	ErrPipeline = errors.New("pipeline error")
)

// Exec evaluates q.
func (e *Engine) Exec(ctx context.Context, q Expr, p Params) (*Result, error) {
	start := time.Now()
	var res *Result
	var err error
	switch q := q.(type) {
	case *LogExpr:
		res, err = e.execLog(ctx, q, p)
	case SampleExpr:
		res, err = e.execSample(ctx, q, p)
	default:
		err = fmt.Errorf("unknown query type %T", q)
	}
	if res != nil {
		res.Stats.ExecTime = time.Since(start)
	}
	return res, err
}

// storeQuery makes the store query of a log expression: its matchers and
// leading positive line filters, pushed down.
func storeQuery(l *LogExpr, tenant string, start, end int64, needBody, needMeta bool) events.Query {
	q := events.Query{Tenant: tenant, Kind: events.KindLog, Start: start, End: end, Filters: StreamFilters(l)}
	labelsChanged := false
	for _, s := range l.Stages {
		switch s := s.(type) {
		case *ParserStage, *LabelFormat, *DropKeep:
			labelsChanged = true
		case *LabelFilterStage:
			if !labelsChanged {
				q.Filters = append(q.Filters, idFilters(s.Filter, nil)...)
			}
		}
		lf, ok := s.(*LineFilter)
		if !ok {
			if _, isLineChange := s.(*LineFormat); isLineChange {
				break
			}
			if _, isLineChange := s.(DecolorizeStage); isLineChange {
				break
			}
			if ps, ok := s.(*ParserStage); ok && ps.Kind == "unpack" {
				break
			}
			continue
		}
		if f, ok := lf.storeFilter(); ok {
			q.Filters = append(q.Filters, f)
		}
	}
	if !needBody || !needMeta {
		q.Fields = []string{"time", "resource", "service_name", "level"}
		if needBody {
			q.Fields = append(q.Fields, "body")
		}
		if needMeta || idNeedles(l.Stages) {
			q.Fields = append(q.Fields, "attrs", "trace_id", "span_id")
		}
	}
	return q
}

// idNeedles reports whether a line filter looks for a trace or span id,
// which the id columns may hold instead of the line (LineFilter.matchRow).
func idNeedles(stages []Stage) bool {
	return slices.ContainsFunc(stages, func(s Stage) bool {
		lf, ok := s.(*LineFilter)
		return ok && lf.ids
	})
}

// idFilters are the store filters implied by a label filter's
// conjuncts trace_id="x" and span_id="x": the id columns, with their
// Bloom filters, make "the lines of a trace" a lookup. Only label filters
// before any parser or label change are given, so the labels are still
// the columns'.
func idFilters(f LabelFilter, fs []events.Filter) []events.Filter {
	switch f := f.(type) {
	case *LabelBinary:
		if f.Op == "and" {
			fs = idFilters(f.Left, fs)
			fs = idFilters(f.Right, fs)
		}
	case *LabelCompare:
		if f.Kind == kindString && f.Op == "=" && f.Str != "" && (f.Name == "trace_id" || f.Name == "span_id") {
			fs = append(fs, events.Filter{Field: f.Name, Op: events.Eq, Value: f.Str})
		}
	}
	return fs
}

// StreamFilters are the event-store filters of a log query's stream
// selector.
func StreamFilters(l *LogExpr) []events.Filter {
	var fs []events.Filter
	for _, m := range l.Matchers {
		f := events.Filter{Field: "stream." + m.Name, Value: m.Value}
		switch m.Type {
		case labels.MatchEqual:
			f.Op = events.Eq
		case labels.MatchNotEqual:
			f.Op = events.Neq
		case labels.MatchRegexp:
			f.Op = events.Re
		case labels.MatchNotRegexp:
			f.Op = events.NotRe
		}
		fs = append(fs, f)
	}
	return fs
}

// seriesOf returns the series of a row's labels that keep picks, adding
// it to m if new. The key is built in a reused buffer (sel and key, given
// back), so the lookup does not allocate; labels are made once per new
// series.
func seriesOf(m map[string]*acc, r *row, keep func(*label) bool, sel []label, key []byte) (*acc, []label, []byte) {
	sel = r.pick(sel, keep)
	key = appendKey(key[:0], sel)
	a, ok := m[string(key)]
	if !ok {
		a = &acc{lbls: labelsOf(sel)}
		m[string(key)] = a
	}
	return a, sel, key
}

// countsLines reports whether a range aggregation only counts the lines
// of streams: count_over_time or rate with no stage but line filters the
// store applies (see storeQuery) and stages on stream labels alone
// (streamStages), which run once per stream, not once per line.
func countsLines(r *RangeAgg) bool {
	if r.Op != "count_over_time" && r.Op != "rate" || r.Unwrap != nil {
		return false
	}
	_, ok := streamStages(r.Log)
	return ok
}

// streamStages returns the stages of l other than its line filters, and
// reports whether they read and change nothing but stream labels: label
// filters on names every line of the selector has as stream labels (see
// metadataNames), and keep and drop (which, with no parser and no
// structured metadata read, only see stream labels), with line filters
// the store applies. Every line of a stream then has the same outcome,
// so the stages run once per stream.
func streamStages(l *LogExpr) ([]Stage, bool) {
	var out []Stage
	for _, s := range l.Stages {
		switch s := s.(type) {
		case *LineFilter:
			if _, pushed := s.storeFilter(); !pushed {
				return nil, false
			}
		case *LabelFilterStage:
			if len(metadataNames(l, labelFilterNames(s.Filter, nil))) > 0 {
				return nil, false
			}
			out = append(out, s)
		case *DropKeep:
			out = append(out, s)
		default:
			return nil, false
		}
	}
	return out, true
}

// labelFilterNames appends the label names a label filter reads to names.
func labelFilterNames(f LabelFilter, names []string) []string {
	switch f := f.(type) {
	case *LabelBinary:
		return labelFilterNames(f.Right, labelFilterNames(f.Left, names))
	case *LabelCompare:
		return append(names, f.Name)
	}
	return names
}

// metadataNames are the names that may be structured metadata: all but
// those every line of the selector has as stream labels (level,
// service_name, and the matchers' names that need a value), which
// shadow metadata.
func metadataNames(l *LogExpr, names []string) []string {
	var out []string
	for _, n := range names {
		if n == "level" || n == "service_name" || slices.ContainsFunc(l.Matchers, func(m *labels.Matcher) bool {
			return m.Name == n && !m.Matches("")
		}) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// needs reports whether stages read the line and the structured metadata.
func needs(stages []Stage, extra ...string) (body, meta bool) {
	for _, s := range stages {
		switch s.(type) {
		case *LineFilter, *ParserStage, DecolorizeStage:
			body = true
		case *LineFormat:
			// A template may read any label (., $, functions of them).
			body, meta = true, true
		case *LabelFilterStage, *LabelFormat, *DropKeep:
			meta = true
		}
	}
	if len(extra) > 0 {
		meta = true
	}
	return body, meta
}

func (e *Engine) execLog(ctx context.Context, l *LogExpr, p Params) (*Result, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > e.opts.MaxEntries {
		return nil, fmt.Errorf("%w: limit %d is more than the maximum of %d lines", ErrLimit, limit, e.opts.MaxEntries)
	}
	end := p.End.UnixNano() + 1 // Loki's end is inclusive for log queries
	q := storeQuery(l, p.Tenant, p.Start.UnixNano(), end, true, true)
	// Without stages that drop lines, the store applies the limit.
	// (Line filters are pushed down until a stage changes the line.)
	exact, lineChanged := true, false
	for _, s := range l.Stages {
		switch s := s.(type) {
		case *LineFilter:
			if _, pushed := s.storeFilter(); lineChanged || !pushed {
				exact = false
			}
		case *LabelFilterStage:
			exact = false
		case *LineFormat, DecolorizeStage:
			lineChanged = true
		case *ParserStage:
			lineChanged = lineChanged || s.Kind == "unpack"
		}
	}
	if exact {
		q.Limit = limit
	}
	var mu sync.Mutex
	var kept []Entry
	var stats Stats
	// Once limit lines are kept, lines past the cutoff cannot make it,
	// nor can the row groups of only such lines.
	var cutoff atomic.Int64
	var haveCut atomic.Bool
	q.Newest = !p.Forward
	q.Cutoff = func() (int64, bool) {
		if !haveCut.Load() { // first: trim stores the cutoff before this
			return 0, false
		}
		return cutoff.Load(), true
	}
	better := func(a, b int64) bool {
		if p.Forward {
			return a < b
		}
		return a > b
	}
	trim := func() {
		sort.Slice(kept, func(i, j int) bool { return better(kept[i].T, kept[j].T) })
		kept = kept[:limit]
		cutoff.Store(kept[limit-1].T)
		haveCut.Store(true)
	}
	st, err := e.store.ScanConcurrent(ctx, q, func(evs []events.Event) error {
		var r row
		var local []Entry
		var lines, bytes int64
		for i := range evs {
			ev := &evs[i]
			lines++
			bytes += int64(len(ev.Body))
			if haveCut.Load() && !better(ev.Time, cutoff.Load()) {
				continue
			}
			r.load(ev, true)
			if !run(l.Stages, &r) {
				continue
			}
			local = append(local, Entry{T: ev.Time, Line: r.line,
				Stream: r.labels(catStream), Metadata: r.labels(catMetadata), Parsed: r.labels(catParsed),
				AddedLevel: r.hasAddedLevel()})
		}
		mu.Lock()
		defer mu.Unlock()
		stats.Lines += lines
		stats.Bytes += bytes
		kept = append(kept, local...)
		if len(kept) > 2*limit {
			trim()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(kept) > limit {
		trim()
	}
	sort.SliceStable(kept, func(i, j int) bool { return better(kept[i].T, kept[j].T) })
	stats.Units, stats.Skipped = st.Units, st.Skipped
	stats.MatchLines = int64(len(kept))
	res := &Result{Type: "streams", Stats: stats}
	byKey := map[string]int{}
	for _, en := range kept {
		all := mergeLabels(en.Stream, en.Metadata, en.Parsed)
		k := all.String()
		i, ok := byKey[k]
		if !ok {
			i = len(res.Streams)
			byKey[k] = i
			res.Streams = append(res.Streams, Stream{Labels: all})
		}
		res.Streams[i].Entries = append(res.Streams[i].Entries, en)
	}
	res.Stats.Streams = len(res.Streams)
	return res, nil
}

func mergeLabels(ls ...labels.Labels) labels.Labels {
	b := labels.NewScratchBuilder(0)
	for _, l := range ls {
		l.Range(func(l labels.Label) { b.Add(l.Name, l.Value) })
	}
	b.Sort()
	return b.Labels()
}

// steps is the evaluation grid of a metric query, in unix ns.
type steps struct {
	start, step int64
	n           int
}

func (s steps) at(i int) int64 { return s.start + int64(i)*s.step }

func (e *Engine) execSample(ctx context.Context, q SampleExpr, p Params) (*Result, error) {
	g := steps{start: p.End.UnixNano(), step: 1, n: 1}
	if !p.Instant {
		if p.Step <= 0 {
			return nil, fmt.Errorf("%w: a range query needs a positive step", ErrLimit)
		}
		g = steps{start: p.Start.UnixNano(), step: int64(p.Step), n: int((p.End.UnixNano()-p.Start.UnixNano())/int64(p.Step)) + 1}
	}
	if g.n > 11000 {
		return nil, fmt.Errorf("%w: %d steps; exceeded maximum resolution of 11,000 points per series: raise the step", ErrLimit, g.n)
	}
	ev := &evaluator{e: e, ctx: ctx, p: p, g: g}
	v, err := ev.eval(q, nil)
	if err != nil {
		return nil, err
	}
	res := &Result{Stats: ev.stats}
	if v.scalar != nil {
		if p.Instant {
			return &Result{Type: "scalar", Scalar: Point{g.at(0), v.scalar[0]}, Stats: ev.stats}, nil
		}
		v = value{series: []*series{{vals: v.scalar, ok: allTrue(g.n)}}}
	}
	if p.Instant {
		res.Type = "vector"
		for _, s := range v.series {
			if s.ok[0] {
				res.Vector = append(res.Vector, Sample{s.lbls, Point{g.at(0), s.vals[0]}})
			}
		}
		if !v.sorted {
			sort.Slice(res.Vector, func(i, j int) bool { return labels.Compare(res.Vector[i].Labels, res.Vector[j].Labels) < 0 })
		}
		res.Stats.Series = len(res.Vector)
		return res, nil
	}
	res.Type = "matrix"
	for _, s := range v.series {
		var pts []Point
		for i := 0; i < g.n; i++ {
			if s.ok[i] {
				pts = append(pts, Point{g.at(i), s.vals[i]})
			}
		}
		if len(pts) > 0 {
			res.Matrix = append(res.Matrix, Series{s.lbls, pts})
		}
	}
	if !v.sorted {
		sort.Slice(res.Matrix, func(i, j int) bool { return labels.Compare(res.Matrix[i].Labels, res.Matrix[j].Labels) < 0 })
	}
	res.Stats.Series = len(res.Matrix)
	return res, nil
}

func allTrue(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

// value is an evaluated expression: a scalar per step, or series.
type value struct {
	scalar []float64
	series []*series
	sorted bool // sort and sort_desc set the order
}

type series struct {
	lbls labels.Labels
	vals []float64
	ok   []bool
}

type evaluator struct {
	e     *Engine
	ctx   context.Context
	p     Params
	g     steps
	stats Stats
}

// pushdown are the labels an enclosing aggregation keeps, when the range
// aggregation below may group by them directly.
type pushdown struct {
	labels []string
}

func (ev *evaluator) eval(q SampleExpr, pd *pushdown) (value, error) {
	switch q := q.(type) {
	case *Literal:
		v := make([]float64, ev.g.n)
		for i := range v {
			v[i] = q.Val
		}
		return value{scalar: v}, nil
	case *VectorExpr:
		v := make([]float64, ev.g.n)
		for i := range v {
			v[i] = q.Val
		}
		return value{series: []*series{{lbls: labels.EmptyLabels(), vals: v, ok: allTrue(ev.g.n)}}}, nil
	case *RangeAgg:
		return ev.rangeAgg(q, pd)
	case *VectorAgg:
		var inner *pushdown
		if r, ok := q.Inner.(*RangeAgg); ok && q.Grouping != nil && !q.Grouping.Without && r.Unwrap == nil {
			switch {
			case q.Op == "sum" && slices.Contains([]string{"count_over_time", "rate", "bytes_over_time", "bytes_rate"}, r.Op):
				inner = &pushdown{labels: q.Grouping.Labels}
			}
		}
		v, err := ev.eval(q.Inner, inner)
		if err != nil {
			return value{}, err
		}
		return ev.vectorAgg(q, v)
	case *BinaryExpr:
		l, err := ev.eval(q.Left, nil)
		if err != nil {
			return value{}, err
		}
		r, err := ev.eval(q.Right, nil)
		if err != nil {
			return value{}, err
		}
		return ev.binary(q, l, r)
	case *LabelReplace:
		v, err := ev.eval(q.Inner, nil)
		if err != nil {
			return value{}, err
		}
		if v.scalar != nil {
			return value{}, fmt.Errorf("label_replace needs a query, not a number")
		}
		for _, s := range v.series {
			src := s.lbls.Get(q.Src)
			if m := q.re.FindStringSubmatchIndex(src); m != nil {
				out := string(q.re.ExpandString(nil, q.Replacement, src, m))
				b := labels.NewBuilder(s.lbls)
				b.Set(q.Dst, out)
				s.lbls = b.Labels()
			}
		}
		return mergeSeries(v)
	}
	return value{}, fmt.Errorf("unknown expression %T", q)
}

// mergeSeries merges the series of v that have equal labels into one,
// as a range query's matrix holds one series per label set: Loki's
// JoinSampleVector (pkg/logql/engine.go, vectorsToSeries) and
// Prometheus' engine collect each step's vector into series by their
// labels, so `sum(...) or vector(0)` is one series, the sum's points and
// 0 where it has none. Two such series with a point at the same step are
// a vector holding a label set twice, an error.
func mergeSeries(v value) (value, error) {
	byHash := map[uint64][]*series{}
	out := v.series[:0]
	for _, s := range v.series {
		h := s.lbls.Hash()
		var dst *series
		for _, d := range byHash[h] {
			if labels.Equal(d.lbls, s.lbls) {
				dst = d
				break
			}
		}
		if dst == nil {
			byHash[h] = append(byHash[h], s)
			out = append(out, s)
			continue
		}
		for i, ok := range s.ok {
			if !ok {
				continue
			}
			if dst.ok[i] {
				return value{}, fmt.Errorf("vector cannot contain metrics with the same labelset: %s", s.lbls)
			}
			dst.vals[i], dst.ok[i] = s.vals[i], true
		}
	}
	v.series = out
	return v, nil
}

// rangeOp accumulates one window's samples.
type window struct {
	count, sum, min, max float64
	first, last          float64
	firstT, lastT        int64
	vals                 []float64 // for stddev, stdvar, quantile
}

func (w *window) add(t int64, v float64, keepVals bool) {
	if w.count == 0 {
		w.min, w.max, w.first, w.firstT = v, v, v, t
	}
	w.count++
	w.sum += v
	w.min = math.Min(w.min, v)
	w.max = math.Max(w.max, v)
	if t >= w.lastT {
		w.last, w.lastT = v, t
	}
	if t < w.firstT {
		w.first, w.firstT = v, t
	}
	if keepVals {
		w.vals = append(w.vals, v)
	}
}

// acc is a series being built by a range aggregation: the samples of each
// step's window. With range = k × step, a sample lands in exactly k
// windows; buckets of one step are summed into windows at the end for the
// mergeable operations.
type acc struct {
	lbls labels.Labels
	// Per step bucket (t_i - step, t_i], when bucketed: buckets[0] is
	// bucket lo. A scan batch touches a few buckets, so only those are
	// kept.
	buckets []window
	lo      int
	samples []struct {
		t int64
		v float64
	}
}

// bucket returns bucket j, growing the range of buckets kept to hold it.
func (a *acc) bucket(j int) *window {
	switch {
	case len(a.buckets) == 0:
		a.lo = j
		a.buckets = append(a.buckets, window{})
	case j < a.lo:
		grown := make([]window, a.lo-j+len(a.buckets), a.lo-j+cap(a.buckets))
		copy(grown[a.lo-j:], a.buckets)
		a.buckets, a.lo = grown, j
	case j >= a.lo+len(a.buckets):
		a.buckets = append(a.buckets, make([]window, j-a.lo-len(a.buckets)+1)...)
	}
	return &a.buckets[j-a.lo]
}

// at returns bucket j, or nil when nothing fell in it.
func (a *acc) at(j int) *window {
	if j < a.lo || j >= a.lo+len(a.buckets) {
		return nil
	}
	return &a.buckets[j-a.lo]
}

func (ev *evaluator) rangeAgg(r *RangeAgg, pd *pushdown) (value, error) {
	g := ev.g
	rng, off := int64(r.Range), int64(r.Offset)
	step := g.step
	if ev.p.Instant {
		step = rng
	}
	keepVals := r.Op == "stddev_over_time" || r.Op == "stdvar_over_time" || r.Op == "quantile_over_time"
	// Bucketed when every window is a whole number of steps.
	bucketed := !keepVals && rng%step == 0
	k := int(rng / step)
	nb := g.n + k - 1 // buckets from the first window's start
	if bucketed && nb > 20_000_000 {
		bucketed = false // a bucket array per series would be too large
	}
	first := g.at(0) - rng - off // samples in (first, last]
	last := g.at(g.n-1) - off
	var extra []string
	if pd != nil {
		extra = pd.labels
	}
	if r.Grouping != nil {
		extra = append(extra, r.Grouping.Labels...)
	}
	needBody, needMeta := needs(r.Log.Stages, metadataNames(r.Log, extra)...)
	if r.Op == "bytes_over_time" || r.Op == "bytes_rate" {
		needBody = true
	}
	if r.Unwrap != nil {
		needMeta = true
	}
	q := storeQuery(r.Log, ev.p.Tenant, first+1, last+1, needBody, needMeta)
	// keep picks a line's series labels: the enclosing sum's (pushed
	// down), the aggregation's grouping, else the stream and parsed labels
	// and the structured metadata the query names.
	var keep func(*label) bool
	switch {
	case r.Op == "absent_over_time":
		// One series: only whether any line gave a sample matters (Loki's
		// extractor sets noLabels for it, pkg/logql/syntax/extractor.go).
		keep = func(*label) bool { return false }
	case pd != nil:
		keep = func(l *label) bool { return slices.Contains(pd.labels, l.name) && !isErrorLabel(l.name) }
	case r.Grouping != nil:
		keep = func(l *label) bool {
			return slices.Contains(r.Grouping.Labels, l.name) != r.Grouping.Without && !isErrorLabel(l.name)
		}
	default:
		keep = func(l *label) bool {
			return l.cat == catStream || l.cat == catParsed || l.cat == catMetadata && slices.Contains(extra, l.name)
		}
	}
	var mu sync.Mutex
	accs := map[string]*acc{}
	var pipeErr error
	// merge adds a scan batch's series to the query's.
	merge := func(local map[string]*acc, lines, bytes int64) error {
		mu.Lock()
		defer mu.Unlock()
		ev.stats.Lines += lines
		ev.stats.Bytes += bytes
		for key, a := range local {
			dst, ok := accs[key]
			if !ok {
				if len(accs) >= ev.e.opts.MaxSeries {
					return fmt.Errorf("%w: more than %d series; aggregate (sum by) or narrow the selector", ErrLimit, ev.e.opts.MaxSeries)
				}
				accs[key] = a
				continue
			}
			if bucketed {
				for j := range a.buckets {
					if a.buckets[j].count > 0 {
						mergeWindow(dst.bucket(a.lo+j), &a.buckets[j])
					}
				}
			} else {
				dst.samples = append(dst.samples, a.samples...)
			}
		}
		return nil
	}
	// bucketOf is the bucket of a line at t, if any: bucket j covers
	// (t_j - step, t_j], t_j = start + (j-k+1)·step.
	bucketOf := func(t int64) (int, bool) {
		j := int(ceilDiv(t+off-g.at(0), step)) + k - 1
		return j, j >= 0 && j < nb
	}
	var st events.ScanStats
	var err error
	if bucketed && countsLines(r) && len(metadataNames(r.Log, extra)) == 0 && !ev.e.noStreams {
		// Lines counted per stream: the store groups them, no line is
		// read or made an event; stages on stream labels run once per
		// stream.
		stages, _ := streamStages(r.Log)
		st, err = ev.e.store.ScanStreams(ev.ctx, q, func(groups []events.StreamTimes) error {
			var rw row
			var sel []label
			var keyBuf []byte
			local := map[string]*acc{}
			var lines int64
			for gi := range groups {
				grp := &groups[gi]
				lines += int64(len(grp.Times))
				rw.load(&grp.Stream, false)
				if len(stages) > 0 {
					if !run(stages, &rw) {
						continue
					}
					if errKind, bad := rw.get(errorLabel); bad {
						details, _ := rw.get(errorDetails)
						mu.Lock()
						if pipeErr == nil {
							pipeErr = fmt.Errorf("%w: %s (%s) in a line of the stream %s; drop such lines with | __error__=\"\"", ErrPipeline, errKind, details, grp.Stream.Service)
						}
						mu.Unlock()
						return pipeErr
					}
				}
				var a *acc
				a, sel, keyBuf = seriesOf(local, &rw, keep, sel, keyBuf)
				// Counted into the bucket of the previous line while
				// times fall in it (a stream's times come nearly in
				// order): no division per line. Only count (and sum,
				// each line being 1) are read for count_over_time and
				// rate (rangeValue).
				var w *window
				var wLo, wHi int64 // w's times: (wLo, wHi]
				for _, t := range grp.Times {
					if w == nil || t <= wLo || t > wHi {
						j, ok := bucketOf(t)
						if !ok {
							w = nil
							continue
						}
						w = a.bucket(j)
						wHi = g.at(0) - off + int64(j-k+1)*step
						wLo = wHi - step
					}
					w.count++
					w.sum++
				}
			}
			return merge(local, lines, 0)
		})
	} else {
		// The callback reads the events (row.load keeps their strings
		// only): a head's are not copied out for it.
		q.InPlace = true
		st, err = ev.e.store.ScanConcurrent(ev.ctx, q, func(evs []events.Event) error {
			var rw row
			var sel []label
			var keyBuf []byte
			local := map[string]*acc{}
			var lines, bytes int64
			for i := range evs {
				e := &evs[i]
				lines++
				bytes += int64(len(e.Body))
				rw.load(e, needMeta)
				if !run(r.Log.Stages, &rw) {
					continue
				}
				v := 1.0
				switch {
				case r.Unwrap != nil:
					// Loki's labelSampleExtractor: a line without the
					// label, or with it empty, gives no sample; one that
					// does not convert is marked SampleExtractionErr.
					s, _ := rw.get(r.Unwrap.Label)
					if s == "" {
						continue
					}
					var err error
					switch r.Unwrap.Conv {
					case "duration", "duration_seconds":
						v, err = ParseDuration(s)
					case "bytes":
						v, err = ParseBytes(s)
					default:
						v, err = strconv.ParseFloat(s, 64)
					}
					if err != nil {
						rw.setParserError(errSample, err.Error())
					}
					rw.del(r.Unwrap.Label)
					keep := true
					for _, f := range r.Unwrap.Filters {
						if !evalLabelFilter(f, &rw) {
							keep = false
							break
						}
					}
					if !keep {
						continue
					}
				case r.Op == "bytes_over_time" || r.Op == "bytes_rate":
					v = float64(len(rw.line))
				}
				if errKind, bad := rw.get(errorLabel); bad {
					mu.Lock()
					if pipeErr == nil {
						details, _ := rw.get(errorDetails)
						pipeErr = fmt.Errorf("%w: %s (%s) in the line %q; drop such lines with | __error__=\"\"", ErrPipeline, errKind, details, truncate(rw.line))
					}
					mu.Unlock()
					return pipeErr
				}
				var a *acc
				a, sel, keyBuf = seriesOf(local, &rw, keep, sel, keyBuf)
				t := e.Time + off
				if bucketed {
					if j, ok := bucketOf(e.Time); ok {
						a.bucket(j).add(t, v, false)
					}
				} else {
					a.samples = append(a.samples, struct {
						t int64
						v float64
					}{t, v})
				}
			}
			return merge(local, lines, bytes)
		})
	}
	if err != nil {
		return value{}, err
	}
	ev.stats.Units += st.Units
	ev.stats.Skipped += st.Skipped
	if len(accs)*g.n > ev.e.opts.MaxPoints {
		return value{}, fmt.Errorf("%w: %d series × %d steps is more than %d points", ErrLimit, len(accs), g.n, ev.e.opts.MaxPoints)
	}
	out := value{}
	for _, a := range accs {
		s := &series{lbls: a.lbls, vals: make([]float64, g.n), ok: make([]bool, g.n)}
		if !bucketed {
			sort.Slice(a.samples, func(i, j int) bool { return a.samples[i].t < a.samples[j].t })
		}
		lo, hi := 0, 0
		for i := 0; i < g.n; i++ {
			var w window
			ti := g.at(i)
			if bucketed {
				for j := i; j < i+k; j++ {
					if b := a.at(j); b != nil {
						mergeWindow(&w, b)
					}
				}
			} else {
				for hi < len(a.samples) && a.samples[hi].t <= ti {
					hi++
				}
				for lo < hi && a.samples[lo].t <= ti-rng {
					lo++
				}
				for _, smp := range a.samples[lo:hi] {
					w.add(smp.t, smp.v, keepVals)
				}
			}
			if w.count == 0 {
				continue
			}
			s.vals[i], s.ok[i] = rangeValue(r, &w, rng), true
		}
		out.series = append(out.series, s)
	}
	if r.Op == "absent_over_time" {
		return ev.absent(r, out), nil
	}
	return out, nil
}

func isErrorLabel(name string) bool { return name == errorLabel || name == errorDetails }

// pick fills sel with the row's labels that keep selects, sorted by name.
func (r *row) pick(sel []label, keep func(*label) bool) []label {
	sel = sel[:0]
	for i := range r.lbls {
		if keep(&r.lbls[i]) {
			sel = append(sel, r.lbls[i])
		}
	}
	slices.SortFunc(sel, func(a, b label) int { return strings.Compare(a.name, b.name) })
	return sel
}

// appendKey appends a key of sorted labels to buf.
func appendKey(buf []byte, sel []label) []byte {
	for _, l := range sel {
		buf = append(buf, l.name...)
		buf = append(buf, 0xff)
		buf = append(buf, l.value...)
		buf = append(buf, 0xff)
	}
	return buf
}

func labelsOf(sel []label) labels.Labels {
	b := labels.NewScratchBuilder(len(sel))
	for _, l := range sel {
		b.Add(l.name, l.value)
	}
	return b.Labels()
}

func mergeWindow(dst, src *window) {
	if src.count == 0 {
		return
	}
	if dst.count == 0 {
		*dst = *src
		return
	}
	dst.count += src.count
	dst.sum += src.sum
	dst.min = math.Min(dst.min, src.min)
	dst.max = math.Max(dst.max, src.max)
	if src.firstT < dst.firstT {
		dst.first, dst.firstT = src.first, src.firstT
	}
	if src.lastT >= dst.lastT {
		dst.last, dst.lastT = src.last, src.lastT
	}
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a > 0) == (b > 0) {
		q++
	}
	return q
}

func rangeValue(r *RangeAgg, w *window, rng int64) float64 {
	secs := float64(rng) / 1e9
	switch r.Op {
	case "count_over_time":
		return w.count
	case "rate":
		if r.Unwrap != nil {
			return w.sum / secs
		}
		return w.count / secs
	case "bytes_over_time", "sum_over_time":
		return w.sum
	case "bytes_rate":
		return w.sum / secs
	case "avg_over_time":
		return w.sum / w.count
	case "min_over_time":
		return w.min
	case "max_over_time":
		return w.max
	case "first_over_time":
		return w.first
	case "last_over_time":
		return w.last
	case "rate_counter":
		return (w.last - w.first) / secs
	case "stdvar_over_time", "stddev_over_time":
		mean := w.sum / w.count
		var sq float64
		for _, v := range w.vals {
			sq += (v - mean) * (v - mean)
		}
		if r.Op == "stdvar_over_time" {
			return sq / w.count
		}
		return math.Sqrt(sq / w.count)
	case "quantile_over_time":
		return quantile(r.Param, w.vals)
	case "absent_over_time":
		return 1
	}
	return math.NaN()
}

// quantile is Prometheus' quantile_over_time: linear interpolation.
func quantile(q float64, vals []float64) float64 {
	if len(vals) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	n := float64(len(s))
	rank := q * (n - 1)
	lo := math.Max(0, math.Floor(rank))
	hi := math.Min(n-1, lo+1)
	w := rank - lo
	return s[int(lo)]*(1-w) + s[int(hi)]*w
}

// absent turns the series found into absent_over_time's: 1 at the steps
// where no series had a sample (with an unwrap, no line had the label),
// labelled as Loki's absentLabels (pkg/logql/evaluator.go) labels it: by
// the selector's equality matchers, less every name that another matcher
// (or a second equality matcher) of the selector also names.
func (ev *evaluator) absent(r *RangeAgg, v value) value {
	b := labels.NewBuilder(labels.EmptyLabels())
	var others []string
	for _, m := range r.Log.Matchers {
		if m.Type == labels.MatchEqual && b.Get(m.Name) == "" {
			b.Set(m.Name, m.Value)
		} else {
			others = append(others, m.Name)
		}
	}
	b.Del(others...)
	s := &series{lbls: b.Labels(), vals: make([]float64, ev.g.n), ok: make([]bool, ev.g.n)}
	for i := 0; i < ev.g.n; i++ {
		present := false
		for _, x := range v.series {
			present = present || x.ok[i]
		}
		if !present {
			s.vals[i], s.ok[i] = 1, true
		}
	}
	return value{series: []*series{s}}
}

func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
