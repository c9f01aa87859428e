package loki

import (
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/store/events"
)

func TestDecodeJSON(t *testing.T) {
	body := `{"streams":[
	  {"stream":{"job":"varlogs","env":"prod","level":"ERROR"},"values":[["1764064800000000001","db down"],["1764064800000000002","retry",{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","user":"u1"}]]},
	  {"stream":{"service_name":"api","app":"x"},"values":[["1764064800000000003","level=warn msg=slow trace_id=4bf92f3577b34da6a3ce929d0e0e4736"]]},
	  {"stream":{"app":"shop"},"values":[["1764064800000000004","{\"level\":\"debug\"}",{"detected_level":"info","span_id":"zz"}]]}
	]}`
	streams, err := decodeJSON([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var logs []events.Event
	for i := range streams {
		if logs, err = appendStream(logs, &streams[i], 0); err != nil {
			t.Fatal(err)
		}
	}
	if len(logs) != 4 {
		t.Fatalf("%d logs, want 4", len(logs))
	}
	check := func(i int, label, want string) {
		t.Helper()
		if v, ok := logs[i].StreamLabel(label); !ok || v != want {
			t.Errorf("log %d: label %s = %q, %v; want %q", i, label, v, ok, want)
		}
	}
	check(0, "job", "varlogs")
	check(0, "service_name", "varlogs") // discovered from job
	check(0, "level", "ERROR")
	if logs[0].Level() != "error" || logs[0].Time != 1764064800000000001 || logs[0].Body != "db down" {
		t.Errorf("log 0 = %+v", logs[0])
	}
	if logs[1].TraceID.String() != "4bf92f3577b34da6a3ce929d0e0e4736" || len(logs[1].Attrs) != 1 || logs[1].Attrs[0].Key != "user" {
		t.Errorf("log 1: trace id %s, attrs %v", logs[1].TraceID, logs[1].Attrs)
	}
	check(2, "service_name", "api")
	check(2, "app", "x")
	if logs[2].Level() != "warn" {
		t.Errorf("log 2 level %q, want warn from the line", logs[2].Level())
	}
	// Loki does not read a pushed line's text for metadata: a trace_id
	// written there stays in the line alone.
	if !logs[2].TraceID.IsZero() || len(logs[2].Attrs) != 0 {
		t.Errorf("log 2: trace id %s, attrs %v; want none from the line's text", logs[2].TraceID, logs[2].Attrs)
	}
	check(3, "service_name", "shop")
	if logs[3].Level() != "info" || !logs[3].SpanID.IsZero() {
		t.Errorf("log 3: level %q (want metadata's info over the line's), span %s", logs[3].Level(), logs[3].SpanID)
	}
	if v, _ := logs[3].Attrs.Get("span_id"); v.Str != "zz" {
		t.Errorf("an invalid span id stays metadata: %v", logs[3].Attrs)
	}
}

func TestDecodeBad(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"streams":[{"stream":{"a":"b"},"values":[["x","y"]]}]}`, "not unix nanoseconds"},
		{`{"streams":[{"stream":{"a":"b"},"values":[[1,"y"]]}]}`, "timestamp must be a string"},
		{`{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}`, "got 1 elements"},
		{`{"streams":[{"stream":{"a":"b"},"values":[["1",2]]}]}`, "line must be a string"},
		{`{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":1}]]}]}`, "structured metadata must be an object of strings"},
		{`{"streams":`, "decode push JSON"},
	} {
		_, err := decodeJSON([]byte(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) || ingest.ReasonOf(err) != ingest.ReasonMalformed {
			t.Errorf("%s: err = %v, want %q", c.body, err, c.want)
		}
	}
	for _, ls := range []string{`{}`, `{a=}`, `{1a="b"}`, `nope`} {
		_, err := appendStream(nil, &push.Stream{Labels: ls, Entries: []push.Entry{{Timestamp: time.Unix(1, 0), Line: "x"}}}, 0)
		if ingest.ReasonOf(err) != ingest.ReasonInvalidLabels {
			t.Errorf("labels %s: err = %v, want invalid_labels", ls, err)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"streams":[{"stream":{"job":"x"},"values":[["1","a",{"trace_id":"01"}]]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		streams, err := decodeJSON(body)
		if err != nil {
			return
		}
		for i := range streams {
			_, _ = appendStream(nil, &streams[i], 1)
		}
	})
}
