package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/sdk/logging"
	"github.com/horus-obs/horus/sdk/metrics"
	"github.com/horus-obs/horus/sdk/redact"
)

// modulePath is the SDK's module path: the instrumentation scope of its
// spans and logs, and telemetry.distro.name's source.
const modulePath = "github.com/horus-obs/horus/sdk"

// Telemetry is one service's telemetry: its own providers, propagator,
// metric registry and logger. Several can live in one process (one per
// service in a test), since Start installs nothing globally; SetGlobal does
// that for the single-service case. Its fields are set by Start and must
// not be replaced.
type Telemetry struct {
	// Resource describes the service: service.name, service.version,
	// service.instance.id, deployment.environment(.name), host.name,
	// process.pid, telemetry.sdk.*, and Config.Attributes.
	Resource *resource.Resource
	// TracerProvider samples with ParentBased(TraceIDRatioBased) and
	// exports through a batching OTLP/HTTP exporter when an endpoint is
	// configured.
	TracerProvider *sdktrace.TracerProvider
	// Propagator extracts and injects B3 (single and multiple header
	// forms), W3C tracecontext and W3C baggage. When a request carries both
	// traceparent and B3 headers, traceparent wins.
	Propagator propagation.TextMapPropagator
	// Registry holds the service's Prometheus metrics, the Go runtime and
	// process collectors included. MetricsHandler serves it.
	Registry *prometheus.Registry
	// Metrics creates metrics on Registry with the naming and label rules
	// and the per-metric series cap of package metrics.
	Metrics *metrics.Factory
	// Logger writes JSON lines with trace_id, span_id and the request's
	// fields, secrets redacted; with Config.ExportLogs also over OTLP.
	Logger *slog.Logger

	requestLogLevel slog.Level // Config.RequestLogLevel

	loggerProvider *sdklog.LoggerProvider   // nil unless logs are exported
	meterProvider  *sdkmetric.MeterProvider // nil unless metrics are pushed

	http   *serverMetrics
	client *clientMetrics
}

// Start builds a service's telemetry from cfg. It returns the Telemetry, a
// shutdown function and an error for an invalid Config or an exporter that
// cannot be built (nothing is sent at Start: an unreachable receiver shows
// up later as export errors through otel.Handle).
//
// shutdown flushes the spans and logs still batched, pushes the metrics a
// last time when they are pushed, and stops every provider, in that order;
// ctx bounds how long it waits. It returns the providers' errors joined, a
// final export that failed (receiver unreachable, data refused) included,
// and is safe to call more than once: later calls return the first call's
// result without doing anything.
func Start(ctx context.Context, cfg Config) (*Telemetry, func(context.Context) error, error) {
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	redCfg := redact.Default()
	if cfg.Redaction != nil {
		redCfg = *cfg.Redaction
	}
	redactor, err := redact.New(redCfg)
	if err != nil {
		return nil, nil, fmt.Errorf("sdk: Config.Redaction: %w", err)
	}
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}

	t := &Telemetry{Resource: res, requestLogLevel: cfg.RequestLogLevel}
	var stops []func(context.Context) error
	fail := func(err error) (*Telemetry, func(context.Context) error, error) {
		for i := len(stops) - 1; i >= 0; i-- {
			_ = stops[i](ctx)
		}
		return nil, nil, err
	}

	// Traces.
	tpOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.sampleRatio()))),
	}
	if exporting(cfg, "TRACES") {
		var opts []otlptracehttp.Option
		if cfg.Endpoint != "" {
			u, _ := signalURL(cfg.Endpoint, "traces") // checked by validate
			opts = append(opts, otlptracehttp.WithEndpointURL(u))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return fail(fmt.Errorf("sdk: OTLP trace exporter: %w", err))
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	for _, sp := range cfg.SpanProcessors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(sp))
	}
	t.TracerProvider = sdktrace.NewTracerProvider(tpOpts...)
	stops = append(stops, flushAndStop(t.TracerProvider))
	t.Propagator = propagation.NewCompositeTextMapPropagator(
		b3.New(), // first, so that a traceparent header, extracted next, wins over B3
		propagation.TraceContext{},
		propagation.Baggage{},
	)

	// Metrics.
	t.Registry = prometheus.NewRegistry()
	t.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	t.Metrics = metrics.NewFactory(t.Registry, metrics.Options{SeriesLimit: cfg.SeriesLimit, NativeHistograms: cfg.NativeHistograms})
	if t.http, err = newServerMetrics(t.Metrics); err != nil {
		return fail(err)
	}
	if t.client, err = newClientMetrics(t.Metrics); err != nil {
		return fail(err)
	}
	if cfg.ExportMetrics && exporting(cfg, "METRICS") {
		var opts []otlpmetrichttp.Option
		if cfg.Endpoint != "" {
			u, _ := signalURL(cfg.Endpoint, "metrics")
			opts = append(opts, otlpmetrichttp.WithEndpointURL(u))
		}
		exp, err := otlpmetrichttp.New(ctx, opts...)
		if err != nil {
			return fail(fmt.Errorf("sdk: OTLP metric exporter: %w", err))
		}
		readerOpts := []sdkmetric.PeriodicReaderOption{sdkmetric.WithProducer(newRegistryProducer(t.Registry))}
		switch {
		case cfg.MetricsInterval > 0:
			readerOpts = append(readerOpts, sdkmetric.WithInterval(cfg.MetricsInterval))
		case os.Getenv("OTEL_METRIC_EXPORT_INTERVAL") == "":
			readerOpts = append(readerOpts, sdkmetric.WithInterval(defaultMetricsInterval))
		}
		t.meterProvider = sdkmetric.NewMeterProvider(
			sdkmetric.WithResource(res),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, readerOpts...)),
		)
		stops = append(stops, flushAndStop(t.meterProvider))
	}

	// Logs.
	logOpts := logging.Options{Level: cfg.LogLevel, Redactor: redactor}
	w := cfg.LogWriter
	if w == nil {
		w = os.Stderr
	}
	var handler slog.Handler
	if cfg.ExportLogs && exporting(cfg, "LOGS") {
		var opts []otlploghttp.Option
		if cfg.Endpoint != "" {
			u, _ := signalURL(cfg.Endpoint, "logs")
			opts = append(opts, otlploghttp.WithEndpointURL(u))
		}
		exp, err := otlploghttp.New(ctx, opts...)
		if err != nil {
			return fail(fmt.Errorf("sdk: OTLP log exporter: %w", err))
		}
		t.loggerProvider = sdklog.NewLoggerProvider(
			sdklog.WithResource(res),
			sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)),
		)
		stops = append(stops, flushAndStop(t.loggerProvider))
		// One NewHandler over both, so trace ids, request fields and
		// redaction are done once per record.
		level := cfg.LogLevel
		if level == nil {
			level = slog.LevelInfo
		}
		handler = logging.NewHandler(logging.Fanout(
			slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}),
			otelslog.NewHandler(modulePath, otelslog.WithLoggerProvider(t.loggerProvider)),
		), logOpts)
	} else {
		handler = logging.NewJSONHandler(w, logOpts)
	}
	t.Logger = slog.New(handler)

	var once sync.Once
	var shutdownErr error
	shutdown := func(ctx context.Context) error {
		once.Do(func() {
			// Traces first, then logs, then the last metrics push, so the
			// final push counts the requests whose spans were just flushed.
			var errs []error
			for _, stop := range stops {
				if err := stop(ctx); err != nil {
					errs = append(errs, err)
				}
			}
			shutdownErr = errors.Join(errs...)
		})
		return shutdownErr
	}
	return t, shutdown, nil
}

// provider is what the trace, metric and log providers share.
type provider interface {
	ForceFlush(context.Context) error
	Shutdown(context.Context) error
}

// flushAndStop flushes p, so that an export failure of the last batch is
// reported (Shutdown alone hands it to otel.Handle), then shuts it down.
func flushAndStop(p provider) func(context.Context) error {
	return func(ctx context.Context) error {
		return errors.Join(p.ForceFlush(ctx), p.Shutdown(ctx))
	}
}

// exporting reports whether signal ("TRACES", "METRICS", "LOGS") has an
// endpoint: Config.Endpoint, or the OTLP exporter environment variables.
func exporting(cfg Config, signal string) bool {
	return cfg.Endpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" ||
		os.Getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != ""
}

// newResource builds the service's resource. Later sources win: the
// detected host, process and SDK attributes, then OTEL_RESOURCE_ATTRIBUTES
// and OTEL_SERVICE_NAME, then Config.Attributes, then Config's named
// fields.
func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	instance := cfg.InstanceID
	if instance == "" {
		instance = uuid.NewString()
	}
	own := []attribute.KeyValue{
		semconv.ServiceName(cfg.Service),
		semconv.ServiceInstanceID(instance),
		semconv.TelemetryDistroName(modulePath),
	}
	if v := distroVersion(); v != "" {
		own = append(own, semconv.TelemetryDistroVersion(v))
	}
	if cfg.Version != "" {
		own = append(own, semconv.ServiceVersion(cfg.Version))
	}
	if cfg.Environment != "" {
		own = append(own,
			semconv.DeploymentEnvironmentNameKey.String(cfg.Environment),
			attribute.String("deployment.environment", cfg.Environment), // the name before semantic conventions 1.27
		)
	}
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
		resource.WithProcessExecutableName(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithFromEnv(),
		resource.WithAttributes(cfg.Attributes...),
		resource.WithAttributes(own...),
	)
	if err != nil && (res == nil || !errors.Is(err, resource.ErrPartialResource)) {
		return nil, fmt.Errorf("sdk: resource: %w", err)
	}
	return res, nil
}

// distroVersion is the SDK module's version in the running binary's build
// information ("" when built without module information).
func distroVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == modulePath {
			if d.Replace != nil && d.Replace.Version != "" {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	if bi.Main.Path == modulePath && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return ""
}

// SetGlobal installs t as the process' default: the OpenTelemetry global
// TracerProvider and TextMapPropagator (used by libraries that instrument
// themselves through otel.GetTracerProvider), the global LoggerProvider and
// MeterProvider when logs or metrics are exported, and slog's default
// logger. Call it once, for the process' main service; it is not needed by
// anything in this package.
func (t *Telemetry) SetGlobal() {
	otel.SetTracerProvider(t.TracerProvider)
	otel.SetTextMapPropagator(t.Propagator)
	if t.loggerProvider != nil {
		otel.SetLoggerProvider(t.loggerProvider)
	}
	if t.meterProvider != nil {
		otel.SetMeterProvider(t.meterProvider)
	}
	slog.SetDefault(t.Logger)
}

// Tracer returns a tracer of t's TracerProvider for manual spans. name is
// the instrumentation scope, by convention the package path of the
// instrumented code ("example.com/shop/orders").
func (t *Telemetry) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return t.TracerProvider.Tracer(name, opts...)
}

// MetricsHandler serves Registry for Prometheus to scrape. The exposition
// format is negotiated from the Accept header: OpenMetrics 1.0 for a
// scraper that asks for it (Prometheus does by default), which carries the
// histograms' and counters' trace_id exemplars; the classic text format
// otherwise, without exemplars. The handler counts its own scrapes in
// promhttp_metric_handler_requests_total on Registry.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.InstrumentMetricHandler(t.Registry, promhttp.HandlerFor(t.Registry, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		Registry:          t.Registry,
		Timeout:           10 * time.Second,
	}))
}

// knownMethods are the request methods of RFC 9110 and RFC 5789 (PATCH);
// any other is labelled "_OTHER", as the OpenTelemetry HTTP semantic
// conventions do for http.request.method, so that a client cannot create
// series with made-up methods.
var knownMethods = map[string]string{
	http.MethodGet: http.MethodGet, http.MethodHead: http.MethodHead, http.MethodPost: http.MethodPost,
	http.MethodPut: http.MethodPut, http.MethodPatch: http.MethodPatch, http.MethodDelete: http.MethodDelete,
	http.MethodConnect: http.MethodConnect, http.MethodOptions: http.MethodOptions, http.MethodTrace: http.MethodTrace,
}

// methodLabel is the bounded method label of a request.
func methodLabel(m string) string {
	if v, ok := knownMethods[m]; ok {
		return v
	}
	if v, ok := knownMethods[strings.ToUpper(m)]; ok {
		return v
	}
	return "_OTHER"
}
