package logging

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The benchmarks log one line of five fields, the case (a 5-field
// log line through the handler, target ≤ 1 µs), to io.Discard. Run:
//
//	cd sdk && go test -run '^$' -bench . -benchmem -count 10 ./logging/
//
// Bare* are slog.NewJSONHandler alone: the floor any handler over it
// pays. Besides ns/op (wall time), each reports cpu-ns/op, the CPU time of
// the benchmark's thread per line (Linux), which a machine shared with
// other work inflates less. The figures are in docs/benchmarks.md, "SDK
// logging".

// measure runs f b.N times on one locked OS thread and reports cpu-ns/op.
func measure(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	start, ok := threadCPU()
	for b.Loop() {
		f()
	}
	if end, ok2 := threadCPU(); ok && ok2 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}

func spanContext(b *testing.B) context.Context {
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("bench").Start(context.Background(), "op")
	b.Cleanup(func() { span.End() })
	return ctx
}

func logFive(ctx context.Context, l *slog.Logger) {
	l.LogAttrs(ctx, slog.LevelInfo, "order created",
		slog.String("order_id", "ord-88121"), slog.String("payment_method", "card"),
		slog.Int("items", 3), slog.Float64("total", 59.90), slog.String("status", "accepted"))
}

// BenchmarkBareJSON: slog.NewJSONHandler, the same five fields.
func BenchmarkBareJSON(b *testing.B) {
	l := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ctx := spanContext(b)
	measure(b, func() {
		logFive(ctx, l)
	})
}

// BenchmarkBareJSONWithIDs: slog.NewJSONHandler, the five fields and the
// trace and span ids the caller formats itself: the same line as ours.
func BenchmarkBareJSONWithIDs(b *testing.B) {
	l := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ctx := spanContext(b)
	measure(b, func() {
		sc := trace.SpanContextFromContext(ctx)
		l.LogAttrs(ctx, slog.LevelInfo, "order created",
			slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()),
			slog.String("order_id", "ord-88121"), slog.String("payment_method", "card"),
			slog.Int("items", 3), slog.Float64("total", 59.90), slog.String("status", "accepted"))
	})
}

// benchHandler logs the five fields through NewJSONHandler with opts, in
// a span, and with the request fields of fields in the context's bag.
func benchHandler(b *testing.B, opts Options, fields ...slog.Attr) {
	l := slog.New(NewJSONHandler(io.Discard, opts))
	ctx := spanContext(b)
	if len(fields) > 0 {
		ctx = WithFields(ctx)
		AddFields(ctx, fields...)
	}
	measure(b, func() {
		logFive(ctx, l)
	})
}

// BenchmarkJSONHandler: NewJSONHandler with the default redaction, in a
// span: the case.
func BenchmarkJSONHandler(b *testing.B) {
	benchHandler(b, Options{Redactor: defaultRedactor(b)})
}

// BenchmarkJSONHandlerRequest: as BenchmarkJSONHandler, with the three
// request fields the server middleware sets (request_id, user_id,
// tenant_id) in the context's bag.
func BenchmarkJSONHandlerRequest(b *testing.B) {
	benchHandler(b, Options{Redactor: defaultRedactor(b)},
		slog.String(RequestIDKey, "0af7651916cd43dd"), slog.String(UserIDKey, "u-1234"), slog.String(TenantIDKey, "acme"))
}

// BenchmarkJSONHandlerNoRedaction: as BenchmarkJSONHandler without a
// Redactor: what redaction costs.
func BenchmarkJSONHandlerNoRedaction(b *testing.B) {
	benchHandler(b, Options{})
}

// BenchmarkJSONHandlerSecrets: as BenchmarkJSONHandler, with two of the
// five values masked (an e-mail address and a card number): what a line
// with secrets costs.
func BenchmarkJSONHandlerSecrets(b *testing.B) {
	l := slog.New(NewJSONHandler(io.Discard, Options{Redactor: defaultRedactor(b)}))
	ctx := spanContext(b)
	measure(b, func() {
		l.LogAttrs(ctx, slog.LevelInfo, "order created",
			slog.String("order_id", "ord-88121"), slog.String("card", "4111 1111 1111 1111"),
			slog.Int("items", 3), slog.Float64("total", 59.90), slog.String("customer", "alice@example.com"))
	})
}

// BenchmarkDisabled: a Debug line the handler's level drops.
func BenchmarkDisabled(b *testing.B) {
	l := slog.New(NewJSONHandler(io.Discard, Options{Redactor: defaultRedactor(b)}))
	ctx := spanContext(b)
	measure(b, func() {
		l.LogAttrs(ctx, slog.LevelDebug, "order created", slog.String("order_id", "ord-88121"))
	})
}
