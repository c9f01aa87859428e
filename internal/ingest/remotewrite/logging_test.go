package remotewrite

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/ingesttest"
	"github.com/horus-obs/horus/internal/ingest/shape/shapetest"
)

// records keeps every log record's level and message.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// brokenBody sends a few bytes, then fails as a connection closed mid-body.
type brokenBody struct{ sent bool }

func (b *brokenBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, "\x10\x00"), nil
	}
	return 0, io.ErrUnexpectedEOF
}

// A client that goes away mid-body, or a body the client got wrong, is not
// a server error: nothing is logged above debug (before: two ERROR lines
// per request, one from Horus and one from client_golang's handler).
func TestClientFailuresAreNotErrors(t *testing.T) {
	rec := &records{}
	guard, _ := ingesttest.Guard(t)
	h := New(guard, ingest.NewMetrics(nil), slog.New(rec), Options{Body: ingest.BodyLimits{MaxBytes: 1 << 20, MaxDecodedBytes: 4 << 20}})

	req := httptest.NewRequest(http.MethodPost, "/api/v1/write", &brokenBody{})
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusBadRequest {
		t.Errorf("body cut mid-way: %d, want 400", w.Code)
	}
	if w := post(h, []byte("not snappy"), "v1"); w.Code != http.StatusBadRequest {
		t.Errorf("corrupt body: %d, want 400", w.Code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req = httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(nil)).WithContext(ctx)
	req.Header.Set("Content-Type", "text/plain")
	h.ServeHTTP(httptest.NewRecorder(), req)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.recs {
		if r.Level > slog.LevelDebug {
			t.Errorf("client failure logged at %v: %s", r.Level, r.Message)
		}
	}
}

// The compliance suite's empty_metric (TestSingleMetric, MUST): a request
// whose first series has no labels is answered 400 naming it, and the
// valid series beside it are stored (before: 500, and nothing stored, so
// the sender retried the request forever).
func TestEmptyLabelSetFirst(t *testing.T) {
	guard, db := ingesttest.Guard(t)
	h := New(guard, ingest.NewMetrics(nil), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Body: ingest.BodyLimits{MaxBytes: 1 << 20, MaxDecodedBytes: 4 << 20}})
	now := time.Now().UnixMilli()
	for _, proto := range []string{"v1", "v2"} {
		var body []byte
		if proto == "v1" {
			body, _ = (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
				{Samples: []prompb.Sample{{Value: 1, Timestamp: now}}},
				{Labels: []prompb.Label{{Name: "__name__", Value: "valid_v1"}}, Samples: []prompb.Sample{{Value: 1, Timestamp: now}}},
			}}).Marshal()
		} else {
			body, _ = (&writev2.Request{Symbols: []string{"", "__name__", "valid_v2"}, Timeseries: []writev2.TimeSeries{
				{Samples: []writev2.Sample{{Value: 1, Timestamp: now}}},
				{LabelsRefs: []uint32{1, 2}, Samples: []writev2.Sample{{Value: 1, Timestamp: now}}},
			}}).Marshal()
		}
		w := post(h, snappy.Encode(nil, body), proto)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "no metric name") {
			t.Errorf("%s: %d %q, want 400 naming the nameless series", proto, w.Code, w.Body)
		}
		q, err := db.Querier(0, now+1)
		if err != nil {
			t.Fatal(err)
		}
		ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "valid_"+proto))
		if !ss.Next() {
			t.Errorf("%s: the valid series beside the empty one was not stored", proto)
		}
		_ = q.Close()
	}
}

// A remote write 2.0 request whose series name large symbols many times
// over (62 labels of ~5 KB each per series, ~130 bytes per series on the
// wire) is refused with 413 once the labels it expands to pass the
// decoders' memory bound; before, a 34 KB request grew the process by
// 1 GB and was answered 204.
func TestRW2SymbolAmplification(t *testing.T) {
	h := newHandler(t)
	body := shapetest.RW2SymbolAmplification(1000, time.Now().UnixMilli())
	if w := post(h, snappy.Encode(nil, body), "v2"); w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "symbol table") {
		t.Fatalf("%d-byte request expanding to ~%d MB of labels: %d %s; want 413", len(body), 1000*62*5000>>20, w.Code, w.Body)
	}
}
