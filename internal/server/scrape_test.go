package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/prometheus/prompb"

	"github.com/horus-obs/horus/internal/config"
)

// TestScrapeFileSDRelabel scrapes a target found by file_sd_configs, with
// relabel_configs and honor_labels, through Prometheus' own scrape code.
func TestScrapeFileSDRelabel(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE shop_orders_total counter\nshop_orders_total{job=\"from-target\"} 42\n")
	}))
	defer app.Close()
	dir := t.TempDir()
	sd := filepath.Join(dir, "targets.json")
	if err := os.WriteFile(sd, []byte(fmt.Sprintf(`[{"targets":[%q],"labels":{"team":"payments"}}]`, strings.TrimPrefix(app.URL, "http://"))), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "horus.yml")
	if err := os.WriteFile(cfgFile, []byte(`
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: shop
    honor_labels: true
    file_sd_configs: [{files: [targets.json], refresh_interval: 1s}]
    relabel_configs:
      - source_labels: [team]
        target_label: owner
`), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "", func(c *config.Config) { *c = *withProm(c, loaded) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		vec := ts.query(t, `shop_orders_total{job="from-target",owner="payments",team="payments"}`, time.Now())
		up := ts.query(t, `up{job="shop",owner="payments"}`, time.Now())
		if len(vec) == 1 && vec[0].Value == 42 && len(up) == 1 && up[0].Value == 1 &&
			ts.selfMetric(t, "horus_ingest_received_total", map[string]string{"protocol": "scrape"}) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scrape through file_sd + relabel + honor_labels: got %v, up %v", vec, up)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withProm returns c carrying the Prometheus sections loaded from file
// (relative file_sd paths resolved against the file's directory).
func withProm(c *config.Config, loaded *config.Config) *config.Config {
	out := *loaded
	out.DataDir, out.HTTPAddr, out.OTLP = c.DataDir, c.HTTPAddr, c.OTLP
	return &out
}

// TestRestartKeepsData stops Horus cleanly and starts it again on the same
// data directory.
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	c := rwClient(t, ts)
	now := time.Now().UnixMilli()
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: series("restart_test", "job", "a"), Samples: []prompb.Sample{{Value: 7, Timestamp: now}}},
	}}
	if _, err := c.Write(t.Context(), remoteapi.WriteV1MessageType, req); err != nil {
		t.Fatal(err)
	}
	ts.stop()
	ts2 := startServer(t, dir)
	if vec := ts2.query(t, `restart_test`, time.UnixMilli(now)); len(vec) != 1 || vec[0].Value != 7 {
		t.Fatalf("after restart: %v", vec)
	}
}
