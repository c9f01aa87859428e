package events

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzBlock feeds damaged block files to the reader: data.parquet (with
// meta.json's size and footer checksum made to match, so the Parquet
// decoder itself is exercised) and index.bin. Opening and reading must end
// in data or in an ErrCorrupt error, never a crash or a hang.
func FuzzBlock(f *testing.F) {
	dir := f.TempDir()
	w, err := newBlockWriter(dir, "t", KindLog, 64, 1, 1, nil)
	if err != nil {
		f.Fatal(err)
	}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := 0; i < 200; i++ {
		e := Event{Time: base + int64(i)*1e6, Service: "svc", Body: "line number " + string(rune('a'+i%26)),
			Severity: 9, SeverityText: "INFO", Resource: Attrs{{Key: "service.name", Value: Str("svc")}},
			Attrs: Attrs{{Key: "n", Value: Int(int64(i))}, {Key: "u", Value: Str("x")}}}
		e.TraceID[0] = byte(i / 7)
		if err := w.add(&e); err != nil {
			f.Fatal(err)
		}
	}
	meta, err := w.finish()
	if err != nil {
		f.Fatal(err)
	}
	src := filepath.Join(dir, "t", "logs", meta.ULID)
	data, _ := os.ReadFile(filepath.Join(src, "data.parquet"))
	index, _ := os.ReadFile(filepath.Join(src, "index.bin"))
	f.Add(data, index)
	f.Add(data[:len(data)/2], index[:len(index)/2])
	f.Fuzz(func(t *testing.T, data, index []byte) {
		d := t.TempDir()
		m := meta
		m.FileSize = int64(len(data))
		if sum, err := footerCRC(readerAt(data), int64(len(data))); err == nil {
			m.FooterCRC = sum
		}
		mb, _ := json.Marshal(m)
		for name, b := range map[string][]byte{"data.parquet": data, "index.bin": index, "meta.json": mb} {
			if err := os.WriteFile(filepath.Join(d, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := openBlock(d)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open: error not marked corrupt: %v", err)
			}
			return
		}
		defer func() { _ = b.close() }()
		for i := range b.meta.RowGroups {
			err := b.readRowGroup(i, func([]Event) error { return nil })
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read: error not marked corrupt: %v", err)
			}
			if _, err := readColumns(b.pf.RowGroups()[i], KindLog, fAll); err != nil && !errors.Is(err, errRead) {
				t.Fatalf("columns: %v", err)
			}
			if _, err := readColumnsAt(b.pf.RowGroups()[i], KindLog, fAll, []int32{0, 5, 63}); err != nil && !errors.Is(err, errRead) {
				t.Fatalf("columns at rows: %v", err)
			}
			err = safely("codes", func() error {
				_, err := readCodes(b.pf.RowGroups()[i], "resource")
				return err
			})
			if err != nil && !errors.Is(err, errRead) {
				t.Fatalf("codes: %v", err)
			}
			q := Query{Kind: KindLog, Filters: []Filter{{Field: "body", Op: Contains, Value: "order"},
				{Field: "trace_id", Op: Eq, Value: "4bf92f3577b34da6a3ce929d0e0e4736"}}}
			if err := q.compile(); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := presearch(b.pf.RowGroups()[i], &q); err != nil && !errors.Is(err, errRead) {
				t.Fatalf("presearch: %v", err)
			}
		}
	})
}

type readerAt []byte

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(r)) {
		return 0, errors.New("offset out of range")
	}
	n := copy(p, r[off:])
	if n < len(p) {
		return n, errors.New("short read")
	}
	return n, nil
}
