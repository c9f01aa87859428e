// Command attack measures Horus under hostile requests: it starts the
// horus binary on loopback, runs a steady normal ingest load (remote write,
// JSON lines, OTLP traces), and then, one at a time and each concurrently
// with the normal load, the attacks of the reliability issue: deeply nested
// OTLP JSON and JSON lines, oversized PromQL, millions of empty records in
// small Loki, remote write 2.0, Zipkin and OTLP bodies, bodies announced by
// Content-Length and never sent, and a 4 GiB decompression bomb.
//
// For each phase it reports the peak RSS of the Horus process (VmHWM,
// reset between phases through /proc/<pid>/clear_refs), the status codes
// of the attack requests, and how many normal requests were acknowledged;
// a phase that kills Horus is reported as such and Horus is restarted.
//
//	go build -o bin/horus ./cmd/horus && go run ./bench/attack -horus bin/horus
//	go run ./bench/attack -horus bin/horus -phase 10s -only loki_empty_entries
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/horus-obs/horus/internal/ingest/shape/shapetest"
)

type options struct {
	horus    string
	phase    time.Duration
	warmup   time.Duration
	attacker int
	only     string
	args     string
	out      string
}

func main() {
	var o options
	flag.StringVar(&o.horus, "horus", "bin/horus", "the horus binary")
	flag.DurationVar(&o.phase, "phase", 15*time.Second, "duration of each attack phase")
	flag.DurationVar(&o.warmup, "warmup", 20*time.Second, "normal load alone before the first measurement")
	flag.IntVar(&o.attacker, "attackers", 4, "concurrent attack requests")
	flag.StringVar(&o.only, "only", "", "comma-separated attack names to run (default all)")
	flag.StringVar(&o.args, "args", "", "extra horus serve flags")
	flag.StringVar(&o.out, "out", "", "write the report as JSON to this file too")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(1)
	}
}

// horus is a running Horus process.
type horus struct {
	cmd  *exec.Cmd
	base string
	grpc string // OTLP/gRPC address
	dir  string
	done chan error
	// exit is the process' exit error once stopped.
	exit error
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startHorus(o options, dir string) (*horus, error) {
	var ports [3]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	args := []string{"serve", "--data-dir", dir,
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--otlp-grpc-addr", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"--otlp-http-addr", fmt.Sprintf("127.0.0.1:%d", ports[2]),
		"--log-level", "error"}
	if o.args != "" {
		args = append(args, strings.Fields(o.args)...)
	}
	cmd := exec.Command(o.horus, args...)
	cmd.Stderr = io.Discard
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	h := &horus{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), grpc: fmt.Sprintf("127.0.0.1:%d", ports[1]), dir: dir, done: make(chan error, 1)}
	go func() { h.done <- cmd.Wait() }()
	for i := 0; i < 600; i++ {
		if resp, err := http.Get(h.base + "/-/ready"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h, nil
			}
		}
		select {
		case err := <-h.done:
			return nil, fmt.Errorf("horus exited at start: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	_ = cmd.Process.Kill()
	return nil, errors.New("horus not ready after 60 s")
}

func (h *horus) alive() bool {
	select {
	case err := <-h.done:
		h.done <- err
		return false
	default:
		return true
	}
}

func (h *horus) stop() {
	if h.alive() {
		_ = h.cmd.Process.Signal(os.Interrupt)
		select {
		case h.exit = <-h.done:
		case <-time.After(30 * time.Second):
			_ = h.cmd.Process.Kill()
			h.exit = <-h.done
		}
	}
}

// status reads a field of /proc/<pid>/status, in bytes (for kB fields).
func (h *horus) status(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// resetPeak resets VmHWM to the current RSS (Linux: clear_refs 5).
func (h *horus) resetPeak() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", h.cmd.Process.Pid), []byte("5"), 0)
}

// normal is the steady, well-formed ingest load.
type normal struct {
	ok, failed atomic.Int64
}

func (n *normal) run(ctx context.Context, base string) {
	var wg sync.WaitGroup
	send := func(name string, every time.Duration, req func(i int) (*http.Request, error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			tick := time.NewTicker(every)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				r, err := req(i)
				if err != nil {
					panic(name + ": " + err.Error())
				}
				resp, err := client.Do(r.WithContext(ctx))
				if err != nil {
					if ctx.Err() == nil {
						n.failed.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					n.ok.Add(1)
				} else {
					n.failed.Add(1)
				}
			}
		}()
	}
	// Remote write: 500 series, one sample each, every 100 ms.
	send("remote write", 100*time.Millisecond, func(i int) (*http.Request, error) {
		var wr prompb.WriteRequest
		now := time.Now().UnixMilli()
		for s := 0; s < 500; s++ {
			wr.Timeseries = append(wr.Timeseries, prompb.TimeSeries{
				Labels:  []prompb.Label{{Name: "__name__", Value: "normal_requests_total"}, {Name: "instance", Value: strconv.Itoa(s)}, {Name: "job", Value: "normal"}},
				Samples: []prompb.Sample{{Value: float64(i), Timestamp: now}},
			})
		}
		b, err := wr.Marshal()
		if err != nil {
			return nil, err
		}
		r, _ := http.NewRequest(http.MethodPost, base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, b)))
		r.Header.Set("Content-Type", "application/x-protobuf")
		r.Header.Set("Content-Encoding", "snappy")
		r.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		return r, nil
	})
	// JSON lines: 500 lines every 100 ms.
	send("json lines", 100*time.Millisecond, func(i int) (*http.Request, error) {
		var b bytes.Buffer
		for l := 0; l < 500; l++ {
			fmt.Fprintf(&b, `{"level":"info","msg":"order %d created","order_id":"o-%d-%d","trace_id":"%032x","duration_ms":%d}`+"\n", l, i, l, i*1000+l, l%97)
		}
		r, _ := http.NewRequest(http.MethodPost, base+"/api/v1/logs/jsonl?service_name=normal", &b)
		r.Header.Set("Content-Type", "application/x-ndjson")
		return r, nil
	})
	// OTLP traces: 100 spans every 100 ms.
	send("otlp traces", 100*time.Millisecond, func(i int) (*http.Request, error) {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "normal")
		ss := rs.ScopeSpans().AppendEmpty()
		now := time.Now()
		for s := 0; s < 100; s++ {
			sp := ss.Spans().AppendEmpty()
			sp.SetName("GET /orders")
			var tid [16]byte
			copy(tid[:], fmt.Sprintf("%08d%08d", i, s))
			sp.SetTraceID(tid)
			sp.SetSpanID([8]byte{byte(s), byte(i), byte(i >> 8), 1})
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Millisecond)))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
		}
		b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			return nil, err
		}
		r, _ := http.NewRequest(http.MethodPost, base+"/otlp/v1/traces", bytes.NewReader(b))
		r.Header.Set("Content-Type", "application/x-protobuf")
		return r, nil
	})
	wg.Wait()
}

// attack is one hostile request shape.
type attack struct {
	name string
	what string
	// request makes one attack request; nil for hold.
	request func(base string) (*http.Request, error)
	// hold, when set, runs the attack itself until ctx ends.
	hold func(ctx context.Context, h *horus, codes *codes)
}

// codes counts the answers to attack requests.
type codes struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *codes) add(k string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k]++
	c.mu.Unlock()
}

func (c *codes) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ks []string
	for k, n := range c.m {
		ks = append(ks, fmt.Sprintf("%s×%d", k, n))
	}
	sort.Strings(ks)
	return strings.Join(ks, " ")
}

// body is a request body made once and sent many times.
type body struct {
	once sync.Once
	b    []byte
	make func() []byte
}

func (b *body) get() []byte {
	b.once.Do(func() { b.b = b.make() })
	return b.b
}

func post(base, path, ct, enc string, b []byte) (*http.Request, error) {
	r, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", ct)
	if enc != "" {
		r.Header.Set("Content-Encoding", enc)
	}
	return r, nil
}

func attacks() []attack {
	const empties = 8_400_000
	deepOTLP := &body{make: func() []byte {
		b := []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":`)
		b = append(b, shapetest.NestJSON(`{"arrayValue":{"values":[`, "", `]}}`, 1_000_000)...)
		return shapetest.Gzip(append(b, `}]}]}]}`...))
	}}
	deepJSONLine := &body{make: func() []byte {
		const depth = 58_000 // a 292 KB line
		return append(shapetest.NestJSON(`{"a":`, "1", "}", depth), '\n')
	}}
	lokiEmpty := &body{make: func() []byte {
		stream := append(shapetest.Field(1, []byte(`{job="attack"}`)), shapetest.Repeat([]byte("\x12\x00"), empties)...)
		return snappy.Encode(nil, shapetest.Field(1, stream))
	}}
	rw2Empty := &body{make: func() []byte { return snappy.Encode(nil, shapetest.Repeat([]byte("\x2a\x00"), empties)) }}
	otlpEmpty := &body{make: func() []byte { return shapetest.Gzip(shapetest.Repeat([]byte("\x0a\x00"), empties)) }}
	zipkinEmpty := &body{make: func() []byte {
		return shapetest.Gzip(append(append([]byte("["), shapetest.Repeat([]byte("{},"), empties)...), "{}]"...))
	}}
	rw2Symbols := &body{make: func() []byte {
		return snappy.Encode(nil, shapetest.RW2SymbolAmplification(1000, time.Now().UnixMilli()))
	}}
	bomb := &body{make: func() []byte {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zeros := make([]byte, 1<<20)
		for i := 0; i < 4096; i++ { // 4 GiB
			_, _ = w.Write(zeros)
		}
		_ = w.Close()
		return buf.Bytes()
	}}
	promSum := &body{make: func() []byte {
		return []byte("query=" + url.QueryEscape(strings.Repeat("1 + ", 9999)+"1"))
	}}
	promOr := &body{make: func() []byte {
		return []byte("query=" + url.QueryEscape(strings.Repeat("up or ", 1<<20/6)+"up"))
	}}
	return []attack{
		{name: "otlp_json_deep_nesting", what: "OTLP/HTTP JSON log body: arrayValue nested 1,000,000 deep (gzip)",
			request: func(base string) (*http.Request, error) {
				return post(base, "/otlp/v1/logs", "application/json", "gzip", deepOTLP.get())
			}},
		{name: "jsonlines_deep_nesting", what: "one JSON line of objects nested 58,000 deep (292 KB)",
			request: func(base string) (*http.Request, error) {
				return post(base, "/api/v1/logs/jsonl", "application/x-ndjson", "", deepJSONLine.get())
			}},
		{name: "promql_parse_sum", what: "POST /api/v1/parse_query with 1 + 1 + … (10,000 terms)",
			request: func(base string) (*http.Request, error) {
				return post(base, "/api/v1/parse_query", "application/x-www-form-urlencoded", "", promSum.get())
			}},
		{name: "promql_or_1mb", what: "POST /api/v1/query with up or up or … (1 MB)",
			request: func(base string) (*http.Request, error) {
				return post(base, "/api/v1/query", "application/x-www-form-urlencoded", "", promOr.get())
			}},
		{name: "loki_empty_entries", what: "Loki protobuf push of 8.4M empty entries (snappy)",
			request: func(base string) (*http.Request, error) {
				return post(base, "/loki/api/v1/push", "application/x-protobuf", "", lokiEmpty.get())
			}},
		{name: "rw2_empty_series", what: "remote write 2.0 of 8.4M empty time series (snappy)",
			request: func(base string) (*http.Request, error) {
				r, err := post(base, "/api/v1/write", "application/x-protobuf;proto=io.prometheus.write.v2.Request", "snappy", rw2Empty.get())
				if r != nil {
					r.Header.Set("X-Prometheus-Remote-Write-Version", "2.0.0")
				}
				return r, err
			}},
		{name: "rw2_symbol_amplification", what: "remote write 2.0 of 1,000 series naming 62 ~5 KB symbols each (34 KB snappy)",
			request: func(base string) (*http.Request, error) {
				r, err := post(base, "/api/v1/write", "application/x-protobuf;proto=io.prometheus.write.v2.Request", "snappy", rw2Symbols.get())
				if r != nil {
					r.Header.Set("X-Prometheus-Remote-Write-Version", "2.0.0")
				}
				return r, err
			}},
		{name: "otlp_empty_resource_spans", what: "OTLP/HTTP protobuf traces of 8.4M empty ResourceSpans (gzip)",
			request: func(base string) (*http.Request, error) {
				return post(base, "/otlp/v1/traces", "application/x-protobuf", "gzip", otlpEmpty.get())
			}},
		{name: "zipkin_empty_spans", what: "Zipkin JSON of 8.4M empty spans (gzip)",
			request: func(base string) (*http.Request, error) {
				return post(base, "/api/v2/spans", "application/json", "gzip", zipkinEmpty.get())
			}},
		{name: "decompression_bomb", what: "JSON lines body of 4 GiB of zeros, gzip",
			request: func(base string) (*http.Request, error) {
				return post(base, "/api/v1/logs/jsonl", "application/x-ndjson", "gzip", bomb.get())
			}},
		{name: "grpc_large_messages", what: "OTLP/gRPC logs calls of 15 MiB messages (an unknown field), 16 at once",
			hold: func(ctx context.Context, h *horus, c *codes) {
				cc, err := grpc.NewClient(h.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()),
					grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
				if err != nil {
					c.add("dial error")
					return
				}
				defer func() { _ = cc.Close() }()
				msg := shapetest.Field(15, make([]byte, 15<<20))
				var wg sync.WaitGroup
				for i := 0; i < 16; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for ctx.Err() == nil {
							var out rawMsg
							err := cc.Invoke(ctx, "/opentelemetry.proto.collector.logs.v1.LogsService/Export", rawMsg(msg), &out, grpc.ForceCodecV2(rawCodec{}))
							if ctx.Err() == nil {
								c.add(status.Code(err).String())
							}
							if err != nil {
								time.Sleep(100 * time.Millisecond)
							}
						}
					}()
				}
				wg.Wait()
			}},
		{name: "announced_bodies", what: "150 connections announcing 32 MiB remote-write bodies, sending 10 bytes",
			hold: func(ctx context.Context, h *horus, c *codes) {
				addr := strings.TrimPrefix(h.base, "http://")
				var conns []net.Conn
				defer func() {
					for _, cn := range conns {
						_ = cn.Close()
					}
				}()
				for i := 0; i < 150; i++ {
					cn, err := net.DialTimeout("tcp", addr, 5*time.Second)
					if err != nil {
						c.add("dial error")
						continue
					}
					conns = append(conns, cn)
					fmt.Fprintf(cn, "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: %d\r\n\r\n0123456789", 32<<20)
					c.add("held")
				}
				<-ctx.Done()
			}},
	}
}

// result is one phase's figures.
type result struct {
	Name string `json:"name"`
	What string `json:"what"`
	// BaselineRSSMiB is the peak RSS under the normal load alone, in the
	// same process just before the attack.
	BaselineRSSMiB float64 `json:"baseline_peak_rss_mib"`
	PeakRSSMiB     float64 `json:"peak_rss_mib"`
	Killed         bool    `json:"killed"`
	Answers        string  `json:"answers"`
	NormalOK       int64   `json:"normal_acknowledged"`
	NormalFail     int64   `json:"normal_failed"`
}

// run measures each attack in a Horus of its own: after a warm-up, a
// phase of the normal load alone (the baseline) and a phase of the attack
// beside it, so that no attack's aftermath is counted against another.
func run(o options) error {
	dir, err := os.MkdirTemp("", "horus-attack-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	only := map[string]bool{}
	for _, n := range strings.Split(o.only, ",") {
		if n != "" {
			only[n] = true
		}
	}
	var results []result
	for i, a := range attacks() {
		if len(only) > 0 && !only[a.name] {
			continue
		}
		if a.request != nil {
			if _, err := a.request("http://127.0.0.1:1"); err != nil { // make the body before measuring
				return err
			}
		}
		r, err := phase(o, filepath.Join(dir, fmt.Sprint(i)), a)
		if err != nil {
			return err
		}
		fmt.Printf("%-26s baseline %6.1f MiB  peak %7.1f MiB  normal ok %4d failed %4d  killed %-5v  answers: %s\n",
			r.Name, r.BaselineRSSMiB, r.PeakRSSMiB, r.NormalOK, r.NormalFail, r.Killed, r.Answers)
		results = append(results, r)
	}
	if o.out != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		return os.WriteFile(o.out, b, 0o644)
	}
	return nil
}

func phase(o options, dir string, a attack) (result, error) {
	h, err := startHorus(o, dir)
	if err != nil {
		return result{}, err
	}
	defer h.stop()
	ctx, stopNormal := context.WithCancel(context.Background())
	load := &normal{}
	loadDone := make(chan struct{})
	go func() { load.run(ctx, h.base); close(loadDone) }()
	defer func() { stopNormal(); <-loadDone }()

	time.Sleep(o.warmup)
	h.resetPeak()
	time.Sleep(o.phase)
	r := result{Name: a.name, What: a.what, BaselineRSSMiB: float64(h.status("VmHWM")) / (1 << 20)}

	ok0, fail0 := load.ok.Load(), load.failed.Load()
	h.resetPeak()
	var c codes
	actx, cancel := context.WithTimeout(context.Background(), o.phase)
	defer cancel()
	if a.hold != nil {
		go a.hold(actx, h, &c)
	} else {
		for i := 0; i < o.attacker; i++ {
			go func() {
				client := &http.Client{Timeout: o.phase}
				for actx.Err() == nil {
					req, _ := a.request(h.base)
					resp, err := client.Do(req.WithContext(actx))
					if err != nil {
						if actx.Err() == nil {
							c.add("error")
							time.Sleep(100 * time.Millisecond)
						}
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					c.add(strconv.Itoa(resp.StatusCode))
				}
			}()
		}
	}
	<-actx.Done()
	r.PeakRSSMiB = float64(h.status("VmHWM")) / (1 << 20)
	r.Answers = c.String()
	r.NormalOK, r.NormalFail = load.ok.Load()-ok0, load.failed.Load()-fail0
	r.Killed = !h.alive()
	return r, nil
}

// rawMsg is a message sent and received as its protobuf bytes.
type rawMsg []byte

// rawCodec sends rawMsg as it is.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.(rawMsg))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*rawMsg)) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }
