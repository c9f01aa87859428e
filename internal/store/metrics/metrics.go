// Package metrics is the metrics store: the Prometheus TSDB (WAL, head,
// blocks, exemplar ring) opened as a library in <data-dir>/metrics.
//
// Durability: every append's Commit writes its WAL records to the
// operating system before returning, so a sample that was acknowledged
// survives a crash of the Horus process (kill -9). The WAL is fsynced when
// a segment is closed (every 128 MiB) and on shutdown; a crash of the
// whole machine can lose the unsynced tail of the current segment.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
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

// Store is the open metrics TSDB. It is a storage.Storage (queries and
// appends) and serves the TSDB status the Prometheus API shows.
type Store struct {
	*tsdb.DB
	stats *tsdb.DBStats
}

// Open opens (or creates) the TSDB in dir, replaying its WAL. reg may be nil.
func Open(dir string, logger *slog.Logger, reg prometheus.Registerer, o Options) (*Store, error) {
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
	stats := tsdb.NewDBStats()
	db, err := tsdb.Open(dir, logger.With("component", "tsdb"), reg, opts, stats)
	if err != nil {
		return nil, fmt.Errorf("open metrics TSDB in %s: %w", dir, err)
	}
	return &Store{DB: db, stats: stats}, nil
}

// Stats implements the Prometheus API's TSDB status: head cardinality
// statistics, the top limit entries by label name.
func (s *Store) Stats(statsByLabelName string, limit int) (*tsdb.Stats, error) {
	return s.Head().Stats(statsByLabelName, limit), nil
}

// WALReplayStatus implements the Prometheus API's WAL replay progress.
func (s *Store) WALReplayStatus() (tsdb.WALReplayStatus, error) {
	return s.stats.Head.WALReplayStatus.GetWALReplayStatus(), nil
}

// BlockMetas returns the metadata of the persisted blocks.
func (s *Store) BlockMetas() ([]tsdb.BlockMeta, error) {
	return s.DB.BlockMetas(), nil
}

// Delete marks series matching ms in [mint, maxt] as deleted.
func (s *Store) Delete(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error {
	return s.DB.Delete(ctx, mint, maxt, ms...)
}

var _ storage.Storage = (*Store)(nil)
