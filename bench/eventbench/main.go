// Command eventbench measures the event store on bench/eventgen's data:
// log and span ingest per CPU core (WAL and block writing included), bytes
// on disk per line and per span after compaction against the raw JSON
// lines, query latencies (trace by id, logs of a trace, a rare token,
// count by level per minute) and RSS while ingesting.
//
//	go run ./bench/eventbench -logs 10000000 -span 24h -dir /tmp/eb
//
// The store runs in this process. CPU is the process's user+system time
// minus the generator's: the generator runs on a goroutine locked to its
// own thread, whose CPU time Linux reports (RUSAGE_THREAD). Garbage
// collection of the generator's allocations by other threads is counted
// as the store's, so the figure errs against the store.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/horus-obs/horus/bench/eventgen"
	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/query/traceql"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/store/events/wal"
)

type options struct {
	dir     string
	logs    int
	span    time.Duration
	seed    uint64
	writers int
	batch   int
	sync    string
	phase   string
	repeat  int
	profile string
	only    string
}

func main() {
	var o options
	flag.StringVar(&o.dir, "dir", "", "store directory (default: a new temporary directory)")
	flag.IntVar(&o.logs, "logs", 1_000_000, "log lines to generate (spans follow: about 1.2 per line)")
	flag.DurationVar(&o.span, "span", 24*time.Hour, "time range the data covers")
	flag.Uint64Var(&o.seed, "seed", 1, "generator seed")
	flag.IntVar(&o.writers, "writers", 4, "concurrent appenders")
	flag.IntVar(&o.batch, "batch", 1000, "events per append")
	flag.StringVar(&o.sync, "fsync", "interval", "WAL fsync policy: always, interval, never")
	flag.StringVar(&o.phase, "phase", "all", "ingest, query or all")
	flag.IntVar(&o.repeat, "repeat", 5, "runs of each query (the median is reported)")
	flag.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the phases run to this file")
	flag.StringVar(&o.only, "only", "", "run only the queries whose name contains this")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(75) // as cmd/horus does
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "eventbench:", err)
		os.Exit(1)
	}
}

const tenant = "bench"

var start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func run(o options) error {
	if o.dir == "" {
		d, err := os.MkdirTemp("", "eventbench")
		if err != nil {
			return err
		}
		o.dir = d
		defer func() { _ = os.RemoveAll(d) }()
	}
	fmt.Printf("eventbench: %d log lines over %s, seed %d, %d writers, batches of %d, fsync %s, GOMAXPROCS %d, dir %s\n",
		o.logs, o.span, o.seed, o.writers, o.batch, o.sync, runtime.GOMAXPROCS(0), o.dir)
	if o.profile != "" {
		f, err := os.Create(o.profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	reqs := estimateRequests(o)
	if o.phase == "ingest" || o.phase == "all" {
		raw := rawJSON(o, reqs)
		for _, kind := range []events.Kind{events.KindLog, events.KindSpan} {
			if err := ingest(o, reqs, kind, raw); err != nil {
				return err
			}
		}
	}
	if o.phase == "query" || o.phase == "all" {
		return queries(o, reqs)
	}
	return nil
}

// estimateRequests finds how many requests make o.logs lines.
func estimateRequests(o options) int {
	g := eventgen.New(o.seed, start, time.Millisecond)
	n := 0
	for i := 0; i < 10000; i++ {
		n += len(g.Next().Logs)
	}
	return int(float64(o.logs) * 10000 / float64(n))
}

func newGen(o options, reqs int) *eventgen.Generator {
	return eventgen.New(o.seed, start, o.span/time.Duration(reqs))
}

func rawJSON(o options, reqs int) int64 {
	g := newGen(o, reqs)
	var raw, lines int64
	for i := 0; i < reqs; i++ {
		r := g.Next()
		for j := range r.Logs {
			raw += int64(len(eventgen.JSONLine(&r.Logs[j]))) + 1
			lines++
		}
	}
	fmt.Printf("raw JSON lines: %d lines, %d bytes, %.1f bytes/line\n", lines, raw, float64(raw)/float64(lines))
	return raw
}

func cpu() time.Duration { return rusage(syscall.RUSAGE_SELF) }

const rusageThread = 1 // RUSAGE_THREAD, Linux

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func openStore(o options) (*events.Store, error) {
	pol, err := wal.ParseSyncPolicy(o.sync)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return events.Open(o.dir, logger, events.Options{WAL: wal.Options{Sync: pol}})
}

func rss() (cur, peak int64) {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return cur, peak
}

func ingest(o options, reqs int, kind events.Kind, raw int64) error {
	s, err := openStore(o)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	runtime.GC()
	c0, t0 := cpu(), time.Now()
	batches := make(chan []events.Event, o.writers*2)
	var wg sync.WaitGroup
	var appendErr error
	var mu sync.Mutex
	for w := 0; w < o.writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := s.Append(context.Background(), tenant, kind, b); err != nil {
					mu.Lock()
					appendErr = err
					mu.Unlock()
				}
			}
		}()
	}
	var maxRSS int64
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if r, _ := rss(); r > maxRSS {
					maxRSS = r
				}
			}
		}
	}()
	g := newGen(o, reqs)
	var lb, sb []events.Event
	n := 0
	runtime.LockOSThread()
	g0 := rusage(rusageThread)
	for i := 0; i < reqs; i++ {
		r := g.Next()
		lb = append(lb, r.Logs...)
		sb = append(sb, r.Spans...)
		if len(lb) >= o.batch {
			if kind == events.KindLog {
				batches <- lb
				n += len(lb)
			}
			lb = nil
		}
		if len(sb) >= o.batch {
			if kind == events.KindSpan {
				batches <- sb
				n += len(sb)
			}
			sb = nil
		}
	}
	close(batches)
	gen := rusage(rusageThread) - g0
	runtime.UnlockOSThread()
	wg.Wait()
	appendWall := time.Since(t0)
	appendCPU := cpu() - c0
	s.Maintain(context.Background(), true) // write the rest of the head
	s.Maintain(context.Background(), true) // and compact
	close(stop)
	if appendErr != nil {
		return appendErr
	}
	total := cpu() - c0
	store := total - gen
	fmt.Printf("\n%s ingest: %d events in %.1fs wall (appends %.1fs)\n", kind, n, time.Since(t0).Seconds(), appendWall.Seconds())
	fmt.Printf("  CPU: %.2fs total, %.2fs generator, %.2fs store (appends %.2fs) -> %.0f %s/s per core\n",
		total.Seconds(), gen.Seconds(), store.Seconds(), (appendCPU - gen).Seconds(), float64(n)/store.Seconds(), kind)
	_, peak := rss()
	fmt.Printf("  RSS while ingesting: max sampled %.0f MiB, peak (VmHWM, whole run so far) %.0f MiB\n", float64(maxRSS)/(1<<20), float64(peak)/(1<<20))
	for _, t := range s.Status().Tenants {
		if t.Kind != kind.String() {
			continue
		}
		fmt.Printf("  blocks: %d, %d rows, %d bytes, %.1f bytes/%s, parquet compression %.1fx\n",
			t.Blocks, t.Rows, t.Bytes, t.BytesPerRow, strings.TrimSuffix(kind.String(), "s"), t.CompressionRatio)
		if kind == events.KindLog {
			fmt.Printf("  vs raw JSON: %.1fx smaller (%.1f bytes/line raw)\n", float64(raw)/float64(t.Bytes), float64(raw)/float64(t.Rows))
		}
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func timeit(o options, name string, f func() (int, error)) error {
	if !strings.Contains(name, o.only) {
		return nil
	}
	var ds, cpus []time.Duration
	var n int
	if _, err := f(); err != nil { // warm-up
		return fmt.Errorf("%s: %w", name, err)
	}
	for i := 0; i < o.repeat; i++ {
		t0, c0 := time.Now(), cpu()
		var err error
		if n, err = f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		ds = append(ds, time.Since(t0))
		cpus = append(cpus, cpu()-c0)
	}
	// CPU is the process's user+system time during the query: on a
	// loaded machine the figure to compare, wall time being shared.
	fmt.Printf("  %-58s %8.1f ms median, %8.1f ms max, %8.1f ms CPU median, %d results\n", name,
		float64(median(ds).Microseconds())/1000, float64(slices.Max(ds).Microseconds())/1000, float64(median(cpus).Microseconds())/1000, n)
	return nil
}

func queries(o options, reqs int) error {
	s, err := openStore(o)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	for _, t := range s.Status().Tenants {
		fmt.Printf("\nstore: %s: %d blocks, %d rows, %d head events\n", t.Kind, t.Blocks, t.Rows, t.HeadEvents)
	}
	// Pick traces and a rare token from the generator's data.
	rng := rand.New(rand.NewPCG(o.seed, 7))
	pick := map[int]bool{}
	for len(pick) < 10 {
		pick[rng.IntN(reqs)] = true
	}
	g := newGen(o, reqs)
	var ids []events.TraceID
	var rare string
	for i := 0; i < reqs; i++ {
		r := g.Next()
		if pick[i] {
			ids = append(ids, r.Spans[0].TraceID)
			if rare == "" {
				for _, l := range r.Logs {
					if strings.Contains(l.Body, "order o-") {
						f := strings.Fields(l.Body[strings.Index(l.Body, "order o-")+len("order o-"):])
						rare = strings.TrimSuffix(f[0], ":")
						break
					}
				}
			}
		}
	}
	fmt.Printf("\nqueries (warm, median of %d):\n", o.repeat)
	for _, id := range ids[:3] {
		id := id
		if err := timeit(o, "trace by id "+id.String(), func() (int, error) {
			evs, err := s.Trace(ctx, tenant, id)
			return len(evs), err
		}); err != nil {
			return err
		}
	}
	for _, id := range ids[3:6] {
		q := events.Query{Tenant: tenant, Kind: events.KindLog, Newest: true, Limit: 1000,
			Filters: []events.Filter{{Field: "trace_id", Op: events.Eq, Value: id.String()}}}
		if err := timeit(o, "logs of trace "+id.String(), func() (int, error) {
			evs, _, err := s.Select(ctx, q)
			return len(evs), err
		}); err != nil {
			return err
		}
	}
	end := start.Add(o.span).UnixNano()
	for _, f := range []events.Filter{
		{Field: "body", Op: events.Token, Value: rare},
		{Field: "body", Op: events.Contains, Value: rare},
		{Field: "body", Op: events.Contains, Value: "timeout"},
	} {
		q := events.Query{Tenant: tenant, Kind: events.KindLog, Start: start.UnixNano(), End: end, Newest: true, Limit: 100, Filters: []events.Filter{f}}
		if err := timeit(o, fmt.Sprintf("logs: body %s %q, 24h, newest 100", f.Op, f.Value), func() (int, error) {
			evs, _, err := s.Select(ctx, q)
			return len(evs), err
		}); err != nil {
			return err
		}
	}
	q := events.Query{Tenant: tenant, Kind: events.KindLog, Start: start.UnixNano(), End: end, Fields: []string{"level"}}
	if err := timeit(o, "count by level per minute, 24h", func() (int, error) {
		type key struct {
			level  string
			minute int64
		}
		counts := map[key]int{}
		_, err := s.Scan(ctx, q, func(evs []events.Event) error {
			for i := range evs {
				counts[key{evs[i].Level(), evs[i].Time / int64(time.Minute)}]++
			}
			return nil
		})
		return len(counts), err
	}); err != nil {
		return err
	}
	q = events.Query{Tenant: tenant, Kind: events.KindSpan, Start: start.UnixNano(), End: start.Add(time.Hour).UnixNano(),
		Filters: []events.Filter{{Field: "service_name", Op: events.Eq, Value: "payments"}, {Field: "status_code", Op: events.Eq, Value: "2"}}}
	if err := timeit(o, `spans service=payments && status=error, 1h`, func() (int, error) {
		evs, _, err := s.Select(ctx, q)
		return len(evs), err
	}); err != nil {
		return err
	}
	// TraceQL searches as the Tempo API runs them: candidates, then the
	// newest 20 matching traces read whole.
	for _, tq := range []string{
		`{ resource.service.name = "payments" && status = error }`,
		`{ }`,
		`{ resource.service.name = "api-gateway" } >> { status = error }`,
		`{ span.db.system = "postgresql" && duration > 20ms }`,
	} {
		parsed, err := traceql.Parse(tq)
		if err != nil {
			return err
		}
		req := traceql.SearchRequest{Tenant: tenant, Query: parsed, Start: start.UnixNano(), End: start.Add(time.Hour).UnixNano(), Limit: 20}
		if err := timeit(o, "TraceQL "+tq+", 1h, limit 20", func() (int, error) {
			res, _, err := traceql.Search(ctx, s, req)
			return len(res), err
		}); err != nil {
			return err
		}
	}
	// LogQL as the Loki API runs it (issue 5's figures): over 24 h, a log
	// query with the API's default limit of 100, a metric query with 1 m
	// steps, and the lines of one trace.
	eng := logql.NewEngine(s, logql.Options{})
	day := logql.Params{Tenant: tenant, Start: start, End: start.Add(o.span), Limit: 100}
	for _, lq := range []struct {
		q    string
		step time.Duration
	}{
		{q: `{service_name="api-gateway"} |= "timeout"`}, // in no line: the whole day is read
		{q: `{service_name="orders"} |= "slow request"`}, // in 1 request of 200
		{q: `{service_name="orders"} |= "` + rare + `"`},
		{q: `sum by (level) (count_over_time({env="prod"}[1m]))`, step: time.Minute},
		{q: `{env="prod"} | trace_id="` + ids[6].String() + `"`},
		// Issue 18's shapes: the newest 100 errors of one service, count
		// by level per minute, all lines of one trace (by label filter
		// and by line filter).
		{q: `{service_name="payments", level="error"}`},
		{q: `sum by (level) (count_over_time({service_name=~".+"}[1m]))`, step: time.Minute},
		{q: `{service_name=~".+"} | trace_id="` + ids[7].String() + `"`},
		{q: `{service_name=~".+"} |= "` + ids[8].String() + `"`},
	} {
		parsed, err := logql.Parse(lq.q)
		if err != nil {
			return err
		}
		p := day
		p.Step = lq.step
		if err := timeit(o, "LogQL "+truncate(lq.q, 60)+", "+o.span.String(), func() (int, error) {
			res, err := eng.Exec(ctx, parsed, p)
			if err != nil {
				return 0, err
			}
			n := len(res.Matrix)
			for _, st := range res.Streams {
				n += len(st.Entries)
			}
			return n, nil
		}); err != nil {
			return err
		}
	}
	// TraceQL metrics as /api/metrics/query_range runs them, 1h in 1m steps.
	for _, tq := range []string{
		`{ status = error } | rate() by (resource.service.name)`,
		`{ resource.service.name = "payments" } | quantile_over_time(duration, .5, .99)`,
		`{ resource.service.name = "api-gateway" } >> { status = error } | count_over_time()`,
	} {
		parsed, err := traceql.Parse(tq)
		if err != nil {
			return err
		}
		req := traceql.MetricsRequest{Tenant: tenant, Query: parsed, Start: start.UnixNano(), End: start.Add(time.Hour).UnixNano(), Step: int64(time.Minute), Exemplars: 100}
		if err := timeit(o, "TraceQL metrics "+tq+", 1h, step 1m", func() (int, error) {
			res, _, err := traceql.Metrics(ctx, s, req)
			return len(res), err
		}); err != nil {
			return err
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
