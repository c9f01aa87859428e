package server

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/internal/api/servicegraph"
	"github.com/horus-obs/horus/internal/config"
)

// orgTransport sends X-Scope-OrgID on every request.
type orgTransport struct{ org string }

func (o orgTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Scope-OrgID", o.org)
	return http.DefaultTransport.RoundTrip(r)
}

// apiAs is a Prometheus API client of tenant org ("" for the default
// tenant, without the header).
func (ts *testServer) apiAs(t *testing.T, org string) promv1.API {
	t.Helper()
	if org == "" {
		return ts.api
	}
	client, err := api.NewClient(api.Config{Address: ts.URL(), RoundTripper: orgTransport{org}})
	if err != nil {
		t.Fatal(err)
	}
	return promv1.NewAPI(client)
}

// queryAs runs an instant PromQL query as tenant org.
func (ts *testServer) queryAs(t *testing.T, org, q string, at time.Time) model.Vector {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, _, _, err := ts.apiAs(t, org).Query(ctx, q, at)
	if err != nil {
		t.Fatalf("query %q as %q: %v", q, org, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		t.Fatalf("query %q: got %s, want vector", q, v.Type())
	}
	return vec
}

// tenantData is what one tenant writes in TestMetricsTenancy: every name
// and value it writes holds its marker, which no other tenant's answer
// may show.
type tenantData struct {
	org, marker string
}

// writeTenantMetrics writes, as d.org, tn_rw_total by remote write 1.0
// (with an exemplar and metadata), tn_rw2 by remote write 2.0,
// tn_otlp_http_total by OTLP/HTTP and tn_otlp_grpc_total by OTLP/gRPC,
// each with job="<kind>-<marker>".
func writeTenantMetrics(t *testing.T, ctx context.Context, ts *testServer, d tenantData, now time.Time) {
	t.Helper()
	ms := now.UnixMilli()
	hdr := func(ct string) map[string]string {
		h := map[string]string{"Content-Type": ct, "Content-Encoding": "snappy"}
		if d.org != "" {
			h["X-Scope-OrgID"] = d.org
		}
		return h
	}
	v1 := &prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{
			{Labels: series("tn_rw_total", "job", "rw-"+d.marker, "only_"+d.marker, "x"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms}}},
			{Labels: series("tn_rw_total", "job", "rw-"+d.marker, "only_"+d.marker, "x"), Exemplars: []prompb.Exemplar{{Labels: []prompb.Label{{Name: "trace_id", Value: "trace-" + d.marker}}, Value: 1, Timestamp: ms}}},
		},
		Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "tn_rw_total", Help: "help of " + d.marker}},
	}
	b, err := v1.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h := hdr("application/x-protobuf")
	h["X-Prometheus-Remote-Write-Version"] = "0.1.0"
	expectPost(t, ts.URL()+"/api/v1/write", snappy.Encode(nil, b), h, http.StatusNoContent, "")
	v2 := &writev2.Request{Symbols: []string{"", "__name__", "tn_rw2", "job", "rw2-" + d.marker}, Timeseries: []writev2.TimeSeries{{
		LabelsRefs: []uint32{1, 2, 3, 4},
		Samples:    []writev2.Sample{{Value: 2, Timestamp: ms}},
	}}}
	if b, err = v2.Marshal(); err != nil {
		t.Fatal(err)
	}
	h = hdr("application/x-protobuf;proto=io.prometheus.write.v2.Request")
	h["X-Prometheus-Remote-Write-Version"] = "2.0.0"
	expectPost(t, ts.URL()+"/api/v1/write", snappy.Encode(nil, b), h, http.StatusNoContent, "")

	headers := map[string]string{}
	if d.org != "" {
		headers["X-Scope-OrgID"] = d.org
	}
	for _, proto := range []string{"http", "grpc"} {
		var exp sdkmetric.Exporter
		if proto == "grpc" {
			exp, err = otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(ts.Addrs().OTLPGRPC), otlpmetricgrpc.WithInsecure(), otlpmetricgrpc.WithHeaders(headers))
		} else {
			exp, err = otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(ts.Addrs().OTLPHTTP), otlpmetrichttp.WithInsecure(), otlpmetrichttp.WithHeaders(headers))
		}
		if err != nil {
			t.Fatal(err)
		}
		provider := sdkmetric.NewMeterProvider(
			sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "otlp-"+d.marker))),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		)
		c, _ := provider.Meter("tenancy").Int64Counter("tn.otlp."+proto, metric.WithDescription("otlp of "+d.marker))
		c.Add(ctx, 3, metric.WithAttributes(attribute.String("otlp_"+d.marker, "x")))
		if err := provider.ForceFlush(ctx); err != nil {
			t.Fatalf("flush OTLP/%s metrics of %q: %v", proto, d.org, err)
		}
		_ = provider.Shutdown(context.Background())
	}
}

// sendTenantSpans sends, as d.org over proto, a trace through
// front-<marker> (server, then client) into back-<marker> (server): the
// service graph gets user → front-<marker> → back-<marker>.
func sendTenantSpans(t *testing.T, ctx context.Context, ts *testServer, d tenantData, proto string) {
	t.Helper()
	provider := func(service string) *sdktrace.TracerProvider {
		return sdktrace.NewTracerProvider(sdktrace.WithSyncer(spanExporter(t, ctx, ts, proto, d.org)),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
	}
	front, back := provider("front-"+d.marker), provider("back-"+d.marker)
	ctx1, root := front.Tracer("t").Start(ctx, "GET /"+d.marker, trace.WithSpanKind(trace.SpanKindServer))
	ctx2, call := front.Tracer("t").Start(ctx1, "call "+d.marker, trace.WithSpanKind(trace.SpanKindClient))
	_, serve := back.Tracer("t").Start(ctx2, "serve "+d.marker, trace.WithSpanKind(trace.SpanKindServer))
	serve.End()
	call.End()
	root.End()
	for _, tp := range []*sdktrace.TracerProvider{front, back} {
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatalf("spans of %q: %v", d.org, err)
		}
	}
}

// TestMetricsTenancy writes metrics and spans as the default tenant and
// two others, by every ingest path, and reads every metrics API as each:
// each sees its own series, label names, values, exemplars, metadata,
// span metrics, service graph and status, nothing of the others', and
// never the tenant label.
func TestMetricsTenancy(t *testing.T) {
	ts := startServer(t, "", func(c *config.Config) {
		c.Traces.SpanMetrics.FlushInterval = model.Duration(time.Second)
		c.Traces.ServiceGraph.FlushInterval = model.Duration(time.Second)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tenants := []tenantData{{"", "dflt"}, {"team-a", "alpha"}, {"team-b", "bravo"}}
	now := time.Now()
	for i, d := range tenants {
		writeTenantMetrics(t, ctx, ts, d, now)
		sendTenantSpans(t, ctx, ts, d, []string{"grpc", "http", "grpc"}[i])
	}
	// Logs, so that the event store has each tenant's rows.
	for _, d := range tenants {
		h := map[string]string{"Content-Type": "application/x-ndjson"}
		if d.org != "" {
			h["X-Scope-OrgID"] = d.org
		}
		expectPost(t, ts.URL()+"/api/v1/logs/jsonl", []byte(`{"msg":"log of `+d.marker+`","service":"logs-`+d.marker+`"}`+"\n"), h, http.StatusOK, "")
	}

	// The derived series come with the next flush.
	for _, d := range tenants {
		deadline := time.Now().Add(15 * time.Second)
		for {
			vec := ts.queryAs(t, d.org, `count(traces_service_graph_request_total) + count(traces_spanmetrics_calls_total)`, time.Now())
			if len(vec) == 1 && vec[0].Value == 2+3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("tenant %q: derived series %v, want 2 edges and 3 span series", d.org, vec)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	end := time.Now().Add(time.Minute)
	start := now.Add(-5 * time.Minute)
	rng := "&start=" + strconv.FormatInt(start.Unix(), 10) + "&end=" + strconv.FormatInt(end.Unix(), 10)
	q := func(expr string) string { return "query=" + url.QueryEscape(expr) }
	for _, d := range tenants {
		t.Run("tenant="+d.marker, func(t *testing.T) {
			var foreign []string
			for _, o := range tenants {
				if o.org != d.org {
					foreign = append(foreign, o.marker)
					if o.org != "" {
						foreign = append(foreign, o.org)
					}
				}
			}
			// get reads path as the tenant and checks that the answer
			// shows neither the tenant label nor another tenant's data.
			get := func(path string, wantCode int, want ...string) string {
				t.Helper()
				code, b := tempoGet(t, ts, path, "", d.org)
				body := string(b)
				if code != wantCode {
					t.Errorf("GET %s: %d %s, want %d", path, code, truncateBody(b), wantCode)
				}
				if strings.Contains(body, "__tenant__") {
					t.Errorf("GET %s shows the tenant label: %s", path, truncateBody(b))
				}
				for _, f := range foreign {
					if strings.Contains(body, f) {
						t.Errorf("GET %s shows %q of another tenant: %s", path, f, truncateBody(b))
					}
				}
				for _, w := range want {
					if !strings.Contains(body, w) {
						t.Errorf("GET %s lacks %q: %s", path, w, truncateBody(b))
					}
				}
				return body
			}
			m := d.marker
			own := []string{"rw-" + m, "rw2-" + m, "otlp-" + m}
			at := "&time=" + strconv.FormatInt(end.Unix(), 10)
			get("/api/v1/query?"+q(`{__name__=~"tn_.+"}`)+at, 200, own...)
			get("/api/v1/query?"+q(`traces_spanmetrics_calls_total`)+at, 200, "front-"+m, "back-"+m)
			get("/api/v1/query_range?"+q(`sum by (job) (tn_rw_total)`)+rng+"&step=15", 200, "rw-"+m)
			get("/api/v1/series?match[]="+url.QueryEscape(`{__name__=~".+"}`)+rng, 200, append(own, "front-"+m)...)
			get("/api/v1/series?match[]="+url.QueryEscape(`{__tenant__=~".+"}`), 200)
			get("/api/v1/labels", 200, "only_"+m, "otlp_"+m)
			get("/api/v1/labels?match[]=tn_rw_total", 200, "only_"+m)
			get("/api/v1/label/job/values", 200, own...)
			get("/api/v1/label/__name__/values", 200, "tn_rw_total", "traces_spanmetrics_calls_total")
			get("/api/v1/label/service/values", 200, "front-"+m, "back-"+m)
			if body := get("/api/v1/label/__tenant__/values", 200); !strings.Contains(body, `"data":[]`) {
				t.Errorf("values of the tenant label: %s", body)
			}
			get("/api/v1/query_exemplars?"+q(`tn_rw_total`)+rng, 200, "trace-"+m)
			get("/api/v1/query_exemplars?"+q(`{__name__=~"traces_spanmetrics_latency_bucket|tn_rw_total"}`)+rng, 200, "trace-"+m, "front-"+m)
			get("/api/v1/metadata", 200, "help of "+m, "otlp of "+m)
			get("/api/v1/metadata?metric=tn_rw_total", 200, "help of "+m)
			get("/api/v1/status/tsdb?limit=1000", 200, "tn_rw_total", "only_"+m)
			get("/api/v1/status/buildinfo", 200)
			sg := get("/api/v1/service-graph?start="+strconv.FormatInt(start.Unix(), 10), 200, "front-"+m, "back-"+m)
			var graph struct{ Data servicegraph.Graph }
			if err := json.Unmarshal([]byte(sg), &graph); err != nil || len(graph.Data.Edges) != 2 || len(graph.Data.Nodes) != 3 {
				t.Errorf("service graph %s (%v), want 2 edges and 3 nodes", sg, err)
			}
			status := get("/api/v1/events/status", 200, "logs", "spans")
			var st struct {
				Data struct{ Tenants []struct{ Tenant string } }
			}
			if err := json.Unmarshal([]byte(status), &st); err != nil {
				t.Fatal(err)
			}
			org := cmp.Or(d.org, "default")
			for _, s := range st.Data.Tenants {
				if s.Tenant != org {
					t.Errorf("events status shows tenant %q", s.Tenant)
				}
			}
			if len(st.Data.Tenants) == 0 {
				t.Errorf("events status shows nothing of %q: %s", org, status)
			}

			// PromQL that touches labels can neither see nor match the
			// tenant label; absent() finds another tenant's series absent.
			absentB := `{job="rw-bravo"} 1`
			if m == "bravo" {
				absentB = ""
			}
			for expr, want := range map[string]string{
				`count by (__tenant__) ({__name__=~"tn_.+"})`:                 `{} 4`,
				`count without (job) ({__name__=~"tn_rw.*"})`:                 fmt.Sprintf(`{only_%s="x"} 1; {} 1`, m),
				`{__tenant__="team-b"}`:                                       ``,
				`{__tenant__="team-a"}`:                                       ``,
				`tn_rw_total{__tenant__=~".+"}`:                               ``,
				`absent(tn_rw_total{job="rw-bravo"})`:                         absentB,
				`label_replace(tn_rw_total, "t", "$1", "__tenant__", "(.+)")`: fmt.Sprintf(`tn_rw_total{job="rw-%s", only_%s="x"} 1`, m, m),
				`sum by (job) (tn_otlp_grpc_total)`:                           fmt.Sprintf(`{job="otlp-%s"} 3`, m),
				`sum(traces_spanmetrics_calls_total)`:                         `{} 3`,
			} {
				vec := ts.queryAs(t, d.org, expr, end)
				var got []string
				for _, s := range vec {
					got = append(got, s.Metric.String()+" "+s.Value.String())
				}
				slices.Sort(got)
				if g := strings.Join(got, "; "); g != want {
					t.Errorf("%s = %q, want %q", expr, g, want)
				}
			}

			// Scrape targets, the configuration and the TSDB's blocks
			// are the default tenant's.
			for _, p := range []string{"/api/v1/targets", "/api/v1/targets/metadata", "/api/v1/scrape_pools", "/api/v1/status/config", "/api/v1/status/tsdb/blocks"} {
				want := http.StatusOK
				if d.org != "" {
					want = http.StatusForbidden
				}
				if p == "/api/v1/targets/metadata" && d.org == "" {
					continue // Prometheus answers it only with targets
				}
				get(p, want)
			}
		})
	}

	// Tenants sending the same series bytes write their own series, also
	// once the remote-write series cache knows the bytes.
	rwHeader := func(org string) map[string]string {
		return map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": org}
	}
	for i := range 3 {
		for v, org := range []string{"team-a", "team-b"} {
			same := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: series("tn_same", "job", "same"),
				Samples: []prompb.Sample{{Value: float64(v), Timestamp: now.UnixMilli() + int64(i)*1000}}}}}
			b, err := same.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			expectPost(t, ts.URL()+"/api/v1/write", snappy.Encode(nil, b), rwHeader(org), http.StatusNoContent, "")
		}
	}
	for v, org := range []string{"team-a", "team-b"} {
		vec := ts.queryAs(t, org, `count_over_time(tn_same[1m]) * 10 + max_over_time(tn_same[1m])`, now.Add(5*time.Second))
		if len(vec) != 1 || vec[0].Value != model.SampleValue(30+v) {
			t.Errorf("tenant %s: tn_same %v, want 3 samples of %d", org, vec, v)
		}
	}

	// A client may not send the tenant label: remote write refuses the
	// series (400 naming the label), OTLP the data point (partial
	// success); the tenant it names gets nothing.
	evil := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: series("tn_evil", "__tenant__", "team-b"), Samples: []prompb.Sample{{Value: 1, Timestamp: now.UnixMilli()}}},
	}}
	b, err := evil.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	expectPost(t, ts.URL()+"/api/v1/write", snappy.Encode(nil, b), rwHeader("team-a"), http.StatusBadRequest, `reserved_label: label "__tenant__" of series tn_evil is reserved`)
	otlpEvil := fmt.Sprintf(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"tn.evil.otlp","gauge":{"dataPoints":[{"asDouble":1,"timeUnixNano":"%d","attributes":[{"key":"__tenant__","value":{"stringValue":"team-b"}}]}]}}]}]}]}`, now.UnixNano())
	expectPost(t, "http://"+ts.Addrs().OTLPHTTP+"/v1/metrics", []byte(otlpEvil), map[string]string{"Content-Type": "application/json", "X-Scope-OrgID": "team-a"},
		http.StatusOK, `"rejectedDataPoints":"1"`)
	// As a resource attribute, from the default tenant and from another:
	// target_info and promoted resource labels go through the same check.
	for _, org := range []string{"", "team-a"} {
		otlpRes := fmt.Sprintf(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"evil"}},{"key":"__tenant__","value":{"stringValue":"team-b"}}]},"scopeMetrics":[{"metrics":[{"name":"tn.resattr","gauge":{"dataPoints":[{"asDouble":1,"timeUnixNano":"%d"}]}}]}]}]}`, now.UnixNano())
		h := map[string]string{"Content-Type": "application/json"}
		if org != "" {
			h["X-Scope-OrgID"] = org
		}
		post := func() {
			req, _ := http.NewRequest(http.MethodPost, "http://"+ts.Addrs().OTLPHTTP+"/v1/metrics", strings.NewReader(otlpRes))
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
		}
		post()
	}
	// The data point is the writer's own; target_info, which would carry
	// the label, is refused; the tenant it names gets nothing.
	for _, org := range []string{"", "team-a", "team-b"} {
		vec := ts.queryAs(t, org, `{job="evil"}`, time.Now())
		want := 1
		if org == "team-b" {
			want = 0
		}
		if len(vec) != want || want == 1 && string(vec[0].Metric["__name__"]) != "tn_resattr" {
			t.Errorf("tenant %q reads %v, want only its own tn_resattr", org, vec)
		}
	}
	if vec := ts.queryAs(t, "team-b", `{__name__=~".+"}`, time.Now()); len(vec) > 0 {
		for _, s := range vec {
			if s.Metric["job"] == "evil" {
				t.Errorf("team-b reads %v", s)
			}
		}
	}
	for _, org := range []string{"", "team-a", "team-b"} {
		if vec := ts.queryAs(t, org, `{__name__=~"tn_evil.*"}`, time.Now()); len(vec) != 0 {
			t.Errorf("tenant %q reads %v", org, vec)
		}
	}
	if n := ts.selfMetric(t, "horus_ingest_rejected_total", map[string]string{"reason": "reserved_label", "protocol": "remote_write"}); n != 1 {
		t.Errorf("reserved_label rejections by remote write = %v, want 1", n)
	}

	// An invalid tenant is refused on writes and reads.
	expectPost(t, ts.URL()+"/api/v1/write", snappy.Encode(nil, b), rwHeader("../x"), http.StatusBadRequest, "invalid_tenant")
	for _, p := range []string{"/api/v1/query?query=up", "/api/v1/labels", "/api/v1/service-graph", "/api/v1/events/status"} {
		if code, body := tempoGet(t, ts, p, "", "a/b"); code != http.StatusBadRequest || !strings.Contains(string(body), "X-Scope-OrgID") {
			t.Errorf("GET %s with an invalid tenant: %d %s", p, code, body)
		}
	}
}

// TestScrapeIsTheDefaultTenants scrapes a target that exposes the tenant
// label: the series stays the default tenant's, the label renamed, and
// the scrape targets, their metadata and the head statistics are the
// default tenant's only.
func TestScrapeIsTheDefaultTenants(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# HELP tn_scraped scraped help\n# TYPE tn_scraped gauge\ntn_scraped{__tenant__=\"team-a\"} 7\ntn_scraped_plain 1\n")
	}))
	defer target.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "horus.yml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: scraped
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(target.URL, "http://"))), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "", func(c *config.Config) { *c = *withProm(c, loaded) })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		vec := ts.query(t, `tn_scraped{exported___tenant__="team-a"}`, time.Now())
		if len(vec) == 1 && vec[0].Value == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scraped series with the tenant label: %v", vec)
		}
	}
	if vec := ts.queryAs(t, "team-a", `{__name__=~"tn_scraped.*"} or up`, time.Now()); len(vec) != 0 {
		t.Errorf("team-a reads scraped series %v", vec)
	}
	for _, c := range []struct {
		path, org string
		code      int
		want      string
	}{
		{"/api/v1/targets", "", http.StatusOK, target.URL},
		{"/api/v1/targets", "team-a", http.StatusForbidden, "default tenant only"},
		{"/api/v1/metadata", "", http.StatusOK, "scraped help"},
		{"/api/v1/status/tsdb?limit=100", "", http.StatusOK, "tn_scraped_plain"},
		{"/api/v1/status/tsdb?limit=0", "", http.StatusBadRequest, "limit must be a positive number"},
	} {
		code, body := tempoGet(t, ts, c.path, "", c.org)
		if code != c.code || !strings.Contains(string(body), c.want) {
			t.Errorf("GET %s as %q: %d %s, want %d with %q", c.path, c.org, code, truncateBody(body), c.code, c.want)
		}
	}
	for _, p := range []string{"/api/v1/metadata", "/api/v1/status/tsdb"} {
		code, body := tempoGet(t, ts, p, "", "team-a")
		if code != http.StatusOK || strings.Contains(string(body), "scrape") || strings.Contains(string(body), "tn_") {
			t.Errorf("GET %s as team-a: %d %s", p, code, truncateBody(body))
		}
	}
}
