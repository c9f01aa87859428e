package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// goldenQueries are what a service dashboard asks for.
var goldenQueries = map[string]string{
	"p99_by_route": `histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="svc-03"}[5m])))`,
	"error_ratio":  `sum by (job) (rate(http_requests_total{code="500"}[5m])) / sum by (job) (rate(http_requests_total[5m]))`,
	"rps_by_job":   `sum by (job) (rate(http_requests_total[5m]))`,
	"p99_all":      `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`,
}

// timeQueries runs each golden query over the last o.queryRange with a
// step giving ~240 points (Grafana's default density) and reports the
// median wall time.
func timeQueries(o options, report map[string]any) error {
	c, err := api.NewClient(api.Config{Address: o.url})
	if err != nil {
		return err
	}
	a := promv1.NewAPI(c)
	end := time.Now()
	r := promv1.Range{Start: end.Add(-o.queryRange), End: end, Step: max(15*time.Second, o.queryRange/240)}
	names := make([]string, 0, len(goldenQueries))
	for n := range goldenQueries {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]any{"range": o.queryRange.String(), "step": r.Step.String()}
	for _, n := range names {
		var times []time.Duration
		var points int
		for i := 0; i < o.queryRuns; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			t0 := time.Now()
			v, _, _, err := a.QueryRange(ctx, goldenQueries[n], r)
			times = append(times, time.Since(t0))
			cancel()
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			points = len(v.String())
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		out[n] = map[string]any{"median_ms": float64(times[len(times)/2].Microseconds()) / 1000, "result_bytes": points}
	}
	report["queries"] = out
	return nil
}

// blockStats reports bytes per sample over the compacted blocks in dir:
// chunk bytes (and whole-block bytes, index included) over samples.
func blockStats(dir string, report map[string]any) error {
	metas, _ := filepath.Glob(filepath.Join(dir, "*", "meta.json"))
	var samples, chunkBytes, blockBytes int64
	for _, m := range metas {
		b, err := os.ReadFile(m)
		if err != nil {
			return err
		}
		var meta struct {
			Stats struct {
				NumSamples int64 `json:"numSamples"`
			} `json:"stats"`
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			return err
		}
		samples += meta.Stats.NumSamples
		bd := filepath.Dir(m)
		_ = filepath.Walk(bd, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				blockBytes += info.Size()
				if filepath.Base(filepath.Dir(p)) == "chunks" {
					chunkBytes += info.Size()
				}
			}
			return nil
		})
	}
	if samples == 0 {
		return fmt.Errorf("no compacted blocks with samples in %s", dir)
	}
	report["blocks"] = map[string]any{
		"blocks":                 len(metas),
		"samples":                samples,
		"chunk_bytes_per_sample": float64(chunkBytes) / float64(samples),
		"block_bytes_per_sample": float64(blockBytes) / float64(samples),
	}
	return nil
}
