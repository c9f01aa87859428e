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

// intrinsicTags are the intrinsics Tempo lists in the intrinsic scope.
var intrinsicTags = []string{"duration", "event:name", "instrumentation:name", "instrumentation:version",
	"kind", "name", "rootName", "rootServiceName", "span:duration", "span:id", "span:kind", "span:name",
	"span:parentID", "span:status", "span:statusMessage", "status", "statusMessage", "trace:duration",
	"trace:id", "trace:rootName", "trace:rootService", "traceDuration"}

// sample returns the newest spans in the request's range that pass the
// filters, with the fields given: tag names and values are read from
// them, as Tempo reads them from recent blocks.
func (a *API) sample(ctx context.Context, tenant string, r *http.Request, filters []events.Filter, fields []string) ([]events.Event, error) {
	start, end, err := timeRange(r)
	if err != nil {
		return nil, err
	}
	evs, _, err := a.store.Select(ctx, events.Query{Tenant: tenant, Kind: events.KindSpan, Start: start, End: end,
		Filters: filters, Fields: fields, Limit: a.opts.TagSample, Newest: true})
	return evs, err
}

// queryFilters reads the q parameter of tag requests: a TraceQL query,
// possibly unfinished as typed in an editor ({ .cluster = ); only what
// parses narrows the spans.
func queryFilters(r *http.Request) []events.Filter {
	q := r.FormValue("q")
	if q == "" {
		return nil
	}
	parsed, err := traceql.Parse(q)
	if err != nil {
		return nil
	}
	return traceql.Pushdown(parsed)
}

// tagNames returns the span and resource attribute names in the sample.
func (a *API) tagNames(ctx context.Context, tenant string, r *http.Request) (span, resource map[string]bool, err error) {
	evs, err := a.sample(ctx, tenant, r, queryFilters(r), []string{"attrs", "resource"})
	if err != nil {
		return nil, nil, err
	}
	sk, rk := map[string]bool{}, map[string]bool{}
	for i := range evs {
		for _, at := range evs[i].Attrs {
			sk[at.Key] = true
		}
		for _, at := range evs[i].Resource {
			rk[at.Key] = true
		}
	}
	return sk, rk, nil
}

func limitParam(r *http.Request) int {
	if n, err := strconv.Atoi(r.FormValue("limit")); err == nil && n > 0 {
		return n
	}
	return 0
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

// tagsV1 answers /api/search/tags: span and resource attribute names.
func (a *API) tagsV1(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	span, res, err := a.tagNames(ctx, tenant, r)
	if err != nil {
		return err
	}
	maps.Copy(span, res)
	writeJSON(w, map[string]any{"tagNames": sortedKeys(span, limitParam(r))})
	return nil
}

type scopeTags struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// tagsV2 answers /api/v2/search/tags: names by scope (span, resource,
// intrinsic), optionally one scope.
func (a *API) tagsV2(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	scope := r.FormValue("scope")
	switch scope {
	case "", "span", "resource", "intrinsic", "event", "link", "instrumentation":
	default:
		return badf("invalid scope: %s", scope)
	}
	var scopes []scopeTags
	if scope != "intrinsic" {
		span, res, err := a.tagNames(ctx, tenant, r)
		if err != nil {
			return err
		}
		if scope == "" || scope == "span" {
			scopes = append(scopes, scopeTags{"span", sortedKeys(span, limitParam(r))})
		}
		if scope == "" || scope == "resource" {
			scopes = append(scopes, scopeTags{"resource", sortedKeys(res, limitParam(r))})
		}
	}
	if scope == "" || scope == "intrinsic" {
		scopes = append(scopes, scopeTags{"intrinsic", intrinsicTags})
	}
	if scopes == nil {
		scopes = []scopeTags{}
	}
	writeJSON(w, map[string]any{"scopes": scopes})
	return nil
}

type typedValue struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

var keywordValues = map[traceql.Intrinsic][]string{
	traceql.IStatus: {"error", "ok", "unset"},
	traceql.IKind:   {"client", "consumer", "internal", "producer", "server", "unspecified"},
}

// tagValues collects the distinct values of a field over the sample.
func (a *API) tagValues(ctx context.Context, tenant string, r *http.Request, field traceql.Expr) ([]typedValue, error) {
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
	case attr.Intrinsic == traceql.IRootName:
		// The names of the root spans in the sample.
		field, fields = &traceql.Attribute{Name: "name", Intrinsic: traceql.IName}, []string{"name", "parent_span_id"}
	case attr.Intrinsic == traceql.IRootService:
		field, fields = &traceql.Attribute{Scope: "resource", Name: "service.name"}, []string{"resource", "parent_span_id"}
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
	evs, err := a.sample(ctx, tenant, r, queryFilters(r), fields)
	if err != nil {
		return nil, err
	}
	roots := attr.Intrinsic == traceql.IRootName || attr.Intrinsic == traceql.IRootService
	t := traceql.NewTrace(evs) // spans of many traces: only span fields are read
	seen := map[typedValue]bool{}
	limit := limitParam(r)
	var out []typedValue
	for i := range evs {
		if roots && !evs[i].ParentSpanID.IsZero() {
			continue
		}
		for _, v := range traceql.FieldValues(field, t, i) {
			tv := typedValue{v.T.String(), v.Text()}
			if v.T != traceql.TNil && !seen[tv] {
				seen[tv] = true
				out = append(out, tv)
			}
		}
		if limit > 0 && len(out) >= limit {
			out = out[:limit]
			break
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

// tagValuesV1 answers /api/search/tag/<tag>/values: a bare attribute name
// looked up in span then resource attributes, values as text.
func (a *API) tagValuesV1(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	tag := r.PathValue("tag")
	var field traceql.Expr
	switch tag {
	case "status.code":
		field = &traceql.Attribute{Name: "status", Intrinsic: traceql.IStatus}
	case "name":
		field = &traceql.Attribute{Name: "name", Intrinsic: traceql.IName}
	default:
		field = &traceql.Attribute{Name: tag}
	}
	vals, err := a.tagValues(ctx, tenant, r, field)
	if err != nil {
		return err
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = v.Value
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
