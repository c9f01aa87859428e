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

// readInto reads all of r into *buf, growing it as bytes arrive and
// reserving each growth in res, refusing more than limit bytes. size is the
// announced length (Content-Length), -1 if unknown: a size over limit is
// refused before reading, and a size is never allocated before its bytes
// arrive (a client announcing 32 MiB and sending nothing holds 64 KiB).
// decoding says r is a decompressor, whose errors mean a corrupt body
// rather than a failed read.
func readInto(buf *[]byte, r io.Reader, size, limit int64, what string, decoding bool, res *Reservation) error {
	tooLarge := func(n int64) error {
		return Errorf(ReasonBodyTooLarge, "%s is larger than the limit of %d bytes", what, n)
	}
	if size > limit {
		return Errorf(ReasonBodyTooLarge, "%s of %d bytes (Content-Length) is larger than the limit of %d bytes", what, size, limit)
	}
	b := (*buf)[:0]
	defer func() { *buf = b }()
	for {
		if len(b) == cap(b) {
			// Grow geometrically, but no further than the bytes that
			// could still be accepted.
			next := max(2*cap(b), firstRead)
			if size > 0 && cap(b) == 0 {
				next = int(min(size+1, firstRead))
			}
			next = int(min(int64(next), limit+1))
			if err := res.Grow(int64(next)); err != nil {
				return err
			}
			nb := make([]byte, len(b), next)
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case int64(len(b)) > limit:
			return tooLarge(limit)
		case err == io.EOF:
			return nil
		case err == nil:
		case errors.As(err, &mbe):
			return tooLarge(mbe.Limit)
		case errors.Is(err, zstd.ErrDecoderSizeExceeded):
			return tooLarge(limit)
		case decoding:
			return Errorf(ReasonMalformed, "%s: %v", what, err)
		case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
			return Errorf(ReasonBodyTimeout, "%s stopped arriving after %d bytes: %v", what, len(b), err)
		default:
			// Reading a request body fails only by the client: a
			// malformed chunked encoding, or a connection closed
			// mid-body.
			return Errorf(ReasonBodyRead, "reading the %s after %d bytes: %v", what, len(b), err)
		}
	}
}
