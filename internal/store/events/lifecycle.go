package events

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// compactMaxRows bounds a compacted block, so a merge never makes a block
// whose row groups a query would rather have pruned by block.
const (
	compactMaxRows = 32 << 20
	// A block is small, and compacted, below a quarter of a row group's
	// rows and below compactMinBytes of Parquet pages: heads cut by age
	// at a trickle of ingest. A head cut by size (head_max_bytes) is not:
	// its 48 MiB hold about 240 k shop lines, just under a row group,
	// and merging eight such blocks rewrote every line (2 M lines: 30 s
	// of CPU beside 30 s of ingest, bench/logscompare) for one file.
	compactMinBytes = 8 << 20
)

// compact merges small blocks (see compactMinBytes) of one tenant and kind
// whose minimum times fall in the same BlockSpan-aligned window, once the
// window is over (plus the head's age, so no more head cuts land in it) or
// once it holds 8 such blocks. Larger blocks are left alone: merging them
// would gain little and write every event twice at high ingest rates. Rows
// are copied in block order; each source is already sorted, so locality is
// kept.
func (s *Store) compact(ctx context.Context) {
	span := int64(s.opts.BlockSpan)
	now := time.Now().UnixNano()
	s.mu.RLock()
	var groups [][]*blockRef
	for _, bs := range s.blocks {
		var cur []*blockRef
		var rows int64
		flush := func() {
			if len(cur) >= 2 {
				w := cur[0].meta.MinTime / span
				if (w+1)*span+int64(s.opts.HeadMaxAge) < now || len(cur) >= 8 {
					groups = append(groups, cur)
				}
			}
			cur, rows = nil, 0
		}
		for _, b := range bs {
			if b.meta.Rows >= s.opts.RowGroupRows/4 || b.meta.UncompressedBytes >= compactMinBytes {
				flush()
				continue
			}
			if len(cur) > 0 && (b.meta.MinTime/span != cur[0].meta.MinTime/span || rows+b.meta.Rows > compactMaxRows) {
				flush()
			}
			cur = append(cur, b)
			rows += b.meta.Rows
		}
		flush()
	}
	for _, g := range groups {
		for _, b := range g {
			b.acquire()
		}
	}
	s.mu.RUnlock()
	for _, g := range groups {
		if ctx.Err() == nil {
			s.merge(ctx, g)
		}
		for _, b := range g {
			b.release(s.logger)
		}
	}
}

func (s *Store) merge(ctx context.Context, g []*blockRef) {
	start := time.Now()
	level, seg := 0, 0
	var sources []string
	for _, b := range g {
		level, seg = max(level, b.meta.Level), max(seg, b.meta.WALSegment)
		sources = append(sources, b.meta.ULID)
	}
	k := headKey{g[0].meta.Tenant, g[0].kind}
	var rows int64
	for _, b := range g {
		rows += b.meta.Rows
	}
	w, err := newBlockWriter(s.blocksDir(), k.tenant, k.kind, balancedRowGroups(rows, s.opts.RowGroupRows), level+1, seg, sources)
	if err != nil {
		s.logger.Error("event store: compaction", "err", err)
		return
	}
	written := 0
	for _, b := range g {
		for i := range b.meta.RowGroups {
			err = b.readRowGroup(i, func(evs []Event) error {
				for j := range evs {
					if written%writeCheckRows == 0 {
						if err := s.writeCheck(ctx); err != nil {
							return err
						}
					}
					written++
					if err := w.add(&evs[j]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				w.abort()
				if ctx.Err() != nil {
					s.logger.Info("event store: compaction abandoned; the blocks stay as they are", "reason", context.Cause(ctx))
					return
				}
				s.logger.Error("event store: compaction failed; the blocks stay as they are", "block", b.meta.ULID, "err", err)
				return
			}
		}
	}
	meta, err := w.finish()
	if err != nil {
		s.logger.Error("event store: compaction failed; the blocks stay as they are", "err", err)
		return
	}
	nb, err := openBlock(filepath.Join(s.blocksDir(), meta.Tenant, meta.Kind, meta.ULID))
	if err != nil {
		s.logger.Error("event store: a compacted block does not open", "ulid", meta.ULID, "err", err)
		return
	}
	s.mu.Lock()
	s.addBlock(nb)
	s.removeBlocks(k, g)
	s.mu.Unlock()
	s.m.compactions.Inc()
	s.logger.Info("event store: compacted blocks", "tenant", k.tenant, "kind", k.kind, "blocks", len(g), "rows", meta.Rows, "bytes", meta.Bytes, "duration", time.Since(start))
}

// removeBlocks takes blocks out of the list; each is closed and deleted
// once the queries reading it end. s.mu must be held.
func (s *Store) removeBlocks(k headKey, rm []*blockRef) {
	s.blocks[k] = slices.DeleteFunc(s.blocks[k], func(b *blockRef) bool { return slices.Contains(rm, b) })
	if len(s.blocks[k]) == 0 {
		delete(s.blocks, k)
	}
	for _, b := range rm {
		b.deleted.Store(true)
		b.release(s.logger)
	}
}

func (s *Store) limits(tenant string) TenantLimits {
	l := TenantLimits{Retention: s.opts.Retention, RetentionBytes: s.opts.RetentionBytes}
	if t, ok := s.opts.Tenants[tenant]; ok {
		if t.Retention > 0 {
			l.Retention = t.Retention
		}
		if t.RetentionBytes > 0 {
			l.RetentionBytes = t.RetentionBytes
		}
	}
	return l
}

// applyRetention deletes blocks past their tenant's retention time, then
// each tenant's oldest blocks while its blocks exceed its size limit.
func (s *Store) applyRetention(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byTenant := map[string][]*blockRef{}
	for k, bs := range s.blocks {
		l := s.limits(k.tenant)
		var expired []*blockRef
		for _, b := range bs {
			if l.Retention > 0 && b.meta.MaxTime < now.Add(-l.Retention).UnixNano() {
				expired = append(expired, b)
			} else {
				byTenant[k.tenant] = append(byTenant[k.tenant], b)
			}
		}
		if len(expired) > 0 {
			s.removeBlocks(k, expired)
			s.m.retentionDeleted.Add(float64(len(expired)))
			s.logger.Info("event store: retention deleted blocks", "tenant", k.tenant, "kind", k.kind, "blocks", len(expired), "reason", "time")
		}
	}
	for tenant, bs := range byTenant {
		l := s.limits(tenant)
		if l.RetentionBytes <= 0 {
			continue
		}
		var total int64
		for _, b := range bs {
			total += b.meta.Bytes
		}
		sort.Slice(bs, func(i, j int) bool { return bs[i].meta.MaxTime < bs[j].meta.MaxTime })
		for _, b := range bs {
			if total <= l.RetentionBytes {
				break
			}
			total -= b.meta.Bytes
			s.removeBlocks(headKey{tenant, b.kind}, []*blockRef{b})
			s.m.retentionDeleted.Inc()
			s.logger.Info("event store: retention deleted a block", "tenant", tenant, "kind", b.kind, "ulid", b.meta.ULID, "reason", "size")
		}
	}
}

// Status describes what the store holds.
type Status struct {
	Tenants []TenantStatus `json:"tenants"`
	Corrupt []CorruptBlock `json:"corruptBlocks"`
}

// TenantStatus describes one tenant's events of one kind.
type TenantStatus struct {
	Tenant            string  `json:"tenant"`
	Kind              string  `json:"kind"`
	Blocks            int     `json:"blocks"`
	Rows              int64   `json:"rows"`
	Bytes             int64   `json:"bytes"`
	UncompressedBytes int64   `json:"uncompressedBytes"`
	CompressionRatio  float64 `json:"compressionRatio"` // Parquet pages before zstd over block bytes
	BytesPerRow       float64 `json:"bytesPerRow"`
	MinTime           int64   `json:"minTime,omitempty"`
	MaxTime           int64   `json:"maxTime,omitempty"`
	HeadEvents        int     `json:"headEvents"`
	HeadBytes         int     `json:"headBytes"`
}

// Status reports blocks, rows, bytes and compression per tenant and kind.
func (s *Store) Status() Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := map[headKey]*TenantStatus{}
	get := func(k headKey) *TenantStatus {
		if t, ok := m[k]; ok {
			return t
		}
		t := &TenantStatus{Tenant: k.tenant, Kind: k.kind.String()}
		m[k] = t
		return t
	}
	for k, bs := range s.blocks {
		t := get(k)
		for _, b := range bs {
			t.Blocks++
			t.Rows += b.meta.Rows
			t.Bytes += b.meta.Bytes
			t.UncompressedBytes += b.meta.UncompressedBytes
			if t.MinTime == 0 || b.meta.MinTime < t.MinTime {
				t.MinTime = b.meta.MinTime
			}
			t.MaxTime = max(t.MaxTime, b.meta.MaxTime)
		}
	}
	addHead := func(k headKey, h *head) {
		t := get(k)
		n, b := h.size()
		t.HeadEvents += n
		t.HeadBytes += b
	}
	for k, h := range s.heads {
		addHead(k, h)
	}
	for _, f := range s.frozen {
		addHead(f.key, f.h)
	}
	st := Status{Corrupt: slices.Clone(s.corrupt)}
	for _, t := range m {
		if t.Bytes > 0 {
			t.CompressionRatio = float64(t.UncompressedBytes) / float64(t.Bytes)
			t.BytesPerRow = float64(t.Bytes) / float64(t.Rows)
		}
		st.Tenants = append(st.Tenants, *t)
	}
	sort.Slice(st.Tenants, func(i, j int) bool {
		a, b := st.Tenants[i], st.Tenants[j]
		return a.Tenant < b.Tenant || a.Tenant == b.Tenant && a.Kind < b.Kind
	})
	return st
}

type storeMetrics struct {
	appended           *prometheus.CounterVec
	duplicates         *prometheus.CounterVec
	appendFailures     prometheus.Counter
	blocksWritten      prometheus.Counter
	blockWriteFailures prometheus.Counter
	compactions        prometheus.Counter
	corruptReads       prometheus.Counter
	retentionDeleted   prometheus.Counter
	backpressure       prometheus.Counter
}

func newStoreMetrics(s *Store, reg prometheus.Registerer) *storeMetrics {
	m := &storeMetrics{
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_events_appended_total", Help: "Events appended to the event store, by kind.",
		}, []string{"kind"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_events_duplicates_dropped_total",
			Help: "Exact duplicates of events already in the head (a client's retry), dropped, by kind.",
		}, []string{"kind"}),
		appendFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horus_events_append_failures_total", Help: "Appends refused because the WAL could not write (a full disk, an I/O error).",
		}),
		blocksWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horus_events_blocks_written_total", Help: "Blocks written from the head.",
		}),
		blockWriteFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horus_events_block_write_failures_total", Help: "Failed attempts to write a head as a block (it stays in memory and is retried).",
		}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horus_events_compactions_total", Help: "Compactions of blocks into one.",
		}),
		corruptReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horus_events_corrupt_reads_total", Help: "Row groups skipped by queries because they failed their checksums.",
		}),
		retentionDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horus_events_retention_deleted_blocks_total", Help: "Blocks deleted by retention.",
		}),
		backpressure: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horus_events_append_waits_total", Help: "Times an append waited for blocks to be written (ingest faster than block writing).",
		}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.appended, m.duplicates, m.appendFailures, m.blocksWritten, m.blockWriteFailures, m.compactions,
		m.corruptReads, m.retentionDeleted, m.backpressure, statusCollector{s})
	return m
}

// statusCollector exports the store's size from one Status per scrape.
type statusCollector struct{ s *Store }

var (
	blocksDesc     = prometheus.NewDesc("horus_events_blocks", "Blocks in the event store.", nil, nil)
	blockBytesDesc = prometheus.NewDesc("horus_events_block_bytes", "Bytes of the event store's blocks.", nil, nil)
	blockRowsDesc  = prometheus.NewDesc("horus_events_block_rows", "Events in the event store's blocks.", nil, nil)
	headEventsDesc = prometheus.NewDesc("horus_events_head_events", "Events in the heads, not yet in blocks.", nil, nil)
)

func (statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- blocksDesc
	ch <- blockBytesDesc
	ch <- blockRowsDesc
	ch <- headEventsDesc
}

func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	var blocks, bytes, rows, head float64
	for _, t := range c.s.Status().Tenants {
		blocks += float64(t.Blocks)
		bytes += float64(t.Bytes)
		rows += float64(t.Rows)
		head += float64(t.HeadEvents)
	}
	ch <- prometheus.MustNewConstMetric(blocksDesc, prometheus.GaugeValue, blocks)
	ch <- prometheus.MustNewConstMetric(blockBytesDesc, prometheus.GaugeValue, bytes)
	ch <- prometheus.MustNewConstMetric(blockRowsDesc, prometheus.GaugeValue, rows)
	ch <- prometheus.MustNewConstMetric(headEventsDesc, prometheus.GaugeValue, head)
}
