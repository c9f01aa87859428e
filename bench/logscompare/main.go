// Command logscompare feeds the same logs to Horus and the log stores a user
// would pick instead, in one run, and prints their figures side by side
// (issue 18): ingest lines per CPU-second of the server process, peak RSS,
// bytes per line on disk after a flush, and the latency of four questions
// asked in each store's own language, whose answers are checked against
// what the generator wrote. With a Jaeger v2 binary, it sends the same OTLP
// spans to Horus and Jaeger (badger) and compares them too (traces.go).
//
// The input is a deterministic JSON-lines file of a shop (gen.go), cached
// under ~/.cache/horus-bench. Every server is started by the harness on
// 127.0.0.1 with a fresh data directory, and the harness reads each one's
// CPU time and memory from /proc, so its own work is not counted.
//
//	go run ./bench/logscompare                       # Horus built from the tree, VictoriaLogs installed if missing
//	go run ./bench/logscompare -lines 200000 -runs 3 # a quick run
//
// docs/benchmarks.md ("Side by side") says what each figure is and gives
// the latest results.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// vlVersion is the VictoriaLogs release the harness installs.
const vlVersion = "v1.52.1"

type options struct {
	lines, batch, senders, runs int
	spans                       int
	seed                        uint64
	cache, work                 string
	horus, vl, jaeger           string
	loki, lokiConfig            string
	keep                        bool
}

func main() {
	home, _ := os.UserHomeDir()
	var o options
	flag.IntVar(&o.lines, "lines", 2000000, "JSON lines in the input file")
	flag.Uint64Var(&o.seed, "seed", 1, "the generator's seed")
	flag.IntVar(&o.batch, "batch", 10000, "lines per HTTP request")
	flag.IntVar(&o.senders, "senders", 2, "concurrent senders")
	flag.IntVar(&o.runs, "runs", 5, "timed runs of each query (after one warm-up run); the median is reported")
	flag.StringVar(&o.cache, "cache", filepath.Join(home, ".cache", "horus-bench"), "where the input file and the installed peers are kept")
	flag.StringVar(&o.work, "work", "", "where the servers' data directories go (default: a new directory under -cache, removed at the end)")
	flag.StringVar(&o.horus, "horus", "", "the Horus binary (default: built from the tree with go build ./cmd/horus)")
	flag.StringVar(&o.vl, "victoria-logs", "", "the VictoriaLogs binary (default: <cache>/bin/victoria-logs, installed with go install when missing)")
	flag.StringVar(&o.jaeger, "jaeger", os.Getenv("HORUS_BENCH_JAEGER"), "a Jaeger v2 binary for the traces part (env HORUS_BENCH_JAEGER; docs/benchmarks.md says how to build one); none: the traces part is skipped")
	flag.IntVar(&o.spans, "spans", 500000, "spans in the traces part")
	flag.StringVar(&o.loki, "loki", os.Getenv("HORUS_BENCH_LOKI"), "a Grafana Loki 3.x binary, built by you (env HORUS_BENCH_LOKI); none: Loki is left out")
	flag.StringVar(&o.lokiConfig, "loki-config", "bench/compat/loki/loki.yaml", "Loki's configuration; ${LOKI_DATA:-/tmp/loki-compat} in it is replaced by the run's data directory")
	flag.BoolVar(&o.keep, "keep", false, "keep the servers' data directories and logs")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "logscompare:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	fmt.Fprintf(out, "command: %s\n", strings.Join(os.Args, " "))
	fmt.Fprintf(out, "started: %s, load average %s\n", time.Now().UTC().Format(time.RFC3339), loadAvg())
	if err := binaries(ctx, &o, out); err != nil {
		return err
	}
	path, t, err := cachedInput(o.cache, o.lines, o.seed, 2*time.Hour, 24*time.Hour, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "input: %s: %s lines, %.1f B/line, %d traces, %s to %s\n", path, thousands(int64(t.Lines)),
		float64(t.Bytes)/float64(t.Lines), t.Traces, t.First.Format(time.RFC3339), t.Last.Format(time.RFC3339))
	work := o.work
	if work == "" {
		if work, err = os.MkdirTemp(o.cache, "run-"); err != nil {
			return err
		}
	}
	if !o.keep {
		defer func() { _ = os.RemoveAll(work) }()
	}

	peers, err := startLogPeers(ctx, o, work)
	defer func() {
		for _, p := range peers {
			p.srv().stop()
		}
	}()
	if err != nil {
		return err
	}
	var res []ingestResult
	for _, p := range peers {
		fmt.Fprintf(out, "ingest into %s...\n", p.srv().name)
		r, err := ingest(ctx, p, path, o)
		if err != nil {
			return fmt.Errorf("%s: %w", p.srv().name, err)
		}
		fmt.Fprintf(out, "  %s lines in %s (load average %s), server CPU %s + flush %s\n", thousands(int64(r.lines)),
			r.wall.Round(time.Millisecond), loadAvg(), r.cpuSend, r.cpuFlush)
		res = append(res, r)
	}
	qs, problems := askAll(ctx, peers, t, o.runs, out)
	rows := logRows(res, qs)
	var names []string
	for _, p := range peers {
		names = append(names, p.srv().name)
	}
	stops := make([]time.Duration, len(peers))
	for i, p := range peers {
		stops[i] = p.srv().stop()
	}
	stopRow := row{figure: "stop after ingest (SIGTERM to exit), s", goal: "≤ 30 s"}
	for _, d := range stops {
		stopRow.values = append(stopRow.values, fmt.Sprintf("%.1f", d.Seconds()))
	}
	rows = append(rows, stopRow)
	fmt.Fprintf(out, "\nfinished: %s, load average %s\n\n", time.Now().UTC().Format(time.RFC3339), loadAvg())
	writeTable(out, names, rows)
	if o.jaeger == "" {
		fmt.Fprintln(out, "\ntraces: skipped (no Jaeger binary: -jaeger or HORUS_BENCH_JAEGER)")
	} else if ps, err := tracesPart(ctx, o, work, out); err != nil {
		problems = append(problems, "traces: "+err.Error())
	} else {
		problems = append(problems, ps...)
	}
	for _, p := range problems {
		fmt.Fprintf(out, "\n**MISMATCH** %s\n", p)
	}
	if len(problems) > 0 {
		return errors.New("answers differ (see MISMATCH above)")
	}
	return nil
}

// binaries finds or makes the binaries the run needs.
func binaries(ctx context.Context, o *options, out io.Writer) error {
	bin := filepath.Join(o.cache, "bin")
	if o.horus == "" {
		o.horus = filepath.Join(bin, "horus-tree")
		fmt.Fprintf(out, "building Horus: go build -o %s ./cmd/horus\n", o.horus)
		if err := runCmd(ctx, nil, "go", "build", "-o", o.horus, "./cmd/horus"); err != nil {
			return err
		}
	}
	if o.vl == "" {
		o.vl = filepath.Join(bin, "victoria-logs")
		if _, err := os.Stat(o.vl); err != nil {
			fmt.Fprintf(out, "installing VictoriaLogs: GOBIN=%s go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@%s\n", bin, vlVersion)
			if err := runCmd(ctx, []string{"GOBIN=" + bin}, "go", "install", "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@"+vlVersion); err != nil {
				return err
			}
		}
	}
	return nil
}

func runCmd(ctx context.Context, env []string, name string, args ...string) error {
	c := exec.CommandContext(ctx, name, args...)
	c.Env = append(os.Environ(), env...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// loadAvg is /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// startLogPeers starts Horus and VictoriaLogs, each on free loopback
// ports with a fresh data directory under work.
func startLogPeers(ctx context.Context, o options, work string) ([]logPeer, error) {
	a, err := freeAddrs(4)
	if err != nil {
		return nil, err
	}
	var peers []logPeer
	h, err := start(ctx, "Horus", work, o.horus, []string{"serve", "--data-dir", "{data}", "--http-addr", a[0],
		"--otlp-grpc-addr", a[1], "--otlp-http-addr", a[2], "--log-level", "warn"}, "http://"+a[0], "/-/ready")
	if err != nil {
		return peers, err
	}
	peers = append(peers, &horusPeer{h})
	v, err := start(ctx, "VictoriaLogs", work, o.vl, []string{"-storageDataPath={data}", "-httpListenAddr=" + a[3],
		"-loggerLevel=WARN", "-retentionPeriod=30d"}, "http://"+a[3], "/health")
	if err != nil {
		return peers, err
	}
	peers = append(peers, &vlPeer{v})
	if o.loki == "" {
		return peers, nil
	}
	cfg, err := os.ReadFile(o.lokiConfig)
	if err != nil {
		return peers, err
	}
	cfgPath := filepath.Join(work, "loki.yaml")
	cfg = bytes.ReplaceAll(cfg, []byte("${LOKI_DATA:-/tmp/loki-compat}"), []byte(filepath.Join(work, "loki-data")))
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return peers, err
	}
	lp, err := freeAddrs(2)
	if err != nil {
		return peers, err
	}
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	// The pattern ingester, which the compat config turns on, is off: it
	// is not what storing and querying logs costs. A 10,000-line push is
	// over the 4 MiB a gRPC message may be by default (distributor to
	// ingester), and on the loaded machine a push took longer than the
	// 5 s the distributor gives the ingester (-ingester.client.timeout).
	l, err := start(ctx, "Loki", work, o.loki, []string{"-config.file=" + cfgPath, "-server.http-listen-port=" + port(lp[0]),
		"-server.grpc-listen-port=" + port(lp[1]), "-pattern-ingester.enabled=false",
		"-server.grpc-max-recv-msg-size-bytes=67108864", "-ingester.client.timeout=60s"}, "http://"+lp[0], "/ready")
	if err != nil {
		return peers, err
	}
	l.notData = filepath.Join(l.dataDir, "wal")
	return append(peers, &lokiPeer{l}), nil
}

// ingestResult is one peer's ingest: lines sent, wall time, the server's
// CPU while the lines were sent and while it flushed, its peak RSS
// (VmHWM) after the flush and its data directory's size.
type ingestResult struct {
	lines             int
	wall              time.Duration
	cpuSend, cpuFlush time.Duration
	hwm, rssAfter     int64
	disk              int64
	flushWall         time.Duration
}

// ingest sends the file to p in batches of o.batch lines from o.senders
// concurrent senders, then flushes p.
func ingest(ctx context.Context, p logPeer, path string, o options) (ingestResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return ingestResult{}, err
	}
	defer func() { _ = f.Close() }()
	return send(ctx, p.srv(), p.push, p.flush, o.senders, func(ctx context.Context, batches chan<- []byte) (int, error) {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var buf bytes.Buffer
		n, lines := 0, 0
		for sc.Scan() && ctx.Err() == nil {
			buf.Write(sc.Bytes())
			buf.WriteByte('\n')
			n++
			lines++
			if n == o.batch {
				batches <- bytes.Clone(buf.Bytes())
				buf.Reset()
				n = 0
			}
		}
		if n > 0 && ctx.Err() == nil {
			batches <- bytes.Clone(buf.Bytes())
		}
		return lines, sc.Err()
	})
}

// pushRetrying pushes b, and again after a second, up to 5 times, when
// the server answers 429 or 5xx (as Promtail, Alloy and the OTel
// exporters retry them; a repeated Loki entry of the same time and line is
// dropped by the ingester, and the answers are checked against the
// generator's counts anyway).
func pushRetrying(ctx context.Context, push func(context.Context, []byte) error, b []byte) error {
	var err error
	for try := 0; try < 5; try++ {
		if err = push(ctx, b); err == nil || !retryable(err) {
			return err
		}
		fmt.Fprintf(os.Stderr, "retrying a push: %v\n", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return err
}

// send runs produce, which puts request bodies on a channel and returns
// how many items (lines, spans) they hold, and pushes the bodies from
// senders concurrent senders; then it flushes s and waits for its data
// directory to settle. The server's CPU time is read from /proc before
// and after the sending and after the settling.
func send(ctx context.Context, s *server, push func(context.Context, []byte) error, flush func(context.Context) error, senders int,
	produce func(context.Context, chan<- []byte) (int, error)) (ingestResult, error) {
	batches := make(chan []byte, senders)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i := 0; i < senders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := pushRetrying(ctx, push, b); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
	before := s.proc()
	t0 := time.Now()
	var r ingestResult
	n, err := produce(ctx, batches)
	close(batches)
	wg.Wait()
	r.lines = n
	if first != nil {
		return r, first
	}
	if err != nil {
		return r, err
	}
	r.wall = time.Since(t0)
	sent := s.proc()
	t1 := time.Now()
	if err := flush(ctx); err != nil {
		return r, fmt.Errorf("flush: %w", err)
	}
	// What a flush leaves in memory goes to disk in the background
	// (VictoriaLogs' force_flush makes buffered rows searchable in-memory
	// parts, written to files within -inmemoryDataFlushInterval, 5 s), and
	// both servers merge what they wrote in the background (Horus
	// compacts on a 30 s tick): wait until the data directory stops
	// changing and the server stops working, and count that CPU too, so
	// that no ingest work is left to run beside the questions.
	if r.disk, err = settle(ctx, s.dataDir, s.notData, s.proc); err != nil {
		return r, err
	}
	r.flushWall = time.Since(t1)
	flushed := s.proc()
	for _, st := range []procStat{before, sent, flushed} {
		if st.readError != nil {
			return r, st.readError
		}
	}
	r.cpuSend, r.cpuFlush = sent.CPU-before.CPU, flushed.CPU-sent.CPU
	r.hwm, r.rssAfter = flushed.HWM, flushed.RSS
	return r, nil
}

// settle polls the size of dir (skip left out) and the server's CPU time
// every second until, for quietFor, the size has not changed and the
// server has used at most 2% of a CPU a second (longer than VictoriaLogs'
// 5 s flush interval and Horus' 30 s compaction tick), four minutes at
// most, and returns the size.
func settle(ctx context.Context, dir, skip string, proc func() procStat) (int64, error) {
	const quietFor = 32
	last, err := diskUsage(dir, skip)
	cpu := proc().CPU
	same := 0
	for i := 0; i < 240 && same < quietFor && err == nil && ctx.Err() == nil; i++ {
		time.Sleep(time.Second)
		var n int64
		n, err = diskUsage(dir, skip)
		now := proc().CPU
		if n == last && now-cpu <= 20*time.Millisecond {
			same++
		} else {
			same = 0
		}
		last, cpu = n, now
	}
	return last, err
}

// queryResult is one question's timing on one peer: the median wall time
// of the timed runs and the server's CPU time per run.
type queryResult struct {
	wall, cpu time.Duration
	lines     int
}

// questions in the order of the table, with the goals for the
// ratio Horus / VictoriaLogs.
var questions = []struct {
	kind  questionKind
	title string
	goal  string
}{
	{qTrace, "all lines of one trace (2 h)", "≤ 0.5×"},
	{qOrder, "a rare order id, substring (2 h)", "keep (0.38×)"},
	{qLevels, "count by level per minute (2 h)", "≤ 0.5×"},
	{qErrors, "newest 100 errors of one service (2 h)", "≤ 1×"},
}

// askAll asks each question of every peer: one warm-up run whose answer is
// checked against t, then runs timed runs, the peers taking turns so that
// the machine's load falls on all alike.
func askAll(ctx context.Context, peers []logPeer, t truth, runs int, out io.Writer) ([][]queryResult, []string) {
	var problems []string
	res := make([][]queryResult, len(questions))
	for qi, q := range questions {
		res[qi] = make([]queryResult, len(peers))
		walls := make([][]time.Duration, len(peers))
		for i, p := range peers {
			a, err := p.ask(ctx, q.kind, t)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s, %s: %v", p.srv().name, q.title, err))
				continue
			}
			if msg := check(q.kind, a, t); msg != "" {
				problems = append(problems, fmt.Sprintf("%s, %s: %s", p.srv().name, q.title, msg))
			}
			res[qi][i].lines = a.Lines
		}
		for r := 0; r < runs; r++ {
			for i, p := range peers {
				before := p.srv().proc()
				t0 := time.Now()
				if _, err := p.ask(ctx, q.kind, t); err != nil {
					continue
				}
				walls[i] = append(walls[i], time.Since(t0))
				res[qi][i].cpu += p.srv().proc().CPU - before.CPU
			}
		}
		for i := range peers {
			if n := len(walls[i]); n > 0 {
				res[qi][i].cpu /= time.Duration(n)
			}
			res[qi][i].wall = median(walls[i])
		}
		fmt.Fprintf(out, "  %s: %s\n", q.title, describe(peers, res[qi]))
	}
	return res, problems
}

func describe(peers []logPeer, rs []queryResult) string {
	var parts []string
	for i, p := range peers {
		parts = append(parts, fmt.Sprintf("%s %s (CPU %s)", p.srv().name, ms(rs[i].wall), ms(rs[i].cpu)))
	}
	return strings.Join(parts, ", ")
}

// check compares an answer with what the generator wrote; "" if they agree.
func check(q questionKind, a answer, t truth) string {
	want := 0
	switch q {
	case qTrace:
		want = t.TraceN
	case qOrder:
		want = t.OrderN
	case qErrors:
		want = min(100, t.ErrN)
	case qLevels:
		var diffs []string
		for l, n := range t.Levels {
			if a.Levels[l] != n {
				diffs = append(diffs, fmt.Sprintf("%s %d (want %d)", l, a.Levels[l], n))
			}
		}
		for l, n := range a.Levels {
			if _, ok := t.Levels[l]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s %d (want none)", l, n))
			}
		}
		return strings.Join(diffs, ", ")
	}
	if a.Lines != want {
		return fmt.Sprintf("%d lines, want %d", a.Lines, want)
	}
	return ""
}

// logRows makes the table's rows from the ingest results and query
// timings, a value per peer (Horus first).
func logRows(in []ingestResult, qs [][]queryResult) []row {
	each := func(f func(ingestResult) float64) []float64 {
		var vs []float64
		for _, r := range in {
			vs = append(vs, f(r))
		}
		return vs
	}
	perCPU := func(r ingestResult, cpu time.Duration) float64 {
		if cpu <= 0 {
			return 0
		}
		return float64(r.lines) / cpu.Seconds()
	}
	whole := func(f float64) string { return thousands(int64(f + 0.5)) }
	oneDecimal := func(f float64) string { return fmt.Sprintf("%.1f", f) }
	rows := []row{
		numRow("ingest, lines per CPU-second of the server, while sending", each(func(r ingestResult) float64 { return perCPU(r, r.cpuSend) }), kilo, "≥ 1.5×"),
		numRow("ingest, lines per CPU-second, sending + flush + settle", each(func(r ingestResult) float64 { return perCPU(r, r.cpuSend+r.cpuFlush) }), kilo, "≥ 1.5×"),
		numRow("ingest, lines per second of wall time (2 senders)", each(func(r ingestResult) float64 { return float64(r.lines) / r.wall.Seconds() }), kilo, ""),
		numRow("peak RSS (VmHWM) after ingest, flush and settle, MB", each(func(r ingestResult) float64 { return float64(r.hwm) / 1e6 }), whole, "≤ 1×"),
		numRow("bytes per line on disk after flush (du of the data dir)", each(func(r ingestResult) float64 { return float64(r.disk) / float64(r.lines) }), oneDecimal, "≤ 0.75× (keep)"),
	}
	msOf := func(f float64) string { return ms(time.Duration(f)) }
	for qi, q := range questions {
		var walls, cpus []float64
		for _, r := range qs[qi] {
			walls, cpus = append(walls, float64(r.wall)), append(cpus, float64(r.cpu))
		}
		rows = append(rows, numRow(q.title+", median wall", walls, msOf, q.goal), numRow(q.title+", server CPU", cpus, msOf, q.goal))
	}
	return rows
}
