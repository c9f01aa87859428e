// Package scrape pulls metrics from Prometheus targets with Prometheus' own
// scrape and discovery managers, configured by the scrape_configs of the
// Horus configuration. Only static_configs and file_sd_configs discovery is
// compiled in. Scraped samples go straight to the metrics store, so that
// up, scrape_duration_seconds, per-job limits and staleness behave exactly
// as in Prometheus.
package scrape

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	_ "github.com/prometheus/prometheus/discovery/file" // file_sd_configs
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
)

// Scraper runs service discovery and scraping.
//
// Lifecycle: New, ApplyConfig, then Run in its own goroutine until Stop.
type Scraper struct {
	logger    *slog.Logger
	discovery *discovery.Manager
	manager   *scrape.Manager
	cancel    context.CancelFunc
	stopOnce  sync.Once
}

// New creates the scrape and discovery managers, appending to app. reg
// receives Prometheus' scrape and discovery metrics.
func New(logger *slog.Logger, reg prometheus.Registerer, app storage.AppendableV2) (*Scraper, error) {
	sdMetrics, err := discovery.CreateAndRegisterSDMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("service discovery metrics: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dm := discovery.NewManager(ctx, logger.With("component", "discovery"), reg, sdMetrics, discovery.Name("scrape"))
	if dm == nil {
		cancel()
		return nil, errors.New("create discovery manager")
	}
	sm, err := scrape.NewManager(&scrape.Options{
		AppendMetadata:   true,
		ScrapeOnShutdown: false,
	}, logger.With("component", "scrape"), nil, nil, app, reg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("create scrape manager: %w", err)
	}
	return &Scraper{logger: logger, discovery: dm, manager: sm, cancel: cancel}, nil
}

// ApplyConfig (re)loads the scrape configurations.
func (s *Scraper) ApplyConfig(cfg *promconfig.Config) error {
	if err := s.manager.ApplyConfig(cfg); err != nil {
		return fmt.Errorf("apply scrape config: %w", err)
	}
	sd := map[string]discovery.Configs{}
	for _, sc := range cfg.ScrapeConfigs {
		sd[sc.JobName] = sc.ServiceDiscoveryConfigs
	}
	if err := s.discovery.ApplyConfig(sd); err != nil {
		return fmt.Errorf("apply service discovery config: %w", err)
	}
	return nil
}

// Manager returns the scrape manager, which the API asks for targets.
func (s *Scraper) Manager() *scrape.Manager { return s.manager }

// Run discovers and scrapes until Stop.
func (s *Scraper) Run() error {
	errc := make(chan error, 1)
	go func() { errc <- s.discovery.Run() }()
	err := s.manager.Run(s.discovery.SyncCh())
	s.cancel()
	if derr := <-errc; err == nil {
		err = derr
	}
	return err
}

// Stop ends Run and waits for it. It is safe to call more than once, and
// without Run: then it only releases the managers.
func (s *Scraper) Stop() {
	s.stopOnce.Do(func() {
		s.cancel()
		s.manager.Stop()
	})
}
