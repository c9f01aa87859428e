package pipeline

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/sdk/redact"
)

// Logs is the log pipeline: redaction, then the store. It implements
// ingest.LogSink. Records are redacted before Append, so a redacted value
// never reaches the write-ahead log.
type Logs struct {
	// Redactor returns the redactor of a tenant, nil for none.
	Redactor func(tenant string) *redact.Redactor
	Store    SpanStore

	redacted prometheus.Counter
}

// NewLogs returns the log pipeline, its self-metrics registered with reg
// when reg is not nil.
func NewLogs(store SpanStore, redactor func(tenant string) *redact.Redactor, reg prometheus.Registerer) *Logs {
	l := &Logs{Redactor: redactor, Store: store, redacted: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "horus_logs_redacted_total",
		Help: "Log records in which redaction masked something (body, attributes or resource).",
	})}
	if reg != nil {
		reg.MustRegister(l.redacted)
	}
	return l
}

// AppendLogs redacts the records of a tenant in place and stores them.
func (l *Logs) AppendLogs(ctx context.Context, tenant string, logs []events.Event) error {
	var r *redact.Redactor
	if l.Redactor != nil {
		r = l.Redactor(tenant)
	}
	if r != nil {
		if n := Redact(r, logs); n > 0 && l.redacted != nil {
			l.redacted.Add(float64(n))
		}
	}
	return l.Store.Append(ctx, tenant, events.KindLog, logs)
}

// Redact masks secrets in the bodies, attributes and resources of logs, in
// place, and returns how many records it changed. Resources shared
// between records are redacted once.
func Redact(r *redact.Redactor, logs []events.Event) int {
	n := 0
	var lastRes *events.Attr
	resChanged := false
	for i := range logs {
		e := &logs[i]
		changed := false
		if len(e.Resource) > 0 && &e.Resource[0] != lastRes {
			lastRes = &e.Resource[0]
			resChanged = redactAttrs(r, e.Resource)
		}
		changed = resChanged
		if b, ok := r.Text(e.Body); ok {
			e.Body, changed = b, true
		}
		if redactAttrs(r, e.Attrs) {
			changed = true
		}
		if changed {
			n++
		}
	}
	return n
}

// redactAttrs masks attribute values: whole under a secret key, whatever
// the type, else what the text detectors find in text, arrays and maps.
func redactAttrs(r *redact.Redactor, attrs events.Attrs) bool {
	changed := false
	for i := range attrs {
		a := &attrs[i]
		switch a.Value.Type {
		case events.TypeEmpty:
			continue
		case events.TypeStr, events.TypeArray, events.TypeMap:
			if v, ok := r.Value(a.Key, a.Value.Str); ok {
				a.Value.Str, changed = v, true
			}
		default:
			if r.SecretKey(a.Key) {
				a.Value, changed = events.Str(redact.Mask), true
			}
		}
	}
	return changed
}
