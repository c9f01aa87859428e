// Package alertmanager is the Alertmanager inside Horus: Prometheus
// Alertmanager's own packages (config, dispatch, notify and every
// receiver it provides, silence, inhibit, template, provider/mem, nflog,
// api/v2) put together as the alertmanager binary puts them together,
// with one instance, no cluster, and no listener of its own. Its API v2 is
// served under Prefix on Horus' HTTP address, so amtool and Grafana's
// Alertmanager data source work against Horus; Horus' own alerts reach it
// in process through Do (the Prometheus notifier's request function).
//
// It reads the standard alertmanager.yml. A reload that does not load or
// build keeps the configuration before it, as Alertmanager's does.
// Silences and the notification log are kept in snapshot files under the
// data directory (Alertmanager's --storage.path): written every
// maintenance interval and at stop, and a silence change at once, before
// it is acknowledged.
package alertmanager

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apiv2 "github.com/prometheus/alertmanager/api/v2"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/config/receiver"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/labelset"
	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/version"
)

// DefaultConfig is the configuration without a config file: every alert
// grouped by alertname to one receiver, "horus", that has no integration.
// Alerts and silences are served by the API (amtool, Grafana); nothing is
// delivered.
const DefaultConfig = `route:
  receiver: horus
  group_by: [alertname]
receivers:
  - name: horus
`

// Options are what an Alertmanager is made of; Logger and Registerer may
// be nil.
type Options struct {
	// DataDir holds the snapshots of silences ("silences") and of the
	// notification log ("nflog").
	DataDir string
	// ExternalURL is where the Alertmanager is reached, for links in
	// notifications (templates' .ExternalURL).
	ExternalURL string
	// Retention is how long silences and notification log entries are
	// kept after they end.
	Retention time.Duration
	// MaintenanceInterval is how often both are garbage-collected and
	// written to disk.
	MaintenanceInterval time.Duration
	// MaxSilences and MaxSilenceSizeBytes bound silences; 0 = no bound.
	MaxSilences, MaxSilenceSizeBytes int
	Logger                           *slog.Logger
	Registerer                       prometheus.Registerer
}

// Alertmanager is one running Alertmanager.
type Alertmanager struct {
	o        Options
	logger   *slog.Logger
	extURL   *url.URL
	started  time.Time
	recorder eventrecorder.Recorder

	alerts   *mem.Alerts
	silences *silence.Silences
	silencer *silence.Silencer
	nflog    *nflog.Log
	api      *apiv2.API
	pipeline *notify.PipelineBuilder
	dmetrics *dispatch.DispatcherMetrics

	mu         sync.Mutex // serialises ApplyConfig and Stop
	stopped    bool
	dispatcher atomic.Pointer[dispatch.Dispatcher]
	inhibitor  atomic.Pointer[inhibit.Inhibitor]
	conf       atomic.Pointer[amconfig.Config]
	file       atomic.Pointer[string]

	stopc chan struct{}
	wg    sync.WaitGroup
	snap  map[string]*sync.Mutex // per snapshot file: one writer at a time

	m metrics
}

type metrics struct {
	reloadOK, reloadAt, hash              prometheus.Gauge
	receivers, integrations, inhibitRules prometheus.Gauge
}

// initCompat sets the matcher parsing of Alertmanager's matcher/compat
// package (process-wide) as the alertmanager binary does without feature
// flags: UTF-8 label names, the new matcher syntax with a fallback to the
// classic one.
var initCompat sync.Once

// New starts an Alertmanager on the snapshots in o.DataDir with the
// configuration of file (DefaultConfig when empty). A configuration that
// does not load is an error, as it stops Alertmanager's start.
func New(file string, o Options) (*Alertmanager, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	extURL, err := url.Parse(o.ExternalURL)
	if err != nil || extURL.Scheme == "" || extURL.Host == "" {
		return nil, fmt.Errorf("alertmanager: external URL %q is not an absolute URL", o.ExternalURL)
	}
	if o.MaintenanceInterval <= 0 {
		return nil, errors.New("alertmanager: maintenance interval must be > 0")
	}
	conf, err := LoadConfig(file)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("alertmanager: %w", err)
	}
	initCompat.Do(func() {
		compat.InitFromFlags(o.Logger, featurecontrol.NoopFlags{})
		setVersion()
	})

	am := &Alertmanager{
		o: o, logger: o.Logger, extURL: extURL, started: time.Now(),
		recorder: eventrecorder.NopRecorder(),
		stopc:    make(chan struct{}),
		snap:     map[string]*sync.Mutex{silencesFile: {}, nflogFile: {}},
		m:        newMetrics(reg),
	}
	ff := featurecontrol.NoopFlags{}
	am.nflog, err = nflog.New(nflog.Options{
		SnapshotFile: am.path(nflogFile),
		Retention:    o.Retention,
		Logger:       o.Logger.With("component", "nflog"),
		Metrics:      reg,
	})
	if err != nil {
		return nil, fmt.Errorf("alertmanager: notification log %s: %w", am.path(nflogFile), err)
	}
	am.silences, err = silence.New(silence.Options{
		SnapshotFile: am.path(silencesFile),
		Retention:    o.Retention,
		Limits: silence.Limits{
			MaxSilences:         func() int { return o.MaxSilences },
			MaxSilenceSizeBytes: func() int { return o.MaxSilenceSizeBytes },
		},
		Logger:        o.Logger.With("component", "silences"),
		Metrics:       reg,
		EventRecorder: am.recorder,
	})
	if err != nil {
		return nil, fmt.Errorf("alertmanager: silences %s: %w", am.path(silencesFile), err)
	}
	am.silencer = silence.NewSilencer(am.silences, o.Logger, am.recorder)
	am.wg.Go(func() {
		am.nflog.Maintenance(o.MaintenanceInterval, am.path(nflogFile), am.stopc, am.maintenance(nflogFile, am.nflog.GC, am.nflog.Snapshot))
	})
	am.wg.Go(func() {
		am.silences.Maintenance(o.MaintenanceInterval, am.path(silencesFile), am.stopc, am.maintenance(silencesFile, am.silences.GC, am.silences.Snapshot))
	})
	// alerts.gc-interval's default: resolved alerts are dropped this long
	// after they end.
	am.alerts, err = mem.NewAlerts(context.Background(), 30*time.Minute, 0, am.silencer, o.Logger, am.recorder, reg, ff)
	if err != nil {
		am.stopMaintenance()
		return nil, fmt.Errorf("alertmanager: alerts: %w", err)
	}
	am.api, err = apiv2.NewAPI(am.alerts, am.groups, am.silences, nil, o.Logger.With("component", "api", "version", "v2"), reg)
	if err != nil {
		am.alerts.Close()
		am.stopMaintenance()
		return nil, fmt.Errorf("alertmanager: API: %w", err)
	}
	am.pipeline = notify.NewPipelineBuilder(reg, ff, am.recorder)
	am.dmetrics = dispatch.NewDispatcherMetrics(false, reg, ff)
	if err := am.apply(conf, file); err != nil {
		am.alerts.Close()
		am.stopMaintenance()
		am.m.reloadOK.Set(0)
		return nil, err
	}
	return am, nil
}

func newMetrics(reg prometheus.Registerer) metrics {
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		reg.MustRegister(g)
		return g
	}
	// The names and meanings of Alertmanager's own.
	return metrics{
		reloadOK:     gauge("alertmanager_config_last_reload_successful", "Whether the last configuration reload attempt was successful."),
		reloadAt:     gauge("alertmanager_config_last_reload_success_timestamp_seconds", "Timestamp of the last successful configuration reload."),
		hash:         gauge("alertmanager_config_hash", "Hash of the currently loaded alertmanager configuration. Note that this is not a cryptographically strong hash."),
		receivers:    gauge("alertmanager_receivers", "Number of configured receivers."),
		integrations: gauge("alertmanager_integrations", "Number of configured integrations."),
		inhibitRules: gauge("alertmanager_inhibition_rules", "Number of configured inhibition rules."),
	}
}

// LoadConfig reads an alertmanager.yml, or DefaultConfig when file is
// empty, and checks it as Alertmanager's loader does (relative template
// and credential paths are the file's directory's).
func LoadConfig(file string) (*amconfig.Config, error) {
	if file == "" {
		return amconfig.Load(DefaultConfig)
	}
	c, err := amconfig.LoadFile(file)
	if err != nil {
		return nil, fmt.Errorf("alertmanager config %s: %w", file, err)
	}
	return c, nil
}

// ApplyConfig loads file (DefaultConfig when empty) and replaces the
// routes, receivers, inhibition rules, templates and time intervals. When
// the file does not load or its receivers or templates cannot be built,
// the configuration before it is kept and the error says why.
func (am *Alertmanager) ApplyConfig(file string) error {
	conf, err := LoadConfig(file)
	if err == nil {
		err = am.apply(conf, file)
	}
	if err != nil {
		am.m.reloadOK.Set(0)
		am.logger.Error("alertmanager configuration not applied; the one before is kept", "file", file, "err", err)
		return err
	}
	return nil
}

func (am *Alertmanager) apply(conf *amconfig.Config, file string) error {
	am.mu.Lock()
	defer am.mu.Unlock()
	if am.stopped {
		return errors.New("alertmanager: stopped")
	}
	// Everything that can fail comes first, before anything running is
	// touched.
	tmpl, err := template.FromGlobs(conf.Templates)
	if err != nil {
		return fmt.Errorf("alertmanager config %s: templates: %w", file, err)
	}
	tmpl.ExternalURL = am.extURL
	routes := dispatch.NewRoute(conf.Route, nil)
	used := map[string]bool{}
	routes.Walk(func(r *dispatch.Route) { used[r.RouteOpts.Receiver] = true })
	receivers := map[string][]notify.Integration{}
	integrations := 0
	for _, rc := range conf.Receivers {
		if !used[rc.Name] {
			continue
		}
		in, err := receiver.BuildReceiverIntegrations(rc, tmpl, am.logger.With("receiver", rc.Name))
		if err != nil {
			return fmt.Errorf("alertmanager config %s: receiver %q: %w", file, rc.Name, err)
		}
		receivers[rc.Name] = in
		integrations += len(in)
	}
	intervals := map[string][]timeinterval.TimeInterval{}
	for _, ti := range conf.MuteTimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	for _, ti := range conf.TimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	intervener := timeinterval.NewIntervener(intervals)

	if old := am.inhibitor.Load(); old != nil {
		old.Stop()
	}
	if old := am.dispatcher.Load(); old != nil {
		old.Stop()
	}
	inhibitor := inhibit.NewInhibitor(am.alerts, conf.InhibitRules, am.logger, am.recorder)
	stage := am.pipeline.New(receivers, func() time.Duration { return 0 }, inhibitor, am.silencer, intervener, am.nflog, nil)
	am.api.Update(conf, func(ctx context.Context, ls labelset.LabelSet) {
		if in := am.inhibitor.Load(); in != nil {
			in.Mutes(ctx, ls)
		}
		am.silencer.Mutes(ctx, ls)
	})
	disp := dispatch.NewDispatcher(am.alerts, routes, stage, intervener, notifyTimeout, 30*time.Second, nil, am.logger, am.recorder, am.dmetrics, tmpl)
	routes.Walk(func(r *dispatch.Route) {
		if r.RouteOpts.RepeatInterval > am.o.Retention {
			am.logger.Warn("repeat_interval is longer than alertmanager.retention: notifications may repeat sooner than it says",
				"route", r.Key(), "repeat_interval", r.RouteOpts.RepeatInterval, "retention", am.o.Retention)
		}
	})
	// The inhibitor loads the alerts before the dispatcher routes any, so
	// that no inhibited alert is notified; each is published once loaded.
	go inhibitor.Run()
	inhibitor.WaitForLoading()
	am.inhibitor.Store(inhibitor)
	go disp.Run(am.started)
	disp.WaitForLoading()
	am.dispatcher.Store(disp)
	am.conf.Store(conf)
	am.file.Store(&file)

	am.m.receivers.Set(float64(len(used)))
	am.m.integrations.Set(float64(integrations))
	am.m.inhibitRules.Set(float64(len(conf.InhibitRules)))
	am.m.reloadOK.Set(1)
	am.m.reloadAt.SetToCurrentTime()
	am.m.hash.Set(configHash(conf.String()))
	am.logger.Info("alertmanager configuration applied", "file", file, "receivers", len(used), "integrations", integrations)
	return nil
}

// notifyTimeout is the time a notification to a receiver may take: its
// group_interval, at least notify.MinTimeout (one instance: no wait for
// peers).
func notifyTimeout(d time.Duration) time.Duration { return max(d, notify.MinTimeout) }

// configHash is 48 bits of a hash of the configuration's text, exact in a
// float64, as alertmanager_config_hash is.
func configHash(s string) float64 {
	sum := sha256.Sum256([]byte(s))
	var b [8]byte
	copy(b[:6], sum[:6])
	return float64(binary.LittleEndian.Uint64(b[:]))
}

// groups are the dispatcher's alert groups (the API's /alerts/groups).
func (am *Alertmanager) groups(ctx context.Context, routeFilter func(*dispatch.Route) bool, alertFilter dispatch.AlertFilter) (dispatch.AlertGroups, map[model.Fingerprint][]string, error) {
	d := am.dispatcher.Load()
	if d == nil {
		return nil, nil, errors.New("alertmanager not configured")
	}
	return d.Groups(ctx, routeFilter, alertFilter)
}

// setVersion makes the API's status say which Alertmanager answers (its
// module's version), as the alertmanager binary says its own: amtool
// compares it with its version. Horus sets no other value of
// prometheus/common/version.
func setVersion() {
	bi, ok := debug.ReadBuildInfo()
	if !ok || version.Version != "" {
		return
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/prometheus/alertmanager" {
			version.Version = strings.TrimPrefix(d.Version, "v")
		}
	}
}

// Config returns the configuration in force and the file it came from
// ("" for DefaultConfig).
func (am *Alertmanager) Config() (*amconfig.Config, string) {
	f := am.file.Load()
	if f == nil {
		return am.conf.Load(), ""
	}
	return am.conf.Load(), *f
}

// Stop stops routing and notifying, then writes the silences and the
// notification log a last time. Safe to call more than once.
func (am *Alertmanager) Stop() {
	am.mu.Lock()
	defer am.mu.Unlock()
	if am.stopped {
		return
	}
	am.stopped = true
	if in := am.inhibitor.Load(); in != nil {
		in.Stop()
	}
	if d := am.dispatcher.Load(); d != nil {
		d.Stop()
	}
	am.alerts.Close()
	am.stopMaintenance()
}

func (am *Alertmanager) stopMaintenance() {
	close(am.stopc)
	am.wg.Wait()
}

// The snapshot files under DataDir, named as Alertmanager names them
// under --storage.path.
const (
	silencesFile = "silences"
	nflogFile    = "nflog"
)

func (am *Alertmanager) path(name string) string { return filepath.Join(am.o.DataDir, name) }
