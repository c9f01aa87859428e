package loki

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// queryResponse is Loki's query envelope, values left raw.
type queryResponse struct {
	Status string `json:"status"`
	Data   struct {
		ResultType    string   `json:"resultType"`
		EncodingFlags []string `json:"encodingFlags"`
		Result        []struct {
			Stream map[string]string `json:"stream"`
			Metric map[string]string `json:"metric"`
			Values [][]any           `json:"values"`
			Value  []any             `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// TestMetricRangeStepAligned: a metric range query answers on multiples
// of its step, as Loki's query frontend aligns it (start rounded down,
// end up: metricQuerySplitter.alignStartEnd in
// pkg/querier/queryrange/splitters.go), and the querier evaluates
// (t - range, t] at each; log and instant queries are not aligned.
func TestMetricRangeStepAligned(t *testing.T) {
	a := startAPI(t)
	t0 := minute()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	a.push(map[string]string{"app": "align"},
		line{at: at(10), text: "a"}, line{at: at(70), text: "b"}, line{at: at(130), text: "c"},
		line{at: at(135), text: "d"}, line{at: at(250), text: "e"})

	var r queryResponse
	a.getJSON("/loki/api/v1/query_range", url.Values{"query": {`count_over_time({app="align"}[1m])`},
		"start": {unix(at(25))}, "end": {unix(at(265))}, "step": {"60"}}, nil, &r)
	var got []string
	for _, s := range r.Data.Result {
		for _, v := range s.Values {
			got = append(got, fmt.Sprintf("%v=%v", v[0], v[1]))
		}
	}
	// From 13:00:25 to 13:04:25 by 1m, Loki evaluates at 13:00 ... 13:05:
	// 13:00 and 13:04 have no line in their minute.
	want := []string{unix(at(60)) + "=1", unix(at(120)) + "=1", unix(at(180)) + "=2", unix(at(300)) + "=1"}
	if r.Data.ResultType != "matrix" || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("aligned range query: %s %v, want matrix %v", r.Data.ResultType, got, want)
	}

	// A step of 90 s: multiples of 90 s since the epoch.
	r = queryResponse{}
	a.getJSON("/loki/api/v1/query_range", url.Values{"query": {`count_over_time({app="align"}[90s])`},
		"start": {unix(at(25))}, "end": {unix(at(265))}, "step": {"90s"}}, nil, &r)
	first := at(25).Unix() / 90 * 90
	for _, s := range r.Data.Result {
		for _, v := range s.Values {
			if n, err := v[0].(json.Number).Int64(); err != nil || (n-first)%90 != 0 {
				t.Errorf("step 90s: a point at %v, not a multiple of 90 s", v[0])
			}
		}
	}

	// An instant query answers at its time.
	r = queryResponse{}
	a.getJSON("/loki/api/v1/query", url.Values{"query": {`count_over_time({app="align"}[1m])`}, "time": {unix(at(145))}}, nil, &r)
	if len(r.Data.Result) != 1 || fmt.Sprint(r.Data.Result[0].Value) != fmt.Sprintf("[%s 2]", unix(at(145))) {
		t.Errorf("instant query: %+v, want 2 at %s", r.Data.Result, unix(at(145)))
	}

	// An instant query at a time finer than a millisecond answers at its
	// millisecond, as Loki (whose query times are model.Time) does.
	r = queryResponse{}
	fine := strconv.FormatInt(at(145).Unix(), 10) + ".123456"
	a.getJSON("/loki/api/v1/query", url.Values{"query": {`count_over_time({app="align"}[1m])`}, "time": {fine}}, nil, &r)
	if want := fmt.Sprintf("[%s.123 2]", unix(at(145))); len(r.Data.Result) != 1 || fmt.Sprint(r.Data.Result[0].Value) != want {
		t.Errorf("instant query at %s: %+v, want %s", fine, r.Data.Result, want)
	}

	// A log query reads from its start: the line at :10 is before it.
	r = queryResponse{}
	a.getJSON("/loki/api/v1/query_range", url.Values{"query": {`{app="align"}`},
		"start": {unix(at(25))}, "end": {unix(at(265))}, "step": {"60"}}, nil, &r)
	if len(r.Data.Result) != 1 || len(r.Data.Result[0].Values) != 4 {
		t.Errorf("log query from :25: %+v, want the 4 lines after it", r.Data.Result)
	}
}

// TestCategorizeLabels: with X-Loki-Response-Encoding-Flags:
// categorize-labels, every line is [ts, line, {...}] with
// structuredMetadata and parsed only when they have labels, {} for a
// line with neither (Loki's encodeStream, pkg/util/marshal/query.go), in
// query_range and in the tail's messages (Loki's tailer categorizes too,
// pkg/querier/tail/tail.go); without the flag, lines are [ts, line] and
// a stream has every label.
func TestCategorizeLabels(t *testing.T) {
	a := startAPI(t)
	t0 := minute()
	a.push(map[string]string{"app": "cat"},
		line{at: t0.Add(time.Second), text: "a=1", md: map[string]string{"pod": "p1"}},
		line{at: t0.Add(2 * time.Second), text: "plain"})
	cat := map[string]string{"X-Loki-Response-Encoding-Flags": "categorize-labels"}
	entries := func(q string, header map[string]string) []string {
		t.Helper()
		out, flags := a.entries(q, t0, header)
		return append(out, fmt.Sprint(flags))
	}
	stream := "map[app:cat level:unknown service_name:cat]"
	for _, tc := range []struct {
		q      string
		header map[string]string
		want   []string
	}{
		{`{app="cat"} | drop detected_level`, cat, []string{
			stream + ` "a=1",{"structuredMetadata":{"pod":"p1"}}`,
			stream + ` "plain",{}`, "[categorize-labels]"}},
		{`{app="cat"} | logfmt | drop detected_level, pod`, cat, []string{
			stream + ` "a=1",{"parsed":{"a":"1"}}`,
			stream + ` "plain",{}`, "[categorize-labels]"}}, // a bare word is no label without --keep-empty
		{`{app="cat"} | logfmt | drop detected_level, pod`, nil, []string{
			`map[a:1 app:cat level:unknown service_name:cat] "a=1"`,
			stream + ` "plain"`, "[]"}},
	} {
		if got := entries(tc.q, tc.header); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s %v:\n got %s\nwant %s", tc.q, tc.header, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}

	// The tail: the same lines, categorized, with the flags.
	cfg, err := websocket.NewConfig("ws"+strings.TrimPrefix(a.url, "http")+"/loki/api/v1/tail?"+url.Values{
		"query": {`{app="cat"} | drop detected_level`}, "start": {strconv.FormatInt(t0.UnixNano(), 10)}}.Encode(), "http://127.0.0.1/")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Header.Set("X-Loki-Response-Encoding-Flags", "categorize-labels")
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ws.Close() }()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var raw []byte
	if err := websocket.Message.Receive(ws, &raw); err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Streams       []jsonStream `json:"streams"`
		EncodingFlags []string     `json:"encodingFlags"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil || strings.Contains(string(raw), "dropped_entries") {
		t.Fatalf("tail message %s: %v (want no dropped_entries, as Loki's EncodeTailResult without drops)", raw, err)
	}
	b, _ := json.Marshal(msg)
	if want := `{"streams":[{"stream":{"app":"cat","level":"unknown","service_name":"cat"},"values":[["` +
		strconv.FormatInt(t0.Add(time.Second).UnixNano(), 10) + `","a=1",{"structuredMetadata":{"pod":"p1"}}],["` +
		strconv.FormatInt(t0.Add(2*time.Second).UnixNano(), 10) + `","plain",{}]]}],"encodingFlags":["categorize-labels"]}`; string(b) != want {
		t.Errorf("categorized tail message:\n got %s\nwant %s", b, want)
	}
}

// TestFormatQuery: format_query prints a query as Loki's Prettify does:
// up to 100 characters its String, longer over lines (pkg/logql/syntax/
// prettier.go and ast.go; logql.Prettify). The first case, the label
// filters' and the long one are Loki 3.7.6's answers; the others follow
// formatVectorOperation, Grouping.String, LogRangeExpr.String,
// OffsetExpr.String (Go's duration), BinOpExpr.String (every operation in
// parentheses, two blanks after a matching without a group) and
// VectorExpr.String (%f).
func TestFormatQuery(t *testing.T) {
	a := startAPI(t)
	for in, want := range map[string]string{
		`sum by(env)(rate({service_name="orders"}[5m]))`:                                 `sum by (env)(rate({service_name="orders"}[5m]))`,
		`{service_name="orders",env="prod"}|="x"|json|level="error"`:                     `{service_name="orders", env="prod"} |= "x" | json | level="error"`,
		`sum(count_over_time({a="b"}[1m])) or vector(0)`:                                 `(sum(count_over_time({a="b"}[1m])) or vector(0.000000))`,
		`topk(3, sum by (a, b) (rate({a="b"} | logfmt | unwrap x [5m] offset 1h)))`:      `topk(3,sum by (a,b)(rate({a="b"} | logfmt | unwrap x[5m] offset 1h0m0s)))`,
		`quantile_over_time(0.9, {a="b"} | json | unwrap x [5m]) by (a)`:                 `quantile_over_time(0.9,{a="b"} | json | unwrap x[5m]) by (a)`,
		`sum by () (count_over_time({a="b"}[1m])) / on (a) count_over_time({a="b"}[1m])`: `(sum(count_over_time({a="b"}[1m])) / on (a)  count_over_time({a="b"}[1m]))`,
		`count_over_time({a="b"}[1m]) > bool ignoring (c) group_left (d) 2 * 3`:          `(count_over_time({a="b"}[1m]) > bool ignoring (c) group_left (d) (2 * 3))`,
		`label_replace(vector(1), "a", "$1", "b", "(.*)")`:                               `label_replace(vector(1.000000),"a","$1","b","(.*)")`,
		`{a="b"} | x=1, y>2KB or d=~"a" | drop e, f | json g, h="i"`:                     `{a="b"} | ( x==1 , ( y>2.0kB or d=~"a" ) ) | drop e,f | json g="g",h="i"`,
		// Over 100 characters: syntax.Prettify's lines (more in
		// logql's testdata/prettify.golden, Loki 3.7.6's answers).
		`sum by (service_name) (rate({service_name="orders", env="prod"} |= "error" [5m])) / on (service_name) group_left (env) sum by (service_name) (rate({service_name="orders"}[5m]))`: "" +
			"  sum by (service_name)(rate({service_name=\"orders\", env=\"prod\"} |= \"error\"[5m]))\n" +
			"/ on (service_name) group_left (env)\n" +
			"  sum by (service_name)(rate({service_name=\"orders\"}[5m]))",
	} {
		var r struct{ Status, Data string }
		a.getJSON("/loki/api/v1/format_query", url.Values{"query": {in}}, nil, &r)
		if r.Status != "success" || r.Data != want {
			t.Errorf("format_query %s:\n got %s %s\nwant success %s", in, r.Status, r.Data, want)
		}
	}
}

// entries asks query_range for q over the minute from t0, oldest first,
// and returns each line as "<stream labels> <the entry after its time>"
// (the line and, categorized, its {...}), and the answer's encoding
// flags.
func (a *testAPI) entries(q string, t0 time.Time, header map[string]string) ([]string, []string) {
	a.t.Helper()
	var r queryResponse
	a.getJSON("/loki/api/v1/query_range", url.Values{"query": {q}, "start": {unix(t0)}, "end": {unix(t0.Add(time.Minute))},
		"direction": {"forward"}}, header, &r)
	var out []string
	for _, s := range r.Data.Result {
		for _, v := range s.Values {
			b, _ := json.Marshal(v)
			out = append(out, fmt.Sprintf("%v %s", s.Stream, b[strings.IndexByte(string(b), ',')+1:len(b)-1]))
		}
	}
	return out, r.Data.EncodingFlags
}
