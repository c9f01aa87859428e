package events

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
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
	// A string column read as codes (readCodes): row i's value is
	// dict[codes[i]], str is not filled.
	codes []int32
	dict  []string
}

// readLeafAt reads the values of the rows of a row group (ascending; nil:
// every row) of the leaf column at path: value k of the leaf is row
// rows[k]'s. Only the pages holding those rows are read, found by the
// column chunk's offset index (Parquet's PageLocation.first_row_index,
// which parquet-go writes for every column chunk); a chunk without one
// is read page by page from its start. Pages of data page format v2
// start at a row boundary, which a repeated column (a map) relies on.
func readLeafAt(rg parquet.RowGroup, rows []int32, path ...string) (*leaf, error) {
	return readLeafMode(rg, rows, false, path...)
}

// readCodes reads a flat string column of a row group whole as codes
// into a dictionary of its distinct values (leaf.codes, leaf.dict): the
// Parquet dictionary's indexes, not a string made per row. A chunk
// with pages that are not dictionary-encoded, or with more than one
// dictionary, has its strings numbered by value instead.
func readCodes(rg parquet.RowGroup, name string) (*leaf, error) {
	return readCodesAt(rg, nil, name)
}

// readCodesAt is readCodes for the rows of rows (as readLeafAt).
func readCodesAt(rg parquet.RowGroup, rows []int32, name string) (*leaf, error) {
	l, err := readLeafMode(rg, rows, true, name)
	if err != nil || l.codes != nil || l.str == nil {
		return l, err
	}
	// Numbered by value: a column written without a dictionary.
	ids := map[string]int32{}
	l.codes = make([]int32, len(l.str))
	for i, v := range l.str {
		id, ok := ids[v]
		if !ok {
			id = int32(len(l.dict))
			ids[v] = id
			l.dict = append(l.dict, v)
		}
		l.codes[i] = id
	}
	l.str = nil
	return l, nil
}

func readLeafMode(rg parquet.RowGroup, rows []int32, codes bool, path ...string) (*leaf, error) {
	lc, ok := rg.Schema().Lookup(path...)
	if !ok {
		return nil, fmt.Errorf("%w: no column %s", errRead, strings.Join(path, "."))
	}
	chunk := rg.ColumnChunks()[lc.ColumnIndex]
	pages := chunk.Pages()
	defer func() { _ = pages.Close() }()
	r := leafReader{leaf: &leaf{}, repeated: lc.MaxRepetitionLevel > 0, maxDef: byte(lc.MaxDefinitionLevel),
		dicts: map[parquet.Dictionary][]string{}, wantCodes: codes && lc.MaxRepetitionLevel == 0}
	l := r.leaf
	// Sized up front: growing the slices page by page was most of the
	// cost of reading a column.
	n, numRows := int(chunk.NumValues()), rg.NumRows()
	if rows != nil {
		n = int(int64(n) * int64(len(rows)) / max(numRows, 1))
		numRows = int64(len(rows))
	}
	switch lc.Node.Type().Kind() {
	case parquet.Int64:
		l.i64 = int64s.get(n)
	case parquet.Int32:
		l.i32 = int32s.get(n)
	case parquet.Double:
		l.f64 = make([]float64, 0, n)
	case parquet.Boolean:
		l.bools = make([]bool, 0, n)
	case parquet.ByteArray:
		if r.wantCodes {
			l.codes = int32s.get(n)
		} else {
			l.str = make([]string, 0, n)
		}
	case parquet.FixedLenByteArray:
		l.fixed = make([]byte, 0, n*lc.Node.Type().Length())
	}
	if r.repeated {
		l.rowOff = make([]int32, 0, numRows+1)
	}
	var firsts []int64 // each page's first row, if the chunk has an offset index
	if rows != nil {
		if oi, err := chunk.OffsetIndex(); err == nil && oi.NumPages() > 0 {
			firsts = make([]int64, oi.NumPages()+1)
			for i := range oi.NumPages() {
				firsts[i] = oi.FirstRowIndex(i)
			}
			firsts[oi.NumPages()] = rg.NumRows()
		}
	}
	var base int64 // the first row of the next page read
	for pg := 0; rows == nil || len(rows) > 0; pg++ {
		if firsts != nil {
			// The next page holding a wanted row.
			for pg+1 < len(firsts) && firsts[pg+1] <= int64(rows[0]) {
				pg++
			}
			if pg+1 >= len(firsts) {
				return nil, fmt.Errorf("%w: column %s: row %d past the offset index", errRead, strings.Join(path, "."), rows[0])
			}
			if base != firsts[pg] {
				if err := pages.SeekToRow(firsts[pg]); err != nil {
					return nil, fmt.Errorf("%w: column %s: %w", errRead, strings.Join(path, "."), err)
				}
				base = firsts[pg]
			}
		}
		p, err := pages.ReadPage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%w: column %s: %w", errRead, strings.Join(path, "."), err)
		}
		nr := p.NumRows()
		if firsts != nil && base+nr != firsts[pg+1] {
			parquet.Release(p)
			return nil, fmt.Errorf("%w: column %s: page of %d rows at row %d, the offset index says %d", errRead,
				strings.Join(path, "."), nr, base, firsts[pg+1]-base)
		}
		var local []int32 // the page's wanted rows, from its first
		all := rows == nil
		if !all {
			k := 0
			for k < len(rows) && int64(rows[k]) < base+nr {
				local = append(local, int32(int64(rows[k])-base))
				k++
			}
			rows = rows[k:]
		}
		base += nr
		if all || len(local) > 0 {
			r.page(p, local, all)
		}
		parquet.Release(p)
	}
	if r.repeated {
		l.rowOff = append(l.rowOff, r.nv)
	}
	if len(rows) > 0 {
		return nil, fmt.Errorf("%w: column %s: row %d past the end", errRead, strings.Join(path, "."), rows[0])
	}
	if r.wantCodes && r.dictOf == nil {
		l.codes = nil
	}
	return l, nil
}

// leafReader appends the values of a column's pages to a leaf.
type leafReader struct {
	*leaf
	repeated bool
	maxDef   byte
	nv       int32 // values appended: the next row's offset
	dicts    map[parquet.Dictionary][]string
	vals     []parquet.Value
	take     []int32
	// wantCodes: a flat string column's dictionary indexes are kept as
	// codes while every page uses one dictionary, dictOf; at the first
	// page that does not, the codes so far become strings.
	wantCodes bool
	dictOf    parquet.Dictionary
}

// stopCodes turns the codes read so far into strings.
func (r *leafReader) stopCodes() {
	r.wantCodes = false
	r.str = make([]string, len(r.codes), cap(r.codes))
	for i, c := range r.codes {
		r.str[i] = r.dict[c]
	}
	r.codes, r.dict, r.dictOf = nil, nil, nil
}

// page appends the values of the rows local of page p (from its first
// row, ascending), or of every row if all.
func (r *leafReader) page(p parquet.Page, local []int32, all bool) {
	// take: the indexes of the page's values to keep (nil: all), and for
	// a map each kept row's first value's offset in the leaf.
	var take []int32
	if r.repeated {
		take = r.take[:0]
		rep, def := p.RepetitionLevels(), p.DefinitionLevels()
		if all {
			for j := range rep {
				if rep[j] == 0 {
					r.rowOff = append(r.rowOff, r.nv)
				}
				if def[j] == r.maxDef {
					r.nv++
				}
			}
		} else {
			take = r.pickRepeated(take, rep, def, local)
		}
		r.take = take
		switch {
		case all:
			take = nil
		case take == nil:
			take = []int32{} // the rows have no values: none, not all
		}
	} else if !all {
		take = local
	}
	data := p.Data()
	if d := p.Dictionary(); d != nil {
		idx := data.Int32()
		if take != nil {
			idx = pick(nil, idx, take)
		}
		switch d.Type().Kind() {
		case parquet.ByteArray:
			strs, ok := r.dicts[d]
			if !ok {
				strs = make([]string, d.Len())
				for i := range strs {
					strs[i] = string(d.Index(int32(i)).ByteArray())
				}
				r.dicts[d] = strs
			}
			if r.wantCodes && (r.dictOf == nil || r.dictOf == d) {
				r.dictOf, r.dict = d, strs
				r.codes = append(r.codes, idx...)
				return
			}
			if r.wantCodes {
				r.stopCodes()
			}
			for _, i := range idx {
				r.str = append(r.str, strs[i])
			}
		default:
			if cap(r.vals) < len(idx) {
				r.vals = make([]parquet.Value, len(idx))
			}
			r.vals = r.vals[:len(idx)]
			d.Lookup(idx, r.vals)
			r.appendValues(r.vals)
		}
		return
	}
	if r.wantCodes {
		r.stopCodes()
	}
	switch p.Type().Kind() {
	case parquet.Int64:
		r.i64 = pick(r.i64, data.Int64(), take)
	case parquet.Int32:
		r.i32 = pick(r.i32, data.Int32(), take)
	case parquet.Double:
		r.f64 = pick(r.f64, data.Double(), take)
	case parquet.ByteArray:
		b, off := data.ByteArray()
		if take == nil || len(take)*4 >= len(off) {
			// One allocation for the page's strings, unless few are kept.
			all := string(b)
			if take == nil {
				for j := 0; j+1 < len(off); j++ {
					r.str = append(r.str, all[off[j]:off[j+1]])
				}
				break
			}
			for _, j := range take {
				r.str = append(r.str, all[off[j]:off[j+1]])
			}
			break
		}
		for _, j := range take {
			r.str = append(r.str, string(b[off[j]:off[j+1]]))
		}
	case parquet.FixedLenByteArray:
		b, size := data.FixedLenByteArray()
		r.size = size
		if take == nil {
			r.fixed = append(r.fixed, b...)
			break
		}
		for _, j := range take {
			r.fixed = append(r.fixed, b[int(j)*size:int(j+1)*size]...)
		}
	default:
		r.vals = r.vals[:0]
		buf := make([]parquet.Value, 1024)
		vr := p.Values()
		for {
			n, err := vr.ReadValues(buf)
			for _, v := range buf[:n] {
				if !v.IsNull() {
					r.vals = append(r.vals, v)
				}
			}
			if err != nil {
				break
			}
		}
		r.appendValues(pick(nil, r.vals, take))
	}
}

// pickRepeated returns take with the indexes (among the page's values)
// of the values of the rows local (ascending, from the page's first row)
// of a repeated column, given its repetition and definition levels, and
// appends each such row's first value's offset to r.rowOff. Runs of
// levels before a wanted row are skipped a block at a time, counting
// their row starts and values with bytes.Count: the newest lines of a
// row group want a few rows of pages of hundreds of thousands of values.
func (r *leafReader) pickRepeated(take []int32, rep, def []byte, local []int32) []int32 {
	const block = 256
	zero, full := []byte{0}, []byte{r.maxDef}
	row, v := int32(-1), int32(0) // the row of the level before j; values before j
	keep := false
	checkFrom := 0 // no block starting before this can be skipped
	for j := 0; j < len(rep); {
		if !keep && j >= checkFrom && j+block <= len(rep) && len(local) > 0 {
			z := int32(bytes.Count(rep[j:j+block], zero))
			if row+z < local[0] {
				row += z
				v += int32(bytes.Count(def[j:j+block], full))
				j += block
				continue
			}
			checkFrom = j + block
		}
		if rep[j] == 0 {
			if len(local) == 0 {
				break
			}
			row++
			keep = local[0] == row
			if keep {
				local = local[1:]
				r.rowOff = append(r.rowOff, r.nv)
			}
		}
		if def[j] == r.maxDef {
			if keep {
				take = append(take, v)
				r.nv++
			}
			v++
		}
		j++
	}
	return take
}

// pick appends the elements of src at the indexes take to dst, or all of
// src if take is nil.
func pick[T any](dst, src []T, take []int32) []T {
	if take == nil {
		return append(dst, src...)
	}
	for _, i := range take {
		dst = append(dst, src[i])
	}
	return dst
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
	// arena, when set (shareAttrs), holds the attributes fill gives the
	// events: one backing array for many events, each event's slice of it
	// clipped to its length, for scans whose callback does not keep the
	// events (Query.InPlace).
	arena      Attrs
	shareAttrs bool
}

var attrTypes = [6]string{"str", "int", "float", "bool", "bytes", "other"}

// readColumns reads the columns of the fields of want (but span events
// and links) of a row group. It checks that every column has the row
// group's row count, so a damaged file is an error, not a misaligned answer.
func readColumns(rg parquet.RowGroup, kind Kind, want fieldSet) (c *colSet, err error) {
	return readColumnsAt(rg, kind, want, nil)
}

// readColumnsAt is readColumns for the rows of rows (ascending; nil:
// all): row k of the set is row rows[k] of the row group, and only the
// pages holding those rows are read (see readLeafAt).
func readColumnsAt(rg parquet.RowGroup, kind Kind, want fieldSet, rows []int32) (c *colSet, err error) {
	err = safely("columns", func() error {
		c, err = readColumnsUnsafe(rg, kind, want, rows)
		return err
	})
	return c, err
}

func readColumnsUnsafe(rg parquet.RowGroup, kind Kind, want fieldSet, rows []int32) (*colSet, error) {
	c := &colSet{n: int(rg.NumRows()), res: resourceCache{}}
	if rows != nil {
		c.n = len(rows)
	}
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
		got := max(len(l.i64), len(l.i32), len(l.str), len(l.codes))
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
		var l *leaf
		var err error
		if cl.f&codedFields != 0 {
			l, err = readCodesAt(rg, rows, cl.name)
		} else {
			l, err = readLeafAt(rg, rows, cl.name)
		}
		if err != nil {
			return nil, err
		}
		if err := count(cl.name, l); err != nil {
			return nil, err
		}
		c.leafs[bitIndex(cl.f)] = l
		c.set |= cl.f
		if cl.f == fScope {
			if c.extra, err = readLeafAt(rg, rows, "scope_version"); err != nil {
				return nil, err
			}
			if err := count("scope_version", c.extra); err != nil {
				return nil, err
			}
		}
	}
	if want&fAttrs != 0 {
		for t, typ := range attrTypes {
			keys, err := readLeafAt(rg, rows, "attrs", typ, "key_value", "key")
			if err != nil {
				return nil, err
			}
			vals, err := readLeafAt(rg, rows, "attrs", typ, "key_value", "value")
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

func (c *colSet) str(f fieldSet, i int) string { return c.leafs[bitIndex(f)].strAt(i) }

// codedFields are the string columns a colSet holds as dictionary codes
// (leaf.codes): a few distinct values each, so filters on them run once
// per distinct value and no string is made per row.
const codedFields = fService | fResource | fSevText

// strAt is row i's value of a string leaf, read as strings or as codes.
func (l *leaf) strAt(i int) string {
	if l.codes != nil {
		return l.dict[l.codes[i]]
	}
	return l.str[i]
}
func (c *colSet) i32(f fieldSet, i int) int32 { return c.leafs[bitIndex(f)].i32[i] }
func (c *colSet) i64(f fieldSet, i int) int64 { return c.leafs[bitIndex(f)].i64[i] }

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
		if c.shareAttrs {
			lo := len(c.arena)
			c.arena = c.appendRowAttrs(c.arena, i)
			if hi := len(c.arena); hi > lo {
				e.Attrs = c.arena[lo:hi:hi]
			}
		} else {
			e.Attrs = c.rowAttrs(i)
		}
	}
}

func (c *colSet) rowAttrs(r int) Attrs {
	n := c.attrCount(r)
	if n == 0 {
		return nil
	}
	return c.appendRowAttrs(make(Attrs, 0, n), r)
}

// attrCount is the number of row r's attributes, of every type.
func (c *colSet) attrCount(r int) int {
	n := 0
	for t := range c.attrs {
		off := c.attrs[t][0].rowOff
		n += int(off[r+1] - off[r])
	}
	return n
}

// startArena sizes the arena for the attributes of the rows of rows
// (their number in the set: rows[k] for k < n, or k itself if rows is nil)
// when fill shares it.
func (c *colSet) startArena(rows []int32, k0, n int) {
	if !c.shareAttrs || c.set&fAttrs == 0 {
		return
	}
	need := 0
	for k := k0; k < k0+n; k++ {
		r := k
		if rows != nil {
			r = int(rows[k])
		}
		need += c.attrCount(r)
	}
	c.arena = make(Attrs, 0, need)
}

// appendRowAttrs appends row r's attributes to a, sorted by key.
func (c *colSet) appendRowAttrs(a Attrs, r int) Attrs {
	start := len(a)
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
	if row := a[start:]; len(row) > 1 {
		slices.SortFunc(row, func(x, y Attr) int { return strings.Compare(x.Key, y.Key) })
	}
	return a
}
