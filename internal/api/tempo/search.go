package tempo

import (
	"cmp"
	"context"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/regexp"

	"github.com/horus-obs/horus/internal/query/traceql"
)

// Search results in tempopb's JSON shape.
type searchResponse struct {
	Traces  []traceMeta   `json:"traces"`
	Metrics searchMetrics `json:"metrics"`
}

type searchMetrics struct {
	InspectedTraces uint32 `json:"inspectedTraces,omitempty"`
	InspectedBytes  string `json:"inspectedBytes,omitempty"`
	TotalBlocks     uint32 `json:"totalBlocks,omitempty"`
	CompletedJobs   uint32 `json:"completedJobs,omitempty"`
	TotalJobs       uint32 `json:"totalJobs,omitempty"`
}

type traceMeta struct {
	TraceID           string    `json:"traceID"`
	RootServiceName   string    `json:"rootServiceName,omitempty"`
	RootTraceName     string    `json:"rootTraceName,omitempty"`
	StartTimeUnixNano string    `json:"startTimeUnixNano,omitempty"`
	DurationMs        uint32    `json:"durationMs,omitempty"`
	SpanSet           *spanSet  `json:"spanSet,omitempty"`
	SpanSets          []spanSet `json:"spanSets,omitempty"`
	// ServiceStats counts the trace's spans and error spans by service,
	// as Tempo's TraceSearchMetadata does (the UI's span count and errors).
	ServiceStats map[string]serviceStats `json:"serviceStats,omitempty"`
}

type serviceStats struct {
	SpanCount  uint32 `json:"spanCount"`
	ErrorCount uint32 `json:"errorCount,omitempty"`
}

type spanSet struct {
	Spans      []span     `json:"spans,omitempty"`
	Matched    uint32     `json:"matched,omitempty"`
	Attributes []keyValue `json:"attributes,omitempty"`
}

type span struct {
	SpanID            string     `json:"spanID"`
	Name              string     `json:"name,omitempty"`
	StartTimeUnixNano string     `json:"startTimeUnixNano,omitempty"`
	DurationNanos     string     `json:"durationNanos,omitempty"`
	Attributes        []keyValue `json:"attributes,omitempty"`
}

type keyValue struct {
	Key   string   `json:"key"`
	Value anyValue `json:"value"`
}

// anyValue is an OTLP AnyValue in tempopb's JSON.
type anyValue struct {
	StringValue *string     `json:"stringValue,omitempty"`
	IntValue    *string     `json:"intValue,omitempty"`
	DoubleValue *float64    `json:"doubleValue,omitempty"`
	BoolValue   *bool       `json:"boolValue,omitempty"`
	ArrayValue  *arrayValue `json:"arrayValue,omitempty"`
}

type arrayValue struct {
	Values []anyValue `json:"values"`
}

// toAny renders a TraceQL value as Tempo does (pkg/traceql/engine.go,
// Static.AsAnyValue): durations, status and kind as text, nil as "nil",
// arrays as arrayValue.
func toAny(v traceql.Value) anyValue {
	switch v.T {
	case traceql.TArray:
		elems := v.Elements()
		arr := &arrayValue{Values: make([]anyValue, len(elems))}
		for i, e := range elems {
			arr.Values[i] = toAny(e)
		}
		return anyValue{ArrayValue: arr}
	case traceql.TInt:
		s := strconv.FormatInt(v.I, 10)
		return anyValue{IntValue: &s}
	case traceql.TFloat:
		f := v.F
		return anyValue{DoubleValue: &f}
	case traceql.TBool:
		b := v.I != 0
		return anyValue{BoolValue: &b}
	}
	s := v.Text()
	return anyValue{StringValue: &s}
}

func nonZero(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// search answers /api/search: a TraceQL query (q), or legacy tags with
// minDuration and maxDuration, over start..end. limit and spss are
// bounded as Tempo bounds them (query.tempo: a larger value is a 400).
func (a *API) search(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	lim := a.opts.Limits
	req := traceql.SearchRequest{Tenant: tenant, Limit: lim.DefaultResultLimit}
	q, tags := r.FormValue("q"), r.FormValue("tags")
	if q != "" && tags != "" {
		return badf("invalid request: can't specify tags and q in the same query")
	}
	if q == "" {
		var err error
		if q, err = tagsQuery(tags); err != nil {
			return err
		}
	}
	query, err := traceql.Parse(q)
	if err != nil {
		return badf("invalid TraceQL query: %v", err)
	}
	if query.Metrics != nil {
		return badf("invalid TraceQL query: %s() is a metrics function; use /api/metrics/query_range", query.Metrics.Func)
	}
	req.Query = query
	if v := r.FormValue("limit"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return badf("invalid limit: %q is not a whole number", v)
		}
		if n == 0 {
			return badf("invalid limit: must be a positive number")
		}
		if lim.MaxResultLimit > 0 && n > uint64(lim.MaxResultLimit) {
			return badf("limit %d exceeds max limit %d (query.tempo.max_result_limit)", n, lim.MaxResultLimit)
		}
		req.Limit = int(n)
	}
	spss := lim.DefaultSpansPerSpanSet
	if v := r.FormValue("spss"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return badf("invalid spss: %q is not a whole number", v)
		}
		if lim.MaxSpansPerSpanSet > 0 && n > uint64(lim.MaxSpansPerSpanSet) {
			return badf("spans per span set exceeds %d. received %d (query.tempo.max_spans_per_span_set)", lim.MaxSpansPerSpanSet, n)
		}
		if n > 0 {
			spss = int(n)
		}
	}
	if spss == 0 {
		spss = math.MaxInt // every matched span
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"minDuration", &req.MinDuration}, {"maxDuration", &req.MaxDuration}} {
		if v := r.FormValue(p.name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return badf("invalid %s: %q is not a duration", p.name, v)
			}
			*p.dst = int64(d)
		}
	}
	if req.MaxDuration > 0 && req.MaxDuration < req.MinDuration {
		return badf("invalid maxDuration: must be greater than minDuration")
	}
	if req.Start, req.End, err = timeRange(r); err != nil {
		return err
	}
	// Tempo bounds end - start in seconds (start and end are unix seconds;
	// the range timeRange returns ends a second after end).
	if maxRange := time.Duration(lim.MaxDuration); maxRange > 0 && req.Start != 0 && req.End != 0 && time.Duration(req.End-int64(time.Second)-req.Start) > maxRange {
		return badf("range specified by start and end exceeds %s. received start=%s end=%s (query.tempo.max_duration)",
			maxRange, r.FormValue("start"), r.FormValue("end"))
	}

	fields := query.SpanFields()
	out := searchResponse{Traces: []traceMeta{}}
	req.Each = func(tr traceql.TraceResult) error {
		t := tr.Trace
		m := traceMeta{
			TraceID:           traceIDString(t.ID),
			RootServiceName:   t.RootService(),
			RootTraceName:     t.RootName(),
			StartTimeUnixNano: nonZero(t.Start),
			DurationMs:        uint32((t.End - t.Start) / int64(time.Millisecond)),
		}
		if len(t.Spans) > 0 {
			m.ServiceStats = map[string]serviceStats{}
			for i := range t.Spans {
				st := m.ServiceStats[t.Spans[i].Service]
				st.SpanCount++
				if t.Spans[i].StatusCode == 2 {
					st.ErrorCount++
				}
				m.ServiceStats[t.Spans[i].Service] = st
			}
		}
		for _, ss := range tr.Spansets {
			m.SpanSets = append(m.SpanSets, renderSpanset(t, ss, fields, spss))
		}
		if len(m.SpanSets) > 0 {
			m.SpanSet = &m.SpanSets[0]
		}
		out.Traces = append(out.Traces, m)
		return nil
	}
	_, st, err := traceql.Search(ctx, a.store, req)
	if err != nil {
		return err
	}
	out.Metrics = searchMetrics{InspectedTraces: uint32(st.InspectedTraces), TotalBlocks: uint32(st.Units), CompletedJobs: 1, TotalJobs: 1}
	writeJSON(w, out)
	return nil
}

func renderSpanset(t *traceql.Trace, ss traceql.Spanset, fields []traceql.Expr, spss int) spanSet {
	idx := slices.Clone(ss.Spans)
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(t.Spans[a].Time, t.Spans[b].Time) })
	out := spanSet{Matched: uint32(len(idx))}
	for _, kv := range ss.Attrs {
		out.Attributes = append(out.Attributes, keyValue{Key: kv.Key, Value: toAny(kv.Value)})
	}
	for _, i := range idx[:min(len(idx), spss)] {
		e := &t.Spans[i]
		s := span{SpanID: e.SpanID.String(), Name: e.Name, StartTimeUnixNano: nonZero(e.Time), DurationNanos: nonZero(e.Duration)}
		for _, f := range fields {
			v := traceql.EvalField(f, t, i)
			if v.T == traceql.TNil {
				continue
			}
			s.Attributes = append(s.Attributes, keyValue{Key: fieldKey(f), Value: toAny(v)})
		}
		out.Spans = append(out.Spans, s)
	}
	return out
}

// fieldKey names a field in search results as Tempo does: attributes by
// their name without scope, intrinsics by name.
func fieldKey(e traceql.Expr) string {
	if a, ok := e.(*traceql.Attribute); ok {
		if a.Intrinsic != traceql.INone {
			return a.Intrinsic.String()
		}
		return a.Name
	}
	return e.String()
}

// tagsQuery turns legacy search tags (logfmt: service.name=api
// http.status_code=500) into TraceQL as Tempo evaluates them
// (tempodb/encoding/vparquet4/block_search.go, makePipelineWithRowGroups):
// each tag may be met by a different span of the trace; the well-known
// columns (service.name, name, http.method, http.url, the Kubernetes
// ones, root.name, root.service.name) match a substring of the value,
// case-sensitively; http.status_code an int; status.code a status
// (unknown names are unset, as in Tempo); any other key a span or
// resource attribute equal to the value.
func tagsQuery(tags string) (string, error) {
	kvs, err := parseLogfmt(tags)
	if err != nil {
		return "", badf("invalid tags: %v", err)
	}
	var conds []string
	seen := map[string]bool{}
	for _, kv := range kvs {
		if seen[kv[0]] {
			return "", badf("invalid tags: tag %s has been set twice", kv[0])
		}
		seen[kv[0]] = true
		k, v := kv[0], kv[1]
		substring := strconv.Quote(".*" + regexp.QuoteMeta(v) + ".*")
		var cond string
		switch {
		case substringTags[k] != "":
			cond = substringTags[k] + " =~ " + substring
		case k == "http.status_code" && isInt(v):
			cond = "span.http.status_code = " + v
		case k == "status.code":
			switch v {
			case "ok", "error":
			default:
				v = "unset"
			}
			cond = "status = " + v
		case k == "error" && v == "true":
			cond = "status = error" // Zipkin's and Jaeger's error tag, which ingest makes the status
		default:
			cond = "." + quoteName(k) + " = " + strconv.Quote(v)
		}
		conds = append(conds, "{ "+cond+" }")
	}
	if len(conds) == 0 {
		return "{}", nil
	}
	slices.Sort(conds) // logfmt order does not matter; a stable query
	return strings.Join(conds, " && "), nil
}

// substringTags are the legacy search tags Tempo keeps in columns of their
// own and matches by substring, with the TraceQL field each is.
var substringTags = map[string]string{
	"service.name": "resource.service.name", "name": "name", "http.method": "span.http.method",
	"http.url": "span.http.url", "root.name": "rootName", "root.service.name": "rootServiceName",
	"cluster": "resource.cluster", "namespace": "resource.namespace", "pod": "resource.pod",
	"container": "resource.container", "k8s.cluster.name": "resource.k8s.cluster.name",
	"k8s.namespace.name": "resource.k8s.namespace.name", "k8s.pod.name": "resource.k8s.pod.name",
	"k8s.container.name": "resource.k8s.container.name",
}

func isInt(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func quoteName(k string) string {
	if strings.ContainsAny(k, " \t{}()=~!<>&|^,\"") || k == "" || k[0] >= '0' && k[0] <= '9' {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k) + `"`
	}
	return k
}

// parseLogfmt reads k=v pairs; values may be double-quoted.
func parseLogfmt(s string) ([][2]string, error) {
	var out [][2]string
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ' ' {
			j++
		}
		key := s[i:j]
		if key == "" {
			return nil, badf("empty key at position %d", i+1)
		}
		if j >= len(s) || s[j] != '=' {
			out = append(out, [2]string{key, ""})
			i = j
			continue
		}
		j++
		var val string
		if j < len(s) && s[j] == '"' {
			k := j + 1
			for k < len(s) && s[k] != '"' {
				if s[k] == '\\' {
					k++
				}
				k++
			}
			if k >= len(s) {
				return nil, badf("unterminated quote in the value of %s", key)
			}
			v, err := strconv.Unquote(s[j : k+1])
			if err != nil {
				return nil, badf("bad quoted value of %s: %v", key, err)
			}
			val, j = v, k+1
		} else {
			k := j
			for k < len(s) && s[k] != ' ' {
				k++
			}
			val, j = s[j:k], k
		}
		out = append(out, [2]string{key, val})
		i = j
	}
}
