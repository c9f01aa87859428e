package shape_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/ingesttest"
	"github.com/horus-obs/horus/internal/ingest/jsonlines"
	"github.com/horus-obs/horus/internal/ingest/loki"
	"github.com/horus-obs/horus/internal/ingest/otlp"
	"github.com/horus-obs/horus/internal/ingest/remotewrite"
	"github.com/horus-obs/horus/internal/ingest/shape/shapetest"
	"github.com/horus-obs/horus/internal/ingest/zipkin"
)

// empties is the count of empty items in the bodies.
const empties = 8_400_000

// attack is one hostile request of the reliability issue, or one of its
// kind, as a client sends it (compressed to pass the body limit).
type attack struct {
	name, path string
	header     map[string]string
	body       func() []byte
}

func attacks() []attack {
	gz := func(ct string) map[string]string {
		return map[string]string{"Content-Type": ct, "Content-Encoding": "gzip"}
	}
	field := shapetest.Field
	repeat := shapetest.Repeat
	jsonLine := func(depth int) func() []byte {
		return func() []byte { return shapetest.NestJSON(`{"a":`, "1", "}", depth) }
	}
	return []attack{
		{"otlp_json_deep_nesting", "/otlp/v1/logs", gz("application/json"), func() []byte {
			v := shapetest.NestJSON(`{"arrayValue":{"values":[`, "", `]}}`, 1_000_000)
			return shapetest.Gzip([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":` + string(v) + `}]}]}]}`))
		}},
		{"otlp_empty_resource_spans", "/otlp/v1/traces", gz("application/x-protobuf"), func() []byte {
			return shapetest.Gzip(repeat([]byte{0x0a, 0x00}, empties))
		}},
		{"otlp_empty_spans", "/otlp/v1/traces", gz("application/x-protobuf"), func() []byte {
			return shapetest.Gzip(field(1, field(2, repeat([]byte{0x12, 0x00}, empties))))
		}},
		{"otlp_empty_log_attributes", "/otlp/v1/logs", gz("application/x-protobuf"), func() []byte {
			return shapetest.Gzip(field(1, field(2, field(2, repeat([]byte{0x32, 0x00}, empties)))))
		}},
		{"otlp_json_empty_resource_logs", "/otlp/v1/logs", gz("application/json"), func() []byte {
			return shapetest.Gzip([]byte(`{"resourceLogs":[` + string(repeat([]byte(`{},`), empties)) + `{}]}`))
		}},
		{"loki_empty_entries", "/loki/api/v1/push", map[string]string{"Content-Type": "application/x-protobuf"}, func() []byte {
			return snappy.Encode(nil, field(1, append(field(1, []byte(`{job="attack"}`)), repeat([]byte{0x12, 0x00}, empties)...)))
		}},
		{"loki_empty_streams", "/loki/api/v1/push", map[string]string{"Content-Type": "application/x-protobuf"}, func() []byte {
			return snappy.Encode(nil, repeat([]byte{0x0a, 0x00}, empties))
		}},
		{"loki_json_empty_values", "/loki/api/v1/push", gz("application/json"), func() []byte {
			return shapetest.Gzip([]byte(`{"streams":[{"stream":{"a":"b"},"values":[` + string(repeat([]byte(`[],`), empties)) + `[]]}]}`))
		}},
		{"rw2_empty_series", "/api/v1/write", map[string]string{"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request", "Content-Encoding": "snappy"}, func() []byte {
			return snappy.Encode(nil, repeat([]byte{0x2a, 0x00}, empties))
		}},
		{"rw1_one_series_empty_samples", "/api/v1/write", map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}, func() []byte {
			label := field(1, append(field(1, []byte("__name__")), field(2, []byte("m"))...))
			return snappy.Encode(nil, field(1, append(label, repeat([]byte{0x12, 0x00}, empties)...)))
		}},
		{"zipkin_empty_spans", "/api/v2/spans", gz("application/json"), func() []byte {
			return shapetest.Gzip([]byte("[" + string(repeat([]byte("{},"), empties)) + "{}]"))
		}},
		{"jsonlines_deep_117KB", "/api/v1/logs/jsonl", map[string]string{"Content-Type": "application/x-ndjson"}, jsonLine(117_000 / 6)},
		{"jsonlines_deep_292KB", "/api/v1/logs/jsonl", map[string]string{"Content-Type": "application/x-ndjson"}, jsonLine(58_000)},
	}
}

// attackServer serves every ingest endpoint with Horus' default limits
// (32 MiB bodies, 128 MiB decoded, 200,000 lines, 256 KiB lines, 128
// fields) on 127.0.0.1, into sinks that count.
func attackServer(b *testing.B) *httptest.Server {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := ingest.NewMetrics(nil)
	body := ingest.BodyLimits{MaxBytes: 32 << 20, MaxDecodedBytes: 128 << 20}
	logLimits := ingest.LogLimits{MaxLineBytes: 256 << 10, MaxFields: 128, MaxLines: 200_000}
	spanLimits := ingest.SpanLimits{MaxBytes: 1 << 20, MaxAttributes: 1024, MaxEvents: 1024, MaxLinks: 1024}
	sink := &shapetest.Sink{}
	guard, _ := ingesttest.Guard(b)
	mux := http.NewServeMux()
	otlp.New(otlp.Consumers{
		Traces: &otlp.EventSpans{Limits: spanLimits, Sink: sink},
		Logs:   &otlp.EventLogs{Limits: logLimits, Sink: sink},
	}, m, logger, otlp.Options{Body: body}).RegisterHTTP(mux, "/otlp")
	mux.Handle("/loki/api/v1/push", &loki.Handler{Sink: sink, Limits: logLimits, Body: body, Metrics: m, Logger: logger})
	mux.Handle("/api/v1/logs/jsonl", &jsonlines.Handler{Sink: sink, Limits: logLimits, Body: body, Fields: jsonlines.DefaultFields(), Metrics: m, Logger: logger})
	mux.Handle("/api/v2/spans", &zipkin.Handler{Sink: sink, Limits: spanLimits, Body: body, Metrics: m, Logger: logger})
	mux.Handle("/api/v1/write", remotewrite.New(guard, m, logger, remotewrite.Options{Body: body}))
	ts := httptest.NewServer(mux)
	b.Cleanup(ts.Close)
	return ts
}

// BenchmarkAttacks sends each attack once a round and reports the memory
// Horus' handlers took to answer it (the live heap's growth at its peak,
// and all bytes allocated) and the status. Run one at a time, with nothing
// else running:
//
//	go test -run '^$' -bench 'Attacks/loki_empty_entries' -benchtime 1x ./internal/ingest/shape/
func BenchmarkAttacks(b *testing.B) {
	for _, a := range attacks() {
		b.Run(a.name, func(b *testing.B) {
			body := a.body()
			ts := attackServer(b)
			client := &http.Client{Timeout: 10 * time.Minute}
			b.ResetTimer()
			var mem shapetest.Mem
			code := 0
			for b.Loop() {
				mem = shapetest.Measure(func() {
					req, err := http.NewRequest(http.MethodPost, ts.URL+a.path, bytes.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					for k, v := range a.header {
						req.Header.Set(k, v)
					}
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					code = resp.StatusCode
				})
			}
			b.ReportMetric(float64(len(body))/1024, "sent-KiB")
			b.ReportMetric(float64(mem.Peak)/(1<<20), "peak-MiB")
			b.ReportMetric(float64(mem.Total)/(1<<20), "alloc-MiB")
			b.ReportMetric(float64(code), "status")
		})
	}
}
