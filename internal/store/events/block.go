package events

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/horus-obs/horus/internal/fsutil"
)

// A block is a directory <tenant>/<kind>/<ULID>/ holding (see
// docs/format/events-blocks.md):
//
//	data.parquet  the events, sorted, in row groups of rowGroupRows rows
//	index.bin     per row group: a Bloom filter of trace ids and, for logs,
//	              of body tokens; each section checksummed
//	meta.json     written last: tenant, kind, time range, rows, sizes,
//	              per-row-group time ranges, the blocks it was compacted from
//
// It is written in <ULID>.tmp/, each file fsynced, then renamed into place,
// so a block directory without the .tmp suffix is always whole.
const (
	blockVersion  = 1
	rowGroupRows  = 256 << 10  // the default of Options.RowGroupRows
	indexMagic    = "HORUSIX3" // IX2: no stream list; IX1: nor trigrams
	indexMagicV2  = "HORUSIX2"
	indexMagicV1  = "HORUSIX1"
	traceBloomBit = 10 // bits per distinct trace id: ~1% false positives
	tokenBloomBit = 8  // bits per distinct token: ~2% false positives
	tmpSuffix     = ".tmp"
)

// BlockMeta is a block's meta.json.
type BlockMeta struct {
	Version           int            `json:"version"`
	ULID              string         `json:"ulid"`
	Tenant            string         `json:"tenant"`
	Kind              string         `json:"kind"`
	MinTime           int64          `json:"minTime"` // unix ns, inclusive
	MaxTime           int64          `json:"maxTime"` // unix ns, inclusive (a span's start)
	Rows              int64          `json:"rows"`
	Bytes             int64          `json:"bytes"`             // data.parquet + index.bin
	UncompressedBytes int64          `json:"uncompressedBytes"` // Parquet pages before zstd
	RowGroups         []RowGroupMeta `json:"rowGroups"`
	Level             int            `json:"level"` // 1 when cut from the head, +1 per compaction
	// FileSize and FooterCRC (CRC-32C of the Parquet footer, which has
	// no checksum of its own; pages have theirs) detect a damaged file.
	FileSize  int64  `json:"fileSize"`
	FooterCRC uint32 `json:"footerCRC"`
	// WALSegment: the WAL segments below it hold no event of this tenant
	// and kind that is not in this block or an older one. Replay skips them.
	WALSegment int       `json:"walSegment"`
	Sources    []string  `json:"sources,omitempty"`
	Created    time.Time `json:"created"`
}

// RowGroupMeta is one row group's extent.
type RowGroupMeta struct {
	Rows    int64 `json:"rows"`
	MinTime int64 `json:"minTime"`
	MaxTime int64 `json:"maxTime"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// blockWriter writes one block from events given in their final order.
type blockWriter struct {
	tmp, dir string
	meta     BlockMeta
	rgSize   int64
	f        *os.File
	logs     *parquet.GenericWriter[logRow]
	spans    *parquet.GenericWriter[spanRow]
	logBuf   []logRow
	spanBuf  []spanRow
	index    []byte

	// the current row group
	rgRows   int64
	rgMin    int64
	rgMax    int64
	traceIDs map[TraceID]struct{}
	tokenSet map[uint64]struct{}
	tokBuf   []byte
	grams    *gramSet // the body trigrams of the row group, for logs
	streams  streamCounter
}

func newBlockWriter(root, tenant string, kind Kind, rgRows int64, level, walSegment int, sources []string) (*blockWriter, error) {
	id := ulid.Make().String()
	w := &blockWriter{
		rgSize: rgRows,
		dir:    filepath.Join(root, tenant, kind.String(), id),
		meta: BlockMeta{
			Version: blockVersion, ULID: id, Tenant: tenant, Kind: kind.String(),
			Level: level, WALSegment: walSegment, Sources: sources, Created: time.Now().UTC(),
		},
		traceIDs: map[TraceID]struct{}{},
		tokenSet: map[uint64]struct{}{},
		index:    []byte(indexMagic),
	}
	w.tmp = w.dir + tmpSuffix
	if err := os.MkdirAll(w.tmp, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(w.tmp, "data.parquet"))
	if err != nil {
		w.abort()
		return nil, err
	}
	w.f = f
	opts := []parquet.WriterOption{
		parquet.Compression(blockPages),
		parquet.PageBufferSize(pageBufferSize),
		parquet.MaxRowsPerRowGroup(rgRows),
		parquet.KeyValueMetadata("horus.block.version", fmt.Sprint(blockVersion)),
		parquet.KeyValueMetadata("horus.kind", kind.String()),
		parquet.KeyValueMetadata("horus.tenant", tenant),
	}
	if kind.schema() == KindLog {
		w.logs = parquet.NewGenericWriter[logRow](f, opts...)
	} else {
		w.spans = parquet.NewGenericWriter[spanRow](f, opts...)
	}
	return w, nil
}

func (w *blockWriter) add(e *Event) error {
	if w.rgRows == 0 {
		w.rgMin, w.rgMax = e.Time, e.Time
	}
	w.rgMin, w.rgMax = min(w.rgMin, e.Time), max(w.rgMax, e.Time)
	if w.meta.Rows == 0 {
		w.meta.MinTime, w.meta.MaxTime = e.Time, e.Time
	}
	w.meta.MinTime, w.meta.MaxTime = min(w.meta.MinTime, e.Time), max(w.meta.MaxTime, e.Time)
	w.meta.Rows++
	w.rgRows++
	res := w.streams.add(e)
	if !e.TraceID.IsZero() {
		w.traceIDs[e.TraceID] = struct{}{}
	}
	if w.logs != nil {
		w.tokBuf = tokens(e.Body, w.tokBuf, func(t []byte) { w.tokenSet[hashBytes(t)] = struct{}{} })
		if w.grams == nil {
			w.grams = new(gramSet)
		}
		w.grams.addAll(e.Body)
		w.logBuf = append(w.logBuf, logRow{})
		w.logBuf[len(w.logBuf)-1].set(e, res)
	} else {
		w.spanBuf = append(w.spanBuf, spanRow{})
		w.spanBuf[len(w.spanBuf)-1].set(e, res)
	}
	if len(w.logBuf)+len(w.spanBuf) >= 1024 {
		if err := w.flushRows(); err != nil {
			return err
		}
	}
	if w.rgRows == w.rgSize {
		return w.endRowGroup()
	}
	return nil
}

func (w *blockWriter) flushRows() error {
	var err error
	if w.logs != nil {
		_, err = w.logs.Write(w.logBuf)
		clear(w.logBuf)
		w.logBuf = w.logBuf[:0]
	} else {
		_, err = w.spans.Write(w.spanBuf)
		clear(w.spanBuf)
		w.spanBuf = w.spanBuf[:0]
	}
	return err
}

// endRowGroup closes the row group and appends its index section.
func (w *blockWriter) endRowGroup() error {
	if w.rgRows == 0 {
		return nil
	}
	if err := w.flushRows(); err != nil {
		return err
	}
	var err error
	if w.logs != nil {
		err = w.logs.Flush()
	} else {
		err = w.spans.Flush()
	}
	if err != nil {
		return err
	}
	w.meta.RowGroups = append(w.meta.RowGroups, RowGroupMeta{Rows: w.rgRows, MinTime: w.rgMin, MaxTime: w.rgMax})
	tb := newBloom(len(w.traceIDs), traceBloomBit)
	for id := range w.traceIDs {
		tb.addHash(hashBytes(id[:]))
	}
	var kb bloom
	if w.logs != nil {
		var grams []uint32
		if w.grams != nil {
			grams = w.grams.drain()
		}
		kb = newBloom(len(w.tokenSet)+len(grams), tokenBloomBit)
		for h := range w.tokenSet {
			kb.addHash(h)
		}
		for _, g := range grams {
			kb.addHash(hashGram(g))
		}
	}
	payload := binary.LittleEndian.AppendUint32(nil, uint32(len(tb)*4))
	payload = tb.appendTo(payload)
	payload = binary.LittleEndian.AppendUint32(payload, uint32(len(kb)*4))
	payload = kb.appendTo(payload)
	payload = w.streams.appendTo(payload)
	w.index = binary.LittleEndian.AppendUint32(w.index, uint32(len(payload)))
	w.index = binary.LittleEndian.AppendUint32(w.index, crc32.Checksum(payload, castagnoli))
	w.index = append(w.index, payload...)
	clear(w.traceIDs)
	clear(w.tokenSet)
	w.rgRows = 0
	return nil
}

// finish writes the block and moves it into place. An empty block is not
// written; finish then returns a zero meta.
func (w *blockWriter) finish() (BlockMeta, error) {
	if w.meta.Rows == 0 {
		w.abort()
		return BlockMeta{}, nil
	}
	err := w.endRowGroup()
	if err == nil {
		if w.logs != nil {
			err = w.logs.Close()
		} else {
			err = w.spans.Close()
		}
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	var size int64
	if err == nil {
		size, err = w.uncompressed()
	}
	if err == nil {
		err = fsutil.WriteFileSync(filepath.Join(w.tmp, "index.bin"), w.index)
	}
	if err == nil {
		w.meta.Bytes = size + int64(len(w.index))
		var b []byte
		b, err = json.MarshalIndent(w.meta, "", "  ")
		if err == nil {
			err = fsutil.WriteFileSync(filepath.Join(w.tmp, "meta.json"), b)
		}
	}
	if err == nil {
		err = fsutil.SyncDir(w.tmp)
	}
	if err == nil {
		err = os.Rename(w.tmp, w.dir)
	}
	if err == nil {
		err = fsutil.SyncDir(filepath.Dir(w.dir))
	}
	if err != nil {
		w.abort()
		_ = os.RemoveAll(w.dir)
		return BlockMeta{}, fmt.Errorf("writing block %s: %w", w.meta.ULID, err)
	}
	return w.meta, nil
}

// uncompressed reads back the footer for the sizes, which also checks
// that the file is readable, and returns the file size.
func (w *blockWriter) uncompressed() (int64, error) {
	f, err := os.Open(filepath.Join(w.tmp, "data.parquet"))
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		return 0, err
	}
	for _, rg := range pf.Metadata().RowGroups {
		w.meta.UncompressedBytes += rg.TotalByteSize
	}
	if len(pf.RowGroups()) != len(w.meta.RowGroups) {
		return 0, fmt.Errorf("wrote %d row groups, expected %d", len(pf.RowGroups()), len(w.meta.RowGroups))
	}
	w.meta.FileSize = st.Size()
	if w.meta.FooterCRC, err = footerCRC(f, st.Size()); err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// footerCRC checksums a Parquet file's footer: the metadata and its
// 8-byte trailer (length, "PAR1").
func footerCRC(f io.ReaderAt, size int64) (uint32, error) {
	if size < 12 {
		return 0, fmt.Errorf("file of %d bytes is too short for Parquet", size)
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return 0, err
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4])) + 8
	if n > size-4 {
		return 0, fmt.Errorf("footer length %d overruns the file", n)
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, size-n); err != nil {
		return 0, err
	}
	return crc32.Checksum(buf, castagnoli), nil
}

func (w *blockWriter) abort() {
	if w.f != nil {
		_ = w.f.Close()
	}
	_ = os.RemoveAll(w.tmp)
}

// ErrCorrupt marks data that failed a checksum or does not decode.
var ErrCorrupt = errors.New("corrupt")

// block is an open block.
type block struct {
	dir   string
	meta  BlockMeta
	kind  Kind
	file  *os.File
	pf    *parquet.File
	rgs   []rowGroupIndex
	index error // why index.bin could not be read, if it could not
}

type rowGroupIndex struct {
	traces, tokens bloom // nil: not available, everything may match
	grams          bool  // tokens also holds the bodies' trigrams
	// streams are the row group's streams, sorted by resource JSON,
	// service, severity text and number; hasStreams says the list is
	// there (index.bin version 3).
	streams    []IndexStream
	hasStreams bool
}

func openBlock(dir string) (*block, error) {
	mb, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, err
	}
	b := &block{dir: dir}
	if err := json.Unmarshal(mb, &b.meta); err != nil {
		return nil, fmt.Errorf("%w: meta.json: %w", ErrCorrupt, err)
	}
	if b.meta.Version != blockVersion {
		return nil, fmt.Errorf("block version %d, this Horus reads %d", b.meta.Version, blockVersion)
	}
	if b.kind, err = ParseKind(b.meta.Kind); err != nil {
		return nil, fmt.Errorf("%w: meta.json: %w", ErrCorrupt, err)
	}
	f, err := os.Open(filepath.Join(dir, "data.parquet"))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && st.Size() != b.meta.FileSize {
		err = fmt.Errorf("file is %d bytes, meta.json says %d", st.Size(), b.meta.FileSize)
	}
	if err == nil {
		var sum uint32
		if sum, err = footerCRC(f, st.Size()); err == nil && sum != b.meta.FooterCRC {
			err = errors.New("footer checksum mismatch")
		}
	}
	if err == nil {
		err = safely("footer", func() (err error) {
			b.pf, err = openParquet(f, st.Size())
			return err
		})
	}
	if err == nil && len(b.pf.RowGroups()) != len(b.meta.RowGroups) {
		err = fmt.Errorf("%d row groups, meta.json says %d", len(b.pf.RowGroups()), len(b.meta.RowGroups))
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w: data.parquet: %w", ErrCorrupt, err)
	}
	b.file = f
	b.rgs = make([]rowGroupIndex, len(b.meta.RowGroups))
	b.index = b.readIndex()
	return b, nil
}

// readIndex loads the Bloom filters. A section failing its checksum leaves
// that row group without filters: it is then always scanned.
func (b *block) readIndex() error {
	data, err := os.ReadFile(filepath.Join(b.dir, "index.bin"))
	if err != nil {
		return err
	}
	version := 0
	for v, magic := range []string{indexMagicV1, indexMagicV2, indexMagic} {
		if bytes.HasPrefix(data, []byte(magic)) {
			version = v + 1
		}
	}
	if version == 0 {
		return fmt.Errorf("%w: index.bin: bad magic", ErrCorrupt)
	}
	data = data[len(indexMagic):]
	res := resourceCache{}
	var bad error
	for i := range b.rgs {
		if len(data) < 8 {
			return fmt.Errorf("%w: index.bin: cut short at row group %d", ErrCorrupt, i)
		}
		n, sum := binary.LittleEndian.Uint32(data), binary.LittleEndian.Uint32(data[4:])
		if uint64(n) > uint64(len(data)-8) {
			return fmt.Errorf("%w: index.bin: row group %d section overruns the file", ErrCorrupt, i)
		}
		p := data[8 : 8+n]
		data = data[8+n:]
		if crc32.Checksum(p, castagnoli) != sum {
			bad = fmt.Errorf("%w: index.bin: checksum mismatch in row group %d", ErrCorrupt, i)
			continue
		}
		ix, err := readSection(p, version, res)
		if err != nil {
			bad = fmt.Errorf("%w: index.bin: row group %d: %w", ErrCorrupt, i, err)
			continue
		}
		b.rgs[i] = ix
	}
	return bad
}

// readSection decodes a row group's section of an index.bin of this
// version (1: HORUSIX1, 2: HORUSIX2, 3: HORUSIX3).
func readSection(p []byte, version int, res resourceCache) (rowGroupIndex, error) {
	// lenPrefixed cuts a uint32 length and that many bytes from p.
	lenPrefixed := func() ([]byte, error) {
		if len(p) < 4 || uint64(binary.LittleEndian.Uint32(p)) > uint64(len(p)-4) {
			return nil, errors.New("bad section")
		}
		l := binary.LittleEndian.Uint32(p)
		out := p[4 : 4+l]
		p = p[4+l:]
		return out, nil
	}
	tp, err := lenPrefixed()
	if err != nil {
		return rowGroupIndex{}, err
	}
	tb, err := readBloom(tp)
	if err != nil {
		return rowGroupIndex{}, err
	}
	kp := p
	if version >= 3 {
		if kp, err = lenPrefixed(); err != nil {
			return rowGroupIndex{}, err
		}
	}
	kb, err := readBloom(kp)
	if err != nil {
		return rowGroupIndex{}, err
	}
	ix := rowGroupIndex{traces: tb, tokens: kb, grams: version >= 2 && kb != nil}
	if version >= 3 {
		if ix.streams, err = readStreams(p, res); err != nil {
			return rowGroupIndex{}, err
		}
		ix.hasStreams = true
	}
	return ix, nil
}

func (b *block) close() error { return b.file.Close() }

// readRowGroup decodes row group i into events, calling fn for each batch.
// The events and their strings stay valid after fn returns.
func (b *block) readRowGroup(i int, fn func([]Event) error) error {
	rg := b.pf.RowGroups()[i]
	err := safely("rows", func() error {
		if b.kind.schema() == KindLog {
			return readRows[logRow](rg, fn)
		}
		return readRows[spanRow](rg, fn)
	})
	if err != nil && errors.Is(err, errRead) {
		return fmt.Errorf("%w: block %s row group %d: %w", ErrCorrupt, b.meta.ULID, i, err)
	}
	return err
}

var errRead = errors.New("reading")

// safely runs a read of Parquet data, turning a panic of the decoder on
// damaged data into an error: a corrupt block must not take the process
// down with it.
func safely(what string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: decoder panic: %v", errRead, what, r)
		}
	}()
	return fn()
}

// readSelected reads whole the rows sel (ascending) of row group i: by
// seeking to each run of rows when there are few runs (a trace is one
// run), else column by column, reading only the pages that hold them,
// which costs less than seeking in each column's pages over and over.
func (b *block) readSelected(i int, sel []int32) ([]Event, error) {
	rg := b.pf.RowGroups()[i]
	runs := 1
	for k := 1; k < len(sel); k++ {
		if sel[k] != sel[k-1]+1 {
			runs++
		}
	}
	var evs []Event
	if runs > 4 {
		err := safely("rows", func() (err error) {
			evs, err = readSelectedByColumn(rg, b.kind, sel)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%w: block %s row group %d: %w", ErrCorrupt, b.meta.ULID, i, err)
		}
		return evs, nil
	}
	err := safely("rows", func() (err error) {
		if b.kind.schema() == KindLog {
			evs, err = readRowsAt[logRow](rg, sel)
		} else {
			evs, err = readRowsAt[spanRow](rg, sel)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: block %s row group %d: %w", ErrCorrupt, b.meta.ULID, i, err)
	}
	return evs, nil
}

// spanNested is the nested columns of a span row, read alone.
type spanNested struct {
	Events []spanEventRow `parquet:"events,list"`
	Links  []spanLinkRow  `parquet:"links,list"`
}

func readSelectedByColumn(rg parquet.RowGroup, kind Kind, sel []int32) ([]Event, error) {
	cols, err := readColumnsUnsafe(rg, kind, fAll, sel)
	if err != nil {
		return nil, err
	}
	out := make([]Event, len(sel))
	for k := range sel {
		cols.fill(&out[k], k)
	}
	if kind.schema() != KindSpan {
		return out, nil
	}
	r := parquet.NewGenericRowGroupReader[spanNested](rg)
	defer func() { _ = r.Close() }()
	rows := make([]spanNested, 1024)
	k := 0
	for base := int32(0); k < len(sel); base += int32(len(rows)) {
		clear(rows)
		n, err := r.Read(rows)
		for k < len(sel) && sel[k] < base+int32(n) {
			nr := &rows[sel[k]-base]
			for _, se := range nr.Events {
				out[k].Events = append(out[k].Events, SpanEvent{Time: se.Time, Name: se.Name, Attrs: se.Attrs.attrs()})
			}
			for _, l := range nr.Links {
				out[k].Links = append(out[k].Links, SpanLink{TraceID: l.TraceID, SpanID: l.SpanID, TraceState: l.TraceState, Attrs: l.Attrs.attrs()})
			}
			k++
		}
		if errors.Is(err, io.EOF) || n == 0 {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if k != len(sel) {
		return nil, fmt.Errorf("nested columns end at row %d of %d", k, len(sel))
	}
	return out, nil
}

// readRowsAt reads the rows sel (ascending) whole, seeking over gaps.
func readRowsAt[T any, P row[T]](rg parquet.RowGroup, sel []int32) ([]Event, error) {
	r := parquet.NewGenericRowGroupReader[T](rg)
	defer func() { _ = r.Close() }()
	res := resourceCache{}
	out := make([]Event, 0, len(sel))
	rows := make([]T, 256)
	next := int64(-1)
	for k := 0; k < len(sel); {
		// a run of consecutive rows
		j := k + 1
		for j < len(sel) && sel[j] == sel[j-1]+1 && j-k < len(rows) {
			j++
		}
		if int64(sel[k]) != next {
			if err := r.SeekToRow(int64(sel[k])); err != nil {
				return nil, err
			}
		}
		clear(rows[:j-k])
		n, err := r.Read(rows[:j-k])
		if n != j-k {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		for m := range n {
			out = append(out, P(&rows[m]).event(res))
		}
		next = int64(sel[j-1]) + 1
		k = j
	}
	return out, nil
}

type row[T any] interface {
	*T
	event(resourceCache) Event
}

func readRows[T any, P row[T]](rg parquet.RowGroup, fn func([]Event) error) error {
	const batch = 1024
	r := parquet.NewGenericRowGroupReader[T](rg)
	defer func() { _ = r.Close() }()
	rows := make([]T, batch)
	res := resourceCache{}
	for {
		clear(rows) // Read merges into the maps it finds
		n, rerr := r.Read(rows)
		if n > 0 {
			evs := make([]Event, n)
			for j := range n {
				evs[j] = P(&rows[j]).event(res)
			}
			if err := fn(evs); err != nil {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("%w: %w", errRead, rerr)
		}
	}
}

// resourceCache decodes each distinct resource once.
type resourceCache map[string]Attrs

func (c resourceCache) get(s string) Attrs {
	if a, ok := c[s]; ok {
		return a
	}
	a := resourceAttrs(s)
	c[s] = a
	return a
}

func openParquet(r io.ReaderAt, size int64) (*parquet.File, error) {
	return parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.ReadBufferSize(256<<10))
}
