package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/parquet-go/parquet-go"
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
	units, release, err := s.streamSnapshot(&q, "ScanStreams")
	if err != nil {
		return ScanStats{}, err
	}
	defer release()
	st := ScanStats{Units: len(units)}
	var matched int64
	var mu sync.Mutex
	err = s.parallelUnits(ctx, &q, units, &st, func(ctx context.Context, _ int, u unit, ids []TraceID) error {
		var g streamGrouper
		defer g.free()
		if err := s.streamUnit(ctx, &q, u, ids, &g); err != nil || len(g.out) == 0 {
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

// Streams calls fn with the streams (Resource, Service, Severity and
// SeverityText set) that have logs matching q, for Loki's label names,
// label values and series. A row group wholly inside q's range is answered
// from its block's stream list (index.bin) when q's filters read only the
// stream, without reading it; other units (heads, row groups at the
// range's ends, older blocks, other filters) are read as by ScanStreams.
// A stream may be given more than once; calls of fn may overlap. q.Fields
// and q.Limit are ignored; errors are as Scan's.
func (s *Store) Streams(ctx context.Context, q Query, fn func([]Event) error) (ScanStats, error) {
	units, release, err := s.streamSnapshot(&q, "Streams")
	if err != nil {
		return ScanStats{}, err
	}
	defer release()
	st := ScanStats{Units: len(units)}
	sf := q.streamFilters()
	byStream := len(sf) == len(q.Filters)
	var fromIndex atomic.Int64
	err = s.parallelUnits(ctx, &q, units, &st, func(ctx context.Context, _ int, u unit, ids []TraceID) error {
		if ix := u.indexed(); byStream && ix != nil && q.inRange(u.minT) && q.inRange(u.maxT) {
			fromIndex.Add(1)
			var out []Event
			for i := range ix.streams {
				if ix.streams[i].Rows > 0 && q.streamMatches(&ix.streams[i].Stream, sf) {
					out = append(out, ix.streams[i].Stream)
				}
			}
			if len(out) == 0 {
				return nil
			}
			return fn(out)
		}
		var g streamGrouper
		defer g.free()
		if err := s.streamUnit(ctx, &q, u, ids, &g); err != nil {
			return err
		}
		var out []Event
		for i := range g.out {
			if len(g.out[i].Times) > 0 {
				out = append(out, g.out[i].Stream)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return fn(out)
	})
	st.FromIndex = int(fromIndex.Load())
	return st, err
}

// streamSnapshot prepares q for ScanStreams and Streams (the caller
// named what) and lists its units, as snapshot does.
func (s *Store) streamSnapshot(q *Query, what string) ([]unit, func(), error) {
	if q.Kind != KindLog {
		return nil, nil, fmt.Errorf("%s reads logs, not %s", what, q.Kind)
	}
	q.Fields, q.Limit = []string{"time", "resource", "service_name", "level"}, 0
	if err := q.compile(); err != nil {
		return nil, nil, err
	}
	units, release := s.snapshot(q)
	return units, release, nil
}

// indexed returns the unit's index when it is a row group whose block
// lists its streams, else nil.
func (u *unit) indexed() *rowGroupIndex {
	if u.b == nil || !u.b.rgs[u.rg].hasStreams {
		return nil
	}
	return &u.b.rgs[u.rg]
}

// streamUnit groups the unit's logs matching q by stream into g.
func (s *Store) streamUnit(ctx context.Context, q *Query, u unit, ids []TraceID, g *streamGrouper) error {
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
		return u.view.each(func(c []Event) error {
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
		return s.scanUnit(ctx, q, u, ids, func(evs []Event) error {
			for i := range evs {
				add(&evs[i])
			}
			return nil
		})
	default:
		return s.streamRowGroup(ctx, q, u, g)
	}
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
	// arenas hold out's times when pooled (streamByCodes); free gives
	// them back once the caller is done with out.
	arenas [][]int64
}

// free gives the grouper's pooled times back; out must not be used after.
func (g *streamGrouper) free() {
	for _, a := range g.arenas {
		int64s.put(a)
	}
	g.arenas = nil
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

// streamRowGroup groups a row group's matching rows by stream, reading
// the time, stream and filter columns.
func (s *Store) streamRowGroup(ctx context.Context, q *Query, u unit, g *streamGrouper) error {
	rg := u.b.pf.RowGroups()[u.rg]
	q = q.forRowGroup(&u.b.rgs[u.rg])
	// Filters on the stream alone (resource, service, level) are
	// evaluated once per stream, in one lookup with the grouping.
	byStream := true
	for i := range q.Filters {
		byStream = byStream && q.Filters[i].readsStreamOnly()
	}
	if byStream {
		err := safely("columns", func() error { return streamByCodes(ctx, q, u, rg, g) })
		if err != nil && errors.Is(err, errRead) {
			return fmt.Errorf("%w: block %s row group %d: %w", ErrCorrupt, u.b.meta.ULID, u.rg, err)
		}
		return err
	}
	cols, err := readColumns(rg, u.b.kind, q.filterFields()|fTime|streamFields)
	if err != nil {
		return fmt.Errorf("%w: block %s row group %d: %w", ErrCorrupt, u.b.meta.ULID, u.rg, err)
	}
	defer cols.release() // the times are copied into the groups
	if err := ctx.Err(); err != nil {
		return err
	}
	times := cols.leafs[bitIndex(fTime)].i64
	res, svc, text := cols.leafs[bitIndex(fResource)], cols.leafs[bitIndex(fService)], cols.leafs[bitIndex(fSevText)]
	sevs := cols.leafs[bitIndex(fSeverity)].i32
	sel, _ := selectRows(q, cols)
	for _, i := range sel {
		// Equal codes give the same dictionary string: the key's pointers.
		r, sv, t, sev := res.strAt(int(i)), svc.strAt(int(i)), text.strAt(int(i)), sevs[i]
		g.add(streamKey{ptr(sv), len(sv), unsafe.Pointer(ptr(r)), len(r), sev, ptr(t), len(t)}, times[i], func() Event {
			return Event{Resource: cols.res.get(r), Service: sv, Severity: sev, SeverityText: t}
		})
	}
	return nil
}

// streamByCodes groups a row group's rows in the query's time range by
// stream when the query's filters read the stream alone: the string
// columns are read as dictionary codes, a row's stream is found by its
// codes and severity (colSet.streamLookup: no string is made per row),
// the filters run once per stream, and each stream's times are counted
// first and then copied into a slice of their exact size.
func streamByCodes(ctx context.Context, q *Query, u unit, rg parquet.RowGroup, g *streamGrouper) error {
	cols, err := readColumnsUnsafe(rg, u.b.kind, fTime|fSeverity|codedFields, nil)
	if err != nil {
		return err
	}
	defer cols.release() // the times are copied out, the strings are the dictionaries'
	if err := ctx.Err(); err != nil {
		return err
	}
	times := cols.leafs[bitIndex(fTime)].i64
	base := len(g.out)
	// A row's group: its index in g.out, -1 when the filters leave it out.
	lookup := cols.streamLookup(func(st *Event) int32 {
		if !q.matchFilters(st) {
			return -1
		}
		g.out = append(g.out, StreamTimes{Stream: *st})
		return int32(len(g.out) - 1)
	})
	// Each row's group once, counting each group's times; then the
	// times into one arena, each group's a slice of its exact size.
	all := q.inRange(u.minT) && q.inRange(u.maxT)
	gis := int32s.get(cols.n)[:cols.n]
	defer int32s.put(gis)
	var counts []int
	total := 0
	for i := range cols.n {
		gi := int32(-1)
		if all || q.inRange(times[i]) {
			gi = lookup(i)
		}
		gis[i] = gi
		if gi >= 0 {
			for int(gi)-base >= len(counts) {
				counts = append(counts, 0)
			}
			counts[int(gi)-base]++
			total++
		}
	}
	arena := int64s.get(total)[:total]
	g.arenas = append(g.arenas, arena)
	off := 0
	for j, n := range counts {
		g.out[base+j].Times = arena[off : off : off+n]
		off += n
	}
	for i, gi := range gis {
		if gi >= 0 {
			g.out[gi].Times = append(g.out[gi].Times, times[i])
		}
	}
	return nil
}
