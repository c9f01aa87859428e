// Package logging is the SDK's log/slog handler: it makes every log line
// correlatable and safe to store.
//
// [NewHandler] wraps any [slog.Handler] and, for each record:
//
//   - adds trace_id and span_id, lower-case hex (32 and 16 digits), from the
//     span in the record's context (trace.SpanContextFromContext; only when
//     the span context is valid), so Grafana's derived fields and Horus'
//     JSON-lines ingest link the line to its trace;
//   - adds the request-scoped fields of the context's bag ([WithFields],
//     [AddFields]): request_id, user_id, tenant_id and the like, set once
//     per request instead of on every call;
//   - adds the source location, a "source" group {function, file, line} as
//     slog's own AddSource writes it, on records at or above
//     [Options.SourceAt] (errors by default);
//   - redacts through [redact.Redactor]: the message, and every attribute
//     value by its key, inside groups too, including those given to
//     [slog.Logger.With] and [slog.Logger.WithGroup].
//
// [NewJSONHandler] is NewHandler over [slog.NewJSONHandler]; [Fanout] sends
// one record to several handlers (the JSON lines and the OTLP bridge).
//
// One JSON line, as written by NewJSONHandler:
//
//	{"time":"2026-11-25T12:00:00.123456789Z","level":"ERROR","msg":"payment declined",
//	 "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7",
//	 "request_id":"9f1c…","tenant_id":"acme",
//	 "source":{"function":"main.pay","file":"/src/pay.go","line":42},
//	 "card":"************1111","reason":"insufficient funds"}
//
// Field names: the OpenTelemetry log data model names the correlation
// fields TraceId and SpanId, but JSON logs and Loki/Grafana derived fields
// conventionally use trace_id and span_id (Grafana's "Derived fields"
// documentation, Loki's "| json" parser), and so does Horus' own JSON-lines
// ingest; time, level and msg are the keys slog writes ([slog.TimeKey],
// [slog.LevelKey], [slog.MessageKey]).
package logging

import (
	"context"
	"encoding/hex"
	"log/slog"
	"slices"

	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/sdk/redact"
)

// Keys of the fields this package adds or that the SDK sets per request.
const (
	// TraceIDKey holds the trace id: 32 lower-case hex digits (W3C Trace
	// Context's trace-id).
	TraceIDKey = "trace_id"
	// SpanIDKey holds the span id: 16 lower-case hex digits (W3C Trace
	// Context's parent-id of the span that was current).
	SpanIDKey = "span_id"
	// RequestIDKey holds the request id: X-Request-ID or a generated one.
	RequestIDKey = "request_id"
	// UserIDKey holds the user the request acts for.
	UserIDKey = "user_id"
	// TenantIDKey holds the tenant the request belongs to.
	TenantIDKey = "tenant_id"
	// SourceKey holds the source location, a group of function, file and
	// line ([slog.SourceKey]).
	SourceKey = slog.SourceKey
)

// Options configure [NewHandler] and [NewJSONHandler]. The zero value logs
// at Info and above, adds the source to errors and redacts nothing.
type Options struct {
	// Level is the minimum level handled; nil means [slog.LevelInfo]. A
	// [*slog.LevelVar] changes it at run time.
	Level slog.Leveler
	// Redactor masks secrets in messages and attribute values; nil
	// redacts nothing. Build one with redact.New(redact.Default()).
	Redactor *redact.Redactor
	// SourceAt is the level at and above which records get a "source"
	// group (function, file, line); nil means [slog.LevelError]. A level
	// above every record's, such as slog.Level(1<<30), turns it off.
	// (A Leveler rather than a Level, whose zero value is Info, so that
	// the zero Options mean "errors".)
	SourceAt slog.Leveler
}

// handler is the slog.Handler NewHandler returns.
type handler struct {
	next     slog.Handler
	level    slog.Leveler
	sourceAt slog.Leveler
	red      *redact.Redactor
	// keys are the top-level keys given to WithAttrs before any group: a
	// request field with one of them is left out, so no key is written
	// twice.
	keys []string
	// groups opened by WithGroup, outermost first. They are kept here
	// rather than passed to next.WithGroup so that trace_id, span_id,
	// the request fields and the source stay at the top level of the
	// line, where derived fields look for them.
	groups []group
}

// group is a group opened by WithGroup and the attributes added inside it.
type group struct {
	name  string
	attrs []slog.Attr
}

// NewHandler wraps next: records get trace_id and span_id from the span in
// their context, the context's request fields ([AddFields]), the source
// location at or above opts.SourceAt, and their message and attribute
// values redacted by opts.Redactor; then next handles them. A nil next
// discards.
//
// Redaction happens here, once: to send the same record to several
// handlers, wrap a [Fanout] with NewHandler rather than the other way
// round.
//
// Attribute values are redacted by kind: strings by their key and text
// (redact.Redactor.Value); errors by their Error text, other Any values by
// their JSON encoding (the form the JSON handler writes), or fmt's %+v when
// they have none, and replaced by the redacted text only when something
// was masked; [slog.LogValuer]s are resolved first (slog bounds the
// resolution and turns a panic into an error value); groups member by
// member, every value in a group under a secret key masked. Numbers,
// booleans, times and durations are left alone.
func NewHandler(next slog.Handler, opts Options) slog.Handler {
	if next == nil {
		next = slog.DiscardHandler
	}
	h := &handler{next: next, level: opts.Level, sourceAt: opts.SourceAt, red: opts.Redactor}
	if h.level == nil {
		h.level = slog.LevelInfo
	}
	if h.sourceAt == nil {
		h.sourceAt = slog.LevelError
	}
	return h
}

// Enabled reports whether l is at or above Options.Level and next handles
// it.
func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() && h.next.Enabled(ctx, l)
}

// WithAttrs redacts attrs once and adds them to every record: through
// next.WithAttrs when no group is open, else inside the innermost group.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	h2 := *h
	if len(h.groups) == 0 {
		h2.next = h.next.WithAttrs(red)
		h2.keys = slices.Clip(h.keys)
		for _, a := range red {
			if a.Key != "" {
				h2.keys = append(h2.keys, a.Key)
			}
		}
		return &h2
	}
	h2.groups = slices.Clone(h.groups)
	last := &h2.groups[len(h2.groups)-1]
	last.attrs = append(slices.Clip(last.attrs), red...)
	return &h2
}

// WithGroup nests the record's attributes, and those of later WithAttrs,
// in a group; trace_id, span_id, the request fields and the source stay
// at the top level. An empty name returns h, as slog requires.
func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = append(slices.Clip(h.groups), group{name: name})
	return &h2
}

// attrsOnStack is how many attributes Handle gathers without allocating.
const attrsOnStack = 16

// Handle builds the record next sees: the redacted message, then trace_id,
// span_id, the request fields, the source and the record's own redacted
// attributes (nested in the open groups), and hands it to next.
func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	msg := r.Message
	if h.red != nil {
		msg, _ = h.red.Text(msg)
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)

	var buf [attrsOnStack]slog.Attr
	as := buf[:0]
	var fields []slog.Attr
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			ids := hexIDs(sc)
			as = append(as, slog.String(TraceIDKey, ids[:32]), slog.String(SpanIDKey, ids[32:]))
		}
		fields = loadFields(ctx)
	}
	fieldsAt := len(as)
	for _, f := range fields {
		as = append(as, h.attr(f))
	}
	fieldsEnd := len(as)
	if r.PC != 0 && r.Level >= h.sourceAt.Level() {
		src := r.Source()
		as = append(as, slog.Group(SourceKey,
			slog.String("function", src.Function), slog.String("file", src.File), slog.Int("line", src.Line)))
	}
	own := len(as)
	if len(h.groups) == 0 {
		r.Attrs(func(a slog.Attr) bool {
			as = append(as, h.attr(a))
			return true
		})
	} else {
		as = append(as, h.nest(r))
	}
	if fieldsEnd > fieldsAt && (len(h.keys) > 0 || len(as) > own) {
		as = h.dropShadowed(as, fieldsAt, fieldsEnd, own)
	}
	out.AddAttrs(as...)
	return h.next.Handle(ctx, out)
}

// dropShadowed leaves out the request fields in as[from:to] whose key is
// also a WithAttrs key or one of the record's own top-level keys
// (as[own:]): the more specific value wins and no key appears twice.
func (h *handler) dropShadowed(as []slog.Attr, from, to, own int) []slog.Attr {
	keep := from
	for i := from; i < to; i++ {
		k := as[i].Key
		if k != "" && (slices.Contains(h.keys, k) || slices.ContainsFunc(as[own:], func(a slog.Attr) bool { return a.Key == k })) {
			continue
		}
		as[keep] = as[i]
		keep++
	}
	if keep == to {
		return as
	}
	return append(as[:keep], as[to:]...)
}

// nest wraps the record's attributes in the open groups, each with the
// attributes WithAttrs added inside it. Groups left empty are dropped by
// slog (GroupValue and Record.AddAttrs omit empty groups), as slog's
// handlers do for a WithGroup without attributes.
func (h *handler) nest(r slog.Record) slog.Attr {
	inner := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		inner = append(inner, h.attr(a))
		return true
	})
	for i := len(h.groups) - 1; i >= 0; i-- {
		g := h.groups[i]
		members := append(slices.Clip(g.attrs), inner...)
		inner = []slog.Attr{{Key: g.name, Value: slog.GroupValue(members...)}}
	}
	return inner[0]
}

// attr redacts one attribute when a Redactor is set.
func (h *handler) attr(a slog.Attr) slog.Attr {
	if h.red == nil {
		return a
	}
	a, _ = redactAttr(h.red, a, false)
	return a
}

// hexIDs writes the trace and span ids of sc as one string of 48 lower-case
// hex digits: the trace id then the span id (one allocation for both).
func hexIDs(sc trace.SpanContext) string {
	var b [48]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(b[:32], tid[:])
	hex.Encode(b[32:], sid[:])
	return string(b[:])
}
