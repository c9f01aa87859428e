package logging

import (
	"context"
	"errors"
	"log/slog"
)

// fanout is the slog.Handler Fanout returns.
type fanout []slog.Handler

// Fanout returns a handler that passes each record to every one of hs
// that is enabled for its level: typically the JSON lines and the OTLP
// log bridge (go.opentelemetry.io/contrib/bridges/otelslog). It is
// enabled for a level when any of hs is; Handle gives each enabled
// handler its own [slog.Record.Clone] and returns their errors joined
// ([errors.Join]); WithAttrs and WithGroup apply to each. Nil handlers
// are skipped; with none left, it discards.
//
// Fanout does not redact. Wrap it with [NewHandler] so that redaction,
// trace ids, request fields and source are done once for all:
//
//	logging.NewHandler(logging.Fanout(jsonHandler, otelHandler), opts)
func Fanout(hs ...slog.Handler) slog.Handler {
	f := make(fanout, 0, len(hs))
	for _, h := range hs {
		if h != nil {
			f = append(f, h)
		}
	}
	return f
}

// Enabled reports whether any handler is enabled for l.
func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

// Handle passes r to each enabled handler and joins their errors.
func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if !h.Enabled(ctx, r.Level) {
			continue
		}
		if err := h.Handle(ctx, r.Clone()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// WithAttrs returns a fanout of each handler's WithAttrs(attrs).
func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	g := make(fanout, len(f))
	for i, h := range f {
		g[i] = h.WithAttrs(attrs)
	}
	return g
}

// WithGroup returns a fanout of each handler's WithGroup(name).
func (f fanout) WithGroup(name string) slog.Handler {
	if name == "" {
		return f
	}
	g := make(fanout, len(f))
	for i, h := range f {
		g[i] = h.WithGroup(name)
	}
	return g
}
