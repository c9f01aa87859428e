package tempo

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
)

// The Tempo API over a real event store and a real HTTP server on
// 127.0.0.1, with the kinds of data issue 22 compared against Tempo 3.0.3:
// services, events, links, a float attribute, a root-less trace and a
// trace id with a leading zero.

// fixtureStart is when the fixture's traces start.
var fixtureStart = time.Now().Add(-10 * time.Minute).Truncate(time.Minute)

// fixture is the traces of a small shop:
//
//	t1 (id 0f…, leading zero): api-gateway GET /checkout > orders POST /orders
//	   (span.order.total 7.5) > bank POST /pay (event exception
//	   exception.message, attempt 2; event retry backoff.ms; status error)
//	t2: api-gateway GET /cart > notifications send email (link to t1 with
//	   link.kind "follows")
//	t3: a worker's spans whose root never arrived (service worker)
func fixture() [][]events.Event {
	t0 := fixtureStart.UnixNano()
	ms := int64(time.Millisecond)
	id1 := events.TraceID{0x0f, 1}
	id2 := events.TraceID{0x22, 2}
	id3 := events.TraceID{0x33, 3}
	res := func(svc string) events.Attrs { return events.Attrs{{Key: "service.name", Value: events.Str(svc)}} }
	span := func(tid events.TraceID, id, parent byte, svc, name string, kind int32, at int64) events.Event {
		e := events.Event{TraceID: tid, SpanID: events.SpanID{id}, Service: svc, Resource: res(svc), Name: name,
			SpanKind: kind, Time: t0 + at*ms, Duration: 50 * ms}
		if parent != 0 {
			e.ParentSpanID = events.SpanID{parent}
		}
		return e
	}
	a := span(id1, 1, 0, "api-gateway", "GET /checkout", 2, 0)
	b := span(id1, 2, 1, "orders", "POST /orders", 2, 5)
	b.Attrs = events.Attrs{{Key: "order.total", Value: events.Float(7.5)}}
	c := span(id1, 3, 2, "bank", "POST /pay", 2, 10)
	c.StatusCode = 2
	c.Events = []events.SpanEvent{{Time: t0 + 12*ms, Name: "exception", Attrs: events.Attrs{
		{Key: "exception.message", Value: events.Str("card declined")}, {Key: "attempt", Value: events.Int(2)}}},
		{Time: t0 + 14*ms, Name: "retry", Attrs: events.Attrs{{Key: "backoff.ms", Value: events.Int(100)}}}}
	d := span(id2, 4, 0, "api-gateway", "GET /cart", 2, 100)
	e := span(id2, 5, 4, "notifications", "send email", 3, 110)
	e.Links = []events.SpanLink{{TraceID: id1, SpanID: events.SpanID{3}, Attrs: events.Attrs{{Key: "link.kind", Value: events.Str("follows")}}}}
	x := span(id3, 6, 9, "worker", "consume", 5, 200)
	y := span(id3, 7, 6, "worker", "process", 1, 210)
	return [][]events.Event{{a, b, c}, {d, e}, {x, y}}
}

// serve starts the API over a new store holding traces, on 127.0.0.1.
func serve(t *testing.T, traces [][]events.Event) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := events.Open(t.TempDir(), logger, events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for _, tr := range traces {
		if err := st.Append(context.Background(), "default", events.KindSpan, tr); err != nil {
			t.Fatal(err)
		}
	}
	st.Maintain(context.Background(), true) // into blocks, as most data is
	mux := http.NewServeMux()
	New(st, logger, Options{Timeout: 10 * time.Second}).Register(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// get fetches path with the query parameters kv (name, value...) and
// decodes the JSON answer into out; it returns the status and body.
func get(t *testing.T, base, path string, out any, kv ...string) (int, string) {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path+"?"+v.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, body)
		}
	}
	return resp.StatusCode, string(body)
}

// tagValuesOf returns the values of /api/v2/search/tag/<tag>/values as
// "type:value", sorted.
func tagValuesOf(t *testing.T, base, tag string, kv ...string) []string {
	t.Helper()
	var out struct {
		TagValues []typedValue `json:"tagValues"`
	}
	if code, body := get(t, base, "/api/v2/search/tag/"+tag+"/values", &out, kv...); code != http.StatusOK {
		t.Fatalf("%s values: %d %s", tag, code, body)
	}
	var vals []string
	for _, v := range out.TagValues {
		vals = append(vals, v.Type+":"+v.Value)
	}
	slices.Sort(vals)
	return vals
}

// scopesOf returns /api/v2/search/tags as scope → names.
func scopesOf(t *testing.T, base string, kv ...string) map[string][]string {
	t.Helper()
	var out struct {
		Scopes []scopeTags `json:"scopes"`
	}
	if code, body := get(t, base, "/api/v2/search/tags", &out, kv...); code != http.StatusOK {
		t.Fatalf("tags: %d %s", code, body)
	}
	m := map[string][]string{}
	for _, s := range out.Scopes {
		m[s.Name] = s.Tags
	}
	return m
}

// TestTagScopes: event and link attribute names are in their scopes of
// /api/v2/search/tags and in /api/search/tags, and the intrinsics are
// Tempo 3's list (grafana/tempo pkg/search/util.go,
// GetVirtualIntrinsicValues).
func TestTagScopes(t *testing.T) {
	base := serve(t, fixture())
	scopes := scopesOf(t, base)
	for scope, want := range map[string][]string{
		"span": {"order.total"}, "resource": {"service.name"}, "event": {"attempt", "backoff.ms", "exception.message"}, "link": {"link.kind"},
	} {
		if !slices.Equal(scopes[scope], want) {
			t.Errorf("scope %s: %v, want %v", scope, scopes[scope], want)
		}
	}
	for _, name := range []string{"event:name", "event:timeSinceStart", "link:spanID", "link:traceID", "trace:id", "span:parentID", "instrumentation:version"} {
		if !slices.Contains(scopes["intrinsic"], name) {
			t.Errorf("intrinsic %s missing: %v", name, scopes["intrinsic"])
		}
	}
	if got := scopesOf(t, base, "scope", "event"); len(got) != 1 || !slices.Equal(got["event"], []string{"attempt", "backoff.ms", "exception.message"}) {
		t.Errorf("scope=event: %v", got)
	}
	// Tempo's scope names: none is every scope, trace has no names, all
	// is Horus' own synonym of none.
	if got := scopesOf(t, base, "scope", "none"); len(got["intrinsic"]) == 0 || !slices.Equal(got["event"], scopes["event"]) {
		t.Errorf("scope=none: %v, want every scope", got)
	}
	if got := scopesOf(t, base, "scope", "trace"); len(got) != 0 {
		t.Errorf("scope=trace: %v, want none", got)
	}
	if code, body := get(t, base, "/api/v2/search/tags", nil, "scope", "spans"); code != http.StatusBadRequest || !strings.Contains(body, "invalid scope: spans") {
		t.Errorf("scope=spans: %d %s, want Tempo's 400", code, body)
	}
	var v1 struct {
		TagNames []string `json:"tagNames"`
	}
	get(t, base, "/api/search/tags", &v1)
	if want := []string{"attempt", "backoff.ms", "exception.message", "link.kind", "order.total", "service.name"}; !slices.Equal(v1.TagNames, want) {
		t.Errorf("v1 tags: %v, want every attribute scope's names %v", v1.TagNames, want)
	}
	get(t, base, "/api/search/tags", &v1, "scope", "link")
	if want := []string{"link.kind"}; !slices.Equal(v1.TagNames, want) {
		t.Errorf("v1 tags scope=link: %v, want %v", v1.TagNames, want)
	}
	// Keywords and virtual values in Tempo's order (pkg/search/util.go).
	if got := tagValuesOf(t, base, "status"); !slices.Equal(got, []string{"keyword:error", "keyword:ok", "keyword:unset"}) {
		t.Errorf("status values %v", got)
	}
	var kinds struct {
		TagValues []typedValue `json:"tagValues"`
	}
	get(t, base, "/api/v2/search/tag/kind/values", &kinds)
	if len(kinds.TagValues) != 6 || kinds.TagValues[0].Value != "client" || kinds.TagValues[1].Value != "server" {
		t.Errorf("kind values %v, want Tempo's order client, server, producer ...", kinds.TagValues)
	}
	for tag, want := range map[string][]string{"status.code": {"unset", "ok", "error"}, "error": {"true"}} {
		var v1v struct {
			TagValues []string `json:"tagValues"`
		}
		get(t, base, "/api/search/tag/"+tag+"/values", &v1v)
		if !slices.Equal(v1v.TagValues, want) {
			t.Errorf("v1 %s values: %q, want %q", tag, v1v.TagValues, want)
		}
	}
	for _, tag := range []string{"root.service.name", "rootServiceName"} {
		var v1v struct {
			TagValues []string `json:"tagValues"`
		}
		get(t, base, "/api/search/tag/"+tag+"/values", &v1v)
		if want := []string{"", "api-gateway"}; !slices.Equal(v1v.TagValues, want) {
			t.Errorf("v1 %s values: %q, want %q", tag, v1v.TagValues, want)
		}
	}
	for tag, want := range map[string][]string{
		"event:name":              {"string:exception", "string:retry"},
		"event.exception.message": {"string:card declined"},
		"event.attempt":           {"int:2"},
		"link.link.kind":          {"string:follows"},
		"event:timeSinceStart":    nil,
		"resource.service.name":   {"string:api-gateway", "string:bank", "string:notifications", "string:orders", "string:worker"},
		"rootServiceName":         {"string:", "string:api-gateway"},
		"trace:rootService":       {"string:", "string:api-gateway"},
		"rootName":                {"string:", "string:GET /cart", "string:GET /checkout"},
		"span.order.total":        {"float:7.5"},
	} {
		if got := tagValuesOf(t, base, tag); !slices.Equal(got, want) {
			t.Errorf("%s values: %v, want %v", tag, got, want)
		}
	}
}

// TestTagFilters: q narrows tag names and values to the spans its first
// spanset filter matches, whatever its conditions, as Tempo 3 applies it
// (pkg/traceql/lenient_extract.go: condition groups of || are each
// applied); a query starting with a spanset operation narrows nothing.
func TestTagFilters(t *testing.T) {
	base := serve(t, fixture())
	all := []string{"string:GET /cart", "string:GET /checkout", "string:POST /orders", "string:POST /pay", "string:consume", "string:process", "string:send email"}
	for q, want := range map[string][]string{
		`{ resource.service.name = "bank" || resource.service.name = "notifications" }`: {"string:POST /pay", "string:send email"},
		`{ resource.service.name = "bank" && status = error }`:                          {"string:POST /pay"},
		`{ !(kind = server) }`: {"string:consume", "string:process", "string:send email"},
		`{ span.order.total > 5 || event:name = "exception" } | select(span.x)`: {"string:POST /orders", "string:POST /pay"},
		`{ rootServiceName = "api-gateway" && kind = client }`:                  {"string:send email"},
		`{ rootServiceName != "api-gateway" }`:                                  {"string:consume", "string:process"},
		`{ parent.service.name = "orders" || traceDuration < 30ms }`:            {"string:POST /pay"},
		`{ link.link.kind = "follows" }`:                                        {"string:send email"},
		`{ resource.service.name = "bank" } > { }`:                              all,
		`{ resource.service.name = `:                                            all,
	} {
		if got := tagValuesOf(t, base, "name", "q", q); !slices.Equal(got, want) {
			t.Errorf("name values with q=%s: %v, want %v", q, got, want)
		}
	}
	scopes := scopesOf(t, base, "q", `{ resource.service.name = "bank" || resource.service.name = "notifications" }`)
	for scope, want := range map[string][]string{"span": {}, "resource": {"service.name"}, "event": {"attempt", "backoff.ms", "exception.message"}, "link": {"link.kind"}} {
		if got := scopes[scope]; !slices.Equal(got, want) && len(got)+len(want) > 0 {
			t.Errorf("q ||: scope %s: %v, want %v", scope, got, want)
		}
	}
	// Conditions on event fields keep the events they hold for, as
	// Tempo joins them per event; on span fields, every event of the span.
	for q, want := range map[string][]string{
		`{ event:name = "exception" }`:                            {"attempt", "exception.message"},
		`{ event.backoff.ms > 10 && status = error }`:             {"backoff.ms"},
		`{ event:name = "retry" || resource.service.name = "x" }`: {"backoff.ms"},
		`{ status = error }`:                                      {"attempt", "backoff.ms", "exception.message"},
	} {
		if got := scopesOf(t, base, "q", q, "scope", "event")["event"]; !slices.Equal(got, want) {
			t.Errorf("event names with q=%s: %v, want %v", q, got, want)
		}
	}
	if got := tagValuesOf(t, base, "event:name", "q", `{ event:name != "exception" }`); !slices.Equal(got, []string{"string:retry"}) {
		t.Errorf("event:name values with q != exception: %v", got)
	}
	// A bare field is a hint of what to read, not a condition (Tempo's
	// ExtractConditionGroups drops it): { span.order.total } narrows
	// nothing, and beside a condition it is ignored.
	if got := tagValuesOf(t, base, "name", "q", `{ span.order.total }`); !slices.Equal(got, all) {
		t.Errorf("name values with a bare field: %v, want all", got)
	}
	if got := tagValuesOf(t, base, "name", "q", `{ span.order.total && resource.service.name = "bank" }`); !slices.Equal(got, []string{"string:POST /pay"}) {
		t.Errorf("name values with a bare field && a condition: %v", got)
	}
	scopes = scopesOf(t, base, "q", `{ resource.service.name = "orders" || name = "GET /cart" }`)
	if got := scopes["event"]; len(got) != 0 {
		t.Errorf("q without the bank's span: event names %v, want none", got)
	}
	if got := scopes["span"]; !slices.Equal(got, []string{"order.total"}) {
		t.Errorf("q orders || GET /cart: span names %v", got)
	}
}

// TestShortTraceID: search results print trace ids without their leading
// zeros, as Tempo does (pkg/util/traceid.go, TraceIDToHexString); such an
// id, copied from an answer, finds its trace in TraceQL (trace:id,
// compared as Tempo compares ids: as bytes, leading zeros optional) and
// by id (/api/traces/<id> left-pads it, as Tempo's HexStringToTraceID).
func TestShortTraceID(t *testing.T) {
	base := serve(t, fixture())
	type result struct {
		Traces []struct {
			TraceID         string `json:"traceID"`
			RootServiceName string `json:"rootServiceName"`
		} `json:"traces"`
	}
	var res result
	if code, body := get(t, base, "/api/search", &res, "q", `{ resource.service.name = "bank" }`); code != http.StatusOK || len(res.Traces) != 1 {
		t.Fatalf("search: %d %s", code, body)
	}
	short := res.Traces[0].TraceID
	if want := "f01" + strings.Repeat("0", 28); short != want {
		t.Fatalf("trace id printed %q, want %q (31 digits)", short, want)
	}
	for _, q := range []string{`{ trace:id = "` + short + `" }`, `{ trace:id = "0` + strings.ToUpper(short) + `" && name = "POST /pay" }`} {
		res = result{}
		if code, body := get(t, base, "/api/search", &res, "q", q); code != http.StatusOK || len(res.Traces) != 1 || res.Traces[0].TraceID != short {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
	// trace:id reads as Tempo renders it, without leading zeros (by()),
	// and, like span:id, is not repeated among a span's attributes.
	var sets struct {
		Traces []struct {
			SpanSets []spanSet `json:"spanSets"`
		} `json:"traces"`
	}
	get(t, base, "/api/search", &sets, "q", `{ resource.service.name = "bank" } | by(trace:id) | select(trace:id, span:id, span:parentID)`)
	if len(sets.Traces) != 1 || len(sets.Traces[0].SpanSets) != 1 {
		t.Fatalf("by(trace:id): %+v", sets)
	}
	ss := sets.Traces[0].SpanSets[0]
	if len(ss.Attributes) != 1 || ss.Attributes[0].Key != "by(trace:id)" && ss.Attributes[0].Key != "trace:id" || *ss.Attributes[0].Value.StringValue != short {
		t.Errorf("by(trace:id) attributes %+v, want trace:id %s", ss.Attributes, short)
	}
	if len(ss.Spans) != 1 {
		t.Fatalf("spans %+v", ss.Spans)
	}
	var keys []string
	for _, kv := range ss.Spans[0].Attributes {
		keys = append(keys, kv.Key)
	}
	if want := []string{"service.name", "span:parentID"}; !slices.Equal(keys, want) {
		t.Errorf("span attributes %v, want %v (Tempo leaves trace:id and span:id out)", keys, want)
	}
	res = result{}
	get(t, base, "/api/search", &res, "q", `{ rootServiceName != "api-gateway" }`)
	if len(res.Traces) != 1 || res.Traces[0].RootServiceName != "<root span not yet received>" {
		t.Errorf("root-less trace: %+v, want the worker's, its root not yet received", res.Traces)
	}
	for _, path := range []string{"/api/traces/" + short, "/api/v2/traces/" + short} {
		if code, body := get(t, base, path, nil); code != http.StatusOK || !strings.Contains(body, "POST /pay") {
			t.Errorf("%s: %d %.200s", path, code, body)
		}
	}
}

// TestMetricsTimestamps: /api/metrics/query_range stamps each sample with
// its interval's end, the range aligned as Tempo 3's query frontend
// aligns it (one step before the start rounded down, to the end rounded
// up): 5 minutes by 1m are 6 samples, the span at the start in the first
// ((start-1m, start]), the others in the next. /api/metrics/query counts
// [start, end].
func TestMetricsTimestamps(t *testing.T) {
	base := serve(t, fixture())
	start := fixtureStart.Unix()
	var out struct {
		Series []struct {
			Samples []struct {
				TimestampMs string  `json:"timestampMs"`
				Value       float64 `json:"value"`
			} `json:"samples"`
		} `json:"series"`
	}
	code, body := get(t, base, "/api/metrics/query_range", &out, "q", "{ } | count_over_time()",
		"start", strconv.FormatInt(start, 10), "end", strconv.FormatInt(start+300, 10), "step", "60")
	if code != http.StatusOK || len(out.Series) != 1 {
		t.Fatalf("query_range: %d %s", code, body)
	}
	var got []string
	for _, s := range out.Series[0].Samples {
		got = append(got, s.TimestampMs+"="+strconv.FormatFloat(s.Value, 'g', -1, 64))
	}
	var want []string
	for i, v := range []int{1, 6, 0, 0, 0, 0} {
		want = append(want, strconv.FormatInt((start+int64(i)*60)*1000, 10)+"="+strconv.Itoa(v))
	}
	if !slices.Equal(got, want) {
		t.Errorf("samples %v, want %v", got, want)
	}
	var ex struct {
		Series []struct {
			Exemplars []struct {
				Labels []keyValue `json:"labels"`
			} `json:"exemplars"`
		} `json:"series"`
	}
	get(t, base, "/api/metrics/query_range", &ex, "q", `{ resource.service.name = "bank" } | count_over_time()`,
		"start", strconv.FormatInt(start, 10), "end", strconv.FormatInt(start+300, 10), "step", "60")
	if len(ex.Series) != 1 || len(ex.Series[0].Exemplars) != 1 || *ex.Series[0].Exemplars[0].Labels[0].Value.StringValue != "f01"+strings.Repeat("0", 28) {
		t.Errorf("exemplar: %+v, want trace:id without its leading zero, as Tempo labels it", ex)
	}
	var inst struct {
		Series []struct {
			Value float64 `json:"value"`
		} `json:"series"`
	}
	code, body = get(t, base, "/api/metrics/query", &inst, "q", "{ } | count_over_time()",
		"start", strconv.FormatInt(start, 10), "end", strconv.FormatInt(start+300, 10))
	if code != http.StatusOK || len(inst.Series) != 1 || inst.Series[0].Value != 7 {
		t.Errorf("instant: %d %s, want the 7 spans of [start, end]", code, body)
	}
}
