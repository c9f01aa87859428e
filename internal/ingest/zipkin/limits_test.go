package zipkin

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/ingest/shape/shapetest"
)

// TestLimits posts to the handler on 127.0.0.1: bodies of empty spans or
// annotations are refused with a 413 before they are decoded, taking
// little more memory than the body; JSON nested past shape.MaxDepth is a
// 400; a real span is taken.
func TestLimits(t *testing.T) {
	sink := &shapetest.Sink{}
	ts := httptest.NewServer(&Handler{Sink: sink, Body: ingest.BodyLimits{MaxBytes: 64 << 20, MaxDecodedBytes: 64 << 20},
		Metrics: ingest.NewMetrics(nil), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer ts.Close()
	post := func(body []byte) (int, string) {
		return shapetest.Post(t, ts.Client(), ts.URL, shapetest.Gzip(body), map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"})
	}
	if code, msg := post([]byte(full)); code != http.StatusAccepted || sink.Count("default") != 1 {
		t.Fatalf("a real span: %d %s, %d stored", code, msg, sink.Count("default"))
	}
	n := shape.MaxRecordsPerRequest + 1
	ok := `"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","timestamp":1`
	for _, c := range []struct {
		name, body string
		code       int
		reason     ingest.Reason
	}{
		{"empty spans", "[" + strings.Repeat("{},", n) + "{}]", 413, ingest.ReasonBodyTooLarge},
		{"empty annotations", `[{` + ok + `,"annotations":[` + strings.Repeat("{},", 16*n) + `{}]}]`, 413, ingest.ReasonBodyTooLarge},
		{"deep tag", `[{` + ok + `,"tags":{"a":` + string(shapetest.NestJSON(`{"a":`, "1", "}", 100_000)) + `}}]`, 400, ingest.ReasonTooDeep},
	} {
		var code int
		var msg string
		mem := shapetest.Measure(func() { code, msg = post([]byte(c.body)) })
		if code != c.code || !strings.Contains(msg, string(c.reason)) {
			t.Errorf("%s: %d %.300s, want %d %s", c.name, code, msg, c.code, c.reason)
		}
		if limit := 4*uint64(len(c.body)) + 8<<20; mem.Total > limit {
			t.Errorf("%s: a %d-byte body took %d bytes to refuse, more than %d", c.name, len(c.body), mem.Total, limit)
		}
	}
	if sink.Count("default") != 1 {
		t.Errorf("%d spans stored", sink.Count("default"))
	}
}
