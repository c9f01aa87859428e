// Package wal is the write-ahead log of the event store (logs and spans):
// records appended in segment files, with group commit and a chosen fsync
// policy, read back in order after a crash.
//
// Format (docs/format/events-wal.md): a directory of segment files named
// by a zero-padded sequence number (00000001.wal ...). A segment starts
// with the 8-byte magic "HORUSWL1", then holds records:
//
//	length  uint32, little endian, 1..MaxRecordSize
//	crc     uint32, little endian, CRC-32C (Castagnoli) of the payload
//	payload length bytes
//
// What a crash can lose, by sync policy:
//   - SyncAlways: nothing acknowledged. Append returns after the records
//     are fsynced; concurrent appenders share one fsync (group commit).
//   - SyncInterval (default, 1 s): a process crash (kill -9) loses nothing
//     acknowledged, since Append returns after the write to the operating
//     system; a machine crash or power loss loses at most the last
//     interval.
//   - SyncNever: as SyncInterval for a process crash; a machine crash
//     loses what the operating system had not written back, fsync happening
//     only when a segment is closed.
//
// On Open, the tail of the last segment is checked: a record cut short or
// failing its checksum (a write torn by a crash) and everything after it
// is truncated away, and the loss is logged.
package wal

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/horus-obs/horus/internal/fsutil"
)

// SyncPolicy says when appended records are fsynced.
type SyncPolicy int

// The sync policies; see the package documentation for what each can lose.
const (
	SyncInterval SyncPolicy = iota
	SyncAlways
	SyncNever
)

// String returns the policy's configuration name.
func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncNever:
		return "never"
	}
	return "interval"
}

// ParseSyncPolicy reads "always", "interval" or "never".
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch s {
	case "always":
		return SyncAlways, nil
	case "interval", "":
		return SyncInterval, nil
	case "never":
		return SyncNever, nil
	}
	return 0, fmt.Errorf("unknown fsync policy %q: use always, interval or never", s)
}

// Options configure a WAL. Zero fields take the defaults.
type Options struct {
	// Sync is the fsync policy (default SyncInterval).
	Sync SyncPolicy
	// SyncInterval is the fsync period under SyncInterval (default 1 s).
	SyncInterval time.Duration
	// SegmentSize is the size after which a new segment is started
	// (default 64 MiB). A record is never split across segments.
	SegmentSize int64
	// MaxRecordSize bounds one record's payload (default 64 MiB).
	MaxRecordSize int
}

func (o *Options) defaults() {
	if o.SyncInterval <= 0 {
		o.SyncInterval = time.Second
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = 64 << 20
	}
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = 64 << 20
	}
}

const (
	magic      = "HORUSWL1"
	headerSize = 8 // length + crc
	suffix     = ".wal"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors.
var (
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("wal: closed")
	// ErrRecordTooLarge is returned for a record over MaxRecordSize, or
	// an empty one.
	ErrRecordTooLarge = errors.New("wal: record empty or larger than MaxRecordSize")
)

// WAL is an open write-ahead log. Append is safe for concurrent use.
type WAL struct {
	dir    string
	opts   Options
	logger *slog.Logger

	reqs chan *request
	quit chan struct{}
	done chan struct{}

	// Owned by the writer goroutine.
	seg     *os.File
	segNum  int // also read by Replay, under mu
	segSize int64
	dirty   bool // written since the last fsync
	// broken says the current segment ends with a partial batch that
	// could not be truncated away: nothing more may follow it.
	broken bool
	buf    []byte

	mu     sync.Mutex // guards closed and segments seen by readers
	closed bool
}

type request struct {
	records [][]byte
	cut     bool // start a new segment instead of writing
	segNum  int  // answer to cut: the number of the new segment
	err     chan error
}

// Open opens the WAL in dir, creating it if needed, and repairs a torn
// tail of its last segment. Appends go to a new segment.
func Open(dir string, logger *slog.Logger, opts Options) (*WAL, error) {
	opts.defaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	w := &WAL{dir: dir, opts: opts, logger: logger, reqs: make(chan *request, 256),
		quit: make(chan struct{}), done: make(chan struct{})}
	if len(segs) > 0 {
		last := segs[len(segs)-1]
		if err := w.repair(last); err != nil {
			return nil, err
		}
		w.segNum = last
	}
	if err := w.openSegment(w.segNum + 1); err != nil {
		return nil, err
	}
	go w.run()
	return w, nil
}

func segmentPath(dir string, n int) string {
	return filepath.Join(dir, fmt.Sprintf("%08d%s", n, suffix))
}

// listSegments returns the segment numbers in dir, ascending.
func listSegments(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	var segs []int
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, suffix) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(name, suffix))
		if err != nil || n <= 0 {
			continue
		}
		segs = append(segs, n)
	}
	sort.Ints(segs)
	return segs, nil
}

// repair truncates the last segment after its last whole, valid record.
func (w *WAL) repair(n int) error {
	path := segmentPath(w.dir, n)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer func() { _ = f.Close() }()
	good, size, scanErr, err := w.scanFile(f, func([]byte) error { return nil })
	if err != nil {
		return err
	}
	if scanErr == nil && good == size {
		return nil
	}
	if good < int64(len(magic)) {
		good = 0 // not even a whole header: start the segment afresh
	}
	w.logger.Warn("WAL: dropping a torn or corrupt tail", "segment", path, "valid_bytes", good,
		"dropped_bytes", size-good, "reason", fmt.Sprint(scanErr))
	if err := f.Truncate(good); err != nil {
		return fmt.Errorf("wal: truncate torn tail of %s: %w", path, err)
	}
	if good == 0 {
		if _, err := f.WriteAt([]byte(magic), 0); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
	}
	return f.Sync()
}

// scanFile scans an open segment file: see scan, whose stop reason is
// scanErr. It also returns the file's size, to tell a clean end from a
// dropped remainder. err is a failure to read the file's size, on which
// the caller must stop.
func (w *WAL) scanFile(f *os.File, fn func([]byte) error) (valid, size int64, scanErr, err error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, nil, fmt.Errorf("wal: %w", err)
	}
	valid, scanErr = scan(bufio.NewReaderSize(f, 1<<20), w.opts.MaxRecordSize, fn)
	return valid, st.Size(), scanErr, nil
}

// scan reads a segment, calling fn for each valid record. It returns the
// offset after the last valid record and, if it stopped before the end,
// why (io.ErrUnexpectedEOF for a cut record, or a corruption error).
func scan(r io.Reader, maxRecord int, fn func([]byte) error) (int64, error) {
	var hdr [headerSize]byte
	if _, err := io.ReadFull(r, hdr[:len(magic)]); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, io.ErrUnexpectedEOF
		}
		return 0, err
	}
	if string(hdr[:len(magic)]) != magic {
		return 0, fmt.Errorf("bad segment magic %q", hdr[:len(magic)])
	}
	off := int64(len(magic))
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return off, nil
			}
			return off, io.ErrUnexpectedEOF
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		if n == 0 || int64(n) > int64(maxRecord) {
			return off, fmt.Errorf("invalid record length %d at offset %d", n, off)
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, io.ErrUnexpectedEOF
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			return off, fmt.Errorf("checksum mismatch in record at offset %d", off)
		}
		if err := fn(payload); err != nil {
			return off, err
		}
		off += headerSize + int64(n)
	}
}

// openSegment creates segment n and makes it the current one.
func (w *WAL) openSegment(n int) error {
	f, err := createSegment(w.dir, n)
	if err != nil {
		return err
	}
	w.install(f, n)
	return nil
}

func (w *WAL) install(f *os.File, n int) {
	w.mu.Lock()
	w.segNum = n
	w.mu.Unlock()
	w.seg, w.segSize, w.dirty, w.broken = f, int64(len(magic)), false, false
}

// createSegment creates segment n with its header, durably; on failure
// (a full disk) it leaves no file behind.
func createSegment(dir string, n int) (*os.File, error) {
	path := segmentPath(dir, n)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("wal: create segment: %w", err)
	}
	fail := func(err error) (*os.File, error) {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("wal: create segment: %w", err)
	}
	if _, err := f.Write([]byte(magic)); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	return f, nil
}

func syncDir(dir string) error {
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("wal: sync dir: %w", err)
	}
	return nil
}

// Append writes records and returns once they are as durable as the sync
// policy promises. Records of one call are written together, in order.
// Concurrent calls are committed together.
func (w *WAL) Append(ctx context.Context, records ...[]byte) error {
	for _, r := range records {
		if len(r) == 0 || len(r) > w.opts.MaxRecordSize {
			return ErrRecordTooLarge
		}
	}
	req := &request{records: records, err: make(chan error, 1)}
	return w.send(ctx, req)
}

func (w *WAL) send(ctx context.Context, req *request) error {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	select {
	case w.reqs <- req:
	case <-w.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once sent, the write happens; wait for it even if ctx ends, so the
	// caller knows whether it is durable. A request queued while Close
	// drained the queue may be left unanswered: then it was not written.
	select {
	case err := <-req.err:
		return err
	case <-w.done:
		select {
		case err := <-req.err:
			return err
		default:
			return ErrClosed
		}
	}
}

// Cut closes the current segment (fsyncing it) and starts a new one. It
// returns the number of the new segment: every record appended before Cut
// returned is in a segment with a smaller number, which RemoveBefore can
// delete once those records are stored elsewhere.
func (w *WAL) Cut(ctx context.Context) (int, error) {
	req := &request{cut: true, err: make(chan error, 1)}
	if err := w.send(ctx, req); err != nil {
		return 0, err
	}
	return req.segNum, nil
}

// RemoveBefore deletes the segments numbered below n.
func (w *WAL) RemoveBefore(n int) error {
	segs, err := listSegments(w.dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if s >= n {
			break
		}
		if err := os.Remove(segmentPath(w.dir, s)); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
	}
	return syncDir(w.dir)
}

// run is the writer goroutine: it takes every pending request, writes
// them with one write, fsyncs once if the policy says so, and answers.
func (w *WAL) run() {
	defer close(w.done)
	var tick <-chan time.Time
	if w.opts.Sync == SyncInterval {
		t := time.NewTicker(w.opts.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	batch := make([]*request, 0, 64)
	for {
		select {
		case req := <-w.reqs:
			batch = append(batch[:0], req)
		drain:
			for len(batch) < cap(batch) {
				select {
				case r := <-w.reqs:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			w.commit(batch)
		case <-tick:
			if w.dirty {
				if err := w.seg.Sync(); err != nil {
					w.logger.Error("WAL: periodic fsync failed", "err", err)
				} else {
					w.dirty = false
				}
			}
		case <-w.quit:
			// Answer what is still queued, then close.
			for {
				select {
				case r := <-w.reqs:
					w.commit([]*request{r})
				default:
					if w.seg != nil {
						_ = w.seg.Sync()
						_ = w.seg.Close()
					}
					return
				}
			}
		}
	}
}

func (w *WAL) commit(batch []*request) {
	var pending []*request
	flush := func() {
		if len(pending) == 0 {
			return
		}
		err := w.write()
		for _, r := range pending {
			r.err <- err
		}
		pending = pending[:0]
	}
	for _, r := range batch {
		if r.cut {
			flush()
			n, err := w.rotate()
			r.segNum = n
			r.err <- err
			continue
		}
		size := int64(0)
		for _, rec := range r.records {
			size += headerSize + int64(len(rec))
		}
		if w.broken || w.segSize+int64(len(w.buf))+size > w.opts.SegmentSize && w.segSize+int64(len(w.buf)) > int64(len(magic)) {
			flush()
			if _, err := w.rotate(); err != nil {
				r.err <- err
				continue
			}
		}
		for _, rec := range r.records {
			w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(rec)))
			w.buf = binary.LittleEndian.AppendUint32(w.buf, crc32.Checksum(rec, castagnoli))
			w.buf = append(w.buf, rec...)
		}
		pending = append(pending, r)
	}
	flush()
}

// write writes the buffered records and fsyncs under SyncAlways. On a
// failed write (a full disk) the segment is truncated back to its last
// whole record, so that later appends do not follow garbage.
func (w *WAL) write() error {
	defer func() { w.buf = w.buf[:0] }()
	n, err := w.seg.Write(w.buf)
	if err != nil {
		if n > 0 {
			if terr := w.seg.Truncate(w.segSize); terr != nil {
				// Replay drops that partial batch (it fails its checksum);
				// later batches go to a new segment.
				w.broken = true
				return errors.Join(fmt.Errorf("wal: write: %w", err), fmt.Errorf("wal: cannot truncate the partly written batch: %w", terr))
			}
			if _, serr := w.seg.Seek(w.segSize, io.SeekStart); serr != nil {
				return errors.Join(fmt.Errorf("wal: write: %w", err), serr)
			}
		}
		return fmt.Errorf("wal: write: %w", err)
	}
	w.segSize += int64(n)
	w.dirty = true
	if w.opts.Sync == SyncAlways {
		if err := w.seg.Sync(); err != nil {
			return fmt.Errorf("wal: fsync: %w", err)
		}
		w.dirty = false
	}
	return nil
}

// rotate fsyncs the current segment, creates the next and closes the
// current one. If the next cannot be created (a full disk), the current
// segment stays open, and the next append tries again.
func (w *WAL) rotate() (int, error) {
	if err := w.seg.Sync(); err != nil {
		return 0, fmt.Errorf("wal: fsync: %w", err)
	}
	next, err := createSegment(w.dir, w.segNum+1)
	if err != nil {
		return 0, err
	}
	if err := w.seg.Close(); err != nil {
		w.logger.Warn("WAL: closing a full segment", "err", err)
	}
	w.install(next, w.segNum+1)
	return w.segNum, nil
}

// Replay calls fn with every record of the segments numbered from `from`
// on, in order. It must not run concurrently with Append; call it after
// Open, before appending. A corrupt record ends its segment's replay (the
// rest of that segment is logged as dropped); replay goes on with the next
// segment. fn must not keep the slice it is given.
func (w *WAL) Replay(from int, fn func(segment int, record []byte) error) error {
	segs, err := listSegments(w.dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if s < from || s == w.currentSegment() {
			continue
		}
		if err := w.replaySegment(s, fn); err != nil {
			return err
		}
	}
	return nil
}

func (w *WAL) currentSegment() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.segNum
}

// errStop marks an error of fn, which ends the replay.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

func (w *WAL) replaySegment(s int, fn func(int, []byte) error) error {
	path := segmentPath(w.dir, s)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer func() { _ = f.Close() }()
	off, size, err, ioErr := w.scanFile(f, func(rec []byte) error {
		if err := fn(s, rec); err != nil {
			return errStop{err}
		}
		return nil
	})
	if ioErr != nil {
		return ioErr
	}
	var stop errStop
	if errors.As(err, &stop) {
		return stop.err
	}
	if err != nil || off != size {
		w.logger.Warn("WAL: corrupt segment, dropping its remainder", "segment", path,
			"valid_bytes", off, "dropped_bytes", size-off, "reason", fmt.Sprint(err))
	}
	return nil
}

// Close answers the queued appends, fsyncs and closes the segment. It is
// safe to call more than once.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.quit)
	<-w.done
	return nil
}
