package events

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/parquet-go/parquet-go"
)

// presearch evaluates some of q's filters for every row of a row group
// by searching the bytes of their column's pages, before any other column
// is read: substring filters on the body (LogQL's |= "text", an id needle
// that is not an id), when they are the only filters that read the body,
// and trace_id and span_id equalities. Each page's bytes are searched at
// once for the needle and a hit is mapped to its row by the page's
// offsets (or its position, for the fixed-size ids), so no string is made
// per row and a rare needle costs about the decompression of its column.
// It returns the rows that pass them all (ascending), the filters it
// evaluated, and the fields no other filter reads; no filter evaluated
// is a nil map.
func presearch(rg parquet.RowGroup, q *Query) (rows []int32, done map[*Filter]bool, unread fieldSet, err error) {
	var subs []*Filter
	bodyOnly := true
	for i := range q.Filters {
		f := &q.Filters[i]
		if f.fields&fBody == 0 {
			continue
		}
		if substring := f.Op == Contains || f.Op == IDOrContains && f.ids == nil; f.Field != "body" || !substring {
			bodyOnly = false
			continue
		}
		subs = append(subs, f)
	}
	if !bodyOnly {
		subs = nil
	}
	var ids []*Filter
	var idFields fieldSet // the id columns searched
	for i := range q.Filters {
		if f := &q.Filters[i]; f.Op == Eq && (f.Field == "trace_id" || f.Field == "span_id") {
			ids = append(ids, f)
			idFields |= f.fields
		}
	}
	if len(subs) == 0 && len(ids) == 0 {
		return nil, nil, 0, nil
	}
	n := int(rg.NumRows())
	hits := make([]bool, n)
	for i := range hits {
		hits[i] = true
	}
	one := make([]bool, n)
	done = map[*Filter]bool{}
	search := func(f *Filter, fn func() error) error {
		clear(one)
		if err := safely("column search", fn); err != nil {
			return err
		}
		for i, h := range one {
			hits[i] = hits[i] && h
		}
		done[f] = true
		return nil
	}
	for _, f := range subs {
		if f.Value == "" {
			done[f] = true // every body contains ""
			continue
		}
		if err := search(f, func() error { return searchRows(rg, "body", []byte(f.Value), 0, one) }); err != nil {
			return nil, nil, 0, err
		}
	}
	if len(subs) > 0 {
		unread |= fBody
	}
	for _, f := range ids {
		var id []byte
		if f.Field == "trace_id" {
			tid, err := ParseTraceID(f.Value)
			if err != nil {
				return []int32{}, map[*Filter]bool{f: true}, 0, nil // no such id: no row
			}
			id = tid[:]
		} else {
			sid, err := ParseSpanID(f.Value)
			if err != nil {
				return []int32{}, map[*Filter]bool{f: true}, 0, nil
			}
			id = sid[:]
		}
		if err := search(f, func() error { return searchRows(rg, f.Field, id, len(id), one) }); err != nil {
			return nil, nil, 0, err
		}
	}
	// The id columns stay unread unless another filter reads them.
	var others fieldSet
	for i := range q.Filters {
		if f := &q.Filters[i]; !done[f] {
			others |= f.fields
		}
	}
	unread |= idFields &^ others
	rows = []int32{}
	for i, h := range hits {
		if h {
			rows = append(rows, int32(i))
		}
	}
	return rows, done, unread, nil
}

var errSearch = errors.New("column search")

// searchRows sets hits[i] for each row i of a flat, required column of
// strings (size 0) or of byte arrays of that size whose value contains
// needle (not empty; a fixed-size value equals it).
func searchRows(rg parquet.RowGroup, name string, needle []byte, size int, hits []bool) error {
	lc, ok := rg.Schema().Lookup(name)
	if !ok || lc.MaxRepetitionLevel > 0 || lc.MaxDefinitionLevel > 0 {
		return fmt.Errorf("%w: %w: column %s is not a flat required column", errRead, errSearch, name)
	}
	pages := rg.ColumnChunks()[lc.ColumnIndex].Pages()
	defer func() { _ = pages.Close() }()
	dicts := map[parquet.Dictionary][]bool{}
	row := 0
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: column %s: %w", errRead, name, err)
		}
		n := int(p.NumRows())
		data := p.Data()
		if row+n > len(hits) {
			parquet.Release(p)
			return fmt.Errorf("%w: column %s: more rows than the row group's %d", errRead, name, len(hits))
		}
		if d := p.Dictionary(); d != nil {
			has, ok := dicts[d]
			if !ok {
				has = make([]bool, d.Len())
				for k := range has {
					has[k] = bytes.Contains(d.Index(int32(k)).ByteArray(), needle)
				}
				dicts[d] = has
			}
			idx := data.Int32()
			if len(idx) != n {
				parquet.Release(p)
				return fmt.Errorf("%w: column %s: %d values in a page of %d rows", errRead, name, len(idx), n)
			}
			for j, k := range idx {
				if k < 0 || int(k) >= len(has) {
					parquet.Release(p)
					return fmt.Errorf("%w: column %s: dictionary index %d of %d", errRead, name, k, len(has))
				}
				hits[row+j] = has[k]
			}
		} else if size > 0 {
			b, sz := data.FixedLenByteArray()
			if sz != size || len(b) != n*size {
				parquet.Release(p)
				return fmt.Errorf("%w: column %s: %d bytes of values of %d in a page of %d rows", errRead, name, len(b), sz, n)
			}
			for pos := 0; pos+size <= len(b); {
				k := bytes.Index(b[pos:], needle)
				if k < 0 {
					break
				}
				at := pos + k
				if at%size == 0 {
					hits[row+at/size] = true
				}
				pos = at + 1
			}
		} else {
			b, off := data.ByteArray()
			if len(off) != n+1 {
				parquet.Release(p)
				return fmt.Errorf("%w: column %s: %d values in a page of %d rows", errRead, name, len(off)-1, n)
			}
			for pos := 0; pos+len(needle) <= len(b); {
				k := bytes.Index(b[pos:], needle)
				if k < 0 {
					break
				}
				at := pos + k
				j := sort.Search(n, func(j int) bool { return int(off[j+1]) > at }) // the row holding at
				if j < n && at+len(needle) <= int(off[j+1]) {
					hits[row+j] = true
					pos = int(off[j+1]) // the next row
				} else {
					pos = at + 1 // across two rows: not a hit
				}
			}
		}
		row += n
		parquet.Release(p)
	}
	if row != len(hits) {
		return fmt.Errorf("%w: column %s has %d rows, the row group %d", errRead, name, row, len(hits))
	}
	return nil
}
