package events

import (
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/compress"
	pqzstd "github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// pageCodec compresses the pages of the blocks the store writes: zstd at
// "better", as parquet-go's zstd.Codec would, with two differences that
// matter for memory (issue 18: the encoders were 40 MB of the heap at the
// peak of an ingest). Its window is the page buffer size (1 MiB) instead
// of klauspost/compress' 8 MiB default, which sized each encoder's
// history at 16 MiB, though a page, compressed alone (EncodeAll), never
// refers back further than its own start; and its encoders are pooled
// for every block writer, where each writer's zstd.Codec had a pool of
// its own that was dropped with it. A smaller window is within what
// every zstd decoder accepts, so files read as before.
type pageCodec struct {
	level    zstd.EncoderLevel
	window   int
	encoders sync.Pool
	dec      pqzstd.Codec
}

var _ compress.Codec = (*pageCodec)(nil)

// blockPages is the codec of every block writer: it holds a pool of
// encoders only.
var blockPages = &pageCodec{level: zstd.SpeedBetterCompression, window: pageBufferSize}

// pageBufferSize is the uncompressed size at which the block writer cuts
// a page: 256 KiB, not 1 MiB since 2026-11-30, so a read of a few rows
// (a trace's lines, the newest of a query) decompresses less. On the 2 M
// shop lines of bench/logscompare: the lines of one trace 52 → 30 ms of
// CPU, the writer's peak memory 449 → 399 MB, disk 21.4 → 22.0 B/line.
const pageBufferSize = 256 << 10

func (c *pageCodec) String() string { return "ZSTD" }

// CompressionCodec implements compress.Codec: the pages are zstd frames.
func (c *pageCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

// Encode compresses src, appending to dst[:0].
func (c *pageCodec) Encode(dst, src []byte) ([]byte, error) {
	e, _ := c.encoders.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(c.level),
			zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false), zstd.WithWindowSize(c.window))
		if err != nil {
			return nil, err
		}
	}
	defer c.encoders.Put(e)
	return e.EncodeAll(src, dst[:0]), nil
}

// Decode decompresses src, appending to dst[:0], as parquet-go's codec.
func (c *pageCodec) Decode(dst, src []byte) ([]byte, error) { return c.dec.Decode(dst, src) }
