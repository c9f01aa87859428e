package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/net/websocket"
)

// lokiResponse is Loki's query response envelope.
type lokiResponse struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Stream map[string]string `json:"stream"`
			Metric map[string]string `json:"metric"`
			Values [][]any           `json:"values"`
			Value  []any             `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

func lokiQuery(t *testing.T, ts *testServer, path string, params url.Values, header map[string]string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL()+path+"?"+params.Encode(), nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

func lokiRange(t *testing.T, ts *testServer, q string, header map[string]string) lokiResponse {
	t.Helper()
	now := time.Now()
	code, body := lokiQuery(t, ts, "/loki/api/v1/query_range", url.Values{
		"query": {q}, "start": {now.Add(-time.Hour).Format(time.RFC3339Nano)}, "end": {now.Add(time.Minute).Format(time.RFC3339Nano)},
		"limit": {"100"}, "step": {"60"},
	}, header)
	if code != http.StatusOK {
		t.Fatalf("%s: %d %s", q, code, body)
	}
	var r lokiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: %v: %s", q, err, body)
	}
	return r
}

// TestOTelSDKLogs logs through slog with the OpenTelemetry slog bridge and
// the SDK's OTLP/HTTP log exporter, inside a span, and reads the lines
// back through the Loki API: by trace_id, by stream labels, with their
// secrets redacted.
func TestOTelSDKLogs(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(ts.Addrs().OTLPHTTP), otlploghttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "checkout"),
		attribute.String("deployment.environment.name", "test"), attribute.String("process.pid", "4242"))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)), sdklog.WithResource(res))
	defer func() { _ = lp.Shutdown(ctx) }()
	logger := otelslog.NewLogger("shop", otelslog.WithLoggerProvider(lp))

	tp := sdktrace.NewTracerProvider()
	sctx, span := tp.Tracer("shop").Start(ctx, "checkout")
	traceID := span.SpanContext().TraceID().String()
	logger.InfoContext(sctx, "cart loaded", "items", 3)
	logger.ErrorContext(sctx, "payment failed", "card", "4111 1111 1111 1111", "password", "hunter2", "user", "ann@example.com")
	span.End()
	logger.WarnContext(ctx, "no trace here")
	if err := lp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}

	r := lokiRange(t, ts, `{service_name="checkout"} | trace_id="`+traceID+`"`, nil)
	var lines []string
	for _, s := range r.Data.Result {
		if s.Stream["env"] != "test" || s.Stream["trace_id"] != traceID || s.Stream["process_pid"] != "4242" {
			t.Errorf("stream %v: want env, trace_id and process.pid (as structured metadata)", s.Stream)
		}
		for _, v := range s.Values {
			lines = append(lines, v[1].(string))
		}
		if s.Stream["level"] == "error" {
			if s.Stream["card"] != "**** **** **** 1111" || s.Stream["password"] != "<redacted>" || !strings.HasSuffix(s.Stream["user"], "@example.com") || s.Stream["user"] == "ann@example.com" {
				t.Errorf("error line's fields not redacted: %v", s.Stream)
			}
		}
	}
	if strings.Join(lines, "|") != "payment failed|cart loaded" {
		t.Errorf("lines of trace %s = %q, want both, newest first", traceID, lines)
	}

	// Labels: stream labels only; process.pid is metadata.
	code, body := lokiQuery(t, ts, "/loki/api/v1/labels", nil, nil)
	if code != 200 || !strings.Contains(string(body), `"service_name"`) || !strings.Contains(string(body), `"env"`) || strings.Contains(string(body), "process") {
		t.Errorf("labels: %d %s", code, body)
	}
	code, body = lokiQuery(t, ts, "/loki/api/v1/label/level/values", nil, nil)
	var vals struct {
		Status string   `json:"status"`
		Data   []string `json:"data"`
	}
	if err := json.Unmarshal(body, &vals); code != 200 || err != nil || vals.Status != "success" || strings.Join(vals.Data, ",") != "error,info,warn" {
		t.Errorf("level values: %d %s", code, body)
	}

	// A metric query: lines by level.
	r = lokiRange(t, ts, `sum by (level) (count_over_time({service_name="checkout"}[1h]))`, nil)
	got := map[string]string{}
	for _, s := range r.Data.Result {
		got[s.Metric["level"]] = s.Values[len(s.Values)-1][1].(string)
	}
	if got["info"] != "1" || got["error"] != "1" || got["warn"] != "1" || r.Data.ResultType != "matrix" {
		t.Errorf("count by level = %v (%s)", got, r.Data.ResultType)
	}
}

// TestLokiPush pushes a batch as Promtail and Alloy do (protobuf, snappy,
// structured metadata) and as JSON, and queries both back.
func TestLokiPush(t *testing.T) {
	ts := startServer(t, "")
	now := time.Now()
	req := push.PushRequest{Streams: []push.Stream{{
		Labels: `{job="varlogs", env="prod", filename="/var/log/app.log"}`,
		Entries: []push.Entry{
			{Timestamp: now.Add(-2 * time.Second), Line: "level=info msg=started"},
			{Timestamp: now.Add(-time.Second), Line: "level=error msg=\"db timeout\" token=Bearer abcdefghijklmnop",
				StructuredMetadata: push.LabelsAdapter{{Name: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"}, {Name: "pod", Value: "app-1"}}},
		},
	}}}
	pb, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	expectPost(t, ts.URL()+"/loki/api/v1/push", snappy.Encode(nil, pb), map[string]string{"Content-Type": "application/x-protobuf"}, http.StatusNoContent, "")
	js := `{"streams":[{"stream":{"service_name":"api","env":"prod"},"values":[["` + strconv.FormatInt(now.UnixNano(), 10) + `","GET /health 200",{"user":"u1"}]]}]}`
	expectPost(t, ts.URL()+"/loki/api/v1/push", []byte(js), map[string]string{"Content-Type": "application/json"}, http.StatusNoContent, "")

	r := lokiRange(t, ts, `{env="prod"}`, map[string]string{"X-Loki-Response-Encoding-Flags": "categorize-labels"})
	var got []string
	sawPod := 0
	defer func() {
		if sawPod == 0 {
			t.Error("no line carried the pushed structured metadata")
		}
	}()
	for _, s := range r.Data.Result {
		for _, v := range s.Values {
			got = append(got, s.Stream["service_name"]+"/"+s.Stream["level"]+": "+v[1].(string))
			if len(v) == 3 && s.Stream["service_name"] == "varlogs" {
				md := v[2].(map[string]any)["structuredMetadata"].(map[string]any)
				if md["detected_level"] != s.Stream["level"] {
					t.Errorf("detected_level = %v, want the level %q", md["detected_level"], s.Stream["level"])
				}
				if md["pod"] != nil {
					sawPod++
					if md["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || md["pod"] != "app-1" {
						t.Errorf("structured metadata = %v", md)
					}
				}
			}
		}
		if _, ok := s.Stream["pod"]; ok {
			t.Errorf("categorized stream %v carries metadata", s.Stream)
		}
	}
	// A line without a level is "unknown", as Loki's detected_level; the
	// token's whole value is masked.
	want := []string{"api/unknown: GET /health 200", "varlogs/error: level=error msg=\"db timeout\" token=<redacted>", "varlogs/info: level=info msg=started"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Bad pushes name the problem.
	expectPost(t, ts.URL()+"/loki/api/v1/push", []byte("not snappy"), map[string]string{"Content-Type": "application/x-protobuf"}, http.StatusBadRequest, "snappy")
	expectPost(t, ts.URL()+"/loki/api/v1/push", []byte(`{"streams":[{"stream":{},"values":[["1","x"]]}]}`), map[string]string{"Content-Type": "application/json"}, http.StatusBadRequest, "without labels")
	expectPost(t, ts.URL()+"/loki/api/v1/push", []byte(`x`), map[string]string{"Content-Type": "text/xml"}, http.StatusUnsupportedMediaType, "not supported")

	// JSON lines.
	jl := `{"ts":"` + now.Format(time.RFC3339Nano) + `","level":"warn","msg":"disk almost full","service":"storage","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}` + "\n" + `garbage`
	expectPost(t, ts.URL()+"/api/v1/logs/jsonl?env=prod", []byte(jl), map[string]string{"Content-Type": "application/x-ndjson"}, http.StatusBadRequest, "line 2: not a JSON object")
	r = lokiRange(t, ts, `{service_name="storage"} | trace_id="4bf92f3577b34da6a3ce929d0e0e4736"`, nil)
	if len(r.Data.Result) != 1 || r.Data.Result[0].Stream["level"] != "warn" || r.Data.Result[0].Values[0][1] != "disk almost full" {
		t.Errorf("JSON line back: %+v", r.Data.Result)
	}

	// Query errors are 400 with the reason.
	code, body := lokiQuery(t, ts, "/loki/api/v1/query_range", url.Values{"query": {`{env="prod"`}}, nil)
	if code != 400 || !strings.Contains(string(body), "parse error") {
		t.Errorf("bad query: %d %s", code, body)
	}
	code, body = lokiQuery(t, ts, "/loki/api/v1/query", url.Values{"query": {`{env="prod"}`}}, nil)
	if code != 400 || !strings.Contains(string(body), "range query") {
		t.Errorf("instant log query: %d %s", code, body)
	}
	code, body = lokiQuery(t, ts, "/loki/api/v1/format_query", url.Values{"query": {`sum by(level)(count_over_time({env="prod"}|="x"[5m]))`}}, nil)
	// As Loki's syntax String methods print it (pkg/logql/syntax/ast.go).
	if code != 200 || !strings.Contains(string(body), `sum by (level)(count_over_time({env=\"prod\"} |= \"x\"[5m]))`) {
		t.Errorf("format_query: %d %s", code, body)
	}
}

// TestLokiTail follows a query over Loki's tail websocket: the first
// message has the lines already there, a later one the lines pushed
// after, and lines of other streams never come.
func TestLokiTail(t *testing.T) {
	ts := startServer(t, "")
	now := time.Now()
	pushJSON := func(service string, at time.Time, line string) {
		t.Helper()
		js := `{"streams":[{"stream":{"service_name":"` + service + `"},"values":[["` + strconv.FormatInt(at.UnixNano(), 10) + `",` + strconv.Quote(line) + `]]}]}`
		expectPost(t, ts.URL()+"/loki/api/v1/push", []byte(js), map[string]string{"Content-Type": "application/json"}, http.StatusNoContent, "")
	}
	pushJSON("tailed", now.Add(-time.Minute), "before the tail")
	pushJSON("other", now.Add(-time.Minute), "another stream")

	u := "ws" + strings.TrimPrefix(ts.URL(), "http") + "/loki/api/v1/tail?" + url.Values{
		"query": {`{service_name="tailed"}`}, "start": {strconv.FormatInt(now.Add(-time.Hour).UnixNano(), 10)}}.Encode()
	ws, err := websocket.Dial(u, "", "http://127.0.0.1/")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ws.Close() }()
	type message struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][2]string       `json:"values"`
		} `json:"streams"`
	}
	read := func() []string {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m message
		if err := websocket.JSON.Receive(ws, &m); err != nil {
			t.Fatalf("tail: %v", err)
		}
		var lines []string
		for _, s := range m.Streams {
			for _, v := range s.Values {
				lines = append(lines, s.Stream["service_name"]+": "+v[1])
			}
		}
		return lines
	}
	if got := read(); strings.Join(got, "|") != "tailed: before the tail" {
		t.Errorf("first message: %q", got)
	}
	pushJSON("other", time.Now(), "not this")
	pushJSON("tailed", time.Now(), "after one")
	pushJSON("tailed", time.Now(), "after two")
	var got []string
	for len(got) < 2 {
		got = append(got, read()...)
	}
	if strings.Join(got, "|") != "tailed: after one|tailed: after two" {
		t.Errorf("tailed lines: %q", got)
	}

	// A bad query is refused before the upgrade.
	code, body := lokiQuery(t, ts, "/loki/api/v1/tail", url.Values{"query": {`rate({a="b"}[1m])`}}, nil)
	if code != 400 || !strings.Contains(string(body), "log query") {
		t.Errorf("metric tail: %d %s", code, body)
	}
}

// TestLokiDetected checks detected_fields, detected_field values and
// detected_labels as Grafana's Logs Drilldown reads them.
func TestLokiDetected(t *testing.T) {
	ts := startServer(t, "")
	now := time.Now()
	var vals []string
	for i, l := range []string{
		`level=info msg=\"request done\" status=200 took=12ms size=1KB`,
		`level=info msg=\"request done\" status=404 took=1.5s size=20KB`,
		`{\"level\":\"warn\",\"latency\":0.25,\"ok\":true,\"user\":\"u1\"}`,
	} {
		vals = append(vals, `["`+strconv.FormatInt(now.Add(time.Duration(i-10)*time.Second).UnixNano(), 10)+`","`+l+`",{"pod":"web-`+strconv.Itoa(i%2)+`"}]`)
	}
	js := `{"streams":[{"stream":{"service_name":"web","env":"prod"},"values":[` + strings.Join(vals, ",") + `]},` +
		`{"stream":{"service_name":"web","env":"dev"},"values":[["` + strconv.FormatInt(now.Add(-5*time.Second).UnixNano(), 10) + `","x=1"]]}]}`
	expectPost(t, ts.URL()+"/loki/api/v1/push", []byte(js), map[string]string{"Content-Type": "application/json"}, http.StatusNoContent, "")

	code, body := lokiQuery(t, ts, "/loki/api/v1/detected_fields", url.Values{"query": {`{env="prod"}`}}, nil)
	if code != 200 {
		t.Fatalf("detected_fields: %d %s", code, body)
	}
	var df struct {
		Fields []struct {
			Label       string   `json:"label"`
			Type        string   `json:"type"`
			Cardinality int      `json:"cardinality"`
			Parsers     []string `json:"parsers"`
		} `json:"fields"`
		Limit int `json:"limit"`
	}
	if err := json.Unmarshal(body, &df); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range df.Fields {
		got = append(got, fmt.Sprintf("%s:%s:%d:%v", f.Label, f.Type, f.Cardinality, f.Parsers))
	}
	// level is a label Horus added (the stream was pushed without one), so
	// the parsed one keeps its name, as in Loki, whose stream has no level
	// (e1763cd, TestParsedLevel); pod is metadata (no parser).
	want := "detected_level:string:2:[] latency:float:1:[json] level:string:2:[json logfmt] msg:string:1:[logfmt] ok:boolean:1:[json] pod:string:2:[] size:bytes:2:[logfmt] status:int:2:[logfmt] took:duration:2:[logfmt] user:string:1:[json]"
	if strings.Join(got, " ") != want || df.Limit != 1000 {
		t.Errorf("detected fields (limit %d):\n got %s\nwant %s", df.Limit, strings.Join(got, " "), want)
	}
	code, body = lokiQuery(t, ts, "/loki/api/v1/detected_field/status/values", url.Values{"query": {`{env="prod"}`}}, nil)
	if code != 200 || strings.TrimSpace(string(body)) != `{"limit":1000,"values":["200","404"]}` {
		t.Errorf("detected field values: %d %s", code, body)
	}
	code, body = lokiQuery(t, ts, "/loki/api/v1/detected_labels", url.Values{"query": {`{service_name="web"}`}}, nil)
	if code != 200 || strings.TrimSpace(string(body)) != `{"detectedLabels":[{"label":"env","cardinality":2},{"label":"level","cardinality":3},{"label":"service_name","cardinality":1}]}` {
		t.Errorf("detected labels: %d %s", code, body)
	}
	// Patterns: the two logfmt lines share one template.
	code, body = lokiQuery(t, ts, "/loki/api/v1/patterns", url.Values{"query": {`{env="prod"}`}, "step": {"1h"}}, nil)
	var pr struct {
		Status string `json:"status"`
		Data   []struct {
			Pattern string      `json:"pattern"`
			Samples [][]float64 `json:"samples"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &pr); code != 200 || err != nil || pr.Status != "success" || len(pr.Data) != 2 ||
		pr.Data[0].Pattern != `level=info msg="request done" <_> <_> <_>` {
		t.Fatalf("patterns: %d %s", code, body)
	}
	if n := 0.0; func() float64 {
		for _, s := range pr.Data[0].Samples {
			n += s[1]
		}
		return n
	}() != 2 {
		t.Errorf("pattern samples %v: want 2 lines in all", pr.Data[0].Samples)
	}
	code, body = lokiQuery(t, ts, "/loki/api/v1/detected_fields", url.Values{"query": {`count_over_time({env="prod"}[1m])`}}, nil)
	if code != 400 || !strings.Contains(string(body), "log query") {
		t.Errorf("detected fields of a metric query: %d %s", code, body)
	}
}

// TestLokiVolumeRangeSteps: index/volume_range answers a point per step
// bucket, as Loki's NewVolumeMiddleware cuts them (each bucket stamped
// with its end, 1 ms before the next bucket's start, the last with the
// range's end) and Grafana's log-volume histogram draws them; and a
// shipper's retry of a push (exact duplicates) does not count twice.
func TestLokiVolumeRangeSteps(t *testing.T) {
	ts := startServer(t, "")
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	at := func(d time.Duration) string { return strconv.FormatInt(start.Add(d).UnixNano(), 10) }
	js := `{"streams":[` +
		`{"stream":{"service_name":"a","env":"prod"},"values":[["` + at(30*time.Second) + `","0123456789"],["` + at(90*time.Second) + `","01234567890123456789"],["` + at(95*time.Second) + `","01234"]]},` +
		`{"stream":{"service_name":"b","env":"prod"},"values":[["` + at(150*time.Second) + `","0123456"]]}]}`
	for range 2 { // the second push is a retry
		expectPost(t, ts.URL()+"/loki/api/v1/push", []byte(js), map[string]string{"Content-Type": "application/json"}, http.StatusNoContent, "")
	}
	code, body := lokiQuery(t, ts, "/loki/api/v1/index/volume_range", url.Values{
		"query": {`{env="prod"}`}, "targetLabels": {"service_name"},
		"start": {strconv.FormatInt(start.UnixNano(), 10)}, "end": {strconv.FormatInt(start.Add(3*time.Minute).UnixNano(), 10)},
		"step": {"60s"},
	}, nil)
	if code != http.StatusOK {
		t.Fatalf("volume_range: %d %s", code, body)
	}
	var r struct {
		Data struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	got := map[string]string{}
	for _, s := range r.Data.Result {
		var pts []string
		for _, v := range s.Values {
			sec, _ := v[0].(float64)
			pts = append(pts, fmt.Sprintf("%+.3fs=%v", sec-float64(start.Unix()), v[1]))
		}
		got[s.Metric["service_name"]] = strings.Join(pts, " ")
	}
	// Bytes as Loki's chunks count them (79b440b, TestVolume): a line's
	// text, 8 bytes for each structured metadata pair (detected_level on
	// every line, as Loki's distributor adds it) and the stream's distinct
	// metadata strings once ("detected_level" and "unknown": 21 bytes, in
	// the stream's first step): a is 10+8+21, then 20+5+2*8; b is 7+8+21.
	want := map[string]string{"a": "+59.999s=39 +119.999s=41", "b": "+180.000s=36"}
	if r.Data.ResultType != "matrix" || !reflect.DeepEqual(got, want) {
		t.Errorf("volume_range = %s %v, want matrix %v", r.Data.ResultType, got, want)
	}
}
