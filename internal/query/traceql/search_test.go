package traceql

import (
	"fmt"
	"testing"
)

func TestPushdown(t *testing.T) {
	for _, c := range []struct{ q, want string }{
		{`{ resource.service.name = "x" && status = error }`, `[{service_name = x} {status_code = 2}]`},
		{`{ span.http.status_code >= 500 && kind = server }`, `[{attrs.http.status_code >= 500} {kind = 2}]`},
		{`{ duration > 1.5s && .db.system =~ "post.*" }`, `[{duration > 1500000000} {db.system =~ post.*}]`},
		{`{ 500 <= span.code }`, `[{attrs.code >= 500}]`},
		{`{ .a = "x" || .b = "y" }`, `[]`},
		{`{ .a > "x" && .b = nil && rootName = "r" }`, `[]`},
		{`{ .a = 1 } >> { .b = 2 && .c = 3 }`, `[{b = 2} {c = 3}]`},
		{`{ .a = 1 } !> { .b = 2 && .c = 3 }`, `[{a = 1}]`},
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
