package events_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
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

// TestBodyGrams checks that substring search skips the row groups whose
// bodies lack one of the needle's trigrams, finds what is there, and that
// blocks written before trigrams (index.bin "HORUSIX1") are never skipped.
func TestBodyGrams(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, events.Options{})
	_, logs := generate(3000, 5)
	appendAll(t, s, "a", events.KindLog, logs)
	s.Maintain(context.Background(), true)
	ctx := context.Background()
	count := func(s *events.Store, needle string) (int, events.ScanStats) {
		t.Helper()
		evs, st, err := s.Select(ctx, events.Query{Tenant: "a", Kind: events.KindLog,
			Filters: []events.Filter{{Field: "body", Op: events.Contains, Value: needle}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs), st
	}
	if n, st := count(s, "cache miss"); n == 0 || st.Skipped != 0 {
		t.Errorf("present needle: %d lines, %d of %d units skipped", n, st.Skipped, st.Units)
	}
	if n, st := count(s, "timeout"); n != 0 || st.Units == 0 || st.Skipped != st.Units {
		t.Errorf("absent needle: %d lines, %d of %d units skipped", n, st.Skipped, st.Units)
	}
	_ = s.Close()

	// The same block with a version 1 index: read, not skipped.
	ixs, _ := filepath.Glob(filepath.Join(dir, "blocks", "a", "logs", "*", "index.bin"))
	if len(ixs) == 0 {
		t.Fatal("no index.bin")
	}
	for _, p := range ixs {
		downgradeIndex(t, p, "HORUSIX1")
	}
	s = open(t, dir, events.Options{})
	if n, st := count(s, "timeout"); n != 0 || st.Skipped != 0 {
		t.Errorf("absent needle, old index: %d lines, %d of %d units skipped", n, st.Skipped, st.Units)
	}
	if n, _ := count(s, "cache miss"); n == 0 {
		t.Error("present needle, old index: no lines")
	}
}
