// Package horustest runs a real Horus for the end-to-end tests of clients
// written in other languages or built as other programs (test/node,
// test/collector): it builds the horus binary, starts `horus serve` on
// fresh 127.0.0.1 ports with its data in a temporary directory, and reads
// data back through the Prometheus, Loki and Tempo HTTP APIs, polling each
// query until it answers or a deadline passes. Nothing in it is a stub:
// every answer comes from the binary a user runs.
package horustest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Build compiles github.com/horus-obs/horus/cmd/horus into dir and returns
// the binary's path. The go command runs in the caller's module, so the
// tests of this repository build the working tree's Horus.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "horus")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/horus-obs/horus/cmd/horus")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building horus: %w", err)
	}
	return bin, nil
}

// Need returns the path of the program name, skipping the test when it is
// not installed outside CI and failing it in CI (the CI environment
// variable set), where `make test` installs what the tests need.
func Need(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed; %s", name, install)
		}
		t.Skipf("%s not installed (%s)", name, install)
	}
	return p
}

// FreeAddr returns a loopback address ("127.0.0.1:port") no one listens on
// at the time of the call.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// Horus is a running `horus serve`.
type Horus struct {
	// HTTP is the address of the HTTP listener (UI, query APIs, OTLP/HTTP
	// under /otlp), OTLPHTTP the OTLP/HTTP listener's (/v1/traces...) and
	// OTLPGRPC the OTLP/gRPC listener's, each host:port on 127.0.0.1.
	HTTP, OTLPHTTP, OTLPGRPC string

	cmd  *exec.Cmd
	out  *Buffer
	done chan error
}

// Start runs bin serve with its data in a temporary directory and returns
// once /-/ready answers 200 (within 60 s, else the test fails). The
// process is killed when the test ends; its output is logged if the test
// failed.
func Start(t testing.TB, bin string, extra ...string) *Horus {
	t.Helper()
	h := &Horus{HTTP: FreeAddr(t), OTLPHTTP: FreeAddr(t), OTLPGRPC: FreeAddr(t), out: &Buffer{}, done: make(chan error, 1)}
	args := append([]string{"serve", "--data-dir", t.TempDir(), "--http-addr", h.HTTP,
		"--otlp-http-addr", h.OTLPHTTP, "--otlp-grpc-addr", h.OTLPGRPC, "--log-level", "warn"}, extra...)
	h.cmd = exec.Command(bin, args...)
	h.cmd.Stdout, h.cmd.Stderr = h.out, h.out
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start horus: %v", err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	t.Cleanup(func() {
		_ = h.cmd.Process.Kill()
		select {
		case err := <-h.done:
			h.done <- err // killed: the exit error says so and is not the test's concern
		case <-time.After(10 * time.Second):
		}
		if t.Failed() {
			t.Logf("horus output:\n%s", h.out.Tail(4000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-h.done:
			h.done <- err
			t.Fatalf("horus exited before it was ready: %v\n%s", err, h.out.Tail(4000))
		default:
		}
		if resp, err := http.Get("http://" + h.HTTP + "/-/ready"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("horus not ready within 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Buffer is an io.Writer safe for concurrent use that keeps everything
// written, for a child process's output.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Tail returns the last n bytes written.
func (b *Buffer) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Eventually calls try every 200 ms until it returns nil, failing the test
// with try's last error when within passes.
func Eventually(t testing.TB, within time.Duration, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// get fetches path (with its query) from Horus' HTTP listener and decodes
// the JSON answer into v; a status other than 200 is an error naming the
// body.
func (h *Horus) get(path string, params url.Values, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := "http://" + h.HTTP + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.500s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decoding %.200s: %w", path, body, err)
	}
	return nil
}

// Sample is one series of a PromQL instant vector.
type Sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [unix seconds, "value"]
}

// Float returns the sample's value.
func (s Sample) Float() float64 {
	v, _ := s.Value[1].(string)
	f, _ := strconv.ParseFloat(v, 64)
	return f
}

// PromQL evaluates q now with GET /api/v1/query and returns the vector.
func (h *Horus) PromQL(q string) ([]Sample, error) {
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string   `json:"resultType"`
			Result     []Sample `json:"result"`
		} `json:"data"`
	}
	if err := h.get("/api/v1/query", url.Values{"query": {q}}, &r); err != nil {
		return nil, err
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: result type %q, want vector", q, r.Data.ResultType)
	}
	return r.Data.Result, nil
}

// Stream is one stream of a LogQL log query's answer: its labels (with the
// lines' structured metadata, as Loki merges them when the client does not
// ask for categorized labels) and its lines, each [unix ns, line].
type Stream struct {
	Labels map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// LogQL runs the log query q over the last hour with GET
// /loki/api/v1/query_range (limit 1000) and returns its streams.
func (h *Horus) LogQL(q string) ([]Stream, error) {
	now := time.Now()
	var r struct {
		Data struct {
			ResultType string   `json:"resultType"`
			Result     []Stream `json:"result"`
		} `json:"data"`
	}
	p := url.Values{"query": {q}, "limit": {"1000"},
		"start": {strconv.FormatInt(now.Add(-time.Hour).UnixNano(), 10)},
		"end":   {strconv.FormatInt(now.Add(time.Minute).UnixNano(), 10)}}
	if err := h.get("/loki/api/v1/query_range", p, &r); err != nil {
		return nil, err
	}
	if r.Data.ResultType != "streams" {
		return nil, fmt.Errorf("%s: result type %q, want streams", q, r.Data.ResultType)
	}
	return r.Data.Result, nil
}

// Span is a span of a trace read back from the Tempo API, with the
// service.name of its resource.
type Span struct {
	Service      string
	TraceID      string // hex
	SpanID       string // hex
	ParentSpanID string // hex, "" for a root
	Name         string
	Kind         int // OTLP's SpanKind number (OTLP JSON encodes enums as numbers): 2 server, 3 client
	StatusCode   int // OTLP's StatusCode number: 0 unset, 1 ok, 2 error
	Attributes   map[string]any
}

// Trace fetches trace id (hex) with GET /api/v2/traces/<id> and returns its
// spans; a trace not found is an error.
func (h *Horus) Trace(id string) ([]Span, error) {
	type attr struct {
		Key   string         `json:"key"`
		Value map[string]any `json:"value"`
	}
	var r struct {
		Trace struct {
			ResourceSpans []struct {
				Resource struct {
					Attributes []attr `json:"attributes"`
				} `json:"resource"`
				ScopeSpans []struct {
					Spans []struct {
						TraceID      string `json:"traceId"`
						SpanID       string `json:"spanId"`
						ParentSpanID string `json:"parentSpanId"`
						Name         string `json:"name"`
						Kind         int    `json:"kind"`
						Status       struct {
							Code int `json:"code"`
						} `json:"status"`
						Attributes []attr `json:"attributes"`
					} `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		} `json:"trace"`
	}
	if err := h.get("/api/v2/traces/"+id, nil, &r); err != nil {
		return nil, err
	}
	value := func(v map[string]any) any {
		for _, x := range v {
			return x // OTLP JSON: one of stringValue, intValue (a string), ...
		}
		return nil
	}
	var spans []Span
	for _, rs := range r.Trace.ResourceSpans {
		svc := ""
		for _, a := range rs.Resource.Attributes {
			if a.Key == "service.name" {
				svc, _ = value(a.Value).(string)
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := Span{Service: svc, TraceID: s.TraceID, SpanID: s.SpanID, ParentSpanID: s.ParentSpanID,
					Name: s.Name, Kind: s.Kind, StatusCode: s.Status.Code, Attributes: map[string]any{}}
				for _, a := range s.Attributes {
					sp.Attributes[a.Key] = value(a.Value)
				}
				spans = append(spans, sp)
			}
		}
	}
	if len(spans) == 0 {
		return nil, fmt.Errorf("trace %s: not found", id)
	}
	return spans, nil
}
