package otlp

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/horus-obs/horus/bench/eventgen"
	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/pipeline"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/store/events/wal"
)

// BenchmarkTracesEndToEnd posts OTLP/HTTP protobuf batches of about 1,000
// realistic spans (bench/eventgen's shop traces) through the receiver:
// decode, convert, check, span metrics, event store (WAL with interval
// fsync, head). It reports spans/s; go test -cpu 1 gives the per-core
// figure. The variants measure the derived metrics' share: span metrics
// and the service graph (as Horus runs by default), span metrics alone,
// neither.
func BenchmarkTracesEndToEnd(b *testing.B) {
	for _, name := range []string{"derived", "spanmetrics", "nometrics"} {
		b.Run(name, func(b *testing.B) {
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			store, err := events.Open(b.TempDir(), logger, events.Options{WAL: wal.Options{Sync: wal.SyncInterval, SyncInterval: time.Second}})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = store.Close() }()
			traces := &pipeline.Traces{Store: store}
			if name != "nometrics" {
				traces.Derivers = append(traces.Derivers, pipeline.NewSpanMetrics(pipeline.SpanMetricsOptions{
					Dimensions: []string{"http.route", "http.request.method", "http.method"}}, nil))
			}
			if name == "derived" {
				traces.Derivers = append(traces.Derivers, pipeline.NewServiceGraph(pipeline.ServiceGraphOptions{}, nil))
			}
			r := New(Consumers{Traces: &EventSpans{Limits: ingest.SpanLimits{MaxBytes: 1 << 20, MaxAttributes: 1024, MaxEvents: 1024, MaxLinks: 1024}, Sink: traces}},
				ingest.NewMetrics(nil), logger, Options{Body: ingest.BodyLimits{MaxBytes: 64 << 20, MaxDecodedBytes: 64 << 20}})
			mux := http.NewServeMux()
			r.RegisterHTTP(mux, "")

			gen := eventgen.New(1, time.Now().Add(-time.Hour), time.Millisecond)
			var bodies [][]byte
			spans := 0
			for len(bodies) < 50 {
				var batch []events.Event
				for len(batch) < 1000 {
					batch = append(batch, gen.Next().Spans...)
				}
				body, err := ptraceotlp.NewExportRequestFromTraces(TracesFromSpans(batch)).MarshalProto()
				if err != nil {
					b.Fatal(err)
				}
				bodies = append(bodies, body)
				spans += len(batch)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, body := range bodies {
					req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/x-protobuf")
					w := httptest.NewRecorder()
					mux.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			}
			b.ReportMetric(float64(spans*b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}
