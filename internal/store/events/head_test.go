package events

import (
	"fmt"
	"reflect"
	"testing"
)

// headEvents reads a head back whole.
func headEvents(t *testing.T, h *head) []Event {
	t.Helper()
	v, _, _ := h.snapshot()
	var out []Event
	if err := v.each(func(evs []Event) error { out = append(out, evs...); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHeadRoundTrip: what a compact head decodes is what was appended,
// for spans with every field and value type, and for logs past the
// interned tables' bound (keys and severity texts then stored in place).
func TestHeadRoundTrip(t *testing.T) {
	res := Attrs{{Key: "service.name", Value: Str("checkout")}, {Key: "host.name", Value: Str("h1")}}
	all := Attrs{{Key: "s", Value: Str("text")}, {Key: "i", Value: Int(-42)}, {Key: "f", Value: Float(2.5)},
		{Key: "b", Value: Bool(true)}, {Key: "y", Value: Bytes([]byte{0, 1})}, {Key: "a", Value: Value{Type: TypeArray, Str: `[1,2]`}},
		{Key: "m", Value: Value{Type: TypeMap, Str: `{"k":1}`}}, {Key: "e", Value: Value{Type: TypeEmpty}}}
	spans := []Event{{
		Time: 1e18, TraceID: TraceID{1}, SpanID: SpanID{2}, Service: "checkout", Resource: res, Scope: "sc", ScopeVer: "1",
		Attrs: all, ParentSpanID: SpanID{3}, Name: "GET /", SpanKind: 2, Duration: 5e6, StatusCode: 2, StatusMessage: "boom",
		TraceState: "a=b", Events: []SpanEvent{{Time: 1e18 + 7, Name: "exception", Attrs: Attrs{{Key: "s", Value: Str("x")}}}},
		Links: []SpanLink{{TraceID: TraceID{9}, SpanID: SpanID{8}, TraceState: "c=d", Attrs: Attrs{{Key: "i", Value: Int(1)}}}},
	}, {Time: 1e18 + 1, TraceID: TraceID{1}, SpanID: SpanID{4}, Service: "checkout", Resource: res, Name: "db"}}
	h := newHead(KindSpan)
	if _, dups := h.append(spans); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
	if got := headEvents(t, h); !reflect.DeepEqual(got, spans) {
		t.Fatalf("spans:\n got %+v\nwant %+v", got, spans)
	}

	n := headMaxInterned + 100
	logs := make([]Event, n)
	for i := range logs {
		logs[i] = Event{Time: int64(i), Service: "api", Resource: res, Severity: 9, SeverityText: fmt.Sprint("lvl", i%(headMaxInterned+50)),
			Body: fmt.Sprint("line ", i), Attrs: Attrs{{Key: fmt.Sprint("k", i), Value: Int(int64(i))}}}
	}
	h = newHead(KindLog)
	h.append(logs)
	if len(h.tab.keys) != headMaxInterned || len(h.tab.texts) != headMaxInterned {
		t.Fatalf("tables hold %d keys, %d texts; want the bound, %d", len(h.tab.keys), len(h.tab.texts), headMaxInterned)
	}
	if got := headEvents(t, h); !reflect.DeepEqual(got, logs) {
		for i := range got {
			if !reflect.DeepEqual(got[i], logs[i]) {
				t.Fatalf("log %d:\n got %+v\nwant %+v", i, got[i], logs[i])
			}
		}
		t.Fatalf("%d logs read, %d appended", len(got), len(logs))
	}
}

// TestHeadTraceAndDuplicates: a trace's positions come oldest first and
// within the view; an exact copy of an event is dropped, an event that
// differs in one attribute is not.
func TestHeadTraceAndDuplicates(t *testing.T) {
	id := TraceID{7}
	evs := []Event{
		{Time: 10, TraceID: id, Body: "a", Service: "s"},
		{Time: 11, Body: "b", Service: "s"},
		{Time: 12, TraceID: id, Body: "c", Service: "s"},
	}
	h := newHead(KindLog)
	h.append(evs)
	if got := h.trace(id, 3); !reflect.DeepEqual(got, []int32{0, 2}) {
		t.Errorf("trace positions %v, want [0 2]", got)
	}
	if got := h.trace(id, 2); !reflect.DeepEqual(got, []int32{0}) {
		t.Errorf("trace positions in a view of 2: %v, want [0]", got)
	}
	if h.trace(TraceID{8}, 3) != nil {
		t.Error("an unknown trace has positions")
	}
	again := append([]Event(nil), evs...)
	again[1].Attrs = Attrs{{Key: "x", Value: Str("y")}}
	if _, dups := h.append(again); dups != 2 {
		t.Errorf("%d duplicates, want 2", dups)
	}
	if n, _ := h.size(); n != 4 {
		t.Errorf("%d events, want 4", n)
	}
}
