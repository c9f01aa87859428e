// Package otlp receives OpenTelemetry data over OTLP/gRPC and OTLP/HTTP
// (protobuf and JSON, gzip or zstd) as the OTLP specification describes:
// a partly bad batch is answered with a success carrying partial_success
// (how many items were rejected and why); a request that cannot be read
// at all gets 400 (HTTP) or InvalidArgument (gRPC) with a google.rpc.Status
// that names the problem.
//
// Each signal is handed to a consumer; this package only decodes and
// answers.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcencoding "google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/horus-obs/horus/internal/httpx"
	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/tenant"
)

// Partial says what a consumer refused of a batch it otherwise stored.
type Partial struct {
	// Rejected is the number of items (data points, spans, log records)
	// refused; 0 means all were stored. The receiver caps it at the items
	// of the request.
	Rejected int64
	// Message says why, naming the first problems.
	Message string
	// ByReason counts the refused items by reason, for Horus' metrics.
	ByReason map[ingest.Reason]int
}

// MetricsConsumer stores OTLP metrics, as the tenant of the context
// (tenant.FromContext). It returns the part it refused, or an error when
// it could not store the batch; a rejection (*ingest.Error) means the
// client's data is at fault.
type MetricsConsumer interface {
	ConsumeMetrics(ctx context.Context, md pmetric.Metrics) (Partial, error)
}

// Consumers take the decoded signals; a nil consumer leaves that signal's
// endpoints out.
type Consumers struct {
	Metrics MetricsConsumer
	Traces  TracesConsumer
	Logs    LogsConsumer
}

// Options configure the receiver.
type Options struct {
	// Body bounds an HTTP request body (and a gRPC message, by MaxBytes
	// after decompression).
	Body ingest.BodyLimits
}

// Receiver serves the OTLP endpoints for the signals it has consumers for.
// Every signal belongs to the tenant of the X-Scope-OrgID header or gRPC
// metadata key (the default tenant without one): traces and logs are
// handed to their consumer with it, metrics with it in the context
// (tenant.WithContext).
type Receiver struct {
	c      Consumers
	m      *ingest.Metrics
	logger *slog.Logger
	opts   Options
}

// New returns a receiver handing each signal to its consumer.
func New(c Consumers, m *ingest.Metrics, logger *slog.Logger, opts Options) *Receiver {
	return &Receiver{c: c, m: m, logger: logger, opts: opts}
}

// RegisterHTTP adds the OTLP/HTTP paths (/v1/metrics...) under prefix to mux.
func (r *Receiver) RegisterHTTP(mux *http.ServeMux, prefix string) {
	if r.c.Metrics != nil {
		mux.HandleFunc(prefix+"/v1/metrics", r.serveMetrics)
	}
	if r.c.Traces != nil {
		mux.HandleFunc(prefix+"/v1/traces", r.serveTraces)
	}
	if r.c.Logs != nil {
		mux.HandleFunc(prefix+"/v1/logs", r.serveLogs)
	}
}

// GRPCServer returns a gRPC server with the OTLP services registered.
// opts are added to the receiver's own (the message size limit, the codec):
// the server's credentials, interceptors and admission control. The
// services take each request as bytes and decode it as OTLP/HTTP does,
// after the same checks (see package shape), so that a request nested too
// deep or made of empty items is refused before pdata decodes it.
func (r *Receiver) GRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	s := grpc.NewServer(append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(int(r.opts.Body.MaxDecodedBytes)),
		grpc.ForceServerCodecV2(rawCodec{next: grpcencoding.GetCodecV2(rawCodec{}.Name())}),
	}, opts...)...)
	if r.c.Metrics != nil {
		s.RegisterService(r.grpcService("opentelemetry.proto.collector.metrics.v1.MetricsService", ingest.SignalMetrics, r.exportMetrics), r)
	}
	if r.c.Traces != nil {
		s.RegisterService(r.grpcService("opentelemetry.proto.collector.trace.v1.TraceService", ingest.SignalTraces, r.exportTraces), r)
	}
	if r.c.Logs != nil {
		s.RegisterService(r.grpcService("opentelemetry.proto.collector.logs.v1.LogsService", ingest.SignalLogs, r.exportLogs), r)
	}
	return s
}

// grpcTenant reads the tenant of a gRPC request from its metadata.
func (r *Receiver) grpcTenant(ctx context.Context, signal string) (string, error) {
	var org string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(tenant.Header); len(v) > 0 {
			org = v[0]
		}
	}
	t, err := tenant.FromHeader(org)
	if err != nil {
		r.m.Reject(signal, ingest.ProtoOTLPGRPC, ingest.ReasonInvalidTenant, 1)
		return "", status.Error(codes.InvalidArgument, err.Error())
	}
	return t, nil
}

func grpcCode(err error) codes.Code {
	switch ingest.StatusOf(err) {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return codes.InvalidArgument
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	}
	if errors.Is(err, context.Canceled) {
		return codes.Canceled
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return codes.DeadlineExceeded
	}
	return codes.Unavailable
}

func (r *Receiver) consumeMetrics(ctx context.Context, proto string, md pmetric.Metrics) (Partial, error) {
	n := md.DataPointCount()
	p, err := r.c.Metrics.ConsumeMetrics(ctx, md)
	return r.count(ingest.SignalMetrics, proto, n, p, err)
}

func (r *Receiver) consumeTraces(ctx context.Context, proto, tenant string, td ptrace.Traces) (Partial, error) {
	n := td.SpanCount()
	p, err := r.c.Traces.ConsumeTraces(ctx, tenant, td)
	return r.count(ingest.SignalTraces, proto, n, p, err)
}

func (r *Receiver) consumeLogs(ctx context.Context, proto, tenant string, ld plog.Logs) (Partial, error) {
	n := ld.LogRecordCount()
	p, err := r.c.Logs.ConsumeLogs(ctx, tenant, ld)
	return r.count(ingest.SignalLogs, proto, n, p, err)
}

// count records the outcome of consuming n items in the ingest counters.
func (r *Receiver) count(signal, proto string, n int, p Partial, err error) (Partial, error) {
	if err != nil {
		if reason := ingest.ReasonOf(err); reason != "" {
			r.m.Reject(signal, proto, reason, n)
		} else {
			ingest.LogFailure(context.Background(), r.logger, "storing OTLP data failed", err, "signal", signal, "protocol", proto)
		}
		return p, err
	}
	// A consumer may count refused samples; OTLP counts data points (and
	// spans, log records): no more than the request's.
	p.Rejected = min(p.Rejected, int64(n))
	for reason, c := range p.ByReason {
		r.m.Reject(signal, proto, reason, c)
	}
	r.m.Received.WithLabelValues(signal, proto).Add(float64(int64(n) - p.Rejected))
	return p, nil
}

// encoding is an OTLP/HTTP content type.
type encoding int

const (
	encProto encoding = iota
	encJSON
)

func (e encoding) contentType() string {
	if e == encJSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

func requestEncoding(r *http.Request) (encoding, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, ingest.Errorf(ingest.ReasonUnsupportedMedia, "Content-Type %q: %v; use application/x-protobuf or application/json", ct, err)
	}
	switch mt {
	case "application/x-protobuf", "application/protobuf":
		return encProto, nil
	case "application/json":
		return encJSON, nil
	}
	return 0, ingest.Errorf(ingest.ReasonUnsupportedMedia, "Content-Type %q is not supported; use application/x-protobuf or application/json", ct)
}

// response is an OTLP export response.
type response interface {
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

// undecodable is a body export could not decode: no item was counted yet.
type undecodable struct{ err *ingest.Error }

func (u undecodable) Error() string { return u.err.Error() }
func (u undecodable) Unwrap() error { return u.err }

// export decodes one OTLP request body and consumes it; proto is the
// protocol it came by (the counters' label).
type export func(ctx context.Context, proto, tenant string, enc encoding, body []byte) (response, error)

// maxLogRecords is the records limit of a logs request and its name: the
// consumer's limits.max_log_lines_per_request, else
// shape.MaxRecordsPerRequest.
func (r *Receiver) maxLogRecords() (int, string) {
	if l, ok := r.c.Logs.(*EventLogs); ok && l.Limits.MaxLines > 0 {
		return l.Limits.MaxLines, "limits.max_log_lines_per_request"
	}
	return shape.MaxRecordsPerRequest, defaultLimit
}

// decode checks a body (see signalShape.check) and decodes it into req.
// Its errors are undecodable.
func decode(s signalShape, enc encoding, body []byte, req interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
}, maxRecords int, limit string) error {
	if err := s.check(enc, body, maxRecords, limit); err != nil {
		var ie *ingest.Error
		if errors.As(err, &ie) {
			return undecodable{ie}
		}
		return err
	}
	var err error
	if enc == encJSON {
		err = req.UnmarshalJSON(body)
	} else {
		err = req.UnmarshalProto(body)
	}
	if err != nil {
		return undecodable{ingest.Errorf(ingest.ReasonMalformed, "decode %s (%s): %v", s.what, enc.contentType(), err)}
	}
	return nil
}

func (r *Receiver) exportMetrics(ctx context.Context, proto, org string, enc encoding, body []byte) (response, error) {
	ereq := pmetricotlp.NewExportRequest()
	if err := decode(metricsSignal, enc, body, ereq, shape.MaxRecordsPerRequest, defaultLimit); err != nil {
		return nil, err
	}
	p, err := r.consumeMetrics(tenant.WithContext(ctx, org), proto, ereq.Metrics())
	if err != nil {
		return nil, err
	}
	resp := pmetricotlp.NewExportResponse()
	if p.Rejected > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(p.Rejected)
		resp.PartialSuccess().SetErrorMessage(p.Message)
	}
	return resp, nil
}

func (r *Receiver) exportTraces(ctx context.Context, proto, tenant string, enc encoding, body []byte) (response, error) {
	ereq := ptraceotlp.NewExportRequest()
	if err := decode(tracesSignal, enc, body, ereq, shape.MaxRecordsPerRequest, defaultLimit); err != nil {
		return nil, err
	}
	p, err := r.consumeTraces(ctx, proto, tenant, ereq.Traces())
	if err != nil {
		return nil, err
	}
	resp := ptraceotlp.NewExportResponse()
	if p.Rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(p.Rejected)
		resp.PartialSuccess().SetErrorMessage(p.Message)
	}
	return resp, nil
}

func (r *Receiver) exportLogs(ctx context.Context, proto, tenant string, enc encoding, body []byte) (response, error) {
	ereq := plogotlp.NewExportRequest()
	maxRecords, limit := r.maxLogRecords()
	if err := decode(logsSignal, enc, body, ereq, maxRecords, limit); err != nil {
		return nil, err
	}
	p, err := r.consumeLogs(ctx, proto, tenant, ereq.Logs())
	if err != nil {
		return nil, err
	}
	resp := plogotlp.NewExportResponse()
	if p.Rejected > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(p.Rejected)
		resp.PartialSuccess().SetErrorMessage(p.Message)
	}
	return resp, nil
}

func (r *Receiver) serveMetrics(w http.ResponseWriter, req *http.Request) {
	r.serve(ingest.SignalMetrics, w, req, r.exportMetrics)
}

func (r *Receiver) serveTraces(w http.ResponseWriter, req *http.Request) {
	r.serve(ingest.SignalTraces, w, req, r.exportTraces)
}

func (r *Receiver) serveLogs(w http.ResponseWriter, req *http.Request) {
	r.serve(ingest.SignalLogs, w, req, r.exportLogs)
}

// serve answers an OTLP/HTTP request: method, content type, tenant and
// body are checked here, the rest is export's.
func (r *Receiver) serve(signal string, w http.ResponseWriter, req *http.Request, exp export) {
	sw := &httpx.StatusWriter{ResponseWriter: w}
	defer func() {
		r.m.Requests.WithLabelValues(signal, ingest.ProtoOTLPHTTP, strconv.Itoa(sw.Code())).Inc()
	}()
	if req.Method != http.MethodPost {
		sw.Header().Set("Allow", http.MethodPost)
		writeStatus(sw, encProto, http.StatusMethodNotAllowed, "OTLP/HTTP accepts POST only")
		return
	}
	enc, err := requestEncoding(req)
	if err != nil {
		r.refuse(sw, encProto, signal, err)
		return
	}
	t, err := tenant.FromHeader(req.Header.Get(tenant.Header))
	if err != nil {
		r.refuse(sw, enc, signal, ingest.Errorf(ingest.ReasonInvalidTenant, "%s header: %v", tenant.Header, err))
		return
	}
	body, err := ingest.ReadBody(req, r.opts.Body)
	if err != nil {
		r.refuse(sw, enc, signal, err)
		return
	}
	resp, err := exp(req.Context(), ingest.ProtoOTLPHTTP, t, enc, body)
	if err != nil {
		var u undecodable
		if errors.As(err, &u) {
			r.refuse(sw, enc, signal, u.err)
		} else {
			writeStatus(sw, enc, httpStatus(err), err.Error())
		}
		return
	}
	var out []byte
	if enc == encJSON {
		out, err = resp.MarshalJSON()
	} else {
		out, err = resp.MarshalProto()
	}
	if err != nil {
		writeStatus(sw, enc, http.StatusInternalServerError, err.Error())
		return
	}
	sw.Header().Set("Content-Type", enc.contentType())
	sw.WriteHeader(http.StatusOK)
	_, _ = sw.Write(out)
}

// httpStatus maps a consumer error to OTLP/HTTP: rejections are 4xx, a
// server failure is 503 so that the client retries.
func httpStatus(err error) int {
	if c := ingest.StatusOf(err); c != http.StatusInternalServerError {
		return c
	}
	return http.StatusServiceUnavailable
}

// refuse answers a request refused before its items were counted; it
// counts as one rejected item.
func (r *Receiver) refuse(w http.ResponseWriter, enc encoding, signal string, err error) {
	if reason := ingest.ReasonOf(err); reason != "" {
		r.m.Reject(signal, ingest.ProtoOTLPHTTP, reason, 1)
	} else {
		r.logger.Warn("OTLP request failed", "signal", signal, "err", err)
	}
	writeStatus(w, enc, ingest.StatusOf(err), err.Error())
}

// writeStatus writes a google.rpc.Status body, as OTLP/HTTP specifies for
// failures, in the request's encoding.
func writeStatus(w http.ResponseWriter, enc encoding, code int, msg string) {
	st := status.New(grpcCodeForHTTP(code), msg).Proto()
	var b []byte
	var err error
	if enc == encJSON {
		b, err = protojson.Marshal(st)
	} else {
		b, err = proto.Marshal(st)
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("%s (and encoding the status failed: %v)", msg, err), code)
		return
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func grpcCodeForHTTP(code int) codes.Code {
	switch code {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusMethodNotAllowed:
		return codes.InvalidArgument
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	return codes.Internal
}
