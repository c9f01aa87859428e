package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
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
// returns an *Error for a body over a limit, an unknown encoding or a
// corrupt compressed stream.
func ReadBody(r *http.Request, l BodyLimits) ([]byte, error) {
	raw, err := readLimited(r.Body, l.MaxBytes, "request body", false)
	if err != nil {
		return nil, err
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, Errorf(ReasonMalformed, "gzip body: %v", err)
		}
		return readLimited(zr, l.MaxDecodedBytes, "decompressed body", true)
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(raw), zstd.WithDecoderMaxMemory(uint64(l.MaxDecodedBytes)+1), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, Errorf(ReasonMalformed, "zstd body: %v", err)
		}
		defer zr.Close()
		return readLimited(zr, l.MaxDecodedBytes, "decompressed body", true)
	case "snappy":
		return snappyDecode(nil, raw, l.MaxDecodedBytes)
	default:
		return nil, Errorf(ReasonUnsupportedMedia, "Content-Encoding %q is not supported; use gzip, zstd, snappy or none", enc)
	}
}

// DecodeSnappy decodes a snappy block (as remote_write and Loki's push
// protobuf send) whose decoded length must not pass max.
func DecodeSnappy(b []byte, max int64) ([]byte, error) { return snappyDecode(nil, b, max) }

// snappyDecode decodes a snappy block whose decoded length must not pass
// max, into dst when it is large enough.
func snappyDecode(dst, b []byte, max int64) ([]byte, error) {
	n, err := snappy.DecodedLen(b)
	if err != nil {
		return nil, Errorf(ReasonMalformed, "snappy body: %v", err)
	}
	if int64(n) > max {
		return nil, Errorf(ReasonBodyTooLarge, "decompressed body would be %d bytes, more than the limit of %d", n, max)
	}
	out, err := snappy.Decode(dst[:cap(dst)], b)
	if err != nil {
		return nil, Errorf(ReasonMalformed, "snappy body: %v", err)
	}
	return out, nil
}

// readLimited reads at most max bytes of r. decoding says r is a
// decompressor, whose errors mean a corrupt body rather than a failed read.
func readLimited(r io.Reader, max int64, what string, decoding bool) ([]byte, error) {
	var b []byte
	err := readInto(&b, r, -1, max, what, decoding)
	return b, err
}

// StatusOf maps an error of ingest to an HTTP status: 413 for a body over
// a limit or a batch of too many lines, 415 for an unknown encoding or
// content type, 400 for any other rejection, 500 for everything else.
func StatusOf(err error) int {
	switch ReasonOf(err) {
	case "":
		return http.StatusInternalServerError
	case ReasonBodyTooLarge, ReasonTooManyLines:
		return http.StatusRequestEntityTooLarge
	case ReasonUnsupportedMedia:
		return http.StatusUnsupportedMediaType
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

func (p *Bodies) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

// put keeps buffers up to 16 MiB; larger ones are left to the GC.
func (p *Bodies) put(b *[]byte) {
	if cap(*b) <= 16<<20 {
		*b = (*b)[:0]
		p.pool.Put(b)
	}
}

// ReadSnappy reads a snappy-block body (remote write's framing) under the
// limits into reused buffers. The body is valid until release is called.
func (p *Bodies) ReadSnappy(r *http.Request, l BodyLimits) (body []byte, release func(), err error) {
	raw := p.get()
	defer p.put(raw)
	if err := readInto(raw, r.Body, r.ContentLength, l.MaxBytes, "request body", false); err != nil {
		return nil, nil, err
	}
	dec := p.get()
	out, err := snappyDecode(*dec, *raw, l.MaxDecodedBytes)
	if err != nil {
		p.put(dec)
		return nil, nil, err
	}
	if cap(out) > cap(*dec) {
		*dec = out // Decode allocated a larger buffer: keep it for reuse
	}
	return out, func() { p.put(dec) }, nil
}

// readInto reads all of r into *buf, growing it, refusing more than max
// bytes. size is the announced length (Content-Length), -1 if unknown.
// decoding says r is a decompressor, whose errors mean a corrupt body
// rather than a failed read.
func readInto(buf *[]byte, r io.Reader, size, max int64, what string, decoding bool) error {
	tooLarge := func(limit int64) error {
		return Errorf(ReasonBodyTooLarge, "%s is larger than the limit of %d bytes", what, limit)
	}
	if size > max {
		return tooLarge(max)
	}
	if size > 0 && int64(cap(*buf)) < size {
		*buf = make([]byte, 0, size)
	}
	b := (*buf)[:0]
	defer func() { *buf = b }()
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		var mbe *http.MaxBytesError
		switch {
		case int64(len(b)) > max:
			return tooLarge(max)
		case err == io.EOF:
			return nil
		case err == nil:
		case errors.As(err, &mbe):
			return tooLarge(mbe.Limit)
		case errors.Is(err, zstd.ErrDecoderSizeExceeded):
			return tooLarge(max)
		case decoding:
			return Errorf(ReasonMalformed, "%s: %v", what, err)
		default:
			return fmt.Errorf("read %s: %w", what, err)
		}
	}
}
