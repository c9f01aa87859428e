package traceql

import (
	"context"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
)

// TestMetricsAlignment checks the range alignment and timestamps of
// Tempo's query frontend (grafana/tempo pkg/traceql/engine_metrics.go,
// AlignRequest and IntervalMapperQueryRange) with the example of issue
// 22: a span a minute over 50 minutes, by 1m, is 51 samples stamped with
// their intervals' ends, the first 0, the total 50.
func TestMetricsAlignment(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano()
	minute := int64(time.Minute)
	var spans []events.Event
	for k := range int64(50) {
		spans = append(spans, events.Event{TraceID: events.TraceID{1, byte(k)}, SpanID: events.SpanID{1, byte(k)},
			Time: t0 + 30*int64(time.Second) + k*minute, Duration: int64(time.Millisecond), Name: "send email", Service: "mail"})
	}
	// One on a boundary: it counts in the interval it ends.
	spans = append(spans, events.Event{TraceID: events.TraceID{2}, SpanID: events.SpanID{2}, Time: t0 + 5*minute,
		Duration: int64(time.Millisecond), Name: "boundary", Service: "mail"})
	store := storeOf(t, []*scriptTrace{{spans: spans}})
	run := func(q string, req MetricsRequest) Series {
		t.Helper()
		req.Tenant, req.Query = "default", mustParse(t, q)
		series, _, err := Metrics(context.Background(), store, req)
		if err != nil || len(series) != 1 {
			t.Fatalf("%s: %d series, %v", q, len(series), err)
		}
		return series[0]
	}
	for _, start := range []int64{t0, t0 + 20*int64(time.Second)} {
		req := MetricsRequest{Start: start, End: t0 + 50*minute, Step: minute}
		s := run(`{ name = "send email" } | count_over_time()`, req)
		if len(s.Samples) != 51 || req.Steps() != 51 {
			t.Fatalf("start %d: %d samples, want 51 (Tempo's)", start, len(s.Samples))
		}
		total := 0.0
		for i, v := range s.Samples {
			total += v
			if want := t0 + int64(i)*minute; req.Timestamp(i) != want {
				t.Errorf("sample %d stamped %d, want %d (the interval's end)", i, req.Timestamp(i), want)
			}
			if want := min(float64(i), 1); v != want {
				t.Errorf("sample %d at %s: %v, want %v", i, time.Unix(0, req.Timestamp(i)).UTC().Format("15:04"), v, want)
			}
		}
		if total != 50 {
			t.Errorf("total %v, want 50", total)
		}
	}
	s := run(`{ name = "boundary" } | count_over_time()`, MetricsRequest{Start: t0, End: t0 + 50*minute, Step: minute})
	for i, v := range s.Samples {
		if want := 0.0; i == 5 {
			if v != 1 {
				t.Errorf("the span at 10:05:00 counts at %d, want in the sample stamped 10:05", i)
			}
		} else if v != want {
			t.Errorf("boundary: sample %d is %v", i, v)
		}
	}
	// An instant query counts [start, end], both ends included, stamped end.
	req := MetricsRequest{Start: t0 + 30*int64(time.Second), End: t0 + 5*minute, Instant: true}
	if s := run(`{ } | count_over_time()`, req); len(s.Samples) != 1 || s.Samples[0] != 6 || req.Timestamp(0) != req.End {
		t.Errorf("instant: %v stamped %d, want 6 spans (5 a minute from 10:00:30 and the one at the end) stamped the end", s.Samples, req.Timestamp(0))
	}
}

func mustParse(t *testing.T, q string) *Query {
	t.Helper()
	p, err := Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
