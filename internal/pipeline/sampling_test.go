package pipeline

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/store/events/wal"
)

func openEvents(t *testing.T) *events.Store {
	t.Helper()
	s, err := events.Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), events.Options{WAL: wal.Options{Sync: wal.SyncNever}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// sampledTrace is a trace of n spans over dur, with an error span if
// failed.
func sampledTrace(id uint16, n int, dur time.Duration, failed bool) []events.Event {
	t0 := time.Now().Add(-time.Minute)
	tr := events.TraceID{byte(id >> 8), byte(id), 0xaa}
	spans := make([]events.Event, n)
	for i := range spans {
		spans[i] = events.Event{TraceID: tr, SpanID: events.SpanID{byte(i + 1)}, Service: "svc", Name: "op",
			Time: t0.UnixNano(), Duration: int64(dur) / int64(i+1)}
	}
	if failed {
		spans[n-1].StatusCode = 2
	}
	return spans
}

// stored is the number of spans the store has of each trace.
func stored(t *testing.T, s *events.Store, tenant string) map[events.TraceID]int {
	t.Helper()
	evs, _, err := s.Select(context.Background(), events.Query{Tenant: tenant, Kind: events.KindSpan})
	if err != nil {
		t.Fatal(err)
	}
	out := map[events.TraceID]int{}
	for _, e := range evs {
		out[e.TraceID]++
	}
	return out
}

// TestSampler keeps error traces, slow traces and a share of the rest,
// each whole or not at all, through the real pipeline into the real event
// store, while span metrics still count every span; late spans follow
// their trace's decision.
func TestSampler(t *testing.T) {
	st := openEvents(t)
	sm := NewSpanMetrics(SpanMetricsOptions{}, nil)
	smp := NewSampler(SamplerOptions{DecisionWait: time.Second, LatencyThreshold: time.Second, Probability: 0.25}, st, nil, nil)
	p := &Traces{Derivers: []SpanDeriver{sm}, Sampler: smp, Store: st}
	ctx := context.Background()

	errTrace, slowTrace := sampledTrace(1, 3, 10*time.Millisecond, true), sampledTrace(2, 3, 2*time.Second, false)
	var rest [][]events.Event
	for i := range 400 {
		rest = append(rest, sampledTrace(uint16(100+i), 3, 10*time.Millisecond, false))
	}
	// Each trace comes in two batches: its first span, then the others.
	for _, tr := range append([][]events.Event{errTrace, slowTrace}, rest...) {
		if err := p.AppendSpans(ctx, "default", tr[:1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, tr := range append([][]events.Event{errTrace, slowTrace}, rest...) {
		if err := p.AppendSpans(ctx, "default", tr[1:]); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(stored(t, st, "default")); n != 0 {
		t.Fatalf("%d traces stored before the decision wait", n)
	}
	if err := smp.Decide(ctx, time.Now(), false); err != nil { // not yet due
		t.Fatal(err)
	}
	if n := len(stored(t, st, "default")); n != 0 {
		t.Fatalf("%d traces stored before the decision wait", n)
	}
	if err := smp.Decide(ctx, time.Now().Add(time.Second), false); err != nil {
		t.Fatal(err)
	}
	got := stored(t, st, "default")
	if got[errTrace[0].TraceID] != 3 || got[slowTrace[0].TraceID] != 3 {
		t.Errorf("error trace: %d spans, slow trace: %d spans stored, want 3 each", got[errTrace[0].TraceID], got[slowTrace[0].TraceID])
	}
	kept := 0
	for _, tr := range rest {
		switch got[tr[0].TraceID] {
		case 0:
		case 3:
			kept++
		default:
			t.Errorf("trace %v: %d of 3 spans stored", tr[0].TraceID, got[tr[0].TraceID])
		}
	}
	if kept < 60 || kept > 140 { // 25% of 400 = 100
		t.Errorf("%d of 400 traces kept by probability 0.25", kept)
	}
	for reason, n := range map[string]int{reasonError: 1, reasonLatency: 1, reasonProbability: kept} {
		if got := testutil.ToFloat64(smp.traces.WithLabelValues("kept", reason)); got != float64(n) {
			t.Errorf("kept %s = %v, want %d", reason, got, n)
		}
	}
	if got := testutil.ToFloat64(smp.traces.WithLabelValues("dropped", reasonProbability)); got != float64(400-kept) {
		t.Errorf("dropped = %v, want %d", got, 400-kept)
	}
	if got := testutil.ToFloat64(smp.spans.WithLabelValues("dropped")); got != float64(3*(400-kept)) {
		t.Errorf("dropped spans = %v, want %d", got, 3*(400-kept))
	}
	// Span metrics counted every span, kept or not.
	var calls float64
	for _, g := range sm.series.m {
		calls += g.counters[smCalls]
	}
	if calls != 3*402 {
		t.Errorf("span metrics counted %v spans, want %d", calls, 3*402)
	}

	// A late span follows its trace's decision.
	var dropped []events.Event
	for _, tr := range rest {
		if got[tr[0].TraceID] == 0 {
			dropped = tr
			break
		}
	}
	late := func(tr []events.Event) events.Event {
		e := tr[0]
		e.SpanID = events.SpanID{0x99}
		return e
	}
	if err := p.AppendSpans(ctx, "default", []events.Event{late(errTrace), late(dropped)}); err != nil {
		t.Fatal(err)
	}
	got = stored(t, st, "default")
	if got[errTrace[0].TraceID] != 4 || got[dropped[0].TraceID] != 0 {
		t.Errorf("late spans: kept trace has %d spans (want 4), dropped trace %d (want 0)", got[errTrace[0].TraceID], got[dropped[0].TraceID])
	}
	// Decisions are forgotten after RememberFor: a span then starts anew.
	if err := smp.Decide(ctx, time.Now().Add(time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if len(smp.decided) != 0 || len(smp.done) != 0 {
		t.Errorf("%d decisions remembered after RememberFor", len(smp.decided))
	}
}

// TestSamplerLimits: beyond MaxTraces the oldest trace is decided early;
// a stop (all) decides and stores every trace waiting; tenants are apart.
func TestSamplerLimits(t *testing.T) {
	st := openEvents(t)
	smp := NewSampler(SamplerOptions{DecisionWait: time.Hour, Probability: 1, MaxTraces: 2}, st, nil, nil)
	ctx := context.Background()
	a, b, c := sampledTrace(1, 1, time.Millisecond, false), sampledTrace(2, 1, time.Millisecond, false), sampledTrace(3, 1, time.Millisecond, false)
	for _, tr := range [][]events.Event{a, b, c} {
		if err := smp.Add(ctx, "default", tr); err != nil {
			t.Fatal(err)
		}
	}
	if got := stored(t, st, "default"); len(got) != 1 || got[a[0].TraceID] != 1 {
		t.Errorf("after a third trace over MaxTraces 2: stored %v, want the first trace", got)
	}
	if err := smp.Add(ctx, "team-a", a); err != nil { // the same trace id, another tenant: its own trace
		t.Fatal(err)
	}
	if err := smp.Decide(ctx, time.Now(), true); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, st, "default"); len(got) != 3 {
		t.Errorf("after deciding all: %d traces stored, want 3", len(got))
	}
	if got := stored(t, st, "team-a"); len(got) != 1 {
		t.Errorf("team-a: %d traces stored, want 1", len(got))
	}
	if len(smp.pending) != 0 || len(smp.queue) != 0 {
		t.Errorf("%d traces still pending", len(smp.pending))
	}
}
