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
		return nil, fmt.Errorf("%w: no column %s", errRead, strings.Join(path, "."))
	}
	chunk := rg.ColumnChunks()[lc.ColumnIndex]
	pages := chunk.Pages()
	defer func() { _ = pages.Close() }()
	l := &leaf{}
	repeated := lc.MaxRepetitionLevel > 0
	maxDef := byte(lc.MaxDefinitionLevel)
	// Sized up front: growing the slices page by page was most of the
	// cost of reading a column.
	n := int(chunk.NumValues())
	switch lc.Node.Type().Kind() {
	case parquet.Int64:
		l.i64 = make([]int64, 0, n)
	case parquet.Int32:
		l.i32 = make([]int32, 0, n)
	case parquet.Double:
		l.f64 = make([]float64, 0, n)
	case parquet.Boolean:
		l.bools = make([]bool, 0, n)
	case parquet.ByteArray:
		l.str = make([]string, 0, n)
	}
	if repeated {
		l.rowOff = make([]int32, 0, rg.NumRows()+1)
	}
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

// colSet is some columns of a row group, read whole; fill sets the
// fields they hold on an event.
type colSet struct {
	n     int
	set   fieldSet
	leafs [fNested]*leaf // by field bit index
	extra *leaf          // scope_version with fScope
	attrs [6][2]*leaf    // keys and values of the typed attribute maps
	res   resourceCache
}

var attrTypes = [6]string{"str", "int", "float", "bool", "bytes", "other"}

// readColumns reads the columns of the fields of want (but span events
// and links) of a row group. It checks that every column has the row
// group's row count, so a damaged file is an error, not a misaligned answer.
func readColumns(rg parquet.RowGroup, kind Kind, want fieldSet) (c *colSet, err error) {
	err = safely("columns", func() error {
		c, err = readColumnsUnsafe(rg, kind, want)
		return err
	})
	return c, err
}

func readColumnsUnsafe(rg parquet.RowGroup, kind Kind, want fieldSet) (*colSet, error) {
	c := &colSet{n: int(rg.NumRows()), res: resourceCache{}}
	type col struct {
		f    fieldSet
		name string
		kind Kind // 0: both
	}
	cols := []col{
		{fTime, "time", KindLog}, {fTime, "start_time", KindSpan},
		{fTraceID, "trace_id", 0}, {fSpanID, "span_id", 0}, {fService, "service_name", 0},
		{fResource, "resource", 0}, {fScope, "scope_name", 0},
		{fSeverity, "severity_number", KindLog}, {fSevText, "severity_text", KindLog},
		{fBody, "body", KindLog}, {fFlags, "flags", KindLog},
		{fParent, "parent_span_id", KindSpan}, {fName, "name", KindSpan}, {fKind, "kind", KindSpan},
		{fDuration, "duration", KindSpan}, {fStatus, "status_code", KindSpan},
		{fStatusMsg, "status_message", KindSpan}, {fTraceState, "trace_state", KindSpan},
	}
	count := func(name string, l *leaf) error {
		got := max(len(l.i64), len(l.i32), len(l.str))
		if l.size > 0 {
			got = len(l.fixed) / l.size
		}
		if got != c.n {
			return fmt.Errorf("%w: column %s has %d values for %d rows", errRead, name, got, c.n)
		}
		return nil
	}
	for _, cl := range cols {
		if want&cl.f == 0 || (cl.kind != 0 && cl.kind != kind.schema()) {
			continue
		}
		l, err := readLeaf(rg, cl.name)
		if err != nil {
			return nil, err
		}
		if err := count(cl.name, l); err != nil {
			return nil, err
		}
		c.leafs[bitIndex(cl.f)] = l
		c.set |= cl.f
		if cl.f == fScope {
			if c.extra, err = readLeaf(rg, "scope_version"); err != nil {
				return nil, err
			}
			if err := count("scope_version", c.extra); err != nil {
				return nil, err
			}
		}
	}
	if want&fAttrs != 0 {
		for t, typ := range attrTypes {
			keys, err := readLeaf(rg, "attrs", typ, "key_value", "key")
			if err != nil {
				return nil, err
			}
			vals, err := readLeaf(rg, "attrs", typ, "key_value", "value")
			if err != nil {
				return nil, err
			}
			if len(keys.rowOff) != c.n+1 || len(vals.rowOff) != c.n+1 || len(keys.str) != int(keys.rowOff[c.n]) {
				return nil, fmt.Errorf("%w: attrs.%s: map columns do not match the row count", errRead, typ)
			}
			have := max(len(vals.str), len(vals.i64), len(vals.f64), len(vals.bools))
			if have != len(keys.str) {
				return nil, fmt.Errorf("%w: attrs.%s: %d keys, %d values", errRead, typ, len(keys.str), have)
			}
			c.attrs[t] = [2]*leaf{keys, vals}
		}
		c.set |= fAttrs
	}
	return c, nil
}

func bitIndex(f fieldSet) int {
	i := 0
	for f > 1 {
		f >>= 1
		i++
	}
	return i
}

func (c *colSet) fixed(f fieldSet, i int) []byte {
	l := c.leafs[bitIndex(f)]
	return l.fixed[i*l.size : (i+1)*l.size]
}

func (c *colSet) str(f fieldSet, i int) string { return c.leafs[bitIndex(f)].str[i] }
func (c *colSet) i32(f fieldSet, i int) int32  { return c.leafs[bitIndex(f)].i32[i] }
func (c *colSet) i64(f fieldSet, i int) int64  { return c.leafs[bitIndex(f)].i64[i] }

// fill sets the fields of the set on e from row i. Attrs get a new slice.
func (c *colSet) fill(e *Event, i int) {
	set := c.set
	if set&fTime != 0 {
		e.Time = c.i64(fTime, i)
	}
	if set&fTraceID != 0 {
		copy(e.TraceID[:], c.fixed(fTraceID, i))
	}
	if set&fSpanID != 0 {
		copy(e.SpanID[:], c.fixed(fSpanID, i))
	}
	if set&fParent != 0 {
		copy(e.ParentSpanID[:], c.fixed(fParent, i))
	}
	if set&fService != 0 {
		e.Service = c.str(fService, i)
	}
	if set&fResource != 0 {
		e.Resource = c.res.get(c.str(fResource, i))
	}
	if set&fScope != 0 {
		e.Scope, e.ScopeVer = c.str(fScope, i), c.extra.str[i]
	}
	if set&fSeverity != 0 {
		e.Severity = c.i32(fSeverity, i)
	}
	if set&fSevText != 0 {
		e.SeverityText = c.str(fSevText, i)
	}
	if set&fBody != 0 {
		e.Body = c.str(fBody, i)
	}
	if set&fFlags != 0 {
		e.Flags = uint32(c.i32(fFlags, i))
	}
	if set&fName != 0 {
		e.Name = c.str(fName, i)
	}
	if set&fKind != 0 {
		e.SpanKind = c.i32(fKind, i)
	}
	if set&fDuration != 0 {
		e.Duration = c.i64(fDuration, i)
	}
	if set&fStatus != 0 {
		e.StatusCode = c.i32(fStatus, i)
	}
	if set&fStatusMsg != 0 {
		e.StatusMessage = c.str(fStatusMsg, i)
	}
	if set&fTraceState != 0 {
		e.TraceState = c.str(fTraceState, i)
	}
	if set&fAttrs != 0 {
		e.Attrs = c.rowAttrs(i)
	}
}

func (c *colSet) rowAttrs(r int) Attrs {
	n := 0
	for t := range c.attrs {
		k := c.attrs[t][0]
		n += int(k.rowOff[r+1] - k.rowOff[r])
	}
	if n == 0 {
		return nil
	}
	a := make(Attrs, 0, n)
	for t := range c.attrs {
		keys, vals := c.attrs[t][0], c.attrs[t][1]
		for j := keys.rowOff[r]; j < keys.rowOff[r+1]; j++ {
			var v Value
			switch attrTypes[t] {
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
			default:
				v = Value{Type: TypeMap, Str: vals.str[j]}
				if strings.HasPrefix(vals.str[j], "[") {
					v.Type = TypeArray
				}
			}
			a = append(a, Attr{Key: keys.str[j], Value: v})
		}
	}
	if len(a) > 1 {
		sort.Slice(a, func(i, j int) bool { return a[i].Key < a[j].Key })
	}
	return a
}

// mergeColumns combines two column sets of the same row group.
func mergeColumns(a, b *colSet) *colSet {
	c := *a
	c.set |= b.set
	for i, l := range b.leafs {
		if l != nil {
			c.leafs[i] = l
		}
	}
	if b.extra != nil {
		c.extra = b.extra
	}
	if b.set&fAttrs != 0 {
		c.attrs = b.attrs
	}
	return &c
}
