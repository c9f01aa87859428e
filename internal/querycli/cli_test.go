package querycli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/server"
)

// horus is a Horus running in this process on loopback ports.
type horus struct {
	url, otlp string
}

// startHorus runs Horus on 127.0.0.1 with random ports, span metrics
// written every second, until the test ends.
func startHorus(t *testing.T) *horus {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.OTLP.GRPCAddr, cfg.OTLP.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Traces.SpanMetrics.FlushInterval = model.Duration(time.Second)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not stop within 30s")
		}
	})
	h := &horus{url: "http://" + srv.Addrs().HTTP, otlp: srv.Addrs().OTLPHTTP}
	eventually(t, 20*time.Second, "Horus ready", func() bool {
		resp, err := http.Get(h.url + "/-/ready")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return h
}

// eventually waits for cond, failing the test after limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
	}
}

// post sends body to path and wants a 2xx.
func (h *horus) post(t *testing.T, path, contentType string, body []byte) {
	t.Helper()
	resp, err := http.Post(h.url+path, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s: %s", path, resp.Status, b)
	}
}

// pushLogs pushes one line to a stream through Loki's push API (JSON).
func (h *horus) pushLog(t *testing.T, stream map[string]string, at time.Time, line string) {
	t.Helper()
	var labels []string
	for k, v := range stream {
		labels = append(labels, strconv.Quote(k)+":"+strconv.Quote(v))
	}
	js := `{"streams":[{"stream":{` + strings.Join(labels, ",") + `},"values":[["` + strconv.FormatInt(at.UnixNano(), 10) + `",` + strconv.Quote(line) + `]]}]}`
	h.post(t, "/loki/api/v1/push", "application/json", []byte(js))
}

// remoteWrite writes series through the remote-write API (protocol 1).
func (h *horus) remoteWrite(t *testing.T, ts ...prompb.TimeSeries) {
	t.Helper()
	c, err := remoteapi.NewAPI(h.url, remoteapi.WithAPIPath("api/v1/write"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Write(ctx, remoteapi.WriteV1MessageType, &prompb.WriteRequest{Timeseries: ts}); err != nil {
		t.Fatal(err)
	}
}

// otlpCounter exports one counter increment of service (in namespace,
// if not "") through the OpenTelemetry SDK's OTLP/HTTP metric exporter.
func (h *horus) otlpCounter(t *testing.T, namespace, service, name string, n int64) {
	t.Helper()
	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(h.otlp), otlpmetrichttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", service)}
	if namespace != "" {
		attrs = append(attrs, attribute.String("service.namespace", namespace))
	}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(resource.NewSchemaless(attrs...)),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	c, _ := mp.Meter("test").Int64Counter(name)
	c.Add(ctx, n)
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// testSpan is a span to send: its id, parent, service and times from the
// trace's start.
type testSpan struct {
	id, parent    byte
	service, name string
	start, dur    time.Duration
	errMsg        string // set: status error with this message
	kind          ptrace.SpanKind
}

// sendTrace posts a trace of spans through OTLP/HTTP (JSON) at
// /otlp/v1/traces.
func (h *horus) sendTrace(t *testing.T, traceID pcommon.TraceID, at time.Time, spans []testSpan) {
	t.Helper()
	td := ptrace.NewTraces()
	for _, s := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", s.service)
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(traceID)
		sp.SetSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, s.id})
		if s.parent != 0 {
			sp.SetParentSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, s.parent})
		}
		sp.SetName(s.name)
		sp.SetKind(s.kind)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(at.Add(s.start)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(s.start + s.dur)))
		if s.errMsg != "" {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage(s.errMsg)
		}
	}
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	h.post(t, "/otlp/v1/traces", "application/json", b)
}

// result is what a command printed and its exit status.
type result struct {
	stdout, stderr string
	code           int
}

// run runs `horus <cmd> args...` against h.
func (h *horus) run(t *testing.T, cmd string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := Main(ctx, cmd, append([]string{"--url", h.url, "--utc"}, args...), &out, &errb)
	return result{out.String(), errb.String(), code}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
