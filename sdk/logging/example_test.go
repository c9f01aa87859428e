package logging_test

import (
	"context"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/sdk/logging"
	"github.com/horus-obs/horus/sdk/redact"
)

// defaultRedactor is redaction with every detector on.
func defaultRedactor() *redact.Redactor {
	red, err := redact.New(redact.Default())
	if err != nil {
		panic(err)
	}
	return red
}

// noTime drops the time so that the examples print fixed lines.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

// A request's line: the span's ids, the request fields, the card number
// masked. (NewJSONHandler writes the same line with its "time"; the
// example drops it to print a fixed line.)
func Example() {
	log := slog.New(logging.NewHandler(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}),
		logging.Options{Redactor: defaultRedactor()}))

	// In a service the span comes from the tracer (the SDK middleware
	// starts one per request); here, a fixed one.
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	ctx = logging.WithFields(ctx)
	logging.AddFields(ctx, slog.String(logging.RequestIDKey, "0af7651916cd43dd"), slog.String(logging.TenantIDKey, "acme"))

	log.InfoContext(ctx, "payment declined", "card", "4111 1111 1111 1111", "reason", "insufficient funds")
	// Output:
	// {"level":"INFO","msg":"payment declined","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","request_id":"0af7651916cd43dd","tenant_id":"acme","card":"**** **** **** 1111","reason":"insufficient funds"}
}

// Fanout under NewHandler: one record, redacted once, to two handlers;
// the second takes errors only.
func ExampleFanout() {
	all := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})
	errs := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime, Level: slog.LevelError})
	log := slog.New(logging.NewHandler(logging.Fanout(all, errs), logging.Options{Redactor: defaultRedactor(), SourceAt: slog.Level(1 << 30)}))

	log.Info("login", "user", "alice", "password", "hunter2")
	log.Error("upstream refused", "authorization", "Bearer abcdefgh12345678")
	// Output:
	// level=INFO msg=login user=alice password=<redacted>
	// level=ERROR msg="upstream refused" authorization=<redacted>
	// {"level":"ERROR","msg":"upstream refused","authorization":"<redacted>"}
}
