package remotewrite

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/ingesttest"
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
