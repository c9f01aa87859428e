package querycli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The trace every query test sends: a checkout through orders to
// payments, which fails.
var (
	testTraceID = pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	testSpans   = []testSpan{
		{id: 1, service: "frontend", name: "GET /checkout", start: 0, dur: 100 * time.Millisecond, kind: ptrace.SpanKindServer},
		{id: 2, parent: 1, service: "orders", name: "POST /orders", start: 10 * time.Millisecond, dur: 50 * time.Millisecond, kind: ptrace.SpanKindServer},
		{id: 3, parent: 2, service: "payments", name: "charge", start: 20 * time.Millisecond, dur: 30 * time.Millisecond, kind: ptrace.SpanKindServer, errMsg: "card declined"},
		{id: 4, parent: 1, service: "orders", name: "SELECT carts", start: 70 * time.Millisecond, dur: 20 * time.Millisecond, kind: ptrace.SpanKindClient},
	}
)

// fixture is a Horus with the data of the query tests, and the times
// they were written at.
type fixture struct {
	*horus
	base    time.Time // metrics at base, base+1m, base+2m; log lines from base
	traceAt time.Time
}

func promLabels(name string, lbls ...string) []prompb.Label {
	ls := []prompb.Label{{Name: "__name__", Value: name}}
	for i := 0; i+1 < len(lbls); i += 2 {
		ls = append(ls, prompb.Label{Name: lbls[i], Value: lbls[i+1]})
	}
	return ls
}

func newFixture(t *testing.T) *fixture {
	h := startHorus(t)
	f := &fixture{horus: h, base: time.Now().Add(-8 * time.Minute).Truncate(time.Minute)}
	ms := f.base.UnixMilli()
	samples := func(vs ...float64) []prompb.Sample {
		out := make([]prompb.Sample, len(vs))
		for i, v := range vs {
			out[i] = prompb.Sample{Value: v, Timestamp: ms + int64(i)*60000}
		}
		return out
	}
	h.remoteWrite(t,
		prompb.TimeSeries{Labels: promLabels("http_requests_total", "job", "orders", "route", "/orders", "status", "200"), Samples: samples(10, 70, 130)},
		prompb.TimeSeries{Labels: promLabels("http_requests_total", "job", "orders", "route", "/orders", "status", "500"), Samples: samples(1, 4, 7)},
		prompb.TimeSeries{Labels: promLabels("http_requests_total", "job", "payments", "route", "/charge", "status", "200"), Samples: samples(5, 5, 5)},
	)
	h.otlpCounter(t, "", "inventory", "lookups", 3)
	h.otlpCounter(t, "shop", "cart", "lookups", 4)
	for i, l := range []struct {
		service, level, line string
	}{
		{"orders", "info", "order created id=1"},
		{"orders", "error", "payment failed: card declined"},
		{"payments", "error", "charge refused\tcode=51"},
		{"orders", "info", "order created id=2"},
	} {
		h.pushLog(t, map[string]string{"service_name": l.service, "level": l.level}, f.base.Add(time.Duration(i)*time.Second), l.line)
	}
	f.traceAt = f.base.Add(30 * time.Second)
	h.sendTrace(t, testTraceID, f.traceAt, testSpans)
	return f
}

// want compares a command's result with what it should print.
func want(t *testing.T, what string, r result, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || r.stdout != stdout || r.stderr != stderr {
		t.Errorf("%s: exit %d\n--- stdout:\n%s--- stderr:\n%s--- want exit %d\n--- stdout:\n%s--- stderr:\n%s", what, r.code, r.stdout, r.stderr, code, stdout, stderr)
	}
}

// get reads path?params from Horus as the API answers anyone.
func (h *horus) get(t *testing.T, path string, params url.Values) string {
	t.Helper()
	resp, err := http.Get(h.url + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// lines joins lines with a newline after each.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// utc writes t as the tables do with --utc.
func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

func TestQuery(t *testing.T) {
	f := newFixture(t)
	b0, b1, b2 := f.base, f.base.Add(time.Minute), f.base.Add(2*time.Minute)
	at := b2.Format(time.RFC3339)

	t.Run("promql", func(t *testing.T) {
		want(t, "instant", f.run(t, "query", "--time", at, "http_requests_total"), 0, lines(
			"__name__             job       route    status  VALUE",
			"http_requests_total  orders    /orders  200     130",
			"http_requests_total  orders    /orders  500     7",
			"http_requests_total  payments  /charge  200     5"), "")
		// Flags after the expression, the language named, times relative
		// to now and as Unix seconds.
		want(t, "range", f.run(t, "query", "promql", "sum by (job) (http_requests_total)",
			"--from", strconv.FormatInt(b0.Unix(), 10), "--to", at, "--step", "1m"), 0, lines(
			"job       TIME                     VALUE",
			"orders    "+utc(b0)+"  11",
			"orders    "+utc(b1)+"  74",
			"orders    "+utc(b2)+"  137",
			"payments  "+utc(b0)+"  5",
			"payments  "+utc(b1)+"  5",
			"payments  "+utc(b2)+"  5"), "")
		want(t, "csv", f.run(t, "query", "-o", "csv", "--time", at, `http_requests_total{status="200"}`), 0, lines(
			"__name__,job,route,status,time,value",
			"http_requests_total,orders,/orders,200,"+b2.UTC().Format(time.RFC3339)+",130",
			"http_requests_total,payments,/charge,200,"+b2.UTC().Format(time.RFC3339)+",5"), "")
		r := f.run(t, "query", "-o", "json", "--time", at, "sum(http_requests_total)")
		direct := f.get(t, "/api/v1/query", url.Values{"query": {"sum(http_requests_total)"}, "time": {strconv.FormatInt(b2.Unix(), 10)}})
		want(t, "json", r, 0, direct+"\n", "")
		want(t, "limit", f.run(t, "query", "--limit", "1", "--time", at, "sort(http_requests_total)"), 0, lines(
			"__name__             job       route    status  VALUE",
			"http_requests_total  payments  /charge  200     5"), "warning: results truncated due to limit\n")
		want(t, "scalar", f.run(t, "query", "--time", at, "scalar(sum(http_requests_total))"), 0, lines("VALUE", "142"), "")
		want(t, "no data", f.run(t, "query", "--time", at, "nothing_here"), 0, "", "no data\n")
		want(t, "--since", f.run(t, "query", "--to", at, "--since", "2m", `http_requests_total{status="500"}`, "--step", "1m"), 0, lines(
			"__name__             job     route    status  TIME                     VALUE",
			"http_requests_total  orders  /orders  500     "+utc(b0)+"  1",
			"http_requests_total  orders  /orders  500     "+utc(b1)+"  4",
			"http_requests_total  orders  /orders  500     "+utc(b2)+"  7"), "")
	})

	t.Run("service", func(t *testing.T) {
		// job on metrics, whether written with the label or made by the
		// OTLP translation from service.name.
		want(t, "job", f.run(t, "query", "--service", "orders", "--time", at, "sum(http_requests_total)"), 0, lines("VALUE", "137"), "")
		want(t, "otlp job", f.run(t, "query", "--service", "inventory", "lookups_total"), 0, lines(
			"__name__       job        VALUE",
			"lookups_total  inventory  3"), "")
		// With service.namespace, job is namespace/name.
		want(t, "otlp job in a namespace", f.run(t, "query", "--service", "cart", "lookups_total"), 0, lines(
			"__name__       job        VALUE",
			"lookups_total  shop/cart  4"), "")
		// service on span metrics.
		var r result
		eventually(t, 20*time.Second, "span metrics of orders", func() bool {
			r = f.run(t, "query", "--service", "orders", "sum by (service) (traces_spanmetrics_calls_total)")
			return strings.Contains(r.stdout, " 2\n")
		})
		want(t, "span metrics", r, 0, lines(
			"service  VALUE",
			"orders   2"), "")
		// service_name on logs: every line's stream has it, so it is
		// printed once, on stderr.
		want(t, "logs", f.run(t, "query", "--service", "orders", "--since", "1h", `{level=~".+"} |= "order"`), 0, lines(
			"TIME                     LINE",
			utc(b0.Add(3*time.Second))+"  order created id=2",
			utc(b0)+"  order created id=1"), "common labels: {detected_level=\"info\", level=\"info\", service_name=\"orders\"}\n")
		// resource.service.name on traces.
		want(t, "traces", f.run(t, "query", "--service", "payments", "--since", "1h", "{ status = error }", "-o", "csv"), 0, lines(
			"trace_id,start,duration_ms,root_service,root_span,matched",
			"4bf92f3577b34da6a3ce929d0e0e4736,"+f.traceAt.UTC().Format(time.RFC3339Nano)+",100,frontend,GET /checkout,1"), "")
		want(t, "traces none", f.run(t, "query", "--service", "orders", "--since", "1h", "{ status = error }"), 0, "", "no traces\n")
		r = f.run(t, "query", "-v", "--service", "orders", "--since", "1h", "{ }")
		if !strings.Contains(r.stderr, url.Values{"q": {`{ resource.service.name = "orders" }`}}.Encode()) {
			t.Errorf("-v: %q does not show the query sent", r.stderr)
		}
	})

	t.Run("logql", func(t *testing.T) {
		want(t, "log query", f.run(t, "query", "--since", "1h", `{service_name=~"orders|payments"} |= "c"`), 0, lines(
			"TIME                     LABELS                                                            LINE",
			utc(b0.Add(3*time.Second))+"  {detected_level=\"info\", level=\"info\", service_name=\"orders\"}      order created id=2",
			utc(b0.Add(2*time.Second))+"  {detected_level=\"error\", level=\"error\", service_name=\"payments\"}  charge refused\\tcode=51",
			utc(b0.Add(time.Second))+"  {detected_level=\"error\", level=\"error\", service_name=\"orders\"}    payment failed: card declined",
			utc(b0)+"  {detected_level=\"info\", level=\"info\", service_name=\"orders\"}      order created id=1"), "")
		want(t, "csv", f.run(t, "query", "logql", "--limit", "2", "-o", "csv", `{level="error"}`), 0, lines(
			"time,detected_level,level,service_name,line",
			b0.Add(2*time.Second).UTC().Format(time.RFC3339)+",error,error,payments,charge refused\tcode=51",
			b0.Add(time.Second).UTC().Format(time.RFC3339)+",error,error,orders,payment failed: card declined"), "")
		want(t, "metric instant", f.run(t, "query", "--time", at, `sum by (level) (count_over_time({service_name=~".+"}[10m]))`), 0, lines(
			"level  VALUE",
			"error  2",
			"info   2"), "")
		want(t, "metric limit", f.run(t, "query", "--limit", "1", "--time", at, `sum by (service_name) (count_over_time({service_name=~".+"}[10m]))`), 0, lines(
			"service_name  VALUE",
			"orders        3"), "warning: 2 series, the first 1 printed (--limit)\n")
		want(t, "metric range", f.run(t, "query", "--from", b0.Add(-time.Minute).Format(time.RFC3339), "--to", at, "--step", "1m",
			`sum(count_over_time({service_name="orders"}[1m]))`), 0, lines(
			"TIME                     VALUE",
			utc(b0)+"  1",
			utc(b1)+"  2"), "")
		r := f.run(t, "query", "-o", "json", "--since", "1h", `{service_name="payments"} != "x"`)
		var env struct {
			Status string `json:"status"`
			Data   struct {
				ResultType string `json:"resultType"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &env); err != nil || env.Status != "success" || env.Data.ResultType != "streams" || r.code != 0 {
			t.Errorf("json: %d %q: %v", r.code, r.stdout, err)
		}
	})

	t.Run("traceql", func(t *testing.T) {
		want(t, "search", f.run(t, "query", "--since", "1h", `{ resource.service.name = "orders" }`), 0, lines(
			"TRACE ID                          START                    DURATION  ROOT SERVICE  ROOT SPAN      MATCHED",
			"4bf92f3577b34da6a3ce929d0e0e4736  "+utc(f.traceAt)+"  100ms     frontend      GET /checkout  2"), "")
		// Samples are stamped with their intervals' ends, over the range
		// aligned as Tempo's query frontend aligns it: (b0-1m, b0], (b0,
		// b1] (the error span at b0+30s), (b1, b2].
		want(t, "metrics range", f.run(t, "query", "--from", b0.Format(time.RFC3339), "--to", at, "--step", "1m", `{ status = error } | count_over_time()`), 0, lines(
			"__name__         TIME                     VALUE",
			"count_over_time  "+utc(b0)+"  0",
			"count_over_time  "+utc(b1)+"  1",
			"count_over_time  "+utc(b2)+"  0"), "")
		want(t, "metrics instant", f.run(t, "query", "--time", b1.Format(time.RFC3339), `{ } | count_over_time() by (resource.service.name)`), 0, lines(
			"resource.service.name  VALUE",
			"frontend               1",
			"orders                 2",
			"payments               1"), "")
		r := f.run(t, "query", "traceql", "-o", "json", "--from", strconv.FormatInt(b0.Unix(), 10), "--to", at, `{ }`)
		direct := f.get(t, "/api/search", url.Values{"q": {"{ }"}, "start": {strconv.FormatInt(b0.Unix(), 10)}, "end": {strconv.FormatInt(b2.Unix(), 10)}})
		want(t, "json", r, 0, strings.TrimSuffix(direct, "\n")+"\n", "")
	})
}

// TestQueryErrors: the API's message and exit 1 for a query it refuses,
// exit 2 for a command that is not right.
func TestQueryErrors(t *testing.T) {
	h := startHorus(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"sum(rate(x[5m])"}, 1, `horus query: bad_data: invalid parameter "query": 1:16: parse error: unclosed left parenthesis`},
		{[]string{"logql", `{app="x"`}, 1, "horus query: parse error at position 9: } expected, got end of query"},
		{[]string{`{app="x"} | nosuchparser`}, 1, "horus query: parse error"},
		{[]string{"--since", "1h", "{ .http.status_code = }"}, 1, "horus query: invalid TraceQL query: parse error at position"},
		{[]string{"{ .x = 1 } | rate()", "--step", "1ms", "--since", "1h"}, 1, "horus query: step of 1ms is too small"},
		{[]string{}, 2, "horus query: what to query? give an expression\nsee 'horus query -h'"},
		{[]string{"promql"}, 2, "horus query: promql what?"},
		{[]string{"up", "down"}, 2, "one expression, quoted; got 2 arguments"},
		{[]string{"sql", "select 1"}, 2, "one expression, quoted; got 2 arguments"},
		{[]string{"-o", "yaml", "up"}, 2, `-o "yaml": want table, json or csv`},
		{[]string{"--time", "now", "--since", "1h", "up"}, 2, "--time is the time of an instant query"},
		{[]string{"--time", "yesterday", "up"}, 2, `horus query: invalid value "yesterday" for flag -time: "yesterday" is not a time`},
		{[]string{"--from", "now", "--to", "now-1h", "up"}, 2, "the range starts at"},
		{[]string{"--time", "now", `{a="b"} |= "x"`}, 2, "--time is for metric queries; a log query reads a range"},
		{[]string{"--tail", "up"}, 1, `horus query: parse error at position 1: unknown function "up"`},
		{[]string{"traceql", "--tail", "{ }"}, 2, "--tail follows logs: a LogQL query"},
		{[]string{"--nosuchflag", "up"}, 2, "horus query: flag provided but not defined: -nosuchflag\nsee 'horus query -h'\n"},
	} {
		r := h.run(t, "query", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || r.stdout != "" {
			t.Errorf("horus query %q: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.msg)
		}
	}
	// Nobody there.
	var out, errb strings.Builder
	code := Main(context.Background(), "query", []string{"--url", "127.0.0.1:1", "up"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "is Horus running at http://127.0.0.1:1") {
		t.Errorf("no server: exit %d, %q", code, errb.String())
	}
	// -h is help, not an error.
	r := h.run(t, "query", "-h")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: horus query") || !strings.Contains(r.stdout, "-service") || r.stderr != "" {
		t.Errorf("-h: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestTrace(t *testing.T) {
	f := newFixture(t)
	id := testTraceID.String()
	want(t, "tree", f.run(t, "trace", id), 0, lines(
		"4 spans, 3 services, 100ms, started "+utc(f.traceAt)+", 1 error",
		"SPAN             SERVICE   START  DURATION  TIMELINE",
		"GET /checkout    frontend  0s     100ms     ████████████████████████████████████████",
		"├─ POST /orders  orders    10ms   50ms          ████████████████████",
		"│  └─ ✗ charge   payments  20ms   30ms              ████████████                      error: card declined",
		"└─ SELECT carts  orders    70ms   20ms                                  ████████"), "")
	want(t, "narrow", f.run(t, "trace", "--width", "10", id), 0, lines(
		"4 spans, 3 services, 100ms, started "+utc(f.traceAt)+", 1 error",
		"SPAN             SERVICE   START  DURATION  TIMELINE",
		"GET /checkout    frontend  0s     100ms     ██████████",
		"├─ POST /orders  orders    10ms   50ms       █████",
		"│  └─ ✗ charge   payments  20ms   30ms        ███       error: card declined",
		"└─ SELECT carts  orders    70ms   20ms             ██"), "")
	start := f.traceAt.UTC().Format(time.RFC3339Nano)
	want(t, "csv", f.run(t, "trace", "-o", "csv", id), 0, lines(
		"depth,span_id,parent_span_id,service,name,kind,start,offset_ms,duration_ms,status,status_message",
		"0,0000000000000001,,frontend,GET /checkout,Server,"+start+",0,100,ok,",
		"1,0000000000000002,0000000000000001,orders,POST /orders,Server,"+f.traceAt.Add(10*time.Millisecond).UTC().Format(time.RFC3339Nano)+",10,50,ok,",
		"2,0000000000000003,0000000000000002,payments,charge,Server,"+f.traceAt.Add(20*time.Millisecond).UTC().Format(time.RFC3339Nano)+",20,30,error,card declined",
		"1,0000000000000004,0000000000000001,orders,SELECT carts,Client,"+f.traceAt.Add(70*time.Millisecond).UTC().Format(time.RFC3339Nano)+",70,20,ok,"), "")
	direct := f.get(t, "/api/traces/"+id, nil)
	want(t, "json", f.run(t, "trace", "-o", "json", id), 0, strings.TrimSuffix(direct, "\n")+"\n", "")
	if !strings.Contains(direct, `"batches"`) {
		t.Errorf("the API's JSON has no batches: %s", direct)
	}
	want(t, "not found", f.run(t, "trace", "0123456789abcdef0123456789abcdef"), 1, "", "horus trace: trace 0123456789abcdef0123456789abcdef not found\n")
	r := f.run(t, "trace", "not-hex")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "horus trace: ") {
		t.Errorf("a bad id: %d %q", r.code, r.stderr)
	}
	want(t, "no id", f.run(t, "trace"), 2, "", "horus trace: which trace? give one trace id\nsee 'horus trace -h'\n")
}

// TestTrace cuts a trace whose spans lost their parent, and one whose
// parents make a loop, without losing a span.
func TestTraceOrphans(t *testing.T) {
	h := startHorus(t)
	id := pcommon.TraceID{1, 2, 3}
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	h.sendTrace(t, id, at, []testSpan{
		{id: 2, parent: 9, service: "a", name: "orphan", start: 0, dur: 10 * time.Millisecond},
		{id: 3, parent: 4, service: "b", name: "loop one", start: 5 * time.Millisecond, dur: time.Millisecond},
		{id: 4, parent: 3, service: "b", name: "loop two", start: 6 * time.Millisecond, dur: 4 * time.Millisecond},
	})
	want(t, "orphans", h.run(t, "trace", "--width", "10", id.String()), 0, lines(
		"3 spans, 2 services, 10ms, started "+utc(at)+", 1 more span (parent not in the trace) at the top level",
		"SPAN         SERVICE  START  DURATION  TIMELINE",
		"orphan       a        0s     10ms      ██████████",
		"loop one     b        5ms    1ms            █",
		"└─ loop two  b        6ms    4ms             ████"), "")
}

func TestTail(t *testing.T) {
	h := startHorus(t)
	now := time.Now()
	h.pushLog(t, map[string]string{"service_name": "orders", "level": "info"}, now.Add(-time.Minute), "before the tail")
	h.pushLog(t, map[string]string{"service_name": "payments", "level": "info"}, now.Add(-time.Minute), "another service")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- Main(ctx, "query", []string{"--url", h.url, "--utc", "logql", "--tail", "--since", "5m", `{service_name="orders"}`}, &out, &errb)
	}()
	first := utc(now.Add(-time.Minute)) + `  {detected_level="info", level="info"}  before the tail` + "\n"
	eventually(t, 10*time.Second, "the lines already there", func() bool { return out.String() == first })
	later := time.Now()
	h.pushLog(t, map[string]string{"service_name": "payments", "level": "info"}, later, "not this one")
	h.pushLog(t, map[string]string{"service_name": "orders", "level": "error"}, later, "after the start")
	second := utc(later) + `  {detected_level="error", level="error"}  after the start` + "\n"
	eventually(t, 10*time.Second, "the line pushed after", func() bool { return out.String() == first+second })
	cancel()
	select {
	case c := <-code:
		if c != 0 || errb.String() != "" {
			t.Errorf("interrupted tail: exit %d, %q", c, errb.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the tail did not end within 5s of its interrupt")
	}

	// JSON is the API's messages, one a line.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var js syncBuffer
	go func() {
		code <- Main(ctx, "query", []string{"--url", h.url, "-o", "json", "--tail", `{service_name="payments"}`}, &js, &errb)
	}()
	eventually(t, 10*time.Second, "a JSON message", func() bool { return strings.Contains(js.String(), "\n") })
	cancel()
	<-code
	var msg struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][2]string       `json:"values"`
		} `json:"streams"`
	}
	first = strings.SplitN(js.String(), "\n", 2)[0]
	if err := json.Unmarshal([]byte(first), &msg); err != nil || len(msg.Streams) != 1 || len(msg.Streams[0].Values) != 2 ||
		msg.Streams[0].Values[0][1] != "another service" || msg.Streams[0].Values[1][1] != "not this one" {
		t.Errorf("JSON tail message %q: %v", first, err)
	}

	// A query the API refuses: its message, before any line.
	r := h.run(t, "query", "--tail", `sum(rate({a="b"}[1m]))`)
	want(t, "metric tail", r, 1, "", "horus query: tail needs a log query, not a metric query\n")
}
