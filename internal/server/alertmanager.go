package server

import (
	"context"
	"net/http"
	"path/filepath"
	"time"

	promconfig "github.com/prometheus/prometheus/config"

	"github.com/horus-obs/horus/internal/alertmanager"
	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/ruler"
)

// buildAlertmanager starts the Alertmanager inside Horus when the
// configuration enables it: its silences and notification log under
// <data_dir>/alertmanager, its alertmanager.yml (or the default route
// that delivers nowhere). A file that does not load stops the start, as
// it stops Alertmanager's.
func (s *Server) buildAlertmanager() error {
	c := s.cfg.Alertmanager
	if !c.Enabled {
		return nil
	}
	am, err := alertmanager.New(c.ConfigFile, alertmanager.Options{
		DataDir:             filepath.Join(s.cfg.DataDir, "alertmanager"),
		ExternalURL:         alertmanagerURL(s.cfg),
		Retention:           time.Duration(c.Retention),
		MaintenanceInterval: time.Duration(c.MaintenanceInterval),
		MaxSilences:         c.MaxSilences,
		MaxSilenceSizeBytes: c.MaxSilenceSizeBytes,
		Logger:              s.logger.With("component", "alertmanager"),
		Registerer:          s.reg,
	})
	if err != nil {
		return err
	}
	s.am = am
	return nil
}

// alertmanagerURL is the embedded Alertmanager's URL in notifications:
// alertmanager.external_url, else Horus' URL with /alertmanager.
func alertmanagerURL(cfg *config.Config) string {
	if cfg.Alertmanager.ExternalURL != "" {
		return cfg.Alertmanager.ExternalURL
	}
	return ruler.ExternalURL(cfg) + alertmanager.Prefix
}

// mountAlertmanager serves the Alertmanager's API v2 under /alertmanager.
func (s *Server) mountAlertmanager(mux *http.ServeMux) {
	if s.am != nil {
		mux.Handle(alertmanager.Prefix+"/", s.am.Handler())
	}
}

// notifierDo is the ruler's notifier request function: requests to the
// embedded Alertmanager are served in process, the others go out as the
// notifier's own function sends them.
func (s *Server) notifierDo(ctx context.Context, c *http.Client, req *http.Request) (*http.Response, error) {
	if s.am == nil {
		return c.Do(req.WithContext(ctx))
	}
	return s.am.Do(ctx, c, req)
}

// alertmanagerAlerting is the ruler's Options.Alerting: the alerting
// configuration with the embedded Alertmanager's entry added; nil when
// the Alertmanager is off.
func (s *Server) alertmanagerAlerting() func(*promconfig.Config) *promconfig.Config {
	if s.am == nil {
		return nil
	}
	return alertmanager.WithInProcess
}

// reloadAlertmanager applies the alertmanager.yml of cfg (read again, as
// Alertmanager re-reads its file on SIGHUP); when it does not load, the
// configuration before it is kept and the error says why. Turning the
// Alertmanager on or off takes a restart.
func (s *Server) reloadAlertmanager(cfg *config.Config) error {
	if s.am == nil {
		if cfg.Alertmanager.Enabled {
			s.logger.Warn("reload: alertmanager.enabled takes a restart")
		}
		return nil
	}
	if !cfg.Alertmanager.Enabled {
		s.logger.Warn("reload: alertmanager.enabled takes a restart; the Alertmanager keeps running")
	}
	return s.am.ApplyConfig(cfg.Alertmanager.ConfigFile)
}

// stopAlertmanager stops routing and writes the silences and the
// notification log; after the ruler, whose notifier drains into it.
func (s *Server) stopAlertmanager() {
	if s.am != nil {
		s.am.Stop()
	}
}
