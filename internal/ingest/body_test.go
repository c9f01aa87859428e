package ingest

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

func request(body []byte, enc string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if enc != "" {
		r.Header.Set("Content-Encoding", enc)
	}
	return r
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func zstded(b []byte) []byte {
	e, _ := zstd.NewWriter(nil)
	return e.EncodeAll(b, nil)
}

func TestReadBody(t *testing.T) {
	payload := []byte(strings.Repeat("horus ", 100))
	lim := BodyLimits{MaxBytes: 1 << 10, MaxDecodedBytes: 4 << 10}
	cases := []struct {
		name   string
		body   []byte
		enc    string
		reason Reason
	}{
		{"identity", payload, "", ""},
		{"gzip", gzipped(payload), "gzip", ""},
		{"zstd", zstded(payload), "zstd", ""},
		{"snappy", snappy.Encode(nil, payload), "snappy", ""},
		{"too large raw", make([]byte, 2<<10), "", ReasonBodyTooLarge},
		{"gzip bomb", gzipped(make([]byte, 1<<20)), "gzip", ReasonBodyTooLarge},
		{"zstd bomb", zstded(make([]byte, 1<<20)), "zstd", ReasonBodyTooLarge},
		{"snappy bomb", snappy.Encode(nil, make([]byte, 1<<20)), "snappy", ReasonBodyTooLarge},
		{"corrupt gzip", []byte("not gzip at all"), "gzip", ReasonMalformed},
		{"truncated gzip", gzipped(payload)[:20], "gzip", ReasonMalformed},
		{"corrupt zstd", []byte("not zstd"), "zstd", ReasonMalformed},
		{"corrupt snappy", []byte{0xff, 0xff, 0xff}, "snappy", ReasonMalformed},
		{"unknown encoding", payload, "br", ReasonUnsupportedMedia},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadBody(request(c.body, c.enc), lim)
			if ReasonOf(err) != c.reason {
				t.Fatalf("err = %v, want reason %q", err, c.reason)
			}
			if c.reason == "" && !bytes.Equal(got, payload) {
				t.Fatalf("decoded %d bytes, want the %d-byte payload", len(got), len(payload))
			}
			if c.reason != "" && StatusOf(err)/100 != 4 {
				t.Fatalf("status %d for a rejection", StatusOf(err))
			}
		})
	}
}

func FuzzReadBody(f *testing.F) {
	f.Add([]byte("x"), "")
	f.Add(gzipped([]byte("hello")), "gzip")
	f.Add(zstded([]byte("hello")), "zstd")
	f.Add(snappy.Encode(nil, []byte("hello")), "snappy")
	f.Fuzz(func(t *testing.T, body []byte, enc string) {
		b, err := ReadBody(request(body, enc), BodyLimits{MaxBytes: 1 << 16, MaxDecodedBytes: 1 << 18})
		if err != nil && ReasonOf(err) == "" {
			t.Fatalf("non-rejection error for client input: %v", err)
		}
		if len(b) > 1<<18 {
			t.Fatalf("decoded %d bytes past the limit", len(b))
		}
	})
}

func TestBodiesReadSnappy(t *testing.T) {
	var p Bodies
	lim := BodyLimits{MaxBytes: 1 << 10, MaxDecodedBytes: 4 << 10}
	payload := []byte(strings.Repeat("horus ", 300))
	for i := 0; i < 3; i++ { // reuse of pooled buffers
		b, release, err := p.ReadSnappy(request(snappy.Encode(nil, payload), "snappy"), lim)
		if err != nil || !bytes.Equal(b, payload) {
			t.Fatalf("round %d: %v, %d bytes", i, err, len(b))
		}
		release()
	}
	cases := []struct {
		name   string
		body   []byte
		reason Reason
	}{
		{"too large", make([]byte, 2<<10), ReasonBodyTooLarge},
		{"bomb", snappy.Encode(nil, make([]byte, 1<<20)), ReasonBodyTooLarge},
		{"corrupt", []byte{0xff, 0xff, 0xff}, ReasonMalformed},
		{"truncated", snappy.Encode(nil, payload)[:20], ReasonMalformed},
	}
	for _, c := range cases {
		r := request(c.body, "snappy")
		r.ContentLength = -1 // no announced length: the limit applies while reading
		if _, _, err := p.ReadSnappy(r, lim); ReasonOf(err) != c.reason {
			t.Errorf("%s: %v, want %s", c.name, err, c.reason)
		}
	}
}
