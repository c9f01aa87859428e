package metrics

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// The Prometheus WAL's page format (tsdb/docs/format/wal.md): 32 KiB
// pages of record fragments, each a 7-byte header (type, big-endian
// length, big-endian CRC-32C of the data) and its data. A record too large
// for the rest of a page is split into a first fragment, middle ones and a
// last one, each but the last filling its page to the end. A zero type
// byte pads the rest of a page with zeros.
const (
	walPageSize   = 32 << 10
	walHeaderSize = 7
	walTypeMask   = 7
)

const (
	walPadding = iota
	walFull
	walFirst
	walMiddle
	walLast
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// span is a byte range [start, end) of a segment.
type span struct{ start, end int64 }

// segmentFix is what unTearSegment did to a segment.
type segmentFix struct {
	zeroed    []span // torn records blanked into page padding
	truncated int64  // the new size, or -1 when the size is unchanged
	stopped   string // why the scan stopped early, at damage it leaves alone
}

// unTearWAL removes the records that a failed write left torn in the
// segments of the Prometheus WAL (or WBL) in dir, so that Prometheus'
// replay does not take them for corruption and truncate everything
// written after them (see the package documentation). It reads every
// segment the replay will read: those after the last checkpoint.
func unTearWAL(dir string, logger *slog.Logger) error {
	first, last, err := wlog.Segments(dir)
	if errors.Is(err, os.ErrNotExist) || err == nil && last < 0 {
		return nil
	}
	if err != nil {
		return err
	}
	if _, cp, err := wlog.LastCheckpoint(dir); err == nil && cp+1 > first {
		first = cp + 1
	} else if err != nil && !errors.Is(err, record.ErrNotFound) {
		return err
	}
	for i := first; i <= last; i++ {
		name := wlog.SegmentName(dir, i)
		fix, err := unTearSegment(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("segment %d: %w", i, err)
		}
		for _, z := range fix.zeroed {
			logger.Warn("WAL: blanked a record torn by a failed write; the records after it are kept",
				"segment", name, "offset", z.start, "bytes", z.end-z.start)
		}
		if fix.truncated >= 0 {
			logger.Warn("WAL: cut a torn record off the end of a segment", "segment", name, "size", fix.truncated)
		}
		if fix.stopped != "" {
			logger.Warn("WAL: damage that is no torn write; left to the TSDB's repair", "segment", name, "damage", fix.stopped)
		}
	}
	return nil
}

// unTearSegment scans one segment. A record whose fragments stop before
// its last one, followed by another record, is blanked: its fragments,
// each of which runs to the end of its page, are overwritten with zeros,
// which the reader takes for page padding. A record or fragment cut short
// at the end of the segment is cut off. Other damage (a bad checksum, an
// unknown type, a fragment that cannot be where it is) stops the scan and
// is left to the TSDB's own repair.
func unTearSegment(name string) (fix segmentFix, err error) {
	fix = segmentFix{truncated: -1}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return fix, err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	st, err := f.Stat()
	if err != nil {
		return fix, err
	}
	size := st.Size()
	var (
		page [walPageSize]byte
		open []span // the fragments of the record being read
		cut  = int64(-1)
	)
	// torn says where to cut a segment that ends in a fragment cut short
	// at offset at: before the record it belongs to.
	torn := func(at int64) int64 {
		if open != nil {
			return open[0].start
		}
		return at
	}
	for off := int64(0); off < size && cut < 0 && fix.stopped == ""; off += walPageSize {
		n, err := f.ReadAt(page[:], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return fix, err
		}
		p, last := page[:n], n < walPageSize // only the last page is short
		for pos := 0; pos < len(p); {
			at := off + int64(pos)
			typ := p[pos] & walTypeMask
			if typ == walPadding {
				if !allZero(p[pos:]) {
					fix.stopped = fmt.Sprintf("non-zero page padding at offset %d", at)
				}
				break
			}
			if pos+walHeaderSize > len(p) || pos+walHeaderSize+int(binary.BigEndian.Uint16(p[pos+1:])) > len(p) {
				if last {
					cut = torn(at)
				} else {
					fix.stopped = fmt.Sprintf("fragment across a page boundary at offset %d", at)
				}
				break
			}
			end := pos + walHeaderSize + int(binary.BigEndian.Uint16(p[pos+1:]))
			if crc32.Checksum(p[pos+walHeaderSize:end], castagnoli) != binary.BigEndian.Uint32(p[pos+3:]) {
				fix.stopped = fmt.Sprintf("checksum mismatch at offset %d", at)
				break
			}
			frag := span{at, off + int64(end)}
			switch {
			case typ == walFull || typ == walFirst:
				// A record not finished before this one is torn.
				fix.zeroed = append(fix.zeroed, open...)
				open = nil
				if typ == walFirst {
					open = []span{frag}
				}
			case (typ == walMiddle || typ == walLast) && open != nil:
				open = append(open, frag)
				if typ == walLast {
					open = nil
				}
			default:
				fix.stopped = fmt.Sprintf("fragment of type %d out of place at offset %d", typ, at)
			}
			if (typ == walFirst || typ == walMiddle) && end != walPageSize {
				// The writer fills the page with every fragment but the
				// last; short at the end of the segment, it is torn.
				if last && end == len(p) {
					cut = torn(at)
				} else {
					fix.stopped = fmt.Sprintf("fragment of type %d short of its page's end at offset %d", typ, at)
				}
			}
			if fix.stopped != "" || cut >= 0 {
				break
			}
			pos = end
		}
	}
	if cut < 0 && fix.stopped == "" && open != nil {
		// The segment ends inside a record.
		cut = open[0].start
	}
	for _, z := range fix.zeroed {
		if _, err := f.WriteAt(make([]byte, z.end-z.start), z.start); err != nil {
			return fix, fmt.Errorf("blank torn record: %w", err)
		}
	}
	if cut >= 0 && cut < size {
		if err := f.Truncate(cut); err != nil {
			return fix, fmt.Errorf("cut torn end: %w", err)
		}
		fix.truncated = cut
	}
	if len(fix.zeroed) > 0 || fix.truncated >= 0 {
		return fix, f.Sync()
	}
	return fix, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
