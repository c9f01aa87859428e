package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/horus-obs/horus/internal/config"
)

// testServer is a Horus running in-process on loopback ports.
type testServer struct {
	*Server
	cfg  *config.Config
	stop func()
	api  promv1.API
}

// startServer runs Horus on 127.0.0.1 with random ports and data in dir
// ("" for a new temporary directory). It stops at the end of the test.
func startServer(t testing.TB, dir string, mutate ...func(*config.Config)) *testServer {
	t.Helper()
	cfg := config.Default()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg.DataDir = dir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.OTLP.GRPCAddr = "127.0.0.1:0"
	cfg.OTLP.HTTPAddr = "127.0.0.1:0"
	for _, m := range mutate {
		m(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("server did not stop within 30s")
		}
	}
	t.Cleanup(stop)
	ts := &testServer{Server: srv, cfg: cfg, stop: stop}
	ts.waitReady(t)
	client, err := api.NewClient(api.Config{Address: ts.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ts.api = promv1.NewAPI(client)
	return ts
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (ts *testServer) URL() string { return "http://" + ts.Addrs().HTTP }

func (ts *testServer) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(ts.URL() + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server not ready within 20s")
}

// query runs an instant PromQL query and returns the vector.
func (ts *testServer) query(t *testing.T, q string, at time.Time) model.Vector {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, _, _, err := ts.api.Query(ctx, q, at)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		t.Fatalf("query %q: got %s, want vector", q, v.Type())
	}
	return vec
}

// selfMetric reads one sample of Horus' own /metrics.
func (ts *testServer) selfMetric(t *testing.T, name string, lbls map[string]string) float64 {
	t.Helper()
	mfs, err := ts.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range lbls {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func TestHealthAndReady(t *testing.T) {
	ts := startServer(t, "")
	for _, p := range []string{"/-/healthy", "/-/ready", "/metrics", "/api/v1/status/buildinfo", "/api/v1/events/status"} {
		resp, err := http.Get(ts.URL() + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, b)
		}
		if p == "/metrics" && (!strings.Contains(string(b), "prometheus_tsdb_head_series") || !strings.Contains(string(b), "horus_events_head_events")) {
			t.Errorf("/metrics lacks TSDB or event store stats")
		}
		if p == "/api/v1/events/status" && !strings.Contains(string(b), `"status":"success"`) {
			t.Errorf("events status: %s", b)
		}
	}
}

func TestStopIsClean(t *testing.T) {
	ts := startServer(t, "")
	ts.stop()
	if resp, err := http.Get(ts.URL() + "/-/healthy"); err == nil {
		_ = resp.Body.Close()
		t.Fatal("server still answers after stop")
	}
}

// TestSecondServerSameDataDir: a second Horus on a data directory in use
// stops with an error that says so and names the holder, before any store
// opens (the TSDB would log that it replaced a lock file, then fail with
// "resource temporarily unavailable"); once the first stops, it starts.
func TestSecondServerSameDataDir(t *testing.T) {
	dir := t.TempDir()
	first := startServer(t, dir)
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr, cfg.OTLP.GRPCAddr, cfg.OTLP.HTTPAddr = dir, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	_, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	want := fmt.Sprintf("in use by another Horus (pid %d)", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second server: %v, want an error containing %q", err, want)
	}
	if strings.Contains(logs.String(), "lockfile") {
		t.Errorf("the second server logged about lock files before refusing:\n%s", logs.String())
	}
	first.stop()
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	srv.Close()
}
