package jsonlines

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/horus-obs/horus/bench/eventgen"
	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/ingest/shape/shapetest"
	"github.com/horus-obs/horus/internal/store/events"
)

func TestDecode(t *testing.T) {
	body := strings.Join([]string{
		`{"time":"2026-11-25T10:00:00.123Z","level":"WARN","msg":"disk 91% full","disk":{"path":"/var","free_gb":4.5},"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","retries":3,"ok":false,"tags":["a","b"]}`,
		``,
		`{"@timestamp":1764064800,"severity":"error","message":"payment failed","service":"payments","trace.id":"not-hex"}`,
		`{"ts":1764064800123,"msg":"ms"}`,
		`{"timestamp":"1764064800123456","msg":"us as text","level":30}`,
		`{"ts":1764064800.5,"message":"fraction","user":{"id":"u1"}}`,
		`{"no":"message","level":"info"}`,
		`not json`,
		`{"ts":"yesterday","msg":"bad time"}`,
		`{"broken":`,
		`{"msg":"ERROR in the text","esc\"aped":"x\ny"}`,
	}, "\n")
	var rej ingest.Rejections
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixNano()
	stream := events.Attrs{{Key: "env", Value: events.Str("prod")}}
	logs := newDecoder(DefaultFields(), stream, now, ingest.LogLimits{}).decode([]byte(body), &rej)
	if rej.Count != 3 || !strings.Contains(strings.Join(rej.Messages, "\n"), "line 8: not a JSON object") ||
		!strings.Contains(rej.Messages[1], `line 9: field "ts": time "yesterday"`) || !strings.Contains(rej.Messages[2], "line 10: not valid JSON") {
		t.Errorf("rejections = %d %q", rej.Count, rej.Messages)
	}
	if len(logs) != 7 {
		t.Fatalf("%d logs, want 7", len(logs))
	}
	e := logs[0]
	if e.Time != time.Date(2026, 11, 25, 10, 0, 0, 123e6, time.UTC).UnixNano() || e.Body != "disk 91% full" || e.Level() != "warn" ||
		e.TraceID.String() != "4bf92f3577b34da6a3ce929d0e0e4736" || e.SpanID.String() != "00f067aa0ba902b7" || e.Service != "unknown_service" {
		t.Errorf("line 1 = %+v", e)
	}
	for k, want := range map[string]string{"disk.path": "/var", "disk.free_gb": "4.5", "retries": "3", "ok": "false", "tags": `["a","b"]`} {
		if v, ok := e.Attrs.Get(k); !ok || v.String() != want {
			t.Errorf("line 1 attribute %s = %v, want %s", k, v, want)
		}
	}
	if v, _ := e.StreamLabel("env"); v != "prod" {
		t.Errorf("env label = %q", v)
	}
	e = logs[1]
	if e.Time != 1764064800e9 || e.Service != "payments" || e.Level() != "error" || !e.TraceID.IsZero() {
		t.Errorf("line 3 = %+v", e)
	}
	if v, _ := e.Attrs.Get("trace.id"); v.Str != "not-hex" {
		t.Errorf("an invalid trace id stays an attribute: %v", e.Attrs)
	}
	if v, _ := e.StreamLabel("service_name"); v != "payments" {
		t.Errorf("service_name label = %q", v)
	}
	if logs[2].Time != 1764064800123e6 || logs[3].Time != 1764064800123456e3 || logs[3].Level() != "info" || logs[4].Time != 17640648005e8 {
		t.Errorf("times %d %d %d, level %q", logs[2].Time, logs[3].Time, logs[4].Time, logs[3].Level())
	}
	if v, _ := logs[4].Attrs.Get("user.id"); v.Str != "u1" {
		t.Errorf("nested user.id = %v", logs[4].Attrs)
	}
	if e := logs[5]; e.Body != `{"no":"message","level":"info"}` || e.Time != now || e.Level() != "info" {
		t.Errorf("a line without a message is its body whole, timed now: %+v", e)
	}
	if e := logs[6]; e.Level() != "error" || e.Attrs[0].Key != `esc"aped` || e.Attrs[0].Value.Str != "x\ny" {
		t.Errorf("line 11 = %+v", e)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-25T10:00:00Z","level":"WARN","msg":"x","a":{"b":[1,{"c":null}]}}` + "\n" + `{"ts":1.5e9}`))
	f.Add([]byte(`{"trace_id":"abc","span_id":"00f067aa0ba902b7","level":50,"\u0041":"\u00e9"}`))
	f.Add(shapetest.NestJSON(`{"a":[{"b":`, "1", "}]}", 40))
	f.Fuzz(func(t *testing.T, body []byte) {
		var rej ingest.Rejections
		logs := newDecoder(DefaultFields(), nil, 1, ingest.LogLimits{MaxFields: 32, MaxLineBytes: 1 << 16}).decode(body, &rej)
		for i := range logs {
			if logs[i].Service == "" || logs[i].Resource == nil {
				t.Fatalf("line without a service or resource: %+v", logs[i])
			}
		}
		// No decoded string aliases the body: text values are copied
		// into the decoder's arenas.
		before := fmt.Sprintf("%+v", logs)
		for i := range body {
			body[i] = '!'
		}
		if after := fmt.Sprintf("%+v", logs); after != before {
			t.Fatalf("events changed with the body:\n%s\n%s", before, after)
		}
	})
}

// benchLines is about 1000 generated app log lines (JSON, as slog writes
// them) and their number.
func benchLines() ([]byte, int) {
	g := eventgen.New(1, time.Unix(1764064800, 0), time.Millisecond)
	var body bytes.Buffer
	lines := 0
	for lines < 1000 {
		for _, l := range g.Next().Logs {
			body.Write(eventgen.JSONLine(&l))
			body.WriteByte('\n')
			lines++
		}
	}
	return body.Bytes(), lines
}

// BenchmarkDecode decodes about 1000 app log lines a round.
func BenchmarkDecode(b *testing.B) {
	body, n := benchLines()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var rej ingest.Rejections
		if logs := newDecoder(DefaultFields(), nil, 1, ingest.LogLimits{}).decode(body, &rej); len(logs) != n {
			b.Fatalf("%d lines, %v", len(logs), rej.Err())
		}
	}
}

// TestLineLimits posts to the handler on 127.0.0.1: a line over a limit
// is refused, before it is walked, with the reason of the limit, and the
// others are stored; the line, objects nested 20,000 deep, is
// refused at the 65th level with little work.
func TestLineLimits(t *testing.T) {
	sink := &shapetest.Sink{}
	ts := httptest.NewServer(&Handler{Sink: sink, Fields: DefaultFields(),
		Limits:  ingest.LogLimits{MaxLineBytes: 256 << 10, MaxFields: 8, MaxLines: 100},
		Body:    ingest.BodyLimits{MaxBytes: 4 << 20, MaxDecodedBytes: 4 << 20},
		Metrics: ingest.NewMetrics(nil), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer ts.Close()
	deep := string(shapetest.NestJSON(`{"a":`, "1", "}", 20_000))
	lines := []string{
		`{"msg":"ok"}`,
		`{"msg":"` + strings.Repeat("x", 256<<10) + `"}`,
		deep,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}`,
		string(shapetest.NestJSON(`{"a":`, "1", "}", shape.MaxDepth-1)),
		`{"a":tru}`,
	}
	var code int
	var msg string
	mem := shapetest.Measure(func() {
		code, msg = shapetest.Post(t, ts.Client(), ts.URL, []byte(strings.Join(lines, "\n")), map[string]string{"Content-Type": "application/x-ndjson"})
	})
	if code != http.StatusBadRequest || sink.Count("default") != 2 {
		t.Fatalf("%d %s, %d stored", code, msg, sink.Count("default"))
	}
	for _, want := range []string{
		"line_too_long: line 2: 262154 bytes, more than the limit of 262144",
		"nested_too_deep: line 3: JSON nested more than 64 levels deep at byte 320",
		"too_many_attributes: line 4: more than 8 fields",
		`invalid_line: line 6: not valid JSON: \"tru\" is not a value`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("answer lacks %q: %s", want, msg)
		}
	}
	if body := len(deep) + 300<<10; mem.Total > 16*uint64(body)+4<<20 {
		t.Errorf("a %d-byte request took %d bytes", body, mem.Total)
	}
}

// BenchmarkDeepLine decodes the line: objects nested 20,000 deep
// (117 KB), which took 15.7 s before the walk stopped at shape.MaxDepth.
func BenchmarkDeepLine(b *testing.B) {
	line := shapetest.NestJSON(`{"a":`, "1", "}", 20_000)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		var rej ingest.Rejections
		newDecoder(DefaultFields(), nil, 1, ingest.LogLimits{}).decode(line, &rej)
		if rej.Count != 1 {
			b.Fatal("not refused")
		}
	}
}

// Objects one after another on a line (what curl -d makes of a file of
// JSON lines: it drops the newlines) are each a record; before, the first
// was stored, the rest lost, and the answer was a 200. A bad object
// refuses the rest of its line, by line and object number.
func TestObjectsOnOneLine(t *testing.T) {
	body := `{"msg":"a"} {"msg":"b"}{"msg":"c"}` + "\n" + `{"msg":"d"} {"msg": oops} {"msg":"e"}` + "\n" + `{"msg":"f"} trailing`
	var rej ingest.Rejections
	logs := newDecoder(DefaultFields(), nil, 1, ingest.LogLimits{}).decode([]byte(body), &rej)
	var got []string
	for _, e := range logs {
		got = append(got, e.Body)
	}
	if strings.Join(got, ",") != "a,b,c,d,f" {
		t.Errorf("records %q, want a,b,c,d,f", got)
	}
	if rej.Count != 2 || !strings.Contains(rej.Messages[0], "line 2, object 2") || !strings.Contains(rej.Messages[1], "line 3, object 2") {
		t.Errorf("rejections %+v, want line 2 object 2 and line 3 object 2", rej)
	}
}
