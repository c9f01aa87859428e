package events

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A WAL record holds one appended batch: the events of one tenant and kind.
//
//	version  byte (1)
//	kind     byte: 1 logs, 2 spans, 3 changes
//	tenant   string
//	count    uvarint
//	events   count times:
//	  time       varint, difference from the previous event's (the first's from 0)
//	  trace id   16 bytes
//	  span id    8 bytes
//	  same       byte: 1 if resource, service and scope are the previous event's
//	  service, resource attrs, scope, scope version   when same is 0
//	  attrs
//	  logs and changes:  severity varint, severity text, body, flags uvarint
//	  spans: parent span id 8 bytes, name, span kind varint, duration uvarint,
//	         status code varint, status message, trace state,
//	         events (uvarint count; time varint from the span's start, name, attrs),
//	         links (uvarint count; trace id, span id, trace state, attrs)
//
// A string is a uvarint length and its bytes; attrs are a uvarint count of
// key (string), type (byte) and value: a string for text, bytes, arrays and
// maps; a varint for integers and booleans; 8 bytes little endian for floats.
const recordVersion = 1

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("corrupt event record")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendAttrs(b []byte, a Attrs) []byte {
	b = binary.AppendUvarint(b, uint64(len(a)))
	for i := range a {
		b = appendString(b, a[i].Key)
		b = appendValue(b, &a[i].Value)
	}
	return b
}

// appendValue appends an attribute value as WAL records and the head
// encode it: its type byte, then a varint for int and bool, 8
// little-endian bytes for float, nothing for empty, a string otherwise.
func appendValue(b []byte, v *Value) []byte {
	b = append(b, byte(v.Type))
	switch v.Type {
	case TypeInt, TypeBool:
		b = binary.AppendVarint(b, v.Int)
	case TypeFloat:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float))
	case TypeEmpty:
	default:
		b = appendString(b, v.Str)
	}
	return b
}

func sameResource(a, b *Event) bool {
	if a.Service != b.Service || a.Scope != b.Scope || a.ScopeVer != b.ScopeVer || len(a.Resource) != len(b.Resource) {
		return false
	}
	if len(a.Resource) > 0 && &a.Resource[0] == &b.Resource[0] {
		return true
	}
	for i := range a.Resource {
		if a.Resource[i] != b.Resource[i] {
			return false
		}
	}
	return true
}

// appendRecord encodes a batch as a WAL record, appending to b.
func appendRecord(b []byte, tenant string, kind Kind, evs []Event) []byte {
	b = append(b, recordVersion, byte(kind))
	b = appendString(b, tenant)
	b = binary.AppendUvarint(b, uint64(len(evs)))
	var prev int64
	for i := range evs {
		e := &evs[i]
		b = binary.AppendVarint(b, e.Time-prev)
		prev = e.Time
		b = append(b, e.TraceID[:]...)
		b = append(b, e.SpanID[:]...)
		if i > 0 && sameResource(e, &evs[i-1]) {
			b = append(b, 1)
		} else {
			b = append(b, 0)
			b = appendString(b, e.Service)
			b = appendAttrs(b, e.Resource)
			b = appendString(b, e.Scope)
			b = appendString(b, e.ScopeVer)
		}
		b = appendAttrs(b, e.Attrs)
		if kind.schema() == KindLog {
			b = binary.AppendVarint(b, int64(e.Severity))
			b = appendString(b, e.SeverityText)
			b = appendString(b, e.Body)
			b = binary.AppendUvarint(b, uint64(e.Flags))
			continue
		}
		b = appendSpanFields(b, e, appendAttrs)
	}
	return b
}

// appendSpanFields appends a span's own fields, its events and its links,
// as a WAL record and a head record both hold them; attrs appends an
// attribute list in the record's encoding.
func appendSpanFields(b []byte, e *Event, attrs func([]byte, Attrs) []byte) []byte {
	b = append(b, e.ParentSpanID[:]...)
	b = appendString(b, e.Name)
	b = binary.AppendVarint(b, int64(e.SpanKind))
	b = binary.AppendUvarint(b, uint64(e.Duration))
	b = binary.AppendVarint(b, int64(e.StatusCode))
	b = appendString(b, e.StatusMessage)
	b = appendString(b, e.TraceState)
	b = binary.AppendUvarint(b, uint64(len(e.Events)))
	for _, se := range e.Events {
		b = binary.AppendVarint(b, se.Time-e.Time)
		b = appendString(b, se.Name)
		b = attrs(b, se.Attrs)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Links)))
	for _, l := range e.Links {
		b = append(b, l.TraceID[:]...)
		b = append(b, l.SpanID[:]...)
		b = appendString(b, l.TraceState)
		b = attrs(b, l.Attrs)
	}
	return b
}

// decoder reads a record. Strings are slices of data, so a decoded batch
// holds the record's memory (one allocation) instead of one per string.
type decoder struct {
	data string
	off  int
	err  error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s at byte %d", errCorrupt, what, d.off)
	}
}

func (d *decoder) byte(what string) byte {
	if d.err != nil || d.off >= len(d.data) {
		d.fail(what)
		return 0
	}
	c := d.data[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	var x uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.off >= len(d.data) {
			break
		}
		c := d.data[d.off]
		d.off++
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			return x | uint64(c)<<s
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	d.fail(what)
	return 0
}

func (d *decoder) varint(what string) int64 {
	u := d.uvarint(what)
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) int32(what string) int32 {
	v := d.varint(what)
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail(what)
		return 0
	}
	return int32(v)
}

func (d *decoder) fixed(dst []byte, what string) {
	if d.err != nil || len(d.data)-d.off < len(dst) {
		d.fail(what)
		return
	}
	copy(dst, d.data[d.off:])
	d.off += len(dst)
}

func (d *decoder) string(what string) string {
	n := d.uvarint(what)
	if d.err != nil || n > uint64(len(d.data)-d.off) {
		d.fail(what)
		return ""
	}
	s := d.data[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

// count reads a count of items each at least min bytes long, rejecting
// counts the rest of the record cannot hold before anything is allocated.
func (d *decoder) count(min int, what string) int {
	n := d.uvarint(what)
	if d.err != nil || n > uint64((len(d.data)-d.off)/min) {
		d.fail(what)
		return 0
	}
	return int(n)
}

func (d *decoder) attrs() Attrs {
	n := d.count(3, "attribute count")
	if n == 0 {
		return nil
	}
	a := make(Attrs, n)
	for i := range a {
		a[i].Key = d.string("attribute key")
		if !d.value(&a[i].Value) {
			d.fail("attribute type")
		}
		if d.err != nil {
			return nil
		}
	}
	return a
}

// value reads an attribute value as appendValue wrote it. For a type
// byte it does not know it reads nothing more and returns false.
func (d *decoder) value(v *Value) bool {
	v.Type = ValueType(d.byte("attribute type"))
	switch v.Type {
	case TypeInt, TypeBool:
		v.Int = d.varint("attribute value")
	case TypeFloat:
		var f [8]byte
		d.fixed(f[:], "attribute value")
		v.Float = math.Float64frombits(binary.LittleEndian.Uint64(f[:]))
	case TypeEmpty:
	case TypeStr, TypeBytes, TypeArray, TypeMap:
		v.Str = d.string("attribute value")
	default:
		return false
	}
	return true
}

// decodeRecord decodes a WAL record.
func decodeRecord(rec string) (tenant string, kind Kind, evs []Event, err error) {
	d := &decoder{data: rec}
	if v := d.byte("version"); d.err == nil && v != recordVersion {
		return "", 0, nil, fmt.Errorf("%w: unknown version %d", errCorrupt, v)
	}
	kind = Kind(d.byte("kind"))
	if d.err == nil && !kind.valid() {
		d.fail("kind")
	}
	tenant = d.string("tenant")
	n := d.count(26, "event count")
	if d.err != nil {
		return "", 0, nil, d.err
	}
	evs = make([]Event, n)
	var t int64
	for i := range evs {
		e := &evs[i]
		t += d.varint("time")
		e.Time = t
		d.fixed(e.TraceID[:], "trace id")
		d.fixed(e.SpanID[:], "span id")
		switch d.byte("resource flag") {
		case 1:
			if i == 0 {
				d.fail("resource flag")
				break
			}
			p := &evs[i-1]
			e.Service, e.Resource, e.Scope, e.ScopeVer = p.Service, p.Resource, p.Scope, p.ScopeVer
		case 0:
			e.Service = d.string("service")
			e.Resource = d.attrs()
			e.Scope = d.string("scope")
			e.ScopeVer = d.string("scope version")
		default:
			d.fail("resource flag")
		}
		e.Attrs = d.attrs()
		if kind.schema() == KindLog {
			e.Severity = d.int32("severity")
			e.SeverityText = d.string("severity text")
			e.Body = d.string("body")
			f := d.uvarint("flags")
			if f > math.MaxUint32 {
				d.fail("flags")
			}
			e.Flags = uint32(f)
		} else {
			d.spanFields(e, d.attrs)
		}
		if d.err != nil {
			return "", 0, nil, d.err
		}
	}
	if d.off != len(d.data) {
		return "", 0, nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.data)-d.off)
	}
	return tenant, kind, evs, nil
}

// spanFields reads what appendSpanFields wrote into e; attrs reads an
// attribute list in the record's encoding. Counts and the duration are
// checked against what the data can hold.
func (d *decoder) spanFields(e *Event, attrs func() Attrs) {
	d.fixed(e.ParentSpanID[:], "parent span id")
	e.Name = d.string("name")
	e.SpanKind = d.int32("span kind")
	dur := d.uvarint("duration")
	if dur > math.MaxInt64 {
		d.fail("duration")
	}
	e.Duration = int64(dur)
	e.StatusCode = d.int32("status code")
	e.StatusMessage = d.string("status message")
	e.TraceState = d.string("trace state")
	if ne := d.count(3, "span event count"); ne > 0 {
		e.Events = make([]SpanEvent, ne)
		for j := range e.Events {
			se := &e.Events[j]
			se.Time = e.Time + d.varint("span event time")
			se.Name = d.string("span event name")
			se.Attrs = attrs()
		}
	}
	if nl := d.count(26, "link count"); nl > 0 {
		e.Links = make([]SpanLink, nl)
		for j := range e.Links {
			l := &e.Links[j]
			d.fixed(l.TraceID[:], "link trace id")
			d.fixed(l.SpanID[:], "link span id")
			l.TraceState = d.string("link trace state")
			l.Attrs = attrs()
		}
	}
}
