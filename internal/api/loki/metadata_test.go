package loki

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tests of the metadata endpoints Grafana's panels read: index/volume,
// detected_fields and detected_field values.

// TestVolume checks index/volume's grouping against Loki's rules
// (pkg/util/series_volume.go, PrepareLabelsAndMatchers; the ingester's
// instance.getVolume; queryrange.toPrometheusData for the metric of
// aggregateBy=labels; seriesvolume.MapToVolumeResponse for the order):
// by the selector's matcher names without targetLabels, by every label
// for {}, by the target labels (streams without one left out), and by
// label name with aggregateBy=labels.
func TestVolume(t *testing.T) {
	a := startAPI(t)
	t0 := minute()
	pushBytes := func(stream map[string]string, n int) {
		a.push(stream, line{at: t0.Add(time.Second), text: strings.Repeat("x", n)})
	}
	// Every stream also has service_name (from app) and level="unknown";
	// a line of n bytes counts n+29 as Loki's chunk counts it: 8 for its
	// pair detected_level="unknown", and the 14+7 bytes of those strings
	// once a stream (chunkSymbols).
	pushBytes(map[string]string{"app": "web", "env": "prod", "pod": "a"}, 10)
	pushBytes(map[string]string{"app": "web", "env": "prod", "pod": "b"}, 20)
	pushBytes(map[string]string{"app": "web", "env": "dev", "pod": "c"}, 40)
	pushBytes(map[string]string{"app": "db", "pod": "d"}, 80)

	volume := func(path string, params url.Values) string {
		t.Helper()
		params.Set("start", unix(t0))
		params.Set("end", unix(t0.Add(time.Minute)))
		var r queryResponse
		a.getJSON(path, params, nil, &r)
		var out []string
		for _, s := range r.Data.Result {
			v := s.Value
			if s.Values != nil {
				v = s.Values[len(s.Values)-1]
			}
			out = append(out, fmt.Sprintf("%s=%v", metricText(s.Metric), v[1]))
		}
		return r.Data.ResultType + " " + strings.Join(out, " ")
	}
	for _, tc := range []struct {
		params url.Values
		want   string
	}{
		{url.Values{"query": {`{env=~".+"}`}}, `vector {env="prod"}=88 {env="dev"}=69`},
		{url.Values{"query": {`{app="web", env=~".+"}`}}, `vector {app="web",env="prod"}=88 {app="web",env="dev"}=69`},
		{url.Values{"query": {`{app=~"web|db", app!="x"}`}}, `vector {app="web"}=157 {app="db"}=109`},
		{url.Values{"query": {`{}`}, "limit": {"2"}}, `vector {app="db",level="unknown",pod="d",service_name="db"}=109 {app="web",env="dev",level="unknown",pod="c",service_name="web"}=69`},
		{url.Values{"query": {`{app=~".+"}`}, "targetLabels": {"env"}}, `vector {env="prod"}=88 {env="dev"}=69`},
		{url.Values{"query": {`{pod=~".+"}`}, "targetLabels": {"app,pod"}, "limit": {"3"}}, `vector {app="db",pod="d"}=109 {app="web",pod="c"}=69 {app="web",pod="b"}=49`},
		{url.Values{"query": {`{app=~".+"}`}, "aggregateBy": {"labels"}}, `vector {app=""}=266 {level=""}=266 {pod=""}=266 {service_name=""}=266 {env=""}=157`},
		{url.Values{"query": {`{app=~".+"}`}, "aggregateBy": {"labels"}, "targetLabels": {"pod,env"}}, `vector {env=""}=157 {pod=""}=157`},
		{url.Values{"query": {`{app="db"}`}, "aggregateBy": {"labels"}, "targetLabels": {"app"}}, `vector {app=""}=109`},
	} {
		if got := volume("/loki/api/v1/index/volume", tc.params); got != tc.want {
			t.Errorf("volume %v:\n got %s\nwant %s", tc.params, got, tc.want)
		}
	}
	// volume_range groups the same way; a range of one step is one bucket,
	// a vector.
	if got, want := volume("/loki/api/v1/index/volume_range", url.Values{"query": {`{env=~".+"}`}, "step": {"60"}}),
		`vector {env="prod"}=88 {env="dev"}=69`; got != want {
		t.Errorf("volume_range: %s, want %s", got, want)
	}
	// The end rounded up to the millisecond, as Loki's query frontend
	// rounds it (util.RoundToMilliseconds): a line at that millisecond
	// counts, and the vector is stamped with it.
	end := t0.Add(time.Second - 400*time.Microsecond)
	var r queryResponse
	a.getJSON("/loki/api/v1/index/volume", url.Values{"query": {`{app="db"}`}, "start": {unix(t0)},
		"end": {strconv.FormatInt(end.UnixNano(), 10)}}, nil, &r)
	if b, _ := json.Marshal(r.Data.Result); len(r.Data.Result) != 1 || fmt.Sprint(r.Data.Result[0].Value[0]) != strconv.FormatInt(t0.Add(time.Second).Unix(), 10) {
		t.Errorf("volume to %s: %s, want 109 bytes at %s", end.Format(time.RFC3339Nano), b, t0.Add(time.Second).Format(time.RFC3339Nano))
	}
	// Structured metadata counts as in Loki 3.7.6, which answered 150 for
	// these three lines: 35 bytes of text, 6 pairs of 8 bytes
	// (detected_level on each), and the 67 bytes of the distinct strings
	// detected_level, unknown, trace_id, the trace id, user and u1.
	a.push(map[string]string{"app": "volx"},
		line{at: t0.Add(2 * time.Second), text: "xxxxxxxxxx"},
		line{at: t0.Add(3 * time.Second), text: "yyyyyyyyyyyyyyyyyyyy", md: map[string]string{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "user": "u1"}},
		line{at: t0.Add(4 * time.Second), text: "zzzzz", md: map[string]string{"user": "u1"}})
	if got, want := volume("/loki/api/v1/index/volume", url.Values{"query": {`{app="volx"}`}}), `vector {app="volx"}=150`; got != want {
		t.Errorf("volume with metadata: %s, want %s", got, want)
	}
	if code, body := a.get("/loki/api/v1/index/volume", url.Values{"query": {`{app="web"}`}, "aggregateBy": {"streams"}}, nil); code != http.StatusBadRequest ||
		!strings.Contains(string(body), "invalid aggregation option") {
		t.Errorf("aggregateBy=streams: %d %s, want 400 invalid aggregation option", code, body)
	}
}

// TestVolumeRangeBuckets: index/volume_range answers a point per bucket
// as Loki's NewVolumeMiddleware cuts them (util.ForInterval with
// SplitGap: buckets from start rounded down to the step, each stamped
// with its end, 1 ms before the next bucket, the last with end), each
// bucket keeping its largest limit series, the series sorted by their
// first point (queryrange.toPrometheusData).
func TestVolumeRangeBuckets(t *testing.T) {
	a := startAPI(t)
	t0 := minute()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	a.push(map[string]string{"app": "a"}, line{at: at(10), text: strings.Repeat("x", 10)},
		line{at: at(70), text: strings.Repeat("x", 20)}, line{at: at(75), text: strings.Repeat("x", 5)})
	a.push(map[string]string{"app": "b"}, line{at: at(80), text: "x"}, line{at: at(130), text: strings.Repeat("x", 7)})
	for _, tc := range []struct {
		limit string
		want  string
	}{
		// From :05 to 2:10 by 1m: [:05, :59.999], [1:00, 1:59.999], [2:00, 2:10].
		// Each line 8 bytes more (its detected_level pair), the first
		// of a stream 21 more (the strings detected_level and unknown).
		{"10", `matrix {app="a"}:[59.999 39] [119.999 41] {app="b"}:[119.999 30] [130 15]`},
		// One series a bucket: b only where it is the largest.
		{"1", `matrix {app="a"}:[59.999 39] [119.999 41] {app="b"}:[130 15]`},
	} {
		var r queryResponse
		a.getJSON("/loki/api/v1/index/volume_range", url.Values{"query": {`{app=~".+"}`}, "start": {unix(at(5))}, "end": {unix(at(130))},
			"step": {"60"}, "limit": {tc.limit}}, nil, &r)
		got := r.Data.ResultType
		for _, s := range r.Data.Result {
			got += " " + metricText(s.Metric) + ":"
			for i, v := range s.Values {
				sec, _ := v[0].(json.Number).Float64()
				if i > 0 {
					got += " "
				}
				got += fmt.Sprintf("[%g %v]", float64(int64((sec-float64(t0.Unix()))*1000))/1000, v[1])
			}
		}
		if got != tc.want {
			t.Errorf("volume_range limit %s:\n got %s\nwant %s", tc.limit, got, tc.want)
		}
	}
}

// metricText is a metric as {a="b",c="d"}, names sorted.
func metricText(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// TestDetectedFields checks detected_fields against Loki's rules
// (pkg/querier/queryrange/detected_fields.go, parseDetectedFields and
// parseEntry; pkg/logql/log/parser.go, JSONParser with captureJSONPath):
// a JSON field has its jsonPath, the keys as written from the top (arrays
// skipped); a parsed name that a pushed stream label has is
// <name>_extracted, but Horus' own level label does not count (Loki's
// stream has none): a level field is level, level_extracted only beside a
// pushed level; logfmt fields have no path; structured metadata has no
// parser; and detected_field values answer for _extracted names, byte
// sizes as go-humanize writes them (parseDetectedFieldValues). Checked
// against Loki 3.7.6 on the same pushes.
func TestDetectedFields(t *testing.T) {
	a := startAPI(t)
	t0 := minute()
	a.push(map[string]string{"app": "det"},
		line{at: t0.Add(time.Second), text: `level=info status=200 size=2KB`, md: map[string]string{"pod": "p1"}},
		line{at: t0.Add(2 * time.Second), text: `{"level":"warn","error":{"code":"E42","detail":{"retry":true}},"user-id":"u1","tags":["a","b"]}`})
	a.push(map[string]string{"app": "det2", "level": "warn"},
		line{at: t0.Add(3 * time.Second), text: `{"level":"WARNING","msg":"x"}`},
		line{at: t0.Add(4 * time.Second), text: `level=debug msg=y`})
	params := url.Values{"query": {`{app="det"}`}, "start": {unix(t0)}, "end": {unix(t0.Add(time.Minute))}}

	fields := func() []string {
		var df struct{ Fields []detectedField }
		a.getJSON("/loki/api/v1/detected_fields", params, nil, &df)
		var got []string
		for _, f := range df.Fields {
			got = append(got, fmt.Sprintf("%s:%s:%d:%v:%q", f.Label, f.Type, f.Cardinality, f.Parsers, f.JSONPath))
		}
		return got
	}
	got := fields()
	want := []string{
		`detected_level:string:2:[]:[]`,
		`error_code:string:1:[json]:["error" "code"]`,
		`error_detail_retry:boolean:1:[json]:["error" "detail" "retry"]`,
		`level:string:2:[json logfmt]:["level"]`,
		`pod:string:1:[]:[]`,
		`size:bytes:1:[logfmt]:[]`,
		`status:int:1:[logfmt]:[]`,
		`user_id:string:1:[json]:["user-id"]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("detected fields:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for name, want := range map[string]string{
		"level":           "info warn",
		"size":            "2.0kB",
		"error_code":      "E42",
		"level_extracted": "",
	} {
		var v struct{ Values []string }
		a.getJSON("/loki/api/v1/detected_field/"+name+"/values", params, nil, &v)
		if strings.Join(v.Values, " ") != want {
			t.Errorf("detected_field/%s/values = %q, want %q", name, v.Values, want)
		}
	}

	// Beside a pushed level label, a level field is level_extracted.
	params.Set("query", `{app="det2"}`)
	got = fields()
	want = []string{
		`detected_level:string:1:[]:[]`,
		`level_extracted:string:2:[json logfmt]:["level"]`,
		`msg:string:2:[json logfmt]:["msg"]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("detected fields beside a pushed level:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for name, want := range map[string]string{"level_extracted": "WARNING debug", "level": ""} {
		var v struct{ Values []string }
		a.getJSON("/loki/api/v1/detected_field/"+name+"/values", params, nil, &v)
		if strings.Join(v.Values, " ") != want {
			t.Errorf("{app=\"det2\"}: detected_field/%s/values = %q, want %q", name, v.Values, want)
		}
	}
}

// TestShownBytes: byte sizes as Loki's detected_field values list them,
// go-humanize v1.0.1's Bytes without the blank.
func TestShownBytes(t *testing.T) {
	for in, want := range map[string]string{
		"2KB": "2.0kB", "1.5MiB": "1.6MB", "20KB": "20kB", "9b": "9B", "1023b": "1.0kB", "12345k": "12MB",
		"5m":  "5.0MB", // m is a unit to go-humanize
		"200": "200", "12ms": "12ms", "text": "text",
	} {
		if got := shownBytes(in); got != want {
			t.Errorf("shownBytes(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDetectedFieldsLimits checks the limits of Loki's detected fields
// request (pkg/loghttp/params.go: lineLimit reads line_limit with
// defaultQueryLimit, 100; detectedFieldsLimit reads limit, or else
// field_limit, with defaultLimit, 1000) and the answer's shape
// (NewDetectedFieldsHandler in pkg/querier/queryrange/detected_fields.go
// sets limit only when fields or values were found; logproto's
// DetectedFieldsResponse members are omitempty, so none found is {}).
func TestDetectedFieldsLimits(t *testing.T) {
	a := startAPI(t)
	t0 := minute()
	lines := make([]line, 150)
	for i := range lines {
		lines[i] = line{at: t0.Add(time.Duration(i) * 100 * time.Millisecond), text: fmt.Sprintf("n=%03d", i)}
	}
	a.push(map[string]string{"app": "lim"}, lines...)
	params := func(kv ...string) url.Values {
		p := url.Values{"query": {`{app="lim"}`}, "start": {unix(t0)}, "end": {unix(t0.Add(time.Minute))}}
		for i := 0; i < len(kv); i += 2 {
			p.Set(kv[i], kv[i+1])
		}
		return p
	}
	cardinality := func(p url.Values) string {
		t.Helper()
		var df detectedFieldsResponse
		a.getJSON("/loki/api/v1/detected_fields", p, nil, &df)
		out := fmt.Sprintf("limit=%d", df.Limit)
		for _, f := range df.Fields {
			out += fmt.Sprintf(" %s:%d", f.Label, f.Cardinality)
		}
		return out
	}
	for _, tc := range []struct {
		params url.Values
		want   string
	}{
		{params(), "limit=1000 detected_level:1 n:100"},
		{params("line_limit", "120"), "limit=1000 detected_level:1 n:120"},
		{params("limit", "1"), "limit=1 detected_level:1"},
		{params("field_limit", "1"), "limit=1 detected_level:1"},
		{params("limit", "5", "field_limit", "1"), "limit=5 detected_level:1 n:100"},
	} {
		if got := cardinality(tc.params); got != tc.want {
			t.Errorf("detected_fields %v: %s, want %s", tc.params, got, tc.want)
		}
	}
	// The newest 100 lines are n=050 to n=149; limit keeps the first values.
	var v detectedFieldsResponse
	a.getJSON("/loki/api/v1/detected_field/n/values", params("limit", "3"), nil, &v)
	if got := fmt.Sprint(v.Limit, v.Values); got != "3 [050 051 052]" {
		t.Errorf("detected_field/n/values limit=3: %s, want 3 [050 051 052]", got)
	}
	for _, tc := range []struct{ path, query string }{
		{"/loki/api/v1/detected_field/nosuch/values", `{app="lim"}`},
		{"/loki/api/v1/detected_fields", `{app="nosuch"}`},
	} {
		p := params()
		p.Set("query", tc.query)
		if code, body := a.get(tc.path, p, nil); code != http.StatusOK || strings.TrimSpace(string(body)) != "{}" {
			t.Errorf("%s %s: %d %s, want 200 {}", tc.path, tc.query, code, body)
		}
	}
	for _, bad := range []url.Values{params("line_limit", "0"), params("limit", "-1"), params("field_limit", "x")} {
		if code, body := a.get("/loki/api/v1/detected_fields", bad, nil); code != http.StatusBadRequest {
			t.Errorf("detected_fields %v: %d %s, want 400", bad, code, body)
		}
	}
}

// TestLabelsEmpty: labels and label values answer no names or values as
// Loki's loghttp.LabelResponse encodes them (data omitempty,
// pkg/loghttp/labels.go): {"status":"success"}.
func TestLabelsEmpty(t *testing.T) {
	a := startAPI(t)
	t0 := minute()
	a.push(map[string]string{"app": "one"}, line{at: t0.Add(time.Second), text: "x"})
	p := url.Values{"start": {unix(t0)}, "end": {unix(t0.Add(time.Minute))}}
	for _, tc := range []struct {
		path, query, want string
	}{
		{"/loki/api/v1/label/no_such_label/values", "", `{"status":"success"}`},
		{"/loki/api/v1/labels", `{app="none"}`, `{"status":"success"}`},
		{"/loki/api/v1/label/app/values", "", `{"status":"success","data":["one"]}`},
	} {
		q := url.Values{"start": p["start"], "end": p["end"]}
		if tc.query != "" {
			q.Set("query", tc.query)
		}
		if code, body := a.get(tc.path, q, nil); code != http.StatusOK || strings.TrimSpace(string(body)) != tc.want {
			t.Errorf("%s %s: %d %s, want 200 %s", tc.path, tc.query, code, body, tc.want)
		}
	}
}
