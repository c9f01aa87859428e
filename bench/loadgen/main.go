// Command loadgen is Horus' metrics load generator and measurement tool.
//
// It sends a fixed, realistic series set (see series.go) by Prometheus
// remote_write or OTLP/HTTP to any receiver, either as fast as the receiver
// takes it with timestamps advancing one interval per round (backfill mode:
// the throughput figure) or in real time (steady mode: the RSS figure).
// Given the receiver's pid, it reads the receiver's CPU time and RSS from
// /proc, so the generator's own CPU is not counted. It can also time
// PromQL range queries and measure bytes per sample of compacted blocks.
//
//	loadgen -url http://127.0.0.1:3300 -proto remote_write -series 100000 -backfill 3h -pid 1234
//	loadgen -url http://127.0.0.1:3300 -queries -range 1h
//	loadgen -blocks-dir data/metrics
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

type options struct {
	url         string
	proto       string
	series      int
	interval    time.Duration
	backfill    time.Duration
	steady      time.Duration
	concurrency int
	batch       int
	pid         int
	queries     bool
	queryRange  time.Duration
	queryRuns   int
	blocksDir   string
	label       string
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://127.0.0.1:3300", "receiver base URL")
	flag.StringVar(&o.proto, "proto", "remote_write", "remote_write or otlp")
	flag.IntVar(&o.series, "series", 100000, "active series (rounded up to whole targets of 500)")
	flag.DurationVar(&o.interval, "interval", 15*time.Second, "sample interval")
	flag.DurationVar(&o.backfill, "backfill", 0, "send this much history as fast as accepted, ending now")
	flag.DurationVar(&o.steady, "steady", 0, "then send in real time for this long")
	flag.IntVar(&o.concurrency, "concurrency", 4, "parallel senders")
	flag.IntVar(&o.batch, "batch", 2000, "samples per remote-write request (OTLP: series per request, whole targets)")
	flag.IntVar(&o.pid, "pid", 0, "receiver pid, to measure its CPU and RSS")
	flag.BoolVar(&o.queries, "queries", false, "time the golden-signal PromQL range queries")
	flag.DurationVar(&o.queryRange, "range", time.Hour, "range of the timed queries")
	flag.IntVar(&o.queryRuns, "runs", 5, "runs per timed query (the median is reported)")
	flag.StringVar(&o.blocksDir, "blocks-dir", "", "report bytes per sample of the TSDB blocks in this directory")
	flag.StringVar(&o.label, "label", "", "name of the receiver in the report")
	flag.Parse()

	report := map[string]any{"receiver": o.label, "proto": o.proto}
	var err error
	switch {
	case o.blocksDir != "":
		err = blockStats(o.blocksDir, report)
	case o.queries:
		err = timeQueries(o, report)
	default:
		err = ingest(o, report)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(report)
}

// sender sends the samples of some targets at one timestamp.
type sender interface {
	send(ctx context.Context, ts []target, round int, tsMillis int64) (samples int, err error)
}

func ingest(o options, report map[string]any) error {
	var s sender
	switch o.proto {
	case "remote_write":
		s = newRWSender(o.url, o.batch)
	case "otlp":
		s = newOTLPSender(o.url)
	default:
		return fmt.Errorf("unknown -proto %q", o.proto)
	}
	tgts := targets(o.series)
	report["active_series"] = len(tgts) * seriesPerTarget
	perReq := max(1, o.batch/seriesPerTarget)
	if o.proto == "remote_write" {
		perReq = 1 // the sender splits a target's samples into batches itself
	}

	runRound := func(ctx context.Context, round int, ts int64) (int64, error) {
		var sent atomic.Int64
		var firstErr error
		var mu sync.Mutex
		work := make(chan []target)
		var wg sync.WaitGroup
		for w := 0; w < o.concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for chunk := range work {
					n, err := s.send(ctx, chunk, round, ts)
					sent.Add(int64(n))
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
					}
				}
			}()
		}
		for i := 0; i < len(tgts); i += perReq {
			work <- tgts[i:min(i+perReq, len(tgts))]
		}
		close(work)
		wg.Wait()
		return sent.Load(), firstErr
	}

	ctx := context.Background()
	now := time.Now()
	if o.backfill > 0 {
		rounds := int(o.backfill / o.interval)
		start := now.Add(-time.Duration(rounds) * o.interval)
		before, err := readProc(o.pid)
		if err != nil {
			return err
		}
		t0 := time.Now()
		var total int64
		for r := 0; r < rounds; r++ {
			n, err := runRound(ctx, r, start.Add(time.Duration(r)*o.interval).UnixMilli())
			total += n
			if err != nil {
				return fmt.Errorf("round %d: %w", r, err)
			}
		}
		wall := time.Since(t0)
		after, err := readProc(o.pid)
		if err != nil {
			return err
		}
		cpu := after.cpu - before.cpu
		report["backfill"] = map[string]any{
			"samples":              total,
			"wall_seconds":         wall.Seconds(),
			"samples_per_second":   float64(total) / wall.Seconds(),
			"receiver_cpu_seconds": cpu.Seconds(),
			"samples_per_cpu_second": func() float64 {
				if cpu <= 0 {
					return 0
				}
				return float64(total) / cpu.Seconds()
			}(),
			"receiver_rss_bytes": after.rss,
		}
	}
	if o.steady > 0 {
		rounds := int(o.steady / o.interval)
		base := int(o.backfill / o.interval)
		before, err := readProc(o.pid)
		if err != nil {
			return err
		}
		var total int64
		var peak int64
		tick := time.NewTicker(o.interval)
		defer tick.Stop()
		for r := 0; r < rounds; r++ {
			n, err := runRound(ctx, base+r, time.Now().UnixMilli())
			total += n
			if err != nil {
				return fmt.Errorf("steady round %d: %w", r, err)
			}
			if p, err := readProc(o.pid); err == nil && p.rss > peak {
				peak = p.rss
			}
			<-tick.C
		}
		after, err := readProc(o.pid)
		if err != nil {
			return err
		}
		series := len(tgts) * seriesPerTarget
		report["steady"] = map[string]any{
			"samples":                   total,
			"seconds":                   o.steady.Seconds(),
			"receiver_cpu_seconds":      (after.cpu - before.cpu).Seconds(),
			"receiver_cpu_cores":        (after.cpu - before.cpu).Seconds() / o.steady.Seconds(),
			"receiver_rss_bytes":        after.rss,
			"receiver_peak_rss_bytes":   peak,
			"rss_bytes_per_series":      float64(after.rss) / float64(series),
			"peak_rss_bytes_per_series": float64(peak) / float64(series),
		}
	}
	return nil
}
