// Package ruler evaluates recording and alerting rules with Prometheus'
// own rule manager (github.com/prometheus/prometheus/rules) over Horus'
// metrics store and PromQL engine, and sends alerts to Alertmanagers with
// Prometheus' notifier. Rules in LogQL and TraceQL run through the same
// manager, as Loki's ruler runs LogQL: a manager per language, whose
// GroupLoader parses the language's expressions into a parser.Expr
// adapter and whose QueryFunc evaluates them with Horus' LogQL engine or
// TraceQL metrics. Their recording rules write Prometheus series and
// their alerts are ALERTS and ALERTS_FOR_STATE series as PromQL's are.
//
// Rules are the default tenant's: they read and write its series, logs
// and spans. Notifications carry, besides the rule's labels and
// annotations, a link to the alert in Horus, exemplar trace ids and the
// recent change events of the alert's service (see enrich.go and
// docs/alerting.md).
package ruler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"go.yaml.in/yaml/v3"

	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/query/traceql"
	"github.com/horus-obs/horus/internal/tenant"
)

// Options are what the ruler reads, writes and evaluates with.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Engine and Parser are Horus' PromQL engine and parser.
	Engine promql.QueryEngine
	Parser parser.Parser
	// Queryable reads metrics as the tenant of the context
	// (metrics.Tenancy); rules read the default tenant's.
	Queryable storage.Queryable
	// Exemplars are the metrics store's exemplars, read the same way.
	Exemplars storage.ExemplarQueryable
	// Appendable is where recording rules and ALERTS series are written
	// (the default tenant's series: the metrics store itself).
	Appendable storage.AppendableV2
	// LogQL evaluates LogQL rules; nil refuses LogQL groups.
	LogQL *logql.Engine
	// Spans are read by TraceQL rules; nil refuses TraceQL groups.
	Spans traceql.SpanStore
	// RecentChanges looks up the change events of a service for
	// notifications; nil adds none.
	RecentChanges RecentChangesFunc
	// Generated returns rule groups generated from other files (SLO
	// files) at each load, by identifier (the file they come from); they
	// are PromQL groups and are checked as rule files are.
	Generated func(cfg *config.Config) (map[string]*rulefmt.RuleGroups, error)
	// Do sends the notifier's requests (notifier.Options.Do): the
	// embedded Alertmanager's in process; nil sends every one over the
	// network.
	Do func(ctx context.Context, c *http.Client, req *http.Request) (*http.Response, error)
	// Alerting, if set, returns the configuration the notifier applies in
	// place of the one loaded (with the embedded Alertmanager's entry
	// added: alertmanager.WithInProcess); it must not change its argument.
	Alerting func(*promconfig.Config) *promconfig.Config
}

// Ruler runs the rule managers and the notifier.
type Ruler struct {
	o         Options
	logger    *slog.Logger
	managers  map[Lang]*rules.Manager
	notifier  *notifier.Manager
	tsets     chan map[string][]*targetgroup.Group
	ctx       context.Context
	cancel    context.CancelFunc
	enricher  *enricher
	stopOnce  sync.Once
	stopped   chan struct{}
	mu        sync.Mutex // serialises ApplyConfig
	files     atomic.Pointer[map[string]*File]
	offset    atomic.Int64 // global.rule_query_offset, ns
	reloadOK  prometheus.Gauge
	reloadAt  prometheus.Gauge
	externURL string
}

// New makes the rule managers and the notifier of cfg's rules settings
// (those that cannot change without a restart, as Prometheus' --rules.*
// flags); ApplyConfig loads the rules and Alertmanagers.
func New(cfg *config.Config, o Options) *Ruler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(tenant.WithContext(context.Background(), tenant.Default))
	r := &Ruler{
		o: o, logger: o.Logger, managers: map[Lang]*rules.Manager{}, ctx: ctx, cancel: cancel,
		tsets:     make(chan map[string][]*targetgroup.Group, 1),
		stopped:   make(chan struct{}),
		externURL: ExternalURL(cfg),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "horus_rules_last_reload_successful",
			Help: "Whether the last load of the rule files (and alerting configuration) succeeded (1) or kept the rules before it (0).",
		}),
		reloadAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "horus_rules_last_reload_success_timestamp_seconds",
			Help: "When the rule files were last loaded successfully.",
		}),
	}
	r.notifier = notifier.NewManager(&notifier.Options{
		QueueCapacity:   cfg.Rules.NotificationQueueCapacity,
		DrainOnShutdown: true,
		Registerer:      o.Registerer,
		Do:              o.Do,
	}, model.UTF8Validation, o.Logger.With("component", "notifier"))
	r.enricher = newEnricher(r, o.Registerer)
	if o.Registerer != nil {
		o.Registerer.MustRegister(r.reloadOK, r.reloadAt)
	}
	metrics := rules.NewGroupMetrics(o.Registerer)
	ext, _ := url.Parse(r.externURL)
	for _, lang := range Langs {
		mo := &rules.ManagerOptions{
			NameValidationScheme:   model.UTF8Validation,
			ExternalURL:            ext,
			NotifyFunc:             r.notifyFunc(lang),
			Context:                ctx,
			AppendableV2:           o.Appendable,
			Queryable:              o.Queryable,
			Logger:                 o.Logger.With("component", "rules", "language", string(lang)),
			OutageTolerance:        time.Duration(cfg.Rules.OutageTolerance),
			ForGracePeriod:         time.Duration(cfg.Rules.ForGracePeriod),
			ResendDelay:            time.Duration(cfg.Rules.ResendDelay),
			GroupLoader:            loader{lang: lang, files: r.loaded, parser: o.Parser},
			DefaultRuleQueryOffset: func() time.Duration { return time.Duration(r.offset.Load()) },
			Metrics:                metrics,
			Parser:                 o.Parser,
		}
		switch lang {
		case PromQL:
			mo.QueryFunc = rules.EngineQueryFunc(o.Engine, o.Queryable)
		case LogQL:
			mo.QueryFunc = unavailable(lang)
			if o.LogQL != nil {
				mo.QueryFunc = LogQLQueryFunc(o.LogQL, tenant.Default)
			}
			mo.RuleDependencyController = noDependencies{}
		case TraceQL:
			mo.QueryFunc = unavailable(lang)
			if o.Spans != nil {
				mo.QueryFunc = TraceQLQueryFunc(o.Spans, tenant.Default, time.Duration(cfg.Rules.TraceQLRange), 0)
			}
			mo.RuleDependencyController = noDependencies{}
		}
		r.managers[lang] = rules.NewManager(mo)
	}
	return r
}

// ExternalURL is the URL Horus is reached at for links in alerts:
// external_url, else http://<http_addr> (with the machine's host name for
// an address on every interface, as Prometheus' default
// --web.external-url), without a trailing slash.
func ExternalURL(cfg *config.Config) string {
	u := cfg.ExternalURL
	if u == "" {
		addr := cfg.HTTPAddr
		if host, port, err := net.SplitHostPort(addr); err == nil {
			if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
				if name, err := os.Hostname(); err == nil && name != "" {
					addr = net.JoinHostPort(name, port)
				}
			}
		}
		u = "http://" + addr
	}
	for len(u) > 0 && u[len(u)-1] == '/' {
		u = u[:len(u)-1]
	}
	return u
}

func unavailable(lang Lang) rules.QueryFunc {
	return func(context.Context, string, time.Time) (promql.Vector, error) {
		return nil, fmt.Errorf("no %s engine in this Horus", lang)
	}
}

// noDependencies is the dependency analysis of LogQL and TraceQL groups:
// none (Prometheus' walks PromQL syntax trees), so their rules are
// evaluated in order, one at a time.
type noDependencies struct{}

func (noDependencies) AnalyseRules([]rules.Rule) {}

// loader is a manager's GroupLoader: the groups of its language in the
// files parsed before (by ApplyConfig).
type loader struct {
	lang   Lang
	files  func() map[string]*File
	parser parser.Parser
}

func (l loader) Load(identifier string, _ bool, _ model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	f, ok := l.files()[identifier]
	if !ok {
		return nil, []error{fmt.Errorf("%s: not loaded", identifier)}
	}
	if g := f.Groups[l.lang]; g != nil {
		return g, nil
	}
	return &rulefmt.RuleGroups{}, nil
}

func (l loader) Parse(q string) (parser.Expr, error) {
	return Parsers{PromQL: l.parser}.parse(l.lang, q)
}

// loaded are the files ApplyConfig parsed last.
func (r *Ruler) loaded() map[string]*File {
	if f := r.files.Load(); f != nil {
		return *f
	}
	return nil
}

// RuleFiles expands cfg's rule file globs: each file with the language
// of the setting that names it (a file named by two settings takes the
// first's: rule_files, logql_rule_files, traceql_rule_files), in order.
func RuleFiles(cfg *config.Config) ([]string, map[string]Lang, error) {
	var names []string
	langs := map[string]Lang{}
	for _, set := range []struct {
		lang     Lang
		patterns []string
	}{{PromQL, cfg.RuleFiles}, {LogQL, cfg.LogQLRuleFiles}, {TraceQL, cfg.TraceQLRuleFiles}} {
		for _, pat := range set.patterns {
			fs, err := filepath.Glob(pat)
			if err != nil {
				return nil, nil, fmt.Errorf("rule file pattern %q: %w", pat, err)
			}
			for _, f := range fs {
				if _, ok := langs[f]; !ok {
					langs[f] = set.lang
					names = append(names, f)
				}
			}
		}
	}
	return names, langs, nil
}

// Load parses the rule files of cfg and the generated groups, without
// applying them: the errors, each with its file and line, are what a
// reload would refuse.
func (r *Ruler) Load(cfg *config.Config) (map[string]*File, []error) {
	names, langs, err := RuleFiles(cfg)
	if err != nil {
		return nil, []error{err}
	}
	ps := Parsers{PromQL: r.o.Parser}
	files := map[string]*File{}
	var errs []error
	for _, name := range names {
		f, ferrs := ParseFile(name, langs[name], ps, r.logger)
		errs = append(errs, ferrs...)
		if f != nil {
			if f.Groups[LogQL] != nil && r.o.LogQL == nil || f.Groups[TraceQL] != nil && r.o.Spans == nil {
				errs = append(errs, fmt.Errorf("%s: LogQL or TraceQL groups, but this Horus has no engine for them", name))
			}
			files[name] = f
		}
	}
	if r.o.Generated != nil {
		gen, err := r.o.Generated(cfg)
		if err != nil {
			errs = append(errs, err)
		}
		ids := make([]string, 0, len(gen))
		for id := range gen {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if _, dup := files[id]; dup {
				errs = append(errs, fmt.Errorf("%s: given as a rule file and as generated rules", id))
				continue
			}
			b, err := yaml.Marshal(gen[id])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", id, err))
				continue
			}
			f, ferrs := Parse(b, PromQL, ps, r.logger)
			for _, e := range ferrs {
				errs = append(errs, fmt.Errorf("%s (generated rules): %w", id, e))
			}
			if f != nil {
				f.Name = id
				files[id] = f
			}
		}
	}
	return files, errs
}

// ApplyConfig loads cfg's rule files and Alertmanagers. When a file does
// not load, or the alerting section cannot be applied, the rules and
// Alertmanagers before it are kept and the error says why (every file's
// errors, with lines), as Prometheus' reload does.
func (r *Ruler) ApplyConfig(cfg *config.Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.apply(cfg)
	if err != nil {
		r.reloadOK.Set(0)
		return err
	}
	r.reloadOK.Set(1)
	r.reloadAt.SetToCurrentTime()
	return nil
}

func (r *Ruler) apply(cfg *config.Config) error {
	pc := cfg.PrometheusConfig()
	if pc == nil {
		return errors.New("configuration not validated")
	}
	apc := pc
	if r.o.Alerting != nil {
		apc = r.o.Alerting(pc)
	}
	tgs, err := alertmanagerTargets(apc)
	if err != nil {
		return err
	}
	files, errs := r.Load(cfg)
	if len(errs) > 0 {
		return fmt.Errorf("rules not loaded, the rules before are kept: %w", errors.Join(errs...))
	}
	r.files.Store(&files)
	r.offset.Store(int64(pc.GlobalConfig.RuleQueryOffset))
	interval := time.Duration(pc.GlobalConfig.EvaluationInterval)
	for _, lang := range Langs {
		var ids []string
		for id, f := range files {
			if f.Groups[lang] != nil {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		if err := r.managers[lang].Update(interval, ids, pc.GlobalConfig.ExternalLabels, r.externURL, nil); err != nil {
			return fmt.Errorf("%s rules: %w", lang, err)
		}
	}
	if err := r.notifier.ApplyConfig(apc); err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	r.enricher.setExternalLabels(pc)
	// The newest target groups replace any not yet taken.
	select {
	case <-r.tsets:
	default:
	}
	r.tsets <- tgs
	return nil
}

// alertmanagerTargets are the target groups of each alertmanagers entry,
// keyed as the notifier keys them. Only static_configs are served.
func alertmanagerTargets(pc *promconfig.Config) (map[string][]*targetgroup.Group, error) {
	out := map[string][]*targetgroup.Group{}
	for key, am := range pc.AlertingConfig.AlertmanagerConfigs.ToMap() {
		var groups []*targetgroup.Group
		for _, sd := range am.ServiceDiscoveryConfigs {
			st, ok := sd.(discovery.StaticConfig)
			if !ok {
				return nil, fmt.Errorf("alerting.alertmanagers: %s discovery is not served; list Alertmanagers in static_configs", sd.Name())
			}
			for i, g := range st {
				if g.Source == "" {
					g.Source = fmt.Sprint(i)
				}
				groups = append(groups, g)
			}
		}
		out[key] = groups
	}
	return out, nil
}

// Run evaluates rules and sends alerts until Stop.
func (r *Ruler) Run() error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.notifier.Run(r.tsets)
	}()
	for _, m := range r.managers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Run()
		}()
	}
	<-r.stopped
	for _, m := range r.managers {
		m.Stop()
	}
	r.cancel()
	r.notifier.Stop()
	wg.Wait()
	return nil
}

// Stop ends Run: rule evaluation stops, then the notifier sends what is
// queued. Safe to call more than once, and without Run.
func (r *Ruler) Stop() {
	r.stopOnce.Do(func() { close(r.stopped) })
}

// RuleGroups returns the groups of every language, by file then name
// (v1.RulesRetriever).
func (r *Ruler) RuleGroups() []*rules.Group {
	var out []*rules.Group
	for _, lang := range Langs {
		out = append(out, r.managers[lang].RuleGroups()...)
	}
	slices.SortStableFunc(out, func(a, b *rules.Group) int {
		if a.File() != b.File() {
			if a.File() < b.File() {
				return -1
			}
			return 1
		}
		switch {
		case a.Name() < b.Name():
			return -1
		case a.Name() > b.Name():
			return 1
		}
		return 0
	})
	return out
}

// AlertingRules returns the alerting rules of every language
// (v1.RulesRetriever).
func (r *Ruler) AlertingRules() []*rules.AlertingRule {
	var out []*rules.AlertingRule
	for _, lang := range Langs {
		out = append(out, r.managers[lang].AlertingRules()...)
	}
	return out
}

// Alertmanagers returns the Alertmanagers alerts are sent to
// (v1.AlertmanagerRetriever).
func (r *Ruler) Alertmanagers() []*url.URL { return r.notifier.Alertmanagers() }

// DroppedAlertmanagers returns the Alertmanagers dropped by relabelling
// (v1.AlertmanagerRetriever).
func (r *Ruler) DroppedAlertmanagers() []*url.URL { return r.notifier.DroppedAlertmanagers() }
