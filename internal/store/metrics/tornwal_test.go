package metrics

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/tsdb/wlog"
	"github.com/prometheus/prometheus/util/compression"
)

// fragment encodes one WAL record fragment.
func fragment(typ byte, data []byte) []byte {
	b := make([]byte, walHeaderSize, walHeaderSize+len(data))
	b[0] = typ
	binary.BigEndian.PutUint16(b[1:], uint16(len(data)))
	binary.BigEndian.PutUint32(b[3:], crc32.Checksum(data, castagnoli))
	return append(b, data...)
}

// page pads fragments to a whole WAL page.
func page(frags ...[]byte) []byte {
	p := bytes.Join(frags, nil)
	return append(p, make([]byte, walPageSize-len(p))...)
}

// rec is a distinct record of n bytes.
func rec(i, n int) []byte {
	return bytes.Repeat([]byte{byte('a' + i%26)}, n)
}

// writeWAL writes recs with Prometheus' own WAL writer into dir, one
// segment, closed (its last page padded).
func writeWAL(t *testing.T, dir string, recs ...[]byte) {
	t.Helper()
	w, err := wlog.NewSize(nil, nil, dir, wlog.DefaultSegmentSize, compression.None)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Log(recs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, name string, b ...[]byte) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Join(b, nil)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readWAL reads all records of the WAL in dir as Prometheus' replay does:
// segment by segment.
func readWAL(t *testing.T, dir string) ([][]byte, error) {
	t.Helper()
	first, last, err := wlog.Segments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for i := first; i <= last; i++ {
		s, err := wlog.OpenReadSegment(wlog.SegmentName(dir, i))
		if err != nil {
			t.Fatal(err)
		}
		r := wlog.NewReader(wlog.NewSegmentBufReader(s))
		for r.Next() {
			recs = append(recs, bytes.Clone(r.Record()))
		}
		if err := r.Err(); err != nil {
			return recs, err
		}
	}
	return recs, nil
}

func wantRecords(t *testing.T, dir string, want ...[]byte) {
	t.Helper()
	got, err := readWAL(t, dir)
	if err != nil {
		t.Fatalf("reading the WAL: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d: %d bytes %.10q..., want %d bytes %.10q...", i, len(got[i]), got[i], len(want[i]), want[i])
		}
	}
}

func unTear(t *testing.T, dir string) {
	t.Helper()
	if err := unTearWAL(dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
}

// TestUnTearAfterFailedWrite lays out what Prometheus' WAL writes when a
// page flush fails inside a record and the next write succeeds: the
// record's first (and middle) fragments, each to the end of its page,
// then the next records. Prometheus' reader fails there, and its repair
// would drop every later record; un-tearing blanks the torn one and keeps
// the rest.
func TestUnTearAfterFailedWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		torn [][]byte // pages of the torn record
	}{
		{"first fragment", [][]byte{page(fragment(walFirst, rec(9, walPageSize-walHeaderSize)))}},
		{"first and middle", [][]byte{
			page(fragment(walFull, rec(7, 100)), fragment(walFirst, rec(9, walPageSize-2*walHeaderSize-100))),
			page(fragment(walMiddle, rec(9, walPageSize-walHeaderSize))),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			before := [][]byte{rec(0, 10), rec(1, 3*walPageSize), rec(2, 500)}
			writeWAL(t, dir, before...)
			after := [][]byte{rec(3, 200), rec(4, 2*walPageSize)}
			seg := wlog.SegmentName(dir, 0)
			appendFile(t, seg, tc.torn...)
			appendFile(t, seg, page(fragment(walFull, after[0]), fragment(walFirst, after[1][:walPageSize-2*walHeaderSize-len(after[0])])))
			rest := after[1][walPageSize-2*walHeaderSize-len(after[0]):]
			appendFile(t, seg, page(fragment(walMiddle, rest[:walPageSize-walHeaderSize])), page(fragment(walLast, rest[walPageSize-walHeaderSize:])))
			if _, err := readWAL(t, dir); err == nil {
				t.Fatal("Prometheus' reader read the torn record without an error; the test lays out no tear")
			}
			want := append(append([][]byte{}, before...), after...)
			if len(tc.torn) > 1 {
				// The full record before the torn one in its page stays.
				want = append(append(append([][]byte{}, before...), rec(7, 100)), after...)
			}
			unTear(t, dir)
			wantRecords(t, dir, want...)
			// Done once, it is not done again.
			fix, err := unTearSegment(seg)
			if err != nil || len(fix.zeroed) != 0 || fix.truncated >= 0 || fix.stopped != "" {
				t.Fatalf("second pass: %+v %v", fix, err)
			}
		})
	}
}

// TestUnTearEnd cuts off a segment's end that a crash or a failed write
// left inside a record, in every segment, not only the last: Prometheus
// reads a torn end as corruption and deletes the later segments.
func TestUnTearEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"half a header", fragment(walFull, rec(5, 50))[:4]},
		{"half a fragment", fragment(walFull, rec(5, 50))[:30]},
		{"first fragment then nothing", page(fragment(walFirst, rec(5, walPageSize-walHeaderSize)))},
		{"first fragment, half a middle one", append(page(fragment(walFirst, rec(5, walPageSize-walHeaderSize))), fragment(walMiddle, rec(5, 100))[:50]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			recs := [][]byte{rec(0, 10), rec(1, 2*walPageSize)}
			writeWAL(t, dir, recs...)
			seg := wlog.SegmentName(dir, 0)
			st, err := os.Stat(seg)
			if err != nil {
				t.Fatal(err)
			}
			appendFile(t, seg, tc.tail)
			writeWAL(t, dir, rec(2, 20)) // segment 1
			recs = append(recs, rec(2, 20))
			if _, err := readWAL(t, dir); err == nil {
				t.Fatal("Prometheus' reader read the torn end without an error")
			}
			unTear(t, dir)
			wantRecords(t, dir, recs...)
			if st2, _ := os.Stat(seg); st2.Size() != st.Size() {
				t.Fatalf("segment 0 is %d bytes, want it cut back to %d", st2.Size(), st.Size())
			}
		})
	}
}

// TestUnTearLeavesOtherDamage leaves what no failed write makes (a bad
// checksum, an unknown type) as it is, for the TSDB's repair.
func TestUnTearLeavesOtherDamage(t *testing.T) {
	bad := fragment(walFull, rec(5, 50))
	bad[walHeaderSize+3] ^= 1
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"checksum", page(bad, fragment(walFull, rec(6, 10)))},
		{"unknown type", page(fragment(6, rec(5, 50)))},
		{"middle without first", page(fragment(walMiddle, rec(5, walPageSize-walHeaderSize)))},
		{"first not filling its page", page(fragment(walFirst, rec(5, 50)), fragment(walFull, rec(6, 10)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeWAL(t, dir, rec(0, 10))
			seg := wlog.SegmentName(dir, 0)
			appendFile(t, seg, tc.tail)
			orig, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			fix, err := unTearSegment(seg)
			if err != nil {
				t.Fatal(err)
			}
			if fix.stopped == "" || len(fix.zeroed) != 0 || fix.truncated >= 0 {
				t.Fatalf("got %+v, want a stop and no change", fix)
			}
			if now, _ := os.ReadFile(seg); !bytes.Equal(now, orig) {
				t.Fatal("the segment was changed")
			}
		})
	}
}

// TestUnTearSkipsCheckpointed reads only the segments after the last
// checkpoint, as the replay does.
func TestUnTearSkipsCheckpointed(t *testing.T) {
	dir := t.TempDir()
	writeWAL(t, dir, rec(0, 10))
	seg0 := wlog.SegmentName(dir, 0)
	appendFile(t, seg0, page(fragment(walFirst, rec(5, walPageSize-walHeaderSize))))
	writeWAL(t, dir, rec(1, 10))
	if err := os.Mkdir(filepath.Join(dir, fmt.Sprintf("checkpoint.%08d", 0)), 0o755); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(seg0)
	unTear(t, dir)
	if st2, _ := os.Stat(seg0); st2.Size() != st.Size() {
		t.Fatal("a segment before the checkpoint was changed")
	}
}
