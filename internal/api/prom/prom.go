// Package prom serves the Prometheus HTTP API v1 under /api/v1 with
// Prometheus' own implementation (web/api/v1) over Horus' metrics store,
// so envelopes, error types, status codes and PromQL semantics are
// Prometheus' exactly. Horus adds request limits and counts refused
// queries by reason.
package prom

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/regexp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/route"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/horus-obs/horus/internal/api/promeval"
	"github.com/horus-obs/horus/internal/buildinfo"
	"github.com/horus-obs/horus/internal/httpx"
	"github.com/horus-obs/horus/internal/tenant"
)

// Storage is what the API reads: samples, chunks and exemplars, plus the
// TSDB status pages.
type Storage interface {
	storage.SampleAndChunkQueryable
	storage.ExemplarQueryable
	v1.TSDBAdminStats
}

// Options configure the API.
type Options struct {
	// DataDir is the TSDB directory, shown on status pages.
	DataDir string
	// ListenAddress is the HTTP address, shown on status pages.
	ListenAddress string
	// Config returns the Prometheus part of the running configuration for
	// /status/config and the scrape pools.
	Config func() promconfig.Config
	// Targets returns the scrape manager once it runs; nil before.
	Targets func() *scrape.Manager
	// Rules returns the rule manager; nil means no rules are loaded.
	Rules func() v1.RulesRetriever
	// Alertmanagers returns the notifier; nil means none are configured.
	Alertmanagers func() v1.AlertmanagerRetriever
	// LookbackDelta is the engine's lookback delta.
	LookbackDelta time.Duration
	// QueryTimeout is the engine's timeout, reported on status pages. It
	// is also the deadline of every request that takes PromQL or series
	// selectors (/query, /query_range, /query_exemplars, /series, /labels,
	// /label/<name>/values ...), from its start, so that looking up series
	// and label values is bounded as query evaluation is; 0 sets none.
	QueryTimeout time.Duration
	// Limits bound the PromQL and the match[] selectors the API parses;
	// zero fields take the defaults (MaxQueryLength, MaxQueryDepth,
	// MaxQueryNodes). The engine has its own (EngineOptions.Limits).
	Limits Limits
	// MaxBodyBytes bounds a POSTed form.
	MaxBodyBytes int64
	// Retention is shown on the runtime-info page.
	Retention string
	// Flags are shown on /status/flags.
	Flags map[string]string
	// PushedMetadata, when set, adds the metadata of pushed metrics to
	// /api/v1/metadata, which Prometheus answers from scraped targets only:
	// that of the request's tenant (tenant.FromContext, else the default
	// tenant), which alone has the scraped targets' too.
	PushedMetadata interface {
		AddTo(out map[string]map[metadata.Metadata]struct{}, tenant, metric string)
	}
}

// API is the Prometheus HTTP API.
type API struct {
	api      *v1.API
	parser   parser.Parser
	opts     Options
	rejected *prometheus.CounterVec
	requests *prometheus.CounterVec
	start    time.Time
}

// New builds the API over st, evaluating with engine.
func New(engine promql.QueryEngine, st Storage, logger *slog.Logger, reg prometheus.Registerer, gatherer prometheus.Gatherer, o Options) *API {
	a := &API{
		opts:   o,
		parser: NewParser(o.Limits),
		start:  time.Now(),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_query_rejected_total",
			Help: "Query API requests refused, by API and Prometheus error type (bad_data, timeout, execution...).",
		}, []string{"api", "reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_query_requests_total",
			Help: "Query API requests, by API, handler and status code.",
		}, []string{"api", "handler", "code"}),
	}
	if reg != nil {
		reg.MustRegister(a.rejected, a.requests)
	}
	bi := buildinfo.Get()
	rules := o.Rules
	if rules == nil {
		rules = func() v1.RulesRetriever { return noRules{} }
	}
	ams := o.Alertmanagers
	if ams == nil {
		ams = func() v1.AlertmanagerRetriever { return noAlertmanagers{} }
	}
	targets := func(context.Context) v1.TargetRetriever {
		if m := o.Targets(); m != nil {
			return m
		}
		return noTargets{}
	}
	pools := func(context.Context) v1.ScrapePoolsRetriever {
		if m := o.Targets(); m != nil {
			return m
		}
		return noTargets{}
	}
	host, _ := os.Hostname()
	a.api = v1.NewAPI(
		engine, st, nil, st,
		pools, targets,
		func(context.Context) v1.AlertmanagerRetriever { return ams() },
		o.Config,
		o.Flags,
		v1.GlobalURLOptions{ListenAddress: o.ListenAddress, Host: host, Scheme: "http"},
		func(f http.HandlerFunc) http.HandlerFunc { return f },
		st,
		o.DataDir,
		false,    // admin APIs
		false, 0, // search API
		logger,
		func(context.Context) v1.RulesRetriever { return rules() },
		0, 0, 0, // remote read limits (remote read is not served)
		false,
		regexp.MustCompile(".*"),
		a.runtimeInfo,
		&v1.PrometheusVersion{Version: bi.Version, Revision: bi.Revision, Branch: bi.Branch, BuildDate: bi.BuildDate, GoVersion: bi.GoVersion},
		nil, nil,
		gatherer, reg,
		nil,
		false, nil, // remote write is Horus' own handler
		false, false, false, // OTLP is Horus' own receiver
		o.LookbackDelta,
		false, false,
		nil,
		nil,
		v1.OpenAPIOptions{Version: bi.Version},
		a.parser,
		false,
		o.QueryTimeout,
	)
	return a
}

func (a *API) runtimeInfo() (v1.RuntimeInfo, error) {
	cwd, _ := os.Getwd()
	host, _ := os.Hostname()
	return v1.RuntimeInfo{
		StartTime:           a.start,
		CWD:                 cwd,
		Hostname:            host,
		ServerTime:          time.Now().UTC(),
		ReloadConfigSuccess: true,
		LastConfigTime:      a.start,
		GoroutineCount:      runtime.NumGoroutine(),
		GOMAXPROCS:          runtime.GOMAXPROCS(0),
		GOGC:                os.Getenv("GOGC"),
		GODEBUG:             os.Getenv("GODEBUG"),
		StorageRetention:    a.opts.Retention,
	}, nil
}

// Handler returns the API as a handler for paths under /api/v1 (it strips
// the prefix itself).
func (a *API) Handler() http.Handler {
	r := route.New()
	a.api.Register(r)
	inner := http.Handler(http.StripPrefix("/api/v1", r))
	if a.opts.PushedMetadata != nil {
		// Horus' /metadata replaces Prometheus' (which knows only
		// scraped targets).
		prom := inner
		inner = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/api/v1/metadata" && req.Method == http.MethodGet {
				a.metadata(w, req)
				return
			}
			prom.ServeHTTP(w, req)
		})
	}
	promFormat := inner
	inner = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if handlerName(req.URL.Path) == "/format_query" && !a.formattable(w, req) {
			return
		}
		promFormat.ServeHTTP(w, req)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Body != nil && a.opts.MaxBodyBytes > 0 {
			req.Body = http.MaxBytesReader(w, req.Body, a.opts.MaxBodyBytes)
		}
		if a.opts.QueryTimeout > 0 && takesPromQL(req.URL.Path) {
			// Prometheus bounds only the evaluation of a query; this bounds
			// the whole request, series and label lookups included. The
			// context is also cancelled when the client goes away.
			ctx, cancel := context.WithTimeout(req.Context(), a.opts.QueryTimeout)
			defer cancel()
			req = req.WithContext(ctx)
		}
		rw := &recorder{StatusWriter: httpx.StatusWriter{ResponseWriter: w}}
		inner.ServeHTTP(rw, req)
		code := rw.Code()
		a.requests.WithLabelValues("prometheus", handlerName(req.URL.Path), strconv.Itoa(code)).Inc()
		if code >= 400 {
			a.rejected.WithLabelValues("prometheus", errorType(rw.errBody.Bytes(), code)).Inc()
		}
	})
}

// formattable refuses, with a 400 in Prometheus' error shape, a query
// whose pretty-printing would build more than MaxFormatWork bytes. A query
// that does not parse is left to Prometheus' handler to refuse. It parses
// the form, which Prometheus' handler then reads from req.Form.
func (a *API) formattable(w http.ResponseWriter, req *http.Request) bool {
	e, err := a.parser.ParseExpr(req.FormValue("query"))
	if err != nil {
		return true
	}
	if work := formatWork(e); work > MaxFormatWork {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data",
			"error": fmt.Sprintf("invalid parameter \"query\": query is too large to format: printing it would build about %d MiB, more than the limit of %d MiB", work>>20, MaxFormatWork>>20)})
		return false
	}
	return true
}

// metadata answers /api/v1/metadata as Prometheus does, from the scraped
// targets and from the metadata that came with pushed samples.
func (a *API) metadata(w http.ResponseWriter, r *http.Request) {
	fail := func(msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": msg})
	}
	limit, limitPerMetric := -1, -1
	for name, dst := range map[string]*int{"limit": &limit, "limit_per_metric": &limitPerMetric} {
		if s := r.FormValue(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				fail(name + " must be a number")
				return
			}
			*dst = n
		}
	}
	metric := r.FormValue("metric")
	all := map[string]map[metadata.Metadata]struct{}{}
	org, ok := tenant.FromContext(r.Context())
	if !ok {
		org = tenant.Default
	}
	if m := a.opts.Targets(); m != nil && org == tenant.Default {
		for _, tt := range m.TargetsActive() {
			for _, t := range tt {
				for _, mm := range t.ListMetadata() {
					if metric != "" && mm.MetricFamily != metric {
						continue
					}
					if all[mm.MetricFamily] == nil {
						all[mm.MetricFamily] = map[metadata.Metadata]struct{}{}
					}
					all[mm.MetricFamily][metadata.Metadata{Type: mm.Type, Help: mm.Help, Unit: mm.Unit}] = struct{}{}
				}
			}
		}
	}
	a.opts.PushedMetadata.AddTo(all, org, metric)
	data := map[string][]metadata.Metadata{}
	for family, set := range all {
		if limit >= 0 && len(data) >= limit {
			break
		}
		for md := range set {
			if limitPerMetric > 0 && len(data[family]) >= limitPerMetric {
				break
			}
			data[family] = append(data[family], md)
		}
	}
	promeval.WriteJSON(w, http.StatusOK, map[string]any{"status": "success", "data": data})
}

// handlerName folds /api/v1/label/<name>/values into one value.
func handlerName(p string) string {
	p = strings.TrimPrefix(p, "/api/v1")
	if strings.HasPrefix(p, "/label/") {
		return "/label/:name/values"
	}
	switch p {
	case "/query", "/query_range", "/query_exemplars", "/series", "/labels", "/metadata",
		"/format_query", "/parse_query", "/targets", "/targets/metadata", "/rules", "/alerts",
		"/status/config", "/status/buildinfo", "/status/runtimeinfo", "/status/flags",
		"/status/tsdb", "/status/tsdb/blocks", "/status/walreplay", "/scrape_pools", "/alertmanagers":
		return p
	}
	return "other"
}

// takesPromQL says whether the endpoint at path p reads PromQL (query) or
// series selectors (match[]).
func takesPromQL(p string) bool {
	switch handlerName(p) {
	case "/query", "/query_range", "/query_exemplars", "/format_query", "/parse_query",
		"/series", "/labels", "/label/:name/values":
		return true
	}
	return false
}

// errorType reads Prometheus' errorType from an error response body.
func errorType(body []byte, code int) string {
	var env struct {
		ErrorType string `json:"errorType"`
	}
	if len(body) > 2 && body[0] == 0x1f && body[1] == 0x8b {
		// Prometheus' API gzips for clients that accept it.
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			if b, err := io.ReadAll(io.LimitReader(zr, 1<<16)); len(b) > 0 {
				_ = err // the capture may be cut short; decode what there is
				body = b
			}
		}
	}
	if json.Unmarshal(body, &env) == nil && env.ErrorType != "" {
		return env.ErrorType
	}
	if code == http.StatusNotFound {
		return "not_found"
	}
	return "http_" + strconv.Itoa(code)
}

// recorder keeps the status code and, for errors, the start of the body.
type recorder struct {
	httpx.StatusWriter
	errBody bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	if code := r.Code(); code >= 400 && r.errBody.Len() < 4096 {
		r.errBody.Write(b[:min(len(b), 4096-r.errBody.Len())])
	}
	return r.StatusWriter.Write(b)
}

// noTargets answers the target pages while no scrape manager runs.
type noTargets struct{}

func (noTargets) TargetsActive() map[string][]*scrape.Target  { return nil }
func (noTargets) TargetsDropped() map[string][]*scrape.Target { return nil }
func (noTargets) TargetsDroppedCounts() map[string]int        { return nil }
func (noTargets) ScrapePools() []string                       { return nil }
func (noTargets) ScrapePoolConfig(name string) (*promconfig.ScrapeConfig, error) {
	return nil, fmt.Errorf("scrape pool %q not found", name)
}

// noRules answers /rules and /alerts while no rules are loaded.
type noRules struct{}

func (noRules) RuleGroups() []*rules.Group           { return nil }
func (noRules) AlertingRules() []*rules.AlertingRule { return nil }

// noAlertmanagers answers /alertmanagers while none is configured.
type noAlertmanagers struct{}

func (noAlertmanagers) Alertmanagers() []*url.URL        { return nil }
func (noAlertmanagers) DroppedAlertmanagers() []*url.URL { return nil }

// EngineOptions are the PromQL engine settings Horus exposes.
type EngineOptions struct {
	// Timeout bounds one query.
	Timeout time.Duration
	// MaxSamples bounds the samples one query holds at once.
	MaxSamples int
	// LookbackDelta is how far back an instant selector looks.
	LookbackDelta time.Duration
	// MaxConcurrent bounds concurrent queries; 0 leaves them unbounded.
	MaxConcurrent int
	// ActiveQueryDir, when set with MaxConcurrent, is where the active
	// query log lives, so queries that crashed Horus are logged at start.
	ActiveQueryDir string
	// Limits bound the queries the engine parses (the API's and the
	// service graph's); zero fields take the defaults.
	Limits Limits
}

// NewEngine creates the PromQL engine with the features Prometheus 3
// enables by default (@ modifier, negative offsets), parsing with
// NewParser(o.Limits).
func NewEngine(logger *slog.Logger, reg prometheus.Registerer, o EngineOptions) (*promql.Engine, error) {
	opts := promql.EngineOpts{
		Logger:               logger.With("component", "promql"),
		Reg:                  reg,
		MaxSamples:           o.MaxSamples,
		Timeout:              o.Timeout,
		LookbackDelta:        o.LookbackDelta,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		NoStepSubqueryIntervalFn: func(int64) int64 {
			return time.Minute.Milliseconds()
		},
		Parser: NewParser(o.Limits),
	}
	if o.MaxConcurrent > 0 && o.ActiveQueryDir != "" {
		if err := os.MkdirAll(o.ActiveQueryDir, 0o755); err != nil {
			return nil, fmt.Errorf("active query log dir: %w", err)
		}
		qt, err := promql.NewActiveQueryTracker(o.ActiveQueryDir, o.MaxConcurrent, logger.With("component", "activeQueryTracker"))
		if err != nil {
			return nil, fmt.Errorf("active query tracker: %w", err)
		}
		opts.ActiveQueryTracker = qt
	}
	return promql.NewEngine(opts), nil
}
