package jsonlines

import (
	"unsafe"

	"github.com/horus-obs/horus/internal/store/events"
)

// The decoder's allocations are made per request, not per value: a line of
// ten fields used to cost about twenty small allocations (each text value,
// the attribute list as it grew), the largest share of the garbage of an
// ingest and of the collector's work (issue 18's profile). The arenas below
// hand out slices of larger chunks instead. A chunk lives as long as any
// event that points into it; the events of a request are stored together
// and dropped together, so little is kept beyond what they use: at most a
// chunk's unused tail per request.

// textChunk is the size of a chunk of text; a value longer than a quarter
// of it gets an allocation of its own, so a chunk's unused tail stays small.
const textChunk = 32 << 10

// textArena copies text values into chunks and returns them as strings
// that share the chunk. A chunk is never written again where a string
// points: bytes are only appended, and a full chunk is left, not grown.
type textArena struct{ buf []byte }

// str returns b as a string that does not alias b.
func (a *textArena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > textChunk/4 {
		return string(b)
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, textChunk)
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[n], len(b))
}

// attrChunk is the number of attributes in a chunk of attrArena.
const attrChunk = 2048

// attrArena hands out attribute lists from chunks. Each list is capped at
// its length, so appending to it (redaction, a later stage) copies it
// rather than writing over the next line's attributes.
type attrArena struct{ buf events.Attrs }

// list returns a copy of a.
func (a *attrArena) list(attrs events.Attrs) events.Attrs {
	n := len(attrs)
	if n == 0 {
		return nil
	}
	if n > attrChunk/4 {
		return append(events.Attrs(nil), attrs...)
	}
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make(events.Attrs, 0, attrChunk)
	}
	start := len(a.buf)
	a.buf = append(a.buf, attrs...)
	return a.buf[start:len(a.buf):len(a.buf)]
}
