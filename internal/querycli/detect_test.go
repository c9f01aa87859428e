package querycli

import (
	"testing"

	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/query/traceql"
)

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want Lang
	}{
		// PromQL.
		{`up`, PromQL},
		{`sum by (job) (rate(http_requests_total{status=~"5.."}[5m]))`, PromQL},
		{`histogram_quantile(0.99, sum by (le) (rate(traces_spanmetrics_latency_bucket[5m])))`, PromQL},
		{`1 + 1`, PromQL},
		{`vector(1)`, PromQL},
		{`{__name__=~"http_.*", job="api"}`, PromQL},
		{`rate({__name__="http_requests_total"}[5m])`, PromQL},
		{`{"service.name"="api"}`, PromQL},
		// Ambiguous: a bare selector is valid in all three; PromQL wins.
		{`{job="x"}`, PromQL},
		{`{service_name="orders"}`, PromQL},
		{`{name="GET /"}`, PromQL},
		// LogQL: a pipeline, or a metric query over stream selectors.
		{`{service_name="orders"} |= "error"`, LogQL},
		{`{app="x"} != "debug"`, LogQL},
		{`{app="x"} | json | level="error"`, LogQL},
		{`{app="x"} | logfmt | duration > 1s`, LogQL},
		{`rate({job="x"}[5m])`, LogQL},
		{`sum by (level) (count_over_time({service_name="orders"}[1m]))`, LogQL},
		{`sum(rate({app="x"} |= "error" [5m])) / sum(rate({app="x"}[5m]))`, LogQL},
		{`quantile_over_time(0.99, {app="x"} | logfmt | unwrap duration(took) [5m]) by (route)`, LogQL},
		// TraceQL: spansets only TraceQL writes.
		{`{}`, TraceQL},
		{`{ }`, TraceQL},
		{`{ .http.status_code = 500 }`, TraceQL},
		{`{ span.http.route = "/cart" && status = error }`, TraceQL},
		{`{ resource.service.name = "payments" }`, TraceQL},
		{`{ duration > 1s }`, TraceQL},
		{`{ status = error }`, TraceQL},
		{`{ kind = server } >> { span.db.system = "postgresql" }`, TraceQL},
		{`{ trace:rootService = "api" }`, TraceQL},
		{`{ } | rate() by (resource.service.name)`, TraceQL},
		{`{ name = "GET /" } | count() > 2`, TraceQL},
		// None parses: the language it looks like, for its parser's error.
		{`{ .http.status_code = }`, TraceQL},
		{`{ span.x = 1 &&`, TraceQL},
		{`{app="x"} |= `, LogQL},
		{`{} |= "x"`, LogQL},
		{`{ } | count() > `, TraceQL},
		{`{app="x"} | nosuchparser`, LogQL},
		{`sum(rate(x[5m])`, PromQL},
		{``, PromQL},
	} {
		if got := Detect(tc.q); got != tc.want {
			t.Errorf("Detect(%q) = %s, want %s", tc.q, got, tc.want)
		}
	}
}

func TestWithService(t *testing.T) {
	for _, tc := range []struct {
		lang    Lang
		q, want string
	}{
		{PromQL, `sum by (route) (rate(http_requests_total{status="500"}[5m]))`,
			`sum by (route) (rate(http_requests_total{job=~"(.+/)?orders",status="500"}[5m]))`},
		{PromQL, `rate(traces_spanmetrics_calls_total[5m]) / on() group_left() up`,
			`rate(traces_spanmetrics_calls_total{service="orders"}[5m]) / on () group_left () up{job=~"(.+/)?orders"}`},
		{PromQL, `traces_service_graph_request_total`, `traces_service_graph_request_total{server="orders"}`},
		{PromQL, `{__name__="traces_spanmetrics_latency_bucket"}`, `{__name__="traces_spanmetrics_latency_bucket",service="orders"}`},
		{PromQL, `vector(1)`, `vector(1)`},
		{LogQL, `{level="error"} |= "timeout"`, `{level="error", service_name="orders"} |= "timeout"`},
		{LogQL, `sum(rate({level="error"}[5m])) / sum(rate({level=~".+"}[5m]))`,
			`(sum(rate({level="error", service_name="orders"}[5m])) / sum(rate({level=~".+", service_name="orders"}[5m])))`},
		{TraceQL, `{ }`, `{ resource.service.name = "orders" }`},
		{TraceQL, `{ status = error } >> { span.db.system = "pg" }`,
			`({ ((status = error) && resource.service.name = "orders") } >> { ((span.db.system = "pg") && resource.service.name = "orders") })`},
		{TraceQL, `{ duration > 1s } | rate() by (span.http.route)`,
			`{ ((duration > 1s) && resource.service.name = "orders") } | rate() by (span.http.route)`},
	} {
		got, err := WithService(tc.lang, tc.q, "orders")
		if err != nil {
			t.Errorf("WithService(%s, %q): %v", tc.lang, tc.q, err)
			continue
		}
		if got != tc.want {
			t.Errorf("WithService(%s, %q) =\n  %s\nwant\n  %s", tc.lang, tc.q, got, tc.want)
		}
		// What is sent parses, in the same language.
		if l := Detect(got); l != tc.lang && tc.q != `vector(1)` {
			t.Errorf("WithService(%s, %q) = %q, detected as %s", tc.lang, tc.q, got, l)
		}
	}
	// A name with quotes and backslashes stays one string.
	for _, lang := range []Lang{PromQL, LogQL, TraceQL} {
		q := map[Lang]string{PromQL: `up`, LogQL: `{a="b"} |= "x"`, TraceQL: `{ }`}[lang]
		got, err := WithService(lang, q, `we"ird\name`)
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		if Detect(got) != lang {
			t.Errorf("%s: %q is not %s", lang, got, lang)
		}
	}
	if _, err := WithService(PromQL, `sum(`, "x"); err == nil {
		t.Error("a query that does not parse: no error")
	}
}

// FuzzDetect: Detect never panics, answers one of the three languages,
// agrees with the parsers where only one accepts the text, and answers a
// language whose parser accepts it whenever one does.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{
		`up`, `{job="x"}`, `{job="x"} |= "e"`, `rate({a="b"}[5m])`, `{ .a = 1 }`, `{}`, `{ duration > 1s } | rate()`,
		`{ name = "x" }`, `sum(rate(x[5m])) by (job)`, `{a="b"} | json | line_format "{{.x}}"`, `{ span.x = "y" } >> { }`,
		"{ status = error }", "{a=`b`} |~ `x`", `count_over_time({a="b"}[1m]) > 2`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := Detect(q)
		_, lerr := logql.Parse(q)
		_, terr := traceql.Parse(q)
		_, perr := promParser.ParseExpr(q)
		ok := map[Lang]bool{PromQL: perr == nil, LogQL: lerr == nil, TraceQL: terr == nil}
		n := 0
		for _, v := range ok {
			if v {
				n++
			}
		}
		switch {
		case got != PromQL && got != LogQL && got != TraceQL:
			t.Fatalf("Detect(%q) = %q", q, got)
		case n > 0 && !ok[got]:
			t.Fatalf("Detect(%q) = %s, whose parser refuses it, though another accepts it (%v)", q, got, ok)
		}
		if Detect(q) != got {
			t.Fatalf("Detect(%q) is not deterministic", q)
		}
	})
}
