// Package server wires Horus together: it opens the stores, builds the
// ingest receivers and query APIs over them, binds the listeners and runs
// everything in one run group until the context ends.
//
//	Prometheus ──remote_write──┐                      ┌── /api/v1/* (Prometheus API, PromQL)
//	OTel SDKs ──OTLP gRPC/HTTP─┼─► guard (limits) ─┐  │
//	targets ◄──────scrape──────┘                   ▼  │
//	                                    metrics TSDB (WAL, head, blocks, exemplars)
//	                                                   │
//	/metrics, /-/healthy, /-/ready ◄── Horus' own registry and state
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"google.golang.org/grpc"

	"github.com/horus-obs/horus/docs/runbooks"
	"github.com/horus-obs/horus/internal/alertmanager"
	lokiapi "github.com/horus-obs/horus/internal/api/loki"
	"github.com/horus-obs/horus/internal/api/prom"
	"github.com/horus-obs/horus/internal/api/servicegraph"
	"github.com/horus-obs/horus/internal/api/services"
	"github.com/horus-obs/horus/internal/api/tempo"
	"github.com/horus-obs/horus/internal/buildinfo"
	"github.com/horus-obs/horus/internal/changes"
	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/jsonlines"
	"github.com/horus-obs/horus/internal/ingest/loki"
	"github.com/horus-obs/horus/internal/ingest/otlp"
	"github.com/horus-obs/horus/internal/ingest/remotewrite"
	horusscrape "github.com/horus-obs/horus/internal/ingest/scrape"
	"github.com/horus-obs/horus/internal/ingest/zipkin"
	"github.com/horus-obs/horus/internal/investigate"
	"github.com/horus-obs/horus/internal/pipeline"
	"github.com/horus-obs/horus/internal/slo"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/store/events/wal"
	"github.com/horus-obs/horus/internal/store/metrics"
	"github.com/horus-obs/horus/internal/ui"
	"github.com/horus-obs/horus/sdk/redact"
)

// ShutdownTimeout bounds how long HTTP servers drain on shutdown.
const ShutdownTimeout = 15 * time.Second

// Server is a running Horus: stores open, listeners bound.
type Server struct {
	cfg     *config.Config
	logger  *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics.Store
	events  *events.Store
	changes *changes.Store
	slos    *slo.Set                   // the SLOs of slo_files, as last loaded
	rules   ruleState                  // rules, notifier, reloads (rules.go)
	am      *alertmanager.Alertmanager // the embedded Alertmanager; nil when off (alertmanager.go)
	scraper *horusscrape.Scraper
	derived []derived         // span metrics and the service graph, if on
	sampler *pipeline.Sampler // nil: tail sampling off
	ready   atomic.Bool
	lock    *dataDirLock

	httpLn, otlpHTTPLn, otlpGRPCLn net.Listener
	httpSrv, otlpHTTPSrv           *http.Server
	grpcSrv                        *grpc.Server

	closeOnce sync.Once
}

// derived is a deriver of metrics from spans, flushed to the metrics
// store every interval.
type derived struct {
	flusher interface {
		Run(ctx context.Context, app storage.AppendableV2, interval time.Duration, logger *slog.Logger)
	}
	name     string
	interval time.Duration
}

// New opens the stores and binds the listeners of cfg. Call Run to serve,
// or Close to release everything without serving.
func New(cfg *config.Config, logger *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, logger: logger, reg: prometheus.NewRegistry()}
	if err := s.build(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) build() (err error) {
	cfg, logger := s.cfg, s.logger
	s.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfoCollector(),
	)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if s.lock, err = lockDataDir(cfg.DataDir); err != nil {
		return err
	}
	// Bound first, so that an http_addr on port 0 is known before the
	// links in alerts (external URL, runbook and alert pages) are built
	// from it: cfg.HTTPAddr becomes the address bound.
	if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return fmt.Errorf("http_addr: %w", err)
	}
	if _, port, perr := net.SplitHostPort(cfg.HTTPAddr); perr == nil && port == "0" {
		cfg.HTTPAddr = s.httpLn.Addr().String()
	}

	s.metrics, err = metrics.Open(filepath.Join(cfg.DataDir, "metrics"), logger, s.reg, metrics.Options{
		Retention:        time.Duration(cfg.Metrics.Retention),
		RetentionSize:    int64(cfg.Metrics.RetentionSize),
		OutOfOrderWindow: time.Duration(cfg.Metrics.OutOfOrderWindow),
		MaxExemplars:     cfg.Metrics.MaxExemplars,
	})
	if err != nil {
		return err
	}

	sync, err := wal.ParseSyncPolicy(cfg.Events.Fsync)
	if err != nil {
		return err
	}
	tenants := map[string]events.TenantLimits{}
	for name, t := range cfg.Events.Tenants {
		tenants[name] = events.TenantLimits{Retention: time.Duration(t.Retention), RetentionBytes: int64(t.RetentionSize)}
	}
	s.events, err = events.Open(filepath.Join(cfg.DataDir, "events"), logger.With("component", "events"), events.Options{
		WAL:            wal.Options{Sync: sync, SyncInterval: time.Duration(cfg.Events.FsyncInterval)},
		HeadMaxBytes:   int(cfg.Events.HeadMaxBytes),
		HeadMaxAge:     time.Duration(cfg.Events.HeadMaxAge),
		Retention:      time.Duration(cfg.Events.Retention),
		RetentionBytes: int64(cfg.Events.RetentionSize),
		Tenants:        tenants,
		Registerer:     s.reg,
	})
	if err != nil {
		return err
	}

	// Change events: kept in the event store, a sample each in the metrics
	// store; the versions known are read back so that a restart makes no
	// change for a version already recorded.
	s.changes = changes.New(s.events, s.metrics, changes.Options{Logger: logger.With("component", "changes"), Registerer: s.reg})
	if _, err := s.changes.Seed(context.Background()); err != nil {
		return fmt.Errorf("change events: %w", err)
	}

	engine, err := prom.NewEngine(logger, s.reg, prom.EngineOptions{
		Timeout:        time.Duration(cfg.Query.Timeout),
		MaxSamples:     cfg.Query.MaxSamples,
		LookbackDelta:  time.Duration(cfg.Query.LookbackDelta),
		MaxConcurrent:  cfg.Query.MaxConcurrent,
		ActiveQueryDir: filepath.Join(cfg.DataDir, "queries"),
	})
	if err != nil {
		return err
	}

	im := ingest.NewMetrics(s.reg)
	pushedMeta := metrics.NewMetadata()
	guard := &ingest.Guard{Next: s.metrics, Metadata: pushedMeta, Limits: ingest.Limits{
		MaxLabelsPerSeries:  cfg.Limits.MaxLabelsPerSeries,
		MaxLabelNameLength:  cfg.Limits.MaxLabelNameLength,
		MaxLabelValueLength: cfg.Limits.MaxLabelValueLength,
	}}
	body := ingest.BodyLimits{MaxBytes: int64(cfg.Limits.MaxRequestBodyBytes), MaxDecodedBytes: int64(cfg.Limits.MaxDecodedBodyBytes)}
	inflight := ingest.NewInFlight(cfg.Limits.MaxInflightRequests, int64(cfg.Limits.MaxInflightBytes), s.reg)
	bodyTO := bodyTimeouts{idle: time.Duration(cfg.Limits.BodyIdleTimeout), total: time.Duration(cfg.Limits.BodyReadTimeout)}

	s.scraper, err = horusscrape.New(logger, s.reg, &ingest.Counting{
		Next:     s.metrics,
		Received: im.Received.WithLabelValues(ingest.SignalMetrics, ingest.ProtoScrape),
	})
	if err != nil {
		return err
	}
	promCfg := cfg.PrometheusConfig()
	if err := s.scraper.ApplyConfig(promCfg); err != nil {
		return err
	}

	rw := remotewrite.New(guard, im, logger.With("component", "remote_write"), remotewrite.Options{Body: body})
	otlpMetrics := otlp.NewPromMetrics(guard, func() promconfig.OTLPConfig { return promCfg.OTLPConfig },
		time.Duration(cfg.Query.LookbackDelta), logger.With("component", "otlp"))
	traces := &pipeline.Traces{Store: s.events, Derivers: []pipeline.SpanDeriver{s.changes}}
	if sm := cfg.Traces.SpanMetrics; sm.Enabled {
		m := pipeline.NewSpanMetrics(pipeline.SpanMetricsOptions{Dimensions: sm.Dimensions, MaxSeries: sm.MaxSeries}, s.reg)
		traces.Derivers = append(traces.Derivers, m)
		s.derived = append(s.derived, derived{m, "spanmetrics", time.Duration(sm.FlushInterval)})
	}
	if sg := cfg.Traces.ServiceGraph; sg.Enabled {
		g := pipeline.NewServiceGraph(pipeline.ServiceGraphOptions{
			Wait:           time.Duration(sg.Wait),
			MaxPending:     sg.MaxPending,
			PeerAttributes: sg.PeerAttributes,
			MaxSeries:      sg.MaxSeries,
		}, s.reg)
		traces.Derivers = append(traces.Derivers, g)
		s.derived = append(s.derived, derived{g, "servicegraph", time.Duration(sg.FlushInterval)})
	}
	if ts := cfg.Traces.Sampling; ts.Enabled {
		s.sampler = pipeline.NewSampler(pipeline.SamplerOptions{
			DecisionWait:     time.Duration(ts.DecisionWait),
			LatencyThreshold: time.Duration(ts.LatencyThreshold),
			Probability:      ts.Probability,
			MaxTraces:        ts.MaxTraces,
		}, s.events, s.reg, logger.With("component", "sampling"))
		traces.Sampler = s.sampler
	}
	spanLimits := ingest.SpanLimits{
		MaxBytes:      int(cfg.Limits.MaxSpanBytes),
		MaxAttributes: cfg.Limits.MaxSpanAttributes,
		MaxEvents:     cfg.Limits.MaxSpanEvents,
		MaxLinks:      cfg.Limits.MaxSpanLinks,
	}
	logs, err := newLogs(cfg.Logs, s.changes.WatchLogs(s.events), s.reg)
	if err != nil {
		return err
	}
	logLimits := ingest.LogLimits{
		MaxLineBytes: int(cfg.Limits.MaxLogLineBytes),
		MaxFields:    cfg.Limits.MaxLogFields,
		MaxLines:     cfg.Limits.MaxLogLinesPerRequest,
		MaxFuture:    maxLogFuture,
		MaxAge:       time.Duration(cfg.Limits.RejectOldSamplesMaxAge),

		MaxStreamLabels:     cfg.Limits.MaxLogStreamLabels,
		MaxLabelNameLength:  cfg.Limits.MaxLogLabelNameLength,
		MaxLabelValueLength: cfg.Limits.MaxLogLabelValueLength,
	}
	streamAttrs := map[string]bool{}
	for _, a := range cfg.Logs.StreamAttributes {
		streamAttrs[a] = true
	}
	receiver := otlp.New(otlp.Consumers{
		Metrics: s.changes.WatchMetrics(otlpMetrics),
		Traces:  &otlp.EventSpans{Limits: spanLimits, Sink: traces},
		Logs:    &otlp.EventLogs{Limits: logLimits, StreamAttributes: streamAttrs, Sink: logs},
	}, im, logger.With("component", "otlp"), otlp.Options{Body: body})

	tenancy := metrics.NewTenancy(s.metrics)
	// The SLOs of slo_files: the ruler loads them with the rule files (a
	// bad one stops the start, as a bad rule file does) and at each
	// reload (buildRules: Options.Generated is s.slos.RuleGroups); the
	// set, which /api/v1/slos reads, follows.
	s.slos = slo.NewSet()
	if err := s.buildAlertmanager(); err != nil {
		return err
	}
	if err := s.buildRules(engine, tenancy); err != nil {
		return err
	}
	api := prom.New(engine, promStore{tenancy, s.metrics}, logger.With("component", "api"), s.reg, s.reg, prom.Options{
		DataDir:        filepath.Join(cfg.DataDir, "metrics"),
		ListenAddress:  cfg.HTTPAddr,
		Config:         func() promconfig.Config { return *promCfg },
		Targets:        func() *scrape.Manager { return s.scraper.Manager() },
		Rules:          s.rulesRetriever,
		Alertmanagers:  s.alertmanagers,
		LookbackDelta:  time.Duration(cfg.Query.LookbackDelta),
		QueryTimeout:   time.Duration(cfg.Query.Timeout),
		MaxBodyBytes:   int64(cfg.Limits.MaxRequestBodyBytes),
		Retention:      cfg.Metrics.Retention.String(),
		Flags:          map[string]string{"data-dir": cfg.DataDir, "http-addr": cfg.HTTPAddr},
		PushedMetadata: pushedMeta,
	})

	// write is an ingest endpoint: refused for browser-simple content
	// types, admitted by the in-flight limits.
	write := func(h http.Handler, e writeEndpoint) http.Handler { return admit(refuseSimple(h, im, e), inflight) }
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", &tenantReads{next: api.Handler(), store: s.metrics, tenancy: tenancy})
	mux.Handle("/api/v1/write", postOnly(write(rw, remoteWriteEndpoint)))
	mux.HandleFunc("GET /api/v1/events/status", s.eventsStatus)
	mux.Handle("/api/v1/changes", s.changes.Handler(body, func(h http.Handler) http.Handler {
		return write(h, writeEndpoint{"changes", "api", "application/json"})
	}))
	mux.Handle("GET /api/v1/service-graph", servicegraph.Handler(engine, tenancy, time.Duration(cfg.Query.Timeout)))
	mux.Handle("GET /api/v1/services", services.Handler(engine, tenancy, time.Duration(cfg.Query.Timeout)))
	slo.NewAPI(s.slos, engine, tenancy, time.Duration(cfg.Query.Timeout)).Register(mux)
	investigate.New(investigate.Options{Events: s.events, Changes: s.changes, Engine: engine, Metrics: tenancy,
		Alerts: s.rules.ruler, ExternalLabels: promCfg.GlobalConfig.ExternalLabels, Logger: logger.With("component", "investigate")}).Register(mux)
	tempo.New(s.events, logger.With("component", "tempo"), tempo.Options{Timeout: time.Duration(cfg.Query.Timeout), Limits: cfg.Query.Tempo}).Register(mux)
	otlpMux := http.NewServeMux()
	receiver.RegisterHTTP(otlpMux, "/otlp")
	mux.Handle("/otlp/", write(otlpMux, otlpHTTPEndpoint))
	lokiapi.New(s.events, logger.With("component", "loki"), lokiapi.Options{Timeout: time.Duration(cfg.Query.Timeout)}).Register(mux)
	mux.Handle("/loki/api/v1/push", postOnly(write(&loki.Handler{Sink: logs, Limits: logLimits, Body: body, Metrics: im, Logger: logger.With("component", "loki")}, lokiPushEndpoint)))
	mux.Handle("/api/v1/logs/jsonl", postOnly(write(&jsonlines.Handler{Sink: logs, Limits: logLimits, Body: body, Fields: cfg.Logs.JSONLines, Metrics: im, Logger: logger.With("component", "jsonlines")}, jsonLinesEndpoint)))
	mux.Handle("/api/v2/spans", postOnly(write(&zipkin.Handler{Sink: traces, Limits: spanLimits, Body: body, Metrics: im, Logger: logger.With("component", "zipkin")}, zipkinEndpoint)))
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	if cfg.Web.EnablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/-/reload", s.reload)
	mux.HandleFunc("POST /flush", s.flush)
	s.mountAlertmanager(mux)
	// The runbooks of the demo shop's alerts (docs/runbooks), where their
	// runbook_url points: {{ $externalURL }}/runbooks/<alert>.
	mux.Handle("GET "+runbooks.Path, runbooks.Handler())
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Horus is Healthy.")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "Horus is not ready.", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Horus is Ready.")
	})
	// /ready is the probe Tempo's and Loki's manifests use (Tempo: 200
	// "ready", else 503 with the reason).
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "Horus is starting or stopping", http.StatusServiceUnavailable)
			return
		}
		http.Error(w, "ready", http.StatusOK)
	})
	// The web UI (internal/ui): its pages and assets; any other path is a
	// 404. "/" asked for by a script (no text/html in Accept) is the list of
	// the APIs.
	webUI := ui.Handler()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" || ui.WantsHTML(r) {
			webUI.ServeHTTP(w, r)
			return
		}
		fmt.Fprintf(w, "%s\n\nPrometheus API: /api/v1/query\nTempo API: /api/search, /api/v2/traces/<id>\nLoki API: /loki/api/v1/query_range\nremote_write: /api/v1/write\nLoki push: /loki/api/v1/push\nJSON lines: /api/v1/logs/jsonl\nchange events: /api/v1/changes\nAlertmanager API v2: /alertmanager/api/v2/\nOTLP/HTTP: /otlp/v1/metrics, /otlp/v1/traces, /otlp/v1/logs\nself-metrics: /metrics\nrunbooks: /runbooks/\nweb UI: / in a browser\n", buildinfo.Get())
	})
	browser := newBrowserPolicy(cfg.Web.CORS)
	s.httpSrv = newHTTPServer(browser.wrap(bodyDeadlines(mux, bodyTO)), logger)

	if cfg.OTLP.HTTPAddr != "" {
		omux := http.NewServeMux()
		receiver.RegisterHTTP(omux, "")
		s.otlpHTTPSrv = newHTTPServer(browser.wrap(bodyDeadlines(write(omux, otlpHTTPEndpoint), bodyTO)), logger)
		if s.otlpHTTPLn, err = net.Listen("tcp", cfg.OTLP.HTTPAddr); err != nil {
			return fmt.Errorf("otlp.http_addr: %w", err)
		}
	}
	if cfg.OTLP.GRPCAddr != "" {
		webOpts, werr := s.grpcWebOptions()
		if werr != nil {
			return fmt.Errorf("web.config_file: %w", werr)
		}
		s.grpcSrv = receiver.GRPCServer(append(webOpts, grpcLimits{inflight, int(cfg.Limits.MaxGRPCMessageBytes)}.options()...)...)
		if s.otlpGRPCLn, err = net.Listen("tcp", cfg.OTLP.GRPCAddr); err != nil {
			return fmt.Errorf("otlp.grpc_addr: %w", err)
		}
	}
	return s.warnExposed()
}

// buildInfoCollector exposes horus_build_info, Prometheus' convention for
// the running version.
func buildInfoCollector() prometheus.Collector {
	bi := buildinfo.Get()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "horus_build_info",
		Help: "A metric with a constant '1' value labeled by version, revision, branch and goversion of Horus.",
	}, []string{"version", "revision", "branch", "goversion"})
	g.WithLabelValues(bi.Version, bi.Revision, bi.Branch, bi.GoVersion).Set(1)
	return g
}

func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// Addrs are the bound listen addresses; empty for a disabled listener.
type Addrs struct {
	HTTP, OTLPHTTP, OTLPGRPC string
}

// Addrs returns the addresses the listeners are bound to (useful when the
// configuration asked for port 0).
func (s *Server) Addrs() Addrs {
	var a Addrs
	if s.httpLn != nil {
		a.HTTP = s.httpLn.Addr().String()
	}
	if s.otlpHTTPLn != nil {
		a.OTLPHTTP = s.otlpHTTPLn.Addr().String()
	}
	if s.otlpGRPCLn != nil {
		a.OTLPGRPC = s.otlpGRPCLn.Addr().String()
	}
	return a
}

// Registry is Horus' own metrics registry.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Run serves until ctx ends or a component fails, then shuts everything
// down in order and closes the stores.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	var g run.Group
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			<-ctx.Done()
			return nil
		}, func(error) { cancel() })
	}
	serveHTTP := func(name string, srv *http.Server, ln net.Listener) {
		g.Add(func() error {
			if err := s.serveWeb(srv, ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s server: %w", name, err)
			}
			return nil
		}, func(error) {
			ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
	}
	serveHTTP("http", s.httpSrv, s.httpLn)
	if s.otlpHTTPSrv != nil {
		serveHTTP("otlp http", s.otlpHTTPSrv, s.otlpHTTPLn)
	}
	if s.grpcSrv != nil {
		g.Add(func() error {
			return s.grpcSrv.Serve(s.otlpGRPCLn)
		}, func(error) {
			stopGRPC(s.grpcSrv, ShutdownTimeout)
		})
	}
	g.Add(s.scraper.Run, func(error) { s.scraper.Stop() })
	s.runRules(&g)
	// background runs a loop until the group stops, and waits for its
	// last round (the sampler's and the derivers' final flushes).
	background := func(loop func(ctx context.Context)) {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		g.Add(func() error {
			defer close(done)
			loop(ctx)
			return nil
		}, func(error) {
			cancel()
			<-done
		})
	}
	if s.sampler != nil {
		background(s.sampler.Run)
	}
	for _, d := range s.derived {
		background(func(ctx context.Context) {
			d.flusher.Run(ctx, s.metrics, d.interval, s.logger.With("component", d.name))
		})
	}

	s.ready.Store(true)
	s.logger.Info("Horus started", "version", buildinfo.Get().Version, "data_dir", s.cfg.DataDir,
		"http", s.Addrs().HTTP, "otlp_grpc", s.Addrs().OTLPGRPC, "otlp_http", s.Addrs().OTLPHTTP)
	err := g.Run()
	s.ready.Store(false)
	s.logger.Info("Horus stopping")
	return err
}

func stopGRPC(srv *grpc.Server, timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		srv.Stop()
	}
}

// Close releases listeners and closes the stores, flushing the WAL. It is
// safe to call more than once and after Run.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		for _, ln := range []net.Listener{s.httpLn, s.otlpHTTPLn, s.otlpGRPCLn} {
			if ln != nil {
				_ = ln.Close()
			}
		}
		if s.scraper != nil {
			s.scraper.Stop()
		}
		if s.metrics != nil {
			if err := s.metrics.Close(); err != nil {
				s.logger.Error("closing metrics store", "err", err)
			}
		}
		// After the ruler, whose notifier drains into it at shutdown.
		s.stopAlertmanager()
		if s.events != nil {
			if err := s.events.Close(); err != nil {
				s.logger.Error("closing event store", "err", err)
			}
		}
		s.lock.release()
	})
}

// maxLogFuture is how far ahead of the clock a log line may be timed, as
// Loki's creation grace period.
const maxLogFuture = 10 * time.Minute

// newLogs makes the log pipeline with each tenant's redaction.
func newLogs(cfg config.LogsConfig, store pipeline.SpanStore, reg prometheus.Registerer) (*pipeline.Logs, error) {
	def, err := cfg.Redaction.Redactor()
	if err != nil {
		return nil, fmt.Errorf("logs.redaction: %w", err)
	}
	tenants := map[string]*redact.Redactor{}
	for name, t := range cfg.Tenants {
		if t.Redaction == nil {
			continue
		}
		if tenants[name], err = t.Redaction.Redactor(); err != nil {
			return nil, fmt.Errorf("logs.tenants.%s.redaction: %w", name, err)
		}
	}
	return pipeline.NewLogs(store, func(tenant string) *redact.Redactor {
		if r, ok := tenants[tenant]; ok {
			return r
		}
		return def
	}, reg), nil
}
