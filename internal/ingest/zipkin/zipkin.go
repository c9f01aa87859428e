// Package zipkin receives Zipkin v2 JSON spans at POST /api/v2/spans, as
// Zipkin reporters (zipkin-go, Brave, zipkin-js) and the OpenTelemetry
// Collector's Zipkin exporter send them, and hands them to the trace
// pipeline as OTLP-shaped spans.
//
// The mapping is the OpenTelemetry Collector's: localEndpoint.serviceName
// is service.name; kind CLIENT/SERVER/PRODUCER/CONSUMER is the OTLP kind,
// none is internal; tags are string attributes, with the "error" tag (and
// otel.status_code/otel.status_description) turned into the span status;
// remoteEndpoint becomes peer.service, network.peer.address and
// network.peer.port; annotations are span events. A 64-bit trace id is the
// low half of a 128-bit one.
package zipkin

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/horus-obs/horus/internal/httpx"
	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/tenant"
)

// Handler is the receiver.
type Handler struct {
	Sink    ingest.SpanSink
	Limits  ingest.SpanLimits
	Body    ingest.BodyLimits
	Metrics *ingest.Metrics
	Logger  *slog.Logger
}

// span is a Zipkin v2 span as JSON.
type span struct {
	TraceID        string            `json:"traceId"`
	ID             string            `json:"id"`
	ParentID       string            `json:"parentId"`
	Name           string            `json:"name"`
	Kind           string            `json:"kind"`
	Timestamp      int64             `json:"timestamp"` // µs
	Duration       int64             `json:"duration"`  // µs
	LocalEndpoint  *endpoint         `json:"localEndpoint"`
	RemoteEndpoint *endpoint         `json:"remoteEndpoint"`
	Annotations    []annotation      `json:"annotations"`
	Tags           map[string]string `json:"tags"`
	Shared         bool              `json:"shared"`
}

type endpoint struct {
	ServiceName string `json:"serviceName"`
	IPv4        string `json:"ipv4"`
	IPv6        string `json:"ipv6"`
	Port        int    `json:"port"`
}

type annotation struct {
	Timestamp int64  `json:"timestamp"`
	Value     string `json:"value"`
}

// ServeHTTP answers 202 when every span was taken; 400 naming the spans
// refused (the others are stored) or a body nested too deep; 413 for a
// body too large, of too many spans or of empty items; 415 for its type.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &httpx.StatusWriter{ResponseWriter: w}
	h.serve(sw, r)
	h.Metrics.Requests.WithLabelValues(ingest.SignalTraces, ingest.ProtoZipkin, strconv.Itoa(sw.Code())).Inc()
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(err error, n int) {
		h.Metrics.Reject(ingest.SignalTraces, ingest.ProtoZipkin, ingest.ReasonOf(err), n)
		http.Error(w, err.Error(), ingest.StatusOf(err))
	}
	org, err := tenant.FromHeader(r.Header.Get(tenant.Header))
	if err != nil {
		fail(ingest.Errorf(ingest.ReasonInvalidTenant, "%s header: %v", tenant.Header, err), 1)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			fail(ingest.Errorf(ingest.ReasonUnsupportedMedia, "Content-Type %q is not supported; Horus takes Zipkin v2 spans as application/json", ct), 1)
			return
		}
	}
	body, err := ingest.ReadBody(r, h.Body)
	if err != nil {
		fail(err, 1)
		return
	}
	spans, rej, err := Decode(body, h.Limits)
	if err != nil {
		fail(err, 1)
		return
	}
	if len(spans) > 0 {
		if err := h.Sink.AppendSpans(r.Context(), org, spans); err != nil {
			ingest.LogFailure(r.Context(), h.Logger, "storing Zipkin spans failed", err)
			http.Error(w, "storing spans: "+err.Error(), ingest.StatusOf(err))
			return
		}
		h.Metrics.Received.WithLabelValues(ingest.SignalTraces, ingest.ProtoZipkin).Add(float64(len(spans)))
	}
	if rej.Count > 0 {
		for reason, n := range rej.ByReason {
			h.Metrics.Reject(ingest.SignalTraces, ingest.ProtoZipkin, reason, n)
		}
		msg := rej.Err().Error()
		if len(spans) > 0 {
			msg += fmt.Sprintf(" (the other %d spans were stored)", len(spans))
		}
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// The shape of a Zipkin body for the checks before decoding (package
// shape): costs are the structs encoding/json fills and the events they
// become.
var (
	zAnnotation = &shape.Shape{Name: "annotation", Cost: int(unsafe.Sizeof(annotation{}) + unsafe.Sizeof(events.SpanEvent{}))}
	zEndpoint   = &shape.Shape{Name: "endpoint", Cost: int(unsafe.Sizeof(endpoint{})) + 8}
	// A tag is a map entry, then an attribute.
	zTags = &shape.Shape{Name: "tags", MemberCost: 48 + int(unsafe.Sizeof(events.Attr{}))}
	zSpan = &shape.Shape{Name: "span", Kind: shape.Record, Cost: int(unsafe.Sizeof(span{}) + unsafe.Sizeof(events.Event{})), Fields: []shape.Field{
		shape.Repeated(0, "annotations", zAnnotation), shape.Message(0, "tags", zTags),
		shape.Message(0, "localEndpoint", zEndpoint), shape.Message(0, "remoteEndpoint", zEndpoint),
	}}
)

// Decode reads a JSON array of Zipkin v2 spans. A body that is not such an
// array is an error, and so is one of more than shape.MaxRecordsPerRequest
// spans, one nested deeper than shape.MaxDepth, or one whose decoding would
// take more memory than package shape allows (checked before decoding); a
// span that is invalid (ids, timestamp) or over the limits is recorded in
// the rejections and left out.
func Decode(body []byte, limits ingest.SpanLimits) ([]events.Event, ingest.Rejections, error) {
	var rej ingest.Rejections
	if _, err := shape.JSON(body, shape.Repeated(0, "", zSpan), shape.Limits{
		What:          "Zipkin spans",
		Records:       "spans",
		MaxRecords:    shape.MaxRecordsPerRequest,
		RecordsLimit:  "Horus' limit for one request",
		RecordsReason: ingest.ReasonBodyTooLarge,
		MaxJSONDepth:  shape.MaxDepth,
	}); err != nil {
		return nil, rej, err
	}
	var in []span
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil {
		return nil, rej, ingest.Errorf(ingest.ReasonMalformed, "body is not a JSON array of Zipkin v2 spans: %v", err)
	}
	if dec.More() {
		return nil, rej, ingest.Errorf(ingest.ReasonMalformed, "body has data after the JSON array of spans")
	}
	out := make([]events.Event, 0, len(in))
	for i := range in {
		e, err := toEvent(&in[i])
		if err == nil {
			err = limits.Check(&e)
		}
		if err != nil {
			rej.Add(err)
			continue
		}
		out = append(out, e)
	}
	return out, rej, nil
}

func toEvent(s *span) (events.Event, *ingest.Error) {
	var e events.Event
	if err := parseID(e.TraceID[:], s.TraceID, true); err != "" {
		return e, ingest.Errorf(ingest.ReasonInvalidSpan, "span %q: traceId %s", trunc(s.ID), err)
	}
	if err := parseID(e.SpanID[:], s.ID, false); err != "" {
		return e, ingest.Errorf(ingest.ReasonInvalidSpan, "span of trace %s: id %s", e.TraceID, err)
	}
	if s.ParentID != "" {
		if err := parseID(e.ParentSpanID[:], s.ParentID, false); err != "" {
			return e, ingest.Errorf(ingest.ReasonInvalidSpan, "span %s: parentId %s", e.SpanID, err)
		}
	}
	if s.Timestamp <= 0 {
		return e, ingest.Errorf(ingest.ReasonInvalidSpan, "span %s %q has no timestamp", e.SpanID, trunc(s.Name))
	}
	if s.Duration < 0 || s.Timestamp > (1<<63-1)/1000-s.Duration {
		return e, ingest.Errorf(ingest.ReasonInvalidSpan, "span %s %q: timestamp %d or duration %d out of range", e.SpanID, trunc(s.Name), s.Timestamp, s.Duration)
	}
	e.Name = s.Name
	e.Time, e.Duration = s.Timestamp*1000, s.Duration*1000
	switch strings.ToUpper(s.Kind) {
	case "SERVER":
		e.SpanKind = 2
	case "CLIENT":
		e.SpanKind = 3
	case "PRODUCER":
		e.SpanKind = 4
	case "CONSUMER":
		e.SpanKind = 5
	case "":
		e.SpanKind = 1
	default:
		return e, ingest.Errorf(ingest.ReasonInvalidSpan, "span %s: kind %q is not CLIENT, SERVER, PRODUCER or CONSUMER", e.SpanID, trunc(s.Kind))
	}
	e.Service = ingest.UnknownService
	if s.LocalEndpoint != nil && s.LocalEndpoint.ServiceName != "" {
		e.Service = s.LocalEndpoint.ServiceName
	}
	e.Resource = events.Attrs{{Key: "service.name", Value: events.Str(e.Service)}}
	if ep := s.RemoteEndpoint; ep != nil {
		if ep.ServiceName != "" {
			e.Attrs = append(e.Attrs, events.Attr{Key: "peer.service", Value: events.Str(ep.ServiceName)})
		}
		if ip := cmp.Or(ep.IPv4, ep.IPv6); ip != "" {
			e.Attrs = append(e.Attrs, events.Attr{Key: "network.peer.address", Value: events.Str(ip)})
		}
		if ep.Port != 0 {
			e.Attrs = append(e.Attrs, events.Attr{Key: "network.peer.port", Value: events.Int(int64(ep.Port))})
		}
	}
	for k, v := range s.Tags {
		switch k {
		case "error":
			e.StatusCode, e.StatusMessage = 2, v
		case "otel.status_code":
			switch strings.ToUpper(v) {
			case "ERROR":
				e.StatusCode = 2
			case "OK":
				e.StatusCode = 1
			}
		case "otel.status_description":
			e.StatusMessage = v
		default:
			e.Attrs = append(e.Attrs, events.Attr{Key: k, Value: events.Str(v)})
		}
	}
	slices.SortFunc(e.Attrs, func(a, b events.Attr) int { return cmp.Compare(a.Key, b.Key) }) // tags come as a map
	for _, a := range s.Annotations {
		e.Events = append(e.Events, events.SpanEvent{Time: a.Timestamp * 1000, Name: a.Value})
	}
	return e, nil
}

// parseID reads hex into dst, right-aligned: a 16-character trace id is
// the low half of a 128-bit one. It returns what is wrong, or "".
func parseID(dst []byte, s string, trace bool) string {
	switch {
	case s == "":
		return "is missing"
	case len(s) > 2*len(dst):
		return fmt.Sprintf("%q is longer than %d hex characters", trunc(s), 2*len(dst))
	case trace && len(s) != 16 && len(s) != 32 || !trace && len(s) != 16:
		return fmt.Sprintf("%q must be %s lower-hex characters", trunc(s), map[bool]string{true: "16 or 32", false: "16"}[trace])
	}
	n, err := hex.Decode(dst[len(dst)-len(s)/2:], []byte(s))
	if err != nil || n != len(s)/2 {
		return fmt.Sprintf("%q is not hex", trunc(s))
	}
	for _, b := range dst {
		if b != 0 {
			return ""
		}
	}
	return "is all zeros"
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
