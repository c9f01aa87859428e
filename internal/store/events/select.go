package events

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// unit is one piece of a scan: a head's snapshot or one row group.
type unit struct {
	minT, maxT int64
	h          *head
	view       headView
	b          *blockRef
	rg         int
}

// snapshot lists the units a query reads and holds a reference on their
// blocks; release gives them back.
func (s *Store) snapshot(q *Query) (units []unit, release func()) {
	k := headKey{q.Tenant, q.Kind}
	s.mu.RLock()
	var heads []*head
	if h := s.heads[k]; h != nil {
		heads = append(heads, h)
	}
	for _, f := range s.frozen {
		if f.key == k {
			heads = append(heads, f.h)
		}
	}
	var refs []*blockRef
	for _, b := range s.blocks[k] {
		if q.overlaps(b.meta.MinTime, b.meta.MaxTime) {
			b.acquire()
			refs = append(refs, b)
		}
	}
	s.mu.RUnlock()
	for _, h := range heads {
		v, minT, maxT := h.snapshot()
		if v.n > 0 && q.overlaps(minT, maxT) {
			units = append(units, unit{minT: minT, maxT: maxT, h: h, view: v})
		}
	}
	for _, b := range refs {
		for i, rg := range b.meta.RowGroups {
			if q.overlaps(rg.MinTime, rg.MaxTime) {
				units = append(units, unit{minT: rg.MinTime, maxT: rg.MaxTime, b: b, rg: i})
			}
		}
	}
	return units, func() {
		for _, b := range refs {
			b.release(s.logger)
		}
	}
}

// scanUnit calls fn with the unit's matching events.
func (s *Store) scanUnit(ctx context.Context, q *Query, u unit, ids []TraceID, fn func([]Event) error) error {
	if u.h != nil {
		if ids != nil {
			var out []Event
			for _, id := range ids {
				for _, p := range u.h.trace(id, u.view.n) {
					if e := u.view.at(int(p)); q.match(e) {
						out = append(out, *e)
					}
				}
			}
			if len(out) == 0 {
				return nil
			}
			return fn(out)
		}
		return u.view.each(func(evs []Event) error { return matching(ctx, q, evs, fn) })
	}
	return s.scanRowGroup(ctx, q, u, fn)
}

// matching calls fn with the events of evs that match q, if any. evs is
// not changed: it may be a head's chunk.
func matching(ctx context.Context, q *Query, evs []Event, fn func([]Event) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if q.InPlace {
		// Runs of matching events, their capacity clipped so that an
		// append by the callback cannot write over the next events.
		lo := -1
		for i := range evs {
			if q.match(&evs[i]) {
				if lo < 0 {
					lo = i
				}
				continue
			}
			if lo >= 0 {
				if err := fn(evs[lo:i:i]); err != nil {
					return err
				}
				lo = -1
			}
		}
		if lo >= 0 {
			return fn(evs[lo:len(evs):len(evs)])
		}
		return nil
	}
	var out []Event
	for i := range evs {
		if q.match(&evs[i]) {
			out = append(out, evs[i])
		}
	}
	if len(out) == 0 {
		return nil
	}
	return fn(out)
}

// scanRowGroup evaluates the filters on the columns they need, then reads
// the matching rows: only the columns asked for when the query names its
// fields, else whole rows, and with a limit only the rows that can make it.
func (s *Store) scanRowGroup(ctx context.Context, q *Query, u unit, fn func([]Event) error) error {
	q = q.forRowGroup(&u.b.rgs[u.rg])
	filt, out := q.filterFields(), q.outFields()
	if u.b.kind.schema() == KindLog {
		out &^= fNested // logs have no span events or links
	}
	if filt&fNested != 0 {
		return u.b.readRowGroup(u.rg, func(evs []Event) error { return matching(ctx, q, evs, fn) })
	}
	rg := u.b.pf.RowGroups()[u.rg]
	// Filters evaluated by searching their column (presearch) leave the
	// rows that pass them, cand: the other columns are then read at those
	// rows only, row k of cols being row cand[k] of the row group.
	cand, done, unread, err := presearch(rg, q)
	if err != nil {
		return fmt.Errorf("%w: block %s row group %d: %w", ErrCorrupt, u.b.meta.ULID, u.rg, err)
	}
	if done != nil {
		if len(cand) == 0 {
			return nil
		}
		filt &^= unread
		rest := *q
		rest.Filters = nil
		for i := range q.Filters {
			if !done[&q.Filters[i]] {
				rest.Filters = append(rest.Filters, q.Filters[i])
			}
		}
		q = &rest
	}
	cols, err := readColumnsAt(rg, u.b.kind, filt, cand)
	if err != nil {
		return fmt.Errorf("%w: block %s row group %d: %w", ErrCorrupt, u.b.meta.ULID, u.rg, err)
	}
	// The events get copies of the numbers; their strings are not pooled.
	defer cols.release()
	if err := ctx.Err(); err != nil {
		return err
	}
	var sel []int32 // rows of cols
	var times []int64
	if len(q.Filters) == 0 && q.Limit == 0 && (cand != nil || q.inRange(u.minT) && q.inRange(u.maxT)) {
		// Every row of cols matches: no filters left, inside the time
		// range (the presearch's rows are then checked for it).
		for i := range cols.n {
			if cand == nil || q.inRange(cols.i64(fTime, i)) {
				sel = append(sel, int32(i))
			}
		}
	} else {
		sel, times = selectRows(q, cols)
	}
	if len(sel) == 0 {
		return nil
	}
	if q.Limit > 0 && len(sel) > q.Limit {
		idx := make([]int, len(sel))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool {
			if q.Newest {
				return times[idx[i]] > times[idx[j]]
			}
			return times[idx[i]] < times[idx[j]]
		})
		kept := make([]int32, q.Limit)
		for k := range kept {
			kept[k] = sel[idx[k]]
		}
		slices.Sort(kept)
		sel = kept
	}
	// The selected rows of the row group.
	rows := sel
	if cand != nil {
		rows = make([]int32, len(sel))
		for k, i := range sel {
			rows[k] = cand[i]
		}
	}
	if out&fNested == 0 {
		// Projected: the filter columns plus what else was asked for,
		// read at the selected rows only: the pages that hold none are
		// not read (the newest 100 lines of a row group read a few).
		var more *colSet
		if extra := out &^ filt; extra != 0 {
			if cand == nil && len(sel) == cols.n {
				rows = nil // every row: row k is row sel[k] = k
			}
			more, err = readColumnsAt(rg, u.b.kind, extra, rows)
			if err != nil {
				return fmt.Errorf("%w: block %s row group %d: %w", ErrCorrupt, u.b.meta.ULID, u.rg, err)
			}
			defer more.release()
		}
		// In batches from one buffer: a row group's worth of events at once
		// would be tens of megabytes to allocate and clear.
		buf := make([]Event, min(len(sel), 1024))
		if q.InPlace {
			// The callback keeps no event: a batch's attributes share
			// one array, not one allocation per event.
			cols.shareAttrs = true
			if more != nil {
				more.shareAttrs = true
			}
		}
		for k0 := 0; k0 < len(sel); k0 += len(buf) {
			n := min(len(sel)-k0, len(buf))
			// A new array a batch, of its exact size: no event of the
			// last batch is overwritten.
			cols.startArena(sel, k0, n)
			if more != nil {
				more.startArena(nil, k0, n)
			}
			for k := range n {
				buf[k] = Event{}
				cols.fill(&buf[k], int(sel[k0+k]))
				if more != nil {
					more.fill(&buf[k], k0+k)
				}
			}
			if err := fn(buf[:n]); err != nil {
				return err
			}
		}
		return nil
	}
	full, err := u.b.readSelected(u.rg, rows)
	if err != nil {
		return err
	}
	return fn(full)
}

// selectRows returns the rows of a row group that match q and their
// times. Filters on the stream (resource, service and severity, columns
// read as dictionary codes) are evaluated once per distinct stream, found
// by its codes in a table, the others per row that passes them, reading
// only their columns.
func selectRows(q *Query, c *colSet) (sel []int32, times []int64) {
	var byStream, rest []*Filter
	var onColumn []func(i int) bool // filters read in their column, no event filled
	var restFields fieldSet
	var traceEq []byte // a trace_id equality, compared in the column
	for i := range q.Filters {
		f := &q.Filters[i]
		switch {
		case f.readsStreamOnly():
			byStream = append(byStream, f)
		case traceEq == nil && f.Field == "trace_id" && f.Op == Eq && c.leafs[bitIndex(fTraceID)] != nil:
			id, err := ParseTraceID(f.Value)
			if err != nil {
				return nil, nil // no such trace
			}
			traceEq = id[:]
		default:
			if m := c.columnMatcher(f); m != nil {
				onColumn = append(onColumn, m)
				continue
			}
			rest = append(rest, f)
			restFields |= f.fields
		}
	}
	var ids []byte
	if traceEq != nil {
		ids = c.leafs[bitIndex(fTraceID)].fixed
	}
	t := c.leafs[bitIndex(fTime)].i64
	streamOK := c.streamFilter(byStream)
	var e Event
	rowCols := *c
	rowCols.set &= restFields
	for i := 0; i < c.n; i++ {
		if !q.inRange(t[i]) || traceEq != nil && string(ids[16*i:16*i+16]) != string(traceEq) {
			continue
		}
		if streamOK != nil && !streamOK(i) {
			continue
		}
		if len(onColumn) > 0 && !allMatch(onColumn, i) {
			continue
		}
		if len(rest) > 0 {
			rowCols.fill(&e, i)
			ok := true
			for _, f := range rest {
				if ok = f.Match(&e); !ok {
					break
				}
			}
			if !ok {
				continue
			}
		}
		sel = append(sel, int32(i))
		times = append(times, t[i])
	}
	return sel, times
}

func allMatch(ms []func(int) bool, i int) bool {
	for _, m := range ms {
		if !m(i) {
			return false
		}
	}
	return true
}

// stringColumns are the fields that are one flat string column each,
// by the name filters give them.
var stringColumns = map[string]fieldSet{"body": fBody, "name": fName, "status_message": fStatusMsg, "trace_state": fTraceState}

// columnMatcher returns whether row i passes f, reading f's column
// directly, for a string operator on a field that is one string column
// (body, span name, ...); nil for other filters. It is Filter.Match on
// the column's value without an event filled per row: a substring search
// reads the body of every row in range.
func (c *colSet) columnMatcher(f *Filter) func(i int) bool {
	bit, ok := stringColumns[f.Field]
	if !ok || c.set&bit == 0 {
		return nil
	}
	l := c.leafs[bitIndex(bit)]
	switch f.Op {
	case Contains:
		return func(i int) bool { return strings.Contains(l.strAt(i), f.Value) }
	case IDOrContains:
		n := f.ids
		if n == nil { // not an id: a substring
			return func(i int) bool { return strings.Contains(l.strAt(i), f.Value) }
		}
		idBit, id := fSpanID, n.sid[:]
		if n.isTrace {
			idBit, id = fTraceID, n.tid[:]
		}
		if c.set&idBit == 0 {
			return nil
		}
		return func(i int) bool {
			return string(c.fixed(idBit, i)) == string(id) || strings.Contains(l.strAt(i), f.Value)
		}
	case Eq:
		return func(i int) bool { return l.strAt(i) == f.Value }
	case Neq:
		return func(i int) bool { return l.strAt(i) != f.Value }
	case Re:
		return func(i int) bool { return f.re.MatchString(l.strAt(i)) }
	case NotRe:
		return func(i int) bool { return !f.re.MatchString(l.strAt(i)) }
	case Token:
		return func(i int) bool { return hasToken(l.strAt(i), f.lowerV) }
	}
	return nil
}

// streamFilter returns whether row i passes the filters fs, which read
// the stream fields only (nil: no filter), matching each distinct stream
// once (streamLookup).
func (c *colSet) streamFilter(fs []*Filter) func(i int) bool {
	if len(fs) == 0 {
		return nil
	}
	look := c.streamLookup(func(st *Event) int32 {
		for _, f := range fs {
			if !f.Match(st) {
				return 0
			}
		}
		return 1
	})
	return func(i int) bool { return look(i) == 1 }
}

// streamLookup returns a function of a row giving value of the row's
// stream (its Resource, Service, SeverityText and Severity set from the
// set's columns; fields not read are zero), value being called once per
// distinct stream. A row's stream is found by its dictionary codes and
// severity number in a table when the dictionaries are small, as they are
// (a handful of resources, services and levels), else in a map; string
// columns not read as codes are looked up by their values.
func (c *colSet) streamLookup(value func(st *Event) int32) func(i int) int32 {
	res, svc, text := c.leafs[bitIndex(fResource)], c.leafs[bitIndex(fService)], c.leafs[bitIndex(fSevText)]
	sv := zeroInt32s(c.n) // the severity numbers; zeros when not read
	if l := c.leafs[bitIndex(fSeverity)]; l != nil {
		sv = l.i32
	}
	strAt := func(l *leaf, i int) string {
		if l == nil {
			return ""
		}
		return l.strAt(i)
	}
	stream := func(i int) Event {
		st := Event{Service: strAt(svc, i), SeverityText: strAt(text, i), Severity: sv[i]}
		if res != nil {
			st.Resource = c.res.get(res.strAt(i))
		}
		return st
	}
	size := 1
	for _, l := range []*leaf{res, svc, text} {
		if l != nil && len(l.codes) != c.n {
			// Not read as codes: by the strings.
			type key struct {
				res, svc, text string
				sev            int32
			}
			seen := map[key]int32{}
			return func(i int) int32 {
				k := key{strAt(res, i), strAt(svc, i), strAt(text, i), sv[i]}
				v, ok := seen[k]
				if !ok {
					st := stream(i)
					v = value(&st)
					seen[k] = v
				}
				return v
			}
		}
		if l != nil {
			size *= max(len(l.dict), 1)
		}
	}
	// The codes, zeros for a column not read, and the dictionary sizes:
	// indexed directly below, which runs once a row.
	rc, sc, tc := zeroInt32s(c.n), zeroInt32s(c.n), zeroInt32s(c.n)
	ns, nt := 1, 1
	if res != nil {
		rc = res.codes
	}
	if svc != nil {
		sc, ns = svc.codes, max(len(svc.dict), 1)
	}
	if text != nil {
		tc, nt = text.codes, max(len(text.dict), 1)
	}
	// An entry's v is unset while it is math.MinInt32, a value value
	// never gives (a group's index, -1, 0 or 1).
	type entry struct{ sev, v int32 }
	var table []entry
	if size <= 1<<16 {
		table = make([]entry, size)
		for i := range table {
			table[i].v = math.MinInt32
		}
	}
	type key struct{ res, svc, text, sev int32 }
	seen := map[key]int32{}
	return func(i int) int32 {
		r, s, tx, sev := rc[i], sc[i], tc[i], sv[i]
		var e *entry
		if table != nil {
			e = &table[(int(r)*ns+int(s))*nt+int(tx)]
			if e.v != math.MinInt32 && e.sev == sev {
				return e.v
			}
		}
		k := key{r, s, tx, sev}
		v, found := seen[k]
		if !found {
			st := stream(i)
			v = value(&st)
			seen[k] = v
		}
		if e != nil && e.v == math.MinInt32 {
			*e = entry{sev, v}
		}
		return v
	}
}

// ScanStats tells what a scan read.
type ScanStats struct {
	Units   int   // head snapshots and row groups in the time range
	Skipped int   // ... of which the indexes ruled out
	Corrupt int   // row groups that failed their checksums, skipped
	Matched int64 // events passed to the caller
	// FromIndex are the row groups answered from their index without
	// being read (Store.Streams).
	FromIndex int
	Warnings  []string
}

// Scan calls fn with batches of the events matching q, in no particular
// order, scanning head and row groups in parallel. Calls of fn do not
// overlap; the slice (not the strings) is reused after fn returns. A row group failing its checksum is skipped and reported in the
// stats; other errors end the scan.
func (s *Store) Scan(ctx context.Context, q Query, fn func([]Event) error) (ScanStats, error) {
	var mu sync.Mutex
	return s.ScanConcurrent(ctx, q, func(evs []Event) error {
		mu.Lock()
		defer mu.Unlock()
		return fn(evs)
	})
}

// ScanConcurrent is Scan with calls of fn that may overlap, one per
// worker: for callers that aggregate into their own per-call state and
// merge it, so that their work runs in parallel too. The slice is reused
// after fn returns.
func (s *Store) ScanConcurrent(ctx context.Context, q Query, fn func([]Event) error) (ScanStats, error) {
	if err := q.compile(); err != nil {
		return ScanStats{}, err
	}
	units, release := s.snapshot(&q)
	defer release()
	var top *bestTimes
	if q.Limit > 0 {
		// The caller keeps the Limit best events: once that many are
		// passed, a unit holding only worse ones is skipped, as with the
		// caller's own Cutoff (whichever is tighter).
		top = &bestTimes{n: q.Limit, newest: q.Newest}
		q.Cutoff = top.cutoff(q.Cutoff)
	}
	if q.Cutoff != nil {
		sortUnits(units, q.Newest)
	}
	var matched atomic.Int64
	st := ScanStats{Units: len(units)}
	err := s.parallel(ctx, &q, units, &st, func(_ int, evs []Event) error {
		matched.Add(int64(len(evs)))
		if err := fn(evs); err != nil {
			return err
		}
		if top != nil {
			top.add(evs)
		}
		return nil
	})
	st.Matched = matched.Load()
	return st, err
}

// bestTimes keeps the n best times (the newest if newest, else the
// oldest) of the events a scan passed on: the nth is a cutoff.
type bestTimes struct {
	n      int
	newest bool
	mu     sync.Mutex
	h      []int64 // a min-heap of keys: the time, negated for oldest
	worst  atomic.Int64
	full   atomic.Bool
}

func (b *bestTimes) add(evs []Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range evs {
		k := evs[i].Time
		if !b.newest {
			k = -k
		}
		switch {
		case len(b.h) < b.n:
			b.h = append(b.h, k)
			heapUp(b.h, len(b.h)-1)
		case k > b.h[0]:
			b.h[0] = k
			heapDown(b.h, 0)
		default:
			continue
		}
		if len(b.h) == b.n {
			w := b.h[0]
			if !b.newest {
				w = -w
			}
			b.worst.Store(w)
			b.full.Store(true)
		}
	}
}

// cutoff is a Query.Cutoff: the nth best time once n were passed, or
// the caller's cutoff if that is tighter.
func (b *bestTimes) cutoff(caller func() (int64, bool)) func() (int64, bool) {
	return func() (int64, bool) {
		t, ok := b.worst.Load(), b.full.Load()
		if caller != nil {
			if ct, cok := caller(); cok && (!ok || b.newest && ct > t || !b.newest && ct < t) {
				t, ok = ct, true
			}
		}
		return t, ok
	}
}

func heapUp(h []int64, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func heapDown(h []int64, i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c+1] < h[c] {
			c++
		}
		if h[i] <= h[c] {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// parallel runs scanUnit over units with one worker per CPU. fn gets the
// unit's index and may be called concurrently.
func (s *Store) parallel(ctx context.Context, q *Query, units []unit, st *ScanStats, fn func(int, []Event) error) error {
	return s.parallelUnits(ctx, q, units, st, func(ctx context.Context, i int, u unit, ids []TraceID) error {
		return s.scanUnit(ctx, q, u, ids, func(evs []Event) error { return fn(i, evs) })
	})
}

// sequentialUnits is how many units a scan with a cutoff reads one at a
// time before it reads in parallel without one: a cutoff that needs more
// is a rare match, whose scan reads every unit anyway.
const sequentialUnits = 3

// parallelUnits runs scan over the units the indexes do not rule out,
// with one worker per CPU.
func (s *Store) parallelUnits(ctx context.Context, q *Query, units []unit, st *ScanStats, scan func(ctx context.Context, i int, u unit, ids []TraceID) error) error {
	ids, toks, grams, sf := q.traceIDs(), q.bodyTokens(), q.bodyGrams(), q.streamFilters()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		next     int
		wg       sync.WaitGroup
	)
	// work scans up to n units (n < 0: until none is left).
	work := func(n int) {
		for ; n != 0; n-- {
			mu.Lock()
			if next >= len(units) || firstErr != nil {
				mu.Unlock()
				return
			}
			i := next
			next++
			mu.Unlock()
			u := units[i]
			if q.Cutoff != nil {
				if t, ok := q.Cutoff(); ok && (q.Newest && u.maxT < t || !q.Newest && u.minT > t) {
					mu.Lock()
					st.Skipped++
					mu.Unlock()
					continue
				}
			}
			if u.b != nil && !q.mayMatch(&u.b.rgs[u.rg], ids, toks, grams, sf) {
				mu.Lock()
				st.Skipped++
				mu.Unlock()
				continue
			}
			err := scan(ctx, i, u, ids)
			if err != nil && errors.Is(err, ErrCorrupt) {
				s.m.corruptReads.Inc()
				s.logger.Error("event store: skipping a corrupt row group", "err", err)
				mu.Lock()
				st.Corrupt++
				st.Warnings = append(st.Warnings, err.Error())
				mu.Unlock()
				continue
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
				return
			}
		}
	}
	// The newest (oldest) units one at a time first, until the caller
	// knows its cutoff (at most sequentialUnits): they often hold what it
	// keeps, and the units after them are then skipped instead of read
	// beside them on the other cores. A head cut just before the end of
	// the range may hold too few: the newest 100 errors of a service
	// whose last block has 83 read two more blocks of 240 k rows at once.
	for i := 0; q.Cutoff != nil && len(units) > 1 && i < sequentialUnits; i++ {
		work(1)
		if _, ok := q.Cutoff(); ok {
			break
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(units))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(-1)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// Select returns the events matching q, ordered by time (newest first if
// q.Newest), at most q.Limit of them. Units are read newest (or oldest)
// first, a CPU's worth at a time, and reading stops once no unread unit
// can hold an event that would make the cut.
func (s *Store) Select(ctx context.Context, q Query) ([]Event, ScanStats, error) {
	if err := q.compile(); err != nil {
		return nil, ScanStats{}, err
	}
	units, release := s.snapshot(&q)
	defer release()
	before := func(a, b int64) bool { return a < b }
	if q.Newest {
		before = func(a, b int64) bool { return a > b }
	}
	sortUnits(units, q.Newest)
	st := ScanStats{Units: len(units)}
	var res []Event
	var mu sync.Mutex
	wave := max(runtime.GOMAXPROCS(0), 1)
	for len(units) > 0 {
		if q.Limit > 0 && len(res) >= q.Limit {
			worst := res[len(res)-1].Time
			if q.Newest && units[0].maxT < worst || !q.Newest && units[0].minT > worst {
				break
			}
		}
		n := min(wave, len(units))
		err := s.parallel(ctx, &q, units[:n], &st, func(_ int, evs []Event) error {
			mu.Lock()
			defer mu.Unlock()
			res = append(res, evs...)
			return nil
		})
		if err != nil {
			return nil, st, err
		}
		units = units[n:]
		sort.SliceStable(res, func(i, j int) bool { return before(res[i].Time, res[j].Time) })
		if q.Limit > 0 && len(res) > q.Limit {
			res = slices.Clip(res[:q.Limit])
		}
	}
	st.Matched = int64(len(res))
	return res, st, nil
}

// sortUnits orders units newest first (by their newest event) or oldest
// first (by their oldest).
func sortUnits(units []unit, newest bool) {
	if newest {
		sort.Slice(units, func(i, j int) bool { return units[i].maxT > units[j].maxT })
	} else {
		sort.Slice(units, func(i, j int) bool { return units[i].minT < units[j].minT })
	}
}

// Trace returns every span of a trace in a tenant, across head and
// blocks, ordered by start time.
func (s *Store) Trace(ctx context.Context, tenant string, id TraceID) ([]Event, error) {
	evs, _, err := s.Select(ctx, Query{Tenant: tenant, Kind: KindSpan, Filters: []Filter{{Field: "trace_id", Op: Eq, Value: id.String()}}})
	return evs, err
}

// Traces returns every span of the traces ids in one scan, by trace,
// each ordered by start time. Traces with no spans are left out.
func (s *Store) Traces(ctx context.Context, tenant string, ids []TraceID) (map[TraceID][]Event, error) {
	if len(ids) == 0 {
		return map[TraceID][]Event{}, nil
	}
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id.String())
	}
	evs, _, err := s.Select(ctx, Query{Tenant: tenant, Kind: KindSpan, Filters: []Filter{{Field: "trace_id", Op: In, Value: b.String()}}})
	if err != nil {
		return nil, err
	}
	out := make(map[TraceID][]Event, len(ids))
	for _, e := range evs {
		out[e.TraceID] = append(out[e.TraceID], e)
	}
	return out, nil
}
