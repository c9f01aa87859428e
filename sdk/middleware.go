package sdk

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/codes"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/sdk/logging"
	"github.com/horus-obs/horus/sdk/metrics"
)

// RouteUnmatched is the route label of a request no route pattern matched
// and that was answered 404 Not Found or 405 Method Not Allowed (a
// ServeMux's answers when no pattern matches): scanners and typos would
// otherwise create a series per path.
const RouteUnmatched = "unmatched"

// RequestIDHeader is the request header whose value, when it is 1 to 128
// visible ASCII characters, becomes the request_id; otherwise a new one is
// generated. The response carries the request_id in the same header.
const RequestIDHeader = "X-Request-ID"

// requestIDKey is RequestIDHeader in canonical form (textproto), the key
// of a http.Header map: the lookup then costs no conversion.
const requestIDKey = "X-Request-Id"

// The server metrics' names, after the Prometheus naming conventions
// (https://prometheus.io/docs/practices/naming/): base unit seconds,
// _total on counters.
const (
	metricRequests   = "http_requests_total"
	metricDuration   = "http_request_duration_seconds"
	metricInProgress = "http_requests_in_progress"
	metricPanics     = "http_server_panics_total"
)

// serverMetrics are Middleware's RED metrics, created once per Telemetry.
type serverMetrics struct {
	requests   *metrics.CounterVec   // method, route, status
	duration   *metrics.HistogramVec // method, route
	inProgress *metrics.GaugeVec     // method, route
	panics     *metrics.CounterVec   // method, route
}

func newServerMetrics(f *metrics.Factory) (*serverMetrics, error) {
	m := &serverMetrics{}
	var err error
	if m.requests, err = f.NewCounterVec(prometheus.CounterOpts{
		Name: metricRequests,
		Help: "HTTP requests served, by method, route pattern and response status code.",
	}, "method", "route", "status"); err != nil {
		return nil, fmt.Errorf("sdk: %s: %w", metricRequests, err)
	}
	if m.duration, err = f.NewHistogramVec(prometheus.HistogramOpts{
		Name:    metricDuration,
		Help:    "Time from receiving an HTTP request to its handler's return, in seconds, by method and route pattern.",
		Buckets: prometheus.DefBuckets,
	}, "method", "route"); err != nil {
		return nil, fmt.Errorf("sdk: %s: %w", metricDuration, err)
	}
	if m.inProgress, err = f.NewGaugeVec(prometheus.GaugeOpts{
		Name: metricInProgress,
		Help: "HTTP requests being served, by method and route pattern.",
	}, "method", "route"); err != nil {
		return nil, fmt.Errorf("sdk: %s: %w", metricInProgress, err)
	}
	if m.panics, err = f.NewCounterVec(prometheus.CounterOpts{
		Name: metricPanics,
		Help: "HTTP handler panics recovered by the middleware (each answered 500 when nothing was written yet), by method and route pattern.",
	}, "method", "route"); err != nil {
		return nil, fmt.Errorf("sdk: %s: %w", metricPanics, err)
	}
	return m, nil
}

// Middleware instruments an HTTP server. For each request it:
//
//   - continues the caller's trace (B3 or W3C traceparent headers) or starts
//     one, in a server span from otelhttp on t's TracerProvider, named
//     "METHOD route" with http.route once the route is known;
//   - counts http_requests_total{method,route,status} and observes
//     http_request_duration_seconds{method,route} (seconds from receipt to
//     the handler's return), both with a trace_id exemplar when the span is
//     sampled, and keeps http_requests_in_progress{method,route};
//   - takes the request_id from X-Request-ID (or generates one), answers it
//     in X-Request-ID, and puts it in the request's log fields
//     (logging.WithFields), so every log line written with the request's
//     context carries request_id beside trace_id and span_id;
//   - logs "request started" (debug level) and "request completed"
//     (Config.RequestLogLevel, info by default; error for a 5xx status)
//     with method, route, path, status and duration_ms (milliseconds, to
//     the microsecond);
//   - recovers a handler's panic: logs it at error level with its stack,
//     counts it in http_server_panics_total{method,route}, records it on the
//     span, and answers 500 Internal Server Error when nothing was written
//     yet. A panic with http.ErrAbortHandler is re-raised after the
//     bookkeeping, so net/http aborts the response as the handler asked.
//
// route is the pattern of the Go 1.22+ ServeMux that served the request,
// without its method and host ("GET example.com/items/{id}" gives
// "/items/{id}"), read from Request.Pattern after next returns. This
// needs the ServeMux to receive the request Middleware passes on: wrap the
// mux itself, or middleware that passes the same *http.Request down. A
// request without a pattern gets RouteUnmatched when it was answered 404
// or 405, and otherwise its path with ids replaced (NormalizePath).
// http_requests_in_progress must be labelled before the handler runs: when
// next is a *http.ServeMux its route comes from ServeMux.Handler, otherwise
// from NormalizePath.
//
// method is the request method, or "_OTHER" for a method outside RFC 9110
// and RFC 5789, as in OpenTelemetry's http.request.method.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	mux, _ := next.(*http.ServeMux)
	return otelhttp.NewHandler(&serverHandler{t: t, next: next, mux: mux}, "",
		otelhttp.WithTracerProvider(t.TracerProvider),
		otelhttp.WithPropagators(t.Propagator),
		// The RED metrics are the Prometheus ones above; otelhttp's
		// OpenTelemetry metrics would be the same measurements twice.
		otelhttp.WithMeterProvider(noopmetric.NewMeterProvider()),
	)
}

// serverHandler runs inside otelhttp's handler, with the server span in
// the request's context.
type serverHandler struct {
	t    *Telemetry
	next http.Handler
	mux  *http.ServeMux // next, when it is a ServeMux
}

func (h *serverHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	t := h.t
	method := methodLabel(r.Method)
	span := trace.SpanFromContext(r.Context())

	reqID := requestID(r.Header.Get(requestIDKey))
	w.Header()[requestIDKey] = []string{reqID}
	ctx := logging.WithFields(r.Context())
	logging.AddFields(ctx, slog.String("request_id", reqID))
	req := r.WithContext(ctx)

	// The in-progress gauge needs its route before the handler runs.
	var early string
	if h.mux != nil {
		_, p := h.mux.Handler(r)
		early = patternRoute(p)
		if early == "" {
			early = RouteUnmatched
		}
	} else {
		early = NormalizePath(r.URL.Path)
	}
	inProgress := t.http.inProgress.WithLabelValues(method, early)
	inProgress.Inc()

	if t.Logger.Enabled(ctx, slog.LevelDebug) {
		logRequest(ctx, t.Logger, slog.LevelDebug, "request started",
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
	}

	ww := &responseWriter{ResponseWriter: w}

	defer func() {
		p := recover()
		inProgress.Dec()
		status := ww.status
		if status == 0 && p == nil {
			status = http.StatusOK // what net/http answers for a handler that wrote nothing
		}
		route := patternRoute(req.Pattern)
		switch {
		case route != "":
		case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
			route = RouteUnmatched
		default:
			route = NormalizePath(r.URL.Path)
		}
		if route != RouteUnmatched {
			span.SetName(spanMethod(r.Method) + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}

		if p != nil && p != http.ErrAbortHandler { //nolint:errorlint // net/http compares the sentinel the same way
			stack := debug.Stack()
			t.http.panics.WithLabelValues(method, route).Inc()
			err := fmt.Errorf("panic: %v", p)
			span.RecordError(err, trace.WithAttributes(semconv.ExceptionStacktrace(string(stack))))
			span.SetStatus(codes.Error, err.Error())
			logRequest(ctx, t.Logger, slog.LevelError, "panic recovered",
				slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
				slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(stack)))
			if status == 0 {
				http.Error(ww, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
				status = http.StatusInternalServerError
			}
		}
		if status == 0 { // an aborted handler that wrote nothing: the client got no status
			status = http.StatusInternalServerError
		}

		elapsed := time.Since(start)
		exemplar := exemplarOf(span.SpanContext())
		add(t.http.requests.WithLabelValues(method, route, statusLabel(status)), exemplar)
		observe(t.http.duration.WithLabelValues(method, route), elapsed.Seconds(), exemplar)
		releaseExemplar(exemplar)

		level := t.requestLogLevel
		if status >= 500 {
			level = slog.LevelError
		}
		if t.Logger.Enabled(ctx, level) {
			logRequest(ctx, t.Logger, level, "request completed",
				slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
				slog.Int("status", status), slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000))
		}
		if p != nil && p == http.ErrAbortHandler { //nolint:errorlint // see above
			panic(p)
		}
	}()
	h.next.ServeHTTP(ww, req)
}

// logRequest writes one of the middleware's own lines. The record has no
// caller (its PC is 0): the source location of a request line would be
// this file, which tells the reader nothing.
func logRequest(ctx context.Context, l *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	rec := slog.NewRecord(time.Now(), level, msg, 0)
	rec.AddAttrs(attrs...)
	_ = l.Handler().Handle(ctx, rec)
}

// exemplars recycles exemplar label maps: client_golang copies an
// exemplar's labels, so the map is free again once recorded.
var exemplars = sync.Pool{New: func() any { return prometheus.Labels{"trace_id": ""} }}

// exemplarOf is the exemplar of a span: {trace_id="<32 hex digits>"} when
// it is sampled (an exemplar should point at a trace that is stored), nil
// otherwise. Hand it to releaseExemplar once recorded.
func exemplarOf(sc trace.SpanContext) prometheus.Labels {
	if !sc.IsSampled() {
		return nil
	}
	l := exemplars.Get().(prometheus.Labels)
	l["trace_id"] = sc.TraceID().String()
	return l
}

func releaseExemplar(l prometheus.Labels) {
	if l != nil {
		exemplars.Put(l)
	}
}

// add counts one on c, with the exemplar when there is one and c takes
// exemplars.
func add(c prometheus.Counter, exemplar prometheus.Labels) {
	if exemplar != nil {
		if ea, ok := c.(prometheus.ExemplarAdder); ok {
			ea.AddWithExemplar(1, exemplar)
			return
		}
	}
	c.Inc()
}

// observe records v on o, with the exemplar when there is one and o takes
// exemplars.
func observe(o prometheus.Observer, v float64, exemplar prometheus.Labels) {
	if exemplar != nil {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(v, exemplar)
			return
		}
	}
	o.Observe(v)
}

// statusLabels holds the status label of each code below 600, so that the
// hot path does not format one.
var statusLabels = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// spanMethod is the method in a span name: the request method, or "HTTP"
// for a method outside RFC 9110, as OpenTelemetry's HTTP span names do.
func spanMethod(m string) string {
	if v := methodLabel(m); v != "_OTHER" {
		return v
	}
	return "HTTP"
}

// patternRoute is the path part of a ServeMux pattern: "GET
// example.com/items/{id}" gives "/items/{id}"; "" gives "".
func patternRoute(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

var requestIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// requestID is the request_id of a request whose X-Request-ID header is
// given: the header when it is 1 to 128 visible ASCII characters, else a
// new one: 128 random bits (math/rand/v2, the runtime's ChaCha8
// generator) in 26 characters of base32, as crypto/rand.Text writes them.
// The form differs from a trace id (32 hex digits) on purpose, so that a
// search for one never finds the other.
func requestID(header string) string {
	if n := len(header); n > 0 && n <= 128 {
		ok := true
		for i := 0; i < n; i++ {
			if header[i] < 0x21 || header[i] > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return header
		}
	}
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	var out [26]byte
	requestIDEncoding.Encode(out[:], raw[:])
	return string(out[:])
}

// NormalizePath is the route of a request no ServeMux pattern named: its
// path with each segment that looks like an identifier replaced by a
// placeholder, so that a route label is shared by all requests to one
// resource: a segment of digits becomes {id}, a UUID
// (8-4-4-4-12 hex digits) {uuid}, and 16 or more hex digits with at least
// one letter (object ids, hashes) {hex}. "/users/42/orders/9f0c8a1e-..."
// gives "/users/{id}/orders/{uuid}". An empty path is "/".
//
// The result is only as bounded as the application's paths: names in paths
// ("/files/report.pdf") stay. Serve with a ServeMux for routes that are
// bounded by construction; the series cap of Config.SeriesLimit bounds the
// rest.
func NormalizePath(p string) string {
	if p == "" {
		return "/"
	}
	var b []byte // nil until a segment is replaced
	segStart := 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		seg := p[segStart:i]
		if repl := placeholder(seg); repl != "" {
			if b == nil {
				b = make([]byte, 0, len(p))
				b = append(b, p[:segStart]...)
			}
			b = append(b, repl...)
		} else if b != nil {
			b = append(b, seg...)
		}
		if i < len(p) && b != nil {
			b = append(b, '/')
		}
		segStart = i + 1
	}
	if b == nil {
		return p
	}
	return string(b)
}

// placeholder is the placeholder for a path segment that is an
// identifier, "" otherwise.
func placeholder(seg string) string {
	if seg == "" {
		return ""
	}
	digits, hexLetters := 0, 0
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case c >= '0' && c <= '9':
			digits++
		case (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
			hexLetters++
		case c == '-' && len(seg) == 36 && (i == 8 || i == 13 || i == 18 || i == 23):
		default:
			return ""
		}
	}
	switch {
	case len(seg) == 36 && digits+hexLetters == 32:
		return "{uuid}"
	case hexLetters == 0:
		return "{id}"
	case len(seg) >= 16:
		return "{hex}"
	}
	return ""
}
