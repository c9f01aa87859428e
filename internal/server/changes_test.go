package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/horus-obs/horus/internal/changes"
)

func changeClient(ts *testServer, org string) *changes.Client {
	return &changes.Client{URL: ts.URL(), Tenant: org}
}

func listChanges(t *testing.T, ts *testServer, org string, p changes.ListParams) []changes.Change {
	t.Helper()
	list, _, err := changeClient(ts, org).List(context.Background(), p)
	if err != nil {
		t.Fatalf("GET /api/v1/changes: %v", err)
	}
	return list
}

// TestChangesAPI posts changes and reads them back over HTTP, per tenant,
// as a PromQL series, and never among the logs; bad input is a 4xx that
// names the problem.
func TestChangesAPI(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	deploy, warnings, err := changeClient(ts, "").Add(ctx, changes.Change{
		Kind: changes.KindDeploy, Service: "checkout", Version: "1.4.2", Author: "ci-bot", Description: "release 1.4.2",
		Links: []changes.Link{{Title: "pipeline", URL: "https://ci.example.com/runs/42"}}, Time: at,
	})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("POST: %v %v", err, warnings)
	}
	if deploy.ID == "" || deploy.Source != changes.SourceAPI || deploy.Tenant != "default" || !deploy.Time.Equal(at) {
		t.Fatalf("stored %+v", deploy)
	}
	flag := `{"kind":"feature_flag","service":"checkout","description":"new-cart on"}`
	expectPost(t, ts.URL()+"/api/v1/changes", []byte(flag), map[string]string{"Content-Type": "application/json"}, http.StatusOK, `"kind":"feature_flag"`)
	expectPost(t, ts.URL()+"/api/v1/changes", []byte(`{"kind":"config","service":"cart"}`),
		map[string]string{"Content-Type": "application/json", "X-Scope-OrgID": "team-b"}, http.StatusOK, `"tenant":"team-b"`)

	list := listChanges(t, ts, "", changes.ListParams{})
	if len(list) != 2 || list[0].Kind != changes.KindFeatureFlag || list[1].ID != deploy.ID || len(list[1].Links) != 1 || list[1].Author != "ci-bot" {
		t.Fatalf("GET: %+v, want the flag then the deploy, newest first", list)
	}
	if got := listChanges(t, ts, "", changes.ListParams{Service: "checkout", Kind: changes.KindDeploy}); len(got) != 1 || got[0].ID != deploy.ID {
		t.Fatalf("GET kind=deploy: %+v", got)
	}
	if got := listChanges(t, ts, "", changes.ListParams{Start: at.Add(-time.Hour), End: at.Add(-time.Second)}); len(got) != 0 {
		t.Fatalf("GET before the changes: %+v", got)
	}
	if got := listChanges(t, ts, "", changes.ListParams{Limit: 1}); len(got) != 1 || got[0].Kind != changes.KindFeatureFlag {
		t.Fatalf("GET limit=1: %+v, want the newest", got)
	}
	if got := listChanges(t, ts, "team-b", changes.ListParams{}); len(got) != 1 || got[0].Service != "cart" {
		t.Fatalf("tenant team-b: %+v, want its own change only", got)
	}

	// The series, for annotations, and the tenant's own.
	vec := ts.query(t, `horus_change_event{service="checkout", kind="deploy"}`, at)
	if len(vec) != 1 || vec[0].Metric["version"] != "1.4.2" || vec[0].Value != 1 || vec[0].Timestamp.Time().Sub(at).Abs() > time.Millisecond {
		t.Fatalf("PromQL at the change: %v", vec)
	}
	if vec := ts.query(t, `timestamp(horus_change_event{service="checkout", kind="deploy"})`, at.Add(time.Minute)); len(vec) != 1 || int64(vec[0].Value*1000) != at.UnixMilli() {
		t.Fatalf("timestamp() of the change: %v, want %d", vec, at.UnixMilli())
	}
	if vec := ts.query(t, `horus_change_event{service="cart"}`, time.Now()); len(vec) != 0 {
		t.Fatalf("team-b's change in the default tenant's series: %v", vec)
	}

	// Not among the logs.
	if r := lokiRange(t, ts, `{service_name="checkout"}`, nil); len(r.Data.Result) != 0 {
		t.Fatalf("change events in LogQL results: %+v", r.Data.Result)
	}

	// A change older than the metrics store takes: stored, with a warning.
	old := time.Now().Add(-3 * time.Hour)
	_, warnings, err = changeClient(ts, "").Add(ctx, changes.Change{Kind: changes.KindRollback, Service: "checkout", Version: "1.4.1", Time: old})
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "older than the metrics store takes") {
		t.Fatalf("a past change: %v, warnings %q", err, warnings)
	}
	if got := listChanges(t, ts, "", changes.ListParams{Start: old.Add(-time.Minute), Kind: changes.KindRollback}); len(got) != 1 {
		t.Fatalf("the past change is not listed: %+v", got)
	}

	jsonCT := map[string]string{"Content-Type": "application/json"}
	for _, tc := range []struct {
		body   string
		header map[string]string
		code   int
		want   string
	}{
		{`{"service":"checkout"}`, jsonCT, 400, "kind is missing"},
		{`{"kind":"deploy"}`, jsonCT, 400, "service is missing"},
		{`{"kind":"redeploy","service":"a"}`, jsonCT, 400, `kind \"redeploy\" is unknown; want one of deploy, config, feature_flag, rollback, other`},
		{`{"kind":"deploy","service":"a","release":"1"}`, jsonCT, 400, `unknown field \"release\"`},
		{`{"kind":"deploy","service":"a","links":[{"title":"x","url":"javascript:alert(1)"}]}`, jsonCT, 400, "want an absolute http:// or https:// URL"},
		{`{"kind":"deploy","service":"a","time":"` + time.Now().Add(time.Hour).Format(time.RFC3339) + `"}`, jsonCT, 400, "ahead of the server's clock"},
		{`{"kind":"deploy","service":"a","time":"last tuesday"}`, jsonCT, 400, "want RFC 3339"},
		{`{"kind":"deploy","service":"a","source":"auto"}`, jsonCT, 400, "Horus' own"},
		{`kind=deploy`, jsonCT, 400, "want a JSON object of a change"},
		{`{"kind":"deploy","service":"a"}`, map[string]string{"Content-Type": "text/plain"}, 415, "refused on write endpoints"},
		{`{"kind":"deploy","service":"a"}`, map[string]string{"Content-Type": "application/xml"}, 415, "send the change as application/json"},
		{`{"kind":"deploy","service":"a"}`, map[string]string{"Content-Type": "application/json", "X-Scope-OrgID": "a/b"}, 400, "X-Scope-OrgID header"},
		{`{"kind":"deploy","service":"a","description":"` + strings.Repeat("x", 2<<20) + `"}`, jsonCT, 413, "body_too_large"},
	} {
		expectPost(t, ts.URL()+"/api/v1/changes", []byte(tc.body), tc.header, tc.code, tc.want)
	}
	for _, tc := range []struct {
		method, query string
		code          int
		want          string
	}{
		{http.MethodPut, "", 405, "GET lists changes, POST adds one"},
		{http.MethodGet, "limit=0", 400, "want a whole number from 1 to 5000"},
		{http.MethodGet, "kind=deploys", 400, `kind \"deploys\" is unknown`},
		{http.MethodGet, "start=yesterday", 400, "start: "},
		{http.MethodGet, "start=2000&end=1000", 400, "is before start"},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL()+"/api/v1/changes?"+tc.query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s ?%s: %d %s, want %d containing %q", tc.method, tc.query, resp.StatusCode, b.String(), tc.code, tc.want)
		}
	}
}

// sendSpans exports n spans of service checkout at version (instance
// pod) through the OpenTelemetry SDK's OTLP/HTTP exporter, and waits
// for Horus to answer.
func sendSpans(t *testing.T, ts *testServer, version, pod string, n int) {
	t.Helper()
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(ts.Addrs().OTLPHTTP), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(resource.NewSchemaless(
		attribute.String("service.name", "checkout"), attribute.String("service.version", version),
		attribute.String("service.instance.id", pod))))
	for i := 0; i < n; i++ {
		_, span := tp.Tracer("test").Start(ctx, "GET /cart")
		span.End()
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// sendMetric pushes a counter of service inventory at version through
// the OpenTelemetry SDK's OTLP/HTTP metric exporter.
func sendMetric(t *testing.T, ts *testServer, version string) {
	t.Helper()
	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(ts.Addrs().OTLPHTTP), otlpmetrichttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	provider := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "inventory"), attribute.String("service.version", version))),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
	)
	c, _ := provider.Meter("test").Int64Counter("lookups")
	c.Add(ctx, 1)
	if err := provider.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestChangesFromTelemetry: a new service.version in spans sent with the
// OTel SDK makes exactly one change event, however many spans and
// instances follow with it, also from concurrent requests; a restart
// makes none for the version already recorded, and keeps the changes
// and their series.
func TestChangesFromTelemetry(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	deploys := func(ts *testServer) []changes.Change {
		return listChanges(t, ts, "", changes.ListParams{Service: "checkout", Kind: changes.KindDeploy})
	}

	sendSpans(t, ts, "1.0.0", "pod-1", 3)
	if got := deploys(ts); len(got) != 0 {
		t.Fatalf("the first version seen made changes: %+v", got)
	}
	sendSpans(t, ts, "2.0.0", "pod-1", 3)
	got := deploys(ts)
	if len(got) != 1 {
		t.Fatalf("a new version made %d changes, want 1: %+v", len(got), got)
	}
	c := got[0]
	if c.Version != "2.0.0" || c.PreviousVersion != "1.0.0" || c.Instance != "pod-1" || c.Source != changes.SourceAuto || time.Since(c.Time) > time.Minute {
		t.Fatalf("detected change %+v", c)
	}
	if got := listChanges(t, ts, "", changes.ListParams{Instance: "pod-1"}); len(got) != 1 {
		t.Fatalf("GET instance=pod-1: %+v", got)
	}
	if got := listChanges(t, ts, "", changes.ListParams{Instance: "pod-2"}); len(got) != 0 {
		t.Fatalf("GET instance=pod-2: %+v", got)
	}
	var wg sync.WaitGroup
	for _, pod := range []string{"pod-1", "pod-2", "pod-3", "pod-4"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendSpans(t, ts, "2.0.0", pod, 5)
		}()
	}
	wg.Wait()
	if got := deploys(ts); len(got) != 1 {
		t.Fatalf("more spans at the new version made %d changes, want 1: %+v", len(got), got)
	}
	if vec := ts.query(t, `horus_change_event{service="checkout", version="2.0.0"}`, c.Time); len(vec) != 1 || vec[0].Metric["instance"] != "pod-1" {
		t.Fatalf("the detected change's series: %v", vec)
	}

	// Loki push streams carry the version as a label.
	lokiPush := func(version string) {
		ns := time.Now().UnixNano()
		body, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{
			"stream": map[string]string{"service_name": "cart", "service_version": version},
			"values": [][]string{{strconv.FormatInt(ns, 10), "a line"}},
		}}})
		expectPost(t, ts.URL()+"/loki/api/v1/push", body, map[string]string{"Content-Type": "application/json"}, http.StatusNoContent, "")
	}
	lokiPush("a")
	lokiPush("b")
	lokiPush("b")
	if got := listChanges(t, ts, "", changes.ListParams{Service: "cart"}); len(got) != 1 || got[0].Version != "b" || got[0].PreviousVersion != "a" {
		t.Fatalf("changes from Loki push: %+v", got)
	}

	// OTLP metrics: the resource of each batch.
	sendMetric(t, ts, "5")
	sendMetric(t, ts, "6")
	sendMetric(t, ts, "6")
	if got := listChanges(t, ts, "", changes.ListParams{Service: "inventory"}); len(got) != 1 || got[0].Version != "6" || got[0].PreviousVersion != "5" {
		t.Fatalf("changes from OTLP metrics: %+v", got)
	}

	ts.stop()
	ts = startServer(t, dir)
	sendSpans(t, ts, "2.0.0", "pod-5", 2)
	lokiPush("b")
	got = deploys(ts)
	if len(got) != 1 || got[0].ID != c.ID {
		t.Fatalf("after a restart, the recorded version made changes: %+v", got)
	}
	if vec := ts.query(t, `horus_change_event{service="checkout"}`, c.Time); len(vec) != 1 {
		t.Fatalf("the change's series after a restart: %v", vec)
	}
	sendSpans(t, ts, "2.1.0", "pod-5", 2)
	if got := deploys(ts); len(got) != 2 || got[0].Version != "2.1.0" || got[0].PreviousVersion != "2.0.0" {
		t.Fatalf("a new version after the restart: %+v", got)
	}
}
