//go:build unix

package investigate

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/changes"
	"github.com/horus-obs/horus/internal/store/events"
)

// BenchmarkInvestigate investigates a planted fault (plant: one payments
// host failing, its log line, a config change) in bench/eventgen's shop.
// HORUS_INVESTIGATE_REQUESTS requests (default 100,000: about 860,000
// spans and 700,000 log lines) over HORUS_INVESTIGATE_SPAN (default 24h),
// the fault in the last 40 minutes, the window the last hour;
// HORUS_INVESTIGATE_WINDOW changes the window. The figures of
// docs/benchmarks.md are from 1,430,000 requests (12.3 M spans, 10 M
// lines):
//
//	HORUS_INVESTIGATE_REQUESTS=1430000 go test -run '^$' -bench Investigate -benchtime 5x -timeout 1h ./internal/investigate/
func BenchmarkInvestigate(b *testing.B) {
	n := envInt("HORUS_INVESTIGATE_REQUESTS", 100_000)
	span := envDuration("HORUS_INVESTIGATE_SPAN", 24*time.Hour)
	window := envDuration("HORUS_INVESTIGATE_WINDOW", time.Hour)
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	end := start.Add(span)
	onset := end.Add(-40 * time.Minute)
	p := benchData(b, n, start, onset, end)
	e := New(Options{Events: p.store, Changes: fakeChanges{p.change}})
	req := Request{Tenant: testTenant, Service: "api-gateway", Signal: SignalErrors, Start: end.Add(-window), End: end}
	b.ResetTimer()
	var res *Result
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		var err error
		if res, err = e.Investigate(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	s := res.Sampling
	b.Logf("entry spans %d (bad %d), traces %d bad / %d good from %d spans, %d log lines; top: %s",
		s.EntrySpans, s.BadSpans, s.BadTraces, s.GoodTraces, s.SpansRead, s.LogLines, res.Findings[0].Statement)
}

// benchData is the planted store of the benchmark: generated once per
// process, or reopened from HORUS_INVESTIGATE_DIR when it holds the data
// of the same parameters (from an earlier run).
func benchData(b *testing.B, n int, start, onset, end time.Time) *planted {
	key := fmt.Sprintf("%d %v %v %v", n, start.Unix(), onset.Unix(), end.Unix())
	if cached != nil && cachedKey == key {
		return cached
	}
	dir := os.Getenv("HORUS_INVESTIGATE_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	marker := filepath.Join(dir, "planted.json")
	var saved struct {
		Key    string
		Host   string
		Change changes.Change
		Spans  int
		Logs   int
	}
	if raw, err := os.ReadFile(marker); err == nil && json.Unmarshal(raw, &saved) == nil && saved.Key == key {
		s, err := events.Open(filepath.Join(dir, "events"), slog.New(slog.DiscardHandler), events.Options{})
		if err != nil {
			b.Fatal(err)
		}
		cached = &planted{store: s, start: start, onset: onset, end: end, host: saved.Host, change: saved.Change, spans: saved.Spans, logs: saved.Logs}
	} else {
		_ = os.RemoveAll(filepath.Join(dir, "events"))
		began := time.Now()
		cached = plant(nil, filepath.Join(dir, "events"), start, onset, end, end.Sub(start)/time.Duration(n), plantFault)
		b.Logf("generated and stored %d spans, %d log lines in %v", cached.spans, cached.logs, time.Since(began).Round(time.Second))
		saved.Key, saved.Host, saved.Change, saved.Spans, saved.Logs = key, cached.host, cached.change, cached.spans, cached.logs
		raw, _ := json.Marshal(saved)
		if err := os.WriteFile(marker, raw, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cachedKey = key
	b.Logf("%d spans, %d log lines", cached.spans, cached.logs)
	return cached
}

var (
	cached    *planted
	cachedKey string
)

// cpuTime is the process's user and system time: the figure a loaded
// machine distorts less than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}
