package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/horus-obs/horus/internal/config"
)

// stalledBody opens a connection to addr and sends a POST to path
// announcing a body of announced bytes, then only the first sent bytes of
// it. The connection stays open until the test ends.
func stalledBody(t *testing.T, addr, path, contentType string, announced, sent int) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", path, contentType, announced, strings.Repeat("{", sent)); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitGauge polls one of Horus' own gauges (for up to 10 s) until it
// reaches want: at least want, or exactly 0 when want is 0.
func waitGauge(t *testing.T, ts *testServer, name string, want float64) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		v := ts.selfMetric(t, name, nil)
		if want == 0 && v == 0 || want > 0 && v >= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not reach %v (at %v)", name, want, ts.selfMetric(t, name, nil))
}

// answer is a status and headers of a response whose body was read.
type answer struct {
	StatusCode int
	Header     http.Header
}

func postJSONLines(t *testing.T, ts *testServer, body string) answer {
	t.Helper()
	resp, err := http.Post(ts.URL()+"/api/v1/logs/jsonl?service_name=limits", "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return answer{resp.StatusCode, resp.Header}
}

// 100 connections announcing 32 MiB bodies and sending a few bytes hold a
// small buffer each, not what they announced (before: 3.4 GB of heap for
// 100, the process killed at 150), and ingest goes on beside them.
func TestAnnouncedBodiesAreNotAllocated(t *testing.T) {
	ts := startServer(t, "")
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const conns = 100
	for i := 0; i < conns; i++ {
		stalledBody(t, ts.Addrs().HTTP, "/api/v1/write", "application/x-protobuf", 32<<20, 10)
	}
	waitGauge(t, ts, "horus_ingest_inflight_requests", conns)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d stalled 32 MiB bodies: heap grew %d KiB, %v bytes reserved", conns, grown>>10, ts.selfMetric(t, "horus_ingest_inflight_bytes", nil))
	if grown > 64<<20 {
		t.Errorf("%d stalled bodies announcing 32 MiB grew the heap by %d MiB; want buffers sized by bytes received", conns, grown>>20)
	}
	if resp := postJSONLines(t, ts, `{"msg":"beside the stalled bodies"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest beside stalled bodies: %d", resp.StatusCode)
	}
}

// A body that stops arriving is answered 408 once the idle timeout passes,
// and the request leaves the in-flight count.
func TestBodyIdleTimeout(t *testing.T) {
	ts := startServer(t, "", func(c *config.Config) { c.Limits.BodyIdleTimeout = model.Duration(300 * time.Millisecond) })
	c := stalledBody(t, ts.Addrs().HTTP, "/api/v1/logs/jsonl", "application/x-ndjson", 1000, 10)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("stalled body: %d, want 408", resp.StatusCode)
	}
	waitGauge(t, ts, "horus_ingest_inflight_requests", 0)
}

// Past max_inflight_requests, HTTP writes get 503 with Retry-After and
// OTLP/gRPC calls Unavailable (both retried by clients); once the
// requests in flight end, writes are admitted again.
func TestInflightRequestLimit(t *testing.T) {
	ts := startServer(t, "", func(c *config.Config) { c.Limits.MaxInflightRequests = 2 })
	c1 := stalledBody(t, ts.Addrs().HTTP, "/api/v1/logs/jsonl", "application/x-ndjson", 1000, 10)
	c2 := stalledBody(t, ts.Addrs().HTTP, "/api/v1/logs/jsonl", "application/x-ndjson", 1000, 10)
	waitGauge(t, ts, "horus_ingest_inflight_requests", 2)

	resp := postJSONLines(t, ts, `{"msg":"one too many"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Queries are not ingest: they are served.
	r, err := http.Get(ts.URL() + "/api/v1/query?query=1")
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("a query while ingest is full: %d", r.StatusCode)
	}

	cc, err := grpc.NewClient(ts.Addrs().OTLPGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("limited")
	sp.SetTraceID([16]byte{1})
	sp.SetSpanID([8]byte{1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := ptraceotlp.NewGRPCClient(cc)
	if _, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td)); status.Code(err) != codes.Unavailable {
		t.Fatalf("gRPC export past the limit: %v, want Unavailable", err)
	}
	if got := ts.selfMetric(t, "horus_ingest_inflight_refused_total", map[string]string{"limit": "requests"}); got < 2 {
		t.Fatalf("horus_ingest_inflight_refused_total{limit=requests} = %v, want >= 2", got)
	}

	_ = c1.Close()
	_ = c2.Close()
	waitGauge(t, ts, "horus_ingest_inflight_requests", 0)
	if resp := postJSONLines(t, ts, `{"msg":"after"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the stalled requests ended: %d", resp.StatusCode)
	}
	if _, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		t.Fatalf("gRPC export after the stalled requests ended: %v", err)
	}
	if n := ts.selfMetric(t, "horus_ingest_inflight_requests", nil); n != 0 {
		t.Fatalf("%v requests in flight at rest: a reservation leaked", n)
	}
}

// Past max_inflight_bytes, a body is refused with 503 and Retry-After
// while it is read, and nothing of it is stored.
func TestInflightBytesLimit(t *testing.T) {
	ts := startServer(t, "", func(c *config.Config) {
		c.Limits.MaxRequestBodyBytes = units.MiB
		c.Limits.MaxDecodedBodyBytes = units.MiB
		c.Limits.MaxInflightBytes = 3 * units.MiB
		c.Limits.MaxGRPCMessageBytes = units.MiB
	})
	// Two bodies of 900 KiB out of 1 MiB, stalled, hold a 64 KiB buffer
	// and a 1 MiB chunk each: a third body of 800 KiB does not fit.
	s1 := stalledBody(t, ts.Addrs().HTTP, "/api/v1/logs/jsonl", "application/x-ndjson", 1<<20, 900<<10)
	s2 := stalledBody(t, ts.Addrs().HTTP, "/api/v1/logs/jsonl", "application/x-ndjson", 1<<20, 900<<10)
	waitGauge(t, ts, "horus_ingest_inflight_bytes", 2<<20)
	line := `{"msg":"` + strings.Repeat("x", 1000) + `"}` + "\n"
	body := strings.Repeat(line, 800) // ~800 KiB
	resp := postJSONLines(t, ts, body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a body past the byte budget: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// An OTLP/gRPC call reserves the largest message before gRPC reads
	// it (1 MiB here, 2 MiB compressed): it does not fit either.
	cc, err := grpc.NewClient(ts.Addrs().OTLPGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	client := ptraceotlp.NewGRPCClient(cc)
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("budget")
	sp.SetTraceID([16]byte{2})
	sp.SetSpanID([8]byte{2})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td)); status.Code(err) != codes.Unavailable {
		t.Fatalf("gRPC export past the byte budget: %v, want Unavailable", err)
	}

	_ = s1.Close()
	_ = s2.Close()
	waitGauge(t, ts, "horus_ingest_inflight_requests", 0)
	if resp := postJSONLines(t, ts, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("the same body with the budget free: %d", resp.StatusCode)
	}
	// gzip, the OpenTelemetry Collector's default, is accepted.
	if _, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td), grpc.UseCompressor("gzip")); err != nil {
		t.Fatalf("gzip gRPC export with the budget free: %v", err)
	}
	// gRPC releases a call's reservation when the call ends on the
	// server (its stats End), which may come just after the client has
	// its answer: wait (bounded) for the budget to be whole again. A leak
	// never gets there.
	waitGauge(t, ts, "horus_ingest_inflight_bytes", 0)
}

// A GET of a write endpoint is 405 with Allow: POST (Loki answers its
// push endpoint so), and is not counted as refused data.
func TestWriteEndpointsMethod(t *testing.T) {
	ts := startServer(t, "")
	for _, p := range []string{"/loki/api/v1/push", "/api/v1/logs/jsonl", "/api/v2/spans", "/api/v1/write", "/otlp/v1/logs"} {
		resp, err := http.Get(ts.URL() + p)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "POST") {
			t.Errorf("GET %s: %d, Allow %q; want 405 allowing POST", p, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if n := ts.selfMetric(t, "horus_ingest_rejected_total", map[string]string{"protocol": "remote_write"}); n != 0 {
		t.Errorf("a GET of /api/v1/write counted as %v rejected items", n)
	}
}
