// Package config holds the Horus configuration: a YAML file whose fields
// have defaults, command-line flags that override single fields, and a
// Validate method whose errors name the offending field.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"go.yaml.in/yaml/v2"

	"github.com/horus-obs/horus/internal/ingest/jsonlines"
	"github.com/horus-obs/horus/internal/tenant"
	"github.com/horus-obs/horus/sdk/redact"
)

// Config is the whole Horus configuration. The zero value is not useful;
// start from Default or Load.
type Config struct {
	// DataDir is where every store keeps its files. A relative data_dir
	// in a config file is relative to the file's directory, as every other
	// path in the file is; the default and the --data-dir flag are
	// relative to the working directory.
	DataDir string `yaml:"data_dir"`
	// HTTPAddr is the one listen address for the UI and every query and
	// ingest HTTP API (Prometheus, remote_write, Loki, Tempo). The default,
	// "localhost:3300", is reachable from this machine only.
	HTTPAddr string `yaml:"http_addr"`
	// OTLP holds the OpenTelemetry receiver addresses.
	OTLP OTLPConfig `yaml:"otlp"`
	// Web holds TLS, authentication, pprof and CORS for every listener.
	Web WebConfig `yaml:"web"`
	// Log configures Horus' own logs.
	Log LogConfig `yaml:"log"`
	// Limits bound what one request or one series may carry.
	Limits Limits `yaml:"limits"`
	// Metrics configures the metrics store (the Prometheus TSDB).
	Metrics MetricsConfig `yaml:"metrics"`
	// Query configures the PromQL engine.
	Query QueryConfig `yaml:"query"`
	// Events configures the event store (logs and spans).
	Events EventsConfig `yaml:"events"`
	// Traces configures what is derived from spans.
	Traces TracesConfig `yaml:"traces"`
	// Logs configures the log pipeline.
	Logs LogsConfig `yaml:"logs"`
	// SLOFiles are glob patterns of SLO files (Sloth prometheus/v1,
	// OpenSLO v1 or Horus' own form; docs/slo.md) whose generated
	// recording and alerting rules are loaded with the rule files and
	// reloaded with them. Relative patterns in a config file are relative
	// to the file, as Prometheus' rule_files are.
	SLOFiles []string `yaml:"slo_files,omitempty"`
	// RuleFiles are glob patterns of Prometheus rule files (PromQL), as
	// prometheus.yml's rule_files; relative patterns in a config file are
	// relative to the file. A group labelled horus_query_language: logql
	// or traceql is evaluated in that language (docs/alerting.md).
	RuleFiles []string `yaml:"rule_files,omitempty"`
	// LogQLRuleFiles are glob patterns of rule files whose groups are
	// LogQL (Loki ruler files as they are), relative as RuleFiles.
	LogQLRuleFiles []string `yaml:"logql_rule_files,omitempty"`
	// TraceQLRuleFiles are glob patterns of rule files whose groups are
	// TraceQL metrics queries, relative as RuleFiles.
	TraceQLRuleFiles []string `yaml:"traceql_rule_files,omitempty"`
	// Alerting is Prometheus' alerting section (alertmanagers with
	// static_configs, timeout, api_version, path_prefix...;
	// alert_relabel_configs), as in prometheus.yml.
	Alerting yaml.MapSlice `yaml:"alerting,omitempty"`
	// ExternalURL is the URL users reach Horus at, for the links in
	// alerts (generatorURL, horus_url); default http://<http_addr>.
	ExternalURL string `yaml:"external_url,omitempty"`
	// Rules configures rule evaluation.
	Rules RulesConfig `yaml:"rules"`
	// Alertmanager configures the Alertmanager inside Horus
	// (docs/alertmanager.md).
	Alertmanager AlertmanagerConfig `yaml:"alertmanager"`
	// Global holds Prometheus' global scrape settings (scrape_interval,
	// scrape_timeout, external_labels...), as in prometheus.yml.
	Global yaml.MapSlice `yaml:"global,omitempty"`
	// ScrapeConfigs are Prometheus scrape_configs, as in prometheus.yml.
	// Only static_configs and file_sd_configs discovery is built in.
	ScrapeConfigs []yaml.MapSlice `yaml:"scrape_configs,omitempty"`

	// prom is Global and ScrapeConfigs loaded by Prometheus' own config
	// loader, which validates them and fills their defaults.
	prom *promconfig.Config
}

// RulesConfig configures the rule manager, as Prometheus' --rules.*
// flags do (evaluation_interval is global's, as in prometheus.yml).
type RulesConfig struct {
	// OutageTolerance is the longest outage of Horus after which a
	// pending or firing alert's 'for' state is restored
	// (--rules.alert.for-outage-tolerance, 1h).
	OutageTolerance model.Duration `yaml:"outage_tolerance"`
	// ForGracePeriod is the least 'for' time left to an alert restored
	// after an outage (--rules.alert.for-grace-period, 10m).
	ForGracePeriod model.Duration `yaml:"for_grace_period"`
	// ResendDelay is how often a firing alert is sent again
	// (--rules.alert.resend-delay, 1m).
	ResendDelay model.Duration `yaml:"resend_delay"`
	// TraceQLRange is the span of time a TraceQL metrics rule counts at
	// each evaluation ([t - range, t)), which TraceQL cannot say in the
	// query (default 5m).
	TraceQLRange model.Duration `yaml:"traceql_range"`
	// NotificationQueueCapacity is the alerts queued for each
	// Alertmanager (--alertmanager.notification-queue-capacity, 10000).
	NotificationQueueCapacity int `yaml:"notification_queue_capacity"`
}

// AlertmanagerConfig configures the Alertmanager embedded in Horus: its
// API v2 at /alertmanager/api/v2/, its alertmanager.yml, and where its
// silences and notification log are kept (<data_dir>/alertmanager), as
// Alertmanager's own flags do.
type AlertmanagerConfig struct {
	// Enabled runs it (default true); Horus' own alerts are then sent to
	// it besides the alerting section's Alertmanagers.
	Enabled bool `yaml:"enabled"`
	// ConfigFile is an alertmanager.yml (route, receivers, inhibit_rules,
	// templates...; --config.file), relative to the config file. Empty: a
	// route to one receiver, "horus", that delivers nowhere (alerts and
	// silences are still served by the API).
	ConfigFile string `yaml:"config_file,omitempty"`
	// ExternalURL is the URL the Alertmanager is reached at, for the links
	// in notifications (--web.external-url); default
	// <external_url>/alertmanager.
	ExternalURL string `yaml:"external_url,omitempty"`
	// Retention is how long silences and notification log entries are
	// kept after they end (--data.retention, 120h).
	Retention model.Duration `yaml:"retention"`
	// MaintenanceInterval is how often silences and the notification log
	// are garbage-collected and written to disk
	// (--data.maintenance-interval, 15m). A change to a silence is
	// written at once.
	MaintenanceInterval model.Duration `yaml:"maintenance_interval"`
	// MaxSilences bounds the silences kept, expired ones included
	// (--silences.max-silences); 0 = no bound.
	MaxSilences int `yaml:"max_silences"`
	// MaxSilenceSizeBytes bounds one silence (--silences.max-silence-size-bytes);
	// 0 = no bound.
	MaxSilenceSizeBytes int `yaml:"max_silence_size_bytes"`
}

// OTLPConfig holds the listen addresses of the OTLP receivers. An empty
// address disables that receiver.
type OTLPConfig struct {
	// GRPCAddr is the OTLP/gRPC listen address (default "localhost:4317").
	GRPCAddr string `yaml:"grpc_addr"`
	// HTTPAddr is the OTLP/HTTP listen address (default "localhost:4318").
	// OTLP/HTTP is also served on the main HTTP address.
	HTTPAddr string `yaml:"http_addr"`
}

// LogConfig configures Horus' own logging.
type LogConfig struct {
	// Level is one of debug, info, warn, error.
	Level string `yaml:"level"`
	// Format is json or text.
	Format string `yaml:"format"`
}

// Limits bound the size of requests and series at ingest. A request that
// breaks one is answered with a 4xx naming the limit.
type Limits struct {
	// MaxRequestBodyBytes bounds a request body as received (compressed).
	MaxRequestBodyBytes units.Base2Bytes `yaml:"max_request_body_bytes"`
	// MaxDecodedBodyBytes bounds a request body after decompression.
	MaxDecodedBodyBytes units.Base2Bytes `yaml:"max_decoded_body_bytes"`
	// MaxLabelsPerSeries bounds the labels of one series, __name__ included.
	MaxLabelsPerSeries int `yaml:"max_labels_per_series"`
	// MaxLabelNameLength bounds a label name, in bytes.
	MaxLabelNameLength int `yaml:"max_label_name_length"`
	// MaxLabelValueLength bounds a label value, in bytes.
	MaxLabelValueLength int `yaml:"max_label_value_length"`
	// MaxSpanBytes bounds a span's text (name, attributes, events, links);
	// 0: no bound.
	MaxSpanBytes units.Base2Bytes `yaml:"max_span_bytes"`
	// MaxSpanAttributes bounds the attributes of a span; 0: no bound.
	MaxSpanAttributes int `yaml:"max_span_attributes"`
	// MaxSpanEvents bounds the events of a span; 0: no bound.
	MaxSpanEvents int `yaml:"max_span_events"`
	// MaxSpanLinks bounds the links of a span; 0: no bound.
	MaxSpanLinks int `yaml:"max_span_links"`
	// MaxLogLineBytes bounds a log line (its body); 0: no bound.
	MaxLogLineBytes units.Base2Bytes `yaml:"max_log_line_bytes"`
	// MaxLogFields bounds the fields (attributes, structured metadata) of
	// a log line; 0: no bound.
	MaxLogFields int `yaml:"max_log_fields"`
	// MaxLogLinesPerRequest bounds the log lines of one ingest request;
	// 0: no bound.
	MaxLogLinesPerRequest int `yaml:"max_log_lines_per_request"`
	// RejectOldSamplesMaxAge refuses log lines timed further than this
	// behind the clock, as Loki's limit of the same name (default 1 week);
	// 0: no bound.
	RejectOldSamplesMaxAge model.Duration `yaml:"reject_old_samples_max_age"`
	// MaxLogStreamLabels bounds the labels of a log stream, as Loki's
	// max_label_names_per_series (default 15); 0: no bound.
	MaxLogStreamLabels int `yaml:"max_log_stream_labels"`
	// MaxLogLabelNameLength bounds a log stream label's name in bytes, as
	// Loki's max_label_name_length (1024); 0: no bound.
	MaxLogLabelNameLength int `yaml:"max_log_label_name_length"`
	// MaxLogLabelValueLength bounds a log stream label's value in bytes,
	// as Loki's max_label_value_length (2048); 0: no bound.
	MaxLogLabelValueLength int `yaml:"max_log_label_value_length"`
	// MaxInflightRequests bounds the ingest requests (HTTP writes and
	// OTLP/gRPC calls) served at once; more are answered 503 with
	// Retry-After (gRPC: Unavailable). 0: no bound.
	MaxInflightRequests int `yaml:"max_inflight_requests"`
	// MaxInflightBytes bounds the request-body buffers (as received and
	// decompressed) held by the ingest requests in flight together; a
	// request whose buffers would pass it is answered 503 with
	// Retry-After. 0: no bound.
	MaxInflightBytes units.Base2Bytes `yaml:"max_inflight_bytes"`
	// MaxGRPCMessageBytes bounds an OTLP/gRPC message after decompression
	// (gRPC's MaxRecvMsgSize). Each call reserves it in MaxInflightBytes
	// (twice for a compressed call) before its message is read, since
	// gRPC reads a whole message before Horus sees it.
	MaxGRPCMessageBytes units.Base2Bytes `yaml:"max_grpc_message_bytes"`
	// BodyIdleTimeout is how long a request body may go without a byte
	// arriving before it is refused (408). 0: no bound.
	BodyIdleTimeout model.Duration `yaml:"body_idle_timeout"`
	// BodyReadTimeout bounds the time from a request's start to the end
	// of its body, as Prometheus' --web.read-timeout. 0: no bound.
	BodyReadTimeout model.Duration `yaml:"body_read_timeout"`
}

// MetricsConfig configures the metrics TSDB.
type MetricsConfig struct {
	// Retention is how long samples are kept; 0 keeps them until
	// RetentionSize forces deletion (at least one of the two must be set).
	Retention model.Duration `yaml:"retention"`
	// RetentionSize bounds the bytes of blocks, WAL and chunks on disk;
	// 0 means no size bound.
	RetentionSize units.Base2Bytes `yaml:"retention_size"`
	// OutOfOrderWindow accepts samples this much older than the newest
	// sample of their series; 0 rejects out-of-order samples.
	OutOfOrderWindow model.Duration `yaml:"out_of_order_window"`
	// MaxExemplars is the size of the in-memory exemplar ring buffer;
	// 0 disables exemplar storage.
	MaxExemplars int `yaml:"max_exemplars"`
}

// EventsConfig configures the event store: logs and spans.
type EventsConfig struct {
	// Fsync is the WAL's fsync policy: always, interval or never
	// (docs/format/events-wal.md says what a crash loses under each).
	Fsync string `yaml:"fsync"`
	// FsyncInterval is the fsync period under the interval policy.
	FsyncInterval model.Duration `yaml:"fsync_interval"`
	// Retention deletes events older than this; 0 keeps them until
	// RetentionSize forces deletion (at least one of the two must be set).
	Retention model.Duration `yaml:"retention"`
	// RetentionSize bounds each tenant's bytes of blocks; 0: no bound.
	RetentionSize units.Base2Bytes `yaml:"retention_size"`
	// HeadMaxBytes cuts the in-memory head into a block once its events
	// take this much memory (encoded, with its indexes).
	HeadMaxBytes units.Base2Bytes `yaml:"head_max_bytes"`
	// HeadMaxAge cuts the head this long after its first event.
	HeadMaxAge model.Duration `yaml:"head_max_age"`
	// Tenants overrides retention per tenant (X-Scope-OrgID).
	Tenants map[string]EventsTenant `yaml:"tenants,omitempty"`
}

// TracesConfig configures the trace pipeline.
type TracesConfig struct {
	// SpanMetrics configures the RED metrics derived from every span.
	SpanMetrics SpanMetricsConfig `yaml:"span_metrics"`
	// ServiceGraph configures the service-graph metrics derived from
	// client/server span pairs.
	ServiceGraph ServiceGraphConfig `yaml:"service_graph"`
	// Sampling configures tail sampling: which traces are stored.
	Sampling SamplingConfig `yaml:"sampling"`
}

// ServiceGraphConfig configures the service graph (Tempo
// metrics-generator's traces_service_graph_*).
type ServiceGraphConfig struct {
	// Enabled turns the service graph on (the default).
	Enabled bool `yaml:"enabled"`
	// Wait is how long a client span waits for its server span (and the
	// reverse) before it counts as a call to an uninstrumented peer.
	Wait model.Duration `yaml:"wait"`
	// MaxPending bounds the spans waiting for their other half.
	MaxPending int `yaml:"max_pending"`
	// PeerAttributes name the peer of a client span nobody answered.
	PeerAttributes []string `yaml:"peer_attributes"`
	// FlushInterval and MaxSeries are as for span metrics; a series is
	// an edge.
	FlushInterval model.Duration `yaml:"flush_interval"`
	MaxSeries     int            `yaml:"max_series"`
}

// SamplingConfig configures tail sampling. Off, every span is stored.
type SamplingConfig struct {
	// Enabled turns tail sampling on.
	Enabled bool `yaml:"enabled"`
	// DecisionWait is how long after its first span a trace is decided.
	DecisionWait model.Duration `yaml:"decision_wait"`
	// LatencyThreshold keeps every trace lasting at least this long
	// (first span start to last span end); 0 keeps none for latency.
	LatencyThreshold model.Duration `yaml:"latency_threshold"`
	// Probability is the share, 0 to 1, of the other traces kept
	// (traces with an error are always kept).
	Probability float64 `yaml:"probability"`
	// MaxTraces bounds the traces waiting for a decision; beyond it the
	// oldest are decided early.
	MaxTraces int `yaml:"max_traces"`
}

// SpanMetricsConfig configures span metrics (Tempo metrics-generator's
// traces_spanmetrics_*).
type SpanMetricsConfig struct {
	// Enabled turns span metrics on (the default).
	Enabled bool `yaml:"enabled"`
	// Dimensions are span or resource attributes added as labels.
	Dimensions []string `yaml:"dimensions"`
	// FlushInterval is how often the counts are written to the metrics
	// store: the resolution of the derived series.
	FlushInterval model.Duration `yaml:"flush_interval"`
	// MaxSeries bounds the series; spans beyond are counted as dropped.
	MaxSeries int `yaml:"max_series"`
}

// LogsConfig configures the log pipeline.
type LogsConfig struct {
	// StreamAttributes are the OTLP resource attributes kept as stream
	// labels; the others are stored as structured metadata.
	StreamAttributes []string `yaml:"stream_attributes"`
	// Redaction masks secrets at ingest, before the write-ahead log.
	Redaction Redaction `yaml:"redaction"`
	// Tenants override the redaction of some tenants.
	Tenants map[string]LogsTenant `yaml:"tenants,omitempty"`
	// JSONLines names the fields with a meaning in JSON lines.
	JSONLines jsonlines.Fields `yaml:"json_lines"`
}

// Redaction turns redaction on and chooses its detectors and rules.
type Redaction struct {
	Enabled       bool `yaml:"enabled"`
	redact.Config `yaml:",inline"`
}

// LogsTenant overrides the log pipeline for one tenant.
type LogsTenant struct {
	// Redaction, if set, replaces logs.redaction for the tenant (fields
	// left out take the defaults, not logs.redaction's).
	Redaction *Redaction `yaml:"redaction,omitempty"`
}

// DefaultStreamAttributes are Loki's default OTLP index labels, with
// host.name.
var DefaultStreamAttributes = []string{"service.name", "service.namespace", "service.instance.id",
	"deployment.environment", "deployment.environment.name", "cloud.region", "cloud.availability_zone",
	"k8s.cluster.name", "k8s.namespace.name", "k8s.pod.name", "k8s.container.name", "container.name",
	"k8s.replicaset.name", "k8s.deployment.name", "k8s.statefulset.name", "k8s.daemonset.name",
	"k8s.cronjob.name", "k8s.job.name", "host.name"}

// EventsTenant overrides the event store's retention for one tenant.
type EventsTenant struct {
	Retention     model.Duration   `yaml:"retention"`
	RetentionSize units.Base2Bytes `yaml:"retention_size"`
}

// QueryConfig configures the PromQL engine.
type QueryConfig struct {
	// Timeout bounds one query's evaluation.
	Timeout model.Duration `yaml:"timeout"`
	// MaxSamples bounds the samples one query may hold in memory at once.
	MaxSamples int `yaml:"max_samples"`
	// LookbackDelta is how far back an instant selector looks for a sample.
	LookbackDelta model.Duration `yaml:"lookback_delta"`
	// MaxConcurrent bounds queries evaluated at once; more wait.
	MaxConcurrent int `yaml:"max_concurrent"`
	// Tempo bounds the Tempo API's searches and TraceQL metrics queries.
	Tempo TempoLimits `yaml:"tempo"`
}

// TempoLimits bounds the Tempo API (docs/tempo.md). The names, meanings
// and defaults are those of Tempo's query_frontend search and metrics
// settings, except where a field says otherwise; a request over a
// maximum is refused (400) with a message naming it, as Tempo refuses it.
// 0 disables a maximum.
type TempoLimits struct {
	// DefaultResultLimit is the traces a search returns without limit=.
	DefaultResultLimit int `yaml:"default_result_limit"`
	// MaxResultLimit is the largest limit= a search takes.
	MaxResultLimit int `yaml:"max_result_limit"`
	// DefaultSpansPerSpanSet is the spans per spanset a search returns
	// without spss= (0: all of them).
	DefaultSpansPerSpanSet int `yaml:"default_spans_per_span_set"`
	// MaxSpansPerSpanSet is the largest spss= a search takes.
	MaxSpansPerSpanSet int `yaml:"max_spans_per_span_set"`
	// MaxDuration bounds a search's start..end (Tempo: 168h; Horus: no
	// bound by default).
	MaxDuration model.Duration `yaml:"max_duration"`
	// MetricsMaxDuration bounds a metrics query's start..end (Tempo's
	// metrics max_duration, 24h; Horus: no bound by default).
	MetricsMaxDuration model.Duration `yaml:"metrics_max_duration"`
	// MaxIntervals bounds the steps of a metrics query.
	MaxIntervals int `yaml:"max_intervals"`
	// MaxExemplars bounds a metrics query's exemplars; a larger
	// exemplars= is trimmed to it, as Tempo trims it.
	MaxExemplars int `yaml:"max_exemplars"`
	// MaxResponseSeries bounds the series of a metrics query (Tempo: no
	// bound, and a partial answer beyond one; Horus: 1000, refused).
	MaxResponseSeries int `yaml:"max_response_series"`
	// TagSampleSpans is how many of the newest spans in the range tag
	// names and values are read from (Horus' own).
	TagSampleSpans int `yaml:"tag_sample_spans"`
}

// highCardinality are attributes refused as span-metrics dimensions
// (pipeline.HighCardinality, repeated here to keep config free of it).
var highCardinality = []string{"trace_id", "span_id", "trace.id", "span.id", "user.id", "user_id", "enduser.id",
	"session.id", "session_id", "request.id", "request_id", "http.request.id", "http.url", "url.full", "db.statement", "db.query.text"}

// The default listen addresses are on the loopback interface, as the
// OpenTelemetry Collector's receivers are: an unauthenticated Horus is not
// reachable from other machines until it is told to be (e.g. --http-addr
// 0.0.0.0:3300).
const (
	DefaultHTTPAddr     = "localhost:3300"
	DefaultOTLPGRPCAddr = "localhost:4317"
	DefaultOTLPHTTPAddr = "localhost:4318"
)

// Default returns the configuration used when no file is given.
func Default() *Config {
	return &Config{
		DataDir:  "data",
		HTTPAddr: DefaultHTTPAddr,
		OTLP:     OTLPConfig{GRPCAddr: DefaultOTLPGRPCAddr, HTTPAddr: DefaultOTLPHTTPAddr},
		Log:      LogConfig{Level: "info", Format: "json"},
		Limits: Limits{
			MaxRequestBodyBytes:    32 * units.MiB,
			MaxDecodedBodyBytes:    128 * units.MiB,
			MaxLabelsPerSeries:     64,
			MaxLabelNameLength:     1024,
			MaxLabelValueLength:    4096,
			MaxSpanBytes:           units.MiB,
			MaxSpanAttributes:      1024,
			MaxSpanEvents:          1024,
			MaxSpanLinks:           1024,
			MaxLogLineBytes:        256 * units.KiB,
			MaxLogFields:           128,
			MaxLogLinesPerRequest:  200000,
			RejectOldSamplesMaxAge: model.Duration(7 * 24 * time.Hour),
			MaxLogStreamLabels:     15,
			MaxLogLabelNameLength:  1024,
			MaxLogLabelValueLength: 2048,
			MaxInflightRequests:    256,
			MaxInflightBytes:       512 * units.MiB,
			MaxGRPCMessageBytes:    16 * units.MiB,
			BodyIdleTimeout:        model.Duration(30 * time.Second),
			BodyReadTimeout:        model.Duration(5 * time.Minute),
		},
		Metrics: MetricsConfig{
			Retention:    model.Duration(15 * 24 * time.Hour),
			MaxExemplars: 100000,
		},
		Events: EventsConfig{
			Fsync:         "interval",
			FsyncInterval: model.Duration(time.Second),
			Retention:     model.Duration(7 * 24 * time.Hour),
			HeadMaxBytes:  48 * units.MiB,
			HeadMaxAge:    model.Duration(15 * time.Minute),
		},
		Traces: TracesConfig{
			SpanMetrics: SpanMetricsConfig{
				Enabled:       true,
				Dimensions:    []string{"http.route", "http.request.method", "http.method"},
				FlushInterval: model.Duration(15 * time.Second),
				MaxSeries:     50000,
			},
			ServiceGraph: ServiceGraphConfig{
				Enabled:        true,
				Wait:           model.Duration(10 * time.Second),
				MaxPending:     10000,
				PeerAttributes: []string{"peer.service", "db.namespace", "db.name", "db.system", "server.address", "net.peer.name"},
				FlushInterval:  model.Duration(15 * time.Second),
				MaxSeries:      10000,
			},
			Sampling: SamplingConfig{
				DecisionWait:     model.Duration(10 * time.Second),
				LatencyThreshold: model.Duration(time.Second),
				Probability:      0.1,
				MaxTraces:        50000,
			},
		},
		Logs: LogsConfig{
			StreamAttributes: slices.Clone(DefaultStreamAttributes),
			Redaction:        Redaction{Enabled: true, Config: redact.Default()},
			JSONLines:        jsonlines.DefaultFields(),
		},
		Rules: RulesConfig{
			OutageTolerance:           model.Duration(time.Hour),
			ForGracePeriod:            model.Duration(10 * time.Minute),
			ResendDelay:               model.Duration(time.Minute),
			TraceQLRange:              model.Duration(5 * time.Minute),
			NotificationQueueCapacity: 10000,
		},
		Alertmanager: AlertmanagerConfig{
			Enabled:             true,
			Retention:           model.Duration(120 * time.Hour),
			MaintenanceInterval: model.Duration(15 * time.Minute),
		},
		Query: QueryConfig{
			Timeout:       model.Duration(2 * time.Minute),
			MaxSamples:    50000000,
			LookbackDelta: model.Duration(5 * time.Minute),
			MaxConcurrent: 20,
			Tempo: TempoLimits{
				DefaultResultLimit:     20,
				MaxResultLimit:         262144,
				DefaultSpansPerSpanSet: 3,
				MaxSpansPerSpanSet:     100,
				MaxIntervals:           10000,
				MaxExemplars:           100,
				MaxResponseSeries:      1000,
				TagSampleSpans:         50000,
			},
		},
	}
}

// Load reads a YAML file over the defaults. Unknown keys are errors that
// name the key's YAML path and the nearest known key. Relative paths in the
// file (data_dir, file_sd files, credentials, web.config_file) are
// resolved against the file's directory.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg, err := parse(b, dir)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML over the defaults. Relative paths in scrape configs
// are resolved against the working directory. Only the Prometheus sections
// (global, scrape_configs) are validated here; call Validate for the rest.
func Parse(b []byte) (*Config, error) { return parse(b, "") }

// parse is Parse with relative paths resolved against dir.
func parse(b []byte, dir string) (*Config, error) {
	cfg := Default()
	top, err := checkKeys(b)
	if err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalStrict(b, cfg); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if _, set := top["data_dir"]; set && dir != "" && cfg.DataDir != "" && !filepath.IsAbs(cfg.DataDir) {
		cfg.DataDir = filepath.Join(dir, cfg.DataDir)
	}
	if err := cfg.loadPrometheus(dir); err != nil {
		return nil, err
	}
	cfg.Web.resolve(dir)
	if am := &cfg.Alertmanager; dir != "" && am.ConfigFile != "" && !filepath.IsAbs(am.ConfigFile) {
		am.ConfigFile = filepath.Join(dir, am.ConfigFile)
	}
	for _, files := range [][]string{cfg.SLOFiles, cfg.LogQLRuleFiles, cfg.TraceQLRuleFiles} {
		for i, p := range files {
			if dir != "" && p != "" && !filepath.IsAbs(p) {
				files[i] = filepath.Join(dir, p)
			}
		}
	}
	return cfg, nil
}

// loadPrometheus loads the global, scrape_configs, rule_files and
// alerting sections with Prometheus' config loader; dir resolves relative
// file paths (rule_files too, as Prometheus resolves them against
// prometheus.yml's directory).
func (c *Config) loadPrometheus(dir string) error {
	sub := struct {
		Global        yaml.MapSlice   `yaml:"global,omitempty"`
		ScrapeConfigs []yaml.MapSlice `yaml:"scrape_configs,omitempty"`
		RuleFiles     []string        `yaml:"rule_files,omitempty"`
		Alerting      yaml.MapSlice   `yaml:"alerting,omitempty"`
	}{c.Global, c.ScrapeConfigs, c.RuleFiles, c.Alerting}
	b, err := yaml.Marshal(sub)
	if err != nil {
		return fmt.Errorf("global/scrape_configs/rule_files/alerting: %w", err)
	}
	pc, err := promconfig.Load(string(b), nil)
	if err != nil {
		return &FieldError{Field: "global/scrape_configs/rule_files/alerting", Err: err}
	}
	if dir != "" {
		pc.SetDirectory(dir)
	}
	c.RuleFiles = pc.RuleFiles
	c.prom = pc
	return nil
}

// FieldError is a configuration error about one field. Field is the YAML
// path of the field, e.g. "limits.max_labels_per_series".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks every field and fills the derived defaults of scrape
// configs. It returns all problems found, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		add(fieldErr("data_dir", "must not be empty"))
	}
	add(validateAddr("http_addr", c.HTTPAddr, false))
	add(validateAddr("otlp.grpc_addr", c.OTLP.GRPCAddr, true))
	add(validateAddr("otlp.http_addr", c.OTLP.HTTPAddr, true))
	errs = append(errs, c.Web.validate(c.OTLP.GRPCAddr != "")...)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add(fieldErr("log.level", "must be one of debug, info, warn, error; got %q", c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		add(fieldErr("log.format", "must be json or text; got %q", c.Log.Format))
	}

	l := c.Limits
	if l.MaxRequestBodyBytes <= 0 {
		add(fieldErr("limits.max_request_body_bytes", "must be > 0; got %v", l.MaxRequestBodyBytes))
	}
	if l.MaxDecodedBodyBytes < l.MaxRequestBodyBytes {
		add(fieldErr("limits.max_decoded_body_bytes", "must be >= limits.max_request_body_bytes (%v); got %v", l.MaxRequestBodyBytes, l.MaxDecodedBodyBytes))
	}
	if l.MaxLabelsPerSeries < 1 {
		add(fieldErr("limits.max_labels_per_series", "must be >= 1; got %d", l.MaxLabelsPerSeries))
	}
	if l.MaxLabelNameLength < 8 {
		add(fieldErr("limits.max_label_name_length", "must be >= 8; got %d", l.MaxLabelNameLength))
	}
	if l.MaxLabelValueLength < 8 {
		add(fieldErr("limits.max_label_value_length", "must be >= 8; got %d", l.MaxLabelValueLength))
	}
	if l.MaxSpanBytes < 0 {
		add(fieldErr("limits.max_span_bytes", "must be >= 0 (0: no bound); got %v", l.MaxSpanBytes))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"max_span_attributes", l.MaxSpanAttributes}, {"max_span_events", l.MaxSpanEvents}, {"max_span_links", l.MaxSpanLinks}} {
		if f.v < 0 {
			add(fieldErr("limits."+f.name, "must be >= 0 (0: no bound); got %d", f.v))
		}
	}

	for _, f := range []struct {
		name string
		v    int
	}{{"max_log_stream_labels", l.MaxLogStreamLabels}, {"max_log_label_name_length", l.MaxLogLabelNameLength}, {"max_log_label_value_length", l.MaxLogLabelValueLength}} {
		if f.v < 0 {
			add(fieldErr("limits."+f.name, "must be >= 0 (0: no bound); got %d", f.v))
		}
	}
	if l.RejectOldSamplesMaxAge < 0 {
		add(fieldErr("limits.reject_old_samples_max_age", "must be >= 0 (0: no bound); got %v", l.RejectOldSamplesMaxAge))
	}
	if l.MaxInflightRequests < 0 {
		add(fieldErr("limits.max_inflight_requests", "must be >= 0 (0: no bound); got %d", l.MaxInflightRequests))
	}
	// A body's buffers, as received, as decompressed chunks and joined,
	// reserve up to its size plus twice its decoded size.
	if need := l.MaxRequestBodyBytes + 2*l.MaxDecodedBodyBytes; l.MaxInflightBytes != 0 && l.MaxInflightBytes < need {
		add(fieldErr("limits.max_inflight_bytes", "must be 0 (no bound) or >= max_request_body_bytes + 2 × max_decoded_body_bytes (%v), or the largest body is never admitted; got %v", need, l.MaxInflightBytes))
	}
	if l.MaxGRPCMessageBytes <= 0 || l.MaxGRPCMessageBytes > l.MaxDecodedBodyBytes {
		add(fieldErr("limits.max_grpc_message_bytes", "must be > 0 and <= limits.max_decoded_body_bytes (%v); got %v", l.MaxDecodedBodyBytes, l.MaxGRPCMessageBytes))
	}
	if l.MaxInflightBytes != 0 && l.MaxInflightBytes < 2*l.MaxGRPCMessageBytes {
		add(fieldErr("limits.max_inflight_bytes", "must be 0 (no bound) or >= 2 × limits.max_grpc_message_bytes (%v), or a compressed OTLP/gRPC call is never admitted; got %v", 2*l.MaxGRPCMessageBytes, l.MaxInflightBytes))
	}
	if l.BodyIdleTimeout < 0 || l.BodyReadTimeout < 0 {
		add(fieldErr("limits.body_idle_timeout", "limits.body_idle_timeout and body_read_timeout must be >= 0 (0: no bound); got %v, %v", l.BodyIdleTimeout, l.BodyReadTimeout))
	}
	if l.MaxLogLineBytes < 0 {
		add(fieldErr("limits.max_log_line_bytes", "must be >= 0 (0: no bound); got %v", l.MaxLogLineBytes))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"max_log_fields", l.MaxLogFields}, {"max_log_lines_per_request", l.MaxLogLinesPerRequest}} {
		if f.v < 0 {
			add(fieldErr("limits."+f.name, "must be >= 0 (0: no bound); got %d", f.v))
		}
	}

	for _, a := range c.Logs.StreamAttributes {
		if strings.TrimSpace(a) == "" {
			add(fieldErr("logs.stream_attributes", "an empty attribute name"))
		}
	}
	if _, err := c.Logs.Redaction.Redactor(); err != nil {
		add(fieldErr("logs.redaction", "%v", err))
	}
	for name, t := range c.Logs.Tenants {
		if err := tenant.Check(name); err != nil {
			add(fieldErr("logs.tenants", "%v", err))
		}
		if t.Redaction != nil {
			if _, err := t.Redaction.Redactor(); err != nil {
				add(fieldErr("logs.tenants."+name+".redaction", "%v", err))
			}
		}
	}

	m := c.Metrics
	if m.Retention < 0 {
		add(fieldErr("metrics.retention", "must be >= 0; got %v", m.Retention))
	}
	if m.RetentionSize < 0 {
		add(fieldErr("metrics.retention_size", "must be >= 0; got %v", m.RetentionSize))
	}
	if m.Retention == 0 && m.RetentionSize == 0 {
		add(fieldErr("metrics.retention", "metrics.retention and metrics.retention_size are both 0; set at least one"))
	}
	if m.OutOfOrderWindow < 0 {
		add(fieldErr("metrics.out_of_order_window", "must be >= 0; got %v", m.OutOfOrderWindow))
	}
	if m.MaxExemplars < 0 {
		add(fieldErr("metrics.max_exemplars", "must be >= 0; got %d", m.MaxExemplars))
	}

	sm := c.Traces.SpanMetrics
	if sm.FlushInterval < model.Duration(time.Second) && sm.FlushInterval != 0 || sm.Enabled && sm.FlushInterval == 0 {
		add(fieldErr("traces.span_metrics.flush_interval", "must be >= 1s; got %v", sm.FlushInterval))
	}
	if sm.MaxSeries < 1 {
		add(fieldErr("traces.span_metrics.max_series", "must be >= 1; got %d", sm.MaxSeries))
	}
	seenDim := map[string]bool{}
	for _, d := range sm.Dimensions {
		switch {
		case strings.TrimSpace(d) == "":
			add(fieldErr("traces.span_metrics.dimensions", "an empty attribute name"))
		case seenDim[d]:
			add(fieldErr("traces.span_metrics.dimensions", "%q is listed twice", d))
		case slices.Contains(highCardinality, d):
			add(fieldErr("traces.span_metrics.dimensions", "%q has a value per request or user: it would make a series each (use exemplars and TraceQL for it)", d))
		}
		seenDim[d] = true
	}

	sg := c.Traces.ServiceGraph
	if sg.FlushInterval < model.Duration(time.Second) && sg.FlushInterval != 0 || sg.Enabled && sg.FlushInterval == 0 {
		add(fieldErr("traces.service_graph.flush_interval", "must be >= 1s; got %v", sg.FlushInterval))
	}
	if sg.Wait <= 0 {
		add(fieldErr("traces.service_graph.wait", "must be > 0; got %v", sg.Wait))
	}
	if sg.MaxPending < 1 {
		add(fieldErr("traces.service_graph.max_pending", "must be >= 1; got %d", sg.MaxPending))
	}
	if sg.MaxSeries < 1 {
		add(fieldErr("traces.service_graph.max_series", "must be >= 1; got %d", sg.MaxSeries))
	}
	for _, a := range sg.PeerAttributes {
		if strings.TrimSpace(a) == "" {
			add(fieldErr("traces.service_graph.peer_attributes", "an empty attribute name"))
		}
	}
	ts := c.Traces.Sampling
	if ts.DecisionWait <= 0 {
		add(fieldErr("traces.sampling.decision_wait", "must be > 0; got %v", ts.DecisionWait))
	}
	if ts.LatencyThreshold < 0 {
		add(fieldErr("traces.sampling.latency_threshold", "must be >= 0; got %v", ts.LatencyThreshold))
	}
	if !(ts.Probability >= 0 && ts.Probability <= 1) {
		add(fieldErr("traces.sampling.probability", "must be between 0 and 1; got %v", ts.Probability))
	}
	if ts.MaxTraces < 1 {
		add(fieldErr("traces.sampling.max_traces", "must be >= 1; got %d", ts.MaxTraces))
	}

	e := c.Events
	switch e.Fsync {
	case "always", "interval", "never":
	default:
		add(fieldErr("events.fsync", "must be always, interval or never; got %q", e.Fsync))
	}
	if e.FsyncInterval <= 0 {
		add(fieldErr("events.fsync_interval", "must be > 0; got %v", e.FsyncInterval))
	}
	if e.Retention < 0 {
		add(fieldErr("events.retention", "must be >= 0; got %v", e.Retention))
	}
	if e.RetentionSize < 0 {
		add(fieldErr("events.retention_size", "must be >= 0; got %v", e.RetentionSize))
	}
	if e.Retention == 0 && e.RetentionSize == 0 {
		add(fieldErr("events.retention", "events.retention and events.retention_size are both 0; set at least one"))
	}
	if e.HeadMaxBytes < units.MiB {
		add(fieldErr("events.head_max_bytes", "must be >= 1MiB; got %v", e.HeadMaxBytes))
	}
	if e.HeadMaxAge < model.Duration(time.Second) {
		add(fieldErr("events.head_max_age", "must be >= 1s; got %v", e.HeadMaxAge))
	}
	for name, t := range e.Tenants {
		if err := tenant.Check(name); err != nil {
			add(fieldErr("events.tenants", "%v", err))
		}
		if t.Retention < 0 || t.RetentionSize < 0 {
			add(fieldErr("events.tenants."+name, "retention and retention_size must be >= 0"))
		}
	}

	q := c.Query
	if q.Timeout <= 0 {
		add(fieldErr("query.timeout", "must be > 0; got %v", q.Timeout))
	}
	if q.MaxSamples <= 0 {
		add(fieldErr("query.max_samples", "must be > 0; got %d", q.MaxSamples))
	}
	if q.LookbackDelta <= 0 {
		add(fieldErr("query.lookback_delta", "must be > 0; got %v", q.LookbackDelta))
	}
	if q.MaxConcurrent <= 0 {
		add(fieldErr("query.max_concurrent", "must be > 0; got %d", q.MaxConcurrent))
	}
	tl := q.Tempo
	for _, f := range []struct {
		name string
		v    int
	}{{"max_result_limit", tl.MaxResultLimit},
		{"default_spans_per_span_set", tl.DefaultSpansPerSpanSet}, {"max_spans_per_span_set", tl.MaxSpansPerSpanSet},
		{"max_intervals", tl.MaxIntervals}, {"max_exemplars", tl.MaxExemplars},
		{"max_response_series", tl.MaxResponseSeries}, {"tag_sample_spans", tl.TagSampleSpans}} {
		if f.v < 0 {
			add(fieldErr("query.tempo."+f.name, "must be >= 0; got %d", f.v))
		}
	}
	if tl.DefaultResultLimit < 1 {
		add(fieldErr("query.tempo.default_result_limit", "must be >= 1; got %d", tl.DefaultResultLimit))
	}
	if tl.MaxResultLimit != 0 && tl.DefaultResultLimit > tl.MaxResultLimit {
		add(fieldErr("query.tempo.default_result_limit", "must be <= query.tempo.max_result_limit (%d); got %d", tl.MaxResultLimit, tl.DefaultResultLimit))
	}
	if tl.MaxSpansPerSpanSet != 0 && tl.DefaultSpansPerSpanSet > tl.MaxSpansPerSpanSet {
		add(fieldErr("query.tempo.default_spans_per_span_set", "must be <= query.tempo.max_spans_per_span_set (%d); got %d", tl.MaxSpansPerSpanSet, tl.DefaultSpansPerSpanSet))
	}
	if tl.MaxDuration < 0 || tl.MetricsMaxDuration < 0 {
		add(fieldErr("query.tempo", "max_duration and metrics_max_duration must be >= 0"))
	}

	for _, p := range c.SLOFiles {
		if _, err := filepath.Match(p, ""); err != nil || strings.TrimSpace(p) == "" {
			add(fieldErr("slo_files", "%q is not a valid glob pattern", p))
		}
	}
	for field, files := range map[string][]string{"rule_files": c.RuleFiles, "logql_rule_files": c.LogQLRuleFiles, "traceql_rule_files": c.TraceQLRuleFiles} {
		for _, p := range files {
			if _, err := filepath.Match(p, ""); err != nil || strings.TrimSpace(p) == "" {
				add(fieldErr(field, "%q is not a valid glob pattern", p))
			}
		}
	}
	if c.ExternalURL != "" {
		if u, err := url.Parse(c.ExternalURL); err != nil || u.Scheme == "" || u.Host == "" {
			add(fieldErr("external_url", "must be an absolute URL such as https://horus.example.com; got %q", c.ExternalURL))
		}
	}
	r := c.Rules
	if r.OutageTolerance < 0 || r.ForGracePeriod < 0 || r.ResendDelay < 0 {
		add(fieldErr("rules", "outage_tolerance, for_grace_period and resend_delay must be >= 0"))
	}
	if r.TraceQLRange <= 0 {
		add(fieldErr("rules.traceql_range", "must be > 0; got %v", r.TraceQLRange))
	}
	if r.NotificationQueueCapacity < 1 {
		add(fieldErr("rules.notification_queue_capacity", "must be >= 1; got %d", r.NotificationQueueCapacity))
	}

	am := c.Alertmanager
	if am.ExternalURL != "" {
		if u, err := url.Parse(am.ExternalURL); err != nil || u.Scheme == "" || u.Host == "" {
			add(fieldErr("alertmanager.external_url", "must be an absolute URL such as https://horus.example.com/alertmanager; got %q", am.ExternalURL))
		}
	}
	if am.Retention <= 0 {
		add(fieldErr("alertmanager.retention", "must be > 0; got %v", am.Retention))
	}
	if am.MaintenanceInterval <= 0 {
		add(fieldErr("alertmanager.maintenance_interval", "must be > 0; got %v", am.MaintenanceInterval))
	}
	if am.MaxSilences < 0 || am.MaxSilenceSizeBytes < 0 {
		add(fieldErr("alertmanager", "max_silences and max_silence_size_bytes must be >= 0 (0 = no bound)"))
	}

	if c.prom == nil {
		add(c.loadPrometheus(""))
	}
	return errors.Join(errs...)
}

// UnmarshalYAML reads a redaction over the defaults (on, every detector),
// at the top level and in a tenant's override alike: fields left out keep
// them, so that an override cannot turn redaction off by omission.
func (r *Redaction) UnmarshalYAML(unmarshal func(any) error) error {
	type plain Redaction
	p := plain{Enabled: true, Config: redact.Default()}
	if err := unmarshal(&p); err != nil {
		return err
	}
	*r = Redaction(p)
	return nil
}

// Redactor compiles the redaction; nil when it is off.
func (r *Redaction) Redactor() (*redact.Redactor, error) {
	if !r.Enabled {
		return nil, nil
	}
	return redact.New(r.Config)
}

func validateAddr(field, addr string, emptyOK bool) error {
	if addr == "" {
		if emptyOK {
			return nil
		}
		return fieldErr(field, "must not be empty")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fieldErr(field, "not a host:port address: %v", err)
	}
	return nil
}

// PrometheusConfig returns the part of the configuration that Prometheus'
// own components (scrape manager, HTTP API status/config) read.
// It is nil until Parse, Load or Validate has run.
func (c *Config) PrometheusConfig() *promconfig.Config {
	return c.prom
}
