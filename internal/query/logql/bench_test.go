package logql

import (
	"context"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/horus-obs/horus/bench/eventgen"
	"github.com/horus-obs/horus/internal/store/events"
)

// benchLogs are 200,000 lines of bench/eventgen's shop over 20 minutes,
// in blocks (inBlocks) or left in the head.
func benchStore(b *testing.B, inBlocks bool) (*events.Store, time.Time, time.Time) {
	b.Helper()
	st, err := events.Open(b.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), events.Options{HeadMaxAge: time.Hour, HeadMaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	start := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	g := eventgen.New(3, start, 20*time.Minute/40000)
	var logs []events.Event
	n := 0
	for n < 200_000 {
		r := g.Next()
		logs = append(logs, r.Logs...)
		if len(logs) >= 5000 {
			if err := st.Append(context.Background(), "t", events.KindLog, logs); err != nil {
				b.Fatal(err)
			}
			n += len(logs)
			logs = logs[:0]
		}
	}
	if inBlocks {
		if err := st.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	return st, start, start.Add(20 * time.Minute)
}

// BenchmarkMetricQuery: the metric queries dashboards run, over 200,000
// lines, with the stages that once left the store's per-stream counting
// (issue 18: any stage cost ~40 µs a line), in blocks and in the head.
func BenchmarkMetricQuery(b *testing.B) {
	queries := []struct{ name, q string }{
		{"count", `sum by (level) (count_over_time({service_name=~".+"}[1m]))`},
		{"keep", `sum by (level) (count_over_time({service_name=~".+"} | keep level [1m]))`},
		{"label_filter", `sum by (level) (count_over_time({service_name=~".+"} | level="error" [1m]))`},
		{"line_filter", `sum by (level) (count_over_time({service_name=~".+"} |= "order" [1m]))`},
		{"logfmt", `sum by (level) (count_over_time({service_name=~".+"} | logfmt [1m]))`},
	}
	for _, where := range []string{"blocks", "head"} {
		st, start, end := benchStore(b, where == "blocks")
		eng := NewEngine(st, Options{})
		for _, q := range queries {
			b.Run(where+"/"+q.name, func(b *testing.B) {
				expr, err := Parse(q.q)
				if err != nil {
					b.Fatal(err)
				}
				var lines int64
				c0 := cpuTime()
				for b.Loop() {
					res, err := eng.Exec(context.Background(), expr, Params{Tenant: "t", Start: start, End: end, Step: time.Minute})
					if err != nil {
						b.Fatal(err)
					}
					if len(res.Matrix) == 0 {
						b.Fatal("no series")
					}
					lines = res.Stats.Lines
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*max(lines, 1)), "ns/line")
				reportCPU(b, c0)
			})
		}
	}
}

// BenchmarkLogQuery: the log queries of issue 18 as the Loki API runs
// them (limit 100, newest first) over 200,000 lines in blocks: the
// newest errors of one service, and all lines of one trace by label
// filter and by line filter.
func BenchmarkLogQuery(b *testing.B) {
	st, start, end := benchStore(b, true)
	evs, _, err := st.Select(context.Background(), events.Query{Tenant: "t", Kind: events.KindLog, Newest: true, Limit: 1,
		Start: start.Add(10 * time.Minute).UnixNano(), Filters: []events.Filter{{Field: "level", Op: events.Eq, Value: "error"}}})
	if err != nil || len(evs) == 0 {
		b.Fatal("no error line", err)
	}
	trace := evs[0].TraceID.String()
	eng := NewEngine(st, Options{})
	for _, q := range []struct{ name, q string }{
		{"newest_errors", `{service_name="payments", level="error"}`},
		{"trace_label", `{service_name=~".+"} | trace_id="` + trace + `"`},
		{"trace_line", `{service_name=~".+"} |= "` + trace + `"`},
	} {
		b.Run(q.name, func(b *testing.B) {
			expr, err := Parse(q.q)
			if err != nil {
				b.Fatal(err)
			}
			c0 := cpuTime()
			for b.Loop() {
				res, err := eng.Exec(context.Background(), expr, Params{Tenant: "t", Start: start, End: end, Limit: 100})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Streams) == 0 {
					b.Fatal("no lines")
				}
			}
			reportCPU(b, c0)
		})
	}
}

// cpuTime is the process's user+system time: on a machine shared with
// other work, the figure to compare (wall time is shared).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per operation since c0, in
// milliseconds (the store scans on every core: it may exceed wall time).
func reportCPU(b *testing.B, c0 time.Duration) {
	b.ReportMetric(float64(cpuTime()-c0)/1e6/float64(b.N), "cpu-ms/op")
}
