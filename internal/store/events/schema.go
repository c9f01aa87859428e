package events

import "sort"

// The Parquet schemas of blocks (docs/format/events-blocks.md). Attributes
// are typed maps, one per OTLP value type, so that SQL engines read them
// as they are: attrs_str['http.route'], attrs_int['http.response.status_code'].

// attrCols are attributes as Parquet maps, one per value type. Arrays and
// key-value lists are their OTLP JSON in JSON; bytes are raw in Bytes.
type attrCols struct {
	Str   map[string]string  `parquet:"str" parquet-key:",dict" parquet-value:",dict"`
	Int   map[string]int64   `parquet:"int"`
	Float map[string]float64 `parquet:"float"`
	Bool  map[string]bool    `parquet:"bool"`
	Bytes map[string][]byte  `parquet:"bytes"`
	Other map[string]string  `parquet:"other"` // arrays and key-value lists, as JSON
}

// logRow is one row of a logs block.
type logRow struct {
	Time         int64    `parquet:"time,timestamp(nanosecond),delta"`
	Service      string   `parquet:"service_name,dict"`
	SeverityText string   `parquet:"severity_text,dict"`
	Severity     int32    `parquet:"severity_number"`
	TraceID      [16]byte `parquet:"trace_id"`
	SpanID       [8]byte  `parquet:"span_id"`
	Body         string   `parquet:"body"`
	Flags        uint32   `parquet:"flags"`
	Scope        string   `parquet:"scope_name,dict"`
	ScopeVer     string   `parquet:"scope_version,dict"`
	Resource     string   `parquet:"resource,dict"`
	Attrs        attrCols `parquet:"attrs"`
}

// spanRow is one row of a spans block.
type spanRow struct {
	TraceID       [16]byte       `parquet:"trace_id"`
	SpanID        [8]byte        `parquet:"span_id"`
	ParentSpanID  [8]byte        `parquet:"parent_span_id"`
	Time          int64          `parquet:"start_time,timestamp(nanosecond),delta"`
	Duration      int64          `parquet:"duration,delta"`
	Service       string         `parquet:"service_name,dict"`
	Name          string         `parquet:"name,dict"`
	SpanKind      int32          `parquet:"kind"`
	StatusCode    int32          `parquet:"status_code"`
	StatusMessage string         `parquet:"status_message,dict"`
	TraceState    string         `parquet:"trace_state,dict"`
	Scope         string         `parquet:"scope_name,dict"`
	ScopeVer      string         `parquet:"scope_version,dict"`
	Resource      string         `parquet:"resource,dict"`
	Attrs         attrCols       `parquet:"attrs"`
	Events        []spanEventRow `parquet:"events,list"`
	Links         []spanLinkRow  `parquet:"links,list"`
}

type spanEventRow struct {
	Time  int64    `parquet:"time,timestamp(nanosecond)"`
	Name  string   `parquet:"name,dict"`
	Attrs attrCols `parquet:"attrs"`
}

type spanLinkRow struct {
	TraceID    [16]byte `parquet:"trace_id"`
	SpanID     [8]byte  `parquet:"span_id"`
	TraceState string   `parquet:"trace_state"`
	Attrs      attrCols `parquet:"attrs"`
}

func (c *attrCols) set(a Attrs) {
	*c = attrCols{}
	for i := range a {
		k, v := a[i].Key, &a[i].Value
		switch v.Type {
		case TypeStr, TypeEmpty:
			if c.Str == nil {
				c.Str = make(map[string]string, len(a))
			}
			c.Str[k] = v.Str
		case TypeInt:
			if c.Int == nil {
				c.Int = map[string]int64{}
			}
			c.Int[k] = v.Int
		case TypeFloat:
			if c.Float == nil {
				c.Float = map[string]float64{}
			}
			c.Float[k] = v.Float
		case TypeBool:
			if c.Bool == nil {
				c.Bool = map[string]bool{}
			}
			c.Bool[k] = v.Int != 0
		case TypeBytes:
			if c.Bytes == nil {
				c.Bytes = map[string][]byte{}
			}
			c.Bytes[k] = []byte(v.Str)
		default:
			if c.Other == nil {
				c.Other = map[string]string{}
			}
			c.Other[k] = v.Str
		}
	}
}

// attrs rebuilds the attribute list, keys sorted within each type (Parquet
// maps have no order; sorting makes reads deterministic).
func (c *attrCols) attrs() Attrs {
	n := len(c.Str) + len(c.Int) + len(c.Float) + len(c.Bool) + len(c.Bytes) + len(c.Other)
	if n == 0 {
		return nil
	}
	a := make(Attrs, 0, n)
	for k, v := range c.Str {
		a = append(a, Attr{k, Str(v)})
	}
	for k, v := range c.Int {
		a = append(a, Attr{k, Int(v)})
	}
	for k, v := range c.Float {
		a = append(a, Attr{k, Float(v)})
	}
	for k, v := range c.Bool {
		a = append(a, Attr{k, Bool(v)})
	}
	for k, v := range c.Bytes {
		a = append(a, Attr{k, Bytes(v)})
	}
	for k, v := range c.Other {
		t := TypeMap
		if len(v) > 0 && v[0] == '[' {
			t = TypeArray
		}
		a = append(a, Attr{k, Value{Type: t, Str: v}})
	}
	sort.Slice(a, func(i, j int) bool { return a[i].Key < a[j].Key })
	return a
}

// set fills the row from e; res is e.Resource as encodeAttrsJSON encodes it.
func (r *logRow) set(e *Event, res string) {
	r.Time, r.Service, r.SeverityText, r.Severity = e.Time, e.Service, e.SeverityText, e.Severity
	r.TraceID, r.SpanID, r.Body, r.Flags = e.TraceID, e.SpanID, e.Body, e.Flags
	r.Scope, r.ScopeVer = e.Scope, e.ScopeVer
	r.Resource = res
	r.Attrs.set(e.Attrs)
}

func (r *logRow) event(res resourceCache) Event {
	return Event{
		Time: r.Time, Service: r.Service, SeverityText: r.SeverityText, Severity: r.Severity,
		TraceID: r.TraceID, SpanID: r.SpanID, Body: r.Body, Flags: r.Flags,
		Scope: r.Scope, ScopeVer: r.ScopeVer, Resource: res.get(r.Resource), Attrs: r.Attrs.attrs(),
	}
}

// set fills the row from e; res is e.Resource as encodeAttrsJSON encodes it.
func (r *spanRow) set(e *Event, res string) {
	*r = spanRow{
		TraceID: e.TraceID, SpanID: e.SpanID, ParentSpanID: e.ParentSpanID, Time: e.Time,
		Duration: e.Duration, Service: e.Service, Name: e.Name, SpanKind: e.SpanKind,
		StatusCode: e.StatusCode, StatusMessage: e.StatusMessage, TraceState: e.TraceState,
		Scope: e.Scope, ScopeVer: e.ScopeVer,
	}
	r.Resource = res
	r.Attrs.set(e.Attrs)
	for _, se := range e.Events {
		row := spanEventRow{Time: se.Time, Name: se.Name}
		row.Attrs.set(se.Attrs)
		r.Events = append(r.Events, row)
	}
	for _, l := range e.Links {
		row := spanLinkRow{TraceID: l.TraceID, SpanID: l.SpanID, TraceState: l.TraceState}
		row.Attrs.set(l.Attrs)
		r.Links = append(r.Links, row)
	}
}

func (r *spanRow) event(res resourceCache) Event {
	e := Event{
		TraceID: r.TraceID, SpanID: r.SpanID, ParentSpanID: r.ParentSpanID, Time: r.Time,
		Duration: r.Duration, Service: r.Service, Name: r.Name, SpanKind: r.SpanKind,
		StatusCode: r.StatusCode, StatusMessage: r.StatusMessage, TraceState: r.TraceState,
		Scope: r.Scope, ScopeVer: r.ScopeVer, Resource: res.get(r.Resource), Attrs: r.Attrs.attrs(),
	}
	for i := range r.Events {
		e.Events = append(e.Events, SpanEvent{Time: r.Events[i].Time, Name: r.Events[i].Name, Attrs: r.Events[i].Attrs.attrs()})
	}
	for i := range r.Links {
		l := &r.Links[i]
		e.Links = append(e.Links, SpanLink{TraceID: l.TraceID, SpanID: l.SpanID, TraceState: l.TraceState, Attrs: l.Attrs.attrs()})
	}
	return e
}

// resourceAttrs decodes a resource column value; a value that does not
// decode (a corrupt block passes its checksums only by chance) is kept whole
// under one key rather than dropped.
func resourceAttrs(s string) Attrs {
	a, err := decodeAttrsJSON(s)
	if err != nil {
		return Attrs{{Key: "horus.resource.undecodable", Value: Str(s)}}
	}
	return a
}
