package otlp

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/ingest/shape/shapetest"
)

// limitsReceiver takes all three signals; logs are limited to maxLines a
// request. Bodies may be 64 MiB decoded.
func limitsReceiver(t testing.TB, maxLines int) (*Receiver, *shapetest.Sink, spanSink) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	logs, spans := &shapetest.Sink{}, spanSink{}
	r := New(Consumers{
		Metrics: &nopMetrics{},
		Traces:  &EventSpans{Sink: spans},
		Logs:    &EventLogs{Limits: ingest.LogLimits{MaxLines: maxLines}, Sink: logs},
	}, ingest.NewMetrics(nil), logger, Options{Body: ingest.BodyLimits{MaxBytes: 64 << 20, MaxDecodedBytes: 64 << 20}})
	return r, logs, spans
}

// nopMetrics takes metrics and stores nothing.
type nopMetrics struct{}

func (*nopMetrics) ConsumeMetrics(context.Context, pmetric.Metrics) (Partial, error) {
	return Partial{}, nil
}

// httpServer serves r's OTLP/HTTP endpoints on 127.0.0.1.
func httpServer(t testing.TB, r *Receiver) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	r.RegisterHTTP(mux, "")
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

// send posts body to the server at path; gzip compresses it first.
func send(t testing.TB, ts *httptest.Server, path string, body []byte, json, gzip bool) (int, string) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-protobuf"}
	if json {
		h["Content-Type"] = "application/json"
	}
	if gzip {
		body, h["Content-Encoding"] = shapetest.Gzip(body), "gzip"
	}
	return shapetest.Post(t, ts.Client(), ts.URL+path, body, h)
}

// Protobuf of OTLP requests, built by hand to hold what pdata cannot
// build: values nested tens of thousands deep, millions of empty items.
var (
	strValue = shapetest.Field(1, []byte("x")) // AnyValue{string_value: "x"}
	// inArray and inMap are what stands before an AnyValue of n bytes
	// to put it in an array or map value.
	inArray = func(n int) []byte {
		inner := shapetest.Prefix(1, n)
		return append(shapetest.Prefix(5, len(inner)+n), inner...)
	}
	inMap = func(n int) []byte {
		kv := append(shapetest.Field(1, []byte("k")), shapetest.Prefix(2, n)...)
		list := append(shapetest.Prefix(1, len(kv)+n), kv...)
		return append(shapetest.Prefix(6, len(list)+n), list...)
	}
)

// logsBody is a logs request of one record with the given fields.
func logsBody(record []byte) []byte {
	return shapetest.Field(1, shapetest.Field(2, shapetest.Field(2, record)))
}

// deepJSON is a logs request whose body nests arrays (or maps) wraps
// times around a string: wraps+1 levels.
func deepJSON(wraps int, maps bool) []byte {
	open, close := `{"arrayValue":{"values":[`, `]}}`
	if maps {
		open, close = `{"kvlistValue":{"values":[{"key":"k","value":`, `}]}}`
	}
	v := shapetest.NestJSON(open, `{"stringValue":"x"}`, close, wraps)
	return []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":` + string(v) + `}]}]}]}`)
}

// TestValueDepth: values nested MaxValueDepth levels are taken in both
// encodings, one level more is a 400 naming the limit in both (the
// protobuf decoder itself would take 33 levels of maps and 50 of arrays),
// and so is the attack, an array nested a million deep.
func TestValueDepth(t *testing.T) {
	r, logs, _ := limitsReceiver(t, 0)
	ts := httpServer(t, r)
	for _, maps := range []bool{false, true} {
		wrap := inArray
		if maps {
			wrap = inMap
		}
		for _, c := range []struct {
			wraps int
			code  int
		}{{MaxValueDepth - 1, 200}, {MaxValueDepth, 400}} {
			pb := logsBody(shapetest.Field(5, shapetest.Nest(strValue, c.wraps, wrap)))
			for _, json := range []bool{false, true} {
				body := pb
				if json {
					body = deepJSON(c.wraps, maps)
				}
				before := logs.Count("default")
				code, msg := send(t, ts, "/v1/logs", body, json, false)
				if code != c.code {
					t.Fatalf("maps %v, json %v, %d levels: status %d %s, want %d", maps, json, c.wraps+1, code, msg, c.code)
				}
				if code == 400 && !strings.Contains(msg, "nests more than 32 levels deep") {
					t.Errorf("maps %v, json %v: %s", maps, json, msg)
				}
				if code == 200 && logs.Count("default") != before+1 {
					t.Errorf("maps %v, json %v: the record was not stored", maps, json)
				}
			}
		}
	}
	// The attack of the issue (gzip-compressed to pass the body limit),
	// and as an attribute value in protobuf.
	for _, c := range []struct {
		name string
		body []byte
		json bool
	}{
		{"json body", deepJSON(200_000, false), true},
		{"protobuf attribute", logsBody(shapetest.Field(6, append(shapetest.Field(1, []byte("a")), shapetest.Field(2, shapetest.Nest(strValue, 100_000, inMap))...))), false},
	} {
		code, msg := send(t, ts, "/v1/logs", c.body, c.json, true)
		if code != 400 || !strings.Contains(msg, "nested_too_deep") {
			t.Errorf("%s: status %d %.200s", c.name, code, msg)
		}
	}
}

// TestValueTooDeepForConversion: a value built in pdata deeper than the
// decoders let in is stored as a placeholder, never walked recursively.
func TestValueTooDeepForConversion(t *testing.T) {
	ld := plog.NewLogs()
	body := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetEmptySlice()
	for range 10_000 {
		body = body.AppendEmpty().SetEmptySlice()
	}
	logs := LogsFromOTLP(ld, nil, 1)
	if len(logs) != 1 || logs[0].Body != tooDeepText {
		t.Fatalf("body = %.100q", logs[0].Body)
	}
}

// emptyItems are bodies made of empty items, each within the decoded
// size limit, each refused before it is decoded.
func emptyItems(n int) []struct {
	name, path string
	body       []byte
	json       bool
	reason     ingest.Reason
} {
	emptyRecords := shapetest.Field(1, shapetest.Field(2, shapetest.Repeat([]byte{0x12, 0x00}, n)))
	return []struct {
		name, path string
		body       []byte
		json       bool
		reason     ingest.Reason
	}{
		{"empty ResourceSpans", "/v1/traces", shapetest.Repeat([]byte{0x0a, 0x00}, n), false, ingest.ReasonBodyTooLarge},
		{"empty ResourceSpans, JSON", "/v1/traces", []byte(`{"resourceSpans":[` + strings.Repeat(`{},`, n) + `{}]}`), true, ingest.ReasonBodyTooLarge},
		{"empty spans", "/v1/traces", shapetest.Field(1, shapetest.Field(2, shapetest.Repeat([]byte{0x12, 0x00}, n))), false, ingest.ReasonBodyTooLarge},
		// Each empty container would count as a line, but their memory
		// passes the bound first.
		{"empty ResourceLogs", "/v1/logs", shapetest.Repeat([]byte{0x0a, 0x00}, n), false, ingest.ReasonBodyTooLarge},
		{"empty log records", "/v1/logs", emptyRecords, false, ingest.ReasonTooManyLines},
		{"empty attributes", "/v1/logs", logsBody(shapetest.Repeat([]byte{0x32, 0x00}, 16*n)), false, ingest.ReasonBodyTooLarge},
		{"empty array values", "/v1/logs", logsBody(shapetest.Field(5, shapetest.Field(5, shapetest.Repeat([]byte{0x0a, 0x00}, 16*n)))), false, ingest.ReasonBodyTooLarge},
		{"empty ResourceMetrics", "/v1/metrics", shapetest.Repeat([]byte{0x0a, 0x00}, n), false, ingest.ReasonBodyTooLarge},
	}
}

// TestEmptyItems: bodies of empty items are refused with a 413 before
// pdata decodes them, taking little more memory than the body.
func TestEmptyItems(t *testing.T) {
	r, _, _ := limitsReceiver(t, 0)
	ts := httpServer(t, r)
	n := shape.MaxRecordsPerRequest + 1
	for _, c := range emptyItems(n) {
		var code int
		var msg string
		mem := shapetest.Measure(func() { code, msg = send(t, ts, c.path, c.body, c.json, true) })
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, string(c.reason)) {
			t.Errorf("%s: status %d %s, want 413 %s", c.name, code, msg, c.reason)
		}
		if limit := 4*uint64(len(c.body)) + 8<<20; mem.Total > limit {
			t.Errorf("%s: a %d-byte body took %d bytes to refuse, more than %d", c.name, len(c.body), mem.Total, limit)
		}
	}
}

// TestJSONEmptyName: pdata's JSON reader takes a member named "" for the
// end of its object and reads on out of step, here taking the elements of
// an array under "" for spans: such a body is refused.
func TestJSONEmptyName(t *testing.T) {
	r, _, spans := limitsReceiver(t, 0)
	ts := httpServer(t, r)
	body := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"":[` + strings.Repeat(`{},`, shape.MaxRecordsPerRequest) + `{}]}]}]}]}`
	if code, msg := send(t, ts, "/v1/traces", []byte(body), true, true); code != 400 || !strings.Contains(msg, "a member name is empty") {
		t.Errorf("%d %s", code, msg)
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalJSON([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"":[{},{}]}]}]}]}`)); err != nil || req.Traces().SpanCount() != 3 {
		t.Logf("pdata no longer reads a member named \"\" as the end of its object (%v, %d spans): NoEmptyNames may go", err, req.Traces().SpanCount())
	}
	if len(spans["default"]) != 0 {
		t.Errorf("%d spans stored", len(spans["default"]))
	}
}

// TestLogLinesLimit: the configured lines limit applies before decoding,
// counting empty containers.
func TestLogLinesLimit(t *testing.T) {
	r, logs, _ := limitsReceiver(t, 10)
	ts := httpServer(t, r)
	record := shapetest.Field(5, strValue)
	ten := shapetest.Field(1, shapetest.Field(2, shapetest.Repeat(shapetest.Field(2, record), 10)))
	if code, msg := send(t, ts, "/v1/logs", ten, false, false); code != 200 || logs.Count("default") != 10 {
		t.Fatalf("10 lines: %d %s, %d stored", code, msg, logs.Count("default"))
	}
	for _, body := range [][]byte{append(ten, 0x0a, 0x00), append(ten, shapetest.Field(1, shapetest.Field(2, shapetest.Field(2, record)))...)} {
		code, msg := send(t, ts, "/v1/logs", body, false, false)
		if code != 413 || !strings.Contains(msg, "limits.max_log_lines_per_request") {
			t.Errorf("11: %d %s", code, msg)
		}
	}
}

// TestLargeRealRequest: a large request of real spans is far from the
// limits.
func TestLargeRealRequest(t *testing.T) {
	r, _, spans := limitsReceiver(t, 0)
	ts := httpServer(t, r)
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for i := range 20_000 {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1, byte(i >> 8), byte(i)})
		sp.SetSpanID(pcommon.SpanID{1, byte(i >> 8), byte(i)})
		sp.SetStartTimestamp(1)
		_ = sp.Attributes().FromRaw(map[string]any{"i": int64(i), "b": true, "a": []any{int64(1), int64(2), int64(3)}})
	}
	pb, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if code, msg := send(t, ts, "/v1/traces", pb, false, false); code != 200 || len(spans["default"]) != 20_000 {
		t.Fatalf("%d %s, %d spans", code, msg, len(spans["default"]))
	}
	if err := tracesSignal.check(encProto, pb, shape.MaxRecordsPerRequest, defaultLimit); err != nil {
		t.Fatal(err)
	}
}

// TestGRPC sends OTLP over gRPC to 127.0.0.1: data is stored under the
// metadata's tenant, and the checks answer InvalidArgument and
// ResourceExhausted with the message HTTP gives.
func TestGRPC(t *testing.T) {
	r, logs, spans := limitsReceiver(t, 0)
	srv := r.GRPCServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	ctx := metadata.AppendToOutgoingContext(t.Context(), "X-Scope-OrgID", "team-a")

	resp, err := ptraceotlp.NewGRPCClient(cc).Export(ctx, ptraceotlp.NewExportRequestFromTraces(sampleTraces()))
	if err != nil || resp.PartialSuccess().RejectedSpans() != 0 || len(spans["team-a"]) != 2 {
		t.Fatalf("export: %v, %d rejected, %d stored", err, resp.PartialSuccess().RejectedSpans(), len(spans["team-a"]))
	}
	td := sampleTraces()
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetTraceID(pcommon.TraceID{})
	resp, err = ptraceotlp.NewGRPCClient(cc).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	if err != nil || resp.PartialSuccess().RejectedSpans() != 1 || !strings.Contains(resp.PartialSuccess().ErrorMessage(), "no trace id") {
		t.Fatalf("partial: %v, %d rejected %q", err, resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage())
	}

	ld := plog.NewLogs()
	rec := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	rec.Body().SetStr("hello")
	if _, err := plogotlp.NewGRPCClient(cc).Export(ctx, plogotlp.NewExportRequestFromLogs(ld)); err != nil || logs.Count("team-a") != 1 {
		t.Fatalf("logs: %v, %d stored", err, logs.Count("team-a"))
	}
	v := rec.Body().SetEmptySlice()
	for range MaxValueDepth {
		v = v.AppendEmpty().SetEmptySlice()
	}
	_, err = plogotlp.NewGRPCClient(cc).Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "nests more than 32 levels deep") {
		t.Errorf("deep: %v", err)
	}

	empty := ptrace.NewTraces()
	for range shape.MaxRecordsPerRequest + 1 {
		empty.ResourceSpans().AppendEmpty()
	}
	_, err = ptraceotlp.NewGRPCClient(cc).Export(ctx, ptraceotlp.NewExportRequestFromTraces(empty))
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "body_too_large: OTLP traces") {
		t.Errorf("empty: %v", err)
	}
	bad := metadata.AppendToOutgoingContext(t.Context(), "X-Scope-OrgID", "../x")
	if _, err := ptraceotlp.NewGRPCClient(cc).Export(bad, ptraceotlp.NewExportRequestFromTraces(sampleTraces())); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad tenant: %v", err)
	}
}

func sampleLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(1764064800000000000)
	lr.SetSeverityText("WARN")
	_ = lr.Body().SetEmptyMap().FromRaw(map[string]any{"msg": "slow", "ms": int64(1200), "tags": []any{"a", 1.5}})
	lr.Attributes().PutStr("user", "u1")
	return ld
}

// FuzzOTLPLogsHTTP: every answer to an arbitrary logs body, protobuf or
// JSON, is a success (maybe partial) or a 4xx, never a 5xx or a panic.
func FuzzOTLPLogsHTTP(f *testing.F) {
	f.Add(deepJSON(MaxValueDepth, true), true)
	f.Add(logsBody(shapetest.Field(5, shapetest.Nest(strValue, MaxValueDepth-1, inMap))), false)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := New(Consumers{Logs: &EventLogs{Limits: ingest.LogLimits{MaxLines: 100, MaxFields: 16}, Sink: &shapetest.Sink{}}},
		ingest.NewMetrics(nil), logger, Options{Body: ingest.BodyLimits{MaxBytes: 1 << 20, MaxDecodedBytes: 4 << 20}})
	mux := http.NewServeMux()
	r.RegisterHTTP(mux, "")
	fuzzHTTP(f, mux, "/v1/logs", plogotlp.NewExportRequestFromLogs(sampleLogs()))
}

// FuzzCheck: the check before decoding never panics, and a body it
// passes decodes, as logs, traces or metrics, to no more records than it
// counted (pdata does not read what the check did not see).
func FuzzCheck(f *testing.F) {
	for _, req := range []interface {
		MarshalProto() ([]byte, error)
		MarshalJSON() ([]byte, error)
	}{ptraceotlp.NewExportRequestFromTraces(sampleTraces()), plogotlp.NewExportRequestFromLogs(sampleLogs()), pmetricotlp.NewExportRequestFromMetrics(sampleMetrics())} {
		pb, _ := req.MarshalProto()
		js, _ := req.MarshalJSON()
		f.Add(pb, false)
		f.Add(js, true)
	}
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{},{}]}]}]}`), true)
	type decoder interface {
		UnmarshalProto([]byte) error
		UnmarshalJSON([]byte) error
	}
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		enc := encProto
		if isJSON {
			enc = encJSON
		}
		traces, logs, metrics := ptraceotlp.NewExportRequest(), plogotlp.NewExportRequest(), pmetricotlp.NewExportRequest()
		for _, c := range []struct {
			s       signalShape
			req     decoder
			records func() int
		}{
			{tracesSignal, traces, func() int { return traces.Traces().SpanCount() }},
			{logsSignal, logs, func() int { return logs.Logs().LogRecordCount() }},
			{metricsSignal, metrics, func() int { return metrics.Metrics().DataPointCount() }},
		} {
			tally, err := c.s.tally(enc, body, c.s.limits(5, "five"))
			if err != nil {
				continue
			}
			var derr error
			if enc == encJSON {
				derr = c.req.UnmarshalJSON(body)
			} else {
				derr = c.req.UnmarshalProto(body)
			}
			if derr == nil && c.records() > tally.Records {
				t.Fatalf("%s: decoded %d %s, the check counted %d", c.s.what, c.records(), c.s.records, tally.Records)
			}
		}
	})
}
