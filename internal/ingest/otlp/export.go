package otlp

import (
	"encoding/json"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/horus-obs/horus/internal/store/events"
)

// TracesFromSpans is the inverse of SpansFromOTLP: stored spans as OTLP
// traces, grouped by resource and then by scope, in the order of spans.
func TracesFromSpans(spans []events.Event) ptrace.Traces {
	td := ptrace.NewTraces()
	type scopeKey struct{ res, name, version string }
	resources := map[string]ptrace.ResourceSpans{}
	scopes := map[scopeKey]ptrace.SpanSlice{}
	for i := range spans {
		e := &spans[i]
		rk := attrsKey(e.Resource)
		rs, ok := resources[rk]
		if !ok {
			rs = td.ResourceSpans().AppendEmpty()
			AttrsTo(e.Resource, rs.Resource().Attributes())
			resources[rk] = rs
		}
		sk := scopeKey{rk, e.Scope, e.ScopeVer}
		ss, ok := scopes[sk]
		if !ok {
			sc := rs.ScopeSpans().AppendEmpty()
			sc.Scope().SetName(e.Scope)
			sc.Scope().SetVersion(e.ScopeVer)
			ss = sc.Spans()
			scopes[sk] = ss
		}
		SpanTo(e, ss.AppendEmpty())
	}
	return td
}

// SpanTo fills sp with the span e.
func SpanTo(e *events.Event, sp ptrace.Span) {
	sp.SetTraceID(pcommon.TraceID(e.TraceID))
	sp.SetSpanID(pcommon.SpanID(e.SpanID))
	sp.SetParentSpanID(pcommon.SpanID(e.ParentSpanID))
	sp.TraceState().FromRaw(e.TraceState)
	sp.SetFlags(e.Flags)
	sp.SetName(e.Name)
	sp.SetKind(ptrace.SpanKind(e.SpanKind))
	sp.SetStartTimestamp(pcommon.Timestamp(e.Time))
	sp.SetEndTimestamp(pcommon.Timestamp(e.End()))
	sp.Status().SetCode(ptrace.StatusCode(e.StatusCode))
	sp.Status().SetMessage(e.StatusMessage)
	AttrsTo(e.Attrs, sp.Attributes())
	for _, ev := range e.Events {
		se := sp.Events().AppendEmpty()
		se.SetTimestamp(pcommon.Timestamp(ev.Time))
		se.SetName(ev.Name)
		AttrsTo(ev.Attrs, se.Attributes())
	}
	for _, l := range e.Links {
		sl := sp.Links().AppendEmpty()
		sl.SetTraceID(pcommon.TraceID(l.TraceID))
		sl.SetSpanID(pcommon.SpanID(l.SpanID))
		sl.TraceState().FromRaw(l.TraceState)
		AttrsTo(l.Attrs, sl.Attributes())
	}
}

// AttrsTo puts the attributes a into m.
func AttrsTo(a events.Attrs, m pcommon.Map) {
	m.EnsureCapacity(len(a))
	for i := range a {
		ValueTo(a[i].Value, m.PutEmpty(a[i].Key))
	}
}

// ValueTo is the inverse of ValueFrom.
func ValueTo(v events.Value, dst pcommon.Value) {
	switch v.Type {
	case events.TypeStr:
		dst.SetStr(v.Str)
	case events.TypeInt:
		dst.SetInt(v.Int)
	case events.TypeFloat:
		dst.SetDouble(v.Float)
	case events.TypeBool:
		dst.SetBool(v.Int != 0)
	case events.TypeBytes:
		dst.SetEmptyBytes().FromRaw([]byte(v.Str))
	case events.TypeArray, events.TypeMap:
		// Kept as plain JSON, so a whole number reads back as an int.
		d := json.NewDecoder(strings.NewReader(v.Str))
		d.UseNumber()
		var raw any
		if err := d.Decode(&raw); err != nil {
			dst.SetStr(v.Str) // not JSON after all: keep the text
			return
		}
		if err := dst.FromRaw(numbers(raw)); err != nil {
			dst.SetStr(v.Str)
		}
	}
}

// numbers turns the json.Numbers of raw into int64 or float64.
func numbers(raw any) any {
	switch x := raw.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = numbers(x[k])
		}
	}
	return raw
}

// attrsKey identifies a set of attributes regardless of order.
func attrsKey(a events.Attrs) string {
	parts := make([]string, len(a))
	for i := range a {
		parts[i] = a[i].Key + "\x00" + string(rune('0'+a[i].Value.Type)) + a[i].Value.String()
	}
	slices.Sort(parts)
	return strings.Join(parts, "\x01")
}
