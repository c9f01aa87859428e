package sdk

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/sdk/metrics"
)

// metricClientDuration is the client histogram's name.
const metricClientDuration = "http_client_request_duration_seconds"

// StatusError is the status label of a client request that got no
// response: the round trip failed (connection refused, timeout, canceled
// context, ...).
const StatusError = "error"

// clientMetrics are Transport's metrics, created once per Telemetry.
type clientMetrics struct {
	duration *metrics.HistogramVec // peer, method, status
}

func newClientMetrics(f *metrics.Factory) (*clientMetrics, error) {
	d, err := f.NewHistogramVec(prometheus.HistogramOpts{
		Name:    metricClientDuration,
		Help:    "Time from sending an HTTP request to receiving its response headers, in seconds, by peer service, method and response status code (\"error\" when no response came).",
		Buckets: prometheus.DefBuckets,
	}, "peer", "method", "status")
	if err != nil {
		return nil, fmt.Errorf("sdk: %s: %w", metricClientDuration, err)
	}
	return &clientMetrics{duration: d}, nil
}

// Transport instruments HTTP requests to the service peer, sent through
// base (nil is http.DefaultTransport). For each request it:
//
//   - starts a client span (otelhttp, on t's TracerProvider) named after the
//     method, a child of the span in the request's context, with
//     peer.service and service.peer.name (its name since semantic
//     conventions 1.39) set to peer, so a trace backend draws the call to an
//     uninstrumented peer as a node of its own;
//   - injects the span's context with t's Propagator (traceparent,
//     baggage and B3 multiple headers);
//   - observes http_client_request_duration_seconds{peer,method,status}:
//     seconds until the response headers arrived (reading the body is not
//     included), status the response's code or StatusError ("error") when
//     the round trip failed, with a trace_id exemplar when the span is
//     sampled.
//
// peer is the peer's service.name when it is instrumented, or a stable name
// for it ("bank-api"); it is a label, so it must come from code, not from
// requests. method is bounded as in Middleware.
func (t *Telemetry) Transport(peer string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	inner := &clientTransport{peer: peer, base: base, m: t.client}
	opts := []otelhttp.Option{
		otelhttp.WithTracerProvider(t.TracerProvider),
		otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithMeterProvider(noopmetric.NewMeterProvider()), // the metric is the Prometheus one
		// OpenTelemetry's HTTP client span name is the method alone.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return spanMethod(r.Method) }),
	}
	if peer != "" {
		opts = append(opts, otelhttp.WithSpanOptions(trace.WithAttributes(
			attribute.String("peer.service", peer),
			semconv.ServicePeerName(peer),
		)))
	}
	return otelhttp.NewTransport(inner, opts...)
}

// Client is an http.Client whose Transport is t.Transport(peer, nil). It
// has no Timeout, like http.DefaultClient: bound each request with its
// context, or set Timeout on the returned client.
func (t *Telemetry) Client(peer string) *http.Client {
	return &http.Client{Transport: t.Transport(peer, nil)}
}

// clientTransport runs inside otelhttp's transport, with the client span
// in the request's context.
type clientTransport struct {
	peer string
	base http.RoundTripper
	m    *clientMetrics
}

func (c *clientTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := c.base.RoundTrip(r)
	elapsed := time.Since(start)
	status := StatusError
	if err == nil {
		status = statusLabel(resp.StatusCode)
	}
	exemplar := exemplarOf(trace.SpanContextFromContext(r.Context()))
	observe(c.m.duration.WithLabelValues(c.peer, methodLabel(r.Method), status), elapsed.Seconds(), exemplar)
	releaseExemplar(exemplar)
	return resp, err
}
