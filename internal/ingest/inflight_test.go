package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
)

// countingReader counts the reads of a body.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

// A body announcing 32 MiB and sending 10 bytes holds no more than the
// first read's buffer: the announced length is a bound, not an allocation.
func TestReadBodyDoesNotTrustContentLength(t *testing.T) {
	f := NewInFlight(0, 0, nil)
	res, _ := f.Begin()
	defer res.End()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("0123456789"))
	r.ContentLength = 32 << 20
	r = r.WithContext(WithReservation(r.Context(), res))
	b, err := ReadBody(r, BodyLimits{MaxBytes: 64 << 20, MaxDecodedBytes: 64 << 20})
	if err != nil || string(b) != "0123456789" {
		t.Fatalf("ReadBody = %q, %v", b, err)
	}
	if cap(b) > firstRead || res.Bytes() > firstRead {
		t.Fatalf("a 10-byte body announced as 32 MiB holds a %d-byte buffer and reserves %d bytes; want at most %d", cap(b), res.Bytes(), firstRead)
	}
}

// An announced length over the limit is refused before a byte is read.
func TestReadBodyRefusesContentLengthUpFront(t *testing.T) {
	cr := &countingReader{r: strings.NewReader("x")}
	r := httptest.NewRequest(http.MethodPost, "/", cr)
	r.ContentLength = 2 << 20
	_, err := ReadBody(r, BodyLimits{MaxBytes: 1 << 20, MaxDecodedBytes: 1 << 20})
	if ReasonOf(err) != ReasonBodyTooLarge || !strings.Contains(err.Error(), "Content-Length") {
		t.Fatalf("err = %v, want %s naming Content-Length", err, ReasonBodyTooLarge)
	}
	if cr.reads != 0 {
		t.Fatalf("%d reads of a body refused by its Content-Length", cr.reads)
	}
}

func TestInFlight(t *testing.T) {
	f := NewInFlight(2, 1000, nil)
	a, err := f.Begin()
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Begin(); ReasonOf(err) != ReasonOverloaded || StatusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("third request: %v, want %s (503)", err, ReasonOverloaded)
	}
	if err := a.Grow(600); err != nil {
		t.Fatal(err)
	}
	if err := b.Grow(500); ReasonOf(err) != ReasonOverloaded || !strings.Contains(err.Error(), "limits.max_inflight_bytes") {
		t.Fatalf("growth past the byte limit: %v", err)
	}
	if err := b.Grow(400); err != nil {
		t.Fatalf("growth up to the byte limit: %v", err)
	}
	a.End()
	a.End() // idempotent
	if got := f.Bytes(); got != 400 {
		t.Fatalf("after one request ended, %d bytes in flight, want 400", got)
	}
	c, err := f.Begin()
	if err != nil {
		t.Fatalf("a request after one ended: %v", err)
	}
	c.End()
	b.End()
	if f.Bytes() != 0 || f.requests.Load() != 0 {
		t.Fatalf("after all ended: %d bytes, %d requests", f.Bytes(), f.requests.Load())
	}
	var nilF *InFlight
	r, err := nilF.Begin()
	if err != nil || r.Grow(1<<40) != nil {
		t.Fatal("a nil InFlight limits nothing")
	}
	r.End()
}

// Concurrent requests never hold more than the byte limit, and release
// everything at the end.
func TestInFlightConcurrent(t *testing.T) {
	f := NewInFlight(0, 1<<20, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				r, _ := f.Begin()
				for j := 0; j < 4; j++ {
					_ = r.Grow(100 << 10)
					if b := f.Bytes(); b > 1<<20 {
						t.Errorf("%d bytes in flight, limit %d", b, 1<<20)
					}
				}
				r.End()
			}
		}()
	}
	wg.Wait()
	if f.Bytes() != 0 {
		t.Fatalf("%d bytes left reserved", f.Bytes())
	}
}

// A body that would pass the byte budget is refused with 503 while it is
// read or decompressed, whichever encoding it comes in.
func TestReadBodyOverBudget(t *testing.T) {
	payload := bytes.Repeat([]byte("horus "), 100<<10) // 600 KiB
	lim := BodyLimits{MaxBytes: 8 << 20, MaxDecodedBytes: 8 << 20}
	for _, c := range []struct {
		enc  string
		body []byte
	}{{"", payload}, {"gzip", gzipped(payload)}, {"zstd", zstded(payload)}, {"snappy", snappy.Encode(nil, payload)}} {
		f := NewInFlight(0, 256<<10, nil)
		res, _ := f.Begin()
		r := request(c.body, c.enc)
		r = r.WithContext(WithReservation(r.Context(), res))
		_, err := ReadBody(r, lim)
		if ReasonOf(err) != ReasonOverloaded {
			t.Errorf("encoding %q: %v, want %s", c.enc, err, ReasonOverloaded)
		}
		var p Bodies
		if c.enc == "snappy" {
			r := request(c.body, c.enc)
			r = r.WithContext(WithReservation(r.Context(), res))
			if _, _, err := p.ReadSnappy(r, lim); ReasonOf(err) != ReasonOverloaded {
				t.Errorf("ReadSnappy: %v, want %s", err, ReasonOverloaded)
			}
		}
		res.End()
		if f.Bytes() != 0 {
			t.Errorf("encoding %q: %d bytes left reserved", c.enc, f.Bytes())
		}
	}
}

// A malformed chunked body is the client's fault: a 400 (not a 5xx a
// client would retry), whatever the handler.
func TestReadBodyMalformedChunked(t *testing.T) {
	got := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := ReadBody(r, BodyLimits{MaxBytes: 1 << 20, MaxDecodedBytes: 1 << 20})
		got <- err
		w.WriteHeader(StatusOf(err))
	}))
	defer srv.Close()
	conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
	select {
	case err := <-got:
		if ReasonOf(err) != ReasonBodyRead || StatusOf(err) != http.StatusBadRequest {
			t.Fatalf("malformed chunked body: %v (status %d), want %s (400)", err, StatusOf(err), ReasonBodyRead)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer to a malformed chunked body")
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
}

// Bodies past the first buffer are read into pooled chunks and joined
// whole, in every encoding and with or without an announced length; the
// chunks' reservation is given back.
func TestReadBodyLarge(t *testing.T) {
	payload := make([]byte, 3<<20+12345)
	for i := range payload {
		payload[i] = byte(i*7 + i/1000)
	}
	lim := BodyLimits{MaxBytes: 16 << 20, MaxDecodedBytes: 16 << 20}
	for _, c := range []struct {
		enc  string
		body []byte
	}{{"", payload}, {"gzip", gzipped(payload)}, {"zstd", zstded(payload)}, {"snappy", snappy.Encode(nil, payload)}} {
		for _, announced := range []bool{true, false} {
			f := NewInFlight(0, 0, nil)
			res, _ := f.Begin()
			r := request(c.body, c.enc)
			if !announced {
				r.ContentLength = -1
			}
			r = r.WithContext(WithReservation(r.Context(), res))
			got, err := ReadBody(r, lim)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("encoding %q, announced %v: %v, %d bytes, equal %v", c.enc, announced, err, len(got), bytes.Equal(got, payload))
			}
			// What stays reserved is the bodies returned, not the chunks.
			if want := int64(len(c.body)+len(payload)) + 2*firstRead; res.Bytes() > want {
				t.Errorf("encoding %q: %d bytes reserved after the read, want at most %d", c.enc, res.Bytes(), want)
			}
			res.End()
		}
	}
	var p Bodies
	r := request(snappy.Encode(nil, payload), "snappy")
	got, release, err := p.ReadSnappy(r, lim)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("ReadSnappy of a large body: %v", err)
	}
	release()
}

// A store failure is an error, unless the client went away first.
func TestLogFailure(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	LogFailure(ctx, logger, "storing failed", errors.New("disk full"))
	cancel()
	LogFailure(ctx, logger, "storing failed", errors.New("write: broken"))
	LogFailure(context.Background(), logger, "storing failed", fmt.Errorf("append: %w", context.Canceled))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[1], "level=DEBUG") || !strings.Contains(lines[2], "level=DEBUG") {
		t.Fatalf("log lines:\n%s", buf.String())
	}
}
