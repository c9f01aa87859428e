package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/store/events"
)

// sgSpan is a span of trace tr for the service-graph tests.
func sgSpan(tr byte, svc string, kind int32, id, parent byte, start time.Time, dur time.Duration, status int32, attrs ...string) events.Event {
	e := events.Event{TraceID: events.TraceID{tr}, SpanID: events.SpanID{id}, Service: svc, SpanKind: kind, StatusCode: status,
		Time: start.UnixNano(), Duration: int64(dur), Name: svc + "-op"}
	if parent != 0 {
		e.ParentSpanID = events.SpanID{parent}
	}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attrs = append(e.Attrs, events.Attr{Key: attrs[i], Value: events.Str(attrs[i+1])})
	}
	return e
}

// TestServiceGraph pairs client and server spans (in either order, across
// batches), makes the virtual edges (user, database, peer.service,
// messaging), counts failures and latencies, and writes it all to a real
// TSDB with Tempo's names and labels.
func TestServiceGraph(t *testing.T) {
	db := openTSDB(t)
	g := NewServiceGraph(ServiceGraphOptions{Wait: time.Second}, nil)
	t0 := time.Now()
	g.DeriveSpans("default", []events.Event{
		// trace 1: user → frontend → payments (error) → postgres; frontend → stripe (uninstrumented)
		sgSpan(1, "frontend", kindServer, 1, 0, t0, 900*time.Millisecond, 0),
		sgSpan(1, "frontend", kindClient, 2, 1, t0, 600*time.Millisecond, 0),
		sgSpan(1, "frontend", kindClient, 3, 1, t0, 200*time.Millisecond, 0, "peer.service", "stripe"),
		sgSpan(1, "payments", kindClient, 5, 4, t0, 3*time.Millisecond, 0, "db.system", "postgresql", "db.name", "shop"),
		// trace 2: the server span comes before its client span
		sgSpan(2, "payments", kindServer, 7, 6, t0, 20*time.Millisecond, 0),
		// trace 3: a client span nobody answers and that names no peer
		sgSpan(3, "frontend", kindClient, 9, 8, t0, time.Millisecond, 0),
		// trace 4: orders produces, worker consumes 50ms after
		sgSpan(4, "orders", kindProducer, 10, 0, t0, 10*time.Millisecond, 0),
		sgSpan(4, "worker", kindConsumer, 11, 10, t0.Add(60*time.Millisecond), 5*time.Millisecond, 0),
		// another tenant's edge is its own
		sgSpan(5, "frontend", kindServer, 12, 0, t0, time.Millisecond, 0),
	})
	g.DeriveSpans("default", []events.Event{
		sgSpan(1, "payments", kindServer, 4, 2, t0, 500*time.Millisecond, 2),
		sgSpan(2, "frontend", kindClient, 6, 1, t0, 25*time.Millisecond, 0),
	})
	g.DeriveSpans("team-a", []events.Event{sgSpan(5, "frontend", kindServer, 12, 0, t0, time.Millisecond, 0)})
	if len(g.pending) != 2 { // trace 1's stripe call, trace 3's lone client
		t.Fatalf("%d pending half edges, want 2", len(g.pending))
	}
	if err := g.Flush(context.Background(), db, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(g.pending) != 0 {
		t.Errorf("%d half edges left after the wait", len(g.pending))
	}
	if n := testutil.ToFloat64(g.unpaired); n != 1 {
		t.Errorf("unpaired = %v, want 1", n)
	}

	name := func(n string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchEqual, "__name__", n) }
	want := map[string]float64{
		`{__name__="traces_service_graph_request_total", client="frontend", server="payments"}`:                                                  2,
		`{__name__="traces_service_graph_request_total", client="user", connection_type="virtual_node", server="frontend"}`:                      2,
		`{__name__="traces_service_graph_request_total", client="payments", connection_type="database", server="shop"}`:                          1,
		`{__name__="traces_service_graph_request_total", client="frontend", connection_type="virtual_node", server="stripe"}`:                    1,
		`{__name__="traces_service_graph_request_total", client="orders", connection_type="messaging_system", server="worker"}`:                  1,
		`{__name__="traces_service_graph_request_total", __tenant__="team-a", client="user", connection_type="virtual_node", server="frontend"}`: 1,
	}
	got := latest(t, db, name("traces_service_graph_request_total"))
	if len(got) != len(want) {
		t.Errorf("request_total series %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	failed := latest(t, db, name("traces_service_graph_request_failed_total"), labels.MustNewMatcher(labels.MatchEqual, "server", "payments"))
	if v := failed[`{__name__="traces_service_graph_request_failed_total", client="frontend", server="payments"}`]; v != 1 {
		t.Errorf("failed frontend → payments = %v (%v), want 1", v, failed)
	}
	// Server seconds of frontend → payments: 500ms and 20ms; client: 600ms and 25ms.
	for n, v := range map[string]float64{"traces_service_graph_request_server_seconds_sum": 0.52, "traces_service_graph_request_client_seconds_sum": 0.625} {
		got := latest(t, db, name(n), labels.MustNewMatcher(labels.MatchEqual, "server", "payments"))
		for k, s := range got {
			if s < v-1e-9 || s > v+1e-9 {
				t.Errorf("%s = %v, want %v", k, s, v)
			}
		}
		if len(got) != 1 {
			t.Errorf("%s: %v", n, got)
		}
	}
	// The database edge has the client's duration on both sides.
	if got := latest(t, db, name("traces_service_graph_request_server_seconds_sum"), labels.MustNewMatcher(labels.MatchEqual, "server", "shop")); len(got) != 1 {
		t.Errorf("database server seconds: %v", got)
	}
	// Messaging latency: consumer start − producer end = 50ms, only on
	// the messaging edge.
	msg := latest(t, db, name("traces_service_graph_request_messaging_system_seconds_sum"))
	if len(msg) != 1 {
		t.Fatalf("messaging seconds series: %v", msg)
	}
	for _, v := range msg {
		if v < 0.049 || v > 0.051 {
			t.Errorf("messaging seconds = %v, want 0.05", v)
		}
	}
	// Exemplars point at the spans.
	eq, err := db.ExemplarQuerier(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	exs, err := eq.Select(0, t0.Add(time.Hour).UnixMilli(), []*labels.Matcher{name("traces_service_graph_request_server_seconds_bucket"), labels.MustNewMatcher(labels.MatchEqual, "server", "payments")})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range exs {
		for _, e := range r.Exemplars {
			ids[e.Labels.Get("span_id")] = true
		}
	}
	if !ids[(events.SpanID{4}).String()] || !ids[(events.SpanID{7}).String()] {
		t.Errorf("server-seconds exemplars %v, want the spans 04… and 07…", ids)
	}
}

// TestServiceGraphLimits: half edges beyond MaxPending and edges beyond
// MaxSeries are counted as dropped spans, not kept.
func TestServiceGraphLimits(t *testing.T) {
	g := NewServiceGraph(ServiceGraphOptions{MaxPending: 2, MaxSeries: 1}, nil)
	t0 := time.Now()
	g.DeriveSpans("default", []events.Event{
		sgSpan(1, "a", kindClient, 1, 0, t0, time.Millisecond, 0),
		sgSpan(2, "a", kindClient, 1, 0, t0, time.Millisecond, 0),
		sgSpan(3, "a", kindClient, 1, 0, t0, time.Millisecond, 0), // a third half edge
		sgSpan(4, "a", kindServer, 1, 0, t0, time.Millisecond, 0), // user → a: the one series
		sgSpan(5, "b", kindServer, 1, 0, t0, time.Millisecond, 0), // user → b: a second
	})
	if n := testutil.ToFloat64(g.dropped.WithLabelValues("max_pending")); n != 1 {
		t.Errorf("dropped max_pending = %v, want 1", n)
	}
	if n := testutil.ToFloat64(g.dropped.WithLabelValues("max_series")); n != 1 {
		t.Errorf("dropped max_series = %v, want 1", n)
	}
}

// BenchmarkServiceGraph measures the service graph per span on call trees
// of a client and a server span per call.
func BenchmarkServiceGraph(b *testing.B) {
	g := NewServiceGraph(ServiceGraphOptions{}, nil)
	t0 := time.Now()
	spans := make([]events.Event, 0, 1000)
	svcs := []string{"frontend", "cart", "payments", "users", "search"}
	for i := range 500 {
		tr := events.TraceID{byte(i), byte(i >> 8)}
		c := sgSpan(0, svcs[i%5], kindClient, byte(2*i), 1, t0, time.Millisecond, 0)
		s := sgSpan(0, svcs[(i+1)%5], kindServer, byte(2*i+1), byte(2*i), t0, time.Millisecond, 0)
		c.TraceID, s.TraceID = tr, tr
		spans = append(spans, c, s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.DeriveSpans("default", spans)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}
