package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// Log lines timed more than limits.reject_old_samples_max_age (1 week)
// behind the clock are refused with a 400 naming the line, on every log
// ingest path, as Loki refuses them (reject_old_samples_max_age, default
// 168h: https://grafana.com/docs/loki/latest/configure/#limits_config).
// The example is a timestamp in seconds where nanoseconds are due, which
// was stored silently in 1970.
func TestOldLogLinesAreRefused(t *testing.T) {
	ts := startServer(t, "")
	secs := time.Now().Unix()
	ns := time.Now().UnixNano()
	loki := fmt.Sprintf(`{"streams":[{"stream":{"job":"old"},"values":[["%d","in seconds"],["%d","fine"]]}]}`, secs, ns)
	expectPost(t, ts.URL()+"/loki/api/v1/push", []byte(loki), map[string]string{"Content-Type": "application/json"}, http.StatusBadRequest, "timestamp too old")

	// JSON lines reads a number's unit by its size; a date two weeks old
	// is too old in any unit.
	jl := fmt.Sprintf(`{"ts":%q,"msg":"two weeks old"}`+"\n"+`{"msg":"fine"}`, time.Now().Add(-14*24*time.Hour).Format(time.RFC3339))
	expectPost(t, ts.URL()+"/api/v1/logs/jsonl?service_name=oldjl", []byte(jl), map[string]string{"Content-Type": "application/x-ndjson"}, http.StatusBadRequest, "timestamp too old")

	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lr := lrs.AppendEmpty()
	lr.SetTimestamp(pcommon.Timestamp(secs))
	lr.Body().SetStr("in seconds")
	ok := lrs.AppendEmpty()
	ok.SetTimestamp(pcommon.Timestamp(ns))
	ok.Body().SetStr("fine")
	b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	// OTLP: the good record is stored and the old one reported in
	// partial_success, as OTLP specifies for a batch with bad items.
	expectPost(t, ts.URL()+"/otlp/v1/logs", b, map[string]string{"Content-Type": "application/x-protobuf"}, http.StatusOK, "timestamp too old")

	// The good lines of each batch are stored; the old ones are not (a
	// range query over the last hour, and one over 1970, see each).
	for _, q := range []string{`{job="old"}`, `{service_name="oldjl"}`, `{service_name="unknown_service"}`} {
		r := lokiRange(t, ts, q, nil)
		n := 0
		for _, s := range r.Data.Result {
			for _, v := range s.Values {
				if v[1] != "fine" {
					t.Errorf("%s: stored %q", q, v[1])
				}
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d lines stored, want the one good line", q, n)
		}
	}
}

// Log streams over Loki's label limits (max_label_names_per_series 15,
// max_label_name_length 1024, max_label_value_length 2048:
// https://grafana.com/docs/loki/latest/configure/#limits_config) are
// refused with a 400 naming the limit, on the Loki push and JSON lines
// paths; before, a 10 MB label value and 10,000 labels were stored.
func TestLogStreamLabelLimits(t *testing.T) {
	ts := startServer(t, "")
	ns := time.Now().UnixNano()
	var many strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&many, `"l%d":"v",`, i)
	}
	for _, c := range []struct {
		name, stream, want string
	}{
		{"10,000 labels", `{` + many.String() + `"job":"many"}`, "limits.max_log_stream_labels"},
		{"a 10 MB label value", `{"job":"` + strings.Repeat("x", 10<<20) + `"}`, "limits.max_log_label_value_length"},
		{"a long label name", `{"` + strings.Repeat("n", 2000) + `":"v"}`, "limits.max_log_label_name_length"},
	} {
		body := fmt.Sprintf(`{"streams":[{"stream":%s,"values":[["%d","x"]]},{"stream":{"job":"fine"},"values":[["%d","kept"]]}]}`, c.stream, ns, ns)
		expectPost(t, ts.URL()+"/loki/api/v1/push", []byte(body), map[string]string{"Content-Type": "application/json"}, http.StatusBadRequest, c.want)
	}
	q := url.Values{}
	for i := 0; i < 20; i++ {
		q.Set(fmt.Sprintf("l%d", i), "v")
	}
	expectPost(t, ts.URL()+"/api/v1/logs/jsonl?"+q.Encode(), []byte(`{"msg":"x"}`), map[string]string{"Content-Type": "application/x-ndjson"}, http.StatusBadRequest, "limits.max_log_stream_labels")
	// The three pushes carry the same good line: exact duplicates, kept once.
	if r := lokiRange(t, ts, `{job="fine"}`, nil); len(r.Data.Result) != 1 || len(r.Data.Result[0].Values) != 1 {
		t.Errorf("the good stream beside the refused ones: %+v, want its line", r.Data.Result)
	}
}

// A trace id in an OTLP body is indexed as the JSON lines endpoint
// indexes it, so `| trace_id="…"` finds that log; one in a Loki-pushed
// line's text stays text, as in Loki (which reads a pushed line for its
// level alone): `| logfmt` or `| json` finds it, and so does Grafana's
// `|= "<trace id>"`.
func TestTraceIDInLineText(t *testing.T) {
	ts := startServer(t, "")
	ns := time.Now().UnixNano()
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	loki := fmt.Sprintf(`{"streams":[{"stream":{"service_name":"payments"},"values":[["%d","{\"level\":\"error\",\"trace_id\":\"%s\",\"msg\":\"json\"}"],["%d","level=error trace_id=%s msg=logfmt"],["%d","no id here"]]}]}`, ns, tid, ns+1, tid, ns+2)
	expectPost(t, ts.URL()+"/loki/api/v1/push", []byte(loki), map[string]string{"Content-Type": "application/json"}, http.StatusNoContent, "")
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "payments")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.Timestamp(ns + 3))
	lr.Body().SetStr("otlp body trace_id=" + tid)
	b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	expectPost(t, ts.URL()+"/otlp/v1/logs", b, map[string]string{"Content-Type": "application/x-protobuf"}, http.StatusOK, "")
	for _, tc := range []struct {
		q    string
		want int
	}{
		{`{service_name="payments"} | trace_id="` + tid + `"`, 1},          // the OTLP body
		{`{service_name="payments"} | logfmt | trace_id="` + tid + `"`, 2}, // and the logfmt line
		{`{service_name="payments"} | json | trace_id="` + tid + `"`, 2},   // and the JSON line
		{`{service_name="payments"} |= "` + tid + `"`, 3},                  // all three
	} {
		r := lokiRange(t, ts, tc.q, nil)
		n := 0
		for _, s := range r.Data.Result {
			n += len(s.Values)
		}
		if n != tc.want {
			t.Errorf("%s: %d lines, want %d: %+v", tc.q, n, tc.want, r.Data.Result)
		}
	}
}
