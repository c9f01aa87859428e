// Package tempo serves the Tempo HTTP API over the event store, as
// Grafana's Tempo data source uses it: traces by id (OTLP as JSON or
// protobuf), TraceQL search and metrics, tag names and values, echo and
// build info.
//
// Responses follow Tempo's JSON (tempopb field names, 64-bit integers as
// strings, zero values left out), which Grafana decodes strictly; errors
// are 400 with a plain-text body naming the problem, as Tempo answers.
package tempo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/horus-obs/horus/internal/buildinfo"
	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/httpx"
	"github.com/horus-obs/horus/internal/query/traceql"
	"github.com/horus-obs/horus/internal/store/events"
)

// Store is what the API reads: the event store.
type Store interface {
	traceql.SpanStore
	Trace(ctx context.Context, tenant string, id events.TraceID) ([]events.Event, error)
	Select(ctx context.Context, q events.Query) ([]events.Event, events.ScanStats, error)
}

// Options configure the API.
type Options struct {
	// Timeout bounds one request's work.
	Timeout time.Duration
	// Limits bound searches, metrics queries and tag lookups (the
	// configuration's query.tempo); the zero value is the defaults.
	Limits config.TempoLimits
}

// API is the Tempo HTTP API.
type API struct {
	store  Store
	logger *slog.Logger
	opts   Options
}

// New returns the API over store.
func New(store Store, logger *slog.Logger, opts Options) *API {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Limits == (config.TempoLimits{}) {
		opts.Limits = config.Default().Query.Tempo
	}
	opts.Limits.DefaultResultLimit = max(opts.Limits.DefaultResultLimit, 1)
	return &API{store: store, logger: logger, opts: opts}
}

// Register adds the API's routes to mux: every endpoint of Tempo's HTTP
// API (https://grafana.com/docs/tempo/latest/api_docs/) but /ready,
// /metrics and /debug/pprof, which the server serves for all its APIs.
// Those of Tempo's distributed deployment and its experimental ones are
// refused with a 501 naming what Horus offers instead (docs/tempo.md).
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/echo", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "echo", http.StatusOK)
	})
	mux.HandleFunc("GET /api/status/buildinfo", func(w http.ResponseWriter, _ *http.Request) {
		bi := buildinfo.Get()
		writeJSON(w, map[string]string{"version": bi.Version, "revision": bi.Revision, "branch": bi.Branch,
			"buildUser": "", "buildDate": bi.BuildDate, "goVersion": bi.GoVersion})
	})
	mux.HandleFunc("GET /api/traces/{id}", a.handle(a.traceV1))
	mux.HandleFunc("GET /api/v2/traces/{id}", a.handle(a.traceV2))
	mux.HandleFunc("GET /api/search", a.handle(a.search))
	mux.HandleFunc("GET /api/search/tags", a.handle(a.tagsV1))
	mux.HandleFunc("GET /api/v2/search/tags", a.handle(a.tagsV2))
	mux.HandleFunc("GET /api/search/tag/{tag}/values", a.handle(a.tagValuesV1))
	mux.HandleFunc("GET /api/v2/search/tag/{tag}/values", a.handle(a.tagValuesV2))
	mux.HandleFunc("GET /api/metrics/query_range", a.handle(a.queryRange))
	mux.HandleFunc("GET /api/metrics/query", a.handle(a.queryInstant))
	mux.HandleFunc("GET /status", a.status)
	mux.HandleFunc("GET /status/{endpoint}", a.status)
	for pattern, instead := range unsupported {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, r.URL.Path+" is not supported by Horus: "+instead, http.StatusNotImplemented)
		})
	}
}

// unsupported are Tempo's endpoints Horus does not serve, each with what
// to use instead.
var unsupported = map[string]string{
	"POST /api/v2/traces/diff": "Tempo's trace diff is experimental; fetch both traces with /api/v2/traces/<id>",
	"/api/overrides":           "Horus has no per-tenant overrides; limits are in its configuration file (query.tempo, limits)",
	"/querier/":                "Horus runs no separate querier; use /api/traces/<id> and /api/v2/traces/<id>",
	"/memberlist":              "Horus is a single process without a memberlist",
	"/live-store/":             "Horus is a single process without live stores; its head is queried directly",
	"/distributor/ring":        "Horus is a single process without a ring",
	"/partition-ring":          "Horus is a single process without a partition ring",
	"/usage_metrics":           "Horus has no usage trackers; its own metrics are on /metrics",
	"/api/mcp":                 "Horus has no MCP server; use the HTTP API",
}

// statusEndpoints are Tempo's /status/<endpoint> pages Horus answers.
var statusEndpoints = []string{"version", "endpoints"}

// status answers Tempo's /status pages as text: version and endpoints
// (Tempo's routes Horus serves); /status alone prints both. The others
// (services, config, runtime_config, overrides, usage-stats,
// backendscheduler) describe Tempo's modules and are refused with a 501.
func (a *API) status(w http.ResponseWriter, r *http.Request) {
	endpoints := statusEndpoints
	if e := r.PathValue("endpoint"); e != "" {
		if !slices.Contains(statusEndpoints, e) {
			http.Error(w, "/status/"+e+" is not supported by Horus (it has /status/version and /status/endpoints; "+
				"its configuration is its YAML file, its state in /metrics and /api/v1/events/status)", http.StatusNotImplemented)
			return
		}
		endpoints = []string{e}
	}
	var b strings.Builder
	for _, e := range endpoints {
		b.WriteString("GET /status/" + e + "\n")
		switch e {
		case "version":
			bi := buildinfo.Get()
			fmt.Fprintf(&b, "horus, version %s (branch: %s, revision: %s)\n  build date: %s\n  go version: %s\n",
				bi.Version, bi.Branch, bi.Revision, bi.BuildDate, bi.GoVersion)
		case "endpoints":
			for _, p := range servedEndpoints {
				b.WriteString(p + "\n")
			}
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, b.String())
}

// servedEndpoints lists Tempo's endpoints Horus serves, as /status/endpoints
// prints them.
var servedEndpoints = []string{
	"GET /ready", "GET /metrics", "GET /debug/pprof/ (with web.enable_pprof)",
	"GET /api/echo", "GET /api/status/buildinfo", "GET /status", "GET /status/version", "GET /status/endpoints",
	"GET /api/traces/{traceID}", "GET /api/v2/traces/{traceID}", "GET /api/search",
	"GET /api/search/tags", "GET /api/v2/search/tags", "GET /api/search/tag/{tag}/values",
	"GET /api/v2/search/tag/{tag}/values", "GET /api/metrics/query_range", "GET /api/metrics/query",
	"POST /otlp/v1/traces (and :4318/v1/traces, :4317 gRPC)", "POST /api/v2/spans (Zipkin)",
}

func badf(format string, args ...any) error { return httpx.Badf(format, args...) }

type handlerFunc = httpx.TenantFunc

// handle answers errors as Tempo does: 400 text for bad requests, 500
// text otherwise.
func (a *API) handle(h handlerFunc) http.HandlerFunc {
	return httpx.Handle("Tempo API", a.opts.Timeout, a.logger, nil, h)
}

// writeJSON writes v as a 200 JSON answer, encoded first (httpx.WriteJSON).
func writeJSON(w http.ResponseWriter, v any) { httpx.WriteJSON(w, "application/json", v) }

// parseTraceID reads a trace id as Tempo does: hex, odd lengths padded,
// at most 128 bits.
func parseTraceID(s string) (events.TraceID, error) {
	for i, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return events.TraceID{}, badf("trace IDs can only contain hex characters: invalid character '%c' at position %d", c, i+1)
		}
	}
	if len(s) > 32 {
		return events.TraceID{}, badf("trace IDs can't be larger than 128 bits")
	}
	if s == "" {
		return events.TraceID{}, badf("trace ID is empty")
	}
	id, err := events.ParseTraceID(strings.ToLower(s))
	if err != nil {
		return id, badf("%v", err)
	}
	return id, nil
}

// traceIDString is Tempo's rendering in search results: hex without
// leading zeros.
func traceIDString(id events.TraceID) string {
	s := strings.TrimLeft(id.String(), "0")
	if s == "" {
		return "0"
	}
	return s
}

// timeRange reads start and end in unix seconds (Tempo's search and
// trace-by-id parameters) as the unix-ns range [start, end) of an event
// query: end is inclusive to the second, so the range ends a second after
// it. Zero means unset.
func timeRange(r *http.Request) (start, end int64, err error) {
	parse := func(name string) (int64, error) {
		v := r.FormValue(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, badf("invalid %s: %q is not unix seconds", name, v)
		}
		return n, nil
	}
	if start, err = parse("start"); err != nil {
		return 0, 0, err
	}
	if end, err = parse("end"); err != nil {
		return 0, 0, err
	}
	if start != 0 && end != 0 && end <= start {
		return 0, 0, badf("http parameter start must be before end. received start=%d end=%d", start, end)
	}
	start *= int64(time.Second)
	if end != 0 {
		end = (end + 1) * int64(time.Second)
	}
	return start, end, nil
}
