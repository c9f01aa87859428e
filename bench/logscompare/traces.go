package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/horus-obs/horus/bench/eventgen"
	"github.com/horus-obs/horus/internal/ingest/otlp"
	"github.com/horus-obs/horus/internal/store/events"
)

// spanTruth is what the span generator knows: spans sent, and one trace in
// the middle with its span count.
type spanTruth struct {
	spans   int
	traceID string
	traceN  int
}

// spanProducer makes the traces part's input: bench/eventgen's shop
// requests (6.5 spans each), evenly over the 2 h before end, until spans
// spans, as OTLP/HTTP protobuf bodies of perBody requests each. The same
// arguments give the same bodies; t is filled while producing.
func spanProducer(seed uint64, spans int, end time.Time, perBody int, t *spanTruth) func(context.Context, chan<- []byte) (int, error) {
	return func(ctx context.Context, bodies chan<- []byte) (int, error) {
		requests := spans * 2 / 13
		g := eventgen.New(seed, end.Add(-2*time.Hour), 2*time.Hour/time.Duration(requests))
		*t = spanTruth{}
		var batch []events.Event
		flush := func() error {
			b, err := ptraceotlp.NewExportRequestFromTraces(otlp.TracesFromSpans(batch)).MarshalProto()
			if err != nil {
				return err
			}
			batch = batch[:0]
			bodies <- b
			return nil
		}
		for r := 0; t.spans < spans && ctx.Err() == nil; r++ {
			req := g.Next()
			if r == requests/2 {
				t.traceID = hex.EncodeToString(req.Spans[0].TraceID[:])
				t.traceN = len(req.Spans)
			}
			batch = append(batch, req.Spans...)
			t.spans += len(req.Spans)
			if (r+1)%perBody == 0 {
				if err := flush(); err != nil {
					return t.spans, err
				}
			}
		}
		if len(batch) > 0 && ctx.Err() == nil {
			if err := flush(); err != nil {
				return t.spans, err
			}
		}
		return t.spans, ctx.Err()
	}
}

// jaegerConfig is a Jaeger v2 configuration (an OpenTelemetry Collector
// configuration: cmd/jaeger/config-badger.yaml of Jaeger v1.76.0, its
// archive store, UI file and Prometheus port left out): OTLP/HTTP in,
// badger storage in data, the query service on query.
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: store
    http:
      endpoint: %[2]s
    grpc:
      endpoint: %[3]s
  jaeger_storage:
    backends:
      store:
        badger:
          directories:
            keys: %[1]s/keys
            values: %[1]s/values
          ephemeral: false
          ttl:
            spans: 720h
receivers:
  otlp:
    protocols:
      http:
        endpoint: %[4]s
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: store
`

// tracesPart sends the same OTLP spans to a new Horus and to Jaeger v2
// (badger) and prints their figures: spans per CPU-second, peak RSS,
// bytes per span on disk, trace-by-id latency.
func tracesPart(ctx context.Context, o options, work string, out io.Writer) ([]string, error) {
	work = filepath.Join(work, "traces")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	a, err := freeAddrs(7)
	if err != nil {
		return nil, err
	}
	h, err := start(ctx, "Horus", work, o.horus, []string{"serve", "--data-dir", "{data}", "--http-addr", a[0],
		"--otlp-grpc-addr", a[1], "--otlp-http-addr", a[2], "--log-level", "warn"}, "http://"+a[0], "/-/ready")
	if err != nil {
		return nil, err
	}
	defer h.stop()
	cfg := filepath.Join(work, "jaeger.yaml")
	jdata := filepath.Join(work, "jaeger-data")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, jaegerConfig, jdata, a[3], a[4], a[5]), 0o644); err != nil {
		return nil, err
	}
	j, err := start(ctx, "Jaeger", work, o.jaeger, []string{"--config", cfg}, "http://"+a[3], "/api/services")
	if err != nil {
		return nil, err
	}
	defer j.stop()
	end := time.Now().Truncate(time.Minute)
	protobuf := "application/x-protobuf"
	type sink struct {
		s         *server
		push      func(context.Context, []byte) error
		flush     func(context.Context) error
		traceByID func(context.Context, string) (int, error)
		truth     spanTruth
		ingest    ingestResult
		walls     []time.Duration
		cpu       time.Duration
	}
	sinks := []*sink{
		{s: h, push: func(ctx context.Context, b []byte) error {
			return postBytes(ctx, h.base+"/otlp/v1/traces", protobuf, b)
		}, flush: func(ctx context.Context) error { return post(ctx, h.base+"/flush", "", nil) },
			traceByID: func(ctx context.Context, id string) (int, error) { return horusTrace(ctx, h.base, id) }},
		{s: j, push: func(ctx context.Context, b []byte) error {
			return postBytes(ctx, "http://"+a[5]+"/v1/traces", protobuf, b)
		}, flush: func(context.Context) error { return nil }, // Jaeger has no flush; send waits for its directory to settle
			traceByID: func(ctx context.Context, id string) (int, error) { return jaegerTrace(ctx, j.base, id) }},
	}
	for _, k := range sinks {
		fmt.Fprintf(out, "spans into %s...\n", k.s.name)
		k.ingest, err = send(ctx, k.s, k.push, k.flush, o.senders, spanProducer(o.seed, o.spans, end, 1000, &k.truth))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.s.name, err)
		}
		fmt.Fprintf(out, "  %s spans in %s (load average %s), server CPU %s + flush %s\n", thousands(int64(k.ingest.lines)),
			k.ingest.wall.Round(time.Millisecond), loadAvg(), k.ingest.cpuSend, k.ingest.cpuFlush)
	}
	var problems []string
	tr := sinks[0].truth
	for _, k := range sinks {
		n, err := k.traceByID(ctx, tr.traceID)
		if err != nil || n != tr.traceN {
			problems = append(problems, fmt.Sprintf("%s, trace by id: %d spans (%v), want %d", k.s.name, n, err, tr.traceN))
		}
	}
	for r := 0; r < o.runs; r++ {
		for _, k := range sinks {
			before := k.s.proc()
			t0 := time.Now()
			if _, err := k.traceByID(ctx, tr.traceID); err != nil {
				continue
			}
			k.walls = append(k.walls, time.Since(t0))
			k.cpu += k.s.proc().CPU - before.CPU
		}
	}
	perCPU := func(r ingestResult, cpu time.Duration) float64 { return float64(r.lines) / cpu.Seconds() }
	var sendRate, allRate, hwm, perSpan, walls, cpus []float64
	for _, k := range sinks {
		r := k.ingest
		sendRate = append(sendRate, perCPU(r, r.cpuSend))
		allRate = append(allRate, perCPU(r, r.cpuSend+r.cpuFlush))
		hwm = append(hwm, float64(r.hwm)/1e6)
		perSpan = append(perSpan, float64(r.disk)/float64(r.lines))
		walls = append(walls, float64(median(k.walls)))
		cpus = append(cpus, float64(k.cpu)/float64(max(1, len(k.walls))))
	}
	msOf := func(f float64) string { return ms(time.Duration(f)) }
	rows := []row{
		numRow("ingest, spans per CPU-second of the server, while sending", sendRate, kilo, ""),
		numRow("ingest, spans per CPU-second, sending + flush + settle", allRate, kilo, ""),
		numRow("peak RSS (VmHWM), MB", hwm, func(f float64) string { return thousands(int64(f + 0.5)) }, ""),
		numRow("bytes per span on disk (du of the data dir)", perSpan, func(f float64) string { return fmt.Sprintf("%.1f", f) }, ""),
		numRow("trace by id, median wall", walls, msOf, ""),
		numRow("trace by id, server CPU", cpus, msOf, ""),
	}
	fmt.Fprintf(out, "\nTraces: %s spans of bench/eventgen's shop over 2 h, OTLP/HTTP protobuf, 1,000 requests a body; load average %s\n\n",
		thousands(int64(tr.spans)), loadAvg())
	writeTable(out, []string{"Horus", "Jaeger"}, rows)
	return problems, nil
}

func postBytes(ctx context.Context, url, contentType string, b []byte) error {
	return post(ctx, url, contentType, bytes.NewReader(b))
}

// horusTrace asks Horus' Tempo API for a trace as protobuf (tempopb.Trace,
// wire-identical to OTLP TracesData: docs/tempo.md) and counts its spans.
func horusTrace(ctx context.Context, base, id string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/traces/"+id, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /api/traces/%s: %s", id, resp.Status)
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
	if err != nil {
		return 0, err
	}
	return td.SpanCount(), nil
}

// jaegerTrace asks Jaeger's query HTTP API (/api/traces/{id},
// cmd/query/app/http_handler.go getTrace) and counts the spans.
func jaegerTrace(ctx context.Context, base, id string) (int, error) {
	b, err := getBody(ctx, base+"/api/traces/"+id)
	if err != nil {
		return 0, err
	}
	var r struct {
		Data []struct {
			Spans []json.RawMessage `json:"spans"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, err
	}
	n := 0
	for _, t := range r.Data {
		n += len(t.Spans)
	}
	return n, nil
}
