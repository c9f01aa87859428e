package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/server"
	"github.com/horus-obs/horus/test/horustest"
)

// horusConfig runs span metrics and the service graph every second, the
// rules (the SLOs') every second, and accepts samples a week old (the
// week-before copy of the span metrics, weekBefore).
const horusConfig = `
http_addr: 127.0.0.1:0
otlp: {grpc_addr: 127.0.0.1:0, http_addr: 127.0.0.1:0}
metrics: {out_of_order_window: 8d}
traces:
  span_metrics: {flush_interval: 1s}
  service_graph: {flush_interval: 1s}
alertmanager: {enabled: false}
global: {evaluation_interval: 1s}
slo_files: [slos.yml]
`

// sloFile gives the shop an SLO in Sloth's format and the inventory one
// in Horus' form, both over span metrics. The shop fails one request in
// five against a 99% objective: its page alert fires.
const sloFile = `
version: "prometheus/v1"
service: shop
slos:
  - name: availability
    objective: 99
    description: Shop requests answered without an error.
    sli:
      events:
        error_query: sum(rate(traces_spanmetrics_calls_total{service="shop", span_kind="SPAN_KIND_SERVER", status_code="STATUS_CODE_ERROR"}[{{.window}}]))
        total_query: sum(rate(traces_spanmetrics_calls_total{service="shop", span_kind="SPAN_KIND_SERVER"}[{{.window}}]))
    alerting:
      name: ShopAvailability
      annotations: {runbook_url: "https://runbooks.example.com/shop"}
---
version: horus/v1
service: inventory
slos:
  - name: availability
    objective: 99.5
    sli: {availability: {}}
    alerting: {annotations: {runbook_url: "https://runbooks.example.com/inventory"}}
`

// horus is a Horus running in this process on loopback ports.
type horus struct {
	url, otlp string
}

// startHorus runs Horus until the test ends.
func startHorus(t *testing.T) *horus {
	t.Helper()
	dir := t.TempDir()
	body := "data_dir: " + filepath.Join(dir, "data") + "\n" + horusConfig
	for name, text := range map[string]string{"horus.yml": body, "slos.yml": sloFile} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "horus.yml"))
	if err != nil {
		t.Fatal(err)
	}
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
	horustest.Eventually(t, 20*time.Second, "Horus ready", func() error {
		resp, err := http.Get(h.url + "/-/ready")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	})
	return h
}

// service is one instrumented service: the OpenTelemetry Go SDK with its
// OTLP/HTTP exporters of traces, logs and metrics pointed at Horus.
type service struct {
	tp       *sdktrace.TracerProvider
	lp       *sdklog.LoggerProvider
	mp       *sdkmetric.MeterProvider
	tracer   trace.Tracer
	logger   otellog.Logger
	duration metric.Float64Histogram
}

func newService(t *testing.T, h *horus, name, version string) *service {
	t.Helper()
	ctx := context.Background()
	res := resource.NewSchemaless(attribute.String("service.name", name), attribute.String("service.version", version),
		attribute.String("service.instance.id", name+"-1"))
	te, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(h.otlp), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	le, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(h.otlp), otlploghttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	me, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(h.otlp), otlpmetrichttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	s := &service{
		tp: sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(te)),
		lp: sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(le))),
		mp: sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(time.Hour)))),
	}
	s.tracer = s.tp.Tracer("grafana-test")
	s.logger = s.lp.Logger("grafana-test")
	s.duration, err = s.mp.Meter("grafana-test").Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.shutdown(context.Background()) })
	return s
}

// log emits a log record in ctx's span at sev.
func (s *service) log(ctx context.Context, at time.Time, sev otellog.Severity, body string) {
	var r otellog.Record
	r.SetTimestamp(at)
	r.SetSeverity(sev)
	r.SetSeverityText(strings.ToLower(sev.String()))
	r.SetBody(attribute.StringValue(body))
	s.logger.Emit(ctx, r)
}

// shutdown flushes and stops the providers.
func (s *service) shutdown(ctx context.Context) error {
	return fmtErr(s.tp.Shutdown(ctx), s.lp.Shutdown(ctx), s.mp.Shutdown(ctx))
}

func fmtErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// fill is the telemetry the test wrote, for the queries to find.
type fill struct {
	start, end time.Time
	traceIDs   []string // every trace, shop's first
	lineTrace  string   // the trace id written in a Loki-pushed line
}

// fillHorus sends n requests of a shop calling an inventory through the
// OpenTelemetry SDK (every fifth fails in the inventory, and both log
// it), a log line pushed through Loki's API holding a trace id in its
// text, and a deploy of the shop through the change API.
func fillHorus(t *testing.T, h *horus, n int) *fill {
	t.Helper()
	ctx := context.Background()
	shop, inv := newService(t, h, "shop", "1.4.0"), newService(t, h, "inventory", "2.0.1")
	f := &fill{start: time.Now().Add(-time.Duration(n) * 50 * time.Millisecond)}
	for i := range n {
		at := f.start.Add(time.Duration(i) * 50 * time.Millisecond)
		fail := i%5 == 4
		dur := time.Duration(5+i*7%200) * time.Millisecond
		sctx, srv := shop.tracer.Start(ctx, "GET /items/{id}", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at),
			trace.WithAttributes(attribute.String("http.route", "/items/{id}"), attribute.String("http.request.method", "GET")))
		shop.log(sctx, at, otellog.SeverityInfo, "item viewed id="+strconv.Itoa(i))
		_, cli := shop.tracer.Start(sctx, "GET", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at.Add(time.Millisecond)),
			trace.WithAttributes(attribute.String("server.address", "inventory"), attribute.String("http.request.method", "GET")))
		ictx := trace.ContextWithRemoteSpanContext(ctx, cli.SpanContext())
		ictx, isrv := inv.tracer.Start(ictx, "GET /stock/{id}", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at.Add(2*time.Millisecond)),
			trace.WithAttributes(attribute.String("http.route", "/stock/{id}"), attribute.String("http.request.method", "GET")))
		inv.log(ictx, at.Add(3*time.Millisecond), otellog.SeverityInfo, "stock checked")
		if fail {
			isrv.SetStatus(codes.Error, "stock database unavailable")
			inv.log(ictx, at.Add(4*time.Millisecond), otellog.SeverityError, "stock database unavailable")
			cli.SetStatus(codes.Error, "503 from inventory")
			srv.SetStatus(codes.Error, "inventory failed")
			shop.log(sctx, at.Add(dur), otellog.SeverityError, "inventory failed: 503")
		}
		isrv.End(trace.WithTimestamp(at.Add(dur - 2*time.Millisecond)))
		cli.End(trace.WithTimestamp(at.Add(dur - time.Millisecond)))
		shop.duration.Record(sctx, dur.Seconds(), metric.WithAttributes(attribute.String("http.route", "/items/{id}")))
		srv.End(trace.WithTimestamp(at.Add(dur)))
		id := srv.SpanContext().TraceID().String()
		f.traceIDs = append(f.traceIDs, id)
		if fail && f.lineTrace == "" {
			f.lineTrace = id
		}
	}
	for _, s := range []*service{shop, inv} {
		if err := s.shutdown(ctx); err != nil {
			t.Fatalf("flush the OpenTelemetry SDK: %v", err)
		}
	}
	// A line as Promtail or Alloy push it: the trace id is in the text.
	line := `{"level":"error","msg":"payment provider timed out","trace_id":"` + f.lineTrace + `"}`
	push := `{"streams":[{"stream":{"service_name":"shop","job":"shop-legacy"},"values":[["` +
		strconv.FormatInt(time.Now().UnixNano(), 10) + `",` + strconv.Quote(line) + `]]}]}`
	h.post(t, "/loki/api/v1/push", push)
	// Deploys of both, two minutes ago: a dashboard's annotation step (60 s)
	// aligned down to the minute holds them without waiting for the next.
	at := time.Now().Add(-2 * time.Minute).UTC().Format(time.RFC3339Nano)
	h.post(t, "/api/v1/changes", `{"kind":"deploy","service":"shop","version":"1.4.0","author":"ci","description":"release 1.4.0","time":"`+at+`"}`)
	h.post(t, "/api/v1/changes", `{"kind":"config","service":"inventory","version":"2.0.1","description":"pool size 20","time":"`+at+`"}`)
	f.end = time.Now()
	return f
}

// post sends a JSON body to path and wants a 2xx.
func (h *horus) post(t *testing.T, path, body string) {
	t.Helper()
	resp, err := http.Post(h.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s: %s", path, resp.Status, b)
	}
}

// getJSON sends a request and decodes a 200's JSON answer into v.
func getJSON(req *http.Request, v any) error {
	b, err := fetch(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s %s: %w: %.200s", req.Method, req.URL.Path, err, b)
	}
	return nil
}
