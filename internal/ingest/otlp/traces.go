package otlp

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/store/events"
)

// TracesConsumer stores OTLP traces of a tenant. It returns the part it
// refused, or an error when it could not store the batch.
type TracesConsumer interface {
	ConsumeTraces(ctx context.Context, tenant string, td ptrace.Traces) (Partial, error)
}

// EventSpans converts OTLP traces to events, checks every span against the
// limits and hands the accepted ones to a span sink.
type EventSpans struct {
	Limits ingest.SpanLimits
	Sink   ingest.SpanSink
}

var _ TracesConsumer = (*EventSpans)(nil)

// ConsumeTraces implements TracesConsumer.
func (c *EventSpans) ConsumeTraces(ctx context.Context, tenant string, td ptrace.Traces) (Partial, error) {
	spans := SpansFromOTLP(td, nil)
	var rej ingest.Rejections
	spans = c.Limits.CheckSpans(spans, &rej)
	if len(spans) > 0 {
		if err := c.Sink.AppendSpans(ctx, tenant, spans); err != nil {
			return Partial{}, fmt.Errorf("store spans: %w", err)
		}
	}
	return partial(&rej, len(spans))
}

// partial answers a batch of which stored items were stored and rej's
// refused: a partial success, or the refusal itself when nothing was
// stored (the request as a whole is bad).
func partial(rej *ingest.Rejections, stored int) (Partial, error) {
	if rej.Count == 0 {
		return Partial{}, nil
	}
	if stored == 0 {
		return Partial{}, rej.Err()
	}
	return Partial{Rejected: int64(rej.Count), Message: rej.Err().Error(), ByReason: rej.ByReason}, nil
}

// SpansFromOTLP appends the spans of td to dst as events. The spans of a
// resource share its attribute slice; the attributes of all spans are cut
// from one array, so a batch costs a few allocations rather than one per
// span.
func SpansFromOTLP(td ptrace.Traces, dst []events.Event) []events.Event {
	n := td.SpanCount()
	if dst == nil {
		dst = make([]events.Event, 0, n)
	}
	arena := make(events.Attrs, 0, n*8)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := AttrsFrom(rs.Resource().Attributes(), nil)
		var service string
		if v, ok := res.Get("service.name"); ok {
			service = v.String()
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope, scopeVer := ss.Scope().Name(), ss.Scope().Version()
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				start := len(arena)
				arena = AttrsFrom(sp.Attributes(), arena)
				e := events.Event{
					Time:          int64(sp.StartTimestamp()),
					TraceID:       events.TraceID(sp.TraceID()),
					SpanID:        events.SpanID(sp.SpanID()),
					Service:       service,
					Resource:      res,
					Scope:         scope,
					ScopeVer:      scopeVer,
					Attrs:         arena[start:len(arena):len(arena)],
					Flags:         sp.Flags(),
					ParentSpanID:  events.SpanID(sp.ParentSpanID()),
					Name:          sp.Name(),
					SpanKind:      int32(sp.Kind()),
					StatusCode:    int32(sp.Status().Code()),
					StatusMessage: sp.Status().Message(),
					TraceState:    sp.TraceState().AsRaw(),
				}
				if end := int64(sp.EndTimestamp()); end > e.Time {
					e.Duration = end - e.Time
				}
				if len(e.Attrs) == 0 {
					e.Attrs = nil
				}
				if evs := sp.Events(); evs.Len() > 0 {
					e.Events = make([]events.SpanEvent, evs.Len())
					for x := range e.Events {
						ev := evs.At(x)
						e.Events[x] = events.SpanEvent{Time: int64(ev.Timestamp()), Name: ev.Name(), Attrs: AttrsFrom(ev.Attributes(), nil)}
					}
				}
				if links := sp.Links(); links.Len() > 0 {
					e.Links = make([]events.SpanLink, links.Len())
					for x := range e.Links {
						l := links.At(x)
						e.Links[x] = events.SpanLink{
							TraceID: events.TraceID(l.TraceID()), SpanID: events.SpanID(l.SpanID()),
							TraceState: l.TraceState().AsRaw(), Attrs: AttrsFrom(l.Attributes(), nil),
						}
					}
				}
				dst = append(dst, e)
			}
		}
	}
	return dst
}

// AttrsFrom appends the attributes of m to dst.
func AttrsFrom(m pcommon.Map, dst events.Attrs) events.Attrs {
	if dst == nil && m.Len() > 0 {
		dst = make(events.Attrs, 0, m.Len())
	}
	for k, v := range m.All() {
		dst = append(dst, events.Attr{Key: k, Value: ValueFrom(v)})
	}
	return dst
}

// ValueFrom converts an OTLP AnyValue. Arrays and maps keep their JSON
// form, as the event store holds them.
func ValueFrom(v pcommon.Value) events.Value {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return events.Str(v.Str())
	case pcommon.ValueTypeInt:
		return events.Int(v.Int())
	case pcommon.ValueTypeDouble:
		return events.Float(v.Double())
	case pcommon.ValueTypeBool:
		return events.Bool(v.Bool())
	case pcommon.ValueTypeBytes:
		return events.Bytes(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		return events.Value{Type: events.TypeArray, Str: jsonText(v)}
	case pcommon.ValueTypeMap:
		return events.Value{Type: events.TypeMap, Str: jsonText(v)}
	}
	return events.Value{}
}

// tooDeepText stands for a value nested deeper than MaxValueDepth, which
// the receiver refuses before decoding: only a caller that builds pdata
// itself can pass one.
var tooDeepText = fmt.Sprintf("<value nested more than %d levels deep>", MaxValueDepth)

// jsonText is an array or map value as JSON (pdata's AsString, whose
// recursion has no bound), or tooDeepText for one that nests deeper than
// MaxValueDepth.
func jsonText(v pcommon.Value) string {
	if tooDeep(v, MaxValueDepth) {
		return tooDeepText
	}
	return v.AsString()
}

// tooDeep tells whether v needs more than levels levels: a scalar needs
// one, an array or map one more than its deepest element. It recurses no
// deeper than levels.
func tooDeep(v pcommon.Value, levels int) bool {
	if levels < 1 {
		return true
	}
	switch v.Type() {
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if tooDeep(s.At(i), levels-1) {
				return true
			}
		}
	case pcommon.ValueTypeMap:
		for _, x := range v.Map().All() {
			if tooDeep(x, levels-1) {
				return true
			}
		}
	}
	return false
}
