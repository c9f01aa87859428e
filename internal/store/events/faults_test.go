package events_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/store/events/crashtest"
	"github.com/horus-obs/horus/internal/store/events/wal"
)

const childEnv = "HORUS_EVENTS_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		child(dir)
		return
	}
	os.Exit(m.Run())
}

// child appends batches of logs numbered from HORUS_EVENTS_CHILD_START,
// printing each batch's first number once Append returns, while a
// goroutine cuts, writes and compacts blocks as fast as it can, so kills
// land in block writes and WAL truncation too.
func child(dir string) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := events.Open(dir, logger, events.Options{WAL: wal.Options{Sync: wal.SyncInterval, SegmentSize: 128 << 10}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		for {
			s.Maintain(context.Background(), true)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	start, _ := strconv.Atoi(os.Getenv("HORUS_EVENTS_CHILD_START"))
	_, logs := generate(200, uint64(start))
	ack := crashtest.NewAcker()
	var wg sync.WaitGroup
	const batch = 20
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := start + g*batch; ; i += 4 * batch {
				evs := make([]events.Event, batch)
				for j := range evs {
					evs[j] = logs[(i+j)%len(logs)]
					evs[j].Body = "id=" + strconv.Itoa(i+j)
				}
				if err := s.Append(context.Background(), "t", events.KindLog, evs); err != nil {
					return
				}
				ack.Ack(i)
			}
		}()
	}
	wg.Wait()
}

// TestStoreKill9 kills a child process appending to the store (and
// writing blocks, compacting, truncating its WAL) at random moments, many
// times. Every acknowledged event must be there after each restart, once.
func TestStoreKill9(t *testing.T) {
	rounds := crashtest.Rounds(6)
	dir := t.TempDir()
	acked := map[int]bool{}
	for round := 0; round < rounds; round++ {
		env := []string{childEnv + "=" + dir, "HORUS_EVENTS_CHILD_START=" + strconv.Itoa(round*100_000_000)}
		crashtest.Kill(t, env, 100*time.Millisecond, 700*time.Millisecond, 20, acked) // a line acknowledges a batch of 20
	}
	s := open(t, dir, events.Options{})
	evs := selectAll(t, s, events.Query{Tenant: "t", Kind: events.KindLog, Fields: []string{"body"}})
	seen := map[int]int{}
	for _, e := range evs {
		n, err := strconv.Atoi(strings.TrimPrefix(e.Body, "id="))
		if err != nil {
			t.Fatalf("body %q", e.Body)
		}
		seen[n]++
	}
	lost, dup := 0, 0
	for id := range acked {
		if seen[id] == 0 {
			lost++
		}
	}
	for _, c := range seen {
		if c > 1 {
			dup++
		}
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	if lost > 0 || dup > 0 {
		t.Fatalf("after %d kills: %d of %d acknowledged events lost, %d stored twice", rounds, lost, len(acked), dup)
	}
	st := s.Status()
	t.Logf("%d rounds, %d acknowledged events, all there once; %+v", rounds, len(acked), st.Tenants)
}

// TestCorruptBlock flips bytes in a block's files: the damage is detected
// by checksums, reported, and the rest of the data is still served.
func TestCorruptBlock(t *testing.T) {
	spans, logs := generate(3000, 9)
	for i := 1500; i < len(logs); i++ {
		logs[i].Time += int64(3 * time.Hour)
	}
	build := func(t *testing.T) (string, []string) {
		dir := t.TempDir()
		s := open(t, dir, events.Options{RowGroupRows: 500})
		appendAll(t, s, "a", events.KindLog, logs[:1500])
		s.Maintain(context.Background(), true)
		appendAll(t, s, "a", events.KindLog, logs[1500:]) // three hours later: not compacted with the first
		appendAll(t, s, "a", events.KindSpan, spans)
		s.Maintain(context.Background(), true)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		blocks, _ := filepath.Glob(filepath.Join(dir, "blocks", "a", "logs", "*"))
		if len(blocks) != 2 {
			t.Fatalf("want 2 log blocks, have %v", blocks)
		}
		return dir, blocks
	}
	flip := func(t *testing.T, path string, at func(size int64) int64) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		i := at(int64(len(b)))
		b[i] ^= 0x5a
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, file string
		at         func(int64) int64
		// what survives
		wantBlockCorrupt bool
	}{
		{"page", "data.parquet", func(n int64) int64 { return n / 3 }, false},
		{"footer", "data.parquet", func(n int64) int64 { return n - 100 }, true},
		{"index", "index.bin", func(n int64) int64 { return 20 }, false},
		{"meta", "meta.json", func(n int64) int64 { return 0 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, blocks := build(t)
			flip(t, filepath.Join(blocks[0], tc.file), tc.at)
			s := open(t, dir, events.Options{})
			st := s.Status()
			if tc.wantBlockCorrupt != (len(st.Corrupt) == 1) {
				t.Fatalf("corrupt blocks reported: %+v", st.Corrupt)
			}
			evs, sst, err := s.Select(context.Background(), events.Query{Tenant: "a", Kind: events.KindLog})
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "page" && sst.Corrupt == 0 && len(evs) == len(logs) {
				// A flipped byte in a zstd frame may land in padding; the
				// data read back must then be exact.
				if !equalEvents(evs, logs) {
					t.Fatal("a flipped byte changed data without a checksum error")
				}
			}
			if len(evs) < 1400 {
				t.Fatalf("only %d of %d events readable after damage to one block", len(evs), len(logs))
			}
			// Spans are untouched.
			if got := selectAll(t, s, events.Query{Tenant: "a", Kind: events.KindSpan}); len(got) != len(spans) {
				t.Fatalf("spans: %d of %d", len(got), len(spans))
			}
			t.Logf("%s: %d of %d logs readable, %d row groups reported corrupt, %d blocks unreadable", tc.name, len(evs), len(logs), sst.Corrupt, len(st.Corrupt))
		})
	}
}

func equalEvents(a, b []events.Event) bool {
	return firstDiff(a, b) == fmt.Sprintf("lengths %d, %d", len(a), len(b))
}

// TestStoreDiskFull runs the store on a small tmpfs: appends fail with an
// ErrStorage error once the disk is full, reads keep working, a block that
// cannot be written leaves its head in memory, and once space is back
// ingest and block writing resume with nothing acknowledged lost.
func TestStoreDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	// Cleanups run last-registered first: the stores close before this.
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 768<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	storeDir := filepath.Join(dir, "store")
	s := open(t, storeDir, events.Options{WAL: wal.Options{Sync: wal.SyncAlways, SegmentSize: 64 << 10}})
	_, logs := generate(20000, 11)
	var acked []events.Event
	var fullErr error
	for i := 0; i+50 <= len(logs); i += 50 {
		if err := s.Append(context.Background(), "a", events.KindLog, logs[i:i+50]); err != nil {
			fullErr = err
			break
		}
		acked = append(acked, logs[i:i+50]...)
	}
	if !errors.Is(fullErr, events.ErrStorage) || !strings.Contains(fullErr.Error(), "no space left") {
		t.Fatalf("filling the disk: got %v after %d events, want ErrStorage with no space left", fullErr, len(acked))
	}
	// Reads work on the full disk; a block cannot be written, so the head
	// stays and is still served.
	s.Maintain(context.Background(), true)
	if got := selectAll(t, s, events.Query{Tenant: "a", Kind: events.KindLog}); len(got) != len(acked) {
		t.Fatalf("on a full disk: %d of %d events readable", len(got), len(acked))
	}
	// Space comes back.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), "a", events.KindLog, logs[len(acked):len(acked)+50]); err != nil {
		t.Fatalf("append after freeing space: %v", err)
	}
	acked = append(acked, logs[len(acked):len(acked)+50]...)
	s.Maintain(context.Background(), true)
	if st := s.Status(); len(st.Tenants) != 1 || st.Tenants[0].Blocks == 0 || st.Tenants[0].HeadEvents != 0 {
		t.Fatalf("after freeing space the head was not written: %+v", st.Tenants)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(storeDir, "blocks", "*", "*", "*.tmp")); len(tmp) != 0 {
		t.Fatalf("half-written block left behind: %v", tmp)
	}
	s = open(t, storeDir, events.Options{})
	if got := selectAll(t, s, events.Query{Tenant: "a", Kind: events.KindLog}); !equalEvents(got, acked) {
		t.Fatalf("after restart: %s", firstDiff(got, acked))
	}
}
