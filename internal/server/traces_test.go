package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/horus-obs/horus/internal/api/servicegraph"
	"github.com/horus-obs/horus/internal/config"
)

// shop runs two services instrumented with the OpenTelemetry SDK and
// otelhttp on loopback: frontend calls payments over HTTP with W3C trace
// context, and payments' charge fails. Each exports to Horus with its own
// OTLP exporter.
type shop struct {
	frontend, payments *sdktrace.TracerProvider
	frontendURL        string
}

// spanExporter is an OTLP span exporter to Horus over proto ("grpc" or
// "http") as tenant org ("" for none).
func spanExporter(t *testing.T, ctx context.Context, ts *testServer, proto, org string) sdktrace.SpanExporter {
	t.Helper()
	var exp sdktrace.SpanExporter
	var err error
	headers := map[string]string{}
	if org != "" {
		headers["X-Scope-OrgID"] = org
	}
	if proto == "grpc" {
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(ts.Addrs().OTLPGRPC), otlptracegrpc.WithInsecure(), otlptracegrpc.WithHeaders(headers))
	} else {
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(ts.Addrs().OTLPHTTP), otlptracehttp.WithInsecure(), otlptracehttp.WithHeaders(headers))
	}
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

func newShop(t *testing.T, ctx context.Context, ts *testServer, proto, org string) *shop {
	t.Helper()
	provider := func(service string) *sdktrace.TracerProvider {
		tp := sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(spanExporter(t, ctx, ts, proto, org), sdktrace.WithBatchTimeout(time.Hour)),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service), attribute.String("deployment.environment", "test"))),
		)
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return tp
	}
	s := &shop{frontend: provider("frontend"), payments: provider("payments")}
	prop := otelhttp.WithPropagators(propagation.TraceContext{})
	byOperation := otelhttp.WithSpanNameFormatter(func(op string, _ *http.Request) string { return op })

	payments := httptest.NewServer(otelhttp.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, span := s.payments.Tracer("payments").Start(r.Context(), "charge", trace.WithAttributes(
			attribute.String("card.brand", "visa"), attribute.Int("amount.cents", 4200)))
		span.AddEvent("exception", trace.WithAttributes(attribute.String("exception.type", "CardDeclined")))
		span.SetStatus(codes.Error, "card declined")
		span.End()
		http.Error(w, "declined", http.StatusPaymentRequired)
	}), "POST /pay", otelhttp.WithTracerProvider(s.payments), prop, byOperation))
	t.Cleanup(payments.Close)

	client := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(s.frontend), prop)}
	frontend := httptest.NewServer(otelhttp.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, payments.URL+"/pay", nil)
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_ = resp.Body.Close()
		w.Header().Set("X-Trace-Id", trace.SpanContextFromContext(r.Context()).TraceID().String())
		w.WriteHeader(resp.StatusCode)
	}), "POST /checkout", otelhttp.WithTracerProvider(s.frontend), prop, byOperation))
	t.Cleanup(frontend.Close)
	s.frontendURL = frontend.URL
	return s
}

// checkout makes one request and returns its trace id once both services
// have exported their spans.
func (s *shop) checkout(t *testing.T, ctx context.Context) string {
	t.Helper()
	resp, err := http.Post(s.frontendURL+"/checkout", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	id := resp.Header.Get("X-Trace-Id")
	if len(id) != 32 {
		t.Fatalf("no trace id from frontend: %q", id)
	}
	for _, tp := range []*sdktrace.TracerProvider{s.frontend, s.payments} {
		if err := tp.ForceFlush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
	return id
}

func tempoGet(t *testing.T, ts *testServer, path, accept, org string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL()+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if org != "" {
		req.Header.Set("X-Scope-OrgID", org)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestOTelSDKTraces sends a two-service trace with the OpenTelemetry Go
// SDK's gRPC and HTTP exporters, context propagated over HTTP with W3C
// trace context, and reads it back through the Tempo API as Grafana does.
func TestOTelSDKTraces(t *testing.T) {
	for _, proto := range []string{"grpc", "http"} {
		t.Run(proto, func(t *testing.T) {
			ts := startServer(t, "", func(c *config.Config) {
				c.Traces.SpanMetrics.FlushInterval = model.Duration(time.Second)
				c.Traces.ServiceGraph.FlushInterval = model.Duration(time.Second)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			org := map[string]string{"grpc": "", "http": "team-a"}[proto]
			s := newShop(t, ctx, ts, proto, org)
			id := s.checkout(t, ctx)

			// Grafana: /api/v2/traces/<id>, protobuf TraceByIDResponse.
			code, body := tempoGet(t, ts, "/api/v2/traces/"+id, "application/protobuf", org)
			if code != http.StatusOK {
				t.Fatalf("v2 trace: %d %s", code, body)
			}
			num, typ, n := protowire.ConsumeTag(body)
			if num != 1 || typ != protowire.BytesType || n < 0 {
				t.Fatalf("v2 trace: not a TraceByIDResponse with a trace: %x", body[:min(len(body), 16)])
			}
			tb, _ := protowire.ConsumeBytes(body[n:])
			td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(tb)
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]ptrace.Span{}
			services := map[string]string{}
			for _, rs := range td.ResourceSpans().All() {
				svc, _ := rs.Resource().Attributes().Get("service.name")
				for _, ss := range rs.ScopeSpans().All() {
					for _, sp := range ss.Spans().All() {
						if sp.TraceID().String() != id {
							t.Errorf("span %s has trace id %s, want %s", sp.Name(), sp.TraceID(), id)
						}
						byName[sp.Name()] = sp
						services[sp.Name()] = svc.Str()
					}
				}
			}
			if len(byName) != 4 {
				t.Fatalf("trace has spans %v, want 4 (checkout, its client call, pay, charge)", services)
			}
			pay, charge, root := byName["POST /pay"], byName["charge"], byName["POST /checkout"]
			if services["POST /pay"] != "payments" || services["POST /checkout"] != "frontend" {
				t.Errorf("services: %v", services)
			}
			if !root.ParentSpanID().IsEmpty() || charge.ParentSpanID() != pay.SpanID() || pay.ParentSpanID().IsEmpty() ||
				services[nameOf(byName, pay.ParentSpanID())] != "frontend" {
				t.Errorf("the W3C context did not join the services into one tree")
			}
			if charge.Status().Code() != ptrace.StatusCodeError || charge.Status().Message() != "card declined" {
				t.Errorf("charge status %v %q", charge.Status().Code(), charge.Status().Message())
			}
			if v, _ := charge.Attributes().Get("amount.cents"); v.Int() != 4200 {
				t.Errorf("charge amount.cents = %v", v.AsRaw())
			}

			// v1 JSON names the resource spans batches.
			code, body = tempoGet(t, ts, "/api/traces/"+id, "", org)
			if code != http.StatusOK || !strings.HasPrefix(string(body), `{"batches":[`) {
				t.Errorf("v1 trace JSON: %d %.80s", code, body)
			}

			// TraceQL search, as Grafana's Tempo data source sends it.
			q := url.Values{"q": {`{ resource.service.name = "payments" && status = error }`}, "limit": {"20"}, "spss": {"3"},
				"start": {"0"}, "end": {"0"}}
			code, body = tempoGet(t, ts, "/api/search?"+q.Encode(), "application/json", org)
			if code != http.StatusOK {
				t.Fatalf("search: %d %s", code, body)
			}
			var sr struct {
				Traces []struct {
					TraceID, RootServiceName, RootTraceName string
					DurationMs                              int
					ServiceStats                            map[string]struct{ SpanCount, ErrorCount int }
					SpanSet                                 struct {
						Matched int
						Spans   []struct {
							SpanID, Name string
							Attributes   []struct {
								Key   string
								Value map[string]any
							}
						}
					}
				}
			}
			if err := json.Unmarshal(body, &sr); err != nil {
				t.Fatalf("search JSON: %v: %s", err, body)
			}
			if len(sr.Traces) != 1 || sr.Traces[0].TraceID != strings.TrimLeft(id, "0") || sr.Traces[0].RootServiceName != "frontend" ||
				sr.Traces[0].RootTraceName != "POST /checkout" || sr.Traces[0].SpanSet.Matched != 1 ||
				sr.Traces[0].SpanSet.Spans[0].Name != "charge" {
				t.Fatalf("search result: %s", body)
			}
			if a := sr.Traces[0].SpanSet.Spans[0].Attributes; len(a) != 2 || a[1].Key != "status" || a[1].Value["stringValue"] != "error" {
				t.Errorf("matched span attributes %+v, want service.name and status", a)
			}
			if st := sr.Traces[0].ServiceStats; st["frontend"].SpanCount != 2 || st["payments"].SpanCount != 2 || st["payments"].ErrorCount != 1 || st["frontend"].ErrorCount != 1 {
				t.Errorf("serviceStats %+v, want 2 spans and an error each (charge failed, checkout with it)", st)
			}

			// Tag names and values for the query editor.
			code, body = tempoGet(t, ts, "/api/v2/search/tags", "", org)
			if code != http.StatusOK || !strings.Contains(string(body), `{"name":"resource","tags":["deployment.environment","service.name"`) ||
				!strings.Contains(string(body), `"card.brand"`) {
				t.Errorf("tags: %d %s", code, body)
			}
			code, body = tempoGet(t, ts, "/api/v2/search/tag/resource.service.name/values", "", org)
			if code != http.StatusOK || string(body) != `{"tagValues":[{"type":"string","value":"frontend"},{"type":"string","value":"payments"}]}`+"\n" {
				t.Errorf("tag values: %d %s", code, body)
			}
			code, body = tempoGet(t, ts, "/api/v2/search/tag/event.exception.type/values", "", org)
			if code != http.StatusOK || string(body) != `{"tagValues":[{"type":"string","value":"CardDeclined"}]}`+"\n" {
				t.Errorf("event attribute values: %d %s", code, body)
			}
			code, body = tempoGet(t, ts, "/api/v2/search/tag/rootServiceName/values", "", org)
			if code != http.StatusOK || string(body) != `{"tagValues":[{"type":"string","value":"frontend"}]}`+"\n" {
				t.Errorf("root service values: %d %s", code, body)
			}
			code, body = tempoGet(t, ts, "/api/v2/search/tag/span.amount.cents/values?q="+url.QueryEscape(`{ name = "charge" }`), "", org)
			if code != http.StatusOK || string(body) != `{"tagValues":[{"type":"int","value":"4200"}]}`+"\n" {
				t.Errorf("typed tag values: %d %s", code, body)
			}

			// Span metrics, with Tempo's names and labels, in PromQL, as
			// the tenant's series.
			sel := `{service="payments",span_name="charge",span_kind="SPAN_KIND_INTERNAL",status_code="STATUS_CODE_ERROR"}`
			var vec model.Vector
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				if vec = ts.queryAs(t, org, "traces_spanmetrics_calls_total"+sel, time.Now()); len(vec) == 1 {
					break
				}
			}
			if len(vec) != 1 || vec[0].Value != 1 {
				t.Errorf("traces_spanmetrics_calls_total%s = %v, want 1", sel, vec)
			}
			if vec := ts.queryAs(t, org, `sum(traces_spanmetrics_latency_count{service="frontend",span_kind="SPAN_KIND_CLIENT"})`, time.Now()); len(vec) != 1 || vec[0].Value != 1 {
				t.Errorf("frontend client latency count = %v, want 1", vec)
			}
			exs, err := ts.apiAs(t, org).QueryExemplars(ctx, "traces_spanmetrics_latency_bucket"+sel, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
			if err != nil || len(exs) != 1 || len(exs[0].Exemplars) != 1 || string(exs[0].Exemplars[0].Labels["trace_id"]) != id {
				t.Errorf("span-metrics exemplars = %+v (%v), want one with trace_id %s", exs, err, id)
			}

			// TraceQL metrics: the error spans per service, and the
			// p90 of payments' spans, as Grafana asks for them.
			now := time.Now()
			path := "/api/metrics/query_range?step=60&start=" + strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10) + "&end=" + strconv.FormatInt(now.Add(time.Minute).Unix(), 10) +
				"&q=" + url.QueryEscape(`{ status = error } | count_over_time() by (resource.service.name)`)
			code, body = tempoGet(t, ts, path, "", org)
			var qr struct {
				Series []struct {
					Labels []struct {
						Key   string
						Value struct{ StringValue string }
					}
					Samples []struct {
						TimestampMs string
						Value       float64
					}
					PromLabels string
					Exemplars  []struct {
						Labels []struct {
							Key   string
							Value struct{ StringValue string }
						}
					}
				}
			}
			if err := json.Unmarshal(body, &qr); code != http.StatusOK || err != nil {
				t.Fatalf("query_range: %d %s (%v)", code, body, err)
			}
			total := map[string]float64{}
			for _, s := range qr.Series {
				for _, smp := range s.Samples {
					total[s.PromLabels] += smp.Value
				}
				if len(s.Exemplars) == 0 || s.Exemplars[0].Labels[0].Key != "trace:id" || s.Exemplars[0].Labels[0].Value.StringValue != strings.TrimLeft(id, "0") { // Tempo's: no leading zeros
					t.Errorf("query_range exemplars of %s = %+v, want trace:id %s", s.PromLabels, s.Exemplars, id)
				}
			}
			// Errors: payments' charge span, frontend's client span (a
			// 402: otelhttp marks 4xx as errors on clients only).
			if len(total) != 2 || total[`{resource.service.name="payments"}`] != 1 || total[`{resource.service.name="frontend"}`] != 1 {
				t.Errorf("query_range error spans by service = %v (%s)", total, body)
			}
			code, body = tempoGet(t, ts, "/api/metrics/query?since=10m&q="+url.QueryEscape(`{ resource.service.name = "payments" } | quantile_over_time(duration, .9)`), "", org)
			if code != http.StatusOK || !strings.Contains(string(body), `"key":"p","value":{"doubleValue":0.9}`) {
				t.Errorf("instant quantile: %d %s", code, body)
			}

			// The service graph: user → frontend → payments, the call
			// failed (402), as PromQL series and through the graph API.
			var graph struct {
				Status string
				Data   servicegraph.Graph
			}
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				code, body := tempoGet(t, ts, "/api/v1/service-graph?start="+strconv.FormatInt(time.Now().Add(-5*time.Minute).Unix(), 10), "", org)
				if code != http.StatusOK {
					t.Fatalf("service graph: %d %s", code, body)
				}
				if err := json.Unmarshal(body, &graph); err != nil {
					t.Fatal(err)
				}
				if len(graph.Data.Edges) == 2 {
					break
				}
			}
			if g := graph.Data; len(g.Edges) != 2 || len(g.Nodes) != 3 {
				t.Fatalf("service graph = %+v, want 2 edges, 3 nodes", g)
			}
			fromUser, toPay := graph.Data.Edges[1], graph.Data.Edges[0]
			if fromUser.Source != "user" || fromUser.Target != "frontend" || fromUser.ConnectionType != "virtual_node" || fromUser.ErrorRate != 0 || fromUser.P99Seconds == nil {
				t.Errorf("edge into frontend = %+v", fromUser)
			}
			// One request over the 5 minutes: 1/300 per second, give or
			// take PromQL increase()'s extrapolation to the range's end.
			if toPay.Source != "frontend" || toPay.Target != "payments" || toPay.ConnectionType != "" || toPay.ErrorRate != 1 ||
				toPay.Rate < 1.0/300 || toPay.Rate > 2.0/300 || toPay.P99Seconds == nil || *toPay.P99Seconds <= 0 {
				t.Errorf("edge into payments = %+v (p99 %v)", toPay, *toPay.P99Seconds)
			}
			for i, want := range []string{"frontend service", "payments service", "user user"} {
				if n := graph.Data.Nodes[i]; n.ID+" "+n.Type != want {
					t.Errorf("node %d = %+v, want %s", i, n, want)
				}
			}
			sg := `{client="frontend",server="payments"}`
			if vec := ts.queryAs(t, org, "traces_service_graph_request_failed_total"+sg, time.Now()); len(vec) != 1 || vec[0].Value != 1 {
				t.Errorf("traces_service_graph_request_failed_total%s = %v, want 1", sg, vec)
			}

			// Another tenant sees nothing of it.
			other := map[string]string{"": "team-b", "team-a": ""}[org]
			if code, body = tempoGet(t, ts, "/api/traces/"+id, "", other); code != http.StatusNotFound {
				t.Errorf("trace from tenant %q: %d %s", other, code, body)
			}
			if vec := ts.queryAs(t, other, "traces_spanmetrics_calls_total"+sel, time.Now()); len(vec) != 0 {
				t.Errorf("span metrics from tenant %q: %v", other, vec)
			}
		})
	}
}

func nameOf(spans map[string]ptrace.Span, id interface{ String() string }) string {
	for name, sp := range spans {
		if sp.SpanID().String() == id.String() {
			return name
		}
	}
	return ""
}

// TestTempoAPIErrors checks Tempo's answers to bad requests and missing
// traces.
func TestTempoAPIErrors(t *testing.T) {
	ts := startServer(t, "")
	for _, c := range []struct {
		path, accept string
		code         int
		body         string
	}{
		{"/api/echo", "", 200, "echo\n"},
		{"/api/traces/0123456789abcdef0123456789abcdef", "", 404, "trace not found\n"},
		{"/api/v2/traces/0123456789abcdef", "", 200, `{"trace":{},"metrics":{}}` + "\n"},
		{"/api/v2/traces/12g4", "", 400, "trace IDs can only contain hex characters: invalid character 'g' at position 3\n"},
		{"/api/traces/" + strings.Repeat("a", 33), "", 400, "trace IDs can't be larger than 128 bits\n"},
		{"/api/search?q=" + url.QueryEscape("{ status = }"), "", 400, "invalid TraceQL query: parse error at position 12"},
		{"/api/search?q=%7B%7D&tags=a%3Db", "", 400, "can't specify tags and q"},
		{"/api/search?limit=-1", "", 400, "invalid limit"},
		{"/api/search?start=20&end=10", "", 400, "start must be before end"},
		{"/api/search?minDuration=2s&maxDuration=1s", "", 400, "invalid maxDuration"},
		{"/api/search?q=" + url.QueryEscape("{ } | rate()"), "", 400, "metrics function"},
		{"/api/search", "", 200, `{"traces":[],"metrics":{"completedJobs":1,"totalJobs":1}}` + "\n"},
		{"/api/v2/search/tags?scope=nope", "", 400, "invalid scope: nope"},
		{"/api/v2/search/tag/status/values", "", 200, `{"tagValues":[{"type":"keyword","value":"ok"},{"type":"keyword","value":"error"},{"type":"keyword","value":"unset"}]}` + "\n"},
		{"/api/v2/search/tag/%7B%7D/values", "", 400, "please provide a valid tagName"},
		{"/api/metrics/query_range?q=%7B%7D", "", 400, "not a metrics query"},
		{"/api/metrics/query_range?q=" + url.QueryEscape("{} | rate()") + "&step=0", "", 400, "invalid step"},
		{"/api/metrics/query_range?q=" + url.QueryEscape("{} | rate()") + "&start=10&end=5", "", 400, "start must be before end"},
		{"/api/metrics/query_range?q=" + url.QueryEscape("{} | rate()") + "&since=1h&step=0.1", "", 400, "step of 100ms is too small, minimum step for given range is 360ms"},
		{"/api/metrics/query_range?q=" + url.QueryEscape("{} | rate()"), "", 200, `{"series":[],"metrics":{"inspectedSpans":"0","completedJobs":1,"totalJobs":1}}`},
		{"/api/metrics/query?q=" + url.QueryEscape("{} | rate("), "", 400, "invalid TraceQL query"},
		// The service graph answers as Prometheus' API does.
		{"/api/v1/service-graph", "", 200, `{"status":"success","data":{"nodes":[],"edges":[]}}`},
		{"/api/v1/service-graph?start=abc", "", 400, `"errorType":"bad_data","error":"invalid parameter \"start\": cannot parse \"abc\"`},
		{"/api/v1/service-graph?start=20&end=10", "", 400, "end must be after start"},
		{"/api/v1/service-graph?end=1e300", "", 400, "out of range"},
	} {
		code, body := tempoGet(t, ts, c.path, c.accept, "")
		if code != c.code || !strings.Contains(string(body), c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.path, code, body, c.code, c.body)
		}
	}
	if code, body := tempoGet(t, ts, "/api/search", "", "bad/tenant"); code != 400 || !strings.Contains(string(body), "X-Scope-OrgID") {
		t.Errorf("bad tenant: %d %s", code, body)
	}
}

// TestTailSampling: with sampling on (no probabilistic share), the failed
// checkout trace is stored whole after the decision wait and a healthy
// trace is not, while span metrics count both; the sampler's self-metrics
// say so.
func TestTailSampling(t *testing.T) {
	ts := startServer(t, "", func(c *config.Config) {
		c.Traces.SpanMetrics.FlushInterval = model.Duration(time.Second)
		c.Traces.Sampling = config.SamplingConfig{Enabled: true, DecisionWait: model.Duration(time.Second),
			LatencyThreshold: model.Duration(time.Hour), Probability: 0, MaxTraces: 100}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newShop(t, ctx, ts, "http", "")
	failed := s.checkout(t, ctx)
	_, span := s.frontend.Tracer("health").Start(ctx, "healthcheck")
	healthy := span.SpanContext().TraceID().String()
	span.End()
	if err := s.frontend.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	// Held until the decision: not yet readable.
	if code, _ := tempoGet(t, ts, "/api/traces/"+failed, "", ""); code != http.StatusNotFound {
		t.Errorf("failed trace readable before the decision wait: %d", code)
	}
	var code int
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code, body = tempoGet(t, ts, "/api/traces/"+failed, "application/json", ""); code == http.StatusOK {
			break
		}
	}
	if code != http.StatusOK || strings.Count(string(body), `"spanId"`) != 4 {
		t.Fatalf("failed trace after the decision: %d, %d spans, want 4", code, strings.Count(string(body), `"spanId"`))
	}
	if code, _ := tempoGet(t, ts, "/api/traces/"+healthy, "", ""); code != http.StatusNotFound {
		t.Errorf("healthy trace stored: %d", code)
	}
	var vec model.Vector
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if vec = ts.query(t, `traces_spanmetrics_calls_total{span_name="healthcheck"}`, time.Now()); len(vec) == 1 {
			break
		}
	}
	if len(vec) != 1 || vec[0].Value != 1 {
		t.Errorf("span metrics of the dropped trace = %v, want 1 call", vec)
	}
	for _, c := range []struct {
		name string
		lbls map[string]string
		want float64
	}{
		{"horus_sampling_traces_total", map[string]string{"decision": "kept", "reason": "error"}, 1},
		{"horus_sampling_traces_total", map[string]string{"decision": "dropped", "reason": "probabilistic"}, 1},
		{"horus_sampling_spans_total", map[string]string{"decision": "kept"}, 4},
		{"horus_sampling_spans_total", map[string]string{"decision": "dropped"}, 1},
	} {
		if got := ts.selfMetric(t, c.name, c.lbls); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.lbls, got, c.want)
		}
	}
}
