package sdk_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/sdk"
	"github.com/horus-obs/horus/sdk/metrics"
)

// discardProcessor ends spans without exporting them: the benchmarks
// measure the instrumentation, not an exporter.
type discardProcessor struct{}

func (discardProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discardProcessor) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discardProcessor) Shutdown(context.Context) error                  { return nil }
func (discardProcessor) ForceFlush(context.Context) error                { return nil }

func benchMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.PathValue("id"))
	})
	return mux
}

func serve(b *testing.B, h http.Handler) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, "/items/42", nil)
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	reportCPU(b, cpu)
}

// reportCPU reports the process CPU time per operation since cpu, as
// cpu-ns/op (garbage collection included).
func reportCPU(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkMiddleware serves GET /items/{id} through a ServeMux, each
// request a new sampled trace whose spans are discarded at their end (no
// export), with the response recorded in memory (no network).
//
//   - sdk: Telemetry.Middleware, the "request completed" line written
//     (JSON, to io.Discard);
//   - sdk-no-request-log: the same at log level WARN, so the line is not
//     written;
//   - otelhttp+client_golang: the baseline doing the metric job by hand:
//     otelhttp's handler (same provider, sampler, propagator; no-op meter)
//     around a handler that captures the status, keeps
//     http_requests_in_progress{method}, counts
//     http_requests_total{method,route,status} and observes
//     http_request_duration_seconds{method,route} with a trace_id
//     exemplar, on plain client_golang vectors. It does not label
//     in-progress requests by route (which needs the route before the
//     mux runs: the SDK asks ServeMux.Handler), nor handle request ids,
//     request log fields or panics.
func BenchmarkMiddleware(b *testing.B) {
	start := func(b *testing.B, level slog.Level) *sdk.Telemetry {
		tel, shutdown, err := sdk.Start(context.Background(), sdk.Config{
			Service: "bench", LogWriter: io.Discard, LogLevel: level,
			SpanProcessors: []sdktrace.SpanProcessor{discardProcessor{}},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = shutdown(context.Background()) })
		return tel
	}
	b.Run("sdk", func(b *testing.B) {
		tel := start(b, slog.LevelInfo)
		serve(b, tel.Middleware(benchMux()))
	})
	b.Run("sdk-no-request-log", func(b *testing.B) {
		tel := start(b, slog.LevelWarn)
		serve(b, tel.Middleware(benchMux()))
	})
	b.Run("otelhttp+client_golang", func(b *testing.B) {
		tel := start(b, slog.LevelWarn) // for the same TracerProvider and propagator
		reg := prometheus.NewRegistry()
		requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "h"}, []string{"method", "route", "status"})
		duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "h", Buckets: prometheus.DefBuckets}, []string{"method", "route"})
		inProgress := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "http_requests_in_progress", Help: "h"}, []string{"method"})
		reg.MustRegister(requests, duration, inProgress)
		mux := benchMux()
		inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			g := inProgress.WithLabelValues(r.Method)
			g.Inc()
			defer g.Dec()
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			mux.ServeHTTP(sw, r)
			route := r.Pattern[len(r.Method)+1:]
			var ex prometheus.Labels
			if sc := trace.SpanContextFromContext(r.Context()); sc.IsSampled() {
				ex = prometheus.Labels{"trace_id": sc.TraceID().String()}
			}
			requests.WithLabelValues(r.Method, route, statusText(sw.status)).(prometheus.ExemplarAdder).AddWithExemplar(1, ex)
			duration.WithLabelValues(r.Method, route).(prometheus.ExemplarObserver).ObserveWithExemplar(time.Since(start).Seconds(), ex)
		})
		serve(b, otelhttp.NewHandler(inner, "",
			otelhttp.WithTracerProvider(tel.TracerProvider),
			otelhttp.WithPropagators(tel.Propagator),
			otelhttp.WithMeterProvider(noopmetric.NewMeterProvider())))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func statusText(code int) string {
	if code == http.StatusOK {
		return "200"
	}
	return http.StatusText(code)
}

// BenchmarkCounter and BenchmarkHistogram compare an observation on a
// vector made by the metrics Factory (hygiene checks at creation, series
// cap at lookup) with one on a plain client_golang vector: a lookup of an
// existing series by three (two) label values, then Inc (Observe).
func BenchmarkCounter(b *testing.B) {
	opts := prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}
	b.Run("factory", func(b *testing.B) {
		v, err := metrics.NewFactory(prometheus.NewRegistry(), metrics.Options{}).NewCounterVec(opts, "method", "route", "status")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			v.WithLabelValues("GET", "/items/{id}", "200").Inc()
		}
	})
	b.Run("client_golang", func(b *testing.B) {
		v := prometheus.NewCounterVec(opts, []string{"method", "route", "status"})
		prometheus.NewRegistry().MustRegister(v)
		b.ReportAllocs()
		for b.Loop() {
			v.WithLabelValues("GET", "/items/{id}", "200").Inc()
		}
	})
}

func BenchmarkHistogram(b *testing.B) {
	opts := prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Latency.", Buckets: prometheus.DefBuckets}
	b.Run("factory", func(b *testing.B) {
		v, err := metrics.NewFactory(prometheus.NewRegistry(), metrics.Options{}).NewHistogramVec(opts, "method", "route")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			v.WithLabelValues("GET", "/items/{id}").Observe(0.042)
		}
	})
	b.Run("client_golang", func(b *testing.B) {
		v := prometheus.NewHistogramVec(opts, []string{"method", "route"})
		prometheus.NewRegistry().MustRegister(v)
		b.ReportAllocs()
		for b.Loop() {
			v.WithLabelValues("GET", "/items/{id}").Observe(0.042)
		}
	})
}
