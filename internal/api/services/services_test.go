package services

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/api/prom"
	"github.com/horus-obs/horus/internal/store/metrics"
)

// TestList writes ten minutes of span metrics for two services (front: 10
// requests/s, 1 in 10 failing, all under 100 ms; back: 2/s, none failing,
// all between 250 ms and 500 ms), client spans only for a third, and a
// scrape job of a fourth, and reads them back through the handler with
// the engine Horus runs.
func TestList(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	st, err := metrics.Open(t.TempDir(), logger, reg, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	engine, err := prom.NewEngine(logger, reg, prom.EngineOptions{Timeout: time.Minute, MaxSamples: 5_000_000, LookbackDelta: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = engine.Close() }()

	end := time.Now().Truncate(time.Second)
	start := end.Add(-10 * time.Minute)
	app := st.Appender(context.Background())
	add := func(ls labels.Labels, ts time.Time, v float64) {
		if _, err := app.Append(0, ls, ts.UnixMilli(), v); err != nil {
			t.Fatal(err)
		}
	}
	calls := func(svc, kind, status string) labels.Labels {
		return labels.FromStrings("__name__", "traces_spanmetrics_calls_total", "service", svc, "span_kind", kind, "span_name", "GET /", "status_code", status)
	}
	bucket := func(svc, le string) labels.Labels {
		return labels.FromStrings("__name__", "traces_spanmetrics_latency_bucket", "service", svc, "span_kind", "SPAN_KIND_SERVER", "span_name", "GET /", "status_code", "STATUS_CODE_UNSET", "le", le)
	}
	for ts := start.Add(-time.Minute); !ts.After(end); ts = ts.Add(15 * time.Second) {
		n := ts.Sub(start.Add(-time.Minute)).Seconds()
		add(calls("front", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET"), ts, 9*n)
		add(calls("front", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR"), ts, 1*n)
		add(calls("front", "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET"), ts, 2*n)
		add(calls("back", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET"), ts, 2*n)
		add(calls("client-only", "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET"), ts, 1*n)
		for _, le := range []string{"0.1", "0.25", "0.5", "+Inf"} {
			f := 10 * n
			add(bucket("front", le), ts, f)
			b := 2 * n
			if le == "0.1" || le == "0.25" {
				b = 0
			}
			add(bucket("back", le), ts, b)
		}
		add(labels.FromStrings("__name__", "up", "job", "front", "instance", "a"), ts, 1)
		add(labels.FromStrings("__name__", "up", "job", "batch", "instance", "b"), ts, 1)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewServer(Handler(engine, st, time.Minute))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "?start=" + start.Format(time.RFC3339) + "&end=" + end.Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var out struct {
		Status string
		Data   Data
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	got := map[string]Service{}
	var names []string
	for _, s := range out.Data.Services {
		got[s.Name] = s
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "back,batch,client-only,front" {
		t.Fatalf("services %v, want back, batch, client-only, front: %s", names, body)
	}
	near := func(what string, p *float64, want float64) {
		t.Helper()
		if p == nil || math.Abs(*p-want) > want*0.05+1e-9 {
			t.Errorf("%s = %v, want about %g", what, deref(p), want)
		}
	}
	f, b := got["front"], got["back"]
	near("front rate", f.Rate, 10)
	near("front error ratio", f.ErrorRatio, 0.1)
	near("back rate", b.Rate, 2)
	near("back error ratio", b.ErrorRatio, 0)
	if f.P99 == nil || *f.P99 > 0.1 || b.P50 == nil || *b.P50 < 0.25 || *b.P50 > 0.5 {
		t.Errorf("front p99 %v (want ≤ 0.1), back p50 %v (want in (0.25, 0.5])", deref(f.P99), deref(b.P50))
	}
	if strings.Join(f.Signals, ",") != "traces,metrics" || strings.Join(got["batch"].Signals, ",") != "metrics" {
		t.Errorf("signals: front %v, batch %v", f.Signals, got["batch"].Signals)
	}
	if c := got["client-only"]; c.Rate != nil || c.ErrorRatio != nil || c.P99 != nil {
		t.Errorf("client-only has numbers without server spans: %+v", c)
	}

	for _, bad := range []string{"?start=2&end=1", "?start=x", "?end=1e300"} {
		resp, err := http.Get(srv.URL + bad)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"errorType":"bad_data"`) {
			t.Errorf("%s: %d %s", bad, resp.StatusCode, body)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
