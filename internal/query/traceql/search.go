package traceql

import (
	"cmp"
	"context"
	"slices"
	"strconv"

	"github.com/grafana/regexp"

	"github.com/horus-obs/horus/internal/store/events"
)

// SpanStore is what a search reads: the event store.
type SpanStore interface {
	Scan(ctx context.Context, q events.Query, fn func([]events.Event) error) (events.ScanStats, error)
	Traces(ctx context.Context, tenant string, ids []events.TraceID) (map[events.TraceID][]events.Event, error)
}

// SearchRequest is a trace search.
type SearchRequest struct {
	Tenant     string
	Query      *Query
	Start, End int64 // unix ns: traces with a span starting in [Start, End); End 0: no bound
	// MinDuration and MaxDuration bound the trace's duration (ns); 0: no
	// bound.
	MinDuration, MaxDuration int64
	Limit                    int // traces; 0: 20
	// Each, if set, is given each trace the search matches, as it is
	// found, and Search returns none: a caller that renders results at
	// once holds one trace at a time, however large Limit.
	Each func(TraceResult) error
}

// TraceResult is a trace a search matched.
type TraceResult struct {
	Trace    *Trace
	Spansets []Spanset
}

// SearchStats tells what a search read.
type SearchStats struct {
	InspectedSpans  int64 // spans the first pass matched
	InspectedTraces int   // traces evaluated whole
	Units           int
}

// batch is how many candidate traces are fetched whole at once.
const batch = 64

// Search finds the newest traces the query selects. A first pass scans
// only the columns of the conditions every match must meet (pushed down
// to the event store's filters and indexes) for candidate traces; the
// candidates are then fetched whole, newest first, and the query is
// evaluated on each until Limit traces match.
func Search(ctx context.Context, store SpanStore, req SearchRequest) ([]TraceResult, SearchStats, error) {
	limit := req.Limit
	if limit <= 0 {
		limit = 20
	}
	var st SearchStats
	ids, err := candidates(ctx, store, req.Tenant, req.Query, req.Start, req.End, &st)
	if err != nil {
		return nil, st, err
	}
	var out []TraceResult
	found := 0
	for len(ids) > 0 && found < limit {
		n := min(len(ids), batch)
		traces, err := store.Traces(ctx, req.Tenant, ids[:n])
		if err != nil {
			return nil, st, err
		}
		for _, id := range ids[:n] {
			spans := traces[id]
			if len(spans) == 0 {
				continue
			}
			st.InspectedTraces++
			t := NewTrace(spans)
			d := t.End - t.Start
			if req.MinDuration > 0 && d < req.MinDuration || req.MaxDuration > 0 && d > req.MaxDuration {
				continue
			}
			if sets := req.Query.Eval(t); len(sets) > 0 {
				found++
				if req.Each != nil {
					if err := req.Each(TraceResult{Trace: t, Spansets: sets}); err != nil {
						return nil, st, err
					}
				} else {
					out = append(out, TraceResult{Trace: t, Spansets: sets})
				}
				if found == limit {
					break
				}
			}
		}
		clear(traces)
		ids = ids[n:]
	}
	return out, st, nil
}

// candidates returns the traces with spans in [start, end) that may match
// q, newest first: one column scan per spanset whose conditions every
// match needs (both sides of && and of structural operators); a
// candidate trace has spans passing each.
func candidates(ctx context.Context, store SpanStore, tenant string, q *Query, start, end int64, st *SearchStats) ([]events.TraceID, error) {
	var newest map[events.TraceID]int64
	sets := pushdownSets(q.Root)
	if len(sets) == 0 {
		sets = [][]events.Filter{nil}
	}
	for n, filters := range sets {
		found := map[events.TraceID]int64{}
		scan, err := store.Scan(ctx, events.Query{
			Tenant: tenant, Kind: events.KindSpan, Start: start, End: end,
			Filters: filters, Fields: []string{"trace_id"},
		}, func(evs []events.Event) error {
			for i := range evs {
				if n > 0 {
					if _, ok := newest[evs[i].TraceID]; !ok {
						continue
					}
				}
				if t, ok := found[evs[i].TraceID]; !ok || evs[i].Time > t {
					found[evs[i].TraceID] = evs[i].Time
				}
			}
			st.InspectedSpans += int64(len(evs))
			return nil
		})
		st.Units += scan.Units
		if err != nil {
			return nil, err
		}
		if n > 0 {
			for id, t := range found {
				found[id] = max(t, newest[id])
			}
		}
		newest = found
	}
	ids := make([]events.TraceID, 0, len(newest))
	for id := range newest {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b events.TraceID) int {
		if c := cmp.Compare(newest[b], newest[a]); c != 0 {
			return c
		}
		return slices.Compare(a[:], b[:])
	})
	return ids, nil
}

// Pushdown returns event-store filters every span of some match meets:
// the conditions of one spanset filter that must hold for the query to
// select anything, in the forms the store evaluates the same way or more
// loosely (never excluding a match).
func Pushdown(q *Query) []events.Filter {
	return necessary(q.Root)
}

// maxScans bounds the first-pass scans of one search.
const maxScans = 3

// pushdownSets returns the filter sets a matching trace has a span for,
// each: both sides of &&, structural and union operators, the right side
// of negated ones (whose left side may match nothing). Sets without
// filters are left out.
func pushdownSets(e SetExpr) [][]events.Filter {
	var out [][]events.Filter
	var walk func(SetExpr)
	walk = func(e SetExpr) {
		switch x := e.(type) {
		case *Filter, *Pipeline:
			if p, ok := x.(*Pipeline); ok {
				walk(p.Source)
				return
			}
			if f := necessary(x); len(f) > 0 && len(out) < maxScans {
				out = append(out, f)
			}
		case *SetOp:
			switch {
			case x.Op == OpOr:
				// Either side may match: no set is needed.
			case x.Op.negated():
				walk(x.R)
			default:
				walk(x.L)
				walk(x.R)
			}
		}
	}
	walk(e)
	return out
}

func necessary(e SetExpr) []events.Filter {
	switch x := e.(type) {
	case *Filter:
		var out []events.Filter
		for _, c := range conjuncts(x.Cond) {
			if f, ok := pushable(c); ok {
				out = append(out, f)
			}
		}
		return out
	case *Pipeline:
		return necessary(x.Source)
	case *SetOp:
		if x.Op == OpOr {
			return nil
		}
		if x.Op.negated() {
			return necessary(x.R) // the left side may match nothing
		}
		l := necessary(x.L)
		if r := necessary(x.R); len(r) > len(l) {
			return r
		}
		return l
	}
	return nil
}

func conjuncts(e Expr) []Expr {
	if b, ok := e.(*Binary); ok && b.Op == OpAnd {
		return append(conjuncts(b.L), conjuncts(b.R)...)
	}
	if e == nil {
		return nil
	}
	return []Expr{e}
}

var flipped = map[Op]Op{OpEq: OpEq, OpNeq: OpNeq, OpLt: OpGt, OpLte: OpGte, OpGt: OpLt, OpGte: OpLte}

var storeOps = map[Op]events.Op{OpEq: events.Eq, OpNeq: events.Neq, OpLt: events.Lt, OpLte: events.Le,
	OpGt: events.Gt, OpGte: events.Ge, OpRe: events.Re, OpNRe: events.NotRe}

// pushable turns "field op literal" into a store filter.
func pushable(e Expr) (events.Filter, bool) {
	b, ok := e.(*Binary)
	if !ok || !b.Op.comparison() {
		return events.Filter{}, false
	}
	a, aok := b.L.(*Attribute)
	s, sok := b.R.(*Static)
	op := b.Op
	if !aok || !sok {
		a, aok = b.R.(*Attribute)
		s, sok = b.L.(*Static)
		f, ok := flipped[op]
		if !aok || !sok || !ok {
			return events.Filter{}, false
		}
		op = f
	}
	v := s.V
	if v.T == TNil {
		return events.Filter{}, false
	}
	field := storeField(a)
	if field == "" {
		return events.Filter{}, false
	}
	switch op {
	case OpRe, OpNRe:
		if v.T != TStr {
			return events.Filter{}, false
		}
	case OpLt, OpLte, OpGt, OpGte:
		// The store compares numbers as numbers, text as text; a string
		// literal could compare differently.
		if !v.T.numeric() && v.T != TDuration {
			return events.Filter{}, false
		}
	}
	val := v.Text()
	switch v.T {
	case TStatus, TKind, TDuration:
		val = strconv.FormatInt(v.I, 10)
	}
	if a.Intrinsic == INone && field != "service_name" {
		// An attribute may be an array, which the store holds as its JSON
		// text and TraceQL compares element by element: the filter lets
		// every array through (JSON text starts with '['). Text ordering
		// lets arrays through > and >= (the store compares a non-number
		// as text, and '[' sorts after every number's first character)
		// but not < and <=, nor, in general, !~: for those only the
		// attribute's presence is required.
		switch op {
		case OpEq:
			return events.Filter{Field: field, Op: events.Re, Value: "(?:" + regexp.QuoteMeta(val) + `)|\[.*`}, true
		case OpRe:
			return events.Filter{Field: field, Op: events.Re, Value: "(?:" + val + `)|\[.*`}, true
		case OpLt, OpLte, OpNRe:
			return events.Filter{Field: field, Op: events.Exists}, true
		}
	}
	return events.Filter{Field: field, Op: storeOps[op], Value: val}, true
}

// storeField names the event-store field an attribute reads, or "" if it
// is not one column of the span (trace-level, event and link fields).
func storeField(a *Attribute) string {
	switch a.Intrinsic {
	case INone:
	case IName:
		return "name"
	case IStatus:
		return "status_code"
	case IStatusMessage:
		return "status_message"
	case IDuration:
		return "duration"
	case IKind:
		return "kind"
	default:
		return ""
	}
	switch a.Scope {
	case "span":
		return "attrs." + a.Name
	case "resource":
		if a.Name == "service.name" {
			return "service_name"
		}
		return "resource." + a.Name
	case "":
		return a.Name
	}
	return ""
}

// SpanMatcher returns, for a query that is one spanset filter on span
// fields, its condition on span i of a trace; nil for other queries.
func (q *Query) SpanMatcher() func(t *Trace, i int) bool {
	f, ok := q.Root.(*Filter)
	if !ok || q.Metrics != nil || TraceLevel(q) != nil {
		return nil
	}
	if f.Cond == nil {
		return func(*Trace, int) bool { return true }
	}
	return func(t *Trace, i int) bool { return len(filterSpans(f.Cond, t, []int{i})) > 0 }
}

// FirstFilter returns the spanset filter Tempo's tag APIs narrow their
// answer by, as a query of its own: the first spanset filter of q's
// pipeline, whatever its conditions (|| and ! included); nil when q
// starts with a spanset operation ({ a } > { b }, { a } && { b }), for
// which Tempo filters nothing (grafana/tempo pkg/traceql/lenient_extract.go,
// ExtractConditionGroups and findSpansetFilter).
//
// A bare field among its && and || ({ span.http.method }, { .a && .b = 1 })
// is taken as true: Tempo reads such a field as a hint of the columns to
// fetch, not a condition (ExtractConditionGroups drops OpNone
// conditions, and filters nothing when a group of || is left empty).
func (q *Query) FirstFilter() *Query {
	e := q.Root
	for {
		switch x := e.(type) {
		case *Filter:
			return &Query{Root: &Filter{Cond: hintsTrue(x.Cond)}}
		case *Pipeline:
			e = x.Source
		default:
			return nil
		}
	}
}

// hintsTrue replaces the bare fields among e's && and || by true.
func hintsTrue(e Expr) Expr {
	switch x := e.(type) {
	case *Attribute:
		return &Static{V: BoolV(true)}
	case *Binary:
		if x.Op == OpAnd || x.Op == OpOr {
			return &Binary{Op: x.Op, L: hintsTrue(x.L), R: hintsTrue(x.R)}
		}
	}
	return e
}

// MatchElems reports, for span i of t and a query that is one spanset
// filter (see FirstFilter), which of the span's events (scope "event")
// or links ("link") its condition holds for with their fields read from
// that event (link) alone: as Tempo's tag autocompletion joins event and
// link conditions at the event (link) level
// (tempodb/encoding/vparquet4/block_autocomplete.go,
// createDistinctEventIterator). Nil when the condition reads no field of
// that scope: every event (link) of a matching span is in.
func (q *Query) MatchElems(t *Trace, i int, scope string) []bool {
	f, ok := q.Root.(*Filter)
	if !ok || !readsScope(f.Cond, scope) {
		return nil
	}
	n := len(t.Spans[i].Events)
	if scope == "link" {
		n = len(t.Spans[i].Links)
	}
	out := make([]bool, n)
	for k := range out {
		out[k] = eval(f.Cond, t, i, k).truthy()
	}
	return out
}

// readsScope reports whether e reads a field of the event or link scope.
func readsScope(e Expr, scope string) bool {
	switch x := e.(type) {
	case *Attribute:
		return elemScope(x) == scope
	case *Binary:
		return readsScope(x.L, scope) || readsScope(x.R, scope)
	case *Unary:
		return readsScope(x.X, scope)
	}
	return false
}

// MatchSpan reports whether span i of t passes the condition of a query
// that is one spanset filter (see FirstFilter); trace-level fields
// (rootServiceName, traceDuration, parent. ...) are read from t, which
// must then be the span's whole trace.
func (q *Query) MatchSpan(t *Trace, i int) bool {
	f, ok := q.Root.(*Filter)
	return ok && (f.Cond == nil || eval(f.Cond, t, i, -1).truthy())
}

// TraceLevel returns a field of q's conditions that is not the span's
// own (trace-level intrinsics, parent., nested sets, span:childCount),
// or nil: what a filter of one span at a time cannot answer.
func TraceLevel(q *Query) *Attribute {
	var found *Attribute
	var walk func(Expr)
	walk = func(e Expr) {
		switch x := e.(type) {
		case *Attribute:
			switch {
			case x.Scope == "parent", x.Intrinsic >= IRootName && x.Intrinsic <= ITraceID,
				x.Intrinsic >= INestedSetParent && x.Intrinsic <= IChildCount:
				if found == nil {
					found = x
				}
			}
		case *Binary:
			walk(x.L)
			walk(x.R)
		case *Unary:
			walk(x.X)
		}
	}
	if f, ok := q.Root.(*Filter); ok {
		walk(f.Cond)
	}
	return found
}

// SpanFields are the fields a search returns with each span: the
// attributes the query's conditions read and the select()ed fields, less
// those a span or its trace carries anyway, as Tempo leaves them out
// (pkg/traceql/engine.go, asTraceSearchMetadata): name, duration,
// trace:id, span:id, and the trace's duration, root name and service.
func (q *Query) SpanFields() []Expr {
	var out []Expr
	seen := map[string]bool{}
	add := func(e Expr) {
		if a, ok := e.(*Attribute); ok {
			switch a.Intrinsic {
			case IName, IDuration, ITraceDuration, IRootName, IRootService, ITraceID, ISpanID:
				return
			}
		}
		if !seen[e.String()] {
			seen[e.String()] = true
			out = append(out, e)
		}
	}
	var walkExpr func(Expr)
	walkExpr = func(e Expr) {
		switch x := e.(type) {
		case *Attribute:
			add(x)
		case *Binary:
			walkExpr(x.L)
			walkExpr(x.R)
		case *Unary:
			walkExpr(x.X)
		}
	}
	var walk func(SetExpr)
	walk = func(e SetExpr) {
		switch x := e.(type) {
		case *Filter:
			walkExpr(x.Cond)
		case *SetOp:
			walk(x.L)
			walk(x.R)
		case *Pipeline:
			walk(x.Source)
			for _, s := range x.Stages {
				switch st := s.(type) {
				case *FilterStage:
					walkExpr(st.Cond)
				case *Select:
					for _, f := range st.Fields {
						add(f)
					}
				}
			}
		}
	}
	walk(q.Root)
	return out
}

// EvalField evaluates a field expression on span i of t.
func EvalField(e Expr, t *Trace, i int) Value { return eval(e, t, i, -1) }
