package remotewrite

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/prometheus/prometheus/storage"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
)

// A streaming decoder of remote-write 1.0 requests (prometheus.WriteRequest).
//
// Decoding the generated way materializes the whole request: a string for
// every label name and value, then a copy of them into labels.Labels. The
// profile of a remote-write load showed that at ~30% of Horus' CPU. This
// decoder walks the wire format instead and hands one series at a time to
// a callback, with label strings that alias the request body, so the only
// copy made is the labels.Labels the TSDB keeps. Histograms and metadata,
// rare in practice, are decoded per message by the generated code.
//
// Wire format (prompb/remote.proto, types.proto):
//
//	WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
//	TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
//	               repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
//	Label        { string name = 1; string value = 2; }
//	Sample       { double value = 1; int64 timestamp = 2; }
//	Exemplar     { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }

// v1Series is one decoded TimeSeries. Its slices are reused for the next
// series; Labels and exemplar labels are values the caller may keep.
type v1Series struct {
	Labels     labels.Labels
	Samples    []prompb.Sample
	Exemplars  []exemplar.Exemplar
	Histograms []prompb.Histogram
	// Known says Labels came from the series cache: they passed the
	// limits before, and Ref is the TSDB's reference for them.
	Known bool
	// Ref is the series' reference: from the cache when Known, and set
	// by the callback to the reference the store returned (0 when it
	// refused the series), which the decoder then caches.
	Ref storage.SeriesRef
}

// decoder holds the buffers reused across series.
type decoder struct {
	lb, eb labels.ScratchBuilder
	s      v1Series
	// cache, when set, maps raw label bytes to built labels and refs.
	cache *seriesCache
	// prefix starts the cache keys of a tenant other than the default
	// one (see cachePrefix); keyBuf holds such a key.
	prefix, keyBuf []byte
	// labelMsgs are the Label messages of the current series; key is
	// their raw bytes when contiguous (the cache key), else nil.
	labelMsgs [][]byte
	key       []byte
	// budget bounds the bytes of the buffers of one series (their
	// capacity): samples, exemplars, histograms and label messages (see
	// appendBounded).
	budget int64
}

// bufferBytes is what the buffers of the series being decoded hold, by
// their capacity.
func (d *decoder) bufferBytes() int64 {
	s := &d.s
	return int64(cap(s.Samples))*int64(unsafe.Sizeof(prompb.Sample{})) + int64(cap(s.Exemplars))*int64(unsafe.Sizeof(exemplar.Exemplar{})) +
		int64(cap(s.Histograms))*int64(unsafe.Sizeof(prompb.Histogram{})) + int64(cap(d.labelMsgs))*int64(unsafe.Sizeof([]byte(nil)))
}

// appendBounded appends v to a buffer of the series, doubling it when it
// is full, unless that would take the series' buffers past d.budget: the
// decoder holds one series at a time, but a small body can hold one series
// of millions of empty samples (12 00), 48 bytes each. It refuses such a
// series with an *ingest.Error (ReasonBodyTooLarge).
func appendBounded[T any](d *decoder, buf []T, v T) ([]T, error) {
	if len(buf) == cap(buf) {
		n := max(2*cap(buf), 8)
		if d.bufferBytes()+int64(n-cap(buf))*int64(unsafe.Sizeof(v)) > d.budget {
			s := &d.s
			return buf, ingest.Errorf(ingest.ReasonBodyTooLarge, "remote write 1.0: a series of %d labels, %d samples, %d exemplars and %d histograms so far would take more than %d MiB to decode, more than %d times the body's size: they are empty or near-empty; send them filled, or fewer",
				len(d.labelMsgs), len(s.Samples), len(s.Exemplars), len(s.Histograms), d.budget>>20, shape.MaxAmplification)
		}
		grown := make([]T, len(buf), n)
		copy(grown, buf)
		buf = grown
	}
	return append(buf, v), nil
}

// trimmed is the most elements a buffer keeps between requests; a larger
// one (a request with a very long series) is left to the GC rather than
// held by the pool.
const trimmed = 4096

// trim drops the buffers grown past trimmed.
func (d *decoder) trim() {
	s := &d.s
	if cap(s.Samples) > trimmed {
		s.Samples = nil
	}
	if cap(s.Exemplars) > trimmed {
		s.Exemplars = nil
	}
	if cap(s.Histograms) > trimmed {
		s.Histograms = nil
	}
	if cap(d.labelMsgs) > trimmed {
		d.labelMsgs = nil
	}
}

// decodeV1 calls series for every TimeSeries of the request in buf and
// meta for every MetricMetadata. buf must not change until it returns.
//
// The buffers of one series are bounded by shape.MaxAmplification times
// len(buf) plus shape.Allowance: a series past that is refused with an
// *ingest.Error (ReasonBodyTooLarge).
func (d *decoder) decodeV1(buf []byte, series func(*v1Series) error, meta func(*prompb.MetricMetadata)) error {
	d.budget = int64(shape.MaxAmplification)*int64(len(buf)) + shape.Allowance
	defer d.trim()
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return fmt.Errorf("in WriteRequest: %w", protowire.ParseError(n))
		}
		buf = buf[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			msg, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return fmt.Errorf("in WriteRequest.timeseries: %w", protowire.ParseError(n))
			}
			buf = buf[n:]
			if err := d.decodeSeries(msg); err != nil {
				return err
			}
			if err := series(&d.s); err != nil {
				return err
			}
			if d.cache != nil && !d.s.Known && d.s.Ref != 0 && d.key != nil {
				d.cache.put(d.key, d.s.Labels, d.s.Ref)
			}
		case num == 3 && typ == protowire.BytesType:
			msg, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return fmt.Errorf("in WriteRequest.metadata: %w", protowire.ParseError(n))
			}
			buf = buf[n:]
			var md prompb.MetricMetadata
			if err := md.Unmarshal(msg); err != nil {
				return fmt.Errorf("in WriteRequest.metadata: %w", err)
			}
			meta(&md)
		case num == 1 || num == 3:
			return fmt.Errorf("in WriteRequest field %d: wrong wire type %d", num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, buf)
			if n < 0 {
				return fmt.Errorf("in WriteRequest field %d: %w", num, protowire.ParseError(n))
			}
			buf = buf[n:]
		}
	}
	return nil
}

func (d *decoder) decodeSeries(msg []byte) error {
	s := &d.s
	s.Samples, s.Exemplars, s.Histograms = s.Samples[:0], s.Exemplars[:0], s.Histograms[:0]
	s.Known, s.Ref = false, 0
	d.labelMsgs, d.key = d.labelMsgs[:0], nil
	// The span of the Label fields, for the cache key.
	start, end, contiguous := -1, -1, true
	pos := 0
	for pos < len(msg) {
		tagStart := pos
		num, typ, n := protowire.ConsumeTag(msg[pos:])
		if n < 0 {
			return fmt.Errorf("in TimeSeries: %w", protowire.ParseError(n))
		}
		pos += n
		if num >= 1 && num <= 4 {
			if typ != protowire.BytesType {
				return fmt.Errorf("in TimeSeries field %d: wrong wire type %d", num, typ)
			}
			v, n := protowire.ConsumeBytes(msg[pos:])
			if n < 0 {
				return fmt.Errorf("in TimeSeries field %d: %w", num, protowire.ParseError(n))
			}
			pos += n
			var err error
			switch num {
			case 1:
				if start < 0 {
					start = tagStart
				} else if end != tagStart {
					contiguous = false
				}
				end = pos
				d.labelMsgs, err = appendBounded(d, d.labelMsgs, v)
			case 2:
				var smp prompb.Sample
				if smp, err = decodeSample(v); err == nil {
					s.Samples, err = appendBounded(d, s.Samples, smp)
				}
			case 3:
				var e exemplar.Exemplar
				if e, err = d.decodeExemplar(v); err == nil {
					s.Exemplars, err = appendBounded(d, s.Exemplars, e)
				}
			case 4:
				var h prompb.Histogram
				if err = h.Unmarshal(v); err == nil {
					s.Histograms, err = appendBounded(d, s.Histograms, h)
				}
			}
			if err != nil {
				return err
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, msg[pos:])
		if n < 0 {
			return fmt.Errorf("in TimeSeries field %d: %w", num, protowire.ParseError(n))
		}
		pos += n
	}
	if d.cache != nil && start >= 0 && contiguous {
		d.key = msg[start:end]
		if len(d.prefix) > 0 {
			d.keyBuf = append(append(d.keyBuf[:0], d.prefix...), d.key...)
			d.key = d.keyBuf
		}
		if e := d.cache.get(d.key); e != nil {
			// The same bytes decoded and passed the limits before.
			s.Labels, s.Ref, s.Known = e.ls, e.ref, true
			return nil
		}
	}
	d.lb.Reset()
	for _, lm := range d.labelMsgs {
		if err := decodeLabel(lm, &d.lb); err != nil {
			return err
		}
	}
	d.lb.Sort()
	s.Labels = d.lb.Labels()
	return nil
}

// alias returns b as a string without copying; the string is valid while
// b is.
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func decodeLabel(buf []byte, b *labels.ScratchBuilder) error {
	var name, value []byte
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return fmt.Errorf("in Label: %w", protowire.ParseError(n))
		}
		buf = buf[n:]
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return fmt.Errorf("in Label field %d: %w", num, protowire.ParseError(n))
			}
			buf = buf[n:]
			if num == 1 {
				name = v
			} else {
				value = v
			}
			continue
		}
		if num == 1 || num == 2 {
			return fmt.Errorf("in Label field %d: wrong wire type %d", num, typ)
		}
		n = protowire.ConsumeFieldValue(num, typ, buf)
		if n < 0 {
			return fmt.Errorf("in Label field %d: %w", num, protowire.ParseError(n))
		}
		buf = buf[n:]
	}
	// The strings alias the body; the builder copies them into the
	// labels.Labels it builds.
	b.Add(alias(name), alias(value))
	return nil
}

func decodeSample(buf []byte) (prompb.Sample, error) {
	var s prompb.Sample
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return s, fmt.Errorf("in Sample: %w", protowire.ParseError(n))
		}
		buf = buf[n:]
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(buf)
			if n < 0 {
				return s, fmt.Errorf("in Sample.value: %w", protowire.ParseError(n))
			}
			buf = buf[n:]
			s.Value = math.Float64frombits(v)
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(buf)
			if n < 0 {
				return s, fmt.Errorf("in Sample.timestamp: %w", protowire.ParseError(n))
			}
			buf = buf[n:]
			s.Timestamp = int64(v)
		case num == 1 || num == 2:
			return s, fmt.Errorf("in Sample field %d: wrong wire type %d", num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, buf)
			if n < 0 {
				return s, fmt.Errorf("in Sample field %d: %w", num, protowire.ParseError(n))
			}
			buf = buf[n:]
		}
	}
	return s, nil
}

func (d *decoder) decodeExemplar(buf []byte) (exemplar.Exemplar, error) {
	var e exemplar.Exemplar
	d.eb.Reset()
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return e, fmt.Errorf("in Exemplar: %w", protowire.ParseError(n))
		}
		buf = buf[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			msg, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return e, fmt.Errorf("in Exemplar.labels: %w", protowire.ParseError(n))
			}
			buf = buf[n:]
			if err := decodeLabel(msg, &d.eb); err != nil {
				return e, err
			}
		case num == 2 && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(buf)
			if n < 0 {
				return e, fmt.Errorf("in Exemplar.value: %w", protowire.ParseError(n))
			}
			buf = buf[n:]
			e.Value = math.Float64frombits(v)
		case num == 3 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(buf)
			if n < 0 {
				return e, fmt.Errorf("in Exemplar.timestamp: %w", protowire.ParseError(n))
			}
			buf = buf[n:]
			e.Ts = int64(v)
		case num >= 1 && num <= 3:
			return e, fmt.Errorf("in Exemplar field %d: wrong wire type %d", num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, buf)
			if n < 0 {
				return e, fmt.Errorf("in Exemplar field %d: %w", num, protowire.ParseError(n))
			}
			buf = buf[n:]
		}
	}
	d.eb.Sort()
	e.Labels = d.eb.Labels()
	e.HasTs = e.Ts != 0
	return e, nil
}

// The shape of a remote-write 2.0 request (io/prometheus/write/v2,
// types.proto) for the checks before gogo decodes it whole (package
// shape): its series are the records; samples, histograms, their bucket
// spans, exemplars and symbols cost their structs.
var (
	v2Span     = &shape.Shape{Name: "BucketSpan", Cost: int(unsafe.Sizeof(writev2.BucketSpan{}))}
	v2Sample   = &shape.Shape{Name: "Sample", Cost: int(unsafe.Sizeof(writev2.Sample{}))}
	v2Exemplar = &shape.Shape{Name: "Exemplar", Cost: int(unsafe.Sizeof(writev2.Exemplar{}))}
	v2Hist     = &shape.Shape{Name: "Histogram", Cost: int(unsafe.Sizeof(writev2.Histogram{})), Fields: []shape.Field{
		shape.Repeated(8, "negative_spans", v2Span), shape.Repeated(11, "positive_spans", v2Span),
	}}
	v2Series = &shape.Shape{Name: "TimeSeries", Kind: shape.Record, Cost: int(unsafe.Sizeof(writev2.TimeSeries{})), Fields: []shape.Field{
		shape.Repeated(2, "samples", v2Sample), shape.Repeated(3, "histograms", v2Hist), shape.Repeated(4, "exemplars", v2Exemplar),
	}}
	v2Request = &shape.Shape{Name: "Request", Fields: []shape.Field{
		shape.Strings(4, "symbols", int(unsafe.Sizeof(""))), shape.Repeated(5, "timeseries", v2Series),
	}}
)

// decodeV2 decodes a remote-write 2.0 request into req once it is checked:
// a request of more than shape.MaxRecordsPerRequest series, or whose
// decoding would take more memory than package shape allows (millions of
// empty series or samples in a small body), is refused before it is
// decoded. Its errors are *ingest.Error.
func decodeV2(body []byte, req *writev2.Request) error {
	if _, err := shape.Proto(body, v2Request, shape.Limits{
		What:          "remote write 2.0",
		Records:       "series",
		MaxRecords:    shape.MaxRecordsPerRequest,
		RecordsLimit:  "Horus' limit for one request",
		RecordsReason: ingest.ReasonBodyTooLarge,
	}); err != nil {
		return err
	}
	if err := req.Unmarshal(body); err != nil {
		return ingest.Errorf(ingest.ReasonMalformed, "decode remote write 2.0 protobuf: %v", err)
	}
	return nil
}
