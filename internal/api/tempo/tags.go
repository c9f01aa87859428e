package tempo

import (
	"cmp"
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/horus-obs/horus/internal/query/traceql"
	"github.com/horus-obs/horus/internal/store/events"
)

// intrinsicTags are the intrinsics Tempo lists in the intrinsic scope
// (grafana/tempo pkg/search/util.go, GetVirtualIntrinsicValues).
var intrinsicTags = []string{"duration", "event:name", "event:timeSinceStart", "instrumentation:name", "instrumentation:version",
	"kind", "link:spanID", "link:traceID", "name", "rootName", "rootServiceName", "span:duration", "span:id", "span:kind", "span:name",
	"span:parentID", "span:status", "span:statusMessage", "status", "statusMessage", "trace:duration",
	"trace:id", "trace:rootName", "trace:rootService", "traceDuration"}

// sample returns the newest spans in the range that pass q's filter
// (see tagFilterOf), with the fields given: tag names and values are
// read from them, as Tempo reads them from recent blocks. A filter on
// trace-level fields (rootServiceName, traceDuration, parent. ...) is
// evaluated on each sampled span's whole trace.
func (a *API) sample(ctx context.Context, tenant string, r *http.Request, fields []string) ([]events.Event, error) {
	start, end, err := timeRange(r)
	if err != nil {
		return nil, err
	}
	filter := tagFilterOf(r)
	var pushed []events.Filter
	if filter != nil {
		pushed = traceql.Pushdown(filter)
		// What the conditions read, beside what is asked for.
		fields = append(slices.Clip(fields), "attrs", "resource", "name", "kind", "status_code", "status_message",
			"duration", "scope_name", "scope_version", "events", "links", "parent_span_id", "trace_id", "span_id")
	}
	evs, _, err := a.store.Select(ctx, events.Query{Tenant: tenant, Kind: events.KindSpan, Start: start, End: end,
		Filters: pushed, Fields: fields, Limit: a.opts.Limits.TagSampleSpans, Newest: true})
	if err != nil || filter == nil {
		return evs, err
	}
	kept := evs[:0:0]
	keep := func(t *traceql.Trace, i int) {
		if !filter.MatchSpan(t, i) {
			return
		}
		e := t.Spans[i]
		// Of a span's events and links, those the conditions on event
		// (link) fields hold for, as Tempo joins them.
		if m := filter.MatchElems(t, i, "event"); m != nil {
			e.Events = nil
			for k, ok := range m {
				if ok {
					e.Events = append(e.Events, t.Spans[i].Events[k])
				}
			}
		}
		if m := filter.MatchElems(t, i, "link"); m != nil {
			e.Links = nil
			for k, ok := range m {
				if ok {
					e.Links = append(e.Links, t.Spans[i].Links[k])
				}
			}
		}
		kept = append(kept, e)
	}
	if traceql.TraceLevel(filter) == nil {
		t := traceql.NewTrace(evs) // spans of many traces: only span fields are read
		for i := range evs {
			keep(t, i)
		}
		return kept, nil
	}
	// Trace-level conditions: each span is judged within its whole trace.
	sampled := map[events.TraceID]map[events.SpanID]bool{}
	var ids []events.TraceID
	for i := range evs {
		m := sampled[evs[i].TraceID]
		if m == nil {
			m = map[events.SpanID]bool{}
			sampled[evs[i].TraceID] = m
			ids = append(ids, evs[i].TraceID)
		}
		m[evs[i].SpanID] = true
	}
	err = a.eachTrace(ctx, tenant, ids, func(t *traceql.Trace) bool {
		for i := range t.Spans {
			if sampled[t.ID][t.Spans[i].SpanID] {
				keep(t, i)
			}
		}
		return true
	})
	return kept, err
}

// eachTrace fetches the traces ids whole, a batch at a time, and gives
// each to fn until it returns false.
func (a *API) eachTrace(ctx context.Context, tenant string, ids []events.TraceID, fn func(*traceql.Trace) bool) error {
	const batch = 64
	for len(ids) > 0 {
		n := min(len(ids), batch)
		traces, err := a.store.Traces(ctx, tenant, ids[:n])
		if err != nil {
			return err
		}
		for _, id := range ids[:n] {
			if spans := traces[id]; len(spans) > 0 && !fn(traceql.NewTrace(spans)) {
				return nil
			}
		}
		ids = ids[n:]
	}
	return nil
}

// tagFilterOf reads the q parameter of tag requests as Tempo 3 does: a
// TraceQL query, possibly unfinished as typed in an editor ({ .cluster = );
// what does not parse does not narrow the spans, as in Tempo, and
// neither does a query that starts with a spanset operation. Otherwise
// the spans kept are those its first spanset filter matches, whatever
// its conditions (&&, ||, !, trace-level fields): see
// traceql.Query.FirstFilter. Tempo's autocompletion reads the same
// conditions per span, resource, event and link; it ignores a q with
// an unscoped attribute (.foo), which Horus applies.
func tagFilterOf(r *http.Request) *traceql.Query {
	q := r.FormValue("q")
	if q == "" {
		return nil
	}
	parsed, err := traceql.Parse(q)
	if err != nil {
		return nil
	}
	return parsed.FirstFilter()
}

// tagNames returns the attribute names in the sample by scope: span and
// resource, and event and link when events (links) asks for them.
func (a *API) tagNames(ctx context.Context, tenant string, r *http.Request, nested bool) (map[string]map[string]bool, error) {
	fields := []string{"attrs", "resource"}
	if nested {
		fields = append(fields, "events", "links")
	}
	evs, err := a.sample(ctx, tenant, r, fields)
	if err != nil {
		return nil, err
	}
	names := map[string]map[string]bool{"span": {}, "resource": {}, "event": {}, "link": {}}
	add := func(scope string, attrs events.Attrs) {
		for _, at := range attrs {
			names[scope][at.Key] = true
		}
	}
	for i := range evs {
		add("span", evs[i].Attrs)
		add("resource", evs[i].Resource)
		for _, ev := range evs[i].Events {
			add("event", ev.Attrs)
		}
		for _, l := range evs[i].Links {
			add("link", l.Attrs)
		}
	}
	return names, nil
}

// tagParams reads the parameters of tag requests as Tempo does: limit
// (the most names per scope or values; 0 or none: all) and
// maxStaleValues (checked, then unused: Horus reads a bounded sample, see
// query.tempo.tag_sample_spans); a bad number is a 400.
func tagParams(r *http.Request) (limit int, err error) {
	for _, name := range []string{"limit", "maxStaleValues"} {
		v := r.FormValue(name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, badf("invalid %s: %q is not a whole number", name, v)
		}
		if name == "limit" {
			limit = int(n)
		}
	}
	return limit, nil
}

func sortedKeys(m map[string]bool, limit int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// tagScopes are the scopes of Tempo's tag endpoints' scope parameter.
var tagScopes = []string{"span", "resource", "event", "link", "instrumentation", "intrinsic"}

// scopedTags answers the tag endpoints: the names of each scope asked for
// (scope=, all by default), the scopes of attributes that have none left
// out unless asked for. Instrumentation scope attributes are not stored:
// that scope has no names.
func (a *API) scopedTags(ctx context.Context, tenant string, r *http.Request) ([]scopeTags, error) {
	scope := r.FormValue("scope")
	switch {
	case scope == "trace":
		// A scope Tempo takes (pkg/traceql/enum_attributes.go,
		// AttributeScopeFromString) and has no attribute names for.
		if _, err := tagParams(r); err != nil {
			return nil, err
		}
		return []scopeTags{}, nil
	case scope != "" && scope != "none" && scope != "all" && !slices.Contains(tagScopes, scope):
		return nil, badf("invalid scope: %s (want one of %s)", scope, strings.Join(tagScopes, ", "))
	}
	limit, err := tagParams(r)
	if err != nil {
		return nil, err
	}
	all := scope == "" || scope == "none" || scope == "all"
	var names map[string]map[string]bool
	if scope != "intrinsic" {
		if names, err = a.tagNames(ctx, tenant, r, all || scope == "event" || scope == "link"); err != nil {
			return nil, err
		}
	}
	scopes := []scopeTags{}
	for _, sc := range tagScopes {
		switch {
		case !all && sc != scope:
		case sc == "intrinsic":
			scopes = append(scopes, scopeTags{sc, sortedKeys(setOf(intrinsicTags), limit)})
		case all && len(names[sc]) == 0 && sc != "span" && sc != "resource":
		default:
			scopes = append(scopes, scopeTags{sc, sortedKeys(names[sc], limit)})
		}
	}
	return scopes, nil
}

func setOf(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, k := range s {
		m[k] = true
	}
	return m
}

// tagsV1 answers /api/search/tags: the names of every scope asked for in
// one list (span and resource by default, as Tempo's v1 answers).
func (a *API) tagsV1(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	scopes, err := a.scopedTags(ctx, tenant, r)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, sc := range scopes {
		if sc.Name == "intrinsic" && r.FormValue("scope") != "intrinsic" {
			continue
		}
		maps.Copy(seen, setOf(sc.Tags))
	}
	limit, _ := tagParams(r)
	writeJSON(w, map[string]any{"tagNames": sortedKeys(seen, limit)})
	return nil
}

type scopeTags struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// tagsV2 answers /api/v2/search/tags: names by scope (span, resource,
// event, link, instrumentation, intrinsic), optionally one scope.
func (a *API) tagsV2(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	scopes, err := a.scopedTags(ctx, tenant, r)
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{"scopes": scopes})
	return nil
}

type typedValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// keywordValues are the values of status and kind, in the order Tempo
// lists them (pkg/search/util.go, GetVirtualTagValuesV2).
var keywordValues = map[traceql.Intrinsic][]string{
	traceql.IStatus: {"ok", "error", "unset"},
	traceql.IKind:   {"client", "server", "producer", "consumer", "internal", "unspecified"},
}

// tagValues collects the distinct values of a field over the sample.
func (a *API) tagValues(ctx context.Context, tenant string, r *http.Request, field traceql.Expr) ([]typedValue, error) {
	limit, err := tagParams(r)
	if err != nil {
		return nil, err
	}
	attr, _ := field.(*traceql.Attribute)
	var fields []string
	switch {
	case attr == nil:
		return []typedValue{}, nil
	case keywordValues[attr.Intrinsic] != nil:
		var out []typedValue
		for _, v := range keywordValues[attr.Intrinsic] {
			out = append(out, typedValue{"keyword", v})
		}
		return out, nil
	case attr.Intrinsic == traceql.IName:
		fields = []string{"name"}
	case attr.Intrinsic == traceql.IStatusMessage:
		fields = []string{"status_message"}
	case attr.Intrinsic == traceql.IScopeName || attr.Intrinsic == traceql.IScopeVersion:
		fields = []string{"scope_name"}
	case attr.Intrinsic == traceql.IEventName:
		fields = []string{"events"}
	case attr.Intrinsic == traceql.IRootName:
		// The names of the root spans in the sample.
		field, fields = &traceql.Attribute{Name: "name", Intrinsic: traceql.IName}, []string{"name", "parent_span_id", "trace_id"}
	case attr.Intrinsic == traceql.IRootService:
		field, fields = &traceql.Attribute{Scope: "resource", Name: "service.name"}, []string{"resource", "parent_span_id", "trace_id"}
	case attr.Intrinsic != traceql.INone:
		return []typedValue{}, nil // durations and ids: not enumerable
	case attr.Scope == "span":
		fields = []string{"attrs"}
	case attr.Scope == "resource":
		fields = []string{"resource"}
	case attr.Scope == "":
		fields = []string{"attrs", "resource"}
	default:
		fields = []string{"events", "links"}
	}
	evs, err := a.sample(ctx, tenant, r, fields)
	if err != nil {
		return nil, err
	}
	roots := attr.Intrinsic == traceql.IRootName || attr.Intrinsic == traceql.IRootService
	t := traceql.NewTrace(evs) // spans of many traces: only span fields are read
	seen := map[typedValue]bool{}
	var out []typedValue
	add := func(v traceql.Value) {
		tv := typedValue{v.T.String(), v.Text()}
		if v.T != traceql.TNil && !seen[tv] {
			seen[tv] = true
			out = append(out, tv)
		}
	}
	for i := range evs {
		if roots && !evs[i].ParentSpanID.IsZero() {
			continue
		}
		for _, v := range traceql.FieldValues(field, t, i) {
			if v.T == traceql.TArray {
				// An array's values are its elements, as Tempo lists them.
				for _, e := range v.Elements() {
					add(e)
				}
				continue
			}
			add(v)
		}
		if limit > 0 && len(out) >= limit {
			out = out[:limit]
			break
		}
	}
	if roots && (limit == 0 || len(out) < limit) {
		// A trace whose root span never arrived has "" as its root name
		// and service, which Tempo lists among their values.
		rootless, err := a.rootless(ctx, tenant, evs)
		if err != nil {
			return nil, err
		}
		if rootless {
			add(traceql.StrV(""))
		}
	}
	slices.SortFunc(out, func(a, b typedValue) int {
		return cmp.Or(strings.Compare(a.Value, b.Value), strings.Compare(a.Type, b.Type))
	})
	if out == nil {
		out = []typedValue{}
	}
	return out, nil
}

// maxRootChecks bounds the traces rootless fetches.
const maxRootChecks = 64

// rootless reports whether a trace of the sampled spans has no root span:
// of the traces with no root in the sample, the first maxRootChecks are
// fetched whole and looked at (the root of the others may have started
// before the range or been left out of the sample).
func (a *API) rootless(ctx context.Context, tenant string, evs []events.Event) (bool, error) {
	hasRoot := map[events.TraceID]bool{}
	for i := range evs {
		if evs[i].ParentSpanID.IsZero() {
			hasRoot[evs[i].TraceID] = true
		}
	}
	var ids []events.TraceID
	for i := range evs {
		if id := evs[i].TraceID; !hasRoot[id] && len(ids) < maxRootChecks {
			hasRoot[id] = true // once
			ids = append(ids, id)
		}
	}
	found := false
	err := a.eachTrace(ctx, tenant, ids, func(t *traceql.Trace) bool {
		found = t.Root < 0
		return !found
	})
	return found, err
}

// tagValuesV1 answers /api/search/tag/<tag>/values: a bare attribute name
// looked up in span then resource attributes, values as text.
func (a *API) tagValuesV1(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	var field traceql.Expr
	// Tempo's v1 names (tempodb/encoding/vparquet4/block_search_tags.go,
	// translateTagToAttribute and nonTraceQLAttributes).
	switch tag {
	case "status.code":
		field = &traceql.Attribute{Name: "status", Intrinsic: traceql.IStatus}
	case "name":
		field = &traceql.Attribute{Name: "name", Intrinsic: traceql.IName}
	case "rootServiceName", "root.service.name":
		field = &traceql.Attribute{Name: "rootServiceName", Intrinsic: traceql.IRootService}
	case "rootName", "root.name":
		field = &traceql.Attribute{Name: "rootName", Intrinsic: traceql.IRootName}
	default:
		field = &traceql.Attribute{Name: tag}
	}
	vals, err := a.tagValues(ctx, tenant, r, field)
	if err != nil {
		return err
	}
	// Tempo's virtual values first (pkg/search/util.go,
	// GetVirtualTagValues; modules/querier SearchTagValues), then those
	// read.
	out := map[string][]string{"status.code": {"unset", "ok", "error"}, "error": {"true"}}[tag]
	out = slices.Clip(out)
	for _, v := range vals {
		if !slices.Contains(out, v.Value) {
			out = append(out, v.Value)
		}
	}
	if out == nil {
		out = []string{}
	}
	writeJSON(w, map[string]any{"tagValues": out})
	return nil
}

// tagValuesV2 answers /api/v2/search/tag/<tag>/values: a TraceQL field
// (span.http.method, .foo, resource.service.name, name, status), typed
// values.
func (a *API) tagValuesV2(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	field, err := traceql.ParseExpr(tag)
	if _, ok := field.(*traceql.Attribute); err != nil || !ok {
		return badf("please provide a valid tagName: %q is not an attribute (span.x, resource.x, .x) or an intrinsic", tag)
	}
	vals, err := a.tagValues(ctx, tenant, r, field)
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{"tagValues": vals})
	return nil
}
