package zipkin

import (
	"strings"
	"testing"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/store/events"
)

const full = `[{
  "traceId": "5af7183fb1d4cf5f", "id": "352bff9a74ca9ad2", "parentId": "6b221d5bc9e6496c",
  "name": "post /pay", "kind": "CLIENT", "timestamp": 1700000000000123, "duration": 2500,
  "localEndpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1"},
  "remoteEndpoint": {"serviceName": "payments", "ipv4": "10.0.0.2", "port": 8080},
  "annotations": [{"timestamp": 1700000000000200, "value": "ws"}],
  "tags": {"http.method": "POST", "http.path": "/pay", "error": "402 declined"}
}]`

// TestDecode maps every field of a Zipkin v2 span.
func TestDecode(t *testing.T) {
	spans, rej, err := Decode([]byte(full), ingest.SpanLimits{})
	if err != nil || rej.Count != 0 || len(spans) != 1 {
		t.Fatalf("decode: %v, %v, %d spans", err, rej.Err(), len(spans))
	}
	e := spans[0]
	if e.TraceID.String() != "00000000000000005af7183fb1d4cf5f" || e.SpanID.String() != "352bff9a74ca9ad2" || e.ParentSpanID.String() != "6b221d5bc9e6496c" {
		t.Errorf("ids: %s %s %s", e.TraceID, e.SpanID, e.ParentSpanID)
	}
	if e.Time != 1700000000000123000 || e.Duration != 2500000 || e.Name != "post /pay" || e.SpanKind != 3 {
		t.Errorf("time %d duration %d name %q kind %d", e.Time, e.Duration, e.Name, e.SpanKind)
	}
	if e.Service != "frontend" || e.StatusCode != 2 || e.StatusMessage != "402 declined" {
		t.Errorf("service %q status %d %q", e.Service, e.StatusCode, e.StatusMessage)
	}
	want := events.Attrs{
		{Key: "http.method", Value: events.Str("POST")}, {Key: "http.path", Value: events.Str("/pay")},
		{Key: "network.peer.address", Value: events.Str("10.0.0.2")}, {Key: "network.peer.port", Value: events.Int(8080)},
		{Key: "peer.service", Value: events.Str("payments")},
	}
	if len(e.Attrs) != len(want) {
		t.Fatalf("attrs %v, want %v", e.Attrs, want)
	}
	for i := range want {
		if e.Attrs[i] != want[i] {
			t.Errorf("attr %d = %v, want %v", i, e.Attrs[i], want[i])
		}
	}
	if len(e.Events) != 1 || e.Events[0].Name != "ws" || e.Events[0].Time != 1700000000000200000 {
		t.Errorf("events %v", e.Events)
	}
}

// TestDecodeBad: a body that is not an array of spans is an error; bad
// spans are refused one by one, each with a message naming what is wrong.
func TestDecodeBad(t *testing.T) {
	for _, body := range []string{``, `{}`, `[{"traceId": 5}]`, `[] []`, `[{]`} {
		if _, _, err := Decode([]byte(body), ingest.SpanLimits{}); err == nil || ingest.ReasonOf(err) != ingest.ReasonMalformed {
			t.Errorf("%q: %v, want a malformed error", body, err)
		}
	}
	ok := `"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","timestamp":1`
	for _, c := range []struct{ span, msg string }{
		{`{"id":"352bff9a74ca9ad2","timestamp":1}`, "traceId is missing"},
		{`{"traceId":"5af7183fb1d4cf5","id":"352bff9a74ca9ad2","timestamp":1}`, "must be 16 or 32 lower-hex"},
		{`{"traceId":"5af7183fb1d4cf5z","id":"352bff9a74ca9ad2","timestamp":1}`, "is not hex"},
		{`{"traceId":"0000000000000000","id":"352bff9a74ca9ad2","timestamp":1}`, "all zeros"},
		{`{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2352bff9a74ca9ad2","timestamp":1}`, "longer than 16"},
		{`{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2"}`, "has no timestamp"},
		{`{` + ok + `,"duration":-1}`, "out of range"},
		{`{` + ok + `,"parentId":"xyz"}`, "parentId"},
		{`{` + ok + `,"kind":"SIDEWAYS"}`, `kind "SIDEWAYS"`},
		{`{` + ok + `,"tags":{"a":"1","b":"2","c":"3"}}`, "limits.max_span_attributes"},
	} {
		spans, rej, err := Decode([]byte(`[`+c.span+`,{`+ok+`}]`), ingest.SpanLimits{MaxAttributes: 2})
		if err != nil || len(spans) != 1 || rej.Count != 1 || !strings.Contains(rej.Err().Error(), c.msg) {
			t.Errorf("%s: %v, %d kept, %v; want one refused with %q", c.span, err, len(spans), rej.Err(), c.msg)
		}
	}
}

// FuzzDecode: any body decodes to spans with ids, or an error; no panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte(`[{"traceId":"5af7183fb1d4cf5f5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","timestamp":9223372036854775,"duration":9223372036854775}]`))
	f.Add([]byte(`[null, {"tags": null, "annotations": [null]}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		spans, rej, err := Decode(body, ingest.SpanLimits{MaxBytes: 1 << 20, MaxAttributes: 128})
		if err != nil {
			if len(spans) != 0 || rej.Count != 0 {
				t.Fatal("spans or rejections with an error")
			}
			return
		}
		for _, e := range spans {
			if e.TraceID.IsZero() || e.SpanID.IsZero() || e.Time <= 0 || e.Duration < 0 || e.End() < e.Time {
				t.Fatalf("bad span kept: %+v", e)
			}
		}
	})
}
