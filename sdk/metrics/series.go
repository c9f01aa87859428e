package metrics

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// series is the capped table of one vector's children, keyed by their label
// values. A lookup of a series that exists reads an immutable map through
// an atomic pointer: no lock, no allocation. A new series is created under
// a mutex, in a "dirty" map the lock-free map does not see yet; the two are
// merged into a new immutable map once the dirty map has been missed in
// often enough (as many misses as dirty entries, and at least an eighth of
// the immutable map's size), so each merge's copy is paid for by as many
// slower lookups and creating n series costs O(n) copies in all, not O(n²).
//
// At limit series, a lookup of a new series returns discard and increments
// dropped; nothing is stored, so an unbounded label costs a counter
// increment per lookup and no memory.
type series[T any] struct {
	seed    maphash.Seed
	limit   int
	create  func(lvs []string) T // the vector's WithLabelValues; panics on a wrong number of values
	discard T
	dropped prometheus.Counter

	read atomic.Pointer[map[uint64][]child[T]]

	mu     sync.Mutex
	dirty  map[uint64][]child[T]
	nDirty int
	misses int
	n      int // series held, read and dirty
}

type child[T any] struct {
	lvs []string
	m   T
}

func newSeries[T any](limit int, create func([]string) T, discard T, dropped prometheus.Counter) *series[T] {
	return &series[T]{seed: maphash.MakeSeed(), limit: limit, create: create, discard: discard, dropped: dropped}
}

func (s *series[T]) hash(lvs []string) uint64 {
	h := uint64(len(lvs))
	for _, v := range lvs {
		h = (h ^ maphash.String(s.seed, v)) * 0x9e3779b97f4a7c15
	}
	return h
}

func find[T any](m map[uint64][]child[T], h uint64, lvs []string) (T, bool) {
	for _, c := range m[h] {
		if slices.Equal(c.lvs, lvs) {
			return c.m, true
		}
	}
	var zero T
	return zero, false
}

// get returns the child for lvs, creating it under the limit, or discard.
func (s *series[T]) get(lvs []string) T {
	h := s.hash(lvs)
	if r := s.read.Load(); r != nil {
		if m, ok := find(*r, h, lvs); ok {
			return m
		}
	}
	return s.slow(h, lvs)
}

func (s *series[T]) slow(h uint64, lvs []string) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.read.Load(); r != nil {
		if m, ok := find(*r, h, lvs); ok {
			return m
		}
	}
	if m, ok := find(s.dirty, h, lvs); ok {
		s.miss()
		return m
	}
	if s.n >= s.limit {
		s.dropped.Inc()
		return s.discard
	}
	own := make([]string, len(lvs)) // lvs itself must not escape: the caller's slice stays on its stack
	for i, v := range lvs {
		own[i] = strings.Clone(v) // the caller's string may share memory with a larger one (a request line)
	}
	m := s.create(own) // panics (as client_golang does) on a wrong number of values: nothing stored
	if s.dirty == nil {
		s.dirty = make(map[uint64][]child[T])
	}
	s.dirty[h] = append(s.dirty[h], child[T]{own, m})
	s.nDirty++
	s.n++
	s.miss()
	return m
}

// miss counts a lookup the lock-free map could not answer and merges the
// dirty map into it when they have paid for the copy. Called with mu held.
func (s *series[T]) miss() {
	s.misses++
	readLen := s.n - s.nDirty
	if s.misses < s.nDirty || s.misses < readLen/8 {
		return
	}
	merged := make(map[uint64][]child[T], s.n)
	if r := s.read.Load(); r != nil {
		for h, cs := range *r {
			merged[h] = cs
		}
	}
	for h, cs := range s.dirty {
		merged[h] = append(merged[h][:len(merged[h]):len(merged[h])], cs...)
	}
	s.read.Store(&merged)
	s.dirty, s.nDirty, s.misses = nil, 0, 0
}

// remove forgets the series for lvs and reports whether it was held. del
// deletes it from the vector, under the same lock, so that a concurrent
// lookup cannot take the vector's child back in between.
func (s *series[T]) remove(lvs []string, del func()) bool {
	h := s.hash(lvs)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer del()
	if cs, ok := s.dirty[h]; ok {
		for i, c := range cs {
			if slices.Equal(c.lvs, lvs) {
				s.dirty[h] = append(cs[:i:i], cs[i+1:]...)
				if len(s.dirty[h]) == 0 {
					delete(s.dirty, h)
				}
				s.nDirty--
				s.n--
				return true
			}
		}
	}
	r := s.read.Load()
	if r == nil {
		return false
	}
	for i, c := range (*r)[h] {
		if !slices.Equal(c.lvs, lvs) {
			continue
		}
		next := make(map[uint64][]child[T], len(*r))
		for k, v := range *r {
			next[k] = v
		}
		cs := (*r)[h]
		if rest := append(cs[:i:i], cs[i+1:]...); len(rest) > 0 {
			next[h] = rest
		} else {
			delete(next, h)
		}
		s.read.Store(&next)
		s.n--
		return true
	}
	return false
}

// reset forgets every series; del resets the vector under the same lock.
func (s *series[T]) reset(del func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	del()
	s.read.Store(nil)
	s.dirty, s.nDirty, s.misses, s.n = nil, 0, 0, 0
}

// len is the number of series held.
func (s *series[T]) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
