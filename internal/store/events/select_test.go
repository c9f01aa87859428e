package events_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/horus-obs/horus/internal/store/events"
)

// TestSelectNewestPages: a newest-N query reads only the pages that hold
// its rows (the column chunks' offset index) for the columns its filters
// do not read. Over a block of several pages per column, every event
// returned must be whole and the one a full read gives: flat columns,
// dictionary columns and the attribute maps, whose values are not one a
// row.
func TestSelectNewestPages(t *testing.T) {
	s := open(t, t.TempDir(), events.Options{})
	_, logs := generate(60000, 9) // bodies: several 1 MiB pages
	appendAll(t, s, "a", events.KindLog, logs)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mid := logs[len(logs)/2].Time
	cases := []struct {
		q     events.Query
		limit int
	}{
		{events.Query{Filters: []events.Filter{{Field: "stream.service_name", Op: events.Eq, Value: "payments"}, {Field: "stream.level", Op: events.Eq, Value: "error"}}}, 100},
		{events.Query{Filters: []events.Filter{{Field: "service_name", Op: events.Eq, Value: "orders"}}}, 3000},
		{events.Query{End: mid, Filters: []events.Filter{{Field: "level", Op: events.Eq, Value: "warn"}}}, 40},
		{events.Query{}, 500},
		{events.Query{Filters: []events.Filter{{Field: "body", Op: events.Contains, Value: "cache miss"}}}, 2000},
		{events.Query{Filters: []events.Filter{{Field: "caller", Op: events.Eq, Value: "payments/charge.go:88"}}, Fields: []string{"body", "attrs"}}, 60},
	}
	for i, c := range cases {
		q := c.q
		q.Tenant, q.Kind, q.Newest, q.Limit = "a", events.KindLog, true, c.limit
		all := q
		all.Limit, all.Newest, all.Fields = 0, false, nil
		want := selectAll(t, s, all)
		if len(want) < c.limit/2 {
			t.Fatalf("case %d: %d matches: a weak test", i, len(want))
		}
		sort.SliceStable(want, func(i, j int) bool { return want[i].Time > want[j].Time })
		got := selectAll(t, s, q)
		if len(got) != min(c.limit, len(want)) {
			t.Fatalf("case %d: %d events, want %d", i, len(got), min(c.limit, len(want)))
		}
		if q.Fields != nil {
			// Only the fields asked for (and the filters') are set.
			for j := range want {
				want[j] = events.Event{Time: want[j].Time, Body: want[j].Body, Attrs: want[j].Attrs}
			}
			for j := range got {
				got[j] = events.Event{Time: got[j].Time, Body: got[j].Body, Attrs: got[j].Attrs}
			}
		}
		// Events at the cut's time may be any of those with that time.
		cut := got[len(got)-1].Time
		inner := func(evs []events.Event) []events.Event {
			return slices.DeleteFunc(slices.Clone(evs), func(e events.Event) bool { return e.Time <= cut })
		}
		if g, w := inner(got), inner(want[:len(got)]); !reflect.DeepEqual(canon(g), canon(w)) {
			t.Fatalf("case %d: %s", i, firstDiff(g, w))
		}
		atCut := canon(slices.DeleteFunc(slices.Clone(want), func(e events.Event) bool { return e.Time != cut }))
		for _, e := range canon(slices.DeleteFunc(got, func(e events.Event) bool { return e.Time != cut })) {
			if !slices.ContainsFunc(atCut, func(w events.Event) bool { return reflect.DeepEqual(e, w) }) {
				t.Fatalf("case %d: event at the cut %+v is not one of the matches", i, e)
			}
		}
	}
}

// TestScanLimitSkips: a scan with a limit skips the row groups older
// than the newest Limit events it has passed on, and what it passes on
// holds the newest Limit.
func TestScanLimitSkips(t *testing.T) {
	s := open(t, t.TempDir(), events.Options{RowGroupRows: 2000})
	_, logs := generate(20000, 10)
	appendAll(t, s, "a", events.KindLog, logs)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, newest := range []bool{true, false} {
		q := events.Query{Tenant: "a", Kind: events.KindLog, Newest: newest, Limit: 50,
			Filters: []events.Filter{{Field: "level", Op: events.Eq, Value: "info"}}}
		want := selectAll(t, s, q)
		var mu sync.Mutex
		var got []int64
		st, err := s.ScanConcurrent(context.Background(), q, func(evs []events.Event) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, times(evs)...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Units < 10 || st.Skipped < st.Units/2 {
			t.Errorf("newest %v: %d of %d units skipped", newest, st.Skipped, st.Units)
		}
		sort.Slice(got, func(i, j int) bool {
			if newest {
				return got[i] > got[j]
			}
			return got[i] < got[j]
		})
		if len(got) < 50 || !slices.Equal(got[:50], times(want)) {
			t.Errorf("newest %v: got %d times, the best %v, want %v", newest, len(got), got[:min(len(got), 50)], times(want))
		}
	}
}

// TestIDOrContains: a line filter for an id finds the events of that
// trace (or span) and the lines that contain it as text, in the head and
// in blocks, reading only the row groups that may hold either.
func TestIDOrContains(t *testing.T) {
	s := open(t, t.TempDir(), events.Options{RowGroupRows: 1000})
	_, logs := generate(12000, 11)
	tid, sid := logs[5000].TraceID, logs[200].SpanID
	// A line naming the trace in its text, in another row group and in
	// the head: found by its body.
	logs[9000].Body = "retrying " + strings.ToUpper(tid.String()) + " later, see " + tid.String()
	appendAll(t, s, "a", events.KindLog, logs[:10000])
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	appendAll(t, s, "a", events.KindLog, logs[10000:])
	extra := logs[10500]
	extra.Time++
	extra.Body = "head line for " + tid.String()
	appendAll(t, s, "a", events.KindLog, []events.Event{extra})
	for _, c := range []struct {
		needle string
		want   func(e *events.Event) bool
	}{
		{tid.String(), func(e *events.Event) bool { return e.TraceID == tid || strings.Contains(e.Body, tid.String()) }},
		{strings.ToUpper(tid.String()), func(e *events.Event) bool {
			return e.TraceID == tid || strings.Contains(e.Body, strings.ToUpper(tid.String()))
		}},
		{sid.String(), func(e *events.Event) bool { return e.SpanID == sid }},
		{"not-an-id", func(*events.Event) bool { return false }},
	} {
		q := events.Query{Tenant: "a", Kind: events.KindLog, Filters: []events.Filter{{Field: "body", Op: events.IDOrContains, Value: c.needle}}}
		got, st, err := s.Select(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		var want []events.Event
		for _, e := range append(slices.Clone(logs), extra) {
			if c.want(&e) {
				want = append(want, e)
			}
		}
		if !reflect.DeepEqual(canon(got), canon(want)) {
			t.Errorf("%s: %s", c.needle, firstDiff(got, want))
		}
		if len(c.needle) == 32 && st.Skipped < st.Units/2 {
			t.Errorf("%s: %d of %d units skipped", c.needle, st.Skipped, st.Units)
		}
	}
	bad := events.Filter{Field: "trace_id", Op: events.IDOrContains, Value: tid.String()}
	if err := bad.Compile(); err == nil {
		t.Error("IDOrContains on trace_id accepted")
	}
}

// TestBlockFiltersMatch checks the filters as a block's row groups run
// them (stream filters once per stream by dictionary code, string filters
// in their column, others on filled events) against Filter.Match on every
// event appended, for each operator.
func TestBlockFiltersMatch(t *testing.T) {
	s := open(t, t.TempDir(), events.Options{RowGroupRows: 2000})
	spans, logs := generate(8000, 5)
	appendAll(t, s, "a", events.KindLog, logs)
	appendAll(t, s, "a", events.KindSpan, spans)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	tid := logs[4000].TraceID.String()
	for _, c := range []struct {
		kind events.Kind
		f    []events.Filter
	}{
		{events.KindLog, []events.Filter{{Field: "body", Op: events.Contains, Value: "cache miss"}}},
		{events.KindLog, []events.Filter{{Field: "body", Op: events.Re, Value: ".*(miss|timeout).*"}}},
		{events.KindLog, []events.Filter{{Field: "body", Op: events.NotRe, Value: ".*order.*"}}},
		{events.KindLog, []events.Filter{{Field: "body", Op: events.Token, Value: "BANK"}}},
		{events.KindLog, []events.Filter{{Field: "body", Op: events.Neq, Value: logs[10].Body}}},
		{events.KindLog, []events.Filter{{Field: "body", Op: events.Eq, Value: logs[10].Body}}},
		{events.KindLog, []events.Filter{{Field: "body", Op: events.IDOrContains, Value: tid}}},
		{events.KindLog, []events.Filter{{Field: "body", Op: events.IDOrContains, Value: "charge"}}},
		{events.KindLog, []events.Filter{{Field: "stream.level", Op: events.Re, Value: "warn|error"}, {Field: "stream.service_name", Op: events.Neq, Value: "orders"}}},
		{events.KindLog, []events.Filter{{Field: "severity_number", Op: events.Ge, Value: "13"}, {Field: "body", Op: events.Contains, Value: "o-"}}},
		{events.KindLog, []events.Filter{{Field: "resource.host.name", Op: events.Exists}, {Field: "level", Op: events.Eq, Value: "info"}}},
		{events.KindLog, []events.Filter{{Field: "trace_id", Op: events.Eq, Value: tid}}},
		{events.KindLog, []events.Filter{{Field: "trace_id", Op: events.Eq, Value: tid}, {Field: "body", Op: events.Contains, Value: "o"}, {Field: "stream.service_name", Op: events.Re, Value: ".+"}}},
		{events.KindLog, []events.Filter{{Field: "span_id", Op: events.Eq, Value: logs[4000].SpanID.String()}}},
		{events.KindLog, []events.Filter{{Field: "body", Op: events.Contains, Value: "o-"}, {Field: "body", Op: events.Contains, Value: "charge"}}},
		{events.KindLog, []events.Filter{{Field: "body", Op: events.Contains, Value: "charge"}, {Field: "body", Op: events.NotRe, Value: ".*bank.*"}}},
		{events.KindSpan, []events.Filter{{Field: "name", Op: events.Re, Value: "GET .*"}, {Field: "service_name", Op: events.Eq, Value: "api-gateway"}}},
		{events.KindSpan, []events.Filter{{Field: "status_message", Op: events.Neq, Value: ""}}},
	} {
		in := logs
		if c.kind == events.KindSpan {
			in = spans
		}
		fs := slices.Clone(c.f)
		for i := range fs {
			if err := fs[i].Compile(); err != nil {
				t.Fatal(err)
			}
		}
		// An event by its time, ids, body and name: the rows read must
		// be the rows that matched.
		key := func(e *events.Event) string {
			return fmt.Sprint(e.Time, e.TraceID, e.SpanID, e.Body, e.Name, e.Service)
		}
		var want []string
		for i := range in {
			ok := true
			for j := range fs {
				ok = ok && fs[j].Match(&in[i])
			}
			if ok {
				want = append(want, key(&in[i]))
			}
		}
		var got []string
		for _, e := range selectAll(t, s, events.Query{Tenant: "a", Kind: c.kind, Filters: c.f}) {
			got = append(got, key(&e))
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) || len(want) == 0 || len(want) == len(in) {
			t.Errorf("%+v: %d events, want %d of %d (equal: %v)", c.f, len(got), len(want), len(in), slices.Equal(got, want))
		}
	}
}

// TestBodySearchRowEdges: a block's page-wide substring search finds a
// needle at a body's start and end, and not across two bodies that lie
// next to each other in the page.
func TestBodySearchRowEdges(t *testing.T) {
	s := open(t, t.TempDir(), events.Options{})
	var evs []events.Event
	for i := range 3000 {
		evs = append(evs, events.Event{Time: int64(1e18) + int64(i)*1e6, Service: "s", Body: []string{"abc", "def", "xyz"}[i%3]})
	}
	appendAll(t, s, "a", events.KindLog, evs)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for needle, want := range map[string]int{"ab": 1000, "bc": 1000, "abc": 1000, "cd": 0, "fx": 0, "zab": 0, "yz": 1000, "q": 0} {
		got := selectAll(t, s, events.Query{Tenant: "a", Kind: events.KindLog, Filters: []events.Filter{{Field: "body", Op: events.Contains, Value: needle}}})
		if len(got) != want {
			t.Errorf("%q: %d lines, want %d", needle, len(got), want)
		}
	}
}

// TestInPlaceAttrs: a scan whose callback keeps no event (InPlace) gives
// each event of a block its own attributes, though a batch's share one
// array: the same as a scan that keeps them.
func TestInPlaceAttrs(t *testing.T) {
	s := open(t, t.TempDir(), events.Options{RowGroupRows: 3000})
	_, logs := generate(8000, 3)
	appendAll(t, s, "a", events.KindLog, logs)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	collect := func(inPlace bool) []string {
		var mu sync.Mutex
		var out []string
		q := events.Query{Tenant: "a", Kind: events.KindLog, InPlace: inPlace, Fields: []string{"time", "attrs"},
			Filters: []events.Filter{{Field: "level", Op: events.Neq, Value: "debug"}}}
		if _, err := s.ScanConcurrent(context.Background(), q, func(evs []events.Event) error {
			mu.Lock()
			defer mu.Unlock()
			for i := range evs {
				out = append(out, fmt.Sprint(evs[i].Time, evs[i].Attrs)) // a copy, as InPlace asks
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	kept, inPlace := collect(false), collect(true)
	if len(kept) < 1000 || !slices.Equal(kept, inPlace) {
		t.Fatalf("%d events kept, %d in place; equal: %v", len(kept), len(inPlace), slices.Equal(kept, inPlace))
	}
}
