package pipeline

import (
	"context"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/tenant"
)

func openTSDB(t *testing.T) *tsdb.DB {
	opts := tsdb.DefaultOptions()
	opts.MaxExemplars = 1000
	opts.EnableExemplarStorage = true
	db, err := tsdb.Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// latest returns the newest sample of every series matching ms, by its
// labels' string.
func latest(t *testing.T, db *tsdb.DB, ms ...*labels.Matcher) map[string]float64 {
	t.Helper()
	q, err := db.Querier(0, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close() }()
	out := map[string]float64{}
	set := q.Select(context.Background(), false, nil, ms...)
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() != 0 {
			_, v := it.At()
			out[set.At().Labels().String()] = v
		}
	}
	return out
}

func span(svc, name string, kind, status int32, dur time.Duration, route string) events.Event {
	e := events.Event{Service: svc, Name: name, SpanKind: kind, StatusCode: status, Duration: int64(dur),
		Time: time.Now().UnixNano(), TraceID: events.TraceID{1, 2}, SpanID: events.SpanID{3}}
	if route != "" {
		e.Attrs = events.Attrs{{Key: "http.route", Value: events.Str(route)}, {Key: "user.id", Value: events.Str("u-1")}}
	}
	return e
}

// TestSpanMetrics derives calls, latency and size from spans, writes them
// to a real TSDB, and checks the series, labels, buckets, exemplars, the
// series limit and staleness.
func TestSpanMetrics(t *testing.T) {
	db := openTSDB(t)
	m := NewSpanMetrics(SpanMetricsOptions{Dimensions: []string{"http.route"}, MaxSeries: 3, StaleAfter: time.Minute}, nil)
	m.DeriveSpans("default", []events.Event{
		span("api", "GET /cart", 2, 0, 3*time.Millisecond, "/cart"),
		span("api", "GET /cart", 2, 0, 300*time.Millisecond, "/cart"),
		span("api", "GET /cart", 2, 2, 5*time.Second, "/cart"),
		span("db", "SELECT", 3, 0, time.Millisecond, ""),
	})
	m.DeriveSpans("team-a", []events.Event{span("api", "GET /cart", 2, 0, time.Millisecond, "/cart")}) // a 4th series: dropped
	now := time.Now()
	if err := m.Flush(context.Background(), db, now); err != nil {
		t.Fatal(err)
	}
	calls := latest(t, db, labels.MustNewMatcher(labels.MatchEqual, "__name__", "traces_spanmetrics_calls_total"))
	want := map[string]float64{
		`{__name__="traces_spanmetrics_calls_total", http_route="/cart", service="api", span_kind="SPAN_KIND_SERVER", span_name="GET /cart", status_code="STATUS_CODE_UNSET"}`: 2,
		`{__name__="traces_spanmetrics_calls_total", http_route="/cart", service="api", span_kind="SPAN_KIND_SERVER", span_name="GET /cart", status_code="STATUS_CODE_ERROR"}`: 1,
		`{__name__="traces_spanmetrics_calls_total", service="db", span_kind="SPAN_KIND_CLIENT", span_name="SELECT", status_code="STATUS_CODE_UNSET"}`:                         1,
	}
	if len(calls) != len(want) {
		t.Fatalf("calls series: %v", calls)
	}
	for k, v := range want {
		if calls[k] != v {
			t.Errorf("%s = %v, want %v (have %v)", k, calls[k], v, calls)
		}
	}
	buckets := latest(t, db, labels.MustNewMatcher(labels.MatchEqual, "__name__", "traces_spanmetrics_latency_bucket"),
		labels.MustNewMatcher(labels.MatchEqual, "status_code", "STATUS_CODE_UNSET"), labels.MustNewMatcher(labels.MatchEqual, "service", "api"))
	for le, n := range map[string]float64{"0.002": 0, "0.004": 1, "0.256": 1, "0.512": 2, "+Inf": 2} {
		k := `{__name__="traces_spanmetrics_latency_bucket", http_route="/cart", le="` + le + `", service="api", span_kind="SPAN_KIND_SERVER", span_name="GET /cart", status_code="STATUS_CODE_UNSET"}`
		if got, ok := buckets[k]; !ok || got != n {
			t.Errorf("bucket le=%s = %v (present %v), want %v", le, got, ok, n)
		}
	}
	sum := latest(t, db, labels.MustNewMatcher(labels.MatchEqual, "__name__", "traces_spanmetrics_latency_sum"), labels.MustNewMatcher(labels.MatchEqual, "status_code", "STATUS_CODE_ERROR"))
	for _, v := range sum {
		if v != 5 {
			t.Errorf("latency sum = %v, want 5", v)
		}
	}
	eq, err := db.ExemplarQuerier(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	exs, err := eq.Select(0, math.MaxInt64, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "__name__", "traces_spanmetrics_latency_bucket")})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range exs {
		for _, e := range r.Exemplars {
			n++
			if e.Labels.Get("trace_id") != (events.TraceID{1, 2}).String() {
				t.Errorf("exemplar labels %v", e.Labels)
			}
		}
	}
	if n != 4 { // one per bucket hit: 2ms (db), 4ms, 512ms, 8.192s
		t.Errorf("%d exemplars, want 4", n)
	}
	if got := len(latest(t, db, labels.MustNewMatcher(labels.MatchEqual, tenant.Label, "team-a"))); got != 0 {
		t.Errorf("a series beyond max_series was written")
	}

	// Idle past StaleAfter: a staleness marker, then the series is gone.
	if err := m.Flush(context.Background(), db, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for k, v := range latest(t, db, labels.MustNewMatcher(labels.MatchEqual, "__name__", "traces_spanmetrics_calls_total")) {
		if !value.IsStaleNaN(v) {
			t.Errorf("%s = %v after going idle, want a staleness marker", k, v)
		}
	}
	if len(m.series.m) != 0 {
		t.Errorf("%d idle series kept", len(m.series.m))
	}
}

// BenchmarkDeriveSpans measures span metrics per span, for the share of
// ingest CPU they cost.
func BenchmarkDeriveSpans(b *testing.B) {
	m := NewSpanMetrics(SpanMetricsOptions{Dimensions: []string{"http.route", "http.request.method"}}, nil)
	spans := make([]events.Event, 1000)
	routes := []string{"/cart", "/checkout", "/pay", "/items/{id}"}
	for i := range spans {
		spans[i] = span("svc-"+string(rune('a'+i%5)), "GET "+routes[i%4], int32(i%3+1), int32(i%7/6*2), time.Duration(i)*time.Millisecond, routes[i%4])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.DeriveSpans("default", spans)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}
