package events

import "sync"

// head holds the events of one tenant and kind appended since the last
// cut, in memory and queryable at once. Events are only ever appended, so
// a reader takes a snapshot of the slice under the lock and scans it
// without: elements below the snapshot's length never change.
type head struct {
	mu     sync.RWMutex
	events []Event
	traces map[TraceID][]int32 // positions of each trace's events
	bytes  int
	minT   int64
	maxT   int64
}

func newHead() *head { return &head{traces: map[TraceID][]int32{}} }

func (h *head) append(evs []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range evs {
		e := &evs[i]
		if len(h.events) == 0 {
			h.minT, h.maxT = e.Time, e.Time
		}
		h.minT, h.maxT = min(h.minT, e.Time), max(h.maxT, e.Time)
		if !e.TraceID.IsZero() {
			h.traces[e.TraceID] = append(h.traces[e.TraceID], int32(len(h.events)))
		}
		h.events = append(h.events, *e)
		h.bytes += e.size()
	}
}

// snapshot returns the events so far and the time range.
func (h *head) snapshot() (evs []Event, minT, maxT int64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.events, h.minT, h.maxT
}

// trace returns the positions of a trace's events in the snapshot of n
// events.
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
	return len(h.events), h.bytes
}
