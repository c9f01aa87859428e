package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go"
	zipkinmw "github.com/openzipkin/zipkin-go/middleware/http"
	zipkinreporter "github.com/openzipkin/zipkin-go/reporter/http"
)

// TestZipkin instruments two HTTP services with zipkin-go, whose reporter
// posts Zipkin v2 JSON to /api/v2/spans, and reads the joined trace back
// through the Tempo API: B3 propagation, kinds, services, the error tag as
// status; then the answers to bad bodies.
func TestZipkin(t *testing.T) {
	ts := startServer(t, "")
	reporter := zipkinreporter.NewReporter(ts.URL()+"/api/v2/spans", zipkinreporter.BatchInterval(time.Hour),
		zipkinreporter.RequestCallback(func(r *http.Request) { r.Header.Set("X-Scope-OrgID", "zipkin-team") }))
	tracer := func(service string) *zipkin.Tracer {
		ep, err := zipkin.NewEndpoint(service, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tr, err := zipkin.NewTracer(reporter, zipkin.WithLocalEndpoint(ep), zipkin.WithSharedSpans(false))
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	inventory := httptest.NewServer(zipkinmw.NewServerMiddleware(tracer("inventory"), zipkinmw.SpanName("reserve"))(
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "out of stock", http.StatusConflict) })))
	defer inventory.Close()
	front := tracer("storefront")
	rt, err := zipkinmw.NewTransport(front)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: rt}
	var traceID string
	storefront := httptest.NewServer(zipkinmw.NewServerMiddleware(front, zipkinmw.SpanName("order"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			traceID = zipkin.SpanFromContext(r.Context()).Context().TraceID.String()
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, inventory.URL+"/reserve", nil)
			resp, err := client.Do(req)
			if err == nil {
				_ = resp.Body.Close()
			}
		})))
	defer storefront.Close()
	resp, err := http.Post(storefront.URL+"/order", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	_ = reporter.Close() // sends the batch

	if len(traceID) != 16 {
		t.Fatalf("zipkin-go trace id %q, want 64 bits", traceID)
	}
	code, body := tempoGet(t, ts, "/api/traces/"+traceID, "application/json", "zipkin-team")
	if code != http.StatusOK {
		t.Fatalf("trace %s: %d %s", traceID, code, body)
	}
	var tr struct {
		Batches []struct {
			Resource struct {
				Attributes []struct {
					Key   string
					Value struct{ StringValue string }
				}
			}
			ScopeSpans []struct {
				Spans []struct {
					Name, SpanID, ParentSpanID string
					Kind                       int // OTLP/JSON has enums as numbers
					Status                     struct{ Code int }
				}
			}
		}
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // service/name → kind status
	ids := map[string]string{}
	parents := map[string]string{}
	for _, b := range tr.Batches {
		svc := ""
		for _, a := range b.Resource.Attributes {
			if a.Key == "service.name" {
				svc = a.Value.StringValue
			}
		}
		for _, ss := range b.ScopeSpans {
			for _, s := range ss.Spans {
				k := svc + "/" + s.Name
				got[k] = fmt.Sprint(s.Kind, " ", s.Status.Code)
				ids[k], parents[k] = s.SpanID, s.ParentSpanID
			}
		}
	}
	want := map[string]string{
		"storefront/order":     "2 0", // server
		"storefront/http/post": "3 2", // client, error
		"inventory/reserve":    "2 2",
	}
	if len(got) != len(want) {
		t.Fatalf("spans %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if parents["inventory/reserve"] != ids["storefront/http/post"] || parents["storefront/http/post"] != ids["storefront/order"] {
		t.Errorf("the spans are not one tree: ids %v, parents %v", ids, parents)
	}
	if n := ts.selfMetric(t, "horus_ingest_received_total", map[string]string{"protocol": "zipkin"}); n != 3 {
		t.Errorf("received zipkin spans = %v, want 3", n)
	}

	for _, c := range []struct {
		body, ctype string
		code        int
		msg         string
	}{
		{`{"not":"an array"}`, "application/json", 400, "not a JSON array of Zipkin v2 spans"},
		{`[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2"}]`, "application/json", 400, "has no timestamp"},
		{`[]`, "application/x-protobuf", 415, "Zipkin v2 spans as application/json"},
		{`[]`, "application/json", 202, ""},
	} {
		resp, err := http.Post(ts.URL()+"/api/v2/spans", c.ctype, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 512)
		n, _ := resp.Body.Read(b)
		_ = resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b[:n]), c.msg) {
			t.Errorf("%s: %d %q, want %d %q", c.body, resp.StatusCode, b[:n], c.code, c.msg)
		}
	}
}
