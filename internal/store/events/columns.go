package events

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// Reading a row group column by column: a scan first reads only the
// columns its filters look at, filling those fields of sparse events, and
// evaluates the filters on them; only the rows that match are then read
// whole. Count-by-level over ten million logs reads two columns.

// fieldSet is a set of event fields, by column group.
type fieldSet uint32

const (
	fTime fieldSet = 1 << iota
	fTraceID
	fSpanID
	fParent
	fService
	fResource
	fScope
	fAttrs
	fSeverity
	fSevText
	fBody
	fFlags
	fName
	fKind
	fDuration
	fStatus
	fStatusMsg
	fTraceState
	fNested // span events and links: only read by whole rows

	fAll = fNested<<1 - 1
)

// fieldsOf is the fields a filter or projection on field name reads.
func fieldsOf(name string) fieldSet {
	switch name {
	case "time", "start_time":
		return fTime
	case "service_name", "service.name":
		return fService
	case "trace_id":
		return fTraceID
	case "span_id":
		return fSpanID
	case "parent_span_id":
		return fParent
	case "body":
		return fBody
	case "severity_text":
		return fSevText
	case "severity_number":
		return fSeverity
	case "level":
		return fSevText | fSeverity
	case "flags":
		return fFlags
	case "name":
		return fName
	case "kind":
		return fKind
	case "duration":
		return fDuration
	case "status_code":
		return fStatus
	case "status_message":
		return fStatusMsg
	case "trace_state":
		return fTraceState
	case "scope_name", "scope_version":
		return fScope
	case "events", "links":
		return fNested
	}
	if strings.HasPrefix(name, "attrs.") {
		return fAttrs
	}
	if strings.HasPrefix(name, "resource.") {
		return fResource
	}
	return fAttrs | fResource
}

// leaf is a column of a row group read whole. Flat columns have one value
// a row; repeated ones (map keys and values) have rowOff, row r's values
// being [rowOff[r], rowOff[r+1]).
type leaf struct {
	i64    []int64
	i32    []int32
	f64    []float64
	bools  []bool
	str    []string
	fixed  []byte
	size   int
	rowOff []int32
}

// readLeaf reads the leaf column at path of a row group.
func readLeaf(rg parquet.RowGroup, path ...string) (*leaf, error) {
	lc, ok := rg.Schema().Lookup(path...)
	if !ok {
		return nil, fmt.Errorf("no column %s", strings.Join(path, "."))
	}
	chunk := rg.ColumnChunks()[lc.ColumnIndex]
	pages := chunk.Pages()
	defer func() { _ = pages.Close() }()
	l := &leaf{}
	repeated := lc.MaxRepetitionLevel > 0
	maxDef := byte(lc.MaxDefinitionLevel)
	dicts := map[parquet.Dictionary][]string{}
	var vals []parquet.Value
	for {
		p, err := pages.ReadPage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%w: column %s: %w", errRead, strings.Join(path, "."), err)
		}
		if repeated {
			rep, def := p.RepetitionLevels(), p.DefinitionLevels()
			n := int32(0)
			if len(l.rowOff) > 0 {
				n = l.rowOff[len(l.rowOff)-1]
				l.rowOff = l.rowOff[:len(l.rowOff)-1]
			}
			for j := range rep {
				if rep[j] == 0 {
					l.rowOff = append(l.rowOff, n)
				}
				if def[j] == maxDef {
					n++
				}
			}
			l.rowOff = append(l.rowOff, n)
		}
		data := p.Data()
		if d := p.Dictionary(); d != nil {
			idx := data.Int32()
			switch d.Type().Kind() {
			case parquet.ByteArray:
				strs, ok := dicts[d]
				if !ok {
					strs = make([]string, d.Len())
					for i := range strs {
						strs[i] = string(d.Index(int32(i)).ByteArray())
					}
					dicts[d] = strs
				}
				for _, i := range idx {
					l.str = append(l.str, strs[i])
				}
			default:
				if cap(vals) < len(idx) {
					vals = make([]parquet.Value, len(idx))
				}
				vals = vals[:len(idx)]
				d.Lookup(idx, vals)
				l.appendValues(vals)
			}
			parquet.Release(p)
			continue
		}
		switch p.Type().Kind() {
		case parquet.Int64:
			l.i64 = append(l.i64, data.Int64()...)
		case parquet.Int32:
			l.i32 = append(l.i32, data.Int32()...)
		case parquet.Double:
			l.f64 = append(l.f64, data.Double()...)
		case parquet.ByteArray:
			b, off := data.ByteArray()
			all := string(b)
			for j := 0; j+1 < len(off); j++ {
				l.str = append(l.str, all[off[j]:off[j+1]])
			}
		case parquet.FixedLenByteArray:
			b, size := data.FixedLenByteArray()
			l.fixed = append(l.fixed, b...)
			l.size = size
		default:
			vals = vals[:0]
			buf := make([]parquet.Value, 1024)
			r := p.Values()
			for {
				n, err := r.ReadValues(buf)
				for _, v := range buf[:n] {
					if !v.IsNull() {
						vals = append(vals, v)
					}
				}
				if err != nil {
					break
				}
			}
			l.appendValues(vals)
		}
		parquet.Release(p)
	}
	return l, nil
}

func (l *leaf) appendValues(vals []parquet.Value) {
	for _, v := range vals {
		switch v.Kind() {
		case parquet.Boolean:
			l.bools = append(l.bools, v.Boolean())
		case parquet.Int64:
			l.i64 = append(l.i64, v.Int64())
		case parquet.Int32:
			l.i32 = append(l.i32, v.Int32())
		case parquet.Double:
			l.f64 = append(l.f64, v.Double())
		case parquet.ByteArray:
			l.str = append(l.str, string(v.ByteArray()))
		}
	}
}

// readPartial reads the fields of want of every row of a row group into
// sparse events. It checks that every column has the row group's row count,
// so a damaged file is an error, not a misaligned answer.
func readPartial(rg parquet.RowGroup, kind Kind, want fieldSet) (evs []Event, err error) {
	err = safely("columns", func() error {
		evs, err = readPartialUnsafe(rg, kind, want)
		return err
	})
	return evs, err
}

func readPartialUnsafe(rg parquet.RowGroup, kind Kind, want fieldSet) ([]Event, error) {
	n := int(rg.NumRows())
	evs := make([]Event, n)
	var err error
	get := func(path ...string) *leaf {
		if err != nil {
			return nil
		}
		var l *leaf
		l, err = readLeaf(rg, path...)
		return l
	}
	check := func(name string, got int) {
		if err == nil && got != n {
			err = fmt.Errorf("%w: column %s has %d values for %d rows", errRead, name, got, n)
		}
	}
	timeCol := "time"
	if kind == KindSpan {
		timeCol = "start_time"
	}
	if want&fTime != 0 {
		if l := get(timeCol); l != nil {
			check(timeCol, len(l.i64))
			for i := range min(n, len(l.i64)) {
				evs[i].Time = l.i64[i]
			}
		}
	}
	fixed := func(name string, size int, set func(e *Event, b []byte)) {
		if l := get(name); l != nil {
			check(name, len(l.fixed)/size)
			for i := range min(n, len(l.fixed)/size) {
				set(&evs[i], l.fixed[i*size:(i+1)*size])
			}
		}
	}
	str := func(name string, set func(e *Event, s string)) {
		if l := get(name); l != nil {
			check(name, len(l.str))
			for i := range min(n, len(l.str)) {
				set(&evs[i], l.str[i])
			}
		}
	}
	i32 := func(name string, set func(e *Event, v int32)) {
		if l := get(name); l != nil {
			check(name, len(l.i32))
			for i := range min(n, len(l.i32)) {
				set(&evs[i], l.i32[i])
			}
		}
	}
	if want&fTraceID != 0 {
		fixed("trace_id", 16, func(e *Event, b []byte) { copy(e.TraceID[:], b) })
	}
	if want&fSpanID != 0 {
		fixed("span_id", 8, func(e *Event, b []byte) { copy(e.SpanID[:], b) })
	}
	if want&fService != 0 {
		str("service_name", func(e *Event, s string) { e.Service = s })
	}
	if want&fResource != 0 {
		res := resourceCache{}
		str("resource", func(e *Event, s string) { e.Resource = res.get(s) })
	}
	if want&fScope != 0 {
		str("scope_name", func(e *Event, s string) { e.Scope = s })
		str("scope_version", func(e *Event, s string) { e.ScopeVer = s })
	}
	if want&fAttrs != 0 && err == nil {
		err = readAttrs(rg, evs)
	}
	if kind == KindLog {
		if want&fSeverity != 0 {
			i32("severity_number", func(e *Event, v int32) { e.Severity = v })
		}
		if want&fSevText != 0 {
			str("severity_text", func(e *Event, s string) { e.SeverityText = s })
		}
		if want&fBody != 0 {
			str("body", func(e *Event, s string) { e.Body = s })
		}
		if want&fFlags != 0 {
			i32("flags", func(e *Event, v int32) { e.Flags = uint32(v) })
		}
	} else {
		if want&fParent != 0 {
			fixed("parent_span_id", 8, func(e *Event, b []byte) { copy(e.ParentSpanID[:], b) })
		}
		if want&fName != 0 {
			str("name", func(e *Event, s string) { e.Name = s })
		}
		if want&fKind != 0 {
			i32("kind", func(e *Event, v int32) { e.SpanKind = v })
		}
		if want&fDuration != 0 {
			if l := get("duration"); l != nil {
				check("duration", len(l.i64))
				for i := range min(n, len(l.i64)) {
					evs[i].Duration = l.i64[i]
				}
			}
		}
		if want&fStatus != 0 {
			i32("status_code", func(e *Event, v int32) { e.StatusCode = v })
		}
		if want&fStatusMsg != 0 {
			str("status_message", func(e *Event, s string) { e.StatusMessage = s })
		}
		if want&fTraceState != 0 {
			str("trace_state", func(e *Event, s string) { e.TraceState = s })
		}
	}
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// readAttrs fills Attrs from the six typed maps.
func readAttrs(rg parquet.RowGroup, evs []Event) error {
	for _, typ := range []string{"str", "int", "float", "bool", "bytes", "other"} {
		keys, err := readLeaf(rg, "attrs", typ, "key_value", "key")
		if err != nil {
			return err
		}
		vals, err := readLeaf(rg, "attrs", typ, "key_value", "value")
		if err != nil {
			return err
		}
		if len(keys.rowOff) != len(evs)+1 || len(vals.rowOff) != len(evs)+1 || len(keys.str) != int(keys.rowOff[len(evs)]) {
			return fmt.Errorf("%w: attrs.%s: map columns do not match the row count", errRead, typ)
		}
		nv := int(vals.rowOff[len(evs)])
		var have int
		switch typ {
		case "str", "other":
			have = len(vals.str)
		case "int":
			have = len(vals.i64)
		case "float":
			have = len(vals.f64)
		case "bool":
			have = len(vals.bools)
		case "bytes":
			have = len(vals.str)
		}
		if have != nv || nv != len(keys.str) {
			return fmt.Errorf("%w: attrs.%s: %d keys, %d values", errRead, typ, len(keys.str), have)
		}
		for r := range evs {
			for j := keys.rowOff[r]; j < keys.rowOff[r+1]; j++ {
				var v Value
				switch typ {
				case "str":
					v = Str(vals.str[j])
				case "int":
					v = Int(vals.i64[j])
				case "float":
					v = Float(vals.f64[j])
				case "bool":
					v = Bool(vals.bools[j])
				case "bytes":
					v = Value{Type: TypeBytes, Str: vals.str[j]}
				case "other":
					v = Value{Type: TypeMap, Str: vals.str[j]}
					if strings.HasPrefix(vals.str[j], "[") {
						v.Type = TypeArray
					}
				}
				evs[r].Attrs = append(evs[r].Attrs, Attr{Key: keys.str[j], Value: v})
			}
		}
	}
	for r := range evs {
		if a := evs[r].Attrs; len(a) > 1 {
			sort.Slice(a, func(i, j int) bool { return a[i].Key < a[j].Key })
		}
	}
	return nil
}

// copyFields copies the fields of set from src to dst.
func copyFields(dst, src *Event, set fieldSet) {
	if set&fTime != 0 {
		dst.Time = src.Time
	}
	if set&fTraceID != 0 {
		dst.TraceID = src.TraceID
	}
	if set&fSpanID != 0 {
		dst.SpanID = src.SpanID
	}
	if set&fParent != 0 {
		dst.ParentSpanID = src.ParentSpanID
	}
	if set&fService != 0 {
		dst.Service = src.Service
	}
	if set&fResource != 0 {
		dst.Resource = src.Resource
	}
	if set&fScope != 0 {
		dst.Scope, dst.ScopeVer = src.Scope, src.ScopeVer
	}
	if set&fAttrs != 0 {
		dst.Attrs = src.Attrs
	}
	if set&fSeverity != 0 {
		dst.Severity = src.Severity
	}
	if set&fSevText != 0 {
		dst.SeverityText = src.SeverityText
	}
	if set&fBody != 0 {
		dst.Body = src.Body
	}
	if set&fFlags != 0 {
		dst.Flags = src.Flags
	}
	if set&fName != 0 {
		dst.Name = src.Name
	}
	if set&fKind != 0 {
		dst.SpanKind = src.SpanKind
	}
	if set&fDuration != 0 {
		dst.Duration = src.Duration
	}
	if set&fStatus != 0 {
		dst.StatusCode = src.StatusCode
	}
	if set&fStatusMsg != 0 {
		dst.StatusMessage = src.StatusMessage
	}
	if set&fTraceState != 0 {
		dst.TraceState = src.TraceState
	}
	if set&fNested != 0 {
		dst.Events, dst.Links = src.Events, src.Links
	}
}
