package ingest

import (
	"context"

	"github.com/horus-obs/horus/internal/store/events"
)

// SpanSink takes the spans of one tenant once they are decoded and
// checked: the trace pipeline (span metrics, service graph, sampling) in
// front of the event store.
type SpanSink interface {
	AppendSpans(ctx context.Context, tenant string, spans []events.Event) error
}

// SpanLimits bound one span at ingest; a span over a limit is refused
// whole (OTLP counts it in partial_success.rejected_spans) and the rest of
// its batch is stored. Zero fields are unlimited.
type SpanLimits struct {
	// MaxBytes bounds a span's text as stored: name, status message,
	// trace state, attribute keys and values, events and links.
	MaxBytes int
	// MaxAttributes bounds the span's own attributes.
	MaxAttributes int
	// MaxEvents bounds the events in a span.
	MaxEvents int
	// MaxLinks bounds the links of a span.
	MaxLinks int
}

// Check refuses a span without a trace or span id, or over a limit.
func (l SpanLimits) Check(e *events.Event) *Error {
	switch {
	case e.TraceID.IsZero():
		return Errorf(ReasonInvalidSpan, "span %q has no trace id (all zeros)", truncate(e.Name))
	case e.SpanID.IsZero():
		return Errorf(ReasonInvalidSpan, "span %q of trace %s has no span id (all zeros)", truncate(e.Name), e.TraceID)
	case l.MaxAttributes > 0 && len(e.Attrs) > l.MaxAttributes:
		return Errorf(ReasonTooManyAttributes, "span %s %q has %d attributes, more than the limit of %d (limits.max_span_attributes)",
			e.SpanID, truncate(e.Name), len(e.Attrs), l.MaxAttributes)
	case l.MaxEvents > 0 && len(e.Events) > l.MaxEvents:
		return Errorf(ReasonTooManySpanEvents, "span %s %q has %d events, more than the limit of %d (limits.max_span_events)",
			e.SpanID, truncate(e.Name), len(e.Events), l.MaxEvents)
	case l.MaxLinks > 0 && len(e.Links) > l.MaxLinks:
		return Errorf(ReasonTooManySpanLinks, "span %s %q has %d links, more than the limit of %d (limits.max_span_links)",
			e.SpanID, truncate(e.Name), len(e.Links), l.MaxLinks)
	}
	if l.MaxBytes > 0 {
		if n := e.TextBytes(); n > l.MaxBytes {
			return Errorf(ReasonSpanTooLarge, "span %s %q is %d bytes, more than the limit of %d (limits.max_span_bytes)",
				e.SpanID, truncate(e.Name), n, l.MaxBytes)
		}
	}
	return nil
}

// CheckSpans keeps the spans Check accepts, in place, and records the
// others in rej.
func (l SpanLimits) CheckSpans(spans []events.Event, rej *Rejections) []events.Event {
	kept := spans[:0]
	for i := range spans {
		if err := l.Check(&spans[i]); err != nil {
			rej.Add(err)
			continue
		}
		kept = append(kept, spans[i])
	}
	return kept
}
