package remotewrite

import (
	"hash/maphash"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// seriesCache remembers, for the raw protobuf bytes of a series' labels,
// the labels built from them and the TSDB's reference of the series.
//
// A remote-write sender sends the same label sets again every interval.
// For a known series the handler then skips decoding and validating its
// labels and the TSDB skips hashing them to find the series, the way
// Prometheus' scrape cache works for scraped text. The TSDB falls back to
// the labels when a reference is no longer valid (the series left the
// head), and references are never reused, so a stale entry is harmless.
//
// Entries live in two generations per shard: when the current one is
// full it becomes the previous one, and entries looked up there move back
// to the current one. Memory is thus bounded by 2×MaxEntries entries, and
// series that stopped being sent fall out. The cache must be cleared if
// the ingest limits change, since it stands for "these labels passed".
type seriesCache struct {
	seed        maphash.Seed
	maxPerShard int
	shards      [cacheShards]cacheShard
}

const cacheShards = 64

type cacheShard struct {
	mu        sync.RWMutex
	cur, prev map[string]*cacheEntry
}

type cacheEntry struct {
	ls  labels.Labels
	ref storage.SeriesRef
}

// newSeriesCache returns a cache of about maxEntries current entries.
func newSeriesCache(maxEntries int) *seriesCache {
	c := &seriesCache{seed: maphash.MakeSeed(), maxPerShard: max(1, maxEntries/cacheShards)}
	for i := range c.shards {
		c.shards[i].cur = map[string]*cacheEntry{}
	}
	return c
}

func (c *seriesCache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

// get returns the entry for key, or nil.
func (c *seriesCache) get(key []byte) *cacheEntry {
	sh := c.shard(key)
	sh.mu.RLock()
	e := sh.cur[string(key)]
	if e != nil {
		sh.mu.RUnlock()
		return e
	}
	e = sh.prev[string(key)]
	sh.mu.RUnlock()
	if e != nil {
		sh.mu.Lock()
		sh.add(string(key), e, c.maxPerShard)
		sh.mu.Unlock()
	}
	return e
}

// put records the labels and reference of key.
func (c *seriesCache) put(key []byte, ls labels.Labels, ref storage.SeriesRef) {
	sh := c.shard(key)
	sh.mu.Lock()
	sh.add(string(key), &cacheEntry{ls: ls, ref: ref}, c.maxPerShard)
	sh.mu.Unlock()
}

func (sh *cacheShard) add(key string, e *cacheEntry, max int) {
	if len(sh.cur) >= max {
		sh.prev, sh.cur = sh.cur, make(map[string]*cacheEntry, max)
	}
	sh.cur[key] = e
}
