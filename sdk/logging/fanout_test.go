package logging

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// failing is a handler whose Handle fails.
type failing struct {
	slog.Handler
	err error
}

func (f failing) Handle(context.Context, slog.Record) error { return f.err }

// TestFanout: a record reaches each enabled handler, once redacted; a
// disabled handler gets nothing; WithAttrs and WithGroup reach each.
func TestFanout(t *testing.T) {
	all, errs := &lines{}, &lines{}
	f := Fanout(
		slog.NewJSONHandler(all, &slog.HandlerOptions{Level: slog.LevelDebug}),
		nil,
		slog.NewJSONHandler(errs, &slog.HandlerOptions{Level: slog.LevelError}),
	)
	ctx := context.Background()
	if !f.Enabled(ctx, slog.LevelDebug) || f.Enabled(ctx, slog.LevelDebug-1) {
		t.Error("Enabled is not the union of the handlers'")
	}
	log := slog.New(NewHandler(f, Options{Level: slog.LevelDebug, Redactor: defaultRedactor(t)})).With("svc", "orders").WithGroup("g")
	log.Info("info", "password", "hunter2")
	log.Error("error", "password", "hunter2")

	ms := all.parse(t)
	if len(ms) != 2 || ms[0]["msg"] != "info" || ms[1]["msg"] != "error" {
		t.Fatalf("all: %v", ms)
	}
	e := errs.one(t)
	if e["msg"] != "error" {
		t.Fatalf("errors: %v", e)
	}
	for _, m := range append(ms, e) {
		if m["svc"] != "orders" || m["g"].(map[string]any)["password"] != "<redacted>" {
			t.Errorf("line %v: WithAttrs, WithGroup or redaction missing", m)
		}
	}
	if _, ok := e[SourceKey]; !ok {
		t.Error("error line has no source")
	}
	if strings.Contains(all.buf.String()+errs.buf.String(), "hunter2") {
		t.Error("secret leaked")
	}
	// WithGroup directly on the fanout reaches each handler too.
	a, b := &lines{}, &lines{}
	slog.New(Fanout(slog.NewJSONHandler(a, nil), slog.NewJSONHandler(b, nil)).WithGroup("req").WithGroup("")).Info("x", "k", "v")
	for _, w := range []*lines{a, b} {
		if g, ok := w.one(t)["req"].(map[string]any); !ok || g["k"] != "v" {
			t.Errorf("WithGroup not applied: %s", w.buf.String())
		}
	}
}

// TestFanoutErrors: every enabled handler runs even when one fails, and
// the errors come back joined.
func TestFanoutErrors(t *testing.T) {
	e1, e2 := errors.New("disk full"), errors.New("exporter down")
	w := &lines{}
	f := Fanout(failing{slog.NewJSONHandler(w, nil), e1}, slog.NewJSONHandler(w, nil), failing{slog.NewJSONHandler(w, nil), e2})
	err := f.Handle(context.Background(), slog.NewRecord(timeZero, slog.LevelInfo, "m", 0))
	if !errors.Is(err, e1) || !errors.Is(err, e2) {
		t.Errorf("error %v, want both joined", err)
	}
	if w.one(t)["msg"] != "m" {
		t.Error("the healthy handler did not run")
	}
	if Fanout().Enabled(context.Background(), slog.LevelError) {
		t.Error("an empty fanout is enabled")
	}
	if err := Fanout().Handle(context.Background(), slog.NewRecord(timeZero, slog.LevelInfo, "m", 0)); err != nil {
		t.Error(err)
	}
}

var timeZero = time.Time{}
