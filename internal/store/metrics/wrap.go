package metrics

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// ErrStorage is found by errors.Is in every failure of the store to write
// (a full disk) and in the refusals while it recovers from one: the data
// was not stored, and the client may retry. Its message names no file.
var ErrStorage = errors.New("storage error")

// storageError is an ErrStorage: a message for clients, without file
// paths, and the error it came from.
type storageError struct {
	msg string
	err error
}

func (e *storageError) Error() string        { return "storage error: " + e.msg }
func (e *storageError) Unwrap() error        { return e.err }
func (e *storageError) Is(target error) bool { return target == ErrStorage }

// paused is the refusal of a write while e waits for the reopen.
func (e *storageError) paused() error {
	return &storageError{msg: e.msg + " (metric writes resume once there is space again)", err: e.err}
}

var (
	errReopening = &storageError{msg: "the metrics store is reopening after a failed write; retry"}
	errClosed    = errors.New("metrics store closed")
)

// storageError words err for clients: the operating system's reason
// without the file it was about, and never the store's directory.
func (s *Store) storageError(err error) *storageError {
	var se *storageError
	if errors.As(err, &se) {
		return se
	}
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	return &storageError{msg: strings.ReplaceAll(msg, s.dir, "metrics"), err: err}
}

// releaseOnce returns a release that may be called more than once.
func (s *Store) releaseOnce() func() {
	var once sync.Once
	return func() { once.Do(s.release) }
}

// commit commits tx, the transaction of an appender that holds a use of
// the store until then. A failed commit failed to write the WAL.
func (s *Store) commit(tx storage.AppenderTransaction, release func()) error {
	defer release()
	defer func() {
		if r := recover(); r != nil {
			fatalCommitPanic(s.logger, r)
			panic(r)
		}
	}()
	if f := s.failure.Load(); f != nil {
		// A write failed while this appender was open: nothing is
		// acknowledged before the reopen.
		_ = tx.Rollback()
		return f.paused()
	}
	if err := tx.Commit(); err != nil {
		if errors.Is(err, tsdb.ErrAppenderClosed) {
			return err
		}
		s.failed(err)
		return s.storageError(err)
	}
	s.wrote.Store(true)
	return nil
}

// rollback rolls tx back. The head writes the series the appender
// created to the WAL, which can fail too.
func (s *Store) rollback(tx storage.AppenderTransaction, release func()) error {
	defer release()
	err := tx.Rollback()
	if err != nil && !errors.Is(err, tsdb.ErrAppenderClosed) {
		s.failed(err)
		return s.storageError(err)
	}
	return err
}

// appender is a TSDB appender holding a use of the store.
type appender struct {
	storage.Appender
	s       *Store
	release func()
}

var _ storage.GetRef = (*appender)(nil)

func (a *appender) Commit() error   { return a.s.commit(a.Appender, a.release) }
func (a *appender) Rollback() error { return a.s.rollback(a.Appender, a.release) }

func (a *appender) GetRef(lset labels.Labels, hash uint64) (storage.SeriesRef, labels.Labels) {
	if g, ok := a.Appender.(storage.GetRef); ok {
		return g.GetRef(lset, hash)
	}
	return 0, labels.EmptyLabels()
}

// appenderV2 is a TSDB AppenderV2 holding a use of the store.
type appenderV2 struct {
	storage.AppenderV2
	s       *Store
	release func()
}

var (
	_ storage.GetRef             = (*appenderV2)(nil)
	_ storage.ExemplarAppenderV2 = (*appenderV2)(nil)
)

func (a *appenderV2) Commit() error   { return a.s.commit(a.AppenderV2, a.release) }
func (a *appenderV2) Rollback() error { return a.s.rollback(a.AppenderV2, a.release) }

func (a *appenderV2) GetRef(lset labels.Labels, hash uint64) (storage.SeriesRef, labels.Labels) {
	if g, ok := a.AppenderV2.(storage.GetRef); ok {
		return g.GetRef(lset, hash)
	}
	return 0, labels.EmptyLabels()
}

func (a *appenderV2) AppendExemplars(ref storage.SeriesRef, ls labels.Labels, es []exemplar.Exemplar) (storage.SeriesRef, error) {
	ea, ok := a.AppenderV2.(storage.ExemplarAppenderV2)
	if !ok {
		return 0, fmt.Errorf("appender %T does not implement storage.ExemplarAppenderV2", a.AppenderV2)
	}
	return ea.AppendExemplars(ref, ls, es)
}

// refused is the appender of a store that refuses writes: each call
// returns err.
type refused struct{ err error }

func (r refused) Append(storage.SeriesRef, labels.Labels, int64, float64) (storage.SeriesRef, error) {
	return 0, r.err
}

func (r refused) AppendExemplar(storage.SeriesRef, labels.Labels, exemplar.Exemplar) (storage.SeriesRef, error) {
	return 0, r.err
}

func (r refused) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, r.err
}

func (r refused) AppendHistogramSTZeroSample(storage.SeriesRef, labels.Labels, int64, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, r.err
}

func (r refused) UpdateMetadata(storage.SeriesRef, labels.Labels, metadata.Metadata) (storage.SeriesRef, error) {
	return 0, r.err
}

func (r refused) AppendSTZeroSample(storage.SeriesRef, labels.Labels, int64, int64) (storage.SeriesRef, error) {
	return 0, r.err
}

func (refused) SetOptions(*storage.AppendOptions) {}
func (r refused) Commit() error                   { return r.err }
func (refused) Rollback() error                   { return nil }

// refusedV2 is refused for AppenderV2.
type refusedV2 struct{ err error }

func (r refusedV2) Append(storage.SeriesRef, labels.Labels, int64, int64, float64, *histogram.Histogram, *histogram.FloatHistogram, storage.AppendV2Options) (storage.SeriesRef, error) {
	return 0, r.err
}

func (r refusedV2) AppendExemplars(storage.SeriesRef, labels.Labels, []exemplar.Exemplar) (storage.SeriesRef, error) {
	return 0, r.err
}

func (r refusedV2) Commit() error { return r.err }
func (refusedV2) Rollback() error { return nil }

var (
	_ storage.Appender           = refused{}
	_ storage.ExemplarAppenderV2 = refusedV2{}
)

// querier is a TSDB querier holding a use of the store until Close.
type querier struct {
	storage.Querier
	release func()
}

func (q *querier) Close() error {
	defer q.release()
	return q.Querier.Close()
}

// chunkQuerier is a TSDB chunk querier holding a use of the store until
// Close.
type chunkQuerier struct {
	storage.ChunkQuerier
	release func()
}

func (q *chunkQuerier) Close() error {
	defer q.release()
	return q.ChunkQuerier.Close()
}

// exemplarQuerier takes a use of the store for each Select: an
// ExemplarQuerier is never closed.
type exemplarQuerier struct {
	s   *Store
	ctx context.Context
}

func (e exemplarQuerier) Select(start, end int64, ms ...[]*labels.Matcher) (res []exemplar.QueryResult, err error) {
	err = e.s.use(func(db *tsdb.DB) error {
		q, err := db.ExemplarQuerier(e.ctx)
		if err == nil {
			res, err = q.Select(start, end, ms...)
		}
		return err
	})
	return res, err
}

// collectors is a Registerer that remembers what it registered, so that
// a TSDB's metrics can be unregistered before it is opened again.
type collectors struct {
	prometheus.Registerer
	mu sync.Mutex
	cs []prometheus.Collector
}

// Register implements prometheus.Registerer.
func (c *collectors) Register(col prometheus.Collector) error {
	if err := c.Registerer.Register(col); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cs = append(c.cs, col)
	return nil
}

// MustRegister implements prometheus.Registerer.
func (c *collectors) MustRegister(cs ...prometheus.Collector) {
	for _, col := range cs {
		if err := c.Register(col); err != nil {
			panic(err)
		}
	}
}

func (c *collectors) unregisterAll() {
	if c.Registerer == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, col := range c.cs {
		c.Unregister(col)
	}
	c.cs = nil
}
