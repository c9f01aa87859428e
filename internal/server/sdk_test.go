package server

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/horus-obs/horus/sdk"
)

// sdkService is one service instrumented only through the SDK, exporting
// traces, logs and metrics to Horus over OTLP/HTTP.
type sdkService struct {
	*sdk.Telemetry
	shutdown func(context.Context) error
}

func startSDKService(t *testing.T, ts *testServer, name string) *sdkService {
	t.Helper()
	tel, shutdown, err := sdk.Start(context.Background(), sdk.Config{
		Service: name, Version: "1.2.3", Environment: "test",
		Endpoint:   "http://" + ts.Addrs().OTLPHTTP,
		ExportLogs: true, ExportMetrics: true,
		MetricsInterval: time.Hour, // one push, at shutdown
		LogWriter:       io.Discard,
	})
	if err != nil {
		t.Fatalf("sdk.Start(%s): %v", name, err)
	}
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	return &sdkService{Telemetry: tel, shutdown: shutdown}
}

// TestSDKEndToEnd runs a small shop instrumented only through the SDK
// against a real Horus: frontend calls inventory (which queries SQLite
// through OpenDB) and an uninstrumented bank-api; one request arrives with
// a W3C traceparent, one with a B3 header. After the services shut down (flushing everything),
// Horus holds one trace across both services with each span under its own
// service.name, the client spans naming their peers, the database span;
// the RED metrics by route pattern, the 404 under "unmatched", the
// histogram's exemplar pointing at the trace; and the log lines with the
// request id and the trace id.
func TestSDKEndToEnd(t *testing.T) {
	ts := startServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	frontend := startSDKService(t, ts, "frontend")
	inventory := startSDKService(t, ts, "inventory")

	db, err := inventory.OpenDB("sqlite", filepath.Join(t.TempDir(), "catalog.db"), "sqlite", sdk.DBName("catalog"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.ExecContext(ctx, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items VALUES (42, 'teapot')`); err != nil {
		t.Fatal(err)
	}

	invMux := http.NewServeMux()
	invMux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		var name string
		err := db.QueryRowContext(r.Context(), `SELECT name FROM items WHERE id = ?`, r.PathValue("id")).Scan(&name)
		if err == sql.ErrNoRows {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		inventory.Logger.InfoContext(r.Context(), "item found", "item_id", r.PathValue("id"))
		_, _ = io.WriteString(w, name)
	})
	inv := httptest.NewServer(inventory.Middleware(invMux))
	defer inv.Close()
	bank := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { // not instrumented
		_, _ = io.WriteString(w, "approved")
	}))
	defer bank.Close()

	invClient, bankClient := frontend.Client("inventory"), frontend.Client("bank-api")
	call := func(c *http.Client, r *http.Request, method, url string) error {
		req, _ := http.NewRequestWithContext(r.Context(), method, url, nil)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s %s: %d", method, url, resp.StatusCode)
		}
		return nil
	}
	frontMux := http.NewServeMux()
	frontMux.HandleFunc("POST /checkout/{item}", func(w http.ResponseWriter, r *http.Request) {
		if err := call(invClient, r, http.MethodGet, inv.URL+"/items/"+r.PathValue("item")); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if err := call(bankClient, r, http.MethodPost, bank.URL+"/charge"); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		frontend.Logger.InfoContext(r.Context(), "order placed", "item_id", r.PathValue("item"))
	})
	front := httptest.NewServer(frontend.Middleware(frontMux))
	defer front.Close()

	const traceID, parentID, requestID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "e2e-request-1"
	send := func(method, path string, header map[string]string) int {
		req, _ := http.NewRequestWithContext(ctx, method, front.URL+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(http.MethodPost, "/checkout/42", map[string]string{
		"traceparent": "00-" + traceID + "-" + parentID + "-01", "X-Request-ID": requestID,
	}); code != http.StatusOK {
		t.Fatalf("checkout: %d", code)
	}
	const b3TraceID, b3SpanID = "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1"
	if code := send(http.MethodPost, "/checkout/42", map[string]string{"b3": b3TraceID + "-" + b3SpanID + "-1"}); code != http.StatusOK {
		t.Fatalf("checkout with B3: %d", code)
	}
	if code := send(http.MethodGet, "/wp-login.php", nil); code != http.StatusNotFound {
		t.Fatalf("scanner path: %d", code)
	}
	for _, s := range []*sdkService{frontend, inventory} {
		if err := s.shutdown(ctx); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	}

	t.Run("trace", func(t *testing.T) {
		spans := fetchTrace(t, ts, traceID)
		byName := map[string][]sdkSpan{}
		for _, s := range spans {
			byName[s.span.Name()] = append(byName[s.span.Name()], s)
		}
		root := one(t, byName, "POST /checkout/{item}")
		served := one(t, byName, "GET /items/{id}")
		if root.service != "frontend" || served.service != "inventory" {
			t.Errorf("server spans under services %q and %q, want frontend and inventory", root.service, served.service)
		}
		if root.span.ParentSpanID().String() != parentID {
			t.Errorf("root span's parent %s, want the traceparent's %s", root.span.ParentSpanID(), parentID)
		}
		if r := str(root.span.Attributes(), "http.route"); r != "/checkout/{item}" {
			t.Errorf("http.route %q", r)
		}
		for _, k := range []string{"deployment.environment.name", "deployment.environment"} {
			if v := str(root.resource, k); v != "test" {
				t.Errorf("resource %s = %q, want test", k, v)
			}
		}
		if v := str(served.resource, "service.version"); v != "1.2.3" {
			t.Errorf("service.version %q", v)
		}
		peers := map[string]sdkSpan{}
		for _, s := range byName["GET"] {
			peers[str(s.span.Attributes(), "peer.service")] = s
		}
		for _, s := range byName["POST"] {
			peers[str(s.span.Attributes(), "peer.service")] = s
		}
		invCall, bankCall := peers["inventory"], peers["bank-api"]
		if invCall.span.SpanID().IsEmpty() || bankCall.span.SpanID().IsEmpty() {
			t.Fatalf("client spans with peer.service inventory and bank-api missing: %v", names(spans))
		}
		if invCall.service != "frontend" || invCall.span.Kind() != ptrace.SpanKindClient || invCall.span.ParentSpanID() != root.span.SpanID() ||
			served.span.ParentSpanID() != invCall.span.SpanID() {
			t.Errorf("frontend → inventory not chained through the client span")
		}
		if bankCall.span.ParentSpanID() != root.span.SpanID() || bankCall.service != "frontend" {
			t.Errorf("bank-api call not a child of the checkout span")
		}
		var dbSpan *sdkSpan
		for i, s := range spans {
			if str(s.span.Attributes(), "db.system") == "sqlite" && strings.Contains(str(s.span.Attributes(), "db.query.text"), "SELECT name FROM items") {
				dbSpan = &spans[i]
			}
		}
		if dbSpan == nil || dbSpan.service != "inventory" || str(dbSpan.span.Attributes(), "db.system.name") != "sqlite" {
			t.Errorf("no inventory span with db.system=sqlite for the query: %v", names(spans))
		}
	})

	t.Run("b3", func(t *testing.T) {
		spans := fetchTrace(t, ts, b3TraceID)
		byName := map[string][]sdkSpan{}
		for _, s := range spans {
			byName[s.span.Name()] = append(byName[s.span.Name()], s)
		}
		if root := one(t, byName, "POST /checkout/{item}"); root.span.ParentSpanID().String() != b3SpanID {
			t.Errorf("root span's parent %s, want the B3 span id %s", root.span.ParentSpanID(), b3SpanID)
		}
		if served := one(t, byName, "GET /items/{id}"); served.service != "inventory" {
			t.Errorf("inventory's span under %q", served.service)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		now := time.Now()
		for q, want := range map[string]float64{
			`http_requests_total{job="inventory",route="/items/{id}",method="GET",status="200"}`:                    2,
			`http_requests_total{job="frontend",route="/checkout/{item}",method="POST",status="200"}`:               2,
			`http_requests_total{job="frontend",route="unmatched",status="404"}`:                                    1,
			`count(http_requests_total{job="frontend"})`:                                                            2,
			`http_request_duration_seconds_count{job="inventory",route="/items/{id}"}`:                              2,
			`http_client_request_duration_seconds_count{job="frontend",peer="bank-api",method="POST",status="200"}`: 2,
			`http_client_request_duration_seconds_count{job="frontend",peer="inventory",method="GET",status="200"}`: 2,
			`http_requests_in_progress{job="inventory",route="/items/{id}"}`:                                        0,
			`go_sql_max_open_connections{job="inventory",db_name="catalog"}`:                                        0,
			`count(target_info{job="inventory",deployment_environment_name="test"})`:                                1,
		} {
			vec := ts.query(t, q, now)
			if len(vec) != 1 || float64(vec[0].Value) != want {
				t.Errorf("%s = %v, want %v", q, vec, want)
			}
		}
		exs, err := ts.api.QueryExemplars(ctx, `http_request_duration_seconds_bucket{job="inventory"}`, now.Add(-time.Hour), now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		// Each bucket keeps its latest exemplar: one of the two traces, which
		// Horus must hold.
		var pointed []string
		for _, r := range exs {
			for _, e := range r.Exemplars {
				pointed = append(pointed, string(e.Labels["trace_id"]))
			}
		}
		if len(pointed) == 0 {
			t.Fatalf("inventory's duration histogram has no exemplar: %v", exs)
		}
		for _, id := range pointed {
			if id != traceID && id != b3TraceID {
				t.Errorf("exemplar trace_id %q is neither request's trace", id)
				continue
			}
			if spans := fetchTrace(t, ts, id); len(spans) == 0 {
				t.Errorf("exemplar trace %s not in Horus", id)
			}
		}
	})

	t.Run("logs", func(t *testing.T) {
		r := lokiRange(t, ts, `{service_name="frontend"} | trace_id="`+traceID+`"`, nil)
		lines := map[string]map[string]string{}
		for _, s := range r.Data.Result {
			for _, v := range s.Values {
				lines[v[1].(string)] = s.Stream
			}
		}
		for _, msg := range []string{"order placed", "request completed"} {
			st, ok := lines[msg]
			if !ok {
				t.Errorf("frontend's %q line is not found by its trace id; lines: %v", msg, lines)
				continue
			}
			if st["request_id"] != requestID {
				t.Errorf("%q: request_id %q, want %s (stream %v)", msg, st["request_id"], requestID, st)
			}
		}
		if st := lines["request completed"]; st["route"] != "/checkout/{item}" || st["status"] != "200" {
			t.Errorf("request completed: route %q status %q", st["route"], st["status"])
		}
		r = lokiRange(t, ts, `{service_name="inventory"} |= "item found" | trace_id="`+traceID+`"`, nil)
		if len(r.Data.Result) != 1 {
			t.Errorf("inventory's log line in the same trace: %+v", r.Data.Result)
		}
	})
}

// sdkSpan is a span read back from Horus with its resource.
type sdkSpan struct {
	span     ptrace.Span
	resource pcommon.Map
	service  string
}

// fetchTrace reads a trace through the Tempo API (protobuf, as Grafana
// asks), waiting up to 10 s for it.
func fetchTrace(t *testing.T, ts *testServer, id string) []sdkSpan {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := tempoGet(t, ts, "/api/v2/traces/"+id, "application/protobuf", "")
		if code == http.StatusOK {
			num, typ, n := protowire.ConsumeTag(body)
			if num != 1 || typ != protowire.BytesType || n < 0 {
				t.Fatalf("not a TraceByIDResponse: %x", body[:min(len(body), 16)])
			}
			tb, _ := protowire.ConsumeBytes(body[n:])
			td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(tb)
			if err != nil {
				t.Fatal(err)
			}
			var out []sdkSpan
			for _, rs := range td.ResourceSpans().All() {
				svc := str(rs.Resource().Attributes(), "service.name")
				for _, ss := range rs.ScopeSpans().All() {
					for _, sp := range ss.Spans().All() {
						if got := sp.TraceID().String(); got != id {
							t.Errorf("span %s in trace %s", sp.Name(), got)
						}
						out = append(out, sdkSpan{span: sp, resource: rs.Resource().Attributes(), service: svc})
					}
				}
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s: %d %s", id, code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func str(m pcommon.Map, k string) string {
	v, ok := m.Get(k)
	if !ok {
		return ""
	}
	return v.AsString()
}

func one(t *testing.T, byName map[string][]sdkSpan, name string) sdkSpan {
	t.Helper()
	if len(byName[name]) != 1 {
		t.Fatalf("%d spans named %q, want 1", len(byName[name]), name)
	}
	return byName[name][0]
}

func names(spans []sdkSpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.service+": "+s.span.Name())
	}
	return out
}
