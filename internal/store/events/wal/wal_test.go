package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/store/events/crashtest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t testing.TB, dir string, opts Options) *WAL {
	t.Helper()
	w, err := Open(dir, discard, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func replayAll(t testing.TB, dir string) []string {
	t.Helper()
	w := open(t, dir, Options{})
	defer func() { _ = w.Close() }()
	var got []string
	if err := w.Replay(0, func(_ int, rec []byte) error {
		got = append(got, string(rec))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRoundTripAcrossSegments(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(fmt.Sprint(policy), func(t *testing.T) {
			dir := t.TempDir()
			w := open(t, dir, Options{Sync: policy, SegmentSize: 1024})
			var want []string
			for i := 0; i < 200; i++ {
				rec := fmt.Sprintf("record-%03d-%s", i, strings.Repeat("x", i%50))
				want = append(want, rec)
				if err := w.Append(context.Background(), []byte(rec)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			segs, _ := listSegments(dir)
			if len(segs) < 5 {
				t.Errorf("%d segments; 1 KiB segments should have rotated", len(segs))
			}
			if got := replayAll(t, dir); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("replayed %d records, want %d in order", len(got), len(want))
			}
		})
	}
}

func TestRejectsEmptyAndOversizedRecords(t *testing.T) {
	w := open(t, t.TempDir(), Options{MaxRecordSize: 10})
	defer func() { _ = w.Close() }()
	for _, rec := range [][]byte{nil, {}, make([]byte, 11)} {
		if err := w.Append(context.Background(), rec); !errors.Is(err, ErrRecordTooLarge) {
			t.Errorf("record of %d bytes: %v", len(rec), err)
		}
	}
}

// TestTornTail cuts the last segment at every byte and flips bytes in its
// last record: Open must keep exactly the whole, valid records before the
// damage, and appending must work after.
func TestTornTail(t *testing.T) {
	base := t.TempDir()
	w := open(t, base, Options{Sync: SyncAlways})
	recs := []string{"alpha", "bravo-bravo", "charlie-charlie-charlie"}
	for _, r := range recs {
		if err := w.Append(context.Background(), []byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.Close()
	segs, _ := listSegments(base)
	data, err := os.ReadFile(segmentPath(base, segs[0]))
	if err != nil {
		t.Fatal(err)
	}
	// Record boundaries.
	ends := []int{len(magic)}
	for _, r := range recs {
		ends = append(ends, ends[len(ends)-1]+headerSize+len(r))
	}
	wholeBefore := func(n int) int {
		k := 0
		for i, e := range ends[1:] {
			if e <= n {
				k = i + 1
			}
		}
		return k
	}
	check := func(name string, damaged []byte, want int) {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(segmentPath(dir, 1), damaged, 0o644); err != nil {
			t.Fatal(err)
		}
		got := replayAll(t, dir)
		if len(got) != want || (want > 0 && got[want-1] != recs[want-1]) {
			t.Fatalf("%s: replayed %v, want the first %d records", name, got, want)
		}
		w := open(t, dir, Options{Sync: SyncAlways})
		if err := w.Append(context.Background(), []byte("after")); err != nil {
			t.Fatal(err)
		}
		_ = w.Close()
		if got := replayAll(t, dir); len(got) != want+1 || got[want] != "after" {
			t.Fatalf("%s: after repair and append: %v", name, got)
		}
	}
	for cut := 0; cut <= len(data); cut++ {
		check(fmt.Sprintf("cut at %d", cut), data[:cut], wholeBefore(cut))
	}
	for i := ends[2]; i < len(data); i++ {
		d := bytes.Clone(data)
		d[i] ^= 0x55
		check(fmt.Sprintf("flip byte %d", i), d, 2)
	}
}

func TestConcurrentGroupCommit(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{Sync: SyncAlways, SegmentSize: 64 << 10})
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				a := []byte(fmt.Sprintf("w%d-%d-a", g, i))
				b := []byte(fmt.Sprintf("w%d-%d-b", g, i))
				if err := w.Append(context.Background(), a, b); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	_ = w.Close()
	got := replayAll(t, dir)
	if len(got) != writers*each*2 {
		t.Fatalf("%d records, want %d", len(got), writers*each*2)
	}
	// Records of one Append stay together, and each writer's are in order.
	next := map[string]int{}
	for i := 0; i < len(got); i += 2 {
		a, b := got[i], got[i+1]
		if strings.TrimSuffix(a, "-a") != strings.TrimSuffix(b, "-b") {
			t.Fatalf("records of one append split: %s, %s", a, b)
		}
		parts := strings.Split(a, "-")
		n, _ := strconv.Atoi(parts[1])
		if n != next[parts[0]] {
			t.Fatalf("writer %s: record %d after %d", parts[0], n, next[parts[0]]-1)
		}
		next[parts[0]]++
	}
}

func TestCutAndRemoveBefore(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, Options{})
	ctx := context.Background()
	_ = w.Append(ctx, []byte("old"))
	n, err := w.Cut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Append(ctx, []byte("new"))
	if err := w.RemoveBefore(n); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if got := replayAll(t, dir); len(got) != 1 || got[0] != "new" {
		t.Fatalf("after RemoveBefore: %v", got)
	}
}

func TestAppendAfterClose(t *testing.T) {
	w := open(t, t.TempDir(), Options{})
	_ = w.Close()
	if err := w.Append(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// FuzzScan reads arbitrary segment bytes: no panic, and what is accepted
// is a prefix of whole records ending where scan says.
func FuzzScan(f *testing.F) {
	var seg bytes.Buffer
	seg.WriteString(magic)
	for _, r := range []string{"a", "hello", "world!"} {
		var hdr [8]byte
		hdr[0] = byte(len(r))
		c := crcOf([]byte(r))
		hdr[4], hdr[5], hdr[6], hdr[7] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
		seg.Write(hdr[:])
		seg.WriteString(r)
	}
	f.Add(seg.Bytes())
	f.Add([]byte(magic))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		total := int64(0)
		off, _ := scan(bytes.NewReader(b), 1<<16, func(rec []byte) error {
			total += headerSize + int64(len(rec))
			return nil
		})
		if off > int64(len(b)) || (off > 0 && off != int64(len(magic))+total) {
			t.Fatalf("offset %d for %d bytes with %d bytes of records", off, len(b), total)
		}
	})
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// The kill test runs this binary as a child that appends and prints the id
// of every acknowledged record; the parent kills it at a random moment
// and checks that every acknowledged id is replayed.
const childEnv = "HORUS_WAL_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		childAppend(dir)
		return
	}
	os.Exit(m.Run())
}

func childAppend(dir string) {
	w, err := Open(dir, discard, Options{Sync: SyncInterval, SegmentSize: 256 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	start, _ := strconv.Atoi(os.Getenv("HORUS_WAL_CHILD_START"))
	ack := crashtest.NewAcker()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := start + g; ; i += 4 {
				rec := []byte(fmt.Sprintf("id=%d %s", i, strings.Repeat("p", i%300)))
				if err := w.Append(context.Background(), rec); err != nil {
					return
				}
				ack.Ack(i)
			}
		}()
	}
	wg.Wait()
}

func TestKill9(t *testing.T) {
	rounds := crashtest.Rounds(5)
	dir := t.TempDir()
	acked := map[int]bool{}
	for round := 0; round < rounds; round++ {
		env := []string{childEnv + "=" + dir, "HORUS_WAL_CHILD_START=" + strconv.Itoa(round*10_000_000)}
		crashtest.Kill(t, env, 50*time.Millisecond, 400*time.Millisecond, 1, acked)
	}
	seen := map[int]bool{}
	for _, rec := range replayAll(t, dir) {
		var id int
		if _, err := fmt.Sscanf(rec, "id=%d", &id); err != nil {
			t.Fatalf("record %.40q: %v", rec, err)
		}
		seen[id] = true
	}
	lost := 0
	for id := range acked {
		if !seen[id] {
			lost++
		}
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged records lost after kill -9", lost, len(acked))
	}
	t.Logf("%d rounds, %d acknowledged records, all replayed", rounds, len(acked))
}

func BenchmarkAppend(b *testing.B) {
	rec := bytes.Repeat([]byte("l"), 300) // a typical log line
	for _, policy := range []SyncPolicy{SyncInterval, SyncAlways} {
		b.Run(fmt.Sprint(policy), func(b *testing.B) {
			w := open(b, b.TempDir(), Options{Sync: policy})
			defer func() { _ = w.Close() }()
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := w.Append(context.Background(), rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// TestDiskFull runs the WAL on a 512 KiB tmpfs: appends fail with the
// disk's error once it is full, nothing acknowledged is lost or followed by
// garbage, and appending works again once space is freed. It needs root to
// mount the tmpfs, and skips where mounting is not allowed.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	// Small segments: the disk fills while a new segment is created.
	// Large ones: it fills in the middle of a record's write.
	for _, seg := range []int64{64 << 10, 4 << 20} {
		t.Run(fmt.Sprint(seg), func(t *testing.T) { diskFull(t, seg) })
	}
}

func diskFull(t *testing.T, segmentSize int64) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	defer func() { _ = exec.Command("umount", dir).Run() }()
	// Reserve space to free later.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 128<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	walDir := filepath.Join(dir, "wal")
	w := open(t, walDir, Options{Sync: SyncAlways, SegmentSize: segmentSize})
	var acked []string
	var fullErr error
	for i := 0; i < 10000; i++ {
		rec := fmt.Sprintf("rec-%05d-%s", i, strings.Repeat("z", 1000))
		if err := w.Append(context.Background(), []byte(rec)); err != nil {
			fullErr = err
			break
		}
		acked = append(acked, rec)
	}
	if fullErr == nil || !strings.Contains(fullErr.Error(), "no space left") {
		t.Fatalf("filling the disk: got %v after %d records, want a no-space error", fullErr, len(acked))
	}
	// Still full: more appends fail cleanly.
	if err := w.Append(context.Background(), []byte(strings.Repeat("y", 2000))); err == nil {
		t.Fatal("append succeeded on a full disk")
	}
	// Space comes back: appends work again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		rec := fmt.Sprintf("after-%02d", i)
		if err := w.Append(context.Background(), []byte(rec)); err != nil {
			t.Fatalf("append after freeing space: %v", err)
		}
		acked = append(acked, rec)
	}
	_ = w.Close()
	w2 := open(t, walDir, Options{})
	var got []string
	if err := w2.Replay(0, func(_ int, rec []byte) error {
		got = append(got, string(rec))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_ = w2.Close()
	if strings.Join(got, ",") != strings.Join(acked, ",") {
		t.Fatalf("replayed %d records, want the %d acknowledged ones in order", len(got), len(acked))
	}
	t.Logf("disk full after %d records (%v); %d records replayed", len(acked)-20, fullErr, len(got))
}
