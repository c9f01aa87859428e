// Package shapetest builds the bodies of the attacks package shape guards
// against (values nested deep, bodies of empty items) and measures the
// memory a decoder takes on them, for the decoders' tests and benchmarks.
package shapetest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/horus-obs/horus/internal/store/events"
)

// Mem is the memory one call took.
type Mem struct {
	// Total is the bytes allocated during the call (MemStats.TotalAlloc).
	Total uint64
	// Peak is the most the live heap (MemStats.HeapAlloc) grew over its
	// level before the call, sampled every millisecond and at the end.
	Peak uint64
}

// Measure runs f and returns the memory it took. Other goroutines'
// allocations count too: measure with nothing else running.
func Measure(f func()) Mem {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var (
		mu   sync.Mutex
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		if ms.HeapAlloc > before.HeapAlloc && ms.HeapAlloc-before.HeapAlloc > peak {
			peak = ms.HeapAlloc - before.HeapAlloc
		}
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	f()
	sample()
	close(done)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return Mem{Total: after.TotalAlloc - before.TotalAlloc, Peak: peak}
}

// Repeat is n copies of item: the body of n empty items when item is an
// empty message field (0a 00).
func Repeat(item []byte, n int) []byte { return bytes.Repeat(item, n) }

// Field is a protobuf length-delimited field num holding msg.
func Field(num protowire.Number, msg []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

// Nest is inner inside depth messages, each written as prefix(n) before
// its content of n bytes: Nest(v, 2, p) is p(len(p(len(v)))+len(p(len(v)))+len(v)) ++ p(len(v)) ++ v.
// It takes time linear in the result.
func Nest(inner []byte, depth int, prefix func(n int) []byte) []byte {
	prefixes := make([][]byte, depth)
	n := len(inner)
	for i := range depth {
		prefixes[i] = prefix(n)
		n += len(prefixes[i])
	}
	out := make([]byte, 0, n)
	for i := depth - 1; i >= 0; i-- {
		out = append(out, prefixes[i]...)
	}
	return append(out, inner...)
}

// Prefix is the tag and length of a length-delimited field num holding
// n bytes.
func Prefix(num protowire.Number, n int) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(n))
}

// NestJSON is open depth times, then middle, then close depth times: a
// JSON value nested depth levels deep, built without recursion.
func NestJSON(open, middle, close string, depth int) []byte {
	var b bytes.Buffer
	b.Grow(depth*(len(open)+len(close)) + len(middle))
	for range depth {
		b.WriteString(open)
	}
	b.WriteString(middle)
	for range depth {
		b.WriteString(close)
	}
	return b.Bytes()
}

// RW2SymbolAmplification is a remote write 2.0 request (not compressed)
// of series series, each naming the same 62 symbols of ~5 KB (names of
// 1,000 bytes, values of 4,000) and one label of its own: ~130 bytes a
// series on the wire, ~310 KB of labels a series once expanded.
func RW2SymbolAmplification(series int, t int64) []byte {
	req := writev2.Request{Symbols: []string{"", "__name__", "amplified"}}
	var refs []uint32
	for i := 0; i < 62; i++ {
		req.Symbols = append(req.Symbols, fmt.Sprintf("n%02d_%s", i, strings.Repeat("n", 1000)), fmt.Sprintf("%s_%d", strings.Repeat("v", 4000), i))
		refs = append(refs, uint32(len(req.Symbols)-2), uint32(len(req.Symbols)-1))
	}
	for s := 0; s < series; s++ {
		req.Symbols = append(req.Symbols, "series", strconv.Itoa(s))
		ls := append([]uint32{1, 2, uint32(len(req.Symbols) - 2), uint32(len(req.Symbols) - 1)}, refs...)
		req.Timeseries = append(req.Timeseries, writev2.TimeSeries{LabelsRefs: ls, Samples: []writev2.Sample{{Value: 1, Timestamp: t}}})
	}
	b, err := req.Marshal()
	if err != nil {
		panic(err) // a request made here always marshals
	}
	return b
}

// Gzip compresses b, as an attacker sends it to pass the body limit.
func Gzip(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

// Post sends body to url by POST with the headers given and returns the
// status and the body of the answer.
func Post(t testing.TB, c *http.Client, url string, body []byte, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Sink counts the log records or spans it is given, by tenant: an
// ingest.LogSink and ingest.SpanSink. The zero value is ready, and safe
// for concurrent use.
type Sink struct {
	mu sync.Mutex
	n  map[string]int
}

// AppendLogs implements ingest.LogSink.
func (s *Sink) AppendLogs(_ context.Context, tenant string, logs []events.Event) error {
	s.add(tenant, len(logs))
	return nil
}

// AppendSpans implements ingest.SpanSink.
func (s *Sink) AppendSpans(_ context.Context, tenant string, spans []events.Event) error {
	s.add(tenant, len(spans))
	return nil
}

func (s *Sink) add(tenant string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[tenant] += n
}

// Count is what the tenant was given.
func (s *Sink) Count(tenant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[tenant]
}
