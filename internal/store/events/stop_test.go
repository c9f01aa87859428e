package events_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
)

// TestCloseAbandonsBlockWrites: a block write that would never end on its
// own (the hook holds it until its context ends) does not hold Close up,
// and nothing acknowledged is lost: the reopened store has every event,
// from the WAL, and no half-written block.
func TestCloseAbandonsBlockWrites(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, events.Options{HeadMaxAge: time.Hour})
	_, logs := generate(3000, 7)
	appendAll(t, s, "t", events.KindLog, logs)
	started := make(chan struct{}, 1)
	events.SetWriteRowsHook(s, func(ctx context.Context) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
	})
	flushed := make(chan error, 1)
	go func() { flushed <- s.Flush(context.Background()) }()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the block write never started")
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close waited for a block write")
	}
	if err := <-flushed; !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush cut short by Close: %v, want context.Canceled", err)
	}
	if files := blockFiles(t, dir); len(files) != 0 {
		t.Fatalf("files left by an abandoned block write: %v", files)
	}
	s2 := open(t, dir, events.Options{})
	got := selectAll(t, s2, events.Query{Tenant: "t", Kind: events.KindLog, Start: t0.Add(-time.Hour).UnixNano(), End: t0.Add(24 * time.Hour).UnixNano()})
	if len(got) != len(logs) {
		t.Fatalf("after the restart %d events, want %d", len(got), len(logs))
	}
}

// TestFlushWritesHeadsAsBlocks: Flush returns once the head is a block,
// and the block holds every event.
func TestFlushWritesHeadsAsBlocks(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, events.Options{HeadMaxAge: time.Hour})
	_, logs := generate(2000, 8)
	appendAll(t, s, "t", events.KindLog, logs)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := s.Status().Tenants
	if len(st) != 1 || st[0].HeadEvents != 0 || st[0].Blocks == 0 || st[0].Rows != int64(len(logs)) {
		t.Fatalf("after Flush: %+v, want an empty head and %d rows in blocks", st, len(logs))
	}
	if len(blockFiles(t, dir)) == 0 {
		t.Fatal("Flush wrote no block files")
	}
	// Flushing an empty head is a no-op, not an error.
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := selectAll(t, s, events.Query{Tenant: "t", Kind: events.KindLog, Start: t0.Add(-time.Hour).UnixNano(), End: t0.Add(24 * time.Hour).UnixNano()})
	if len(got) != len(logs) {
		t.Fatalf("%d events after Flush, want %d", len(got), len(logs))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err == nil {
		t.Fatal("Flush on a closed store: no error")
	}
}

// blockFiles lists every file under dir's blocks directory.
func blockFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(dir, "blocks"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
