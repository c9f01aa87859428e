package logql

import (
	"testing"
)

// FuzzParse checks that no query panics the parser and that a parsed
// query prints as one that parses to the same.
func FuzzParse(f *testing.F) {
	for _, q := range []string{
		`{service_name="api", env=~"prod|dev"} |= "timeout" or "refused" != "health" | json | status >= 500 and duration > 250ms | line_format "{{.msg}}"`,
		`sum by (level) (count_over_time({env="prod"}[1m]))`,
		`topk(3, sum by (service_name) (rate({env="prod"} | logfmt | __error__="" [5m]))) / on (service_name) group_left (x) 2`,
		`quantile_over_time(0.99, {a="b"} | logfmt --strict --keep-empty | unwrap duration(latency) | __error__="" [5m] offset 1h) by (route)`,
		`{a="b"} | pattern "<ip> - <_> [<ts>]" | label_format x=y, z="{{.a}}" | drop a, b="c" | keep d | decolorize |> "<_> err <_>"`,
		`label_replace(vector(1), "a", "$1", "b", "(.*)") > bool 1 or absent_over_time({a="b"}[1m])`,
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		e, err := Parse(q)
		if err != nil {
			return
		}
		s := e.String()
		e2, err := Parse(s)
		if err != nil {
			t.Fatalf("%q parses, but prints as %q, which does not: %v", q, s, err)
		}
		if e2.String() != s {
			t.Fatalf("%q prints as %q, which prints as %q", q, s, e2.String())
		}
	})
}
