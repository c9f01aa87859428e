package loki

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/ingest"
	ingestloki "github.com/horus-obs/horus/internal/ingest/loki"
	"github.com/horus-obs/horus/internal/pipeline"
	"github.com/horus-obs/horus/internal/store/events"
)

// testAPI is the Loki API and Loki's push endpoint over a real event
// store in a temporary directory, served over HTTP on 127.0.0.1.
type testAPI struct {
	t   *testing.T
	url string
}

func startAPI(t *testing.T) *testAPI {
	t.Helper()
	a, _ := startAPIStore(t)
	return a
}

// startAPIStore is startAPI with its store, for tests that flush it.
func startAPIStore(t *testing.T) (*testAPI, *events.Store) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := events.Open(t.TempDir(), logger, events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	mux := http.NewServeMux()
	New(store, logger, Options{Timeout: time.Minute, TailInterval: 50 * time.Millisecond}).Register(mux)
	mux.Handle("POST /loki/api/v1/push", &ingestloki.Handler{Sink: pipeline.NewLogs(store, nil, nil),
		Body:    ingest.BodyLimits{MaxBytes: 16 << 20, MaxDecodedBytes: 16 << 20},
		Metrics: ingest.NewMetrics(nil), Logger: logger})
	srv := httptest.NewServer(mux) // on 127.0.0.1
	t.Cleanup(srv.Close)
	return &testAPI{t: t, url: srv.URL}, store
}

// line is one pushed log line: its time, text and structured metadata.
type line struct {
	at   time.Time
	text string
	md   map[string]string
}

// push sends lines of one stream as Loki's JSON push.
func (a *testAPI) push(stream map[string]string, lines ...line) {
	a.t.Helper()
	values := make([][]any, len(lines))
	for i, l := range lines {
		values[i] = []any{strconv.FormatInt(l.at.UnixNano(), 10), l.text}
		if l.md != nil {
			values[i] = append(values[i], l.md)
		}
	}
	body, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": stream, "values": values}}})
	resp, err := http.Post(a.url+"/loki/api/v1/push", "application/json", bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		a.t.Fatalf("push: %d %s", resp.StatusCode, b)
	}
}

// get answers a GET of path with params and headers: the status and body.
func (a *testAPI) get(path string, params url.Values, header map[string]string) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.url+path+"?"+params.Encode(), nil)
	if err != nil {
		a.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// getJSON is get of a 200 answer, decoded into v.
func (a *testAPI) getJSON(path string, params url.Values, header map[string]string, v any) {
	a.t.Helper()
	code, body := a.get(path, params, header)
	if code != http.StatusOK {
		a.t.Fatalf("%s %v: %d %s", path, params, code, body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // sample times as sent
	if err := dec.Decode(v); err != nil {
		a.t.Fatalf("%s: %v: %s", path, err, body)
	}
}

// unix is a time as the API's unix seconds parameter.
func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// minute is a whole minute half an hour ago: a round instant with room
// before now for the lines of a test.
func minute() time.Time { return time.Now().Truncate(time.Minute).Add(-30 * time.Minute) }
