package metrics

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/tsdb"
)

// Head compaction waits for the first head chunk file.
//
// The Prometheus TSDB (v0.316.0, tsdb/chunks/head_chunks.go) has a race
// between head truncation and a commit that m-maps an out-of-order head
// chunk. ChunkDiskMapper.Truncate lists the chunk files it knows, deletes
// those below the truncation point, and, when that was all of them, resets
// the sequence of the next file to 0. A commit that cuts a new file (its
// first out-of-order chunk to m-map) between the listing and the reset
// leaves that file on disk while the sequence says there is none: the
// next cut expects file 1, finds 2, and WriteChunk panics ("expected newly
// cut file to have sequence:offset 1:8, got 2:8"), holding the lock of the
// series it was committing. The listing can miss the current file only
// until the first cut after the TSDB is opened (ChunkDiskMapper's current
// file sequence is 0 until then, and files that a restart found are all
// older than the truncation point once their chunks are compacted), so:
// the store opens the TSDB with head compaction off and turns it on once a
// chunk file newer than those it opened with exists. Until then nothing
// needs compacting in practice: the head m-maps every chunk but the
// newest of each series at least each minute, and a chunk ends at each
// block boundary, so a head that spans the 1.5 blocks compaction waits for
// has m-mapped a chunk. A head whose series each kept to one chunk (a
// few sparse series that never crossed a block boundary) gets its
// compaction after compactionHoldLimit anyway.
//
// The race is Prometheus' to fix; the hold ends with it. A commit that
// panics anyway ends the process (fatalCommitPanic).

// compactionHoldLimit bounds the hold: three head blocks.
func (o Options) compactionHoldLimit() time.Duration {
	block := o.MinBlockDuration
	if block <= 0 {
		block = time.Duration(tsdb.DefaultBlockDuration) * time.Millisecond
	}
	return 3 * block
}

// chunkFilesPoll is how often the hold looks for a new chunk file.
const chunkFilesPoll = 2 * time.Second

// lastChunkFile is the sequence number of the newest head chunk file in
// dir/chunks_head (the files are named by their sequence, "000001"); 0 if
// there is none.
func lastChunkFile(dir string) int {
	entries, err := os.ReadDir(filepath.Join(dir, "chunks_head"))
	if err != nil {
		return 0
	}
	last := 0
	for _, e := range entries {
		if seq, err := strconv.Atoi(e.Name()); err == nil && seq > last {
			last = seq
		}
	}
	return last
}

// holdCompactions turns db's compactions off until a head chunk file
// newer than opened exists in dir (or limit passes), then on. It returns
// when it turned them on or stop is closed.
func holdCompactions(db *tsdb.DB, dir string, opened int, limit time.Duration, stop <-chan struct{}, logger *slog.Logger) {
	tick := time.NewTicker(chunkFilesPoll)
	defer tick.Stop()
	deadline := time.After(limit)
	for lastChunkFile(dir) <= opened {
		select {
		case <-stop:
			return
		case <-deadline:
			logger.Info("no head chunk was m-mapped since the TSDB opened; turning head compaction on anyway", "after", limit)
			db.EnableCompactions()
			return
		case <-tick.C:
		}
	}
	db.EnableCompactions()
}

// fatalCommitPanic ends the process after a TSDB commit panicked. The
// panic is the TSDB's own (an invariant of its chunk files broke, as
// WriteChunk's handleChunkWriteError reports), it leaves the lock of the
// series it was committing held, and an HTTP handler's recovery would
// turn it into a process that hangs on the next write to that series.
// Exiting is what Prometheus does: the WAL, written before the panic,
// replays on the next start, and what the client was not told is stored
// it may send again. A variable so tests can see it called.
var fatalCommitPanic = func(logger *slog.Logger, r any) {
	logger.Error("the metrics TSDB panicked in a commit; exiting so its WAL replays on the next start",
		"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	os.Exit(2)
}
