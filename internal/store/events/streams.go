package events

import (
	"context"
	"fmt"
	"sync"
	"unsafe"
)

// StreamTimes are the times of the matching logs of one stream: one
// resource, service and severity.
type StreamTimes struct {
	// Stream has the stream's Resource, Service, Severity and
	// SeverityText; its other fields are zero.
	Stream Event
	Times  []int64
}

// ScanStreams calls fn with the times of the logs matching q, grouped by
// stream, for queries that count lines per stream and time (LogQL's
// count_over_time and rate over a selector and line filters, the Loki
// log volume): no event is made per line, only a time appended. q.Fields
// and q.Limit are ignored. Calls of fn may overlap; the slices are reused after fn
// returns. Errors are as Scan's.
func (s *Store) ScanStreams(ctx context.Context, q Query, fn func([]StreamTimes) error) (ScanStats, error) {
	if q.Kind != KindLog {
		return ScanStats{}, fmt.Errorf("ScanStreams reads logs, not %s", q.Kind)
	}
	q.Fields, q.Limit = []string{"time", "resource", "service_name", "level"}, 0
	if err := q.compile(); err != nil {
		return ScanStats{}, err
	}
	units, release := s.snapshot(&q)
	defer release()
	st := ScanStats{Units: len(units)}
	var matched int64
	var mu sync.Mutex
	err := s.parallelUnits(ctx, &q, units, &st, func(ctx context.Context, _ int, u unit, ids []TraceID) error {
		var g streamGrouper
		var err error
		add := func(e *Event) {
			g.add(streamKey{ptr(e.Service), len(e.Service), resPtr(e.Resource), len(e.Resource), e.Severity, ptr(e.SeverityText), len(e.SeverityText)},
				e.Time, func() Event {
					return Event{Resource: e.Resource, Service: e.Service, Severity: e.Severity, SeverityText: e.SeverityText}
				})
		}
		switch {
		case u.h != nil && ids == nil:
			// A head: its events matched where they are, not copied
			// out first as scanUnit does for callers that keep them.
			err = u.view.each(func(c []Event) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				for i := range c {
					if q.match(&c[i]) {
						add(&c[i])
					}
				}
				return nil
			})
		case u.h != nil || ids != nil || q.filterFields()&fNested != 0:
			// Trace lookups and nested filters: from events.
			err = s.scanUnit(ctx, &q, u, ids, func(evs []Event) error {
				for i := range evs {
					add(&evs[i])
				}
				return nil
			})
		default:
			err = s.streamRowGroup(ctx, &q, u, &g)
		}
		if err != nil || len(g.out) == 0 {
			return err
		}
		mu.Lock()
		for _, o := range g.out {
			matched += int64(len(o.Times))
		}
		mu.Unlock()
		return fn(g.out)
	})
	st.Matched = matched
	return st, err
}

// streamKey tells streams apart by the identity of their strings: the
// columns' dictionaries and the head share a value's bytes between the
// rows that have it, so equal pointers mean equal values. Equal values
// at different places make two groups of one stream, which the caller
// merges by labels.
type streamKey struct {
	svc     *byte
	svcLen  int
	res     unsafe.Pointer
	resLen  int
	sev     int32
	text    *byte
	textLen int
}

func ptr(s string) *byte {
	if s == "" {
		return nil
	}
	return unsafe.StringData(s)
}

func resPtr(a Attrs) unsafe.Pointer {
	if len(a) == 0 {
		return nil
	}
	return unsafe.Pointer(&a[0])
}

type streamGrouper struct {
	index map[streamKey]int
	last  streamKey
	lastI int
	out   []StreamTimes
}

func (g *streamGrouper) add(k streamKey, t int64, stream func() Event) {
	if len(g.out) == 0 || k != g.last {
		i, ok := g.index[k]
		if !ok {
			if g.index == nil {
				g.index = map[streamKey]int{}
			}
			i = len(g.out)
			g.index[k] = i
			g.out = append(g.out, StreamTimes{Stream: stream()})
		}
		g.last, g.lastI = k, i
	}
	g.out[g.lastI].Times = append(g.out[g.lastI].Times, t)
}

// streamCols are a row group's stream columns.
type streamCols struct {
	res, svc, text []string
	sev            []int32
	cache          resourceCache
}

func (c *streamCols) key(i int) streamKey {
	return streamKey{ptr(c.svc[i]), len(c.svc[i]), unsafe.Pointer(ptr(c.res[i])), len(c.res[i]), c.sev[i], ptr(c.text[i]), len(c.text[i])}
}

// stream is row i's stream: its resource, service and severity.
func (c *streamCols) stream(i int) Event {
	return Event{Resource: c.cache.get(c.res[i]), Service: c.svc[i], Severity: c.sev[i], SeverityText: c.text[i]}
}

// streamRowGroup groups a row group's matching rows by stream, reading
// the time, stream and filter columns.
func (s *Store) streamRowGroup(ctx context.Context, q *Query, u unit, g *streamGrouper) error {
	rg := u.b.pf.RowGroups()[u.rg]
	cols, err := readColumns(rg, u.b.kind, q.filterFields()|fTime|fResource|fService|fSeverity|fSevText)
	if err != nil {
		return fmt.Errorf("%w: block %s row group %d: %w", ErrCorrupt, u.b.meta.ULID, u.rg, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	times := cols.leafs[bitIndex(fTime)].i64
	sc := streamCols{cols.leafs[bitIndex(fResource)].str, cols.leafs[bitIndex(fService)].str,
		cols.leafs[bitIndex(fSevText)].str, cols.leafs[bitIndex(fSeverity)].i32, cols.res}
	add := func(i int) { g.add(sc.key(i), times[i], func() Event { return sc.stream(i) }) }
	if len(q.Filters) == 0 && q.inRange(u.minT) && q.inRange(u.maxT) {
		for i := 0; i < cols.n; i++ {
			add(i)
		}
		return nil
	}
	// Filters on the stream alone (resource, service, level) are
	// evaluated once per group, in one lookup with the grouping.
	byStream := true
	for i := range q.Filters {
		byStream = byStream && q.Filters[i].fields != 0 && q.Filters[i].fields&^(fResource|fService|fSeverity|fSevText) == 0
	}
	if byStream {
		passes := map[streamKey]int{} // group index, or -1
		var last streamKey
		lastG, haveLast := -1, false
		for i := 0; i < cols.n; i++ {
			if !q.inRange(times[i]) {
				continue
			}
			k := sc.key(i)
			if !haveLast || k != last {
				gi, seen := passes[k]
				if !seen {
					e := sc.stream(i)
					gi = -1
					if q.matchFilters(&e) {
						gi = len(g.out)
						g.out = append(g.out, StreamTimes{Stream: e})
					}
					passes[k] = gi
				}
				last, lastG, haveLast = k, gi, true
			}
			if lastG >= 0 {
				g.out[lastG].Times = append(g.out[lastG].Times, times[i])
			}
		}
		return nil
	}
	sel, _ := selectRows(q, cols)
	for _, i := range sel {
		add(int(i))
	}
	return nil
}
