// Package remotewrite receives Prometheus remote-write requests (protocol
// 1.0 and 2.0) at POST /api/v1/write and appends them to the metrics store
// through the ingest guard, as the samples of the tenant the X-Scope-OrgID
// header names (the default tenant without it; 400 for an invalid one).
//
// Content negotiation and the RW 2.0 response headers are Prometheus' own
// (client_golang's remote API); decoding, limits and the answers to bad
// input are Horus': a series that breaks a limit is refused with a 400
// naming it while the rest of the request is written, as the remote-write
// specification asks for invalid samples.
package remotewrite

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/httpx"
	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/tenant"
)

// Options configure the handler.
type Options struct {
	// Body bounds the request body, compressed and decoded.
	Body ingest.BodyLimits
	// SeriesCacheSize is how many series (label sets) the decoder
	// remembers to skip decoding and validating their labels again; 0
	// means DefaultSeriesCacheSize, a negative number disables the cache.
	SeriesCacheSize int
}

// DefaultSeriesCacheSize fits 250k active series sent by remote write; a
// cached series costs about 350 bytes.
const DefaultSeriesCacheSize = 1 << 18

// Handler is the remote-write receiver.
type Handler struct {
	guard   *ingest.Guard
	metrics *ingest.Metrics
	logger  *slog.Logger
	opts    Options
	http    http.Handler
	cache   *seriesCache
	bodies  ingest.Bodies
}

// New returns a remote-write handler that appends through guard.
func New(guard *ingest.Guard, m *ingest.Metrics, logger *slog.Logger, opts Options) *Handler {
	if opts.SeriesCacheSize == 0 {
		opts.SeriesCacheSize = DefaultSeriesCacheSize
	}
	h := &Handler{guard: guard, metrics: m, logger: logger, opts: opts}
	if opts.SeriesCacheSize > 0 {
		h.cache = newSeriesCache(opts.SeriesCacheSize)
	}
	h.http = remoteapi.NewWriteHandler(h,
		remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType},
		// The handler logs every failure at error level, client errors
		// included, and Store logs the server's own: its lines are debug.
		remoteapi.WithWriteHandlerLogger(slog.New(debugOnly{logger.Handler()})),
		// Replace the default snappy middleware: Horus reads the body under
		// its own limits in Store.
		remoteapi.WithWriteHandlerMiddlewares(),
	)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &httpx.StatusWriter{ResponseWriter: w}
	stored := false
	h.http.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), storedKey{}, &stored)))
	h.metrics.Requests.WithLabelValues(ingest.SignalMetrics, ingest.ProtoRemoteWrite, strconv.Itoa(sw.Code())).Inc()
	if !stored && sw.Code() == http.StatusUnsupportedMediaType {
		// Refused by content negotiation, before Store (a wrong method,
		// 405, carries no data to count).
		h.metrics.Reject(ingest.SignalMetrics, ingest.ProtoRemoteWrite, ingest.ReasonUnsupportedMedia, 1)
	}
}

type storedKey struct{}

// Store implements the storage interface of remoteapi's handler: it reads,
// decodes and appends one request.
func (h *Handler) Store(r *http.Request, msgType remoteapi.WriteMessageType) (*remoteapi.WriteResponse, error) {
	if p, ok := r.Context().Value(storedKey{}).(*bool); ok {
		*p = true
	}
	wr := remoteapi.NewWriteResponse()
	fail := func(err error) (*remoteapi.WriteResponse, error) {
		switch reason := ingest.ReasonOf(err); {
		case reason != "":
			h.metrics.Reject(ingest.SignalMetrics, ingest.ProtoRemoteWrite, reason, 1)
		case r.Context().Err() != nil:
			// The client went away; nobody reads the answer.
			h.logger.Debug("remote write abandoned by the client", "err", err)
		default:
			h.logger.Error("remote write failed", "err", err)
		}
		wr.SetStatusCode(ingest.StatusOf(err))
		return wr, err
	}

	org, err := tenant.FromHeader(r.Header.Get(tenant.Header))
	if err != nil {
		return fail(ingest.Errorf(ingest.ReasonInvalidTenant, "%s header: %v", tenant.Header, err))
	}
	enc := r.Header.Get("Content-Encoding")
	if enc != "" && enc != "snappy" {
		return fail(ingest.Errorf(ingest.ReasonUnsupportedMedia, "Content-Encoding %q is not accepted for remote write; only snappy is", enc))
	}
	body, release, err := h.bodies.ReadSnappy(r, h.opts.Body)
	if err != nil {
		return fail(err)
	}
	// Everything kept from the body is copied out before Store returns.
	defer release()

	app := h.guard.Appender(tenant.WithContext(r.Context(), org))
	var stats remoteapi.WriteResponseStats
	if msgType == remoteapi.WriteV1MessageType {
		err = appendV1(app, body, h.cache, org)
	} else {
		var req writev2.Request
		if err := decodeV2(body, &req); err != nil {
			return fail(err)
		}
		stats, err = appendV2(app, &req, len(body))
	}
	if err != nil {
		_ = app.Rollback()
		return fail(err)
	}
	if err := app.Commit(); err != nil {
		return fail(err)
	}
	h.metrics.Received.WithLabelValues(ingest.SignalMetrics, ingest.ProtoRemoteWrite).Add(float64(app.Appended))
	wr.Add(stats)

	rej := app.Rejections()
	for reason, n := range rej.ByReason {
		h.metrics.Reject(ingest.SignalMetrics, ingest.ProtoRemoteWrite, reason, n)
	}
	if err := rej.Err(); err != nil {
		// The valid part is written; the 400 keeps the client from
		// retrying the invalid part forever.
		wr.SetStatusCode(http.StatusBadRequest)
		return wr, err
	}
	return wr, nil
}

// appendV1 decodes a remote-write 1.0 request of tenant org and appends
// it series by series. A decoding error is a rejection of the whole
// request (the series appended before it are rolled back by the caller).
func appendV1(app *ingest.GuardAppender, body []byte, cache *seriesCache, org string) error {
	d := decoderPool.Get().(*decoder)
	d.cache, d.prefix = cache, cachePrefix(d.prefix[:0], org)
	defer decoderPool.Put(d)
	var appendErr error
	err := d.decodeV1(body, func(ts *v1Series) error {
		if len(ts.Samples) == 0 && len(ts.Histograms) == 0 && len(ts.Exemplars) == 0 {
			app.Reject(ingest.Errorf(ingest.ReasonNoSamples, "series %s has no samples, histograms or exemplars", ts.Labels.String()))
			return nil
		}
		ref, validated := ts.Ref, ts.Known
		appendOne := func(t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram) error {
			var err error
			if validated {
				ref, err = app.AppendValidated(ref, ts.Labels, 0, t, v, h, fh, storage.AOptions{})
			} else {
				ref, err = app.Append(ref, ts.Labels, 0, t, v, h, fh, storage.AOptions{})
				// Once the store took a sample, its labels passed.
				validated = ref != 0
			}
			return err
		}
		for _, s := range ts.Samples {
			if err := appendOne(s.Timestamp, s.Value, nil, nil); err != nil {
				appendErr = err
				return err
			}
		}
		for _, hp := range ts.Histograms {
			var err error
			if hp.IsFloatHistogram() {
				err = appendOne(hp.Timestamp, 0, nil, hp.ToFloatHistogram())
			} else {
				err = appendOne(hp.Timestamp, 0, hp.ToIntHistogram(), nil)
			}
			if err != nil {
				appendErr = err
				return err
			}
		}
		if len(ts.Exemplars) > 0 {
			// Prometheus sends exemplars in series entries of their own;
			// they attach to a series that has samples already.
			slices.SortFunc(ts.Exemplars, exemplar.Compare)
			r, err := app.AppendExemplars(ref, ts.Labels, ts.Exemplars)
			if err != nil {
				appendErr = err
				return err
			}
			if ref == 0 {
				ref = r
			}
		}
		ts.Ref = ref
		return nil
	}, func(md *prompb.MetricMetadata) {
		app.SetMetadata(md.MetricFamilyName, metadata.Metadata{
			Type: model.MetricType(strings.ToLower(md.Type.String())),
			Unit: md.Unit,
			Help: md.Help,
		})
	})
	if err != nil && appendErr == nil {
		if ingest.ReasonOf(err) != "" { // refused by the decoder's bound
			return err
		}
		return ingest.Errorf(ingest.ReasonMalformed, "decode remote write 1.0 protobuf: %v", err)
	}
	return err
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

// cachePrefix appends to b what starts the series-cache keys of tenant
// org: nothing for the default tenant, whose keys are the raw label bytes,
// else 0xff, org and 0xff. The references cached are the TSDB's series
// of one tenant (the guard adds the tenant label), so tenants sending the
// same label bytes must not share entries; raw label bytes never start
// with 0xff (they start with a Label field's tag).
func cachePrefix(b []byte, org string) []byte {
	if org == tenant.Default {
		return b
	}
	b = append(b, 0xff)
	b = append(b, org...)
	return append(b, 0xff)
}

func appendV2(app *ingest.GuardAppender, req *writev2.Request, bodyLen int) (remoteapi.WriteResponseStats, error) {
	var stats remoteapi.WriteResponseStats
	b := labels.NewScratchBuilder(16)
	var es []exemplar.Exemplar
	// Series reference their labels in the symbol table, so a small body
	// can name large labels many times over: the labels it expands to are
	// held to the decoders' memory bound (shape), as remote write 1.0's
	// are by the decoded body itself.
	labelBudget := int64(shape.MaxAmplification)*int64(bodyLen) + shape.Allowance
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		ls, err := ts.ToLabels(&b, req.Symbols)
		if err != nil {
			app.Reject(ingest.Errorf(ingest.ReasonMalformed, "series %d: labels: %v", i, err))
			continue
		}
		ls.Range(func(l labels.Label) { labelBudget -= int64(len(l.Name) + len(l.Value)) })
		if labelBudget < 0 {
			return stats, ingest.Errorf(ingest.ReasonBodyTooLarge, "the series' labels, expanded from the symbol table, pass %d× the %d-byte body + %d bytes by series %d; send fewer or smaller series per request",
				shape.MaxAmplification, bodyLen, shape.Allowance, i)
		}
		md, err := ts.ToMetadata(req.Symbols)
		if err != nil {
			app.Reject(ingest.Errorf(ingest.ReasonMalformed, "series %s: metadata: %v", ls.String(), err))
			continue
		}
		if len(ts.Samples) == 0 && len(ts.Histograms) == 0 {
			app.Reject(ingest.Errorf(ingest.ReasonNoSamples, "series %s has no samples or histograms", ls.String()))
			continue
		}
		es = es[:0]
		for _, e := range ts.Exemplars {
			ex, err := e.ToExemplar(&b, req.Symbols)
			if err != nil {
				app.Reject(ingest.Errorf(ingest.ReasonInvalidExemplar, "series %s: exemplar: %v", ls.String(), err))
				continue
			}
			es = append(es, ex)
		}
		slices.SortFunc(es, exemplar.Compare)
		opts := storage.AOptions{Metadata: md}
		var ref storage.SeriesRef
		last := len(ts.Samples) + len(ts.Histograms) - 1
		n := 0
		for _, s := range ts.Samples {
			if n == last {
				opts.Exemplars = es
			}
			before := app.Appended
			if ref, err = app.Append(ref, ls, s.StartTimestamp, s.Timestamp, s.Value, nil, nil, opts); err != nil {
				return stats, err
			}
			if app.Appended > before {
				stats.Samples++
			}
			n++
		}
		for _, hp := range ts.Histograms {
			if n == last {
				opts.Exemplars = es
			}
			before := app.Appended
			if hp.IsFloatHistogram() {
				ref, err = app.Append(ref, ls, hp.StartTimestamp, hp.Timestamp, 0, nil, hp.ToFloatHistogram(), opts)
			} else {
				ref, err = app.Append(ref, ls, hp.StartTimestamp, hp.Timestamp, 0, hp.ToIntHistogram(), nil, opts)
			}
			if err != nil {
				return stats, err
			}
			if app.Appended > before {
				stats.Histograms++
			}
			n++
		}
		if ref != 0 {
			stats.Exemplars += len(es)
		}
	}
	return stats, nil
}

// debugOnly is a slog.Handler that logs every record at debug level.
type debugOnly struct{ slog.Handler }

func (d debugOnly) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.Handler.Enabled(ctx, slog.LevelDebug)
}

func (d debugOnly) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.Handler.Handle(ctx, r)
}

func (d debugOnly) WithAttrs(as []slog.Attr) slog.Handler { return debugOnly{d.Handler.WithAttrs(as)} }

func (d debugOnly) WithGroup(name string) slog.Handler { return debugOnly{d.Handler.WithGroup(name)} }
