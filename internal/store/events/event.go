// Package events is the event store: logs and spans, the two kinds of
// timestamped event Horus keeps besides metrics. One engine stores both,
// with two schemas: a write-ahead log (package wal), an in-memory head that
// is queryable at once, and immutable Parquet blocks cut from the head by
// time and size, with per-block indexes (docs/format/events-blocks.md).
package events

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

// Kind is the kind of event: a log record, a span, or a change event.
type Kind uint8

// The kinds of event.
const (
	KindLog Kind = iota + 1
	KindSpan
	// KindChange is a change event (a deploy, a configuration change;
	// package changes): stored with the logs' schema, but under a kind of
	// its own, so that no log query, label or stream listing of a tenant
	// ever reads one, while the WAL, blocks and retention are the logs'.
	KindChange
)

func (k Kind) String() string {
	switch k {
	case KindLog:
		return "logs"
	case KindSpan:
		return "spans"
	case KindChange:
		return "changes"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "logs":
		return KindLog, nil
	case "spans":
		return KindSpan, nil
	case "changes":
		return KindChange, nil
	}
	return 0, fmt.Errorf("unknown event kind %q (want logs, spans or changes)", s)
}

// valid reports whether k is one of the kinds.
func (k Kind) valid() bool { return k >= KindLog && k <= KindChange }

// schema is the kind whose columns, WAL encoding and block schema k's
// events have: a change event is stored as a log record is.
func (k Kind) schema() Kind {
	if k == KindChange {
		return KindLog
	}
	return k
}

// TraceID is a W3C/OTLP trace id; all zeros means none.
type TraceID [16]byte

// SpanID is a W3C/OTLP span id; all zeros means none.
type SpanID [8]byte

func (t TraceID) String() string { return hex.EncodeToString(t[:]) }
func (s SpanID) String() string  { return hex.EncodeToString(s[:]) }

// IsZero reports whether the id is unset.
func (t TraceID) IsZero() bool { return t == TraceID{} }

// IsZero reports whether the id is unset.
func (s SpanID) IsZero() bool { return s == SpanID{} }

// ParseTraceID reads a trace id in hex. Shorter ids (64-bit ids of older
// Zipkin and Jaeger clients, or ids whose leading zeros were dropped, as
// Tempo accepts them) are left-padded with zeros.
func ParseTraceID(s string) (TraceID, error) {
	var t TraceID
	if len(s) == 0 || len(s) > 32 {
		return t, fmt.Errorf("trace id %q: want 1 to 32 hex digits", s)
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return t, fmt.Errorf("trace id %q is not hex", s)
	}
	copy(t[16-len(b):], b)
	return t, nil
}

// ParseSpanID reads a span id of 16 hex digits.
func ParseSpanID(s string) (SpanID, error) {
	var id SpanID
	if len(s) != 16 {
		return id, fmt.Errorf("span id %q: want 16 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("span id %q is not hex", s)
	}
	return id, nil
}

// ValueType is the type of an attribute value, as in OTLP's AnyValue.
type ValueType uint8

// The value types. Arrays and key-value lists are kept as their OTLP JSON
// encoding in Str: rare in practice, and filtering inside them is not
// offered.
const (
	TypeEmpty ValueType = iota
	TypeStr
	TypeInt
	TypeFloat
	TypeBool
	TypeBytes
	TypeArray
	TypeMap
)

// Value is an attribute value.
type Value struct {
	Type  ValueType
	Str   string // TypeStr, TypeBytes (raw), TypeArray and TypeMap (JSON)
	Int   int64  // TypeInt; TypeBool as 0 or 1
	Float float64
}

// Str makes a text value.
func Str(s string) Value { return Value{Type: TypeStr, Str: s} }

// Int makes an integer value.
func Int(i int64) Value { return Value{Type: TypeInt, Int: i} }

// Float makes a floating-point value.
func Float(f float64) Value { return Value{Type: TypeFloat, Float: f} }

// Bool makes a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{Type: TypeBool, Int: 1}
	}
	return Value{Type: TypeBool}
}

// Bytes makes a bytes value.
func Bytes(b []byte) Value { return Value{Type: TypeBytes, Str: string(b)} }

// String renders the value as text, the way label values and filters see it.
func (v Value) String() string {
	switch v.Type {
	case TypeInt:
		return strconv.FormatInt(v.Int, 10)
	case TypeFloat:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case TypeBool:
		return strconv.FormatBool(v.Int != 0)
	case TypeBytes:
		return hex.EncodeToString([]byte(v.Str))
	}
	return v.Str
}

// Number returns the value as a number, if it is one or is text that reads
// as one.
func (v Value) Number() (float64, bool) {
	switch v.Type {
	case TypeInt:
		return float64(v.Int), true
	case TypeFloat:
		return v.Float, true
	case TypeStr:
		f, err := strconv.ParseFloat(v.Str, 64)
		return f, err == nil
	}
	return 0, false
}

// Attr is one attribute.
type Attr struct {
	Key   string
	Value Value
}

// Attrs is a list of attributes, in the order they came.
type Attrs []Attr

// Get returns the value of key.
func (a Attrs) Get(key string) (Value, bool) {
	for i := range a {
		if a[i].Key == key {
			return a[i].Value, true
		}
	}
	return Value{}, false
}

// SpanEvent is an event inside a span.
type SpanEvent struct {
	Time  int64 // unix ns
	Name  string
	Attrs Attrs
}

// SpanLink links a span to another span.
type SpanLink struct {
	TraceID    TraceID
	SpanID     SpanID
	TraceState string
	Attrs      Attrs
}

// Event is one log record or span. Fields of the other kind are zero.
type Event struct {
	Time     int64 // unix ns; a span's start
	TraceID  TraceID
	SpanID   SpanID
	Service  string // resource attribute service.name, also kept in Resource
	Resource Attrs
	Scope    string
	ScopeVer string
	Attrs    Attrs

	// Logs.
	Severity     int32 // OTLP severity number, 0 if unset
	SeverityText string
	Body         string
	Flags        uint32

	// Spans.
	ParentSpanID  SpanID
	Name          string
	SpanKind      int32 // OTLP span kind
	Duration      int64 // ns
	StatusCode    int32 // OTLP status code: 0 unset, 1 ok, 2 error
	StatusMessage string
	TraceState    string
	Events        []SpanEvent
	Links         []SpanLink
}

// Attr returns the attribute key of the event, else of its resource:
// how a bare attribute name reads in filters, TraceQL's unscoped .key and
// span-metrics dimensions.
func (e *Event) Attr(key string) (Value, bool) {
	if v, ok := e.Attrs.Get(key); ok {
		return v, true
	}
	return e.Resource.Get(key)
}

// End is the end time of a span.
func (e *Event) End() int64 { return e.Time + e.Duration }

// Level is the log level as Loki's detected_level: the name of the
// severity number's range if it is set (trace, debug, info, warn, error,
// fatal), else the severity text normalised (lower case; "warning" is
// "warn", "err" "error", "crit" "critical"), else "unknown".
func (e *Event) Level() string {
	if e.Severity > 0 {
		return SeverityLevel(e.Severity)
	}
	if e.SeverityText == "" {
		return "unknown"
	}
	return NormalizeLevel(e.SeverityText)
}

// NormalizeLevel names a level the way Level does: lower case, with the
// usual spellings of the standard levels mapped to them.
func NormalizeLevel(s string) string {
	switch strings.ToLower(s) {
	case "trace", "trc":
		return "trace"
	case "debug", "dbg":
		return "debug"
	case "info", "inf", "information", "informational", "notice":
		return "info"
	case "warn", "warning", "wrn":
		return "warn"
	case "error", "err", "eror":
		return "error"
	case "critical", "crit":
		return "critical"
	case "fatal", "panic", "emerg", "emergency", "alert":
		return "fatal"
	}
	return strings.ToLower(s)
}

// LevelSeverity is the OTLP severity number of a normalised level (the
// first of its range), 0 for one it does not know.
func LevelSeverity(level string) int32 {
	switch level {
	case "trace":
		return 1
	case "debug":
		return 5
	case "info":
		return 9
	case "warn":
		return 13
	case "error":
		return 17
	case "critical", "fatal":
		return 21
	}
	return 0
}

// SeverityLevel names an OTLP severity number's range.
func SeverityLevel(n int32) string {
	switch {
	case n <= 0:
		return "unknown"
	case n <= 4:
		return "trace"
	case n <= 8:
		return "debug"
	case n <= 12:
		return "info"
	case n <= 16:
		return "warn"
	case n <= 20:
		return "error"
	}
	return "fatal"
}

// TextBytes is the size of a span's text as sent: name, status message,
// trace state, attribute keys and values (8 bytes each for type and
// length), events and links. The ingest limit max_span_bytes bounds it;
// span metrics count it (with the fixed fields) as the span's size.
func (e *Event) TextBytes() int {
	n := len(e.Name) + len(e.StatusMessage) + len(e.TraceState) + attrTextBytes(e.Attrs)
	for i := range e.Events {
		n += 8 + len(e.Events[i].Name) + attrTextBytes(e.Events[i].Attrs)
	}
	for i := range e.Links {
		n += 24 + len(e.Links[i].TraceState) + attrTextBytes(e.Links[i].Attrs)
	}
	return n
}

func attrTextBytes(a Attrs) int {
	n := 0
	for i := range a {
		n += len(a[i].Key) + len(a[i].Value.Str) + 8
	}
	return n
}

// attrsSize is the memory of an attribute list but its keys.
func attrsSize(a Attrs) int {
	n := 0
	for i := range a {
		n += int(unsafe.Sizeof(a[i])) + len(a[i].Value.Str) // keys are shared
	}
	return n
}
