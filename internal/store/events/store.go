package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horus-obs/horus/internal/store/events/wal"
	"github.com/horus-obs/horus/internal/tenant"
)

// Options configure a Store.
type Options struct {
	// WAL configures the write-ahead log (fsync policy and interval).
	WAL wal.Options
	// HeadMaxBytes cuts the heads into blocks once their events take this
	// much memory, as the head holds them (encoded, with its indexes and
	// tables; default 48 MiB, about 200,000 JSON log lines of 300 bytes).
	// While a cut head is written, the next one fills: twice this is the
	// heads' share of the heap.
	HeadMaxBytes int
	// HeadMaxAge cuts the head this long after its first event arrived
	// (default 15 min), so blocks are written, and the WAL truncated,
	// even at a trickle.
	HeadMaxAge time.Duration
	// BlockSpan is the longest time range a compacted block covers
	// (default 2 h); compaction merges small blocks within one such window.
	BlockSpan time.Duration
	// Retention deletes blocks whose newest event is older than this
	// (default 0: keep forever). RetentionBytes deletes a tenant's oldest
	// blocks while its blocks take more than this (0: no limit).
	Retention      time.Duration
	RetentionBytes int64
	// Tenants overrides the retention per tenant.
	Tenants map[string]TenantLimits
	// RowGroupRows is the rows per Parquet row group (default 256Ki):
	// the unit of pruning by time and Bloom filter. Tests make it small.
	RowGroupRows int64
	// Registerer gets the store's metrics, if set.
	Registerer prometheus.Registerer
}

// TenantLimits override the store-wide retention for one tenant; zero
// fields take the store's.
type TenantLimits struct {
	Retention      time.Duration
	RetentionBytes int64
}

func (o *Options) defaults() {
	if o.HeadMaxBytes <= 0 {
		o.HeadMaxBytes = 48 << 20
	}
	if o.HeadMaxAge <= 0 {
		o.HeadMaxAge = 15 * time.Minute
	}
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = rowGroupRows
	}
	if o.BlockSpan <= 0 {
		o.BlockSpan = 2 * time.Hour
	}
}

// CheckTenant validates a tenant name (package tenant).
func CheckTenant(t string) error { return tenant.Check(t) }

type headKey struct {
	tenant string
	kind   Kind
}

// frozenHead is a head cut from appends, waiting to become a block.
type frozenHead struct {
	key   headKey
	h     *head
	bytes int // of h, which takes no more appends once cut
	seg   int // WAL segments below seg hold only events of this and older heads
}

// Store is the event store.
type Store struct {
	dir    string
	opts   Options
	logger *slog.Logger
	wal    *wal.WAL
	m      *storeMetrics

	// appendMu orders appends against cuts: an append holds it shared
	// across its WAL write and head insert, a cut exclusively, so no event
	// is in a WAL segment the cut considers done but not in a cut head.
	appendMu sync.RWMutex

	mu       sync.RWMutex
	heads    map[headKey]*head
	headBorn time.Time // when the oldest current head got its first event
	frozen   []*frozenHead
	blocks   map[headKey][]*blockRef // sorted by MinTime
	corrupt  []CorruptBlock

	headBytes   atomic.Int64  // of the current heads
	frozenBytes atomic.Int64  // of the cut heads not yet written
	kick        chan struct{} // wakes the loop when the heads are full

	cutMu     sync.Mutex // one cut at a time
	flushMu   sync.Mutex // one writer of cut heads at a time
	compactMu sync.Mutex // one compaction and retention pass at a time
	flushReq  chan struct{}
	flushed   chan struct{} // closed and replaced after each flush pass (under mu)
	flushErr  error         // of the last flush pass (under mu)
	quit      chan struct{}
	done      chan struct{}
	closed    atomic.Bool
	// stopCtx ends when Close starts: block writes and compactions in
	// progress give up (what they leave is in the WAL or the source
	// blocks), so a stop does not wait for them.
	stopCtx context.Context
	stop    context.CancelFunc
	// testHookWriteRows, when set, runs every writeCheckRows rows of a
	// block being written, with the write's context.
	testHookWriteRows func(ctx context.Context)
	bufs              sync.Pool
}

// CorruptBlock is a block that could not be opened.
type CorruptBlock struct {
	Dir   string `json:"dir"`
	Error string `json:"error"`
}

// blockRef counts the users of a block, so a compacted or expired block is
// closed and deleted only after the queries reading it end.
type blockRef struct {
	*block
	refs    atomic.Int64
	deleted atomic.Bool
}

func (r *blockRef) acquire() { r.refs.Add(1) }

func (r *blockRef) release(logger *slog.Logger) {
	if r.refs.Add(-1) == 0 && r.deleted.Load() {
		_ = r.close()
		if err := os.RemoveAll(r.dir); err != nil {
			logger.Error("event store: removing block", "dir", r.dir, "err", err)
		}
	}
}

// Open opens the store in dir: it removes half-written blocks, opens the
// blocks, replays the WAL into the heads, and starts the background loop
// that cuts heads into blocks, compacts and applies retention.
func Open(dir string, logger *slog.Logger, opts Options) (*Store, error) {
	opts.defaults()
	s := &Store{
		dir: dir, opts: opts, logger: logger,
		heads:    map[headKey]*head{},
		blocks:   map[headKey][]*blockRef{},
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		kick:     make(chan struct{}, 1),
		flushReq: make(chan struct{}, 1),
		flushed:  make(chan struct{}),
	}
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	s.m = newStoreMetrics(s, opts.Registerer)
	if err := os.MkdirAll(filepath.Join(dir, "blocks"), 0o755); err != nil {
		return nil, err
	}
	if err := s.loadBlocks(); err != nil {
		return nil, err
	}
	w, err := wal.Open(filepath.Join(dir, "wal"), logger, opts.WAL)
	if err != nil {
		s.closeBlocks()
		return nil, err
	}
	s.wal = w
	// A crash between writing a block and truncating the WAL leaves
	// records that are in blocks already: skip them, per tenant and kind.
	covered := map[headKey]int{}
	for k, bs := range s.blocks {
		for _, b := range bs {
			covered[k] = max(covered[k], b.meta.WALSegment)
		}
	}
	start := time.Now()
	records, events, skipped := 0, 0, 0
	err = w.Replay(0, func(seg int, rec []byte) error {
		tenant, kind, evs, err := decodeRecord(string(rec))
		if err != nil {
			// The WAL's checksum passed, so this is a bug or a format
			// change, not a torn write: stop rather than skip data.
			return fmt.Errorf("WAL segment %d: %w", seg, err)
		}
		k := headKey{tenant, kind}
		if seg < covered[k] {
			skipped++
			return nil
		}
		added, _ := s.head(k).append(evs) // duplicates were counted when they came
		s.headBytes.Add(int64(added))
		records++
		events += len(evs)
		return nil
	})
	if err != nil {
		_ = w.Close()
		s.closeBlocks()
		return nil, fmt.Errorf("event store: replaying the WAL: %w", err)
	}
	if records+skipped > 0 {
		logger.Info("event store: WAL replayed", "records", records, "events", events, "records_already_in_blocks", skipped, "duration", time.Since(start))
	}
	go s.loop()
	return s, nil
}

func (s *Store) blocksDir() string { return filepath.Join(s.dir, "blocks") }

// loadBlocks opens every block under blocks/<tenant>/<kind>/, removing
// .tmp directories (blocks whose writing a crash cut short) and blocks that
// a compaction replaced but did not get to delete.
func (s *Store) loadBlocks() error {
	dirs, err := filepath.Glob(filepath.Join(s.blocksDir(), "*", "*", "*"))
	if err != nil {
		return err
	}
	var opened []*block
	for _, d := range dirs {
		if filepath.Ext(d) == tmpSuffix {
			s.logger.Warn("event store: removing a block a crash left half-written", "dir", d)
			if err := os.RemoveAll(d); err != nil {
				return err
			}
			continue
		}
		b, err := openBlock(d)
		if err != nil {
			s.logger.Error("event store: block unreadable, not served", "dir", d, "err", err)
			s.corrupt = append(s.corrupt, CorruptBlock{Dir: d, Error: err.Error()})
			continue
		}
		if b.index != nil {
			s.logger.Warn("event store: block index damaged, its row groups are scanned without it", "dir", d, "err", b.index)
		}
		opened = append(opened, b)
	}
	replaced := map[string]bool{}
	for _, b := range opened {
		for _, src := range b.meta.Sources {
			replaced[src] = true
		}
	}
	for _, b := range opened {
		if replaced[b.meta.ULID] {
			s.logger.Info("event store: removing a block already compacted into another", "dir", b.dir)
			_ = b.close()
			if err := os.RemoveAll(b.dir); err != nil {
				return err
			}
			continue
		}
		s.addBlock(b)
	}
	return nil
}

func (s *Store) addBlock(b *block) {
	k := headKey{b.meta.Tenant, b.kind}
	r := &blockRef{block: b}
	r.refs.Store(1) // the store's own reference
	bs := append(s.blocks[k], r)
	sort.Slice(bs, func(i, j int) bool { return bs[i].meta.MinTime < bs[j].meta.MinTime })
	s.blocks[k] = bs
}

func (s *Store) closeBlocks() {
	for _, bs := range s.blocks {
		for _, b := range bs {
			_ = b.close()
		}
	}
}

// head returns the current head of k, creating it.
func (s *Store) head(k headKey) *head {
	s.mu.RLock()
	h := s.heads[k]
	s.mu.RUnlock()
	if h != nil {
		return h
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h = s.heads[k]; h == nil {
		h = newHead(k.kind)
		s.heads[k] = h
		if len(s.heads) == 1 {
			s.headBorn = time.Now()
		}
	}
	return h
}

// ErrStorage wraps failures to store data: a full disk, a failed WAL. The
// data was not acknowledged; the client may retry.
var ErrStorage = errors.New("event store cannot write")

// storageErr wraps err, a failure to write, in ErrStorage, with a message
// that names the store's files relative to its directory: the message
// reaches clients, which have no business with the server's paths.
func (s *Store) storageErr(err error) error {
	return fmt.Errorf("%w: %w", ErrStorage, s.pathless(err))
}

// pathless returns err with the store's directory cut from its message;
// errors.Is and errors.As still reach err.
func (s *Store) pathless(err error) error {
	msg := err.Error()
	if cut := strings.ReplaceAll(msg, s.dir+string(filepath.Separator), ""); cut != msg {
		return &pathlessError{msg: strings.ReplaceAll(cut, s.dir, "."), err: err}
	}
	return err
}

// pathlessError is an error with another message.
type pathlessError struct {
	msg string
	err error
}

func (e *pathlessError) Error() string { return e.msg }
func (e *pathlessError) Unwrap() error { return e.err }

// Append stores a batch of events of one tenant and kind. It returns once
// the batch is in the WAL (as durable as the fsync policy promises) and in
// the head, where queries see it.
func (s *Store) Append(ctx context.Context, tenant string, kind Kind, evs []Event) error {
	if err := CheckTenant(tenant); err != nil {
		return err
	}
	if !kind.valid() {
		return fmt.Errorf("append: unknown kind %d", kind)
	}
	if len(evs) == 0 {
		return nil
	}
	if err := s.backpressure(ctx); err != nil {
		return err
	}
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	rec := appendRecord((*bp)[:0], tenant, kind, evs)
	defer func() {
		if cap(rec) <= 16<<20 {
			*bp = rec
			s.bufs.Put(bp)
		}
	}()
	s.appendMu.RLock()
	defer s.appendMu.RUnlock()
	if err := s.wal.Append(ctx, rec); err != nil {
		if errors.Is(err, wal.ErrRecordTooLarge) {
			return fmt.Errorf("append: batch of %d bytes encoded is larger than the WAL's record limit", len(rec))
		}
		s.m.appendFailures.Inc()
		return s.storageErr(err)
	}
	added, dups := s.head(headKey{tenant, kind}).append(evs)
	if s.headBytes.Add(int64(added)) >= int64(s.opts.HeadMaxBytes) {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	s.m.appended.WithLabelValues(kind.String()).Add(float64(len(evs) - dups))
	if dups > 0 {
		s.m.duplicates.WithLabelValues(kind.String()).Add(float64(dups))
	}
	return nil
}

// Close stops the background loop and closes the WAL and blocks. Heads,
// current or cut and waiting, are not written as blocks: the WAL has
// them, and the next Open replays it. A block write or compaction in
// progress is abandoned (its half-written directory is removed, and
// removed again by Open if the process dies first), so Close takes about
// as long as one WAL sync, however much ingest has queued. Call Flush
// first for blocks.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.stop()
	close(s.quit)
	<-s.done
	err := s.wal.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeBlocks()
	return err
}

// loop runs the background work: cutting heads when they are due (at
// once when an append fills them), writing cut heads as blocks on a
// goroutine of its own so cuts never wait for it, and compaction with
// retention every 30 seconds.
func (s *Store) loop() {
	defer close(s.done)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-s.quit:
				return
			case <-s.flushReq:
				s.flushFrozen(s.stopCtx)
			}
		}
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				s.compactAndExpire(s.stopCtx)
			}
		}
	}()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			wg.Wait()
			return
		case <-t.C:
			s.cutIfDue(s.stopCtx, false)
		case <-s.kick:
			s.cutIfDue(s.stopCtx, false)
		}
	}
}

func (s *Store) cutIfDue(ctx context.Context, force bool) {
	if err := s.cutNow(ctx, force); err != nil {
		s.logger.Error("event store: cutting the head", "err", err)
	}
}

// cutNow cuts the heads if they are due, or if force is set and they hold
// anything, and asks the background loop to write them.
func (s *Store) cutNow(ctx context.Context, force bool) error {
	s.cutMu.Lock()
	defer s.cutMu.Unlock()
	if force {
		s.mu.RLock()
		empty := len(s.heads) == 0
		s.mu.RUnlock()
		if empty {
			return nil
		}
	} else if !s.headDue() {
		return nil
	}
	if err := s.cut(ctx); err != nil {
		return err
	}
	select {
	case s.flushReq <- struct{}{}:
	default:
	}
	return nil
}

// Flush cuts the current heads and writes them, and every head cut
// before, as blocks, returning when they are written: what Loki's
// POST /flush and VictoriaLogs' /internal/force_flush do, for a backup
// or a copy of the blocks directory taken at a known point. Errors: the
// store is closed; a block that could not be written (a full disk: the
// head stays in memory and in the WAL, and is tried again later); ctx's
// error, or the store closing, before the writes ended.
func (s *Store) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: the store is closed", ErrStorage)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.stopCtx, cancel)
	defer stop()
	if err := s.cutNow(ctx, true); err != nil {
		return s.storageErr(err)
	}
	s.flushFrozen(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.flushErr != nil {
		return s.storageErr(s.flushErr)
	}
	if n := len(s.frozen); n > 0 {
		return fmt.Errorf("%w: %d cut heads are still waiting to be written", ErrStorage, n)
	}
	return nil
}

func (s *Store) compactAndExpire(ctx context.Context) {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.compact(ctx)
	s.applyRetention(time.Now())
}

// Maintain runs every background step once, in order: cut the heads if
// they are due (or if force is set), write the cut heads as blocks,
// compact, apply retention. Tests call it to make the store's state
// deterministic.
func (s *Store) Maintain(ctx context.Context, force bool) {
	s.cutIfDue(ctx, force)
	s.flushFrozen(ctx)
	s.compactAndExpire(ctx)
}

// backpressure makes appends wait while the cut heads waiting to be
// written take twice the head size or more. A head is cut when it reaches
// HeadMaxBytes, so one cut head is written while the next fills, and an
// append that finds a second one cut waits for the first to be written:
// ingest cannot outrun block writing, and the heads hold at most about
// twice HeadMaxBytes. (A lower threshold is no tighter bound but a stall:
// with one cut head of HeadMaxBytes enough to wait, every block write
// would stop ingest.) Appends wait rather than fail with 429 or 503: the
// request is already admitted and its body read (all of them bounded by
// limits.max_inflight_bytes), a wait lasts about one block write, and the
// client sees a slower answer instead of an error that makes it send the
// same bytes again. The wait ends with ctx (the client gone, the server's
// timeouts). If the last attempt to write failed (a full disk), it fails
// at once instead.
func (s *Store) backpressure(ctx context.Context) error {
	for s.frozenBytes.Load() >= 2*int64(s.opts.HeadMaxBytes) {
		s.mu.RLock()
		ch, ferr := s.flushed, s.flushErr
		s.mu.RUnlock()
		if ferr != nil {
			return fmt.Errorf("%w: blocks cannot be written (%w), and the memory for events waiting for them is full", ErrStorage, s.pathless(ferr))
		}
		s.m.backpressure.Inc()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.quit:
			return ErrStorage
		}
	}
	return nil
}

func (s *Store) headDue() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.heads) == 0 {
		return false
	}
	return s.headBytes.Load() >= int64(s.opts.HeadMaxBytes) || time.Since(s.headBorn) >= s.opts.HeadMaxAge
}

// cut freezes the current heads and starts new ones and a new WAL segment.
func (s *Store) cut(ctx context.Context) error {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	seg, err := s.wal.Cut(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, h := range s.heads {
		_, bytes := h.size()
		s.frozen = append(s.frozen, &frozenHead{key: k, h: h, bytes: bytes, seg: seg})
		s.frozenBytes.Add(int64(bytes))
	}
	s.heads = map[headKey]*head{}
	s.headBytes.Store(0)
	return nil
}

// flushFrozen writes cut heads as blocks, oldest first, and truncates the
// WAL up to the last one written. A head that fails to write (a full disk)
// stays frozen and queryable, and is tried again on the next pass. When
// ctx ends it stops, abandoning the block it is writing: the heads left
// are in the WAL.
func (s *Store) flushFrozen(ctx context.Context) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	var flushErr error
	defer func() {
		s.mu.Lock()
		s.flushErr = flushErr
		close(s.flushed)
		s.flushed = make(chan struct{})
		s.mu.Unlock()
	}()
	s.mu.RLock()
	frozen := slices.Clone(s.frozen)
	s.mu.RUnlock()
	truncate := 0
	for _, f := range frozen {
		if ctx.Err() != nil {
			break
		}
		v, _, _ := f.h.snapshot()
		start := time.Now()
		meta, err := s.writeBlock(ctx, f.key, v, f.seg)
		if err != nil && ctx.Err() != nil {
			s.logger.Info("event store: block write abandoned; the WAL keeps its events", "tenant", f.key.tenant, "kind", f.key.kind, "events", v.n, "reason", context.Cause(ctx))
			break
		}
		if err != nil {
			flushErr = err
			s.m.blockWriteFailures.Inc()
			s.logger.Error("event store: writing a block failed; the head stays in memory and the WAL keeps it", "tenant", f.key.tenant, "kind", f.key.kind, "events", v.n, "err", err)
			break
		}
		var b *block
		if meta.Rows > 0 {
			if b, err = openBlock(filepath.Join(s.blocksDir(), meta.Tenant, meta.Kind, meta.ULID)); err != nil {
				flushErr = err
				s.logger.Error("event store: a block just written does not open", "ulid", meta.ULID, "err", err)
				break
			}
			s.logger.Debug("event store: block written", "tenant", meta.Tenant, "kind", meta.Kind, "rows", meta.Rows, "bytes", meta.Bytes, "duration", time.Since(start))
		}
		s.mu.Lock()
		if b != nil {
			s.addBlock(b)
		}
		s.frozen = slices.DeleteFunc(s.frozen, func(x *frozenHead) bool { return x == f })
		s.frozenBytes.Add(-int64(f.bytes))
		stillFrozen := false
		for _, x := range s.frozen {
			if x.seg <= f.seg {
				stillFrozen = true
			}
		}
		s.mu.Unlock()
		if !stillFrozen {
			truncate = f.seg
		}
	}
	if truncate > 0 {
		if err := s.wal.RemoveBefore(truncate); err != nil {
			s.logger.Error("event store: truncating the WAL", "err", err)
		}
	}
}

// writeCheckRows is how many rows a block write or compaction writes
// between looks at its context.
const writeCheckRows = 4096

// writeBlock writes a head's events as a block, in sorted order. The head
// itself is not reordered: queries may be reading it. It gives up, removing
// what it wrote, with ctx's error when ctx ends.
func (s *Store) writeBlock(ctx context.Context, k headKey, v headView, seg int) (BlockMeta, error) {
	order := sortHead(v)
	w, err := newBlockWriter(s.blocksDir(), k.tenant, k.kind, balancedRowGroups(int64(v.n), s.opts.RowGroupRows), 1, seg, nil)
	if err != nil {
		return BlockMeta{}, err
	}
	// One event and attribute slab, reused: the writer copies what it
	// keeps (strings point into the head, which stays as it is).
	var e Event
	var slab Attrs
	for n, i := range order {
		if n%writeCheckRows == 0 {
			if err := s.writeCheck(ctx); err != nil {
				w.abort()
				return BlockMeta{}, err
			}
		}
		e, slab = Event{}, slab[:0]
		v.decode(v.rec(int(i)), &e, &slab)
		if err := w.add(&e); err != nil {
			w.abort()
			return BlockMeta{}, err
		}
	}
	meta, err := w.finish()
	if err == nil {
		s.m.blocksWritten.Inc()
	}
	return meta, err
}

// writeCheck is ctx's error, after the test hook if one is set.
func (s *Store) writeCheck(ctx context.Context) error {
	if s.testHookWriteRows != nil {
		s.testHookWriteRows(ctx)
	}
	return ctx.Err()
}

// balancedRowGroups splits n rows into row groups of at most max rows and
// nearly equal size: 263k rows make two groups of 131.5k, not one of 256k
// and a sliver of 7k that every scan pays a row group's overhead for.
func balancedRowGroups(n, max int64) int64 {
	if n <= max {
		return max
	}
	groups := (n + max - 1) / max
	return (n + groups - 1) / groups
}
