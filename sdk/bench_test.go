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
	for b.Loop() {
		serveOne(b, h, req)
	}
}

func serveOne(b *testing.B, h http.Handler, req *http.Request) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
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
	for _, name := range middlewareVariants {
		b.Run(name, func(b *testing.B) { serve(b, middlewareHandler(b, name)) })
	}
}

// BenchmarkMiddlewarePaired times the three variants of BenchmarkMiddleware
// in alternating slices of 200 requests, so that the load of a shared
// machine, which comes and goes, falls on each alike; it reports each
// one's ns per request and the SDK's ratios to the baseline. One b.N is
// one request of each.
//
//	go test -run '^$' -bench MiddlewarePaired -benchtime 20000x -count 10 .
func BenchmarkMiddlewarePaired(b *testing.B) {
	hs := make([]http.Handler, len(middlewareVariants))
	for i, name := range middlewareVariants {
		hs[i] = middlewareHandler(b, name)
	}
	req := httptest.NewRequest(http.MethodGet, "/items/42", nil)
	spent := make([]time.Duration, len(hs))
	const slice = 200
	for done := 0; done < b.N; done += slice {
		n := min(slice, b.N-done)
		for i, h := range hs {
			start := time.Now()
			for range n {
				serveOne(b, h, req)
			}
			spent[i] += time.Since(start)
		}
	}
	for i, name := range middlewareVariants {
		b.ReportMetric(float64(spent[i].Nanoseconds())/float64(b.N), name+"-ns/op")
	}
	b.ReportMetric(float64(spent[1])/float64(spent[0]), "sdk-no-request-log/baseline")
	b.ReportMetric(float64(spent[2])/float64(spent[0]), "sdk/baseline")
}

// middlewareVariants are the handlers compared, the baseline first.
var middlewareVariants = []string{"otelhttp+client_golang", "sdk-no-request-log", "sdk"}

// middlewareHandler builds one of middlewareVariants over benchMux, on a
// Telemetry of its own whose spans are sampled and discarded.
func middlewareHandler(b *testing.B, name string) http.Handler {
	level := slog.LevelInfo
	if name != "sdk" {
		level = slog.LevelWarn // no "request completed" line
	}
	tel, shutdown, err := sdk.Start(context.Background(), sdk.Config{
		Service: "bench", LogWriter: io.Discard, LogLevel: level,
		SpanProcessors: []sdktrace.SpanProcessor{discardProcessor{}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = shutdown(context.Background()) })
	if name != "otelhttp+client_golang" {
		return tel.Middleware(benchMux())
	}
	// The baseline, on the same TracerProvider and propagator.
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
	return otelhttp.NewHandler(inner, "",
		otelhttp.WithTracerProvider(tel.TracerProvider),
		otelhttp.WithPropagators(tel.Propagator),
		otelhttp.WithMeterProvider(noopmetric.NewMeterProvider()))
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
