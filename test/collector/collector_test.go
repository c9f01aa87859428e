// Package collector tests the OpenTelemetry Collector forwarding traces,
// metrics and logs to Horus, as a team that already runs a Collector
// would point it at Horus (docs/send-telemetry.md). The Collector is a real
// one built from its own modules (otelcol/: the OTLP receiver, the batch
// processor, the OTLP/gRPC and OTLP/HTTP exporters at one release), a Go
// module of its own so that Horus' go.mod does not carry its dependency
// tree; the test builds it once into the user's cache directory, keyed by
// a hash of its sources. The OTel Go SDK sends to the Collector, the
// Collector to a real Horus, and the test reads every signal back from
// Horus' Tempo, Prometheus and Loki APIs.
package collector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/test/horustest"
)

var horusBin, otelcolBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "horus-collector")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if horusBin, err = horustest.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else if otelcolBin, err = buildCollector(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildCollector builds otelcol/ into <user cache>/horus-test/otelcol-<hash>,
// the hash of its go.mod, go.sum and main.go, unless that file exists. A
// cold build downloads the Collector's modules and compiles them: minutes
// (docs/send-telemetry.md gives the time measured).
func buildCollector() (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join("otelcol", f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "horus-test", "otelcol-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	start := time.Now()
	fmt.Fprintf(os.Stderr, "building the test Collector (test/collector/otelcol) into %s: a cold build takes minutes\n", bin)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	tmp := bin + ".tmp"
	cmd := exec.Command("go", "build", "-o", tmp, ".")
	cmd.Dir = "otelcol"
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the test Collector: %w", err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "built the test Collector in %s\n", time.Since(start).Round(time.Second))
	return bin, nil
}

// collectorConfig is the Collector's configuration: OTLP in on two
// loopback ports, batched, traces out over OTLP/gRPC to Horus' gRPC
// listener, metrics and logs over OTLP/HTTP to /otlp on Horus' main
// listener, as docs/send-telemetry.md shows. Its own telemetry is off so
// it opens no other port.
const collectorConfig = `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %[1]s
      http:
        endpoint: %[2]s
processors:
  batch:
    timeout: 200ms
exporters:
  otlp_grpc:
    endpoint: %[3]s
    tls:
      insecure: true
  otlp_http:
    endpoint: http://%[4]s/otlp
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp_grpc]
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp_http]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp_http]
`

// TestCollectorForwardsAllSignals sends a trace with two spans, a counter,
// a histogram in seconds and two log lines inside the span through the
// Collector, and reads each back from Horus.
func TestCollectorForwardsAllSignals(t *testing.T) {
	h := horustest.Start(t, horusBin)
	grpcIn, httpIn := horustest.FreeAddr(t), horustest.FreeAddr(t)
	cfg := filepath.Join(t.TempDir(), "otelcol.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, collectorConfig, grpcIn, httpIn, h.OTLPGRPC, h.HTTP), 0o644); err != nil {
		t.Fatal(err)
	}
	col := exec.Command(otelcolBin, "--config", "file:"+cfg)
	out := &horustest.Buffer{}
	col.Stdout, col.Stderr = out, out
	if err := col.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = col.Wait(); close(done) }() // the exit status of a stopped Collector says nothing
	t.Cleanup(func() {
		_ = col.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = col.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("collector output:\n%s", out.Tail(6000))
		}
	})
	horustest.Eventually(t, 60*time.Second, "the Collector's start", func() error {
		select {
		case <-done:
			t.Fatalf("the Collector exited:\n%s", out.Tail(4000))
		default:
		}
		if !strings.Contains(out.Tail(1<<20), "Everything is ready") {
			return fmt.Errorf("not started")
		}
		return nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const svc = "via-collector"
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(svc), semconv.ServiceVersion("2.0.0"))

	te, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcIn), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(te))
	me, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(grpcIn), otlpmetricgrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "job.duration"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})))
	le, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(httpIn), otlploghttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(le)))

	tracer := tp.Tracer("collector-test")
	logger := otelslog.NewLogger("collector-test", otelslog.WithLoggerProvider(lp))
	jobs, err := mp.Meter("collector-test").Int64Counter("jobs.done", metric.WithUnit("{job}"))
	if err != nil {
		t.Fatal(err)
	}
	dur, err := mp.Meter("collector-test").Float64Histogram("job.duration", metric.WithUnit("s"))
	if err != nil {
		t.Fatal(err)
	}
	sctx, span := tracer.Start(ctx, "run job", trace.WithSpanKind(trace.SpanKindConsumer))
	logger.InfoContext(sctx, "job started", "job", "reindex")
	_, child := tracer.Start(sctx, "write index")
	child.End()
	logger.ErrorContext(sctx, "job slow", "job", "reindex")
	jobs.Add(sctx, 3, metric.WithAttributes(attribute.String("queue", "default")))
	for _, s := range []float64{0.012, 0.3, 2.5} {
		dur.Record(sctx, s)
	}
	span.End()
	traceID := span.SpanContext().TraceID().String()
	spanID := span.SpanContext().SpanID().String()
	for _, f := range []func(context.Context) error{tp.Shutdown, mp.Shutdown, lp.Shutdown} {
		if err := f(ctx); err != nil {
			t.Fatalf("SDK shutdown (export to the Collector): %v", err)
		}
	}

	var spans []horustest.Span
	horustest.Eventually(t, 30*time.Second, "the trace", func() (err error) {
		spans, err = h.Trace(traceID)
		if err == nil && len(spans) != 2 {
			err = fmt.Errorf("%d spans, want 2", len(spans))
		}
		return err
	})
	for _, s := range spans {
		if s.Service != svc {
			t.Errorf("span %q: service %q, want %s", s.Name, s.Service, svc)
		}
	}
	horustest.Eventually(t, 30*time.Second, "the counter", func() error {
		v, err := h.PromQL(`jobs_done_total{job="via-collector", queue="default"}`)
		if err == nil && (len(v) != 1 || v[0].Float() != 3) {
			err = fmt.Errorf("got %+v, want one series of 3", v)
		}
		return err
	})
	// An exponential histogram is a Prometheus native histogram, named
	// with its unit (job_duration_seconds) and no _bucket series.
	v, err := h.PromQL(`histogram_count(job_duration_seconds{job="via-collector"})`)
	if err != nil || len(v) != 1 || v[0].Float() != 3 {
		t.Errorf("histogram_count(job_duration_seconds): %+v %v, want 3", v, err)
	}
	v, err = h.PromQL(`histogram_fraction(0, 0.5, job_duration_seconds{job="via-collector"})`)
	if err != nil || len(v) != 1 || v[0].Float() < 0.6 || v[0].Float() > 0.7 {
		t.Errorf("histogram_fraction(0, 0.5): %+v %v, want 2/3 (0.012 s and 0.3 s of three)", v, err)
	}
	horustest.Eventually(t, 30*time.Second, "the logs", func() error {
		streams, err := h.LogQL(fmt.Sprintf(`{service_name="via-collector"} | trace_id=%q`, traceID))
		if err != nil {
			return err
		}
		n := 0
		for _, s := range streams {
			n += len(s.Values)
			if s.Labels["span_id"] != spanID {
				return fmt.Errorf("a line with span_id %q, want %s: %+v", s.Labels["span_id"], spanID, s)
			}
		}
		if n != 2 {
			return fmt.Errorf("%d lines, want 2: %+v", n, streams)
		}
		return nil
	})
}
