package remotewrite

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/ingesttest"
)

func newHandler(t testing.TB) *Handler {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	guard, _ := ingesttest.Guard(t)
	return New(guard, ingest.NewMetrics(nil), logger, Options{Body: ingest.BodyLimits{MaxBytes: 1 << 20, MaxDecodedBytes: 4 << 20}})
}

func post(h http.Handler, body []byte, proto string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
	req.Header.Set("Content-Encoding", "snappy")
	if proto == "v2" {
		req.Header.Set("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
	} else {
		req.Header.Set("Content-Type", "application/x-protobuf")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// FuzzRemoteWrite feeds arbitrary protobuf payloads (snappy-framed, as a
// client would send them) to both protocol versions: every answer must be
// a success or a 4xx naming the problem, never a 5xx or a panic.
func FuzzRemoteWrite(f *testing.F) {
	now := time.Now().UnixMilli()
	v1, _ := (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "m"}, {Name: "job", Value: "j"}},
		Samples: []prompb.Sample{{Value: 1, Timestamp: now}},
	}}}).Marshal()
	v2, _ := (&writev2.Request{Symbols: []string{"", "__name__", "m"}, Timeseries: []writev2.TimeSeries{{
		LabelsRefs: []uint32{1, 2}, Samples: []writev2.Sample{{Value: 1, Timestamp: now}},
	}}}).Marshal()
	f.Add(v1, false)
	f.Add(v2, true)
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00}, false)
	h := newHandler(f)
	f.Fuzz(func(t *testing.T, payload []byte, isV2 bool) {
		proto := "v1"
		if isV2 {
			proto = "v2"
		}
		w := post(h, snappy.Encode(nil, payload), proto)
		if w.Code >= 500 {
			t.Fatalf("%s: status %d: %s", proto, w.Code, w.Body)
		}
	})
}

func TestEmptyRequestIsFine(t *testing.T) {
	h := newHandler(t)
	if w := post(h, snappy.Encode(nil, nil), "v1"); w.Code != http.StatusNoContent {
		t.Fatalf("empty v1 write: %d %s", w.Code, w.Body)
	}
}
