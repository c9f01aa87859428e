package sdk_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/sdk"
	"github.com/horus-obs/horus/sdk/logging"
)

// service is a Telemetry whose spans are recorded in memory and whose JSON
// log lines are kept.
type service struct {
	*sdk.Telemetry
	spans *tracetest.SpanRecorder
	logs  *syncBuffer
}

func startService(t *testing.T, cfg sdk.Config) *service {
	t.Helper()
	s := &service{spans: tracetest.NewSpanRecorder(), logs: &syncBuffer{}}
	if cfg.Service == "" {
		cfg.Service = "shop"
	}
	cfg.SpanProcessors = append(cfg.SpanProcessors, s.spans)
	if cfg.LogWriter == nil {
		cfg.LogWriter = s.logs
	}
	tel, shutdown, err := sdk.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	s.Telemetry = tel
	return s
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes the JSON log lines written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// line returns the first log line with msg whose fields include want.
func (b *syncBuffer) line(t *testing.T, msg string, want map[string]any) map[string]any {
	t.Helper()
next:
	for _, l := range b.lines(t) {
		if l["msg"] != msg {
			continue
		}
		for k, v := range want {
			if fmt.Sprint(l[k]) != fmt.Sprint(v) {
				continue next
			}
		}
		return l
	}
	t.Fatalf("no %q log line with %v in:\n%s", msg, want, b.String())
	return nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitSpan waits (at most 5 s) for an ended span matching ok.
func waitSpan(t *testing.T, rec *tracetest.SpanRecorder, what string, ok func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, s := range rec.Ended() {
			if ok(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			var names []string
			for _, s := range rec.Ended() {
				names = append(names, s.Name())
			}
			t.Fatalf("no span %s among %q", what, names)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func serverSpan(s sdktrace.ReadOnlySpan) bool { return s.SpanKind() == trace.SpanKindServer }
func clientSpan(s sdktrace.ReadOnlySpan) bool { return s.SpanKind() == trace.SpanKindClient }

func attr(s sdktrace.ReadOnlySpan, key string) (string, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String(), true
		}
	}
	return "", false
}

func resourceAttr(s sdktrace.ReadOnlySpan, key string) string {
	v, _ := s.Resource().Set().Value(attribute.Key(key))
	return v.String()
}

// series returns the samples of metric name on reg, keyed by their labels
// as name="value" pairs joined with commas in label-name order.
func series(t *testing.T, reg prometheus.Gatherer, name string) map[string]*dto.Metric {
	t.Helper()
	out, err := gatherSeries(reg, name)
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return out
}

// gatherSeries is series without a test.
func gatherSeries(reg prometheus.Gatherer, name string) (map[string]*dto.Metric, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]*dto.Metric{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			sort.Strings(ls)
			out[strings.Join(ls, ",")] = m
		}
	}
	return out, nil
}

func sortedKeys(m map[string]*dto.Metric) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// shopMux is a small ServeMux: items by id, a handler that logs with the
// request's context, one that panics, one that fails.
func shopMux(s *service) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.Logger.InfoContext(r.Context(), "item viewed", "item_id", r.PathValue("id"))
		_, _ = io.WriteString(w, "item "+r.PathValue("id"))
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) {
		panic("inventory is nil")
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream down", http.StatusBadGateway)
	})
	return mux
}

// reply is what a test reads of a response.
type reply struct {
	StatusCode int
	Header     http.Header
}

// get sends a GET with header and reads the whole response.
func get(t *testing.T, url string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return reply{resp.StatusCode, resp.Header}
}

// TestMiddlewareContinuesTraceparent: a request with a W3C traceparent is
// served in a child span of it, named after the route pattern, and its
// metrics, exemplar, request id and log lines say the same.
func TestMiddlewareContinuesTraceparent(t *testing.T) {
	s := startService(t, sdk.Config{})
	srv := httptest.NewServer(s.Middleware(shopMux(s)))
	defer srv.Close()

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp := get(t, srv.URL+"/items/42", map[string]string{
		"traceparent":  "00-" + traceID + "-" + parentID + "-01",
		"X-Request-ID": "req-abc-1",
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Request-ID"); got != "req-abc-1" {
		t.Errorf("X-Request-ID echoed as %q, want req-abc-1", got)
	}

	span := waitSpan(t, s.spans, "server", serverSpan)
	if span.SpanContext().TraceID().String() != traceID || span.Parent().SpanID().String() != parentID {
		t.Errorf("span trace %s parent %s, want trace %s parent %s", span.SpanContext().TraceID(), span.Parent().SpanID(), traceID, parentID)
	}
	if span.Name() != "GET /items/{id}" {
		t.Errorf("span name %q, want %q", span.Name(), "GET /items/{id}")
	}
	if r, _ := attr(span, "http.route"); r != "/items/{id}" {
		t.Errorf("http.route = %q", r)
	}

	reqs := series(t, s.Registry, "http_requests_total")
	key := `method="GET",route="/items/{id}",status="200"`
	c, ok := reqs[key]
	if !ok || c.GetCounter().GetValue() != 1 {
		t.Fatalf("http_requests_total: want {%s} 1, got %v", key, sortedKeys(reqs))
	}
	if ex := c.GetCounter().GetExemplar(); ex == nil || !hasTraceID(ex, traceID) {
		t.Errorf("counter exemplar %v, want trace_id %s", ex, traceID)
	}
	h, ok := series(t, s.Registry, "http_request_duration_seconds")[`method="GET",route="/items/{id}"`]
	if !ok || h.GetHistogram().GetSampleCount() != 1 {
		t.Fatalf("http_request_duration_seconds{GET,/items/{id}} missing or count != 1")
	}
	found := false
	for _, b := range h.GetHistogram().GetBucket() {
		if ex := b.GetExemplar(); ex != nil && hasTraceID(ex, traceID) {
			found = true
		}
	}
	if !found {
		t.Errorf("no bucket exemplar with trace_id %s", traceID)
	}
	if g := series(t, s.Registry, "http_requests_in_progress")[`method="GET",route="/items/{id}"`]; g == nil || g.GetGauge().GetValue() != 0 {
		t.Errorf("http_requests_in_progress after the request: %v, want 0", g)
	}

	spanID := span.SpanContext().SpanID().String()
	s.logs.line(t, "item viewed", map[string]any{"request_id": "req-abc-1", "trace_id": traceID, "span_id": spanID, "item_id": "42"})
	done := s.logs.line(t, "request completed", map[string]any{
		"request_id": "req-abc-1", "trace_id": traceID, "span_id": spanID,
		"method": "GET", "route": "/items/{id}", "path": "/items/42", "status": 200,
	})
	if d, ok := done["duration_ms"].(float64); !ok || d < 0 || d > 10000 {
		t.Errorf("duration_ms = %v", done["duration_ms"])
	}
}

func hasTraceID(ex *dto.Exemplar, id string) bool {
	for _, lp := range ex.GetLabel() {
		if lp.GetName() == "trace_id" && lp.GetValue() == id {
			return len(ex.GetLabel()) == 1
		}
	}
	return false
}

// TestMiddlewareContinuesB3 continues traces from B3 headers, in the single
// header form and the multiple header form.
func TestMiddlewareContinuesB3(t *testing.T) {
	const traceID, parentID = "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1"
	for name, h := range map[string]map[string]string{
		"single":   {"b3": traceID + "-" + parentID + "-1"},
		"multiple": {"X-B3-TraceId": traceID, "X-B3-SpanId": parentID, "X-B3-Sampled": "1"},
	} {
		t.Run(name, func(t *testing.T) {
			s := startService(t, sdk.Config{SampleRatio: -1}) // new roots unsampled: the span exists only through B3's decision
			srv := httptest.NewServer(s.Middleware(shopMux(s)))
			defer srv.Close()
			get(t, srv.URL+"/items/7", h)
			span := waitSpan(t, s.spans, "server", serverSpan)
			if span.SpanContext().TraceID().String() != traceID || span.Parent().SpanID().String() != parentID || !span.Parent().IsRemote() {
				t.Errorf("span trace %s parent %s, want %s %s", span.SpanContext().TraceID(), span.Parent().SpanID(), traceID, parentID)
			}
		})
	}
}

// TestTraceparentWinsOverB3: with both header kinds, traceparent decides.
func TestTraceparentWinsOverB3(t *testing.T) {
	s := startService(t, sdk.Config{})
	srv := httptest.NewServer(s.Middleware(shopMux(s)))
	defer srv.Close()
	const w3c = "4bf92f3577b34da6a3ce929d0e0e4736"
	get(t, srv.URL+"/items/1", map[string]string{
		"traceparent": "00-" + w3c + "-00f067aa0ba902b7-01",
		"b3":          "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
	})
	if got := waitSpan(t, s.spans, "server", serverSpan).SpanContext().TraceID().String(); got != w3c {
		t.Errorf("trace %s, want the traceparent's %s", got, w3c)
	}
}

// TestMiddlewareUnmatchedRouteBounded: requests no pattern matches share
// one route label, however many paths they use.
func TestMiddlewareUnmatchedRouteBounded(t *testing.T) {
	s := startService(t, sdk.Config{})
	srv := httptest.NewServer(s.Middleware(shopMux(s)))
	defer srv.Close()
	for i := range 50 {
		if resp := get(t, fmt.Sprintf("%s/wp-admin/%d/%s.php", srv.URL, i, uuid.NewString()), nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// A method the pattern does not allow: 405, also unmatched.
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/orders", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()

	want := []string{
		`method="DELETE",route="unmatched",status="405"`,
		`method="GET",route="unmatched",status="404"`,
	}
	if got := sortedKeys(series(t, s.Registry, "http_requests_total")); !slices.Equal(got, want) {
		t.Errorf("http_requests_total series %q, want %q", got, want)
	}
	if got := series(t, s.Registry, "http_requests_total")[want[1]].GetCounter().GetValue(); got != 50 {
		t.Errorf("unmatched 404s counted %v, want 50", got)
	}
	if got := sortedKeys(series(t, s.Registry, "http_requests_in_progress")); !slices.Equal(got, []string{`method="DELETE",route="unmatched"`, `method="GET",route="unmatched"`}) {
		t.Errorf("http_requests_in_progress series %q", got)
	}
	span := waitSpan(t, s.spans, "server", serverSpan)
	if _, ok := attr(span, "http.route"); ok || span.Name() != "GET" {
		t.Errorf("unmatched span named %q with http.route set: %v", span.Name(), ok)
	}
}

// TestMiddlewareFallbackNormaliser: a handler that is not a ServeMux (or a
// mux behind middleware that copies the request) gets the normalised path.
func TestMiddlewareFallbackNormaliser(t *testing.T) {
	s := startService(t, sdk.Config{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewServer(s.Middleware(h))
	defer srv.Close()
	get(t, srv.URL+"/users/42/orders/9f0c8a1e-5b7d-4c1e-9a3f-2b8e6d4c7a10", nil)
	get(t, srv.URL+"/users/43/orders/1b0c8a1e-5b7d-4c1e-9a3f-2b8e6d4c7a10", nil)
	get(t, srv.URL+"/missing/1", nil)
	want := []string{
		`method="GET",route="/users/{id}/orders/{uuid}",status="200"`,
		`method="GET",route="unmatched",status="404"`,
	}
	if got := sortedKeys(series(t, s.Registry, "http_requests_total")); !slices.Equal(got, want) {
		t.Errorf("series %q, want %q", got, want)
	}
	span := waitSpan(t, s.spans, "normalised", func(s sdktrace.ReadOnlySpan) bool { return s.Name() == "GET /users/{id}/orders/{uuid}" })
	if r, _ := attr(span, "http.route"); r != "/users/{id}/orders/{uuid}" {
		t.Errorf("http.route %q", r)
	}
}

// TestMiddlewarePanic: a panicking handler is answered 500, logged with its
// stack and counted; the server goes on serving.
func TestMiddlewarePanic(t *testing.T) {
	s := startService(t, sdk.Config{})
	srv := httptest.NewServer(s.Middleware(shopMux(s)))
	defer srv.Close()
	if resp := get(t, srv.URL+"/boom", nil); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	if resp := get(t, srv.URL+"/items/1", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the panic: status %d", resp.StatusCode)
	}
	if c := series(t, s.Registry, "http_server_panics_total")[`method="GET",route="/boom"`]; c == nil || c.GetCounter().GetValue() != 1 {
		t.Errorf("http_server_panics_total{GET,/boom} = %v, want 1", c)
	}
	if c := series(t, s.Registry, "http_requests_total")[`method="GET",route="/boom",status="500"`]; c == nil || c.GetCounter().GetValue() != 1 {
		t.Errorf("http_requests_total{GET,/boom,500} = %v, want 1", c)
	}
	if g := series(t, s.Registry, "http_requests_in_progress")[`method="GET",route="/boom"`]; g == nil || g.GetGauge().GetValue() != 0 {
		t.Errorf("in progress after a panic: %v, want 0", g)
	}
	l := s.logs.line(t, "panic recovered", map[string]any{"level": "ERROR", "route": "/boom", "panic": "inventory is nil"})
	if st, _ := l["stack"].(string); !strings.Contains(st, "sdk_test.shopMux") {
		t.Errorf("stack does not show the panicking handler: %q", st)
	}
	s.logs.line(t, "request completed", map[string]any{"level": "ERROR", "route": "/boom", "status": 500})
	span := waitSpan(t, s.spans, "/boom", func(s sdktrace.ReadOnlySpan) bool { return s.Name() == "GET /boom" })
	if span.Status().Code.String() != "Error" || len(span.Events()) == 0 || span.Events()[0].Name != "exception" {
		t.Errorf("span status %v events %v, want Error with an exception event", span.Status(), span.Events())
	}
}

// TestRequestID: a valid X-Request-ID is kept; a missing or unsafe one is
// replaced by a generated id, echoed and logged.
func TestRequestID(t *testing.T) {
	s := startService(t, sdk.Config{})
	srv := httptest.NewServer(s.Middleware(shopMux(s)))
	defer srv.Close()
	for _, in := range []string{"", "has space", strings.Repeat("x", 129)} {
		resp := get(t, srv.URL+"/items/5", map[string]string{"X-Request-ID": in})
		id := resp.Header.Get("X-Request-ID")
		if id == "" || id == in || len(id) != 26 {
			t.Errorf("X-Request-ID %q answered %q, want a generated 26-character id", in, id)
			continue
		}
		s.logs.line(t, "item viewed", map[string]any{"request_id": id})
	}
}

// TestNotSampledNoExemplar: a request whose trace is not sampled is
// counted without an exemplar (an exemplar must point at a stored trace).
func TestNotSampledNoExemplar(t *testing.T) {
	s := startService(t, sdk.Config{SampleRatio: -1})
	srv := httptest.NewServer(s.Middleware(shopMux(s)))
	defer srv.Close()
	get(t, srv.URL+"/items/1", nil)
	c := series(t, s.Registry, "http_requests_total")[`method="GET",route="/items/{id}",status="200"`]
	if c == nil || c.GetCounter().GetValue() != 1 || c.GetCounter().GetExemplar() != nil {
		t.Errorf("counter %v: want 1 without exemplar", c)
	}
	if n := len(s.spans.Ended()); n != 0 {
		t.Errorf("%d spans recorded with no trace sampled", n)
	}
	if l := s.logs.line(t, "request completed", nil); l["trace_id"] == nil {
		t.Errorf("an unsampled request's log line has no trace_id: %v", l) // the trace id exists; logs still correlate
	}
}

// TestClientAndTwoServices runs two services in one process: frontend calls
// inventory through Transport. The trace continues across them, the
// client span names its peer, each service's spans carry its own
// service.name, and the client histogram counts the call.
func TestClientAndTwoServices(t *testing.T) {
	frontend := startService(t, sdk.Config{Service: "frontend"})
	inventory := startService(t, sdk.Config{Service: "inventory"})
	inv := httptest.NewServer(inventory.Middleware(shopMux(inventory)))
	defer inv.Close()

	client := frontend.Client("inventory")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, inv.URL+"/items/9", nil)
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_ = resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	})
	front := httptest.NewServer(frontend.Middleware(mux))
	defer front.Close()
	if resp := get(t, front.URL+"/checkout", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}

	cs := waitSpan(t, frontend.spans, "client", clientSpan)
	ss := waitSpan(t, inventory.spans, "server", serverSpan)
	fs := waitSpan(t, frontend.spans, "server", serverSpan)
	if p, _ := attr(cs, "peer.service"); p != "inventory" {
		t.Errorf("client span peer.service = %q", p)
	}
	if p, _ := attr(cs, "service.peer.name"); p != "inventory" {
		t.Errorf("client span service.peer.name = %q", p)
	}
	if cs.Name() != "GET" {
		t.Errorf("client span name %q, want GET", cs.Name())
	}
	if ss.Parent().SpanID() != cs.SpanContext().SpanID() || cs.Parent().SpanID() != fs.SpanContext().SpanID() {
		t.Errorf("spans not chained: frontend %s → client %s (parent %s) → inventory (parent %s)",
			fs.SpanContext().SpanID(), cs.SpanContext().SpanID(), cs.Parent().SpanID(), ss.Parent().SpanID())
	}
	for _, c := range []struct {
		s    sdktrace.ReadOnlySpan
		want string
	}{{fs, "frontend"}, {cs, "frontend"}, {ss, "inventory"}} {
		if got := resourceAttr(c.s, "service.name"); got != c.want {
			t.Errorf("span %q of service %q, want %q", c.s.Name(), got, c.want)
		}
	}
	if n := len(inventory.spans.Ended()); n != 1 {
		t.Errorf("inventory recorded %d spans, want its own 1", n)
	}
	if got := sortedKeys(series(t, inventory.Registry, "http_requests_total")); !slices.Equal(got, []string{`method="GET",route="/items/{id}",status="200"`}) {
		t.Errorf("inventory's requests %q", got)
	}
	if got := sortedKeys(series(t, frontend.Registry, "http_requests_total")); !slices.Equal(got, []string{`method="GET",route="/checkout",status="200"`}) {
		t.Errorf("frontend's requests %q", got)
	}

	h := series(t, frontend.Registry, "http_client_request_duration_seconds")[`method="GET",peer="inventory",status="200"`]
	if h == nil || h.GetHistogram().GetSampleCount() != 1 {
		t.Fatalf("http_client_request_duration_seconds{inventory,GET,200}: %v", sortedKeys(series(t, frontend.Registry, "http_client_request_duration_seconds")))
	}
	found := false
	for _, b := range h.GetHistogram().GetBucket() {
		if ex := b.GetExemplar(); ex != nil && hasTraceID(ex, cs.SpanContext().TraceID().String()) {
			found = true
		}
	}
	if !found {
		t.Error("client histogram has no exemplar with the trace id")
	}
}

// TestClientError: a round trip that fails is observed with status
// "error" and an error span.
func TestClientError(t *testing.T) {
	s := startService(t, sdk.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now: connection refused
	ctx, span := s.Tracer("test").Start(context.Background(), "pay")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/charge", nil)
	resp, err := s.Client("bank-api").Do(req)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("request to a closed port succeeded")
	}
	span.End()
	if h := series(t, s.Registry, "http_client_request_duration_seconds")[`method="POST",peer="bank-api",status="error"`]; h == nil || h.GetHistogram().GetSampleCount() != 1 {
		t.Errorf("no {bank-api,POST,error} observation: %v", sortedKeys(series(t, s.Registry, "http_client_request_duration_seconds")))
	}
	cs := waitSpan(t, s.spans, "client", clientSpan)
	if cs.Status().Code.String() != "Error" {
		t.Errorf("client span status %v", cs.Status())
	}
	if p, _ := attr(cs, "peer.service"); p != "bank-api" {
		t.Errorf("peer.service %q", p)
	}
}

// TestMetricsHandlerNegotiatesOpenMetrics: exemplars are exposed to a
// scraper that accepts OpenMetrics, and the classic text format is
// served otherwise.
func TestMetricsHandlerNegotiatesOpenMetrics(t *testing.T) {
	s := startService(t, sdk.Config{NativeHistograms: true})
	mux := shopMux(s)
	mux.Handle("GET /metrics", s.MetricsHandler())
	srv := httptest.NewServer(s.Middleware(mux))
	defer srv.Close()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	get(t, srv.URL+"/items/3", map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"})

	scrape := func(accept string) (string, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("Content-Type"), string(b)
	}
	ct, body := scrape("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	if !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("content type %q, want OpenMetrics", ct)
	}
	if !strings.Contains(body, `# {trace_id="`+traceID+`"}`) {
		t.Errorf("OpenMetrics exposition has no exemplar with trace_id %s:\n%s", traceID, body)
	}
	for _, want := range []string{"http_request_duration_seconds_bucket{", "go_goroutines", "process_cpu_seconds_total", "http_requests_in_progress{"} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	ct, body = scrape("")
	if !strings.HasPrefix(ct, "text/plain") || strings.Contains(body, "# {trace_id") {
		t.Errorf("without Accept: content type %q, exemplars present %v", ct, strings.Contains(body, "# {trace_id"))
	}
	// Native histogram beside the classic buckets.
	h := series(t, s.Registry, "http_request_duration_seconds")[`method="GET",route="/items/{id}"`]
	if h == nil || h.GetHistogram().GetSchema() == 0 && len(h.GetHistogram().GetPositiveSpan()) == 0 || len(h.GetHistogram().GetBucket()) == 0 {
		t.Errorf("want native and classic buckets: %v", h)
	}
}

// TestResource: the resource carries the configured and detected
// attributes.
func TestResource(t *testing.T) {
	s := startService(t, sdk.Config{Service: "orders", Version: "1.4.2", Environment: "staging",
		Attributes: []attribute.KeyValue{attribute.String("service.namespace", "shop"), attribute.String("service.name", "overridden")}})
	set := s.Resource.Set()
	want := map[string]string{
		"service.name": "orders", "service.version": "1.4.2", "service.namespace": "shop",
		"deployment.environment.name": "staging", "deployment.environment": "staging",
		"telemetry.sdk.language": "go", "telemetry.sdk.name": "opentelemetry",
		"telemetry.distro.name": "github.com/horus-obs/horus/sdk",
	}
	for k, v := range want {
		if got, _ := set.Value(attribute.Key(k)); got.String() != v {
			t.Errorf("%s = %q, want %q", k, got.String(), v)
		}
	}
	for _, k := range []string{"host.name", "process.pid"} {
		if v, ok := set.Value(attribute.Key(k)); !ok || v.String() == "" {
			t.Errorf("%s missing", k)
		}
	}
	id, _ := set.Value("service.instance.id")
	if _, err := uuid.Parse(id.String()); err != nil {
		t.Errorf("service.instance.id %q is not a UUID", id.String())
	}
	other := startService(t, sdk.Config{Service: "orders", InstanceID: "orders-2"})
	if v, _ := other.Resource.Set().Value("service.instance.id"); v.String() != "orders-2" {
		t.Errorf("service.instance.id %q, want orders-2", v.String())
	}
}

// TestStartRejectsBadConfig: every refusal names the field.
func TestStartRejectsBadConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  sdk.Config
		want string
	}{
		{sdk.Config{}, "Config.Service"},
		{sdk.Config{Service: "a", SampleRatio: 1.5}, "Config.SampleRatio"},
		{sdk.Config{Service: "a", Endpoint: "127.0.0.1:4318"}, "Config.Endpoint"},
		{sdk.Config{Service: "a", Endpoint: "ftp://h:1"}, "Config.Endpoint"},
		{sdk.Config{Service: "a", MetricsInterval: -time.Second}, "Config.MetricsInterval"},
	} {
		_, _, err := sdk.Start(context.Background(), c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Start(%+v) = %v, want an error naming %s", c.cfg, err, c.want)
		}
	}
}

// TestShutdownJoinsErrorsOnce: spans that cannot be delivered make
// shutdown fail; a second call returns the same result without work.
func TestShutdownJoinsErrorsOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	tel, shutdown, err := sdk.Start(context.Background(), sdk.Config{Service: "a", Endpoint: "http://" + addr, LogWriter: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.Tracer("test").Start(context.Background(), "lost")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	first := shutdown(ctx)
	if first == nil {
		t.Fatal("shutdown with an unreachable endpoint reported no error")
	}
	if second := shutdown(context.Background()); second != first { //nolint:errorlint // the same value is the point
		t.Errorf("second shutdown = %v, want the first's %v", second, first)
	}
}

// TestLoggerRedacts: the Telemetry's logger masks secrets by default.
func TestLoggerRedacts(t *testing.T) {
	s := startService(t, sdk.Config{})
	ctx := logging.WithFields(context.Background())
	logging.AddFields(ctx, slog.String(logging.TenantIDKey, "acme"))
	s.Logger.InfoContext(ctx, "login", "password", "hunter2", "card", "4111 1111 1111 1111")
	l := s.logs.line(t, "login", map[string]any{"tenant_id": "acme"})
	if l["password"] == "hunter2" || strings.Contains(fmt.Sprint(l["card"]), "4111 1111 1111 1111") {
		t.Errorf("secrets logged: %v", l)
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"":           "/",
		"/":          "/",
		"/items":     "/items",
		"/items/":    "/items/",
		"/items/42":  "/items/{id}",
		"/items/42/": "/items/{id}/",
		"//42":       "//{id}",
		"/v2/items":  "/v2/items",
		"/a/0/b/007": "/a/{id}/b/{id}",
		"/o/9F0C8A1E-5B7D-4C1E-9A3F-2B8E6D4C7A10": "/o/{uuid}",
		"/o/9f0c8a1e-5b7d-4c1e-9a3f-2b8e6d4c7a1":  "/o/9f0c8a1e-5b7d-4c1e-9a3f-2b8e6d4c7a1",
		"/o/9f0c8a1e5b7d-4c1e-9a3f-2b8e6d4c7a10x": "/o/9f0c8a1e5b7d-4c1e-9a3f-2b8e6d4c7a10x",
		"/commits/0123456789abcdef":               "/commits/{hex}",
		"/commits/0123456789abcde":                "/commits/0123456789abcde",
		"/words/deadbeefdeadbeef":                 "/words/{hex}",
		"/words/facade":                           "/words/facade",
		"/files/report-2024.pdf":                  "/files/report-2024.pdf",
	} {
		if got := sdk.NormalizePath(in); got != want {
			t.Errorf("NormalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSeriesLimitBoundsRoutes: paths the normaliser cannot reduce are held
// to Config.SeriesLimit series per metric; the rest are dropped and
// counted.
func TestSeriesLimitBoundsRoutes(t *testing.T) {
	s := startService(t, sdk.Config{SeriesLimit: 5})
	srv := httptest.NewServer(s.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer srv.Close()
	for i := range 20 {
		get(t, fmt.Sprintf("%s/search/term-%c", srv.URL, 'a'+i), nil)
	}
	if n := len(series(t, s.Registry, "http_requests_total")); n != 5 {
		t.Errorf("http_requests_total holds %d series, want the limit 5", n)
	}
	d := series(t, s.Registry, "horus_sdk_series_dropped_total")[`metric="http_requests_total"`]
	if d == nil || d.GetCounter().GetValue() != 15 {
		t.Errorf("dropped series lookups of http_requests_total: %v, want 15", d)
	}
}

// TestSetGlobal: SetGlobal makes t the OpenTelemetry and slog default.
func TestSetGlobal(t *testing.T) {
	prevTP, prevProp, prevLog := otel.GetTracerProvider(), otel.GetTextMapPropagator(), slog.Default()
	defer func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
		slog.SetDefault(prevLog)
	}()
	s := startService(t, sdk.Config{Service: "global"})
	s.SetGlobal()
	_, span := otel.Tracer("lib").Start(context.Background(), "library work")
	span.End()
	if got := waitSpan(t, s.spans, "library work", func(sp sdktrace.ReadOnlySpan) bool { return sp.Name() == "library work" }); resourceAttr(got, "service.name") != "global" {
		t.Errorf("global tracer's span under service %q", resourceAttr(got, "service.name"))
	}
	if f := otel.GetTextMapPropagator().Fields(); !slices.Contains(f, "traceparent") || !slices.Contains(f, "b3") {
		t.Errorf("global propagator fields %q", f)
	}
	slog.Info("via slog's default")
	s.logs.line(t, "via slog's default", nil)
}

// TestRequestLogLevel: "request completed" lines of successful requests
// can be moved below the logger's level; failures stay at error.
func TestRequestLogLevel(t *testing.T) {
	s := startService(t, sdk.Config{RequestLogLevel: slog.LevelDebug})
	srv := httptest.NewServer(s.Middleware(shopMux(s)))
	defer srv.Close()
	get(t, srv.URL+"/items/1", nil)
	get(t, srv.URL+"/fail", nil)
	var completed []string
	for _, l := range s.logs.lines(t) {
		if l["msg"] == "request completed" {
			completed = append(completed, fmt.Sprint(l["level"], " ", l["route"]))
		}
	}
	if !slices.Equal(completed, []string{"ERROR /fail"}) {
		t.Errorf("request completed lines %q, want only the 502's", completed)
	}
	s.logs.line(t, "item viewed", nil) // the handler's own line is still written
}
