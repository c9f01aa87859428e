package sdk

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/horus-obs/horus/sdk/redact"
)

// Config describes one instrumented service. Only Service is required; the
// zero value of every other field is a working default.
type Config struct {
	// Service is the OpenTelemetry resource attribute service.name: the
	// logical name of the service, the same for every instance ("orders").
	// Required.
	Service string
	// Version is service.version ("1.4.2", a git revision, ...).
	Version string
	// Environment is the deployment tier ("production", "staging"). It is
	// written as deployment.environment.name, its name since semantic
	// conventions 1.27, and as deployment.environment, its older name, so
	// that readers of either find it.
	Environment string
	// InstanceID is service.instance.id, unique per running instance of the
	// service. "" draws a random UUID (version 4) at Start, as the semantic
	// conventions recommend when there is no stable identity.
	InstanceID string

	// Endpoint is the base URL of an OTLP/HTTP receiver, such as Horus'
	// "http://127.0.0.1:4318"; the signal paths /v1/traces, /v1/metrics and
	// /v1/logs are appended to it. An http:// URL is sent in clear text,
	// https:// over TLS. "" falls back to the OTEL_EXPORTER_OTLP_ENDPOINT
	// environment variable (and the per-signal variables of the OTLP
	// exporter specification); when that is unset too nothing is exported
	// and spans are only recorded for the span processors in
	// SpanProcessors.
	Endpoint string
	// SampleRatio is the fraction of new traces (requests that arrive
	// without a sampled or unsampled parent) that are recorded and
	// exported: ParentBased(TraceIDRatioBased(SampleRatio)), so a request
	// that carries a parent follows the parent's decision. 0 means 1 (every
	// trace), the default; a negative value samples no new trace. Values
	// above 1 are an error.
	SampleRatio float64
	// Attributes are extra resource attributes (service.namespace,
	// k8s.pod.name, ...). The fields above take precedence over them, and
	// they over OTEL_RESOURCE_ATTRIBUTES.
	Attributes []attribute.KeyValue

	// LogWriter receives the JSON log lines, one object per line. nil is
	// os.Stderr.
	LogWriter io.Writer
	// LogLevel is the minimum level logged. nil is slog.LevelInfo.
	LogLevel slog.Leveler
	// RequestLogLevel is the level of Middleware's "request completed" line
	// for a request answered below 500 (a 5xx is logged at error level).
	// The zero value is slog.LevelInfo; slog.LevelDebug keeps the lines out
	// of an Info log, which saves the line's cost on a busy service (see
	// docs/benchmarks.md) while the RED metrics and spans still count every
	// request.
	RequestLogLevel slog.Level
	// ExportLogs also sends every log record over OTLP/HTTP to Endpoint
	// through the OpenTelemetry slog bridge, with the trace context of the
	// record's context. Ignored without an endpoint.
	ExportLogs bool
	// ExportMetrics also pushes the Prometheus registry over OTLP/HTTP to
	// Endpoint every MetricsInterval (OpenTelemetry's Prometheus bridge), for
	// receivers that are not scraping MetricsHandler. Ignored without an
	// endpoint.
	ExportMetrics bool
	// MetricsInterval is the OTLP metrics push period. 0 is the
	// OTEL_METRIC_EXPORT_INTERVAL environment variable when set, else 15s,
	// Prometheus' usual scrape interval.
	MetricsInterval time.Duration

	// NativeHistograms adds a native (sparse, exponential) histogram, bucket
	// factor 1.1, to every histogram created through Telemetry.Metrics (the
	// SDK's duration histograms included), beside the classic buckets,
	// which are always kept so that scrapers and the text and OpenMetrics
	// formats without native histograms still read them. Native histograms
	// are exposed in Prometheus' protobuf format only.
	NativeHistograms bool
	// SeriesLimit caps the series of each metric created through
	// Telemetry.Metrics (the HTTP metrics of Middleware and Transport
	// included); new series beyond it are dropped and counted. 0 is the
	// metrics package's default.
	SeriesLimit int

	// Redaction configures the masking of secrets in log messages and
	// attribute values. nil is redact.Default(): every detector on.
	Redaction *redact.Config

	// SpanProcessors are extra span processors registered on the
	// TracerProvider after the OTLP batch processor, for tests
	// (tracetest.NewSpanRecorder) or for exporting elsewhere too.
	SpanProcessors []sdktrace.SpanProcessor
}

// defaultMetricsInterval is the OTLP metrics push period when neither
// Config.MetricsInterval nor OTEL_METRIC_EXPORT_INTERVAL is set.
const defaultMetricsInterval = 15 * time.Second

// validate checks the fields Start cannot default.
func (c *Config) validate() error {
	var errs []error
	if strings.TrimSpace(c.Service) == "" {
		errs = append(errs, errors.New("sdk: Config.Service (service.name) is required"))
	}
	if c.SampleRatio > 1 {
		errs = append(errs, fmt.Errorf("sdk: Config.SampleRatio is a fraction of traces between 0 and 1; got %v", c.SampleRatio))
	}
	if c.MetricsInterval < 0 {
		errs = append(errs, fmt.Errorf("sdk: Config.MetricsInterval must not be negative; got %v", c.MetricsInterval))
	}
	if c.SeriesLimit < 0 {
		errs = append(errs, fmt.Errorf("sdk: Config.SeriesLimit must not be negative; got %d", c.SeriesLimit))
	}
	if c.Endpoint != "" {
		if _, err := signalURL(c.Endpoint, "traces"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sampleRatio is the ratio handed to TraceIDRatioBased.
func (c *Config) sampleRatio() float64 {
	switch {
	case c.SampleRatio == 0:
		return 1
	case c.SampleRatio < 0:
		return 0
	}
	return c.SampleRatio
}

// signalURL is the OTLP/HTTP URL of one signal ("traces", "metrics",
// "logs") under base, as the OTLP exporter specification builds it from
// OTEL_EXPORTER_OTLP_ENDPOINT: base + "/v1/" + signal.
func signalURL(base, signal string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("sdk: Config.Endpoint %q: %w", base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("sdk: Config.Endpoint %q is not a base URL such as http://127.0.0.1:4318", base)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/v1/" + signal
	return u.String(), nil
}
