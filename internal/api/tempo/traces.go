package tempo

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/horus-obs/horus/internal/ingest/otlp"
	"github.com/horus-obs/horus/internal/query/traceql"
	"github.com/horus-obs/horus/internal/store/events"
)

// wantsProto reports whether the client asked for protobuf, as Tempo
// decides it: an Accept header naming application/protobuf.
func wantsProto(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/protobuf")
}

func (a *API) fetchTrace(ctx context.Context, tenant string, r *http.Request) (ptrace.Traces, int, error) {
	id, err := parseTraceID(r.PathValue("id"))
	if err != nil {
		return ptrace.Traces{}, 0, err
	}
	if _, _, err := timeRange(r); err != nil {
		return ptrace.Traces{}, 0, err
	}
	spans, err := a.store.Trace(ctx, tenant, id)
	if err != nil {
		return ptrace.Traces{}, 0, err
	}
	return otlp.TracesFromSpans(spans), len(spans), nil
}

// traceV1 answers /api/traces/<id>: tempopb.Trace, whose protobuf is
// OTLP's TracesData; as JSON its resourceSpans are named batches. A trace
// that is not found is a 404.
func (a *API) traceV1(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	td, n, err := a.fetchTrace(ctx, tenant, r)
	if err != nil {
		return err
	}
	if n == 0 {
		http.Error(w, "trace not found", http.StatusNotFound)
		return nil
	}
	if wantsProto(r) {
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write(b)
		return nil
	}
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return err
	}
	b = bytes.Replace(b, []byte(`"resourceSpans"`), []byte(`"batches"`), 1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	return nil
}

// traceV2 answers /api/v2/traces/<id>: tempopb.TraceByIDResponse, with
// the trace as field 1. A trace that is not found is an empty trace, as
// Tempo answers since 2.7. q (with keep_hierarchy, match_depth and
// ancestor_depth) keeps the spans a spanset filter matches, and their
// relatives; the answer is then PARTIAL when spans were dropped.
func (a *API) traceV2(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	filter, err := parseSpanFilter(r)
	if err != nil {
		return err
	}
	id, err := parseTraceID(r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, _, err := timeRange(r); err != nil {
		return err
	}
	spans, err := a.store.Trace(ctx, tenant, id)
	if err != nil {
		return err
	}
	partial := false
	if filter != nil && len(spans) > 0 {
		kept := filter.keep(spans)
		partial = len(kept) < len(spans)
		spans = kept
	}
	td := otlp.TracesFromSpans(spans)
	const filtered = "Trace filtered, only a subset of spans matching the filter is returned"
	if wantsProto(r) {
		tb, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			return err
		}
		b := protowire.AppendTag(nil, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, tb)
		if partial {
			b = protowire.AppendTag(b, 3, protowire.VarintType)
			b = protowire.AppendVarint(b, 1) // PARTIAL
			b = protowire.AppendTag(b, 4, protowire.BytesType)
			b = protowire.AppendString(b, filtered)
		}
		w.Header().Set("Content-Type", "application/protobuf")
		_, _ = w.Write(b)
		return nil
	}
	tb, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"trace":`))
	_, _ = w.Write(tb)
	if partial {
		_, _ = w.Write([]byte(`,"status":"PARTIAL","message":"` + filtered + `"`))
	}
	_, _ = w.Write([]byte(`,"metrics":{}}` + "\n"))
	return nil
}

// spanFilter is the q of a trace-by-id request, as Tempo's API
// documentation describes it ("Query V2"): a single spanset filter, the
// spans it matches kept with match_depth levels of their descendants (-1:
// all) and, with keep_hierarchy, ancestor_depth levels of their ancestors
// (-1, the default: up to the root).
type spanFilter struct {
	query                     *traceql.Query
	keepHierarchy             bool
	matchDepth, ancestorDepth int
}

// parseSpanFilter reads q and its options as Tempo does
// (pkg/api/http.go, ParseTraceByIDFilterParams; pkg/traceql,
// CompileSpansetFilter): an empty q is no filter and its options are not
// read; anything but one { ... } on span fields is a 400.
func parseSpanFilter(r *http.Request) (*spanFilter, error) {
	q := strings.TrimSpace(r.FormValue("q"))
	if q == "" {
		return nil, nil
	}
	f := &spanFilter{ancestorDepth: -1}
	depth := func(name string, dst *int) error {
		v := r.FormValue(name)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return badf("invalid value for %s: %q is not a whole number", name, v)
		}
		if n < -1 {
			return badf("invalid value for %s: must be >= -1", name)
		}
		*dst = n
		return nil
	}
	if v := r.FormValue("keep_hierarchy"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, badf("invalid value for keep_hierarchy: %q is not a bool", v)
		}
		f.keepHierarchy = b
	}
	if err := depth("match_depth", &f.matchDepth); err != nil {
		return nil, err
	}
	if f.keepHierarchy {
		if err := depth("ancestor_depth", &f.ancestorDepth); err != nil {
			return nil, err
		}
	}
	query, err := traceql.Parse(q)
	if err != nil {
		return nil, badf("invalid TraceQL filter: failed to parse TraceQL spanset filter: %v", err)
	}
	if _, ok := query.Root.(*traceql.Filter); !ok || query.Metrics != nil {
		return nil, badf("invalid TraceQL filter: only a single TraceQL filter is supported: got %s", query)
	}
	if a := traceql.TraceLevel(query); a != nil {
		return nil, badf("invalid TraceQL filter: %s is not supported by this filter (it is not a field of the span)", a)
	}
	f.query = query
	return f, nil
}

// keep returns the spans the filter keeps, in their order.
func (f *spanFilter) keep(spans []events.Event) []events.Event {
	t := traceql.NewTrace(spans)
	keep := make([]bool, len(spans))
	var matched []int
	for _, ss := range f.query.Eval(t) {
		matched = append(matched, ss.Spans...)
	}
	for _, i := range matched {
		keep[i] = true
	}
	if f.matchDepth != 0 {
		children := make([][]int, len(spans))
		for i := range spans {
			if p := t.Parent(i); p >= 0 {
				children[p] = append(children[p], i)
			}
		}
		walk(matched, f.matchDepth, keep, func(i int) []int { return children[i] })
	}
	if f.keepHierarchy {
		walk(matched, f.ancestorDepth, keep, func(i int) []int {
			if p := t.Parent(i); p >= 0 {
				return []int{p}
			}
			return nil
		})
	}
	out := spans[:0:0]
	for i := range spans {
		if keep[i] {
			out = append(out, spans[i])
		}
	}
	return out
}

// walk marks what next reaches from seeds within depth steps (-1: any),
// breadth first, so each span is reached by its shortest path.
func walk(seeds []int, depth int, keep []bool, next func(int) []int) {
	seen := make([]bool, len(keep))
	type step struct{ i, d int }
	queue := make([]step, 0, len(seeds))
	for _, s := range seeds {
		seen[s] = true
		queue = append(queue, step{s, 0})
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if depth >= 0 && cur.d >= depth {
			continue
		}
		for _, n := range next(cur.i) {
			if !seen[n] {
				seen[n] = true
				keep[n] = true
				queue = append(queue, step{n, cur.d + 1})
			}
		}
	}
}
