package prom

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// treeDepth is the depth of e's syntax tree, with or without the duration
// expressions of ranges, steps and offsets.
func treeDepth(n parser.Node, durations bool) int {
	d := 0
	for _, c := range children(n, durations) {
		d = max(d, treeDepth(c, durations))
	}
	return d + 1
}

// depthQueries are queries whose estimated depth is their tree's, without
// duration expressions.
var depthQueries = []string{
	`up`, `1`, `-1`, `- - 1`, `-(1)`, `- - up`, `-up * 2`, `-up ^ 2`, `2 ^ 3 ^ 4`,
	`"a"`, `5m`, `-5m`,
	`up{job="a", instance=~"b.*"}`, `{__name__="up"}`, `up offset 5m`, `up offset -5m`, `up @ 100`, `up @ start()`,
	`rate(http_requests_total{job="api"}[5m])`, `rate(x[5m] offset 1m)`,
	`sum by (job) (rate(x[5m]))`, `sum(rate(x[5m])) by (job)`, `sum without (a, b) (x)`,
	`topk(5, sum by (a) (x))`, `count_values("v", x)`, `quantile(0.9, x)`,
	`histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))`,
	`label_replace(up, "a", "$1", "b", "(.*)")`, `time()`, `vector(1)`, `scalar(up)`,
	`a + b * c`, `a * b + c`, `a or b and c`, `a and b or c`, `a + b + c + d`, `a / b / c`,
	`a > bool 1`, `a == on(job) b`, `a * on(x) group_left(y) b`, `a * ignoring(x) group_right b`,
	`a unless b`, `a atan2 b`, `(a + b) * c`, `((a))`, `(((1)))`,
	`max_over_time(rate(x[5m])[30m:1m])`, `max_over_time((a + b)[30m:])`, `rate(x[5m])[10m:1m] offset 1m`,
	`x[1m+1m]`, `x offset (1m + 1m)`, `x[step()]`, `x[5m:step()]`, `x offset min_of(1m, 2m)`,
	`1 + 1 + 1`, `1 - -1`, `+1`, `-(-(up))`, `abs(-up)`,
	"up # a comment\n + 1", `offset`, `sum(by) + offset offset 1m`, `anchored[5m]`,
	`sum(up) / ignoring(a) count(up)`, `absent(up{job="x"}) or absent(up{job="y"})`,
	`x < 10 and x > 1 or y`, `100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))`,
}

func TestEstimateDepth(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, q := range depthQueries {
		e, err := p.ParseExpr(q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		exact, est := treeDepth(e, false), estimateDepth(q, 1000)
		if est != exact {
			t.Errorf("%q: estimated depth %d, tree depth %d", q, est, exact)
		}
		if full := treeDepth(e, true); est > full {
			t.Errorf("%q: estimated depth %d is more than the tree's %d", q, est, full)
		}
	}
}

// attack returns the shapes of the issue: n terms of a chain, n
// nested parentheses, n unary minus.
func attacks(n int) map[string]string {
	return map[string]string{
		"sum chain":   strings.Repeat("1 + ", n) + "1",
		"or chain":    strings.Repeat("up or ", n) + "up",
		"parentheses": strings.Repeat("(", n) + "up" + strings.Repeat(")", n),
		"unary":       strings.Repeat("- ", n) + "up",
		"calls":       strings.Repeat("abs(", n) + "up" + strings.Repeat(")", n),
		"pow":         strings.Repeat("up ^ ", n) + "up",
		"range chain": "x[" + strings.Repeat("1m + ", n) + "1m]",
		"subqueries":  strings.Repeat("max_over_time(", n) + "up" + strings.Repeat("[5m:])", n),
	}
}

func TestLimitsRefuse(t *testing.T) {
	p := NewParser(Limits{})
	for name, q := range attacks(MaxQueryDepth + 1) {
		_, err := p.ParseExpr(q)
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != "depth" {
			t.Errorf("%s of %d: %v; want the depth limit", name, MaxQueryDepth+1, err)
		}
	}
	// At the limit, the same shapes parse (but for those whose tree is
	// deeper than their terms).
	for name, q := range attacks(MaxQueryDepth/2 - 2) {
		if _, err := p.ParseExpr(q); err != nil {
			t.Errorf("%s of %d: %v", name, MaxQueryDepth/2-2, err)
		}
	}
	long := `up{a="` + strings.Repeat("x", MaxQueryLength) + `"}`
	if _, err := p.ParseExpr(long); err == nil || err.Error() != "query is 65544 bytes, more than the limit of 65536" {
		t.Errorf("long query: %v", err)
	}
	if _, err := p.ParseMetricSelectors([]string{long[:MaxQueryLength/2], long[:MaxQueryLength/2+1]}); err == nil ||
		err.Error() != "match[] selectors are 65537 bytes together, more than the limit of 65536" {
		t.Errorf("long selectors: %v", err)
	}
	// A wide tree within the depth limit passes the node limit.
	wide := strings.Repeat("("+strings.Repeat("up + ", 99)+"up) + ", 60) + "up"
	if _, err := p.ParseExpr(wide); err == nil || err.Error() != "query has more than 10000 nodes" {
		t.Errorf("wide query: %v", err)
	}
	small := NewParser(Limits{MaxLength: 12, MaxDepth: 3, MaxNodes: 4})
	for q, want := range map[string]string{
		"up + up + up + up": "query is 17 bytes, more than the limit of 12",
		"-(-(-up))":         "query nests deeper than 3 levels",
		"1+(2+(3))":         "query nests deeper than 3 levels",
		"sum(-(up))":        "query nests deeper than 3 levels",
		"x[1m+1m+1m]":       "query nests deeper than 3 levels", // found after parsing: durations
		"a+b+c":             "query has more than 4 nodes",
		"-1 - -1 - -1":      "query has more than 4 nodes",
		"x[1m:1m+1m]":       "query has more than 4 nodes",
		"sum(a+b)":          "",
		"abs(a)+b":          "",
		"up offset 1m":      "",
		"x offset -1m":      "",
		"topk(1, a)":        "",
		`"s"`:               "",
	} {
		_, err := small.ParseExpr(q)
		if got := ""; err != nil {
			got = err.Error()
			if got != want {
				t.Errorf("%q: %q, want %q", q, got, want)
			}
		} else if want != "" {
			t.Errorf("%q: accepted, want %q", q, want)
		}
	}
}

// FuzzPromQLLimits checks that the depth read from the tokens is the
// parsed tree's without duration expressions: never more than the tree's
// (so the check before parsing refuses nothing that the one after parsing
// accepts) and not less (so what it lets through parses in bounded time);
// and that the limited parser accepts exactly what the parser accepts
// within the limits.
func FuzzPromQLLimits(f *testing.F) {
	for _, q := range depthQueries {
		f.Add(q)
	}
	for _, q := range attacks(5) {
		f.Add(q)
	}
	f.Add(`sum by (a) (x) + on(b) group_left(c) -y{z!~"1"}[5m:1m] offset 1m @ end()`)
	plain := parser.NewParser(parser.Options{})
	limits := Limits{MaxDepth: 6, MaxNodes: 12}
	limited := NewParser(limits)
	f.Fuzz(func(t *testing.T, q string) {
		est := estimateDepth(q, 1<<30)
		e, err := plain.ParseExpr(q)
		_, lerr := limited.ParseExpr(q)
		if err != nil {
			if lerr == nil {
				t.Fatalf("%q: the limited parser accepts what the parser refuses: %v", q, err)
			}
			return
		}
		if d := treeDepth(e, true); est > d {
			t.Fatalf("%q: estimated depth %d, more than the tree's %d", q, est, d)
		}
		if d := treeDepth(e, false); est != d {
			t.Fatalf("%q: estimated depth %d, tree's %d", q, est, d)
		}
		want := limits.CheckTree(e)
		if (want == nil) != (lerr == nil) || (want != nil && want.Error() != lerr.Error() && !strings.Contains(lerr.Error(), "nests deeper")) {
			t.Fatalf("%q: limited parser says %v, the tree check %v", q, lerr, want)
		}
	})
}

// TestFormatWork compares formatWork with the bytes Prometheus' pretty
// printer allocates: the estimate is within a factor of 4 either way.
func TestFormatWork(t *testing.T) {
	p := NewParser(Limits{})
	shapes := worstAccepted()
	shapes["short chain"] = strings.Repeat(`rate(x{job="a"}[5m]) + `, 50) + "1"
	shapes["dashboard"] = `histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket{job=~"api|web", code!~"5.."}[5m]))) / on(job) group_left() sum by (job) (rate(x[5m]))`
	for name, q := range shapes {
		e, err := p.ParseExpr(q)
		if err != nil {
			t.Fatal(err)
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		_ = e.Pretty(0)
		runtime.ReadMemStats(&m1)
		alloc, est := int64(m1.TotalAlloc-m0.TotalAlloc), formatWork(e)
		t.Logf("%s: %d bytes, printer allocated %d, estimated %d", name, len(q), alloc, est)
		if est > 4*alloc || alloc > 4*est {
			t.Errorf("%s: printer allocated %d bytes, estimated %d", name, alloc, est)
		}
	}
}
