package events

import (
	"math"
	"reflect"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// headChunk is the number of events in one chunk of a head.
const headChunk = 4096

// head holds the events of one tenant and kind appended since the last
// cut, in memory and queryable at once. Events live in fixed-size chunks,
// so appending never copies the events already there; a reader takes a
// view (the chunk list and the count) under the lock and scans it without:
// events below a view's count never change.
type head struct {
	mu     sync.RWMutex
	chunks [][]Event
	n      int
	traces map[TraceID][]int32 // positions of each trace's events
	// seen maps the hash of each event's content to its position, so an
	// exact duplicate (a shipper's retry after a timeout) is dropped as
	// Loki's ingester drops it: same stream, timestamp, line and metadata.
	seen  map[uint64]int32
	bytes int
	minT  int64
	maxT  int64
}

func newHead() *head { return &head{traces: map[TraceID][]int32{}, seen: map[uint64]int32{}} }

// append adds events and returns the bytes they take and how many were
// exact duplicates of events already in the head (or earlier in evs),
// which it drops. The WAL keeps what was sent, so its replay drops the
// same duplicates again.
func (h *head) append(evs []Event) (added, dups int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	before := h.bytes
	var d xxhash.Digest
	for i := range evs {
		e := &evs[i]
		sum := e.contentHash(&d)
		if at, ok := h.seen[sum]; ok {
			if reflect.DeepEqual(h.at(int(at)), e) {
				dups++
				continue
			}
		} else {
			h.seen[sum] = int32(h.n)
		}
		if h.n == 0 {
			h.minT, h.maxT = e.Time, e.Time
		}
		h.minT, h.maxT = min(h.minT, e.Time), max(h.maxT, e.Time)
		if !e.TraceID.IsZero() {
			h.traces[e.TraceID] = append(h.traces[e.TraceID], int32(h.n))
		}
		// Chunks are made whole and written by index, so a chunk's slice
		// header never changes once readers may hold it: a view copies the
		// list of headers' array by reference, and an append to a chunk
		// would write its length there under a reader (a data race).
		if h.n%headChunk == 0 {
			h.chunks = append(h.chunks, make([]Event, headChunk))
		}
		h.chunks[len(h.chunks)-1][h.n%headChunk] = *e
		h.n++
		h.bytes += e.size()
	}
	return h.bytes - before, dups
}

// at is the event at position i; the caller holds h.mu.
func (h *head) at(i int) *Event { return &h.chunks[i/headChunk][i%headChunk] }

// contentHash hashes every field of the event, so that equal events hash
// equal; d is a scratch digest.
func (e *Event) contentHash(d *xxhash.Digest) uint64 {
	d.Reset()
	var b [8]byte
	num := func(v uint64) {
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
		_, _ = d.Write(b[:])
	}
	str := func(s string) {
		num(uint64(len(s)))
		_, _ = d.WriteString(s)
	}
	attrs := func(a Attrs) {
		num(uint64(len(a)))
		for i := range a {
			str(a[i].Key)
			num(uint64(a[i].Value.Type))
			str(a[i].Value.Str)
			num(uint64(a[i].Value.Int))
			num(math.Float64bits(a[i].Value.Float))
		}
	}
	num(uint64(e.Time))
	_, _ = d.Write(e.TraceID[:])
	_, _ = d.Write(e.SpanID[:])
	str(e.Service)
	attrs(e.Resource)
	str(e.Scope)
	str(e.ScopeVer)
	attrs(e.Attrs)
	num(uint64(e.Severity))
	str(e.SeverityText)
	str(e.Body)
	num(uint64(e.Flags))
	_, _ = d.Write(e.ParentSpanID[:])
	str(e.Name)
	num(uint64(e.SpanKind))
	num(uint64(e.Duration))
	num(uint64(e.StatusCode))
	str(e.StatusMessage)
	str(e.TraceState)
	num(uint64(len(e.Events)))
	for i := range e.Events {
		num(uint64(e.Events[i].Time))
		str(e.Events[i].Name)
		attrs(e.Events[i].Attrs)
	}
	num(uint64(len(e.Links)))
	for i := range e.Links {
		_, _ = d.Write(e.Links[i].TraceID[:])
		_, _ = d.Write(e.Links[i].SpanID[:])
		str(e.Links[i].TraceState)
		attrs(e.Links[i].Attrs)
	}
	return d.Sum64()
}

// headView is a consistent view of a head's events.
type headView struct {
	chunks [][]Event
	n      int
}

func (v headView) at(i int) *Event { return &v.chunks[i/headChunk][i%headChunk] }

// each calls fn with the view's events, a chunk at a time.
func (v headView) each(fn func([]Event) error) error {
	left := v.n
	for _, c := range v.chunks {
		if left <= 0 {
			break
		}
		c = c[:min(len(c), left)]
		left -= len(c)
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// snapshot returns a view of the events so far and their time range.
func (h *head) snapshot() (v headView, minT, maxT int64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return headView{chunks: h.chunks[:len(h.chunks):len(h.chunks)], n: h.n}, h.minT, h.maxT
}

// trace returns the positions of a trace's events in a view of n events.
func (h *head) trace(id TraceID, n int) []int32 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	pos := h.traces[id]
	for len(pos) > 0 && int(pos[len(pos)-1]) >= n {
		pos = pos[:len(pos)-1]
	}
	return pos
}

func (h *head) size() (events, bytes int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.n, h.bytes
}
