// Package ingest holds what every ingest protocol shares: the counters of
// received and rejected data, the reasons data is rejected for, request
// body reading under limits, and the guard that checks every metric series
// against the limits before it reaches the TSDB.
//
// The protocol receivers live in the sub-packages (remotewrite, otlp,
// scrape); they decode, then hand data to the stores through the guard.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/tenant"
)

// Signals, the first label of every ingest counter.
const (
	SignalMetrics = "metrics"
	SignalLogs    = "logs"
	SignalTraces  = "traces"
)

// Protocols, the second label of every ingest counter.
const (
	ProtoRemoteWrite = "remote_write"
	ProtoOTLPGRPC    = "otlp_grpc"
	ProtoOTLPHTTP    = "otlp_http"
	ProtoScrape      = "scrape"
	ProtoZipkin      = "zipkin"
	ProtoLokiPush    = "loki_push"
	ProtoJSONLines   = "jsonlines"
)

// Reason says why data was rejected; it is the "reason" label of
// horus_ingest_rejected_total and starts every rejection message.
type Reason string

// The reasons data is rejected for.
const (
	ReasonBodyTooLarge      Reason = "body_too_large"
	ReasonMalformed         Reason = "malformed"
	ReasonUnsupportedMedia  Reason = "unsupported_media_type"
	ReasonTooManyLabels     Reason = "too_many_labels"
	ReasonLabelNameTooLong  Reason = "label_name_too_long"
	ReasonLabelValueTooLong Reason = "label_value_too_long"
	ReasonInvalidLabels     Reason = "invalid_labels"
	ReasonMissingName       Reason = "missing_metric_name"
	ReasonDuplicateLabel    Reason = "duplicate_label_name"
	ReasonOutOfOrder        Reason = "out_of_order"
	ReasonTooOld            Reason = "too_old"
	ReasonTooNew            Reason = "too_far_in_future"
	ReasonDuplicateSample   Reason = "duplicate_sample"
	ReasonInvalidHistogram  Reason = "invalid_histogram"
	ReasonInvalidExemplar   Reason = "invalid_exemplar"
	ReasonNoSamples         Reason = "no_samples"
	ReasonDeltaTemporality  Reason = "delta_temporality"
	ReasonInvalidTenant     Reason = "invalid_tenant"
	ReasonInvalidSpan       Reason = "invalid_span"
	ReasonSpanTooLarge      Reason = "span_too_large"
	ReasonTooManyAttributes Reason = "too_many_attributes"
	ReasonTooManySpanEvents Reason = "too_many_span_events"
	ReasonTooManySpanLinks  Reason = "too_many_span_links"
	ReasonLineTooLong       Reason = "line_too_long"
	ReasonTooManyLines      Reason = "too_many_lines"
	ReasonInvalidLine       Reason = "invalid_line"
	// ReasonBodyRead is a body that could not be read: a malformed
	// chunked encoding, or a client that went away mid-body.
	ReasonBodyRead Reason = "body_read_failed"
	// ReasonBodyTimeout is a body that stopped arriving (answered 408).
	ReasonBodyTimeout Reason = "body_read_timeout"
	// ReasonOverloaded is a request refused by InFlight (answered 503
	// with Retry-After, which clients retry).
	ReasonOverloaded Reason = "overloaded"
	// ReasonTooDeep is a value nested deeper than Horus decodes (arrays
	// in arrays, maps in maps, JSON objects in objects).
	ReasonTooDeep Reason = "nested_too_deep"
	// ReasonReservedLabel is a series sent with the label that holds the
	// tenant (tenant.Label), which only Horus sets.
	ReasonReservedLabel Reason = "reserved_label"
)

// Error is a rejection: data refused for a Reason the client can fix.
// Handlers answer it with a 4xx status; other errors are the server's.
type Error struct {
	Reason Reason
	Msg    string
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Msg }

// Errorf returns an *Error with a formatted message.
func Errorf(reason Reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of a rejection error, or "" if err is not one.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// Metrics are the ingest counters Horus exposes about itself on /metrics.
type Metrics struct {
	// Received counts accepted items (samples, spans, log lines) by signal
	// and protocol.
	Received *prometheus.CounterVec
	// Rejected counts refused items by signal, protocol and reason. A
	// request refused before decoding counts as one item.
	Rejected *prometheus.CounterVec
	// Requests counts ingest requests by signal, protocol and HTTP-style
	// status code.
	Requests *prometheus.CounterVec
}

// NewMetrics creates the ingest counters and registers them with reg when
// reg is not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_ingest_received_total",
			Help: "Items accepted at ingest (samples, spans, log lines), by signal and protocol.",
		}, []string{"signal", "protocol"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_ingest_rejected_total",
			Help: "Items refused at ingest, by signal, protocol and reason.",
		}, []string{"signal", "protocol", "reason"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_ingest_requests_total",
			Help: "Ingest requests, by signal, protocol and status code.",
		}, []string{"signal", "protocol", "code"}),
	}
	if reg != nil {
		reg.MustRegister(m.Received, m.Rejected, m.Requests)
	}
	return m
}

// Reject adds n refused items for one reason.
func (m *Metrics) Reject(signal, protocol string, reason Reason, n int) {
	if n > 0 {
		m.Rejected.WithLabelValues(signal, protocol, string(reason)).Add(float64(n))
	}
}

// Counting wraps an appendable to count the samples committed through it
// in Received, for ingest paths that bypass the guard (scrape, whose
// limits are Prometheus' per-job ones). Their samples are the default
// tenant's: a series that comes with the label tenant.Label has it renamed
// exported___tenant__, as Prometheus renames exposed labels that clash
// with target labels, so that a scraped target cannot write into a
// tenant.
type Counting struct {
	Next     storage.AppendableV2
	Received prometheus.Counter
}

// AppenderV2 implements storage.AppendableV2.
func (c *Counting) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &countingAppender{AppenderV2: c.Next.AppenderV2(ctx), received: c.Received}
}

type countingAppender struct {
	storage.AppenderV2
	received prometheus.Counter
	n        int
}

func (a *countingAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	if ls.Has(tenant.Label) {
		b := labels.NewBuilder(ls)
		b.Del(tenant.Label)
		b.Set(model.ExportedLabelPrefix+tenant.Label, ls.Get(tenant.Label))
		ls = b.Labels()
	}
	ref, err := a.AppenderV2.Append(ref, ls, st, t, v, h, fh, opts)
	if err == nil || errors.Is(err, (*storage.AppendPartialError)(nil)) {
		a.n++
	}
	return ref, err
}

func (a *countingAppender) Commit() error {
	err := a.AppenderV2.Commit()
	if err == nil {
		a.received.Add(float64(a.n))
	}
	return err
}

// LogFailure logs a request's failure that is not a rejection (a store
// error): at error level, or at debug when the client went away first (ctx
// done, or err a cancellation), since nobody reads that answer and a
// client that hangs up is not the server's failure.
func LogFailure(ctx context.Context, logger *slog.Logger, msg string, err error, args ...any) {
	args = append(args, "err", err)
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		logger.Debug(msg+" (client gone)", args...)
		return
	}
	logger.Error(msg, args...)
}
