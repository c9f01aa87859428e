package jsonlines

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/pipeline"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/sdk/redact"
)

// BenchmarkJSONLinesEndToEnd pushes batches of 1000 generated app log
// lines (JSON, as slog writes them) through the HTTP handler, with and
// without redaction, into a real event store (WAL included): issue 5's
// ingest figure. Run with -cpu 1 for the per-core rate.
func BenchmarkJSONLinesEndToEnd(b *testing.B) {
	lines, n := benchLines()
	body := bytes.NewBuffer(lines)
	for _, bc := range []struct {
		name   string
		redact bool
	}{{"redaction", true}, {"none", false}} {
		b.Run(bc.name, func(b *testing.B) {
			st, err := events.Open(b.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), events.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = st.Close() }()
			r, _ := redact.New(redact.Default())
			if !bc.redact {
				r = nil
			}
			h := &Handler{
				Sink:    pipeline.NewLogs(st, func(string) *redact.Redactor { return r }, nil),
				Limits:  ingest.LogLimits{MaxLineBytes: 256 << 10, MaxFields: 128, MaxLines: 200000, MaxFuture: 10 * time.Minute},
				Body:    ingest.BodyLimits{MaxBytes: 32 << 20, MaxDecodedBytes: 128 << 20},
				Fields:  DefaultFields(),
				Metrics: ingest.NewMetrics(nil),
				Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
			}
			b.SetBytes(int64(body.Len()))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodPost, "/api/v1/logs/jsonl?env=prod", bytes.NewReader(body.Bytes()))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req.WithContext(context.Background()))
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
