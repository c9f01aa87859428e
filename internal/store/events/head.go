package events

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// headChunk is the number of events in one chunk of a head.
const headChunk = 4096

// headArenaBlock is the size of the blocks of a head's byte arena; an
// event encoded larger than a quarter of it gets an allocation of its own,
// so a block's unused tail stays small.
const headArenaBlock = 64 << 10

// headMaxInterned bounds each table of interned strings of a head
// (attribute keys, severity texts, resources): past it, new strings are
// stored with each event, so a client sending a new key per line cannot
// grow a table without bound.
const headMaxInterned = 1 << 16

// head holds the events of one tenant and kind appended since the last
// cut, in memory and queryable at once. It is compact (issue 18: a head of
// Event structs took ~1 KB a line of JSON logs): each event is a headRec,
// its time, trace id and the rest of its fields encoded (head.encode) in
// a byte arena; attribute keys, severity texts and resources (service,
// resource attributes, scope) are interned in tables and referred to by
// index. Readers decode the events they read (headView.each); the
// strings of decoded events point into the arena, which is never written
// again where an event was put.
//
// Records live in fixed-size chunks, so appending never copies the
// records already there; a reader takes a view (the chunk list, the tables
// and the count) under the lock and reads it without: records below a
// view's count and table entries below a view's lengths never change.
type head struct {
	mu     sync.RWMutex
	kind   Kind // the schema: KindLog or KindSpan
	chunks [][]headRec
	n      int
	tab    headTables
	arena  []byte // the current arena block

	resIdx  map[string]int32  // encoded resource -> index in tab.res
	keyIdx  map[string]uint32 // attribute key -> index in tab.keys
	textIdx map[string]uint32 // severity text -> index in tab.texts
	// traces maps a trace id to its newest event; headRec.prev links the
	// others, newest to oldest.
	traces map[TraceID]int32
	// seen maps the hash of each event's content to its position, so an
	// exact duplicate (a shipper's retry after a timeout) is dropped as
	// Loki's ingester drops it: same stream, timestamp, line and metadata.
	seen    map[uint64]int32
	bytes   int
	minT    int64
	maxT    int64
	scratch []byte // an event being encoded
	resKey  []byte // a resource being looked up
}

// headRec is one event of a head.
type headRec struct {
	time  int64
	enc   string // the other fields (head.encode), in the arena
	trace TraceID
	prev  int32 // the previous event of the same trace, -1 for none
}

// headRes is an interned resource: what events of one source share.
type headRes struct {
	service, scope, scopeVer string
	attrs                    Attrs
}

// headTables are a head's interned strings and resources.
type headTables struct {
	res   []headRes
	keys  []string
	texts []string
}

// refMiss is the reference of a string stored in place.
const refMiss = 0

func newHead(kind Kind) *head {
	return &head{
		kind:   kind.schema(),
		resIdx: map[string]int32{}, keyIdx: map[string]uint32{}, textIdx: map[string]uint32{},
		traces: map[TraceID]int32{}, seen: map[uint64]int32{},
	}
}

// Per-event memory besides its encoding: the record, and an entry of the
// trace and duplicate maps (a Go map's slot, padded, over the load its
// table has on average between doublings: measured, BenchmarkHeadBytesPerLine).
const (
	headRecBytes   = int(unsafe.Sizeof(headRec{}))
	headTraceBytes = 36
	headSeenBytes  = 28
)

// append adds events and returns the bytes they take and how many were
// exact duplicates of events already in the head (or earlier in evs),
// which it drops. The WAL keeps what was sent, so its replay drops the
// same duplicates again.
func (h *head) append(evs []Event) (added, dups int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	before := h.bytes
	var d xxhash.Digest
	res, resOf := int32(-1), (*Event)(nil)
	for i := range evs {
		e := &evs[i]
		if resOf == nil || !sameResource(e, resOf) {
			res, resOf = h.resource(e), e
		}
		h.scratch = h.encode(h.scratch[:0], e, res)
		sum := contentHash(&d, e.Time, e.TraceID, h.scratch)
		at, ok := h.seen[sum]
		if ok {
			if r := h.rec(int(at)); r.time == e.Time && r.trace == e.TraceID && r.enc == string(h.scratch) {
				dups++
				continue
			}
		} else {
			h.seen[sum] = int32(h.n)
			h.bytes += headSeenBytes
		}
		if h.n == 0 {
			h.minT, h.maxT = e.Time, e.Time
		}
		h.minT, h.maxT = min(h.minT, e.Time), max(h.maxT, e.Time)
		r := headRec{time: e.Time, trace: e.TraceID, prev: -1, enc: h.store(h.scratch)}
		if !e.TraceID.IsZero() {
			if p, ok := h.traces[e.TraceID]; ok {
				r.prev = p
			} else {
				h.bytes += headTraceBytes
			}
			h.traces[e.TraceID] = int32(h.n)
		}
		// Chunks are made whole and written by index, so a chunk's slice
		// header never changes once readers may hold it: a view copies the
		// list of headers' array by reference, and an append to a chunk
		// would write its length there under a reader (a data race).
		if h.n%headChunk == 0 {
			h.chunks = append(h.chunks, make([]headRec, headChunk))
			h.bytes += headChunk * headRecBytes
		}
		h.chunks[len(h.chunks)-1][h.n%headChunk] = r
		h.n++
	}
	return h.bytes - before, dups
}

// rec is the record at position i; the caller holds h.mu.
func (h *head) rec(i int) *headRec { return &h.chunks[i/headChunk][i%headChunk] }

// store copies an encoded event into the arena, counting the memory.
func (h *head) store(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > headArenaBlock/4 {
		h.bytes += len(b)
		return string(b)
	}
	if cap(h.arena)-len(h.arena) < len(b) {
		h.arena = make([]byte, 0, headArenaBlock)
		h.bytes += headArenaBlock // the whole block, its unused tail too
	}
	n := len(h.arena)
	h.arena = append(h.arena, b...)
	return unsafe.String(&h.arena[n], len(b))
}

// contentHash hashes an event's time, trace id and encoding, which
// together hold every field: equal events hash equal. d is a scratch
// digest.
func contentHash(d *xxhash.Digest, t int64, trace TraceID, enc []byte) uint64 {
	d.Reset()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(t))
	_, _ = d.Write(b[:])
	_, _ = d.Write(trace[:])
	_, _ = d.Write(enc)
	return d.Sum64()
}

// resource interns e's service, resource and scope and returns its index.
func (h *head) resource(e *Event) int32 {
	k := appendString(h.resKey[:0], e.Service)
	k = appendAttrs(k, e.Resource)
	k = appendString(k, e.Scope)
	k = appendString(k, e.ScopeVer)
	h.resKey = k
	if i, ok := h.resIdx[string(k)]; ok {
		return i
	}
	attrs := make(Attrs, len(e.Resource))
	for j, a := range e.Resource {
		a.Key, a.Value.Str = strings.Clone(a.Key), strings.Clone(a.Value.Str)
		attrs[j] = a
	}
	r := headRes{service: strings.Clone(e.Service), scope: strings.Clone(e.Scope), scopeVer: strings.Clone(e.ScopeVer), attrs: attrs}
	i := int32(len(h.tab.res))
	h.tab.res = append(h.tab.res, r)
	h.resIdx[string(k)] = i
	h.bytes += 2*len(k) + int(unsafe.Sizeof(r)) + attrsSize(attrs) + len(r.service) + len(r.scope) + len(r.scopeVer)
	return i
}

// ref appends a reference to s, interned in table if there is room.
func (h *head) ref(b []byte, idx map[string]uint32, table *[]string, s string) []byte {
	i, ok := idx[s]
	if !ok && len(*table) < headMaxInterned {
		s = strings.Clone(s)
		i = uint32(len(*table))
		*table = append(*table, s)
		idx[s] = i
		h.bytes += 2*len(s) + 16 + 24
		ok = true
	}
	if !ok {
		return appendString(append(b, refMiss), s)
	}
	return binary.AppendUvarint(b, uint64(i)+1)
}

func (h *head) appendAttrs(b []byte, a Attrs) []byte {
	b = binary.AppendUvarint(b, uint64(len(a)))
	for i := range a {
		b = h.ref(b, h.keyIdx, &h.tab.keys, a[i].Key)
		b = appendValue(b, &a[i].Value)
	}
	return b
}

// encode appends e's fields but its time and trace id, with resource
// res, in the manner of a WAL record (codec.go): span id, 8 bytes;
// resource index, uvarint; attributes (uvarint count, then per attribute
// a string reference for the key, a type byte and the value as in a WAL
// record); logs: severity varint, severity text reference, body string,
// flags uvarint; spans: the span fields, events and links as in a WAL
// record, their attribute keys references too. A string reference is a
// uvarint: i+1 for entry i of the table, 0 (refMiss) for a string that
// follows.
func (h *head) encode(b []byte, e *Event, res int32) []byte {
	b = append(b, e.SpanID[:]...)
	b = binary.AppendUvarint(b, uint64(res))
	b = h.appendAttrs(b, e.Attrs)
	if h.kind == KindLog {
		b = binary.AppendVarint(b, int64(e.Severity))
		b = h.ref(b, h.textIdx, &h.tab.texts, e.SeverityText)
		b = appendString(b, e.Body)
		return binary.AppendUvarint(b, uint64(e.Flags))
	}
	return appendSpanFields(b, e, h.appendAttrs)
}

// headView is a consistent view of a head's events.
type headView struct {
	kind   Kind
	chunks [][]headRec
	tab    headTables
	n      int
}

func (v headView) rec(i int) *headRec { return &v.chunks[i/headChunk][i%headChunk] }

// at decodes the event at position i.
func (v headView) at(i int) *Event {
	e := new(Event)
	var slab Attrs
	v.decode(v.rec(i), e, &slab)
	return e
}

// each calls fn with the view's events, decoded a chunk at a time. The
// slice is fn's until it returns, then reused for the next chunk: to keep
// events, copy them (their strings, which point into the head, and their
// attribute lists may be kept).
func (v headView) each(fn func([]Event) error) error {
	left := v.n
	var evs []Event
	for _, c := range v.chunks {
		if left <= 0 {
			break
		}
		c = c[:min(len(c), left)]
		left -= len(c)
		if cap(evs) < len(c) {
			evs = make([]Event, len(c))
		}
		evs = evs[:len(c)]
		var slab Attrs
		for i := range c {
			evs[i] = Event{}
			v.decode(&c[i], &evs[i], &slab)
		}
		if err := fn(evs); err != nil {
			return err
		}
	}
	return nil
}

// decode sets e from r. Attribute lists are cut from slab, which it
// refills as needed, each list's capacity clipped to its length.
func (v headView) decode(r *headRec, e *Event, slab *Attrs) {
	d := decoder{data: r.enc}
	e.Time, e.TraceID = r.time, r.trace
	d.fixed(e.SpanID[:], "span id")
	if i := d.uvarint("resource"); i < uint64(len(v.tab.res)) {
		res := &v.tab.res[i]
		e.Service, e.Resource, e.Scope, e.ScopeVer = res.service, res.attrs, res.scope, res.scopeVer
	}
	e.Attrs = v.attrs(&d, slab)
	if v.kind == KindLog {
		e.Severity = d.int32("severity")
		e.SeverityText = v.str(&d, v.tab.texts)
		e.Body = d.string("body")
		e.Flags = uint32(d.uvarint("flags"))
		return
	}
	d.spanFields(e, func() Attrs { return v.attrs(&d, slab) })
}

// str reads a string reference.
func (v headView) str(d *decoder, table []string) string {
	i := d.uvarint("string reference")
	if i == refMiss {
		return d.string("string")
	}
	if i-1 < uint64(len(table)) {
		return table[i-1]
	}
	d.fail("string reference")
	return ""
}

func (v headView) attrs(d *decoder, slab *Attrs) Attrs {
	n := int(d.uvarint("attribute count"))
	if n == 0 || d.err != nil {
		return nil
	}
	if cap(*slab)-len(*slab) < n {
		*slab = make(Attrs, 0, max(n, 1024))
	}
	start := len(*slab)
	for range n {
		a := Attr{Key: v.str(d, v.tab.keys)}
		if !d.value(&a.Value) { // the head writes any type appendValue takes
			a.Value.Str = d.string("attribute value")
		}
		*slab = append(*slab, a)
	}
	return (*slab)[start:len(*slab):len(*slab)]
}

// snapshot returns a view of the events so far and their time range.
func (h *head) snapshot() (v headView, minT, maxT int64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	t := headTables{res: h.tab.res[:len(h.tab.res):len(h.tab.res)], keys: h.tab.keys[:len(h.tab.keys):len(h.tab.keys)],
		texts: h.tab.texts[:len(h.tab.texts):len(h.tab.texts)]}
	return headView{kind: h.kind, chunks: h.chunks[:len(h.chunks):len(h.chunks)], tab: t, n: h.n}, h.minT, h.maxT
}

// trace returns the positions, ascending, of a trace's events in a view
// of n events.
func (h *head) trace(id TraceID, n int) []int32 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	p, ok := h.traces[id]
	if !ok {
		return nil
	}
	var pos []int32
	for ; p >= 0; p = h.rec(int(p)).prev {
		if int(p) < n {
			pos = append(pos, p)
		}
	}
	for i, j := 0, len(pos)-1; i < j; i, j = i+1, j-1 {
		pos[i], pos[j] = pos[j], pos[i]
	}
	return pos
}

func (h *head) size() (events, bytes int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.n, h.bytes
}

// sortHead returns the order of a head's events for a block, for
// locality: the events of a trace together, traces by their first event's
// time, and events without a trace by time among them. Within a trace, by
// time. Trace ids then compress to almost nothing, a trace is one
// contiguous run, and row groups still cover short time ranges. (Measured
// on bench/eventgen's data against pure time order, by service then time,
// and by trace id: docs/benchmarks.md.)
func sortHead(v headView) []int32 {
	first := make(map[TraceID]int64, v.n/4)
	for i := range v.n {
		r := v.rec(i)
		if r.trace.IsZero() {
			continue
		}
		if t, ok := first[r.trace]; !ok || r.time < t {
			first[r.trace] = r.time
		}
	}
	keys := make([]int64, v.n)
	order := make([]int32, v.n)
	for i := range v.n {
		r := v.rec(i)
		order[i] = int32(i)
		keys[i] = r.time
		if !r.trace.IsZero() {
			keys[i] = first[r.trace]
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		x, y := order[i], order[j]
		if keys[x] != keys[y] {
			return keys[x] < keys[y]
		}
		a, b := v.rec(int(x)), v.rec(int(y))
		if c := bytes.Compare(a.trace[:], b.trace[:]); c != 0 {
			return c < 0
		}
		return a.time < b.time
	})
	return order
}
