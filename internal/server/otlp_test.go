package server

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
)

// TestOTelSDKMetrics pushes counters, explicit-bucket and exponential
// histograms with the OpenTelemetry Go SDK's own exporters and reads them
// back with PromQL under their Prometheus names, exemplars included.
func TestOTelSDKMetrics(t *testing.T) {
	for _, proto := range []string{"grpc", "http"} {
		t.Run(proto, func(t *testing.T) {
			ts := startServer(t, "")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			var exp sdkmetric.Exporter
			var err error
			if proto == "grpc" {
				exp, err = otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(ts.Addrs().OTLPGRPC), otlpmetricgrpc.WithInsecure())
			} else {
				exp, err = otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(ts.Addrs().OTLPHTTP), otlpmetrichttp.WithInsecure())
			}
			if err != nil {
				t.Fatal(err)
			}
			res := resource.NewSchemaless(
				attribute.String("service.name", "checkout"),
				attribute.String("service.namespace", "shop"),
				attribute.String("service.instance.id", "pod-1"),
				attribute.String("deployment.environment", "test"),
			)
			provider := sdkmetric.NewMeterProvider(
				sdkmetric.WithResource(res),
				sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
				sdkmetric.WithView(sdkmetric.NewView(
					sdkmetric.Instrument{Name: "rpc.latency"},
					sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}},
				)),
			)
			defer func() { _ = provider.Shutdown(context.Background()) }()
			meter := provider.Meter("horus.test")

			requests, _ := meter.Int64Counter("http.server.requests", metric.WithUnit("{request}"))
			duration, _ := meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
				metric.WithExplicitBucketBoundaries(0.1, 0.5, 1))
			latency, _ := meter.Float64Histogram("rpc.latency", metric.WithUnit("ms"))
			inflight, _ := meter.Int64UpDownCounter("http.server.active_requests")

			traceID := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
			spanID := trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
			sctx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled,
			}))
			route := metric.WithAttributes(attribute.String("http.route", "/cart"))
			requests.Add(sctx, 5, route)
			duration.Record(sctx, 0.25, route)
			duration.Record(sctx, 0.75, route)
			latency.Record(sctx, 12.5)
			latency.Record(sctx, 40)
			inflight.Add(sctx, 3)
			if err := provider.ForceFlush(ctx); err != nil {
				t.Fatalf("flush: %v", err)
			}

			now := time.Now()
			want := map[string]float64{
				`http_server_requests_total{job="shop/checkout",instance="pod-1",http_route="/cart"}`:    5,
				`http_server_request_duration_seconds_count{job="shop/checkout"}`:                        2,
				`http_server_request_duration_seconds_sum{job="shop/checkout"}`:                          1,
				`http_server_request_duration_seconds_bucket{job="shop/checkout",le="0.5"}`:              1,
				`http_server_request_duration_seconds_bucket{job="shop/checkout",le="+Inf"}`:             2,
				`histogram_count(rpc_latency_milliseconds{job="shop/checkout"})`:                         2,
				`histogram_sum(rpc_latency_milliseconds{job="shop/checkout"})`:                           52.5,
				`http_server_active_requests{job="shop/checkout"}`:                                       3,
				`count(target_info{job="shop/checkout",instance="pod-1",deployment_environment="test"})`: 1,
				`count(http_server_request_duration_seconds_bucket{job="shop/checkout"})`:                4,
			}
			for q, v := range want {
				vec := ts.query(t, q, now)
				if len(vec) != 1 {
					t.Errorf("%s: got %d series, want 1: %v", q, len(vec), vec)
					continue
				}
				if float64(vec[0].Value) != v {
					t.Errorf("%s = %v, want %v", q, vec[0].Value, v)
				}
			}

			exs, err := ts.api.QueryExemplars(ctx, `http_server_request_duration_seconds_bucket{job="shop/checkout"}`, now.Add(-time.Hour), now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range exs {
				for _, e := range r.Exemplars {
					if e.Labels["trace_id"] == model.LabelValue(traceID.String()) && e.Labels["span_id"] == model.LabelValue(spanID.String()) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("no exemplar with trace_id %s span_id %s in %v", traceID, spanID, exs)
			}
			// Four data points: one per instrument and attribute set.
			if got := ts.selfMetric(t, "horus_ingest_received_total", map[string]string{"protocol": "otlp_" + proto}); got != 4 {
				t.Errorf("horus_ingest_received_total{protocol=otlp_%s} = %v, want 4", proto, got)
			}
		})
	}
}
