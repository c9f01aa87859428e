package events

import "sync"

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
	bytes  int
	minT   int64
	maxT   int64
}

func newHead() *head { return &head{traces: map[TraceID][]int32{}} }

// append adds events and returns the bytes they take.
func (h *head) append(evs []Event) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	before := h.bytes
	for i := range evs {
		e := &evs[i]
		if h.n == 0 {
			h.minT, h.maxT = e.Time, e.Time
		}
		h.minT, h.maxT = min(h.minT, e.Time), max(h.maxT, e.Time)
		if !e.TraceID.IsZero() {
			h.traces[e.TraceID] = append(h.traces[e.TraceID], int32(h.n))
		}
		if h.n%headChunk == 0 {
			h.chunks = append(h.chunks, make([]Event, 0, headChunk))
		}
		c := len(h.chunks) - 1
		h.chunks[c] = append(h.chunks[c], *e)
		h.n++
		h.bytes += e.size()
	}
	return h.bytes - before
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
