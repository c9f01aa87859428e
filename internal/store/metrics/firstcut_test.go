package metrics

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// TestCompactionHeldUntilFirstChunkFile: a head that needs compacting is
// not compacted while no head chunk file was cut since the TSDB opened
// (the compaction is skipped, no block is written); once one is, the next
// commit's compaction writes the block.
func TestCompactionHeldUntilFirstChunkFile(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	s, err := Open(dir, slog.New(slog.DiscardHandler), reg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()

	// Four hours of one sample a minute: more than the 1.5 blocks of 2h a
	// head compaction waits for. The commit asks for a compaction.
	start := time.Now().Add(-5 * time.Hour).UnixMilli()
	app := s.AppenderV2(context.Background())
	ls := labels.FromStrings("__name__", "up")
	for m := range 4 * 60 {
		if _, err := app.Append(0, ls, 0, start+int64(m)*time.Minute.Milliseconds(), 1, nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	skipped := func() float64 {
		n, err := testutil.GatherAndCount(reg, "prometheus_tsdb_compactions_skipped_total")
		if err != nil || n != 1 {
			t.Fatalf("compactions skipped metric: %d series, %v", n, err)
		}
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "prometheus_tsdb_compactions_skipped_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return 0
	}
	deadline := time.Now().Add(20 * time.Second)
	for skipped() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the commit's compaction was not skipped within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if metas, err := s.BlockMetas(); err != nil || len(metas) != 0 {
		t.Fatalf("blocks before the first chunk file: %v, %v; want none", metas, err)
	}

	// The head m-maps its full chunks (each minute; here at once): the
	// first chunk file. Compaction comes on; the next commit compacts.
	if err := s.use(func(db *tsdb.DB) error { db.ForceHeadMMap(); return nil }); err != nil {
		t.Fatal(err)
	}
	if lastChunkFile(dir) != 1 {
		t.Fatalf("last chunk file %d after the m-map, want 1", lastChunkFile(dir))
	}
	deadline = time.Now().Add(30 * time.Second)
	for next := start + 4*time.Hour.Milliseconds(); ; next += time.Minute.Milliseconds() {
		if err := appendOne(s, "up", next); err != nil {
			t.Fatal(err)
		}
		if metas, _ := s.BlockMetas(); len(metas) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no block written within 30s of the first chunk file")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCommitPanicIsFatal: a commit that panics ends the process (here,
// the hook that would) instead of leaving a held series lock behind an
// HTTP handler's recovery.
func TestCommitPanicIsFatal(t *testing.T) {
	var got any
	old := fatalCommitPanic
	fatalCommitPanic = func(_ *slog.Logger, r any) { got = r }
	defer func() { fatalCommitPanic = old }()

	s := &Store{logger: slog.New(slog.DiscardHandler)}
	released := false
	func() {
		defer func() { _ = recover() }()
		_ = s.commit(panickingTx{}, func() { released = true })
	}()
	if err, ok := got.(error); !ok || !errors.Is(err, errTestPanic) {
		t.Fatalf("fatal hook got %v, want the commit's panic", got)
	}
	if !released {
		t.Error("the store's use was not released")
	}
}

var errTestPanic = errors.New("expected newly cut file to have sequence:offset 1:8, got 2:8")

type panickingTx struct{}

func (panickingTx) Commit() error   { panic(errTestPanic) }
func (panickingTx) Rollback() error { return nil }
