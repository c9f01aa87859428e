package events

import (
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
	"unsafe"
)

// A row group's section of index.bin ends with its streams (see
// docs/format/events-blocks.md): every distinct resource, service and
// severity among its rows, with the number of rows of each. A query whose
// filters on those fields match none of them skips the row group, and the
// streams of a row group inside a query's range are known without reading
// it (Store.Streams: Loki's label names, values and series).

// IndexStream is one stream of a row group as index.bin lists it.
type IndexStream struct {
	// Stream has the stream's Resource, Service, Severity and
	// SeverityText; its other fields are zero.
	Stream Event
	Rows   int64
}

// streamCounter counts a row group's rows by stream as a block is written.
type streamCounter struct {
	index map[counterKey]int
	last  counterKey
	lastI int
	list  []counted
	res   map[resIdent]string // resource attrs (by identity) → JSON
}

// counterKey tells streams apart by their service and severity and by
// the identity of their resource attributes: a head, and the resource
// cache of blocks read for compaction, share a resource's Attrs between
// its events. Equal resources at different places are merged when the
// section is written.
type counterKey struct {
	res       resIdent
	svc, text string
	sev       int32
}

type resIdent struct {
	p unsafe.Pointer
	n int
}

type counted struct {
	res       string // JSON, as in the resource column
	svc, text string
	sev       int32
	rows      int64
}

// add counts e and returns its resource as the resource column holds it.
func (c *streamCounter) add(e *Event) string {
	k := counterKey{resIdent{resPtr(e.Resource), len(e.Resource)}, e.Service, e.SeverityText, e.Severity}
	if len(c.list) == 0 || k != c.last {
		i, ok := c.index[k]
		if !ok {
			if c.index == nil {
				c.index, c.res = map[counterKey]int{}, map[resIdent]string{}
			}
			res, ok := c.res[k.res]
			if !ok {
				res = encodeAttrsJSON(e.Resource)
				c.res[k.res] = res
			}
			i = len(c.list)
			c.index[k] = i
			c.list = append(c.list, counted{res: res, svc: e.Service, text: e.SeverityText, sev: e.Severity})
		}
		c.last, c.lastI = k, i
	}
	c.list[c.lastI].rows++
	return c.list[c.lastI].res
}

// appendTo appends the row group's streams to a section's payload and
// starts the next row group: a uvarint count, then per stream, sorted,
// resource JSON, service and severity text (each a uvarint length and the
// bytes), the severity number (zigzag varint) and the rows (uvarint).
func (c *streamCounter) appendTo(dst []byte) []byte {
	order := func(a, b counted) int {
		return cmp.Or(cmp.Compare(a.res, b.res), cmp.Compare(a.svc, b.svc), cmp.Compare(a.text, b.text), cmp.Compare(a.sev, b.sev))
	}
	slices.SortFunc(c.list, order)
	// Merge equal streams (equal resources at different places).
	out := c.list[:0]
	for _, s := range c.list {
		if n := len(out); n > 0 && order(out[n-1], s) == 0 {
			out[n-1].rows += s.rows
			continue
		}
		out = append(out, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(out)))
	for _, s := range out {
		for _, str := range []string{s.res, s.svc, s.text} {
			dst = binary.AppendUvarint(dst, uint64(len(str)))
			dst = append(dst, str...)
		}
		dst = binary.AppendVarint(dst, int64(s.sev))
		dst = binary.AppendUvarint(dst, uint64(s.rows))
	}
	clear(c.index)
	c.list = c.list[:0]
	// The resource JSON is kept: the next row group has the same resources.
	return dst
}

var errStreams = errors.New("bad stream list")

// readStreams decodes a section's stream list; res decodes each distinct
// resource once for the block.
func readStreams(p []byte, res resourceCache) ([]IndexStream, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) {
		return nil, errStreams
	}
	p = p[k:]
	out := make([]IndexStream, 0, n)
	for range n {
		var strs [3]string
		for j := range strs {
			l, k := binary.Uvarint(p)
			if k <= 0 || l > uint64(len(p)-k) {
				return nil, errStreams
			}
			strs[j] = string(p[k : k+int(l)])
			p = p[k+int(l):]
		}
		sev, k := binary.Varint(p)
		if k <= 0 || sev != int64(int32(sev)) {
			return nil, errStreams
		}
		p = p[k:]
		rows, k := binary.Uvarint(p)
		if k <= 0 {
			return nil, errStreams
		}
		p = p[k:]
		out = append(out, IndexStream{Stream: Event{Resource: res.get(strs[0]), Service: strs[1],
			SeverityText: strs[2], Severity: int32(sev)}, Rows: int64(rows)})
	}
	if len(p) != 0 {
		return nil, errStreams
	}
	return out, nil
}

// streamFields are the fields of a log's stream: resource, service and
// severity.
const streamFields = fResource | fService | fSeverity | fSevText

// readsStreamOnly reports whether a compiled filter reads nothing but the
// stream fields: it can be evaluated once per stream.
func (f *Filter) readsStreamOnly() bool {
	return f.fields != 0 && f.fields&^streamFields == 0
}

// streamFilters are the indexes of q's filters that read only a log's
// stream: those the stream lists answer.
func (q *Query) streamFilters() []int {
	var out []int
	for i := range q.Filters {
		if q.Filters[i].readsStreamOnly() {
			out = append(out, i)
		}
	}
	return out
}

// streamMayMatch reports whether one of a row group's streams passes the
// filters at indexes sf (streamFilters); a row group without a stream list
// may always match.
func (q *Query) streamMayMatch(ix *rowGroupIndex, sf []int) bool {
	if !ix.hasStreams || len(sf) == 0 {
		return true
	}
	for i := range ix.streams {
		if q.streamMatches(&ix.streams[i].Stream, sf) {
			return true
		}
	}
	return false
}

func (q *Query) streamMatches(st *Event, sf []int) bool {
	for _, j := range sf {
		if !q.Filters[j].Match(st) {
			return false
		}
	}
	return true
}
