package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// BodyLimits bound a request body.
type BodyLimits struct {
	// MaxBytes bounds the body as sent (compressed).
	MaxBytes int64
	// MaxDecodedBytes bounds the body after decompression.
	MaxDecodedBytes int64
}

// ReadBody reads a request body under the limits and undoes its
// Content-Encoding (identity, gzip, zstd, or snappy block format). It
// returns an *Error for a body over a limit (refused up front when the
// announced Content-Length passes it), an unknown encoding, a corrupt
// compressed stream, a body that cannot be read (400) or stops arriving
// (408), and for buffers that would pass the InFlight budget of the
// request's Reservation (503). Buffers grow as bytes arrive: an announced
// Content-Length is never allocated before the bytes are there.
func ReadBody(r *http.Request, l BodyLimits) ([]byte, error) {
	res := ReservationFrom(r.Context())
	var raw []byte
	if err := readInto(&raw, r.Body, r.ContentLength, l.MaxBytes, "request body", false, res); err != nil {
		return nil, err
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	var out []byte
	switch enc {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, Errorf(ReasonMalformed, "gzip body: %v", err)
		}
		err = readInto(&out, zr, -1, l.MaxDecodedBytes, "decompressed body", true, res)
		return out, err
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(raw), zstd.WithDecoderMaxMemory(uint64(l.MaxDecodedBytes)+1), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, Errorf(ReasonMalformed, "zstd body: %v", err)
		}
		defer zr.Close()
		err = readInto(&out, zr, -1, l.MaxDecodedBytes, "decompressed body", true, res)
		return out, err
	case "snappy":
		return snappyDecode(nil, raw, l.MaxDecodedBytes, res)
	default:
		return nil, Errorf(ReasonUnsupportedMedia, "Content-Encoding %q is not supported; use gzip, zstd, snappy or none", enc)
	}
}

// DecodeSnappy decodes a snappy block (as remote_write and Loki's push
// protobuf send) whose decoded length must not pass max.
func DecodeSnappy(b []byte, max int64) ([]byte, error) { return snappyDecode(nil, b, max, nil) }

// snappyDecode decodes a snappy block whose decoded length must not pass
// max, into dst when it is large enough. A larger buffer it allocates is
// reserved in res first.
func snappyDecode(dst, b []byte, max int64, res *Reservation) ([]byte, error) {
	n, err := snappy.DecodedLen(b)
	if err != nil {
		return nil, Errorf(ReasonMalformed, "snappy body: %v", err)
	}
	if int64(n) > max {
		return nil, Errorf(ReasonBodyTooLarge, "decompressed body would be %d bytes, more than the limit of %d", n, max)
	}
	// Snappy's length is the decoded size it promises; a block that
	// decodes to less is refused by Decode, so the length cannot inflate
	// memory past max even when it lies.
	if n > cap(dst) {
		if err := res.Grow(int64(n)); err != nil {
			return nil, err
		}
	}
	out, err := snappy.Decode(dst[:cap(dst)], b)
	if err != nil {
		return nil, Errorf(ReasonMalformed, "snappy body: %v", err)
	}
	return out, nil
}

// StatusOf maps an error of ingest to an HTTP status: 413 for a body over
// a limit or a batch of too many lines, 415 for an unknown encoding or
// content type, 408 for a body that stopped arriving, 503 for a request
// refused by InFlight, 400 for any other rejection, 500 for everything
// else.
func StatusOf(err error) int {
	switch ReasonOf(err) {
	case "":
		return http.StatusInternalServerError
	case ReasonBodyTooLarge, ReasonTooManyLines:
		return http.StatusRequestEntityTooLarge
	case ReasonUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case ReasonBodyTimeout:
		return http.StatusRequestTimeout
	case ReasonOverloaded:
		return http.StatusServiceUnavailable
	default:
		return http.StatusBadRequest
	}
}

// Bodies reads request bodies into reused buffers, for handlers that copy
// what they keep out of the body before answering. The zero value is
// ready to use and safe for concurrent use.
type Bodies struct {
	pool sync.Pool // *[]byte
}

// maxPooledBuffer is the largest buffer Bodies keeps for reuse: larger
// than the bodies Prometheus and the OTel Collector send (a remote-write
// request of 2,000 samples is ~100 KiB), small enough that a few requests
// grown by a hostile or unusual client do not stay in memory.
const maxPooledBuffer = 4 << 20

func (p *Bodies) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

// put keeps buffers up to maxPooledBuffer; larger ones are left to the GC.
func (p *Bodies) put(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		*b = (*b)[:0]
		p.pool.Put(b)
	}
}

// ReadSnappy reads a snappy-block body (remote write's framing) under the
// limits into reused buffers. The body is valid until release is called.
// Its errors are ReadBody's.
func (p *Bodies) ReadSnappy(r *http.Request, l BodyLimits) (body []byte, release func(), err error) {
	res := ReservationFrom(r.Context())
	raw := p.get()
	defer p.put(raw)
	if err := res.Grow(int64(cap(*raw))); err != nil {
		return nil, nil, err
	}
	if err := readInto(raw, r.Body, r.ContentLength, l.MaxBytes, "request body", false, res); err != nil {
		return nil, nil, err
	}
	dec := p.get()
	if err := res.Grow(int64(cap(*dec))); err != nil {
		p.put(dec)
		return nil, nil, err
	}
	out, err := snappyDecode(*dec, *raw, l.MaxDecodedBytes, res)
	if err != nil {
		p.put(dec)
		return nil, nil, err
	}
	if cap(out) > cap(*dec) {
		*dec = out // Decode allocated a larger buffer: keep it for reuse
	}
	return out, func() { p.put(dec) }, nil
}

// firstRead is the most readInto allocates before bytes arrive.
const firstRead = 64 << 10

// chunkSize is the size of the pooled chunks that a body larger than its
// first buffer is read into before it is joined.
const chunkSize = 1 << 20

// chunkPool holds chunks for readInto. Reading a large body into pooled
// chunks and joining them once it is complete allocates the body once,
// where growing one buffer by doubling allocates it about three times
// over and leaves the rest to the GC: with many large or hostile bodies
// (a decompression bomb reads up to the decoded limit, then is refused)
// that garbage, not the live buffers, set the process' peak memory.
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, chunkSize)
	return &b
}}

// readInto reads all of r into *buf, refusing more than limit bytes, and
// reserves in res what it allocates. size is the announced length
// (Content-Length), -1 if unknown: a size over limit is refused before
// reading, and a size is never allocated before its bytes arrive (a
// client announcing 32 MiB and sending nothing holds 64 KiB). A body that
// fits *buf's capacity (or the first 64 KiB) is read in place; a larger
// one continues into pooled chunks and is joined into one exact
// allocation at its end. decoding says r is a decompressor, whose errors
// mean a corrupt body rather than a failed read.
func readInto(buf *[]byte, r io.Reader, size, limit int64, what string, decoding bool, res *Reservation) error {
	if size > limit {
		return Errorf(ReasonBodyTooLarge, "%s of %d bytes (Content-Length) is larger than the limit of %d bytes", what, size, limit)
	}
	b := (*buf)[:0]
	if cap(b) == 0 {
		n := int64(firstRead)
		if size >= 0 {
			n = min(n, size+1) // one more byte to see the end
		}
		n = min(n, limit+1)
		if err := res.Grow(n); err != nil {
			return err
		}
		b = make([]byte, 0, n)
	}
	*buf = b
	var chunks []*[]byte // filled after b, each to its length but the last
	defer func() {
		for _, c := range chunks {
			chunkPool.Put(c)
		}
		res.Release(int64(len(chunks)) * chunkSize)
	}()
	cur, total := b, int64(0)
	for {
		if len(cur) == cap(cur) {
			if len(chunks) == 0 {
				b = cur // the first buffer, full
			}
			if err := res.Grow(chunkSize); err != nil {
				return err
			}
			c := chunkPool.Get().(*[]byte)
			chunks = append(chunks, c)
			cur = (*c)[:0]
		}
		n, err := r.Read(cur[len(cur):cap(cur)])
		cur = cur[:len(cur)+n]
		total += int64(n)
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case total > limit:
			return Errorf(ReasonBodyTooLarge, "%s is larger than the limit of %d bytes", what, limit)
		case err == io.EOF:
			if len(chunks) == 0 {
				*buf = cur
				return nil
			}
			if err := res.Grow(total); err != nil {
				return err
			}
			out := append(make([]byte, 0, total), b...)
			for i, c := range chunks {
				if i < len(chunks)-1 {
					out = append(out, *c...)
				} else {
					out = append(out, cur...)
				}
			}
			*buf = out
			return nil
		case err == nil:
		case errors.As(err, &mbe):
			return Errorf(ReasonBodyTooLarge, "%s is larger than the limit of %d bytes", what, mbe.Limit)
		case errors.Is(err, zstd.ErrDecoderSizeExceeded):
			return Errorf(ReasonBodyTooLarge, "%s is larger than the limit of %d bytes", what, limit)
		case decoding:
			return Errorf(ReasonMalformed, "%s: %v", what, err)
		case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
			return Errorf(ReasonBodyTimeout, "%s stopped arriving after %d bytes: %v", what, total, err)
		default:
			// Reading a request body fails only by the client: a
			// malformed chunked encoding, or a connection closed
			// mid-body.
			return Errorf(ReasonBodyRead, "reading the %s after %d bytes: %v", what, total, err)
		}
	}
}
