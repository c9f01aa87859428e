package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/horus-obs/horus/internal/api/prom"
	"github.com/horus-obs/horus/internal/changes"
	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/ruler"
	"github.com/horus-obs/horus/internal/store/metrics"
	"github.com/horus-obs/horus/internal/tenant"
)

// ruleState is the server's rules, notifier and reloading.
type ruleState struct {
	ruler *ruler.Ruler
	// reloader re-reads the configuration for a reload (SetReloader);
	// nil re-reads the rule files of the configuration Horus started
	// with.
	reloader func() (*config.Config, error)
	mu       sync.Mutex // serialises reloads
}

// SetReloader sets how a reload (SIGHUP, POST /-/reload) gets the
// configuration: `horus serve` re-reads the file and its flags.
func (s *Server) SetReloader(f func() (*config.Config, error)) {
	s.rules.mu.Lock()
	s.rules.reloader = f
	s.rules.mu.Unlock()
}

// buildRules makes the ruler over the metrics store (through tenancy, as
// the default tenant), the PromQL engine and the event store, and loads
// the configuration's rule files: a file that does not load stops the
// start, as it stops Prometheus'.
func (s *Server) buildRules(engine promql.QueryEngine, tenancy *metrics.Tenancy) error {
	var recent ruler.RecentChangesFunc
	if s.changes != nil {
		recent = recentChanges(s.changes)
	}
	var generated func(*config.Config) (map[string]*rulefmt.RuleGroups, error)
	if s.slos != nil {
		// The SLO files' rules, generated at each load with the rule files.
		generated = s.slos.RuleGroups
	}
	s.rules.ruler = ruler.New(s.cfg, ruler.Options{
		Logger:        s.logger.With("component", "ruler"),
		Registerer:    s.reg,
		Engine:        engine,
		Parser:        prom.NewParser(prom.Limits{}),
		Queryable:     tenancy,
		Exemplars:     tenancy,
		Appendable:    s.metrics,
		LogQL:         logql.NewEngine(s.events, logql.Options{}),
		Spans:         s.events,
		RecentChanges: recent,
		Generated:     generated,
		Do:            s.notifierDo,
		Alerting:      s.alertmanagerAlerting(),
	})
	if err := s.rules.ruler.ApplyConfig(s.cfg); err != nil {
		return err
	}
	return nil
}

// recentChanges lists a service's change events for notifications.
func recentChanges(st *changes.Store) ruler.RecentChangesFunc {
	return func(ctx context.Context, service string, start, end time.Time) ([]ruler.Change, error) {
		cs, err := st.List(ctx, changes.Query{Tenant: tenant.Default, Start: start, End: end, Service: service, Limit: 100})
		if err != nil {
			return nil, err
		}
		out := make([]ruler.Change, len(cs))
		for i, c := range cs {
			out[i] = ruler.Change{Time: c.Time, Kind: c.Kind, Service: c.Service, Version: c.Version, Author: c.Author, Description: c.Description}
		}
		return out, nil
	}
}

// rulesRetriever and alertmanagers are what the Prometheus API's /rules,
// /alerts and /alertmanagers read.
func (s *Server) rulesRetriever() v1.RulesRetriever { return s.rules.ruler }

func (s *Server) alertmanagers() v1.AlertmanagerRetriever { return s.rules.ruler }

// runRules adds the ruler to the run group.
func (s *Server) runRules(g *run.Group) {
	g.Add(s.rules.ruler.Run, func(error) { s.rules.ruler.Stop() })
}

// Reload applies a new configuration's rule files, alerting section and
// scrape configs, as Prometheus' reload does. When any does not load,
// what ran before is kept and the error says why. The other settings
// take a restart.
func (s *Server) Reload() error {
	s.rules.mu.Lock()
	defer s.rules.mu.Unlock()
	cfg := s.cfg
	if s.rules.reloader != nil {
		var err error
		if cfg, err = s.rules.reloader(); err != nil {
			s.logger.Error("reload: configuration not loaded; the one before is kept", "err", err)
			return err
		}
	}
	// alertmanager.yml is read again whatever the rules do; each part
	// keeps what it had when its files do not load.
	amErr := s.reloadAlertmanager(cfg)
	if err := s.rules.ruler.ApplyConfig(cfg); err != nil {
		s.logger.Error("reload failed; the rules before are kept", "err", err)
		return errors.Join(err, amErr)
	}
	if cfg != s.cfg {
		if err := s.scraper.ApplyConfig(cfg.PrometheusConfig()); err != nil {
			s.logger.Error("reload: scrape configs not applied", "err", err)
			return errors.Join(err, amErr)
		}
	}
	if amErr != nil {
		return amErr
	}
	s.logger.Info("configuration reloaded", "rule_files", len(cfg.RuleFiles)+len(cfg.LogQLRuleFiles)+len(cfg.TraceQLRuleFiles))
	return nil
}

// reload answers POST /-/reload as Prometheus' does: 200 once the
// configuration and rules are reloaded, 500 with the reason when they
// are not (the ones before are kept).
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		http.Error(w, "POST or PUT to reload", http.StatusMethodNotAllowed)
		return
	}
	if err := s.Reload(); err != nil {
		http.Error(w, fmt.Sprintf("failed to reload config: %v", err), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "Horus reloaded the configuration and rules.")
}
