// Package loki receives logs as Loki's push API does (POST
// /loki/api/v1/push): protobuf with snappy, as Promtail, Grafana Alloy and
// Fluent Bit send, or JSON, with structured metadata.
//
// A stream's labels become the resource of its lines (their stream
// labels; service_name as service.name); structured metadata becomes
// attributes, trace_id and span_id the id columns. A stream without
// service_name gets one as Loki discovers it.
package loki

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/horus-obs/horus/internal/httpx"
	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/tenant"
)

// Handler answers POST /loki/api/v1/push.
type Handler struct {
	Sink    ingest.LogSink
	Limits  ingest.LogLimits
	Body    ingest.BodyLimits
	Metrics *ingest.Metrics
	Logger  *slog.Logger
}

// ServeHTTP implements http.Handler. Success is 204, as Loki's; a refused
// request is 4xx with a text body naming the problem; lines refused by a
// limit are named in a 400 after the others are stored (as Loki's
// distributor does, so the client does not send them again).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &httpx.StatusWriter{ResponseWriter: w}
	defer func() {
		h.Metrics.Requests.WithLabelValues(ingest.SignalLogs, ingest.ProtoLokiPush, strconv.Itoa(sw.Code())).Inc()
	}()
	n, err := h.push(r)
	if err == nil {
		h.Metrics.Received.WithLabelValues(ingest.SignalLogs, ingest.ProtoLokiPush).Add(float64(n))
		sw.WriteHeader(http.StatusNoContent)
		return
	}
	var rej *rejected
	switch {
	case errors.As(err, &rej):
		h.Metrics.Received.WithLabelValues(ingest.SignalLogs, ingest.ProtoLokiPush).Add(float64(n))
		for reason, c := range rej.ByReason {
			h.Metrics.Reject(ingest.SignalLogs, ingest.ProtoLokiPush, reason, c)
		}
		http.Error(sw, rej.Error(), http.StatusBadRequest)
	case ingest.ReasonOf(err) != "":
		h.Metrics.Reject(ingest.SignalLogs, ingest.ProtoLokiPush, ingest.ReasonOf(err), 1)
		http.Error(sw, err.Error(), ingest.StatusOf(err))
	default:
		ingest.LogFailure(r.Context(), h.Logger, "storing pushed logs failed", err)
		http.Error(sw, err.Error(), http.StatusServiceUnavailable)
	}
}

// rejected is a push of which some lines were refused and the others
// stored.
type rejected struct{ ingest.Rejections }

func (r *rejected) Error() string {
	return fmt.Sprintf("%d log lines refused (the others were stored): %v", r.Count, r.Err())
}

// push reads, converts, checks and stores one request; it returns the
// lines stored.
func (h *Handler) push(r *http.Request) (int, error) {
	if r.Method != http.MethodPost {
		return 0, ingest.Errorf(ingest.ReasonMalformed, "the push API takes POST, not %s", r.Method)
	}
	t, err := tenant.FromHeader(r.Header.Get(tenant.Header))
	if err != nil {
		return 0, ingest.Errorf(ingest.ReasonInvalidTenant, "%s header: %v", tenant.Header, err)
	}
	ct := r.Header.Get("Content-Type")
	mt := ""
	if ct != "" {
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return 0, ingest.Errorf(ingest.ReasonUnsupportedMedia, "Content-Type %q: %v", ct, err)
		}
	}
	body, err := ingest.ReadBody(r, h.Body)
	if err != nil {
		return 0, err
	}
	// The protobuf is snappy-compressed, without a Content-Encoding.
	if isProtobuf(mt) && !strings.EqualFold(r.Header.Get("Content-Encoding"), "snappy") {
		if body, err = ingest.DecodeSnappy(body, h.Body.MaxDecodedBytes); err != nil {
			return 0, err
		}
	}
	var req push.PushRequest
	if req.Streams, err = h.decode(mt, ct, body); err != nil {
		return 0, err
	}
	total := 0
	for i := range req.Streams {
		total += len(req.Streams[i].Entries)
	}
	if err := h.Limits.CheckBatch(total); err != nil {
		return 0, err
	}
	logs := make([]events.Event, 0, total)
	now := time.Now().UnixNano()
	for i := range req.Streams {
		if logs, err = appendStream(logs, &req.Streams[i], now); err != nil {
			return 0, err
		}
	}
	var rej rejected
	logs = h.Limits.CheckLogs(logs, &rej.Rejections)
	if len(logs) > 0 {
		if err := h.Sink.AppendLogs(r.Context(), t, logs); err != nil {
			return 0, fmt.Errorf("store logs: %w", err)
		}
	}
	if rej.Count > 0 {
		return len(logs), &rej
	}
	return len(logs), nil
}

// The shapes of a push for the checks before decoding (package shape):
// protobuf (push.proto, decoded by gogo into push's structs, strings
// aliasing the body) and JSON (decoded into jsonPush, then push's
// structs). A stream without entries counts as a line.
var (
	pbPair   = &shape.Shape{Name: "LabelPairAdapter", Cost: 32}
	pbEntry  = &shape.Shape{Name: "EntryAdapter", Kind: shape.Record, Cost: 88}
	pbStream = &shape.Shape{Name: "StreamAdapter", Kind: shape.Container, Cost: 48}
	pbPush   = &shape.Shape{Name: "PushRequest"}

	// A stream's labels: a map entry and a piece of the labels text.
	jsLabels = &shape.Shape{Name: "stream", MemberCost: 64}
	// An entry's structured metadata: a map entry and a LabelAdapter.
	jsMetadata = &shape.Shape{Name: "structured metadata", MemberCost: 96}
	jsEntry    = &shape.Shape{Name: "value", Kind: shape.Record, Cost: 24 + 88, Any: &shape.Field{Shape: jsMetadata}}
	jsStream   = &shape.Shape{Name: "stream", Kind: shape.Container, Cost: 32 + 48}
	jsPush     = &shape.Shape{Name: "push"}
)

func init() {
	pbEntry.Fields = []shape.Field{shape.Repeated(3, "structuredMetadata", pbPair), shape.Repeated(4, "parsed", pbPair)}
	pbStream.Fields = []shape.Field{shape.Repeated(2, "entries", pbEntry)}
	pbPush.Fields = []shape.Field{shape.Repeated(1, "streams", pbStream)}
	jsStream.Fields = []shape.Field{shape.Message(0, "stream", jsLabels), shape.Repeated(0, "values", jsEntry)}
	jsPush.Fields = []shape.Field{shape.Repeated(0, "streams", jsStream)}
}

// check refuses a push body before it is decoded: more lines than the
// limit (a stream without any counting as one), a decoding that would take
// more than package shape's bound of memory, JSON nested deeper than
// shape.MaxDepth. The error is an *ingest.Error.
func (h *Handler) check(body []byte, isJSON bool) error {
	l := shape.Limits{
		What:          "Loki push",
		Records:       "log lines",
		MaxRecords:    h.Limits.MaxLines,
		RecordsLimit:  "limits.max_log_lines_per_request",
		RecordsReason: ingest.ReasonTooManyLines,
		MaxJSONDepth:  shape.MaxDepth,
	}
	if l.MaxRecords <= 0 {
		l.MaxRecords, l.RecordsLimit = shape.MaxRecordsPerRequest, "Horus' limit for one request"
	}
	var err error
	if isJSON {
		_, err = shape.JSON(body, shape.Message(0, "", jsPush), l)
	} else {
		_, err = shape.Proto(body, pbPush, l)
	}
	return err
}

func isProtobuf(mediaType string) bool {
	return mediaType == "application/x-protobuf" || mediaType == "application/protobuf"
}

// decode checks (see check) and decodes a push body of media type mt
// (from Content-Type ct), protobuf already snappy-decoded. Its errors are
// *ingest.Error.
func (h *Handler) decode(mt, ct string, body []byte) ([]push.Stream, error) {
	switch {
	case isProtobuf(mt):
		if err := h.check(body, false); err != nil {
			return nil, err
		}
		var req push.PushRequest
		if err := req.Unmarshal(body); err != nil {
			return nil, ingest.Errorf(ingest.ReasonMalformed, "decode push protobuf: %v", err)
		}
		return req.Streams, nil
	case mt == "" || mt == "application/json":
		if err := h.check(body, true); err != nil {
			return nil, err
		}
		return decodeJSON(body)
	}
	return nil, ingest.Errorf(ingest.ReasonUnsupportedMedia, "Content-Type %q is not supported; use application/x-protobuf (snappy) or application/json", ct)
}

// jsonPush is the JSON push body: streams of labels and [ts, line,
// metadata] values.
type jsonPush struct {
	Streams []struct {
		Stream map[string]string   `json:"stream"`
		Values [][]json.RawMessage `json:"values"`
	} `json:"streams"`
}

func decodeJSON(body []byte) ([]push.Stream, error) {
	var p jsonPush
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, ingest.Errorf(ingest.ReasonMalformed, "decode push JSON: %v", err)
	}
	out := make([]push.Stream, len(p.Streams))
	for i, s := range p.Streams {
		ls := make([]string, 0, len(s.Stream))
		for k, v := range s.Stream {
			ls = append(ls, k+"="+strconv.Quote(v))
		}
		out[i].Labels = "{" + strings.Join(ls, ",") + "}"
		out[i].Entries = make([]push.Entry, len(s.Values))
		for j, v := range s.Values {
			e := &out[i].Entries[j]
			if len(v) < 2 || len(v) > 3 {
				return nil, ingest.Errorf(ingest.ReasonMalformed, "stream %d, value %d: want [\"<unix ns>\", \"<line>\"] or with a structured metadata object third; got %d elements", i, j, len(v))
			}
			var ts string
			if err := json.Unmarshal(v[0], &ts); err != nil {
				return nil, ingest.Errorf(ingest.ReasonMalformed, "stream %d, value %d: the timestamp must be a string of unix nanoseconds: %v", i, j, err)
			}
			ns, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return nil, ingest.Errorf(ingest.ReasonMalformed, "stream %d, value %d: timestamp %q is not unix nanoseconds", i, j, ts)
			}
			e.Timestamp = time.Unix(0, ns)
			if err := json.Unmarshal(v[1], &e.Line); err != nil {
				return nil, ingest.Errorf(ingest.ReasonMalformed, "stream %d, value %d: the line must be a string: %v", i, j, err)
			}
			if len(v) == 3 {
				var md map[string]string
				if err := json.Unmarshal(v[2], &md); err != nil {
					return nil, ingest.Errorf(ingest.ReasonMalformed, "stream %d, value %d: structured metadata must be an object of strings: %v", i, j, err)
				}
				for k, v := range md {
					e.StructuredMetadata = append(e.StructuredMetadata, push.LabelAdapter{Name: k, Value: v})
				}
			}
		}
	}
	return out, nil
}

var labelParser = parser.NewParser(parser.Options{})

// serviceLabels are the labels a stream's service_name is taken from when
// it has none, in Loki's order (discover_service_name).
var serviceLabels = []string{"service", "app", "application", "name", "app_kubernetes_io_name", "container",
	"container_name", "k8s_container_name", "component", "workload", "job"}

// levelLabels are the labels and structured metadata a line's level is
// read from, before the line itself.
var levelLabels = []string{"level", "detected_level", "severity", "lvl", "LEVEL", "Level", "SEVERITY", "Severity"}

// appendStream converts the entries of one stream.
func appendStream(dst []events.Event, s *push.Stream, now int64) ([]events.Event, error) {
	if !strings.HasPrefix(strings.TrimSpace(s.Labels), "{") {
		return nil, ingest.Errorf(ingest.ReasonInvalidLabels, "stream labels %q: want {name=\"value\", ...}", s.Labels)
	}
	ls, err := labelParser.ParseMetric(s.Labels)
	if err != nil {
		return nil, ingest.Errorf(ingest.ReasonInvalidLabels, "stream labels %q: %v", s.Labels, err)
	}
	if ls.Len() == 0 {
		return nil, ingest.Errorf(ingest.ReasonInvalidLabels, "a stream without labels; Loki needs at least one")
	}
	res := make(events.Attrs, 0, ls.Len()+1)
	service, level := "", ""
	ls.Range(func(l labels.Label) {
		switch l.Name {
		case "service_name":
			service = l.Value
			res = append(res, events.Attr{Key: "service.name", Value: events.Str(l.Value)})
			return
		case "level":
			level = l.Value
		}
		res = append(res, events.Attr{Key: l.Name, Value: events.Str(l.Value)})
	})
	if service == "" {
		for _, n := range serviceLabels {
			if v := ls.Get(n); v != "" {
				service = v
				break
			}
		}
		if service == "" {
			service = ingest.UnknownService
		}
		res = append(res, events.Attr{Key: "service.name", Value: events.Str(service)})
	}
	for i := range s.Entries {
		en := &s.Entries[i]
		e := events.Event{Time: en.Timestamp.UnixNano(), Service: service, Resource: res, Body: en.Line}
		if en.Timestamp.IsZero() {
			e.Time = now
		}
		lvl := level
		for _, m := range en.StructuredMetadata {
			if setID(&e, m.Name, m.Value) {
				continue
			}
			e.Attrs = append(e.Attrs, events.Attr{Key: m.Name, Value: events.Str(m.Value)})
		}
		if lvl == "" {
			for _, n := range levelLabels {
				if v, ok := e.Attrs.Get(n); ok && v.Str != "" {
					lvl = v.Str
					break
				}
			}
		}
		if lvl == "" {
			lvl = ingest.DetectLevel(en.Line)
		}
		if lvl != "" {
			e.SeverityText = lvl
			e.Severity = events.LevelSeverity(events.NormalizeLevel(lvl))
		}
		// The trace and span ids come from structured metadata only: Loki
		// reads a pushed line for its level alone (detected_level,
		// pkg/distributor/field_detection.go; the generic fields it can
		// also read are none by default), so a `trace_id=…` in the text
		// is found by `| logfmt` or `| json` as in Loki, not made metadata.
		dst = append(dst, e)
	}
	return dst, nil
}

// setID sets the trace or span id of e from structured metadata named for
// one and valid; it reports whether it did. An invalid id stays metadata.
func setID(e *events.Event, name, value string) bool {
	switch name {
	case "trace_id", "traceId", "traceID", "trace.id":
		if id, err := events.ParseTraceID(value); err == nil && !id.IsZero() {
			e.TraceID = id
			return true
		}
	case "span_id", "spanId", "spanID", "span.id":
		if id, err := events.ParseSpanID(value); err == nil && !id.IsZero() {
			e.SpanID = id
			return true
		}
	}
	return false
}
