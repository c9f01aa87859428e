package events

import (
	"sync"
	"sync/atomic"
)

// Pools of the large numeric slices a scan makes per row group (a
// column's times, severities and dictionary codes, a row group's grouped
// times): hundreds of thousands of elements each, whose allocation and
// zeroing were a third of the CPU of a count by level. A slice taken
// from a pool is empty with at least the capacity asked for; it is put
// back by whoever knows it is no longer referenced.
var (
	int64s slicePool[int64]
	int32s slicePool[int32]
)

// slicePool is a pool of slices of T.
type slicePool[T any] struct{ p sync.Pool } // of *[]T

// get returns an empty slice with room for n elements.
func (sp *slicePool[T]) get(n int) []T {
	if p, ok := sp.p.Get().(*[]T); ok {
		if cap(*p) >= n {
			return (*p)[:0]
		}
		sp.p.Put(p)
	}
	return make([]T, 0, n)
}

// put gives s back for reuse; it must not be used after. Small slices
// are left to the collector.
func (sp *slicePool[T]) put(s []T) {
	if cap(s) >= 1<<12 {
		s = s[:0]
		sp.p.Put(&s)
	}
}

// release gives the leaf's numeric slices back to the pools; the leaf
// must not be used after.
func (l *leaf) release() {
	if l == nil {
		return
	}
	int64s.put(l.i64)
	int32s.put(l.i32)
	int32s.put(l.codes)
	l.i64, l.i32, l.codes = nil, nil, nil
}

// release gives the set's leaves' numeric slices back to the pools.
func (c *colSet) release() {
	for _, l := range c.leafs {
		l.release()
	}
}

// zeros is a read-only slice of zeros, grown as needed: zeroInt32s.
var zeros atomic.Pointer[[]int32]

// zeroInt32s returns n zeros, which must not be written.
func zeroInt32s(n int) []int32 {
	if z := zeros.Load(); z != nil && len(*z) >= n {
		return (*z)[:n]
	}
	z := make([]int32, n)
	zeros.Store(&z)
	return z
}
