package events_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/horus-obs/horus/bench/eventgen"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/store/events/wal"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(t testing.TB, dir string, opts events.Options) *events.Store {
	t.Helper()
	if opts.WAL.Sync == 0 {
		opts.WAL.Sync = wal.SyncNever
	}
	s, err := events.Open(dir, quiet(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// reopen closes s and opens its directory again, as a restart does.
func reopen(t testing.TB, s *events.Store, dir string) *events.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return open(t, dir, events.Options{})
}

func generate(n int, seed uint64) (spans, logs []events.Event) {
	g := eventgen.New(seed, t0, 10*time.Millisecond)
	for len(logs) < n {
		r := g.Next()
		spans = append(spans, r.Spans...)
		logs = append(logs, r.Logs...)
	}
	return spans, logs
}

func appendAll(t testing.TB, s *events.Store, tenant string, kind events.Kind, evs []events.Event) {
	t.Helper()
	for i := 0; i < len(evs); i += 500 {
		if err := s.Append(context.Background(), tenant, kind, evs[i:min(i+500, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
}

// canon makes events comparable after a trip through a block: attributes
// sorted by key (Parquet maps keep no order), empty lists as nil.
func canon(evs []events.Event) []events.Event {
	out := make([]events.Event, len(evs))
	for i, e := range evs {
		e.Attrs = sortAttrs(e.Attrs)
		e.Resource = sortAttrs(e.Resource)
		for j := range e.Events {
			e.Events[j].Attrs = sortAttrs(e.Events[j].Attrs)
		}
		if len(e.Events) == 0 {
			e.Events = nil
		}
		if len(e.Links) == 0 {
			e.Links = nil
		}
		out[i] = e
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Time != out[j].Time {
			return out[i].Time < out[j].Time
		}
		return string(out[i].SpanID[:])+out[i].Body < string(out[j].SpanID[:])+out[j].Body
	})
	return out
}

func firstDiff(a, b []events.Event) string {
	a, b = canon(a), canon(b)
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("event %d:\n got %+v\nwant %+v", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d, %d", len(a), len(b))
}

func sortAttrs(a events.Attrs) events.Attrs {
	if len(a) == 0 {
		return nil
	}
	a = slices.Clone(a)
	sort.Slice(a, func(i, j int) bool { return a[i].Key < a[j].Key })
	return a
}

func selectAll(t testing.TB, s *events.Store, q events.Query) []events.Event {
	t.Helper()
	evs, st, err := s.Select(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if st.Corrupt > 0 {
		t.Fatalf("corrupt row groups: %v", st.Warnings)
	}
	return evs
}

func TestRecordRoundTrip(t *testing.T) {
	spans, logs := generate(200, 1)
	spans[3].Links = []events.SpanLink{{TraceID: spans[0].TraceID, SpanID: spans[0].SpanID, TraceState: "a=b",
		Attrs: events.Attrs{{Key: "f", Value: events.Float(1.5)}, {Key: "b", Value: events.Bool(true)}, {Key: "x", Value: events.Bytes([]byte{0, 1})}}}}
	for _, tc := range []struct {
		kind events.Kind
		evs  []events.Event
	}{{events.KindSpan, spans}, {events.KindLog, logs}, {events.KindChange, logs}} {
		rec := events.AppendRecord(nil, "team-a", tc.kind, tc.evs)
		tenant, kind, got, err := events.DecodeRecord(string(rec))
		if err != nil {
			t.Fatal(err)
		}
		if tenant != "team-a" || kind != tc.kind || !reflect.DeepEqual(got, tc.evs) {
			t.Fatalf("%v: round trip differs", tc.kind)
		}
		// Every truncation fails cleanly.
		for i := 0; i < len(rec); i += 1 + len(rec)/500 {
			if _, _, _, err := events.DecodeRecord(string(rec[:i])); err == nil {
				t.Fatalf("record cut at %d of %d decoded", i, len(rec))
			}
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	spans, logs := generate(20, 2)
	f.Add(events.AppendRecord(nil, "t", events.KindSpan, spans[:5]))
	f.Add(events.AppendRecord(nil, "t", events.KindLog, logs[:5]))
	f.Add([]byte{1, 1, 0, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		tenant, kind, evs, err := events.DecodeRecord(string(b))
		if err != nil {
			return
		}
		// What decodes re-encodes to the same events.
		rec := events.AppendRecord(nil, tenant, kind, evs)
		_, _, again, err := events.DecodeRecord(string(rec))
		if err != nil || !reflect.DeepEqual(again, evs) {
			t.Fatalf("re-encoded record differs: %v", err)
		}
	})
}

func TestStoreHeadBlocksAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, events.Options{})
	spans, logs := generate(3000, 3)
	half := len(logs) / 2
	appendAll(t, s, "a", events.KindSpan, spans)
	appendAll(t, s, "a", events.KindLog, logs[:half])
	appendAll(t, s, "b", events.KindLog, logs[:10])

	check := func(stage string) {
		t.Helper()
		got := selectAll(t, s, events.Query{Tenant: "a", Kind: events.KindSpan})
		if !reflect.DeepEqual(canon(got), canon(spans)) {
			t.Fatalf("%s: spans differ: %s", stage, firstDiff(got, spans))
		}
		got = selectAll(t, s, events.Query{Tenant: "a", Kind: events.KindLog})
		if !reflect.DeepEqual(canon(got), canon(logs)) {
			t.Fatalf("%s: logs differ: got %d want %d", stage, len(got), len(logs))
		}
		if got := selectAll(t, s, events.Query{Tenant: "b", Kind: events.KindLog}); len(got) != 10 {
			t.Fatalf("%s: tenant b has %d logs, want 10", stage, len(got))
		}
		tr, err := s.Trace(context.Background(), "a", spans[7].TraceID)
		if err != nil {
			t.Fatal(err)
		}
		var want []events.Event
		for _, sp := range spans {
			if sp.TraceID == spans[7].TraceID {
				want = append(want, sp)
			}
		}
		if len(want) < 5 || !reflect.DeepEqual(canon(tr), canon(want)) {
			t.Fatalf("%s: trace has %d spans, want %d", stage, len(tr), len(want))
		}
		if tr, _ := s.Trace(context.Background(), "b", spans[7].TraceID); len(tr) != 0 {
			t.Fatalf("%s: trace of tenant a visible to tenant b", stage)
		}
	}

	// Head + a cut + more head.
	s.Maintain(context.Background(), true)
	appendAll(t, s, "a", events.KindLog, logs[half:])
	check("head and block")
	if st := s.Status(); len(st.Tenants) != 3 || st.Tenants[0].Blocks != 1 {
		t.Fatalf("status: %+v", st)
	}

	// Restart: the WAL brings the head back.
	s = reopen(t, s, dir)
	check("after restart")

	// Everything in blocks, then compacted into one per tenant and kind.
	s.Maintain(context.Background(), true)
	check("blocks")
	st := s.Status()
	for _, ts := range st.Tenants {
		if ts.HeadEvents != 0 || ts.Blocks != 1 {
			t.Fatalf("after compaction: %+v", ts)
		}
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*")); len(segs) != 1 {
		t.Fatalf("WAL not truncated: %v", segs)
	}
	s = reopen(t, s, dir)
	check("blocks after restart")
}

func TestSelectFiltersOrderLimit(t *testing.T) {
	s := open(t, t.TempDir(), events.Options{})
	spans, logs := generate(5000, 4)
	appendAll(t, s, "a", events.KindLog, logs[:2500])
	s.Maintain(context.Background(), true)
	appendAll(t, s, "a", events.KindLog, logs[2500:])
	appendAll(t, s, "a", events.KindSpan, spans)

	ref := func(kind events.Kind, evs []events.Event, q events.Query) []events.Event {
		var out []events.Event
		for _, f := range q.Filters {
			_ = f
		}
		fs := slices.Clone(q.Filters)
		for i := range fs {
			if err := fs[i].Compile(); err != nil {
				t.Fatal(err)
			}
		}
		for _, e := range evs {
			ok := e.Time >= q.Start && (q.End == 0 || e.Time < q.End)
			for i := range fs {
				ok = ok && fs[i].Match(&e)
			}
			if ok {
				out = append(out, e)
			}
		}
		return out
	}
	mid := logs[len(logs)/2].Time
	cases := []events.Query{
		{Kind: events.KindLog, Filters: []events.Filter{{Field: "service_name", Op: events.Eq, Value: "payments"}}},
		{Kind: events.KindLog, Filters: []events.Filter{{Field: "level", Op: events.Eq, Value: "error"}}},
		{Kind: events.KindLog, Filters: []events.Filter{{Field: "body", Op: events.Token, Value: "BANK"}}},
		{Kind: events.KindLog, Filters: []events.Filter{{Field: "body", Op: events.Contains, Value: "cache miss"}}},
		{Kind: events.KindLog, Start: mid, Filters: []events.Filter{{Field: "resource.host.name", Op: events.Re, Value: "orders-.*-1"}}},
		{Kind: events.KindLog, End: mid, Filters: []events.Filter{{Field: "user_id", Op: events.Neq, Value: logs[0].Attrs[0].Value.Str}}},
		{Kind: events.KindLog, Filters: []events.Filter{{Field: "trace_id", Op: events.Eq, Value: logs[100].TraceID.String()}}},
		// Stream filters (evaluated once per stream) with row filters.
		{Kind: events.KindLog, Start: mid, Filters: []events.Filter{{Field: "stream.host", Op: events.Re, Value: "orders-.*-[12]"},
			{Field: "body", Op: events.Contains, Value: "order"}, {Field: "stream.service_name", Op: events.Neq, Value: "payments"}}},
		{Kind: events.KindLog, Filters: []events.Filter{{Field: "stream.level", Op: events.Eq, Value: "warn"}, {Field: "stream.env", Op: events.Eq, Value: "prod"}}},
		{Kind: events.KindSpan, Filters: []events.Filter{{Field: "duration", Op: events.Gt, Value: "1000000000"}}},
		{Kind: events.KindSpan, Filters: []events.Filter{{Field: "attrs.http.response.status_code", Op: events.Ge, Value: "500"}, {Field: "kind", Op: events.Eq, Value: "2"}}},
		{Kind: events.KindSpan, Filters: []events.Filter{{Field: "db.system", Op: events.Exists}}},
		{Kind: events.KindSpan, Filters: []events.Filter{{Field: "scope_version", Op: events.Eq, Value: "0.63.0"}, {Field: "start_time", Op: events.Lt, Value: fmt.Sprint(mid)}}},
		{Kind: events.KindSpan, Filters: []events.Filter{{Field: "server.address", Op: events.NotRe, Value: "api\\..*"}, {Field: "status_code", Op: events.Eq, Value: "2"}}},
		{Kind: events.KindSpan, Filters: []events.Filter{{Field: "trace_id", Op: events.In, Value: spans[3].TraceID.String() + "," + spans[len(spans)-1].TraceID.String() + ",ffff"}}},
	}
	for i, q := range cases {
		q.Tenant = "a"
		src := logs
		if q.Kind == events.KindSpan {
			src = spans
		}
		want := ref(q.Kind, src, q)
		got := selectAll(t, s, q)
		if !reflect.DeepEqual(canon(got), canon(want)) {
			t.Errorf("case %d %+v: %s", i, q.Filters, firstDiff(got, want))
		}
		if i < 3 && len(want) == 0 {
			t.Errorf("case %d matches nothing: a weak test", i)
		}
		// Newest first with a limit: the newest `limit` events, in order.
		q.Newest, q.Limit = true, 7
		got = selectAll(t, s, q)
		sort.SliceStable(want, func(i, j int) bool { return want[i].Time > want[j].Time })
		if len(want) > 7 {
			want = want[:7]
		}
		for j := range got {
			if j >= len(want) || got[j].Time != want[j].Time {
				t.Fatalf("case %d newest: got times %v", i, times(got))
			}
		}
		if len(got) != len(want) {
			t.Fatalf("case %d newest: got %d, want %d", i, len(got), len(want))
		}
	}
	if _, _, err := s.Select(context.Background(), events.Query{Tenant: "a", Kind: events.KindLog, Filters: []events.Filter{{Field: "body", Op: events.Re, Value: "("}}}); err == nil {
		t.Fatal("bad regexp accepted")
	}
}

func times(evs []events.Event) []int64 {
	var ts []int64
	for _, e := range evs {
		ts = append(ts, e.Time)
	}
	return ts
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, events.Options{Retention: time.Hour, Tenants: map[string]events.TenantLimits{"keep": {Retention: 1000 * time.Hour}}})
	_, logs := generate(100, 5)
	appendAll(t, s, "gone", events.KindLog, logs) // from 2026-11-20: older than an hour
	appendAll(t, s, "keep", events.KindLog, logs)
	s.Maintain(context.Background(), true)
	if got := selectAll(t, s, events.Query{Tenant: "gone", Kind: events.KindLog}); len(got) != 0 {
		t.Fatalf("expired events still served: %d", len(got))
	}
	if got := selectAll(t, s, events.Query{Tenant: "keep", Kind: events.KindLog}); len(got) != len(logs) {
		t.Fatalf("tenant override ignored: %d of %d", len(got), len(logs))
	}
	if d, _ := filepath.Glob(filepath.Join(dir, "blocks", "gone", "logs", "*")); len(d) != 0 {
		t.Fatalf("expired block not deleted: %v", d)
	}
}

func TestCheckTenant(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "a b", string(make([]byte, 151))} {
		if events.CheckTenant(bad) == nil {
			t.Errorf("tenant %q accepted", bad)
		}
	}
	if err := events.CheckTenant("team-a_1.prod"); err != nil {
		t.Error(err)
	}
}

// TestExactDuplicatesDropped: a shipper that retries a push after a
// timeout sends the same lines again; as Loki's ingester, the store keeps
// one of each exact duplicate (same stream, timestamp, line and metadata)
// in the head and after WAL replay, and keeps lines that differ in any
// one of those.
func TestExactDuplicatesDropped(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, events.Options{})
	ts := t0.UnixNano()
	line := func(body string, at int64, sm ...events.Attr) events.Event {
		return events.Event{Time: at, Service: "checkout", Body: body, Severity: 9,
			Resource: events.Attrs{{Key: "service.name", Value: events.Str("checkout")}}, Attrs: sm}
	}
	batch := []events.Event{
		line("payment accepted", ts),
		line("payment accepted", ts), // a duplicate inside one push
		line("payment accepted", ts+1),
		line("payment declined", ts),
		line("payment accepted", ts, events.Attr{Key: "order_id", Value: events.Str("o-1")}),
	}
	other := line("payment accepted", ts)
	other.Resource = events.Attrs{{Key: "service.name", Value: events.Str("checkout")}, {Key: "k8s.pod.name", Value: events.Str("b")}}
	batch = append(batch, other)
	appendAll(t, s, "t", events.KindLog, batch)
	appendAll(t, s, "t", events.KindLog, batch) // the retry
	const want = 5
	q := events.Query{Kind: events.KindLog, Tenant: "t", Start: ts - 1, End: ts + 10}
	if got := selectAll(t, s, q); len(got) != want {
		t.Fatalf("after a retry: %d lines stored, want %d", len(got), want)
	}
	s = reopen(t, s, dir)
	if got := selectAll(t, s, q); len(got) != want {
		t.Fatalf("after WAL replay: %d lines, want %d", len(got), want)
	}
	appendAll(t, s, "t", events.KindLog, batch[:1]) // a retry after the restart
	if got := selectAll(t, s, q); len(got) != want {
		t.Fatalf("retry after WAL replay: %d lines, want %d", len(got), want)
	}
}

// TestAppendWhileScanning appends to a head while queries scan it; under
// the race detector this caught a chunk's slice header written by append
// while a scan read it.
func TestAppendWhileScanning(t *testing.T) {
	s := open(t, t.TempDir(), events.Options{})
	_, logs := generate(3000, 7)
	done := make(chan struct{})
	go func() {
		defer close(done)
		appendAll(t, s, "t", events.KindLog, logs)
	}()
	q := events.Query{Kind: events.KindLog, Tenant: "t", Start: 0, End: 1 << 62}
	for scans := 0; ; scans++ {
		select {
		case <-done:
			if got := selectAll(t, s, q); len(got) == 0 {
				t.Fatal("no events after the appends")
			}
			return
		default:
			_ = selectAll(t, s, q)
		}
	}
}

// TestCompactsSmallBlocksOnly: blocks under a quarter of a row group (heads
// cut by age at a trickle) are merged within their window; blocks of a
// head cut by size are left as they are, not written a second time.
func TestCompactsSmallBlocksOnly(t *testing.T) {
	_, logs := generate(1600, 4)
	for _, c := range []struct {
		per, blocks int // rows a block; blocks after compaction
	}{{50, 1}, {400, 4}} {
		s := open(t, t.TempDir(), events.Options{RowGroupRows: 800})
		for i := 0; i < 4*c.per; i += c.per {
			appendAll(t, s, "a", events.KindLog, logs[i:i+c.per])
			s.Maintain(context.Background(), true)
		}
		s.Maintain(context.Background(), true)
		if st := s.Status(); len(st.Tenants) != 1 || st.Tenants[0].Blocks != c.blocks {
			t.Errorf("blocks of %d rows: %+v, want %d blocks", c.per, st.Tenants, c.blocks)
		}
		if evs := selectAll(t, s, events.Query{Tenant: "a", Kind: events.KindLog}); len(evs) != 4*c.per {
			t.Errorf("blocks of %d rows: %d events, want %d", c.per, len(evs), 4*c.per)
		}
	}
}
