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
		`{a="b"} | json status, m="method", x |= ip("10.0.0.0/8") or "x" | client_ip != ip("::1-::9") | a=1, b=-2 or c=+3 d>-5s`,
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

// TestParseLoki: what Loki's grammar (pkg/logql/syntax/syntax.y) accepts
// and how it groups it, shown by how Horus prints the parsed query; every
// want is Loki 3.7.6's format_query answer to the same query.
func TestParseLoki(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// labelExtractionExpression: IDENTIFIER EQ STRING | IDENTIFIER.
		{`{a="b"} | json status, method`, `{a="b"} | json status="status",method="method"`},
		{`{a="b"} | logfmt duration`, `{a="b"} | logfmt duration="duration"`},
		{`{a="b"} | json s="status", method, first="up[0]"`, `{a="b"} | json s="status",method="method",first="up[0]"`},
		{`{a="b"} | logfmt --strict --keep-empty duration, s="status"`, `{a="b"} | logfmt --strict --keep-empty duration="duration",s="status"`},
		{`count_over_time({a="b"} | json status [1m])`, `count_over_time({a="b"} | json status="status"[1m])`},
		// filterOp IP: |= and != ip("..."), also in or chains; ipLabelFilter.
		{`{a="b"} |= ip("10.1.2.0/24")`, `{a="b"} |= ip("10.1.2.0/24")`},
		{`{a="b"} != ip("::1") or "x"`, `{a="b"} != ip("::1") != "x"`},
		{`{a="b"} | logfmt | client_ip = ip("10.0.1.0/24")`, `{a="b"} | logfmt | client_ip=ip("10.0.1.0/24")`},
		{`{a="b"} | client_ip != ip("10.0.0.1-10.0.0.5")`, `{a="b"} | client_ip!=ip("10.0.0.1-10.0.0.5")`},
		// numberFilter, durationFilter, bytesFilter with EQ: numeric
		// equality; literalExpr: + or - NUMBER; a DURATION may be negative.
		{`{a="b"} | status=503`, `{a="b"} | status==503`},
		{`{a="b"} | d=-5s`, `{a="b"} | d==-5s`},
		{`{a="b"} | n > +4`, `{a="b"} | n>4`},
		{`{a="b"} | size=2KB`, `{a="b"} | size==2.0kB`},
		// labelFilter: "and" before "or", a comma or a blank takes the rest.
		{`{a="b"} | x=1, y=2 or z=3`, `{a="b"} | ( x==1 , ( y==2 or z==3 ) )`},
		{`{a="b"} | x=1 or y=2, z=3`, `{a="b"} | ( x==1 or ( y==2 , z==3 ) )`},
		{`{a="b"} | x=1 and y=2 or z=3`, `{a="b"} | ( ( x==1 , y==2 ) or z==3 )`},
		{`{a="b"} | x=1 or y=2 and z=3`, `{a="b"} | ( x==1 or ( y==2 , z==3 ) )`},
		{`{a="b"} | x=1 y=2 z=3`, `{a="b"} | ( x==1 , ( y==2 , z==3 ) )`},
		{`{a="b"} | (x=1 or y=2), z=3`, `{a="b"} | ( ( x==1 or y==2 ) , z==3 )`},
		{`{a="b"} | foo="bar" buzz!="blip", blop=~"boop" or fuzz==5`, `{a="b"} | ( foo="bar" , ( buzz!="blip" , ( blop=~"boop" or fuzz==5 ) ) )`},
	} {
		e, err := Parse(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := e.String(); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}
