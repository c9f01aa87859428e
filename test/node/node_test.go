// Package node tests Horus with a real non-Go client: app.mjs, a Node.js
// program instrumented with the OpenTelemetry JS SDK (@opentelemetry/sdk-node
// and the OTLP/HTTP exporters, from npm, pinned in package-lock.json and
// installed by `make test` with npm ci), exports traces, metrics and logs
// to a real Horus configured only by the standard OTEL_* environment
// variables; the test reads each signal back through the Tempo, Prometheus
// and Loki APIs and checks the log lines carry the trace id of the span
// they were emitted in. docs/send-telemetry.md describes the same setup.
package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/horus-obs/horus/test/horustest"
)

var horusBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "horus-node")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	horusBin, err = horustest.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// request is one line app.mjs prints per request it handled.
type request struct {
	TraceID   string  `json:"trace_id"`
	SpanID    string  `json:"span_id"`
	DurationS float64 `json:"duration_s"`
}

const service = "horus-node-test"

// TestNodeSDK runs app.mjs over OTLP/HTTP with protobuf (the JS SDK's
// default protocol) and with JSON against one Horus, as two services.
func TestNodeSDK(t *testing.T) {
	node := horustest.Need(t, "node", "make test installs test/node's packages; node comes with the machine")
	if _, err := os.Stat("node_modules/@opentelemetry/sdk-node"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("test/node/node_modules missing: make test runs npm ci in test/node")
		}
		t.Skip("test/node/node_modules missing: run `cd test/node && npm ci` (make test does)")
	}
	h := horustest.Start(t, horusBin)
	for _, protocol := range []string{"http/protobuf", "http/json"} {
		t.Run(protocol, func(t *testing.T) {
			svc := service + "-" + strings.TrimPrefix(protocol, "http/")
			reqs, _ := runApp(t, node, svc, map[string]string{
				// The endpoint every signal's path (/v1/traces, /v1/metrics,
				// /v1/logs) is appended to, as the OTLP exporter spec says.
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + h.OTLPHTTP,
				"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
			}, false)
			checkTraces(t, h, svc, reqs)
			checkMetrics(t, h, svc, reqs)
			checkLogs(t, h, svc, reqs)
		})
	}
	t.Run("otlp-under-http-addr", func(t *testing.T) {
		// The same exporters pointed at Horus' main HTTP listener, where
		// OTLP/HTTP is served under /otlp.
		svc := service + "-main-listener"
		reqs, _ := runApp(t, node, svc, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + h.HTTP + "/otlp"}, false)
		checkTraces(t, h, svc, reqs)
		checkLogs(t, h, svc, reqs)
	})
	t.Run("delta-refused", func(t *testing.T) {
		// Delta temporality is refused as an OTLP partial success naming
		// the metrics, which the SDK logs (at info); traces and logs of
		// the same run are stored.
		svc := service + "-delta"
		reqs, diag := runApp(t, node, svc, map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT":                       "http://" + h.OTLPHTTP,
			"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
			"OTEL_LOG_LEVEL":                                    "info",
		}, true)
		for _, want := range []string{"Partial Success", `metric \"orders.processed\" has delta temporality; Horus stores cumulative series`} {
			if !strings.Contains(diag, want) {
				t.Errorf("the SDK's output has no %q:\n%s", want, diag)
			}
		}
		checkTraces(t, h, svc, reqs)
		v, err := h.PromQL(fmt.Sprintf(`{job=%q, __name__!="target_info"}`, svc))
		if err != nil || len(v) != 0 {
			t.Errorf("delta metrics stored: %+v %v", v, err)
		}
	})
}

// runApp runs app.mjs with env over the standard variables and returns
// the requests it reports and the SDK's diagnostic output; the test fails
// unless the SDK reports a problem exactly when expectProblem says so.
func runApp(t *testing.T, node, svc string, env map[string]string, expectProblem bool) ([]request, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "app.mjs", "4")
	cmd.Env = append(os.Environ(),
		"OTEL_SERVICE_NAME="+svc,
		"OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=test,service.version=1.2.3",
		"OTEL_TRACES_EXPORTER=otlp", "OTEL_METRICS_EXPORTER=otlp", "OTEL_LOGS_EXPORTER=otlp",
		"OTEL_LOG_LEVEL=info",
	)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr := &horustest.Buffer{}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node app.mjs: %v\n%s", err, stderr.Tail(4000))
	}
	// The SDK reports export failures (a refused request, a partial
	// success) on its diagnostic logger, which prints to the console.
	s := stderr.Tail(4000)
	if problem := strings.Contains(s, "rror") || strings.Contains(s, "artial"); problem != expectProblem {
		t.Errorf("the SDK reported a problem: %v, want %v:\n%s", problem, expectProblem, s)
	}
	var reqs []request
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var r request
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("app.mjs printed %q: %v", sc.Text(), err)
		}
		reqs = append(reqs, r)
	}
	if len(reqs) != 4 {
		t.Fatalf("app.mjs reported %d requests, want 4:\n%s", len(reqs), out)
	}
	return reqs, s
}

// checkTraces reads each request's trace from the Tempo API: its server
// span and the child client span, the service name from
// OTEL_SERVICE_NAME, the last request's error status.
func checkTraces(t *testing.T, h *horustest.Horus, svc string, reqs []request) {
	t.Helper()
	for i, r := range reqs {
		var spans []horustest.Span
		horustest.Eventually(t, 30*time.Second, "trace "+r.TraceID, func() (err error) {
			spans, err = h.Trace(r.TraceID)
			return err
		})
		if len(spans) != 2 {
			t.Fatalf("trace %s: %d spans, want 2: %+v", r.TraceID, len(spans), spans)
		}
		byName := map[string]horustest.Span{}
		for _, s := range spans {
			if s.Service != svc {
				t.Errorf("span %q: service %q, want %q", s.Name, s.Service, svc)
			}
			byName[s.Name] = s
		}
		root, db := byName["GET /orders/{id}"], byName["SELECT orders"]
		if root.Kind != 2 || root.ParentSpanID != "" || root.Attributes["http.route"] != "/orders/{id}" {
			t.Errorf("trace %s: server span %+v", r.TraceID, root)
		}
		if db.Kind != 3 || db.ParentSpanID == "" || db.ParentSpanID != root.SpanID {
			t.Errorf("trace %s: client span %+v is not the server span's child", r.TraceID, db)
		}
		wantStatus := 0 // unset
		if i == len(reqs)-1 {
			wantStatus = 2 // error
		}
		if root.StatusCode != wantStatus {
			t.Errorf("trace %s: status %d, want %d", r.TraceID, root.StatusCode, wantStatus)
		}
	}
}

// checkMetrics reads the histogram and the counter back with PromQL under
// the names Prometheus' OTLP translation gives them: the unit as a suffix
// (s → _seconds; the annotation {order} dropped), _total on a monotonic
// sum, dots as underscores, service.name as job.
func checkMetrics(t *testing.T, h *horustest.Horus, svc string, reqs []request) {
	t.Helper()
	sel := fmt.Sprintf(`{job=%q, http_route="/orders/{id}"}`, svc)
	var count []horustest.Sample
	horustest.Eventually(t, 30*time.Second, "request count", func() (err error) {
		count, err = h.PromQL("sum(http_server_request_duration_seconds_count" + sel + ")")
		if err == nil && (len(count) != 1 || int(count[0].Float()) != len(reqs)) {
			err = fmt.Errorf("got %+v, want %d", count, len(reqs))
		}
		return err
	})
	// The View's boundaries are seconds: a request of 20-60 ms lands in a
	// bucket below 0.1 s, not in the default boundaries' first bucket (0-5).
	fast := 0
	for _, r := range reqs {
		if r.DurationS <= 0.1 {
			fast++
		}
	}
	b, err := h.PromQL(`sum(http_server_request_duration_seconds_bucket` + strings.TrimSuffix(sel, "}") + `, le="0.1"})`)
	if err != nil || len(b) != 1 || int(b[0].Float()) != fast {
		t.Errorf("le=0.1 bucket: %+v %v, want %d requests", b, err, fast)
	}
	les, err := h.PromQL(`count(http_server_request_duration_seconds_bucket` + sel + `)`)
	if err != nil || len(les) != 1 || les[0].Float() < 15 {
		t.Errorf("bucket series: %+v %v, want the View's 14 boundaries and +Inf per status", les, err)
	}
	q, err := h.PromQL(`histogram_quantile(0.5, sum by (le) (http_server_request_duration_seconds_bucket` + sel + `))`)
	if err != nil || len(q) != 1 || !(q[0].Float() > 0 && q[0].Float() < 0.25) {
		t.Errorf("median: %+v %v, want between 0 and 0.25 s", q, err)
	}
	orders, err := h.PromQL(fmt.Sprintf(`sum by (outcome) (orders_processed_total{job=%q})`, svc))
	got := map[string]float64{}
	for _, s := range orders {
		got[s.Metric["outcome"]] = s.Float()
	}
	if err != nil || got["ok"] != float64(len(reqs)-1) || got["failed"] != 1 {
		t.Errorf("orders_processed_total: %v %v, want ok=%d failed=1", got, err, len(reqs)-1)
	}
	// Resource attributes other than service.name go to target_info.
	ti, err := h.PromQL(fmt.Sprintf(`target_info{job=%q}`, svc))
	if err != nil || len(ti) != 1 || ti[0].Metric["service_version"] != "1.2.3" {
		t.Errorf("target_info: %+v %v, want service_version 1.2.3", ti, err)
	}
}

// checkLogs reads each request's lines with LogQL, by service and trace
// id: two lines per request, each with the trace id and span id of the
// server span it was emitted in, the failed one at level error.
func checkLogs(t *testing.T, h *horustest.Horus, svc string, reqs []request) {
	t.Helper()
	var all []horustest.Stream
	horustest.Eventually(t, 30*time.Second, "logs of "+svc, func() (err error) {
		all, err = h.LogQL(fmt.Sprintf(`{service_name=%q}`, svc))
		if err == nil && lines(all) != 2*len(reqs) {
			err = fmt.Errorf("%d lines, want %d", lines(all), 2*len(reqs))
		}
		return err
	})
	for i, r := range reqs {
		streams, err := h.LogQL(fmt.Sprintf(`{service_name=%q} | trace_id=%q`, svc, r.TraceID))
		if err != nil {
			t.Fatal(err)
		}
		if lines(streams) != 2 {
			t.Errorf("trace %s: %d lines, want 2: %+v", r.TraceID, lines(streams), streams)
		}
		for _, s := range streams {
			if s.Labels["span_id"] != r.SpanID {
				t.Errorf("trace %s: line with span_id %q, want the server span %s", r.TraceID, s.Labels["span_id"], r.SpanID)
			}
			for _, v := range s.Values {
				id := fmt.Sprint(1000 + i)
				if !strings.Contains(v[1], id) {
					t.Errorf("trace %s: line %q is not about order %s", r.TraceID, v[1], id)
				}
				if strings.Contains(v[1], "failed") && s.Labels["level"] != "error" {
					t.Errorf("line %q: level %q, want error", v[1], s.Labels["level"])
				}
			}
		}
	}
}

func lines(streams []horustest.Stream) int {
	n := 0
	for _, s := range streams {
		n += len(s.Values)
	}
	return n
}

// TestLockfile: package.json pins every dependency to one version, so npm
// ci installs what the lockfile says and nothing newer.
func TestLockfile(t *testing.T) {
	var p struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile("package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	for name, v := range p.Dependencies {
		if strings.ContainsAny(v, "^~<>*x ") {
			t.Errorf("package.json: %s %q is a range; pin one version", name, v)
		}
	}
	if _, err := os.Stat(filepath.Join("package-lock.json")); err != nil {
		t.Error(err)
	}
}
