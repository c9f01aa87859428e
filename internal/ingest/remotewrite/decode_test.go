package remotewrite

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
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
