// Package sdk instruments a Go service for Horus, or any OpenTelemetry and
// Prometheus backend: traces over OTLP, RED metrics with trace exemplars on
// a Prometheus registry, and JSON logs that carry the trace and request
// ids, each correlated with the others by default.
//
// It writes no tracing, propagation or metrics machinery of its own; it
// wires the standard libraries together: the OpenTelemetry Go SDK and its
// OTLP/HTTP exporters, otelhttp for net/http, the contrib B3 propagator,
// Prometheus' client_golang (metrics, exemplars, the OpenMetrics
// exposition), log/slog through [github.com/horus-obs/horus/sdk/logging],
// and github.com/XSAM/otelsql for database/sql.
//
// # A net/http service in a few lines
//
//	tel, shutdown, err := sdk.Start(ctx, sdk.Config{
//		Service:  "shopfront",
//		Version:  "1.0.0",
//		Endpoint: "http://127.0.0.1:4318", // Horus' OTLP/HTTP port
//	})
//	if err != nil {
//		return err
//	}
//	defer shutdown(context.Background())
//
//	inventory := tel.Client("inventory") // client spans, propagation, latency by peer
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
//		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, stockURL+r.PathValue("id"), nil)
//		resp, err := inventory.Do(req) // a child span of this request's, context propagated
//		// ...
//		tel.Logger.InfoContext(r.Context(), "item viewed", "item_id", r.PathValue("id")) // trace_id, span_id, request_id
//	})
//	mux.Handle("GET /metrics", tel.MetricsHandler())
//	return http.ListenAndServe(":8080", tel.Middleware(mux))
//
// examples/shopfront is that service, runnable.
//
// # What it emits
//
// Traces: a server span per request (Telemetry.Middleware) named "METHOD
// route" with http.route, a client span per outgoing request
// (Telemetry.Transport, Telemetry.Client) with peer.service, a span per
// database call (Telemetry.OpenDB) with db.system, all under the resource
// service.name, service.version, service.instance.id,
// deployment.environment.name (and deployment.environment, its older name,
// so readers of either find it), host.name, process.pid and
// telemetry.sdk.*.
//
// Metrics, on Telemetry.Registry: http_requests_total{method,route,status},
// http_request_duration_seconds{method,route},
// http_requests_in_progress{method,route},
// http_server_panics_total{method,route},
// http_client_request_duration_seconds{peer,method,status}, the database
// pool's go_sql_* by db_name, and the Go runtime (go_*) and process
// (process_*) collectors. Counters and histograms carry a trace_id
// exemplar when the request's trace is sampled; MetricsHandler exposes
// them in the OpenMetrics format, and Config.ExportMetrics pushes them
// over OTLP.
//
// Logs: JSON lines with trace_id, span_id and request_id, secrets
// redacted, a "request completed" line per request; Config.ExportLogs also
// sends them over OTLP.
//
// # Several services in one process
//
// Start installs nothing globally: each Telemetry has its own providers,
// registry and logger, so tests can run several services side by side.
// Telemetry.SetGlobal makes one of them the process default for libraries
// that use the OpenTelemetry globals.
//
// # Module
//
// The SDK is its own Go module, github.com/horus-obs/horus/sdk, apart from
// the Horus server's: an application importing it takes OpenTelemetry and
// client_golang, not the Prometheus TSDB, parquet or the Collector. A test
// (TestImportCost) holds the example application's dependencies to that.
// gRPC client packages are among them: OpenTelemetry's OTLP protobuf
// packages, which the OTLP/HTTP exporters use, import them.
package sdk
