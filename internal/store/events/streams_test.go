package events_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
)

// TestScanStreams checks the per-stream times against a Scan of the same
// query, over a block and the head, for filters of every kind the
// grouped scan handles: none, stream labels, body, ids, a time range.
func TestScanStreams(t *testing.T) {
	s := open(t, t.TempDir(), events.Options{})
	_, logs := generate(6000, 9)
	appendAll(t, s, "a", events.KindLog, logs[:4000])
	s.Maintain(context.Background(), true)
	appendAll(t, s, "a", events.KindLog, logs[4000:])
	ctx := context.Background()
	key := func(e *events.Event, t int64) string {
		return fmt.Sprint(e.StreamLabels(nil), t/int64(time.Minute))
	}
	mid := logs[3000].Time
	for _, q := range []events.Query{
		{},
		{Start: mid, End: logs[5000].Time},
		{Filters: []events.Filter{{Field: "stream.env", Op: events.Eq, Value: "prod"}, {Field: "stream.service_name", Op: events.Re, Value: "orders|payments"}}},
		{Filters: []events.Filter{{Field: "body", Op: events.Contains, Value: "order"}}, Start: mid},
		{Filters: []events.Filter{{Field: "trace_id", Op: events.Eq, Value: logs[4500].TraceID.String()}}},
		{Filters: []events.Filter{{Field: "level", Op: events.Eq, Value: "error"}}},
	} {
		q.Tenant, q.Kind = "a", events.KindLog
		want := map[string]int{}
		if _, err := s.Scan(ctx, q, func(evs []events.Event) error {
			for i := range evs {
				want[key(&evs[i], evs[i].Time)]++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		got := map[string]int{}
		st, err := s.ScanStreams(ctx, q, func(sts []events.StreamTimes) error {
			mu.Lock()
			defer mu.Unlock()
			for _, g := range sts {
				for _, tm := range g.Times {
					got[key(&g.Stream, tm)]++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range want {
			n += c
		}
		if n == 0 || st.Matched != int64(n) || !maps.Equal(got, want) {
			t.Errorf("%+v: %d lines in %d groups, matched %d; want %d lines in %d groups", q.Filters, st.Matched, len(got), st.Matched, n, len(want))
		}
	}
	if _, err := s.ScanStreams(ctx, events.Query{Tenant: "a", Kind: events.KindSpan}, func([]events.StreamTimes) error { return nil }); err == nil {
		t.Error("ScanStreams over spans: no error")
	}
}
