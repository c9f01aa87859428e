package remotewrite

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/ingest/shape/shapetest"
)

// sampleRequest has every kind of entry a remote-write 1.0 sender puts in
// a request.
func sampleRequest() *prompb.WriteRequest {
	h := &histogram.Histogram{Count: 3, Sum: 4.5, Schema: 1, PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1, 1}, ZeroCount: 0}
	return &prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{
			{Labels: []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "a"}}, Samples: []prompb.Sample{{Value: 1, Timestamp: 1000}, {Value: 0, Timestamp: 2000}}},
			{Labels: []prompb.Label{{Name: "job", Value: "b"}, {Name: "__name__", Value: "unsorted"}}, Samples: []prompb.Sample{{Value: -1.5, Timestamp: -5}}},
			{Labels: []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "a"}}, Exemplars: []prompb.Exemplar{{Labels: []prompb.Label{{Name: "trace_id", Value: "abc"}}, Value: 1, Timestamp: 1500}}},
			{Labels: []prompb.Label{{Name: "__name__", Value: "lat"}}, Histograms: []prompb.Histogram{prompb.FromIntHistogram(3000, h)}},
			{Labels: []prompb.Label{{Name: "__name__", Value: ""}, {Name: "", Value: "x"}}},
		},
		Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "up", Help: "h", Unit: "u"}},
	}
}

// decodedRequest is what both decoders are reduced to for comparison.
type decodedRequest struct {
	Series []string
	Meta   []prompb.MetricMetadata
}

func viaStreaming(b []byte) (decodedRequest, error) {
	var out decodedRequest
	var d decoder
	err := d.decodeV1(b, func(s *v1Series) error {
		out.Series = append(out.Series, describe(s.Labels, s.Samples, s.Exemplars, s.Histograms))
		return nil
	}, func(md *prompb.MetricMetadata) { out.Meta = append(out.Meta, *md) })
	return out, err
}

func viaGenerated(b []byte) (decodedRequest, error) {
	var out decodedRequest
	var req prompb.WriteRequest
	if err := req.Unmarshal(b); err != nil {
		return out, err
	}
	sb := labels.NewScratchBuilder(0)
	for _, ts := range req.Timeseries {
		var es []exemplar.Exemplar
		for _, e := range ts.Exemplars {
			es = append(es, e.ToExemplar(&sb, nil))
		}
		out.Series = append(out.Series, describe(ts.ToLabels(&sb, nil), ts.Samples, es, ts.Histograms))
	}
	out.Meta = req.Metadata
	return out, nil
}

func describe(ls labels.Labels, ss []prompb.Sample, es []exemplar.Exemplar, hs []prompb.Histogram) string {
	s := ls.String()
	for _, x := range ss {
		s += fmt.Sprintf(" s(%v@%d)", x.Value, x.Timestamp)
	}
	for _, e := range es {
		s += fmt.Sprintf(" e(%s %v@%d %v)", e.Labels, e.Value, e.Ts, e.HasTs)
	}
	for _, h := range hs {
		s += fmt.Sprintf(" h(%s)", h.String())
	}
	return s
}

func TestStreamingDecoderMatchesGenerated(t *testing.T) {
	b, err := sampleRequest().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := viaStreaming(b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := viaGenerated(b)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("streaming:\n%v\ngenerated:\n%v", got, want)
	}
	for cut := 0; cut < len(b); cut++ {
		_, errS := viaStreaming(b[:cut])
		_, errG := viaGenerated(b[:cut])
		if (errS == nil) != (errG == nil) {
			t.Fatalf("truncated at %d: streaming err %v, generated err %v", cut, errS, errG)
		}
	}
}

// FuzzDecodeV1 checks the streaming decoder against the generated one on
// arbitrary input: both accept or both refuse, and accepted input decodes
// to the same series.
func FuzzDecodeV1(f *testing.F) {
	b, _ := sampleRequest().Marshal()
	f.Add(b)
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x08, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, errS := viaStreaming(b)
		want, errG := viaGenerated(b)
		if errS != nil && errG == nil && stricterThanGogo(errS) {
			return
		}
		if (errS == nil) != (errG == nil) {
			t.Fatalf("streaming err %v, generated err %v", errS, errG)
		}
		if errS == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("streaming:\n%v\ngenerated:\n%v", got, want)
		}
	})
}

// stricterThanGogo tells whether a streaming-decoder error is one of the
// malformations the protobuf specification forbids but gogo's skipping of
// unknown fields lets through (overlong varints, unbalanced groups,
// invalid field numbers). Refusing them is correct.
func stricterThanGogo(err error) bool {
	for _, s := range []string{"integer overflow", "end group", "invalid field number", "reserved"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

func BenchmarkDecodeV1(b *testing.B) {
	req := &prompb.WriteRequest{}
	for i := 0; i < 2000; i++ {
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
			Labels: []prompb.Label{{Name: "__name__", Value: "http_request_duration_seconds_bucket"}, {Name: "instance", Value: fmt.Sprintf("10.0.0.%d:8080", i%250)},
				{Name: "job", Value: "svc-03"}, {Name: "le", Value: "0.25"}, {Name: "method", Value: "GET"}, {Name: "route", Value: "/api/cart"}},
			Samples: []prompb.Sample{{Value: float64(i), Timestamp: 1700000000000}},
		})
	}
	buf, _ := req.Marshal()
	b.Run("streaming", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		var d decoder
		for b.Loop() {
			_ = d.decodeV1(buf, func(*v1Series) error { return nil }, func(*prompb.MetricMetadata) {})
		}
	})
	b.Run("generated", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		sb := labels.NewScratchBuilder(0)
		for b.Loop() {
			var r prompb.WriteRequest
			_ = r.Unmarshal(buf)
			for _, ts := range r.Timeseries {
				_ = ts.ToLabels(&sb, nil)
			}
		}
	})
}

// TestSeriesCache decodes a request twice with the cache: the second time
// every series with contiguous labels comes from the cache, with the same
// labels and the reference given the first time.
func TestSeriesCache(t *testing.T) {
	b, err := sampleRequest().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// A series whose labels are split by a sample: valid protobuf, but
	// not cacheable by its raw bytes.
	b = append(b, splitLabelsSeries()...)

	d := decoder{cache: newSeriesCache(1000)}
	var first []string
	seen := map[string]bool{}
	next := storage.SeriesRef(1)
	err = d.decodeV1(b, func(s *v1Series) error {
		if s.Known != seen[s.Labels.String()] {
			t.Errorf("first pass: %s known %v, want %v (known only when seen before)", s.Labels, s.Known, !s.Known)
		}
		seen[s.Labels.String()] = true
		first = append(first, s.Labels.String())
		s.Ref = next
		next++
		return nil
	}, func(*prompb.MetricMetadata) {})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	err = d.decodeV1(b, func(s *v1Series) error {
		if s.Labels.String() != first[i] {
			t.Errorf("series %d: %s, want %s", i, s.Labels, first[i])
		}
		wantKnown := i != len(first)-1 // all but the split one
		if s.Known != wantKnown {
			t.Errorf("series %d (%s): known %v, want %v", i, s.Labels, s.Known, wantKnown)
		}
		i++
		return nil
	}, func(*prompb.MetricMetadata) {})
	if err != nil {
		t.Fatal(err)
	}
}

// splitLabelsSeries encodes a WriteRequest field 1 holding a TimeSeries
// whose two Label fields have a Sample between them.
func splitLabelsSeries() []byte {
	label := func(n, v string) []byte {
		m := append([]byte{0x0a, byte(len(n))}, n...)
		m = append(m, 0x12, byte(len(v)))
		m = append(m, v...)
		return append([]byte{0x0a, byte(len(m))}, m...)
	}
	ts := label("__name__", "split")
	ts = append(ts, 0x12, 0x02, 0x10, 0x05) // Sample{timestamp: 5}
	ts = append(ts, label("zone", "a")...)
	return append([]byte{0x0a, byte(len(ts))}, ts...)
}

// server serves a remote-write handler on 127.0.0.1 whose bodies may be
// 64 MiB decoded.
func server(t testing.TB) *httptest.Server {
	t.Helper()
	h := newHandler(t)
	h.opts.Body = ingest.BodyLimits{MaxBytes: 64 << 20, MaxDecodedBytes: 64 << 20}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// write posts a snappy-compressed remote-write body of version v2 or 1.0.
func write(t testing.TB, ts *httptest.Server, body []byte, v2 bool) (int, string) {
	t.Helper()
	ct := "application/x-protobuf"
	if v2 {
		ct += ";proto=io.prometheus.write.v2.Request"
	}
	return shapetest.Post(t, ts.Client(), ts.URL, snappy.Encode(nil, body), map[string]string{"Content-Type": ct, "Content-Encoding": "snappy"})
}

// TestEmptyItems: remote-write bodies of empty series or samples are
// refused with a 413, 2.0 before gogo decodes them, 1.0 at the series that
// would pass the bound; a real request of both versions is written.
func TestEmptyItems(t *testing.T) {
	ts := server(t)
	now := time.Now().UnixMilli()
	v2 := &writev2.Request{Symbols: []string{"", "__name__", "m", "i"}}
	v1 := &prompb.WriteRequest{}
	for i := range 2000 {
		v2.Symbols = append(v2.Symbols, fmt.Sprint(i))
		v2.Timeseries = append(v2.Timeseries, writev2.TimeSeries{LabelsRefs: []uint32{1, 2, 3, uint32(4 + i)}, Samples: []writev2.Sample{{Value: 1, Timestamp: now}}})
		v1.Timeseries = append(v1.Timeseries, prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "m1"}, {Name: "i", Value: fmt.Sprint(i)}},
			Samples: []prompb.Sample{{Value: 1, Timestamp: now}}})
	}
	b2, _ := v2.Marshal()
	b1, _ := v1.Marshal()
	if code, msg := write(t, ts, b2, true); code != http.StatusNoContent {
		t.Fatalf("v2: %d %s", code, msg)
	}
	if code, msg := write(t, ts, b1, false); code != http.StatusNoContent {
		t.Fatalf("v1: %d %s", code, msg)
	}

	n := shape.MaxRecordsPerRequest + 1
	label := shapetest.Field(1, append(shapetest.Field(1, []byte("__name__")), shapetest.Field(2, []byte("m"))...))
	for _, c := range []struct {
		name string
		body []byte
		v2   bool
	}{
		{"v2 empty series", shapetest.Repeat([]byte{0x2a, 0x00}, n), true},
		{"v2 empty samples", shapetest.Field(5, append([]byte{0x0a, 0x02, 0x01, 0x02}, shapetest.Repeat([]byte{0x12, 0x00}, 10*n)...)), true},
		{"v1 empty samples", shapetest.Field(1, append(label, shapetest.Repeat([]byte{0x12, 0x00}, 10*n)...)), false},
	} {
		var code int
		var msg string
		mem := shapetest.Measure(func() { code, msg = write(t, ts, c.body, c.v2) })
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "body_too_large") {
			t.Errorf("%s: %d %s", c.name, code, msg)
		}
		// 1.0 holds a series up to the bound before it refuses it.
		limit := 4*uint64(len(c.body)) + 8<<20
		if !c.v2 {
			limit = 32*uint64(len(c.body)) + 4*shape.Allowance
		}
		if mem.Total > limit {
			t.Errorf("%s: a %d-byte body took %d bytes to refuse, more than %d", c.name, len(c.body), mem.Total, limit)
		}
	}
}

// FuzzDecodeV2 checks decodeV2 against gogo's decoding on arbitrary input:
// what the check lets through decodes as gogo decodes it, and what gogo
// refuses decodeV2 refuses.
func FuzzDecodeV2(f *testing.F) {
	b, _ := (&writev2.Request{Symbols: []string{"", "__name__", "m"}, Timeseries: []writev2.TimeSeries{{
		LabelsRefs: []uint32{1, 2}, Samples: []writev2.Sample{{Value: 1, Timestamp: 5}},
		Histograms: []writev2.Histogram{{Count: &writev2.Histogram_CountInt{CountInt: 2}, PositiveSpans: []writev2.BucketSpan{{Offset: 0, Length: 1}}, PositiveDeltas: []int64{2}}},
		Exemplars:  []writev2.Exemplar{{LabelsRefs: []uint32{1, 2}, Value: 1}},
	}}}).Marshal()
	f.Add(b)
	f.Add([]byte{0x2a, 0x00, 0x22, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var got, want writev2.Request
		err := decodeV2(b, &got)
		werr := want.Unmarshal(b)
		switch {
		case err != nil && ingest.ReasonOf(err) == "":
			t.Fatalf("not a rejection: %v", err)
		case werr != nil && err == nil:
			t.Fatalf("gogo refuses (%v), decodeV2 does not", werr)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("decodeV2 %+v, gogo %+v", got, want)
		}
	})
}
