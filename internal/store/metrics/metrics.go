// Package metrics is the metrics store: the Prometheus TSDB (WAL, head,
// blocks, exemplar ring) opened as a library in <data-dir>/metrics.
//
// Durability: every append's Commit writes its WAL records to the
// operating system before returning, so a sample that was acknowledged
// survives a crash of the Horus process (kill -9). The WAL is fsynced when
// a segment is closed (every 128 MiB) and on shutdown; a crash of the
// whole machine can lose the unsynced tail of the current segment.
//
// A failed WAL write (a full disk) must not cost what was acknowledged
// after it. Prometheus' WAL (tsdb/wlog) does not undo a write that failed:
// the page it could not write stays in its memory and goes to disk before
// the next record, so a record torn by the failure (its first fragments
// written, its last never) lies in the segment before good records. On
// the next start the TSDB reads the tear as corruption, and its repair
// (wlog.WL.Repair) deletes everything after it. The head also keeps in
// memory the series the failed commit created, whose series records never
// reached the WAL: samples acknowledged for them later would be dropped on
// replay as samples of unknown series. So, after a commit fails to write
// the WAL:
//
//   - writes are refused with ErrStorage ("storage error: no space left on
//     device"), while queries go on;
//   - once a 1 MiB probe file can be written in the store's directory
//     (checked every second; less often when reopening did not help), the
//     TSDB is closed, the torn records in its WAL are blanked (tornwal.go),
//     and it is opened again, which rebuilds the head from the WAL;
//   - while it closes and reopens, queries and writes fail fast with
//     ErrStorage.
//
// Open blanks torn records too, for a crash that came before the reopen.
// Errors sent to clients name no file: a failure to write is ErrStorage
// with the operating system's reason, without the path.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/wlog"
	"github.com/prometheus/prometheus/util/compression"
)

// Options configure the store. The zero value of each field is described
// on it.
type Options struct {
	// Retention is how long blocks are kept; 0 means no time bound.
	Retention time.Duration
	// RetentionSize bounds the bytes of blocks, WAL and head chunks; 0 means
	// no size bound.
	RetentionSize int64
	// OutOfOrderWindow accepts samples this much older than the newest of
	// their series; 0 rejects out-of-order samples.
	OutOfOrderWindow time.Duration
	// MaxExemplars sizes the exemplar ring buffer; 0 disables exemplars.
	MaxExemplars int
	// MinBlockDuration is the head's block range; 0 means the TSDB default
	// (2h). Tests shorten it to see compaction.
	MinBlockDuration time.Duration
}

func (o Options) tsdb() *tsdb.Options {
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = o.Retention.Milliseconds()
	opts.MaxBytes = o.RetentionSize
	opts.OutOfOrderTimeWindow = o.OutOfOrderWindow.Milliseconds()
	opts.EnableExemplarStorage = o.MaxExemplars > 0
	opts.MaxExemplars = int64(o.MaxExemplars)
	opts.WALCompression = compression.Snappy
	opts.EnableMetadataWALRecords = true
	if o.MinBlockDuration > 0 {
		opts.MinBlockDuration = o.MinBlockDuration.Milliseconds()
		opts.MaxBlockDuration = opts.MinBlockDuration
	}
	if opts.OutOfOrderTimeWindow > 0 {
		// As Prometheus does: out-of-order blocks may overlap others.
		opts.EnableOverlappingCompaction = true
	}
	return opts
}

const (
	// probeBytes is how much the store must be able to write before it
	// reopens after a failed write.
	probeBytes = 1 << 20
	// drainTimeout bounds the wait for queries and appends in flight
	// before the TSDB is closed to be reopened (a query's own timeout is
	// 2 minutes by default).
	drainTimeout = 3 * time.Minute
	// closeDrainTimeout is the same wait on shutdown, after which the
	// TSDB is closed under whatever still uses it.
	closeDrainTimeout = 10 * time.Second
)

// Store is the open metrics TSDB. It is a storage.Storage (queries and
// appends), serves the TSDB status the Prometheus API shows, and reopens
// the TSDB after a failed WAL write (see the package documentation).
type Store struct {
	dir    string
	logger *slog.Logger
	reg    prometheus.Registerer
	opts   Options

	// mu is held for reading by each use of db (a querier until it is
	// closed, an appender until it commits or rolls back) and for
	// writing to close and reopen it. Uses take it with TryRLock and
	// fail fast when they cannot, so that a reopen waits only for what
	// is in flight, and a use nested in another cannot deadlock.
	mu       sync.RWMutex
	draining atomic.Bool // a reopen or Close waits for mu: refuse new uses
	db       *tsdb.DB    // nil when the last reopen failed
	stats    *tsdb.DBStats
	col      *collectors // the metrics db registered
	openErr  error       // why db is nil
	closed   bool
	// holding is closed when db closes: it ends the hold on db's
	// compactions (firstcut.go).
	holding chan struct{}

	failure atomic.Pointer[storageError] // the failed WAL write that refuses writes
	wrote   atomic.Bool                  // a commit went through since the last reopen
	kick    chan struct{}
	quit    chan struct{}
	done    chan struct{} // closed when run ends
	running atomic.Bool   // run was started
	stop    sync.Once
}

// Open opens (or creates) the TSDB in dir, replaying its WAL. reg may be nil.
func Open(dir string, logger *slog.Logger, reg prometheus.Registerer, o Options) (*Store, error) {
	s, err := openStore(dir, logger, reg, o)
	if err != nil {
		return nil, err
	}
	s.running.Store(true)
	go s.run()
	return s, nil
}

// openStore is Open without the loop that reopens after a failed write
// (tests call reopen themselves).
func openStore(dir string, logger *slog.Logger, reg prometheus.Registerer, o Options) (*Store, error) {
	s := &Store{dir: dir, logger: logger, reg: reg, opts: o,
		kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// open blanks torn WAL records and opens the TSDB; mu is held or not yet
// shared.
func (s *Store) open() error {
	for _, d := range []string{"wal", wlog.WblDirName} {
		if err := unTearWAL(filepath.Join(s.dir, d), s.logger.With("component", "tsdb")); err != nil {
			return fmt.Errorf("metrics TSDB in %s: %s: %w", s.dir, d, err)
		}
	}
	stats := tsdb.NewDBStats()
	col := &collectors{Registerer: s.reg}
	var reg prometheus.Registerer
	if s.reg != nil {
		reg = col
	}
	opened := lastChunkFile(s.dir)
	db, err := tsdb.Open(s.dir, s.logger.With("component", "tsdb"), reg, s.opts.tsdb(), stats)
	if err != nil {
		col.unregisterAll()
		return fmt.Errorf("open metrics TSDB in %s: %w", s.dir, err)
	}
	// Nothing appends yet: the store is not handed out before open returns.
	db.DisableCompactions()
	s.holding = make(chan struct{})
	go holdCompactions(db, s.dir, opened, s.opts.compactionHoldLimit(), s.holding, s.logger)
	s.db, s.stats, s.col, s.openErr = db, stats, col, nil
	return nil
}

// run reopens the TSDB after a failed WAL write, once there is space.
func (s *Store) run() {
	defer close(s.done)
	wait := time.Second
	for {
		select {
		case <-s.quit:
			return
		case <-s.kick:
		}
		if s.wrote.Load() {
			wait = time.Second
		} else {
			// The last reopen did not get one commit through: the space
			// that the probe found went elsewhere. Wait longer.
			wait = min(2*wait, time.Minute)
		}
		for {
			select {
			case <-s.quit:
				return
			case <-time.After(wait):
			}
			if err := probeSpace(s.dir); err != nil {
				continue
			}
			if err := s.reopen(); err != nil {
				s.logger.Error("reopening the metrics TSDB after a failed write failed; trying again", "err", err)
				continue
			}
			break
		}
	}
}

// probeSpace writes and removes probeBytes in dir.
func probeSpace(dir string) error {
	name := filepath.Join(dir, ".space-probe")
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	_, err = f.Write(make([]byte, probeBytes))
	err = errors.Join(err, f.Close())
	return errors.Join(err, os.Remove(name))
}

// reopen closes the TSDB and opens it again.
func (s *Store) reopen() error {
	if !s.drain(drainTimeout) {
		return errors.New("queries or appends in flight did not finish")
	}
	defer s.undrain()
	if s.closed {
		return nil
	}
	if f := s.failure.Load(); f != nil {
		s.logger.Warn("reopening the metrics TSDB after a failed WAL write", "err", f.err)
	}
	if s.db != nil {
		s.endHold()
		if err := s.db.Close(); err != nil {
			s.logger.Warn("closing the metrics TSDB to reopen it", "err", err)
		}
		s.db = nil
		s.col.unregisterAll()
	}
	if err := s.open(); err != nil {
		s.openErr = err
		return err
	}
	s.wrote.Store(false)
	s.failure.Store(nil)
	s.logger.Info("metrics TSDB reopened; writes resume")
	return nil
}

// drain takes mu for writing once the uses in flight end, refusing new
// ones meanwhile. It reports false, and takes nothing, if they have not
// ended within timeout.
func (s *Store) drain(timeout time.Duration) bool {
	s.draining.Store(true)
	deadline := time.Now().Add(timeout)
	for !s.mu.TryLock() {
		if time.Now().After(deadline) {
			s.draining.Store(false)
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func (s *Store) undrain() {
	s.mu.Unlock()
	s.draining.Store(false)
}

// acquire returns the TSDB for one use, which release ends.
func (s *Store) acquire() (*tsdb.DB, error) {
	if s.draining.Load() || !s.mu.TryRLock() {
		return nil, errReopening
	}
	if s.db == nil {
		err := s.openErr
		s.mu.RUnlock()
		if err == nil {
			return nil, errClosed
		}
		return nil, s.storageError(err)
	}
	return s.db, nil
}

func (s *Store) release() { s.mu.RUnlock() }

// endHold ends the hold on the compactions of the db that is closing.
func (s *Store) endHold() {
	if s.holding != nil {
		close(s.holding)
		s.holding = nil
	}
}

// failed records a failed WAL write: writes are refused until the TSDB
// is reopened.
func (s *Store) failed(err error) {
	if s.failure.CompareAndSwap(nil, s.storageError(err)) {
		s.logger.Error("a metrics WAL write failed; writes are refused until there is space and the TSDB is reopened", "err", err)
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// Close closes the TSDB. Queries and appends still in flight after a few
// seconds find it closed.
func (s *Store) Close() error {
	s.stop.Do(func() { close(s.quit) })
	if s.running.Load() {
		<-s.done
	}
	if !s.drain(closeDrainTimeout) {
		// Unlocked: s.db is read, not written, and new uses are refused.
		s.logger.Warn("closing the metrics TSDB with queries or appends in flight")
		s.draining.Store(true)
		if s.db == nil {
			return nil
		}
		s.endHold()
		return s.db.Close()
	}
	defer s.undrain()
	s.closed = true
	if s.db == nil {
		return nil
	}
	s.endHold()
	err := s.db.Close()
	s.db, s.openErr = nil, nil
	return err
}

// Querier implements storage.Queryable.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	db, err := s.acquire()
	if err != nil {
		return nil, err
	}
	q, err := db.Querier(mint, maxt)
	if err != nil {
		s.release()
		return nil, err
	}
	return &querier{Querier: q, release: s.releaseOnce()}, nil
}

// ChunkQuerier implements storage.ChunkQueryable.
func (s *Store) ChunkQuerier(mint, maxt int64) (storage.ChunkQuerier, error) {
	db, err := s.acquire()
	if err != nil {
		return nil, err
	}
	q, err := db.ChunkQuerier(mint, maxt)
	if err != nil {
		s.release()
		return nil, err
	}
	return &chunkQuerier{ChunkQuerier: q, release: s.releaseOnce()}, nil
}

// ExemplarQuerier implements storage.ExemplarQueryable.
func (s *Store) ExemplarQuerier(ctx context.Context) (storage.ExemplarQuerier, error) {
	return exemplarQuerier{s: s, ctx: ctx}, nil
}

// Appender implements storage.Appendable.
func (s *Store) Appender(ctx context.Context) storage.Appender {
	db, err := s.acquireForWrite()
	if err != nil {
		return refused{err}
	}
	return &appender{Appender: db.Appender(ctx), s: s, release: s.releaseOnce()}
}

// AppenderV2 implements storage.AppendableV2.
func (s *Store) AppenderV2(ctx context.Context) storage.AppenderV2 {
	db, err := s.acquireForWrite()
	if err != nil {
		return refusedV2{err}
	}
	return &appenderV2{AppenderV2: db.AppenderV2(ctx), s: s, release: s.releaseOnce()}
}

// acquireForWrite is acquire, refused while a failed write waits for the
// reopen.
func (s *Store) acquireForWrite() (*tsdb.DB, error) {
	if f := s.failure.Load(); f != nil {
		return nil, f.paused()
	}
	return s.acquire()
}

// use runs f with the TSDB, as one use of it.
func (s *Store) use(f func(*tsdb.DB) error) error {
	db, err := s.acquire()
	if err != nil {
		return err
	}
	defer s.release()
	return f(db)
}

// StartTime implements storage.Storage.
func (s *Store) StartTime() (t int64, err error) {
	err = s.use(func(db *tsdb.DB) error {
		t, err = db.StartTime()
		return err
	})
	return t, err
}

// Stats implements the Prometheus API's TSDB status: head cardinality
// statistics, the top limit entries by label name.
func (s *Store) Stats(statsByLabelName string, limit int) (st *tsdb.Stats, err error) {
	err = s.use(func(db *tsdb.DB) error {
		st = db.Head().Stats(statsByLabelName, limit)
		return nil
	})
	return st, err
}

// WALReplayStatus implements the Prometheus API's WAL replay progress.
func (s *Store) WALReplayStatus() (tsdb.WALReplayStatus, error) {
	if _, err := s.acquire(); err != nil {
		return tsdb.WALReplayStatus{}, err
	}
	defer s.release()
	return s.stats.Head.WALReplayStatus.GetWALReplayStatus(), nil
}

// BlockMetas returns the metadata of the persisted blocks.
func (s *Store) BlockMetas() (metas []tsdb.BlockMeta, err error) {
	err = s.use(func(db *tsdb.DB) error {
		metas = db.BlockMetas()
		return nil
	})
	return metas, err
}

// Delete marks series matching ms in [mint, maxt] as deleted.
func (s *Store) Delete(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error {
	return s.use(func(db *tsdb.DB) error { return db.Delete(ctx, mint, maxt, ms...) })
}

// CleanTombstones rewrites the blocks that have deletions without the
// deleted data.
func (s *Store) CleanTombstones() error {
	return s.use(func(db *tsdb.DB) error { return db.CleanTombstones() })
}

// Snapshot writes the blocks (and the head, if withHead) to dir.
func (s *Store) Snapshot(dir string, withHead bool) error {
	return s.use(func(db *tsdb.DB) error { return db.Snapshot(dir, withHead) })
}

var _ storage.Storage = (*Store)(nil)
