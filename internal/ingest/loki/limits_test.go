package loki

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/ingest/shape/shapetest"
)

// pushServer serves a push handler with maxLines lines a request on
// 127.0.0.1; bodies may be 64 MiB decoded.
func pushServer(t testing.TB, maxLines int) (*httptest.Server, *shapetest.Sink) {
	t.Helper()
	sink := &shapetest.Sink{}
	h := &Handler{Sink: sink, Limits: ingest.LogLimits{MaxLines: maxLines}, Body: ingest.BodyLimits{MaxBytes: 64 << 20, MaxDecodedBytes: 64 << 20},
		Metrics: ingest.NewMetrics(nil), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts, sink
}

// pushBody posts a push body: protobuf is snappy-compressed as Promtail
// sends it, JSON gzip-compressed.
func pushBody(t testing.TB, ts *httptest.Server, body []byte, isJSON bool) (int, string) {
	t.Helper()
	if isJSON {
		return shapetest.Post(t, ts.Client(), ts.URL, shapetest.Gzip(body), map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"})
	}
	return shapetest.Post(t, ts.Client(), ts.URL, snappy.Encode(nil, body), map[string]string{"Content-Type": "application/x-protobuf"})
}

func streamOf(n int) []byte {
	req := push.PushRequest{Streams: []push.Stream{{Labels: `{job="x"}`}}}
	for i := range n {
		req.Streams[0].Entries = append(req.Streams[0].Entries, push.Entry{Timestamp: time.Unix(int64(i), 0), Line: "line"})
	}
	b, err := req.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// TestPushEmptyItems: pushes of empty entries, streams or metadata are
// refused with a 413 before they are decoded, taking little more memory
// than the body; the lines limit counts entries and empty streams.
func TestPushEmptyItems(t *testing.T) {
	ts, sink := pushServer(t, 0)
	n := shape.MaxRecordsPerRequest + 1
	entries := shapetest.Field(1, append(shapetest.Field(1, []byte(`{job="x"}`)), shapetest.Repeat([]byte{0x12, 0x00}, n)...))
	for _, c := range []struct {
		name   string
		body   []byte
		json   bool
		reason ingest.Reason
	}{
		{"empty entries", entries, false, ingest.ReasonTooManyLines},
		{"empty streams", shapetest.Repeat([]byte{0x0a, 0x00}, n), false, ingest.ReasonTooManyLines},
		{"empty metadata", shapetest.Field(1, shapetest.Field(2, shapetest.Repeat([]byte{0x1a, 0x00}, 16*n))), false, ingest.ReasonBodyTooLarge},
		{"empty JSON values", []byte(`{"streams":[{"values":[` + strings.Repeat(`[],`, n) + `[]]}]}`), true, ingest.ReasonTooManyLines},
		{"empty JSON streams", []byte(`{"streams":[` + strings.Repeat(`{},`, n) + `{}]}`), true, ingest.ReasonTooManyLines},
	} {
		var code int
		var msg string
		mem := shapetest.Measure(func() { code, msg = pushBody(t, ts, c.body, c.json) })
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, string(c.reason)) {
			t.Errorf("%s: %d %s, want 413 %s", c.name, code, msg, c.reason)
		}
		if limit := 4*uint64(len(c.body)) + 8<<20; mem.Total > limit {
			t.Errorf("%s: a %d-byte body took %d bytes to refuse, more than %d", c.name, len(c.body), mem.Total, limit)
		}
	}
	if sink.Count("default") != 0 {
		t.Errorf("%d lines stored", sink.Count("default"))
	}
}

// TestPushLinesLimit: the configured limit applies before decoding, in
// both encodings, and a push within it is stored.
func TestPushLinesLimit(t *testing.T) {
	ts, sink := pushServer(t, 10)
	if code, msg := pushBody(t, ts, streamOf(10), false); code != http.StatusNoContent || sink.Count("default") != 10 {
		t.Fatalf("10 lines: %d %s, %d stored", code, msg, sink.Count("default"))
	}
	for _, c := range []struct {
		body []byte
		json bool
	}{
		{streamOf(11), false},
		{append(streamOf(10), 0x0a, 0x00), false}, // an empty stream counts
		{[]byte(`{"streams":[{"stream":{"a":"b"},"values":[` + strings.Repeat(`["1","x"],`, 10) + `["1","x"]]}]}`), true},
	} {
		if code, msg := pushBody(t, ts, c.body, c.json); code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "limits.max_log_lines_per_request") {
			t.Errorf("%d %s", code, msg)
		}
	}
}

// TestPushJSONDepth: JSON nested past shape.MaxDepth is a 400 naming the
// limit; encoding/json would have walked it (to its own 10,000 levels).
func TestPushJSONDepth(t *testing.T) {
	ts, _ := pushServer(t, 0)
	deep := `{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":` + string(shapetest.NestJSON("[", "1", "]", 100_000)) + `}]]}]}`
	if code, msg := pushBody(t, ts, []byte(deep), true); code != http.StatusBadRequest || !strings.Contains(msg, "nested_too_deep") {
		t.Errorf("%d %.200s", code, msg)
	}
}

// FuzzPushProtobuf: any protobuf body decodes to streams or a rejection
// naming the problem; converting what decodes never panics.
func FuzzPushProtobuf(f *testing.F) {
	f.Add(streamOf(3))
	f.Add(shapetest.Field(1, shapetest.Field(2, shapetest.Field(3, shapetest.Field(1, []byte("trace_id"))))))
	h := &Handler{Limits: ingest.LogLimits{MaxLines: 100}}
	f.Fuzz(func(t *testing.T, body []byte) {
		streams, err := h.decode("application/x-protobuf", "", body)
		if err != nil {
			if ingest.ReasonOf(err) == "" {
				t.Fatalf("not a rejection: %v", err)
			}
			return
		}
		for i := range streams {
			_, _ = appendStream(nil, &streams[i], 1)
		}
	})
}
