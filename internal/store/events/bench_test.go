package events_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/store/events/wal"
)

// The figures of docs/benchmarks.md come from bench/eventbench on ten
// million events; these benchmarks follow the same paths at a size that
// runs in seconds.

func benchAppend(b *testing.B, kind events.Kind) {
	spans, logs := generate(100_000, 21)
	evs := logs
	if kind == events.KindSpan {
		evs = spans
	}
	s := open(b, b.TempDir(), events.Options{WAL: wal.Options{Sync: wal.SyncInterval}})
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		lo := (i * 1000) % (len(evs) - 1000)
		if err := s.Append(context.Background(), "t", kind, evs[lo:lo+1000]); err != nil {
			b.Fatal(err)
		}
		n += 1000
	}
	b.StopTimer()
	s.Maintain(context.Background(), true)
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppendLogs(b *testing.B)  { benchAppend(b, events.KindLog) }
func BenchmarkAppendSpans(b *testing.B) { benchAppend(b, events.KindSpan) }

// BenchmarkBlockWrite is cutting and writing a head of 100k log lines.
func BenchmarkBlockWrite(b *testing.B) {
	_, logs := generate(100_000, 22)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := open(b, b.TempDir(), events.Options{})
		appendAll(b, s, "t", events.KindLog, logs)
		b.StartTimer()
		s.Maintain(context.Background(), true)
	}
	b.ReportMetric(float64(len(logs)*b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkTraceByID(b *testing.B) {
	spans, _ := generate(200_000, 23)
	s := open(b, b.TempDir(), events.Options{})
	appendAll(b, s, "t", events.KindSpan, spans)
	s.Maintain(context.Background(), true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := spans[(i*7919)%len(spans)].TraceID
		tr, err := s.Trace(context.Background(), "t", id)
		if err != nil || len(tr) == 0 {
			b.Fatal(err, len(tr))
		}
	}
}

func BenchmarkCountByLevel(b *testing.B) {
	_, logs := generate(500_000, 24)
	s := open(b, b.TempDir(), events.Options{})
	appendAll(b, s, "t", events.KindLog, logs)
	s.Maintain(context.Background(), true)
	q := events.Query{Tenant: "t", Kind: events.KindLog, Fields: []string{"level"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		counts := map[string]int{}
		if _, err := s.Scan(context.Background(), q, func(evs []events.Event) error {
			for j := range evs {
				counts[evs[j].Level()]++
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(logs)*b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkHeadBytesPerLine is the memory the head holds per log line:
// the live heap after appending 200,000 of bench/eventgen's lines (each
// batch made afresh, every string and attribute list allocated as the
// JSON lines decoder allocates them, and dropped after Append, as a
// request's are), minus the live heap before, over the lines. It also
// reports the head's own estimate (Status().HeadBytes), which
// head_max_bytes is compared with. docs/benchmarks.md, "Logs path
// performance", gives the figures.
func BenchmarkHeadBytesPerLine(b *testing.B) {
	const lines, batch = 200_000, 10_000
	_, logs := generate(lines, 25)
	logs = logs[:lines]
	for i := 0; i < b.N; i++ {
		s := open(b, b.TempDir(), events.Options{HeadMaxBytes: 1 << 40, HeadMaxAge: time.Hour})
		before := liveHeap()
		for lo := 0; lo < lines; lo += batch {
			evs := decodedCopy(logs[lo : lo+batch])
			if err := s.Append(context.Background(), "t", events.KindLog, evs); err != nil {
				b.Fatal(err)
			}
		}
		after := liveHeap()
		var est int
		for _, t := range s.Status().Tenants {
			est += t.HeadBytes
		}
		b.ReportMetric(float64(after-before)/lines, "head-B/line")
		b.ReportMetric(float64(est)/lines, "estimate-B/line")
		runtime.KeepAlive(s)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// decodedCopy copies events as a decoder makes them: each string
// allocated on its own, attributes appended one at a time; the resource,
// which a decoder shares between the lines of a request, is shared.
func decodedCopy(in []events.Event) []events.Event {
	out := make([]events.Event, 0, len(in))
	for i := range in {
		e := in[i]
		e.Body = strings.Clone(e.Body)
		e.SeverityText = strings.Clone(e.SeverityText)
		e.Service = strings.Clone(e.Service)
		var attrs events.Attrs
		for _, a := range in[i].Attrs {
			a.Value.Str = strings.Clone(a.Value.Str)
			attrs = append(attrs, a)
		}
		e.Attrs = attrs
		out = append(out, e)
	}
	return out
}
