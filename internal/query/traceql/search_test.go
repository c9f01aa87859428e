package traceql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/horus-obs/horus/internal/store/events"
)

func TestPushdown(t *testing.T) {
	for _, c := range []struct{ q, want string }{
		{`{ resource.service.name = "x" && status = error }`, `[{service_name = x} {status_code = 2}]`},
		{`{ span.http.status_code >= 500 && kind = server }`, `[{attrs.http.status_code >= 500} {kind = 2}]`},
		{`{ duration > 1.5s && .db.system =~ "post.*" }`, `[{duration > 1500000000} {db.system =~ (?:post.*)|\[.*}]`},
		{`{ 500 <= span.code }`, `[{attrs.code >= 500}]`},
		{`{ .a = "x" || .b = "y" }`, `[]`},
		{`{ .a > "x" && .b = nil && rootName = "r" }`, `[]`},
		{`{ .a = 1 } >> { .b = 2 && .c = 3 }`, `[{b =~ (?:2)|\[.*} {c =~ (?:3)|\[.*}]`},
		// A negated operator keeps right-side spans even without a
		// left side: the right side's conditions are what is needed.
		{`{ .a = 1 } !> { .b = 2 && .c = 3 }`, `[{b =~ (?:2)|\[.*} {c =~ (?:3)|\[.*}]`},
		// Attributes may be arrays (JSON text in the store), compared
		// element by element: the filters let arrays through
		// (testdata/arrays.txt checks that no match is ruled out).
		{`{ span.skus = "a.b" && span.n < 3 && span.m !~ "x" && span.k != 1 }`, `[{attrs.skus =~ (?:a\.b)|\[.*} {attrs.n exists } {attrs.m exists } {attrs.k != 1}]`},
		{`{ .a = 1 } || { .b = 2 }`, `[]`},
		{`({ name = "n" } | count() > 2) && { }`, `[{name = n}]`},
	} {
		q, err := Parse(c.q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range Pushdown(q) {
			got = append(got, fmt.Sprintf("{%s %s %s}", f.Field, f.Op, f.Value))
		}
		if s := fmt.Sprint(got); s != c.want && (len(got) != 0 || c.want != "[]") {
			t.Errorf("%s: pushdown %s, want %s", c.q, s, c.want)
		}
	}
}

// BenchmarkArrayFilter evaluates a condition on a string-array attribute
// of 100 spans: each array is decoded once per trace, without a copy of
// its strings.
func BenchmarkArrayFilter(b *testing.B) {
	spans := make([]events.Event, 100)
	for i := range spans {
		spans[i] = events.Event{SpanID: events.SpanID{byte(i + 1)}, Attrs: events.Attrs{
			{Key: "skus", Value: events.Value{Type: events.TypeArray, Str: fmt.Sprintf(`["sku-%d","sku-%d","sku-%d","sku-%d"]`, i, i+1, i+2, i+3)}}}}
	}
	q, err := Parse(`{ span.skus = "sku-50" || span.skus =~ "sku-7.*" }`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if sets := q.Eval(NewTrace(spans)); len(sets) != 1 {
			b.Fatal(sets)
		}
	}
}

// TestMaxQueryLength: a query longer than Tempo's default
// max_query_expression_size_bytes (131072) is refused with Tempo's words
// (grafana/tempo modules/frontend/pipeline/async_query_validator_middleware.go).
func TestMaxQueryLength(t *testing.T) {
	q := `{ .a = "` + strings.Repeat("x", 131072) + `" }`
	if _, err := Parse(q); err == nil || !strings.Contains(err.Error(), "TraceQL expression exceeds the configured maximum size of 131072 bytes") {
		t.Errorf("error %v", err)
	}
	if _, err := Parse(q[:131060] + `" }`); err != nil {
		t.Errorf("a query under the limit: %v", err)
	}
}

// BenchmarkStructural evaluates structural operators, negated and not, on
// a trace of 1,201 spans (a root, 40 servers of 29 clients each), the
// size of the largest trace issue 22 compared with Tempo.
func BenchmarkStructural(b *testing.B) {
	spans := []events.Event{{SpanID: events.SpanID{0xff}, SpanKind: 2}}
	for s := range 40 {
		server := events.SpanID{byte(s), 0xee}
		spans = append(spans, events.Event{SpanID: server, ParentSpanID: events.SpanID{0xff}, SpanKind: 2})
		for c := range 29 {
			spans = append(spans, events.Event{SpanID: events.SpanID{byte(s), byte(c)}, ParentSpanID: server, SpanKind: 3, StatusCode: int32(c % 3)})
		}
	}
	for _, q := range []string{`{ kind = server } !> { kind = client }`, `{ kind = server } >> { status = error }`, `{ kind = client } ~ { status = error }`} {
		b.Run(q, func(b *testing.B) {
			p, err := Parse(q)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				p.Eval(NewTrace(spans))
			}
		})
	}
}
