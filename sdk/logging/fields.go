package logging

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
)

// bag holds the request-scoped fields of a context. Readers load an
// immutable slice without locking; writers copy it under mu (copy on
// write), so a log line never sees a half-made update.
type bag struct {
	mu    sync.Mutex
	attrs atomic.Pointer[[]slog.Attr]
}

type bagKey struct{}

func bagFrom(ctx context.Context) *bag {
	b, _ := ctx.Value(bagKey{}).(*bag)
	return b
}

// WithFields returns a context with a new request field bag, which
// [AddFields] fills and every record logged with the context (or one
// derived from it) carries, at the top level of the line. The bag starts
// with the fields of the bag ctx already has, if any: fields added to the
// new bag stay in it and do not reach the outer one. The server
// middleware calls it once per request. The bag is safe for concurrent
// use.
func WithFields(ctx context.Context) context.Context {
	b := &bag{}
	if outer := bagFrom(ctx); outer != nil {
		b.attrs.Store(outer.attrs.Load())
	}
	return context.WithValue(ctx, bagKey{}, b)
}

// AddFields adds attrs to the bag of ctx, where they stay for the rest of
// the request: request_id, user_id, tenant_id, ... (see the *Key
// constants). A key set again replaces its value (last wins) in place; an
// empty key (an inlined group) is added as it is. Without a bag (no
// [WithFields] up the context chain) it does nothing. Values are redacted
// when logged, not here; [slog.LogValuer]s are resolved then too.
func AddFields(ctx context.Context, attrs ...slog.Attr) {
	if ctx == nil || len(attrs) == 0 {
		return
	}
	b := bagFrom(ctx)
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var next []slog.Attr
	if old := b.attrs.Load(); old != nil {
		next = make([]slog.Attr, len(*old), len(*old)+len(attrs))
		copy(next, *old)
	}
	for _, a := range attrs {
		if a.Equal(slog.Attr{}) {
			continue // slog ignores a zero Attr
		}
		if i := slices.IndexFunc(next, func(f slog.Attr) bool { return f.Key == a.Key }); i >= 0 && a.Key != "" {
			next[i] = a
			continue
		}
		next = append(next, a)
	}
	b.attrs.Store(&next)
}

// Fields returns a copy of the fields in the bag of ctx, in the order
// they were first added; nil without a bag or fields.
func Fields(ctx context.Context) []slog.Attr {
	return slices.Clone(loadFields(ctx))
}

// loadFields returns the bag's current slice itself, which is never
// modified: callers must not write to it.
func loadFields(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	b := bagFrom(ctx)
	if b == nil {
		return nil
	}
	if p := b.attrs.Load(); p != nil {
		return *p
	}
	return nil
}
