package events

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/parquet-go/parquet-go"
)

// searchBodies evaluates q's substring filters on the body column (LogQL's
// |= "text", an id needle that is not an id) for every row of a row group
// when they are the only filters that read the body: each page's bytes
// are searched at once for the needle, and a hit is mapped to its row by
// the page's offsets, so no string is made per row and a rare needle costs
// about the decompression of the column. It returns each such filter's
// function of the row and true, or false when the body is read anyway
// (another filter on it: the filters then run in selectRows as usual).
func searchBodies(rg parquet.RowGroup, q *Query) (map[*Filter]func(int) bool, bool, error) {
	var subs []*Filter
	for i := range q.Filters {
		f := &q.Filters[i]
		if f.fields&fBody == 0 {
			continue
		}
		substring := f.Op == Contains || f.Op == IDOrContains && f.ids == nil
		if f.Field != "body" || !substring {
			return nil, false, nil
		}
		subs = append(subs, f)
	}
	if len(subs) == 0 {
		return nil, false, nil
	}
	pre := map[*Filter]func(int) bool{}
	for _, f := range subs {
		hits := make([]bool, rg.NumRows())
		var err error
		if f.Value == "" {
			for i := range hits {
				hits[i] = true
			}
		} else {
			err = safely("body search", func() error { return searchRows(rg, "body", f.Value, hits) })
		}
		if err != nil {
			return nil, false, err
		}
		pre[f] = func(i int) bool { return hits[i] }
	}
	return pre, true, nil
}

var errSearch = errors.New("body search")

// searchRows sets hits[i] for each row i of a flat, required string column
// whose value contains needle (not empty).
func searchRows(rg parquet.RowGroup, name, needle string, hits []bool) error {
	lc, ok := rg.Schema().Lookup(name)
	if !ok || lc.MaxRepetitionLevel > 0 || lc.MaxDefinitionLevel > 0 {
		return fmt.Errorf("%w: %w: column %s is not a flat required column", errRead, errSearch, name)
	}
	pages := rg.ColumnChunks()[lc.ColumnIndex].Pages()
	defer func() { _ = pages.Close() }()
	nb := []byte(needle)
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
					has[k] = bytes.Contains(d.Index(int32(k)).ByteArray(), nb)
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
		} else {
			b, off := data.ByteArray()
			if len(off) != n+1 {
				parquet.Release(p)
				return fmt.Errorf("%w: column %s: %d values in a page of %d rows", errRead, name, len(off)-1, n)
			}
			for pos := 0; pos+len(nb) <= len(b); {
				k := bytes.Index(b[pos:], nb)
				if k < 0 {
					break
				}
				at := pos + k
				j := sort.Search(n, func(j int) bool { return int(off[j+1]) > at }) // the row holding at
				if j < n && at+len(nb) <= int(off[j+1]) {
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
