package prom

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/scrape"

	"github.com/horus-obs/horus/internal/store/metrics"
)

// testAPI is the Prometheus API over a real metrics store in a temporary
// directory, served on 127.0.0.1.
type testAPI struct {
	srv    *httptest.Server
	reg    *prometheus.Registry
	store  *metrics.Store
	api    *API
	engine interface{ Close() error }
}

// newTestAPI starts the API; edit adjusts the options before it is built.
func newTestAPI(t testing.TB, edit func(*Options, *EngineOptions)) *testAPI {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	st, err := metrics.Open(t.TempDir(), logger, reg, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	eo := EngineOptions{Timeout: time.Minute, MaxSamples: 50_000_000, LookbackDelta: 5 * time.Minute}
	o := Options{
		DataDir:       t.TempDir(),
		ListenAddress: "127.0.0.1:0",
		Config:        func() promconfig.Config { return promconfig.DefaultConfig },
		Targets:       func() *scrape.Manager { return nil },
		LookbackDelta: 5 * time.Minute,
		QueryTimeout:  time.Minute,
		MaxBodyBytes:  8 << 20,
	}
	if edit != nil {
		edit(&o, &eo)
	}
	engine, err := NewEngine(logger, reg, eo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	a := New(engine, st, logger, reg, reg, o)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &testAPI{srv: srv, reg: reg, store: st, api: a, engine: engine}
}
