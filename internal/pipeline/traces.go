// Package pipeline is what happens to data between the receivers and the
// stores: for spans, signals derived from every span (span metrics, the
// service graph), then sampling, then the event store.
package pipeline

import (
	"context"

	"github.com/horus-obs/horus/internal/store/events"
)

// SpanDeriver computes signals from spans: it sees every span of every
// tenant before sampling, so that what it derives is exact.
type SpanDeriver interface {
	DeriveSpans(tenant string, spans []events.Event)
}

// SpanStore keeps spans: the event store.
type SpanStore interface {
	Append(ctx context.Context, tenant string, kind events.Kind, evs []events.Event) error
}

// Traces is the trace pipeline: derivers, then tail sampling if on, then
// the store. It implements ingest.SpanSink.
type Traces struct {
	Derivers []SpanDeriver
	// Sampler, if not nil, decides which traces Store gets.
	Sampler *Sampler
	Store   SpanStore
}

// AppendSpans derives from the spans of a tenant and stores them. Without
// sampling, the spans are stored first, so that nothing is derived from a
// batch the store refused (and the client will send again). With it,
// every span is derived from, then the sampler holds them.
func (t *Traces) AppendSpans(ctx context.Context, tenant string, spans []events.Event) error {
	if t.Sampler != nil {
		for _, d := range t.Derivers {
			d.DeriveSpans(tenant, spans)
		}
		return t.Sampler.Add(ctx, tenant, spans)
	}
	if err := t.Store.Append(ctx, tenant, events.KindSpan, spans); err != nil {
		return err
	}
	for _, d := range t.Derivers {
		d.DeriveSpans(tenant, spans)
	}
	return nil
}
