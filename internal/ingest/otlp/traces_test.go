package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/store/events"
)

// spanSink keeps what it is given, by tenant.
type spanSink map[string][]events.Event

func (s spanSink) AppendSpans(_ context.Context, tenant string, spans []events.Event) error {
	s[tenant] = append(s[tenant], spans...)
	return nil
}

func sampleTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for r, svc := range []string{"frontend", "payments"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		rs.Resource().Attributes().PutInt("k8s.pod.count", int64(r+1))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("horus.test")
		ss.Scope().SetVersion("1.0")
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		sp.SetSpanID(pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, byte(r + 1)})
		if r == 1 {
			sp.SetParentSpanID(pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 1})
			sp.SetKind(ptrace.SpanKindServer)
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("card declined")
		} else {
			sp.SetKind(ptrace.SpanKindClient)
		}
		sp.SetName("POST /pay")
		sp.TraceState().FromRaw("vendor=x")
		sp.SetFlags(1)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(r) * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(40 * time.Millisecond)))
		a := sp.Attributes()
		a.PutStr("http.method", "POST")
		a.PutInt("http.status_code", 502)
		a.PutDouble("ratio", 0.25)
		a.PutBool("retry", true)
		a.PutEmptyBytes("blob").FromRaw([]byte{0, 1, 2})
		_ = a.PutEmptySlice("tags").FromRaw([]any{"a", int64(2)})
		_ = a.PutEmptyMap("user").FromRaw(map[string]any{"id": "u-1"})
		ev := sp.Events().AppendEmpty()
		ev.SetName("exception")
		ev.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(30 * time.Millisecond)))
		ev.Attributes().PutStr("exception.message", "boom")
		l := sp.Links().AppendEmpty()
		l.SetTraceID(pcommon.TraceID{9})
		l.SetSpanID(pcommon.SpanID{9})
		l.Attributes().PutStr("link.kind", "follows")
	}
	return td
}

// TestSpansRoundTrip converts OTLP to events and back: every field of a
// span, typed attributes (arrays and maps too), events, links, resource
// and scope come out as they went in.
func TestSpansRoundTrip(t *testing.T) {
	td := sampleTraces()
	spans := SpansFromOTLP(td, nil)
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(spans))
	}
	if spans[1].Service != "payments" || spans[1].Duration != 39*int64(time.Millisecond) || spans[1].StatusCode != 2 {
		t.Errorf("span 1: %+v", spans[1])
	}
	back := TracesFromSpans(spans)
	want, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	got, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(back)
	if !bytes.Equal(want, got) {
		t.Errorf("round trip differs:\nwant %s\ngot  %s", want, got)
	}
}

func tracesMux(t testing.TB, sink spanSink) *http.ServeMux {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := New(Consumers{Traces: &EventSpans{Limits: ingest.SpanLimits{MaxAttributes: 8, MaxBytes: 4096}, Sink: sink}},
		ingest.NewMetrics(nil), logger, Options{Body: ingest.BodyLimits{MaxBytes: 1 << 20, MaxDecodedBytes: 4 << 20}})
	mux := http.NewServeMux()
	r.RegisterHTTP(mux, "")
	return mux
}

// post sends body to path as OTLP protobuf, with the headers given.
func post(mux http.Handler, path string, body []byte, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-protobuf")
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

// TestTracesHTTP posts traces as protobuf, JSON and gzip under tenants,
// and checks the answers to partly and wholly bad batches.
func TestTracesHTTP(t *testing.T) {
	sink := spanSink{}
	mux := tracesMux(t, sink)
	req := ptraceotlp.NewExportRequestFromTraces(sampleTraces())
	pb, _ := req.MarshalProto()
	js, _ := req.MarshalJSON()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(pb)
	_ = zw.Close()

	for _, c := range []struct {
		name   string
		body   []byte
		header map[string]string
		tenant string
	}{
		{"protobuf", pb, nil, "default"},
		{"json", js, map[string]string{"Content-Type": "application/json"}, "default"},
		{"gzip", gz.Bytes(), map[string]string{"Content-Encoding": "gzip", "X-Scope-OrgID": "team-a"}, "team-a"},
	} {
		before := len(sink[c.tenant])
		w := post(mux, "/v1/traces", c.body, c.header)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", c.name, w.Code, w.Body)
		}
		if got := len(sink[c.tenant]) - before; got != 2 {
			t.Errorf("%s: stored %d spans for %s, want 2", c.name, got, c.tenant)
		}
	}

	// One span with a zero trace id, one with too many attributes: the
	// third is stored and the answer counts the two.
	td := sampleTraces()
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.At(0).SetTraceID(pcommon.TraceID{})
	big := spans.AppendEmpty()
	td.ResourceSpans().At(1).ScopeSpans().At(0).Spans().At(0).CopyTo(big)
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		big.Attributes().PutStr(k, "v")
	}
	pb, _ = ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	sink["default"] = nil
	w := post(mux, "/v1/traces", pb, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("partial: status %d: %s", w.Code, w.Body)
	}
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(w.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	ps := resp.PartialSuccess()
	if ps.RejectedSpans() != 2 || !bytes.Contains([]byte(ps.ErrorMessage()), []byte("no trace id")) ||
		!bytes.Contains([]byte(ps.ErrorMessage()), []byte("max_span_attributes")) {
		t.Errorf("partial success = %d %q", ps.RejectedSpans(), ps.ErrorMessage())
	}
	if len(sink["default"]) != 1 {
		t.Errorf("stored %d spans, want 1", len(sink["default"]))
	}

	for _, c := range []struct {
		name   string
		body   []byte
		header map[string]string
		code   int
		msg    string
	}{
		{"all bad", mustProto(func(td ptrace.Traces) { allSpans(td, func(s ptrace.Span) { s.SetSpanID(pcommon.SpanID{}) }) }), nil, 400, "no span id"},
		{"bad tenant", pb, map[string]string{"X-Scope-OrgID": "../etc"}, 400, "invalid tenant"},
		{"garbage", []byte("\xff\xff\xff"), nil, 400, "decode OTLP traces"},
		{"bad json", []byte(`{"resourceSpans":[{`), map[string]string{"Content-Type": "application/json"}, 400, "decode OTLP traces"},
		{"content type", pb, map[string]string{"Content-Type": "text/plain"}, 415, "not supported"},
	} {
		w := post(mux, "/v1/traces", c.body, c.header)
		if w.Code != c.code || !bytes.Contains(w.Body.Bytes(), []byte(c.msg)) {
			t.Errorf("%s: status %d %q, want %d with %q", c.name, w.Code, w.Body, c.code, c.msg)
		}
	}
}

func allSpans(td ptrace.Traces, fn func(ptrace.Span)) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				fn(s)
			}
		}
	}
}

func mustProto(edit func(ptrace.Traces)) []byte {
	td := sampleTraces()
	edit(td)
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzOTLPTracesHTTP: every answer to an arbitrary body is a success
// (maybe partial) or a 4xx, never a 5xx or a panic.
func FuzzOTLPTracesHTTP(f *testing.F) {
	fuzzHTTP(f, tracesMux(f, spanSink{}), "/v1/traces", ptraceotlp.NewExportRequestFromTraces(sampleTraces()))
}

// fuzzHTTP posts arbitrary bodies to path as OTLP protobuf and JSON,
// seeded with req in both: every answer must be a success (maybe
// partial) or a 4xx, never a 5xx or a panic.
func fuzzHTTP(f *testing.F, mux http.Handler, path string, req interface {
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}) {
	pb, _ := req.MarshalProto()
	js, _ := req.MarshalJSON()
	f.Add(pb, false)
	f.Add(js, true)
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		h := map[string]string{}
		if isJSON {
			h["Content-Type"] = "application/json"
		}
		if w := post(mux, path, body, h); w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}
