package logql

import (
	"slices"
	"testing"

	"github.com/horus-obs/horus/internal/store/events"
)

// TestStoreQuery checks what a log query pushes down to the store: the
// script tests show the answers are right either way, this that the
// lookups the figures depend on are made.
func TestStoreQuery(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tc := range []struct {
		q    string
		want []events.Filter
	}{
		{`{a="1"} |= "x" | trace_id="` + id + `"`, []events.Filter{
			{Field: "stream.a", Op: events.Eq, Value: "1"},
			{Field: "body", Op: events.Contains, Value: "x"},
			{Field: "trace_id", Op: events.Eq, Value: id}}},
		{`{a="1"} | trace_id="` + id + `", span_id="00f067aa0ba902b7"`, []events.Filter{
			{Field: "stream.a", Op: events.Eq, Value: "1"},
			{Field: "trace_id", Op: events.Eq, Value: id},
			{Field: "span_id", Op: events.Eq, Value: "00f067aa0ba902b7"}}},
		// Not pushed: or, a parser or label change before, an empty id.
		{`{a="1"} | trace_id="` + id + `" or level="warn"`, []events.Filter{
			{Field: "stream.a", Op: events.Eq, Value: "1"}}},
		{`{a="1"} | logfmt | trace_id="` + id + `"`, []events.Filter{
			{Field: "stream.a", Op: events.Eq, Value: "1"}}},
		{`{a="1"} | label_format trace_id=b | trace_id="` + id + `"`, []events.Filter{
			{Field: "stream.a", Op: events.Eq, Value: "1"}}},
		{`{a="1"} | trace_id=""`, []events.Filter{
			{Field: "stream.a", Op: events.Eq, Value: "1"}}},
		// A line filter after a line change is not pushed.
		{`{a="1"} | line_format "{{.b}}" |= "x"`, []events.Filter{
			{Field: "stream.a", Op: events.Eq, Value: "1"}}},
	} {
		e, err := Parse(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		got := storeQuery(e.(*LogExpr), "t", 0, 1, true, true).Filters
		if !slices.EqualFunc(got, tc.want, func(a, b events.Filter) bool {
			return a.Field == b.Field && a.Op == b.Op && a.Value == b.Value
		}) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.q, got, tc.want)
		}
	}
}
