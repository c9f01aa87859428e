package logging

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The benchmarks log one line of five fields, the case (a 5-field
// log line through the handler, target ≤ 1 µs), to io.Discard, in a
// sampled span. Run:
//
//	cd sdk && go test -run '^$' -bench Paired -benchtime 50000x -count 10 ./logging/   # the ratios
//	cd sdk && go test -run '^$' -bench Line -benchmem ./logging/                       # each alone, allocations
//
// bare and bare-ids are slog.NewJSONHandler alone: the floor any handler
// over it pays. Besides wall time, both report the CPU time of the
// benchmark's thread per line (Linux), which a machine shared with other
// work inflates less. The figures are in docs/benchmarks.md, "SDK
// logging".

// variant is one way of writing the line; new builds its log function.
type variant struct {
	name string
	new  func(b *testing.B) func()
}

// variants are the ways compared, the reference (bare-ids) second.
var variants = []variant{
	{"bare", func(b *testing.B) func() {
		l, ctx := slog.New(slog.NewJSONHandler(io.Discard, nil)), spanContext(b)
		return func() { logFive(ctx, l) }
	}},
	// The same line as the handler's: the five fields and the trace and
	// span ids the caller formats itself.
	{"bare-ids", func(b *testing.B) func() {
		l, ctx := slog.New(slog.NewJSONHandler(io.Discard, nil)), spanContext(b)
		return func() {
			sc := trace.SpanContextFromContext(ctx)
			l.LogAttrs(ctx, slog.LevelInfo, "order created",
				slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()),
				slog.String("order_id", "ord-88121"), slog.String("payment_method", "card"),
				slog.Int("items", 3), slog.Float64("total", 59.90), slog.String("status", "accepted"))
		}
	}},
	// NewJSONHandler with the default redaction: the case.
	{"handler", func(b *testing.B) func() { return handlerLine(b, Options{Redactor: defaultRedactor(b)}) }},
	// Without a Redactor: what redaction costs.
	{"handler-no-redaction", func(b *testing.B) func() { return handlerLine(b, Options{}) }},
	// With the three request fields the server middleware sets in the
	// context's bag (request_id, user_id, tenant_id): an eight-field line.
	{"handler-request", func(b *testing.B) func() {
		return handlerLine(b, Options{Redactor: defaultRedactor(b)},
			slog.String(RequestIDKey, "0af7651916cd43dd"), slog.String(UserIDKey, "u-1234"), slog.String(TenantIDKey, "acme"))
	}},
	// Two of the five values masked (an e-mail address and a card
	// number): what a line with secrets costs.
	{"handler-secrets", func(b *testing.B) func() {
		l, ctx := slog.New(NewJSONHandler(io.Discard, Options{Redactor: defaultRedactor(b)})), spanContext(b)
		return func() {
			l.LogAttrs(ctx, slog.LevelInfo, "order created",
				slog.String("order_id", "ord-88121"), slog.String("card", "4111 1111 1111 1111"),
				slog.Int("items", 3), slog.Float64("total", 59.90), slog.String("customer", "alice@example.com"))
		}
	}},
	// A Debug line the handler's level drops.
	{"disabled", func(b *testing.B) func() {
		l, ctx := slog.New(NewJSONHandler(io.Discard, Options{Redactor: defaultRedactor(b)})), spanContext(b)
		return func() { l.LogAttrs(ctx, slog.LevelDebug, "order created", slog.String("order_id", "ord-88121")) }
	}},
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

// handlerLine logs the five fields through NewJSONHandler with opts, in a
// span, with fields in the context's bag.
func handlerLine(b *testing.B, opts Options, fields ...slog.Attr) func() {
	l, ctx := slog.New(NewJSONHandler(io.Discard, opts)), spanContext(b)
	if len(fields) > 0 {
		ctx = WithFields(ctx)
		AddFields(ctx, fields...)
	}
	return func() { logFive(ctx, l) }
}

// BenchmarkLine runs each variant alone: ns/op, cpu-ns/op, allocations.
func BenchmarkLine(b *testing.B) {
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			f := v.new(b)
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
		})
	}
}

// BenchmarkPaired runs the variants in alternating slices of 25 lines and
// reports each one's time per line, wall and CPU of the thread, and its
// CPU time's ratio to bare-ids (the same line written by
// slog.NewJSONHandler alone), so that the load of a shared machine, which
// comes and goes, falls on all of them alike.
func BenchmarkPaired(b *testing.B) {
	fs := make([]func(), len(variants))
	for i, v := range variants {
		fs[i] = v.new(b)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	wall := make([]time.Duration, len(fs))
	cpu := make([]time.Duration, len(fs))
	const slice = 25
	for done := 0; done < b.N; done += slice {
		n := min(slice, b.N-done)
		for i, f := range fs {
			start, c0 := time.Now(), cpuNow()
			for range n {
				f()
			}
			wall[i] += time.Since(start)
			cpu[i] += cpuNow() - c0
		}
	}
	for i, v := range variants {
		b.ReportMetric(float64(wall[i].Nanoseconds())/float64(b.N), v.name+"-ns/op")
		b.ReportMetric(float64(cpu[i].Nanoseconds())/float64(b.N), v.name+"-cpu-ns/op")
		if i != 1 {
			b.ReportMetric(float64(cpu[i])/float64(cpu[1]), v.name+"/bare-ids")
		}
	}
}

// cpuNow is threadCPU, 0 where it is not measured.
func cpuNow() time.Duration {
	d, _ := threadCPU()
	return d
}
