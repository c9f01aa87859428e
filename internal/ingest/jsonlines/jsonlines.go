// Package jsonlines receives logs as JSON lines (POST /api/v1/logs/jsonl):
// one JSON object a line, as application loggers write them (slog, zap,
// logrus, bunyan, pino, logback's JSON encoders).
//
// Fields named as Fields says become the record's time, body, level,
// trace id, span id and service; every other field is an attribute
// (structured metadata), nested objects flattened with dots. The URL's
// query parameters are stream labels of every line
// (?env=prod&host=web-1).
package jsonlines

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"time"
	"unsafe"

	"github.com/buger/jsonparser"

	"github.com/horus-obs/horus/internal/httpx"
	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/tenant"
)

// Fields names the fields with a meaning, each a list of names tried in
// order. A name may be dotted to reach into a nested object (trace.id).
type Fields struct {
	Time    []string `yaml:"time"`
	Message []string `yaml:"message"`
	Level   []string `yaml:"level"`
	TraceID []string `yaml:"trace_id"`
	SpanID  []string `yaml:"span_id"`
	Service []string `yaml:"service"`
}

// DefaultFields accept the common shapes.
func DefaultFields() Fields {
	return Fields{
		Time:    []string{"timestamp", "time", "ts", "@timestamp"},
		Message: []string{"message", "msg"},
		Level:   []string{"level", "severity", "lvl"},
		TraceID: []string{"trace_id", "traceId", "trace.id", "traceID"},
		SpanID:  []string{"span_id", "spanId", "span.id", "spanID"},
		Service: []string{"service.name", "service_name", "service"},
	}
}

// Handler answers POST /api/v1/logs/jsonl.
type Handler struct {
	Sink    ingest.LogSink
	Limits  ingest.LogLimits
	Body    ingest.BodyLimits
	Fields  Fields
	Metrics *ingest.Metrics
	Logger  *slog.Logger
}

// Response is the answer to a push: how many lines were stored, and if
// some were refused, how many and why (the first few problems).
type Response struct {
	Accepted int    `json:"accepted"`
	Rejected int    `json:"rejected,omitempty"`
	Error    string `json:"error,omitempty"`
}

// ServeHTTP implements http.Handler. It answers 200 when every line was
// stored, 400 naming the bad lines when some were refused (the others are
// stored), and 4xx or 503 with nothing stored for a bad or failed request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &httpx.StatusWriter{ResponseWriter: w}
	defer func() {
		h.Metrics.Requests.WithLabelValues(ingest.SignalLogs, ingest.ProtoJSONLines, strconv.Itoa(sw.Code())).Inc()
	}()
	resp, rej, err := h.push(r)
	code := http.StatusOK
	switch {
	case err != nil && ingest.ReasonOf(err) != "":
		h.Metrics.Reject(ingest.SignalLogs, ingest.ProtoJSONLines, ingest.ReasonOf(err), 1)
		code, resp.Error = ingest.StatusOf(err), err.Error()
	case err != nil:
		ingest.LogFailure(r.Context(), h.Logger, "storing JSON lines failed", err)
		code, resp.Error = http.StatusServiceUnavailable, err.Error()
	case rej.Count > 0:
		for reason, c := range rej.ByReason {
			h.Metrics.Reject(ingest.SignalLogs, ingest.ProtoJSONLines, reason, c)
		}
		code, resp.Rejected = http.StatusBadRequest, rej.Count
		resp.Error = fmt.Sprintf("%d lines refused (the others were stored): %v", rej.Count, rej.Err())
	}
	h.Metrics.Received.WithLabelValues(ingest.SignalLogs, ingest.ProtoJSONLines).Add(float64(resp.Accepted))
	sw.Header().Set("Content-Type", "application/json")
	sw.WriteHeader(code)
	_ = json.NewEncoder(sw).Encode(resp)
}

func (h *Handler) push(r *http.Request) (Response, *ingest.Rejections, error) {
	var rej ingest.Rejections
	if r.Method != http.MethodPost {
		return Response{}, &rej, ingest.Errorf(ingest.ReasonMalformed, "JSON lines are sent with POST, not %s", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			return Response{}, &rej, ingest.Errorf(ingest.ReasonUnsupportedMedia, "Content-Type %q: %v", ct, err)
		// text/plain and forms, which a web page can send cross-origin
		// unasked, are refused (the server refuses them before this too).
		case mt != "application/x-ndjson" && mt != "application/jsonl" && mt != "application/json" &&
			mt != "application/jsonlines" && mt != "application/x-jsonlines":
			return Response{}, &rej, ingest.Errorf(ingest.ReasonUnsupportedMedia, "Content-Type %q is not supported; send application/x-ndjson", ct)
		}
	}
	t, err := tenant.FromHeader(r.Header.Get(tenant.Header))
	if err != nil {
		return Response{}, &rej, ingest.Errorf(ingest.ReasonInvalidTenant, "%s header: %v", tenant.Header, err)
	}
	stream, err := streamLabels(r)
	if err != nil {
		return Response{}, &rej, err
	}
	body, err := ingest.ReadBody(r, h.Body)
	if err != nil {
		return Response{}, &rej, err
	}
	if err := h.Limits.CheckBatch(bytes.Count(body, []byte{'\n'}) + 1); err != nil {
		return Response{}, &rej, err
	}
	d := newDecoder(h.Fields, stream, time.Now().UnixNano(), h.Limits)
	logs := d.decode(body, &rej)
	logs = h.Limits.CheckLogs(logs, &rej)
	if len(logs) > 0 {
		if err := h.Sink.AppendLogs(r.Context(), t, logs); err != nil {
			return Response{}, &rej, fmt.Errorf("store logs: %w", err)
		}
	}
	return Response{Accepted: len(logs)}, &rej, nil
}

// streamLabels reads the stream labels of a request from its query
// parameters; service_name is stored as service.name.
func streamLabels(r *http.Request) (events.Attrs, error) {
	q := r.URL.Query()
	var res events.Attrs
	for k, vs := range q {
		if events.SanitizeLabelName(k) != k {
			return nil, ingest.Errorf(ingest.ReasonInvalidLabels, "query parameter %q is not a valid label name (letters, digits and '_')", k)
		}
		if len(vs) != 1 {
			return nil, ingest.Errorf(ingest.ReasonInvalidLabels, "label %q is given %d times", k, len(vs))
		}
		if k == "service_name" {
			k = "service.name"
		}
		res = append(res, events.Attr{Key: k, Value: events.Str(vs[0])})
	}
	return res, nil
}

// decoder turns the lines of one request into events.
type decoder struct {
	f      Fields
	stream events.Attrs
	now    int64
	limits ingest.LogLimits
	// resources by service, shared by the lines of a service
	resources map[string]events.Attrs
	keys      map[string]fieldKey // interned attribute keys (dotted paths)
	// the keys of the last line by their place in it: lines of one logger
	// repeat their keys in the same order, and comparing the key read
	// with the one at its place costs less than hashing it
	byPlace []fieldKey
	place   int // the place of the next key in the line
	// interned values of the fields with few values (level, service), and
	// the severity of each level text
	interned map[string]string
	severity map[string]int32
	text     textArena    // the text values of the request's lines
	lists    attrArena    // their attribute lists
	attrs    events.Attrs // the attributes of the line being read

	// per line
	line    []byte
	e       *events.Event
	special map[string]int // field name -> which special field (1-based)
	found   [nSpecial]bool
	lineErr error
	path    []byte   // dotted key path of the object being read
	open    []int    // lengths of path at the objects open
	array   int      // arrays open inside the array kept whole (0: none)
	arrayAt int      // offset of the array kept whole
	arrayOf fieldKey // its key
}

// fieldKey is an interned key and the field with a meaning it names.
type fieldKey struct {
	name    string
	special int // which special field (1-based), 0 for none
}

const (
	fTime = iota
	fMessage
	fLevel
	fTraceID
	fSpanID
	fService
	nSpecial
)

func newDecoder(f Fields, stream events.Attrs, now int64, limits ingest.LogLimits) *decoder {
	d := &decoder{f: f, stream: stream, now: now, limits: limits, resources: map[string]events.Attrs{}, keys: map[string]fieldKey{}, special: map[string]int{},
		interned: map[string]string{}, severity: map[string]int32{}}
	for i, names := range [nSpecial][]string{f.Time, f.Message, f.Level, f.TraceID, f.SpanID, f.Service} {
		for j := len(names) - 1; j >= 0; j-- {
			d.special[names[j]] = i + 1
		}
	}
	return d
}

// decode converts the lines of body; a bad line is recorded in rej, with
// the reason of its *ingest.Error or as an invalid line.
func (d *decoder) decode(body []byte, rej *ingest.Rejections) []events.Event {
	logs := make([]events.Event, 0, bytes.Count(body, []byte{'\n'})+1)
	for n := 1; len(body) > 0; n++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		// A line may hold several objects one after another ("{...}
		// {...}", which is what curl -d makes of a file of JSON lines, as
		// it drops the newlines): each is a record, as jq and
		// json.Decoder read such a stream. A bad object refuses the rest
		// of its line, named by number; none is dropped unsaid.
		for obj := 1; len(line) > 0; obj++ {
			logs = append(logs, events.Event{})
			end, err := d.decodeLine(&logs[len(logs)-1], line)
			if err != nil {
				logs = logs[:len(logs)-1]
				where := fmt.Sprintf("line %d", n)
				if obj > 1 {
					where = fmt.Sprintf("line %d, object %d", n, obj)
				}
				var ie *ingest.Error
				if errors.As(err, &ie) {
					rej.Add(ingest.Errorf(ie.Reason, "%s: %s", where, ie.Msg))
				} else {
					rej.Add(ingest.Errorf(ingest.ReasonInvalidLine, "%s: %v", where, err))
				}
				break
			}
			line = bytes.TrimSpace(line[end:])
		}
	}
	return logs
}

// decodeLine converts the first JSON object of line and returns the offset
// just past it. The limits that bound the work come first:
// a line longer than MaxLineBytes is refused unread; the walk stops at
// MaxFields fields and at shape.MaxDepth levels. The walk reads each byte
// once, so a line costs time linear in its length whatever its nesting.
func (d *decoder) decodeLine(e *events.Event, line []byte) (int, error) {
	if l := d.limits.MaxLineBytes; l > 0 && len(line) > l {
		return 0, ingest.Errorf(ingest.ReasonLineTooLong, "%d bytes, more than the limit of %d (limits.max_log_line_bytes)", len(line), l)
	}
	if line[0] != '{' {
		return 0, errors.New("not a JSON object")
	}
	d.line, d.e, d.found, d.lineErr = line, e, [nSpecial]bool{}, nil
	d.path, d.open, d.array, d.attrs, d.place = d.path[:0], d.open[:0], 0, d.attrs[:0], 0
	e.Time = d.now
	end, err := shape.Walk(line, shape.MaxDepth, d)
	e.Attrs = d.lists.list(d.attrs)
	if err != nil {
		var je *shape.JSONError
		switch {
		case errors.As(err, &je) && je.Depth > 0:
			return 0, ingest.Errorf(ingest.ReasonTooDeep, "%v, the limit", je)
		case errors.As(err, &je):
			return 0, fmt.Errorf("not valid JSON: %w", err)
		}
		return 0, err
	}
	if d.lineErr != nil {
		return 0, d.lineErr
	}
	line = line[:end]
	if !d.found[fMessage] {
		e.Body = d.text.str(line)
	}
	service := e.Service
	if service == "" {
		if v, ok := d.stream.Get("service.name"); ok {
			service = v.Str
		} else if v, ok := d.stream.Get("service"); ok {
			service = v.Str
		} else {
			service = ingest.UnknownService
		}
	}
	e.Service = service
	res, ok := d.resources[service]
	if !ok {
		res = append(events.Attrs{}, d.stream...)
		if _, has := res.Get("service.name"); !has {
			res = append(res, events.Attr{Key: "service.name", Value: events.Str(service)})
		} else {
			for i := range res {
				if res[i].Key == "service.name" {
					res[i].Value = events.Str(service)
				}
			}
		}
		d.resources[service] = res
	}
	e.Resource = res
	if !d.found[fLevel] {
		if l := ingest.DetectLevel(e.Body); l != "" {
			e.SeverityText, e.Severity = l, events.LevelSeverity(l)
		}
	}
	return end, nil
}

// key is the dotted path of the member key in the object being read,
// interned.
func (d *decoder) key(key []byte) fieldKey {
	n := len(d.path)
	if n > 0 {
		d.path = append(d.path, '.')
	}
	d.path = append(d.path, key...)
	k := d.lookup(d.path)
	d.path, d.place = d.path[:n], d.place+1
	return k
}

// lookup interns a key path, looking at the key of the last line at the
// same place first.
func (d *decoder) lookup(path []byte) fieldKey {
	if d.place < len(d.byPlace) && d.byPlace[d.place].name == string(path) {
		return d.byPlace[d.place]
	}
	k, ok := d.keys[string(path)]
	if !ok {
		k = fieldKey{name: string(path), special: d.special[string(path)]}
		d.keys[k.name] = k
	}
	switch {
	case d.place < len(d.byPlace):
		d.byPlace[d.place] = k
	case d.place == len(d.byPlace) && d.place < maxPlaces:
		d.byPlace = append(d.byPlace, k)
	}
	return k
}

// maxPlaces bounds the keys remembered by their place in a line.
const maxPlaces = 64

// Open implements shape.Visitor: a nested object extends the key path, an
// array is kept whole as an attribute.
func (d *decoder) Open(key []byte, array bool, off int) error {
	switch {
	case d.array > 0:
		d.array++
	case key == nil: // the line's object
	case array:
		d.array, d.arrayAt, d.arrayOf = 1, off, d.key(key)
	default:
		d.open = append(d.open, len(d.path))
		if len(d.path) > 0 {
			d.path = append(d.path, '.')
		}
		d.path = append(d.path, key...)
	}
	return nil
}

// Close implements shape.Visitor.
func (d *decoder) Close(end int) error {
	switch {
	case d.array > 0:
		if d.array--; d.array == 0 {
			return d.field(d.arrayOf, d.line[d.arrayAt:end], jsonparser.Array)
		}
	case len(d.open) > 0:
		d.path = d.path[:d.open[len(d.open)-1]]
		d.open = d.open[:len(d.open)-1]
	}
	return nil
}

// Scalar implements shape.Visitor.
func (d *decoder) Scalar(key, value []byte) error {
	if d.array > 0 || key == nil {
		return nil
	}
	var typ jsonparser.ValueType
	switch c := value[0]; {
	case c == '"':
		typ, value = jsonparser.String, value[1:len(value)-1]
	case c == 't' && string(value) == "true", c == 'f' && string(value) == "false":
		typ = jsonparser.Boolean
	case c == 'n' && string(value) == "null":
		return nil
	case c == '-' || '0' <= c && c <= '9':
		typ = jsonparser.Number
	default:
		return fmt.Errorf("not valid JSON: %q is not a value", value)
	}
	return d.field(d.key(key), value, typ)
}

// field takes one flattened field: a field with a meaning, or an
// attribute while the line has fewer than MaxFields.
func (d *decoder) field(k fieldKey, value []byte, typ jsonparser.ValueType) error {
	if s := k.special; s > 0 && !d.found[s-1] {
		if d.setSpecial(s-1, k.name, value, typ) {
			d.found[s-1] = true
			return nil
		}
	}
	if l := d.limits.MaxFields; l > 0 && len(d.attrs) >= l {
		return ingest.Errorf(ingest.ReasonTooManyAttributes, "more than %d fields (attributes, structured metadata), the limit (limits.max_log_fields)", l)
	}
	d.attrs = append(d.attrs, events.Attr{Key: k.name, Value: d.value(value, typ)})
	return nil
}

// setSpecial sets a field with a meaning; false keeps it an attribute (a
// trace id that is not hex, say).
func (d *decoder) setSpecial(which int, name string, value []byte, typ jsonparser.ValueType) bool {
	e := d.e
	switch which {
	case fTime:
		t, err := parseTime(value, typ)
		if err != nil {
			d.lineErr = fmt.Errorf("field %q: %w", name, err)
			return false
		}
		e.Time = t
	case fMessage:
		e.Body = d.str(value, typ)
	case fLevel:
		l := d.intern(value, typ)
		if typ == jsonparser.Number { // bunyan and pino write numbers: 30 is info
			if n, err := strconv.Atoi(l); err == nil {
				l = bunyanLevel(n)
			}
		}
		sev, ok := d.severity[l]
		if !ok {
			sev = events.LevelSeverity(events.NormalizeLevel(l))
			d.severity[l] = sev
		}
		e.SeverityText, e.Severity = l, sev
	case fTraceID:
		var id events.TraceID
		if !readID(id[:], value, typ, func(s string) ([]byte, error) { t, err := events.ParseTraceID(s); return t[:], err }) {
			return false
		}
		e.TraceID = id
	case fSpanID:
		var id events.SpanID
		if !readID(id[:], value, typ, func(s string) ([]byte, error) { t, err := events.ParseSpanID(s); return t[:], err }) {
			return false
		}
		e.SpanID = id
	case fService:
		if typ != jsonparser.String || len(value) == 0 {
			return false
		}
		e.Service = d.intern(value, typ)
	}
	return true
}

func bunyanLevel(n int) string {
	switch {
	case n <= 10:
		return "trace"
	case n <= 20:
		return "debug"
	case n <= 30:
		return "info"
	case n <= 40:
		return "warn"
	case n <= 50:
		return "error"
	}
	return "fatal"
}

func text(value []byte, typ jsonparser.ValueType) string {
	if typ == jsonparser.String {
		if bytes.IndexByte(value, '\\') >= 0 {
			if s, err := jsonparser.ParseString(value); err == nil {
				return s
			}
		}
	}
	return string(value)
}

// str is text, its bytes in the request's text arena.
func (d *decoder) str(value []byte, typ jsonparser.ValueType) string {
	if typ == jsonparser.String && bytes.IndexByte(value, '\\') >= 0 {
		return text(value, typ)
	}
	return d.text.str(value)
}

// intern is text, one string for each distinct value in a request: for
// the fields a few values repeat in (level, service).
func (d *decoder) intern(value []byte, typ jsonparser.ValueType) string {
	if typ == jsonparser.String && bytes.IndexByte(value, '\\') >= 0 {
		return text(value, typ)
	}
	if s, ok := d.interned[string(value)]; ok {
		return s
	}
	s := string(value)
	d.interned[s] = s
	return s
}

// value converts an attribute's JSON value; text goes to the arena.
func (d *decoder) value(value []byte, typ jsonparser.ValueType) events.Value {
	switch typ {
	case jsonparser.String:
		return events.Str(d.str(value, typ))
	case jsonparser.Number:
		if i, err := strconv.ParseInt(view(value), 10, 64); err == nil {
			return events.Int(i)
		}
		if f, err := strconv.ParseFloat(view(value), 64); err == nil {
			return events.Float(f)
		}
	case jsonparser.Boolean:
		return events.Bool(value[0] == 't')
	case jsonparser.Array:
		return events.Value{Type: events.TypeArray, Str: d.text.str(value)}
	}
	return events.Str(d.text.str(value))
}

// view is b as a string for the time of a call that keeps no part of it
// (strconv's and time's parsers keep the text only in their errors, which
// are dropped or formatted into a copy).
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// readID reads a trace or span id into dst, false when it does not parse
// or is all zeros. 2 len(dst) hex digits, as nearly every logger writes
// them, decode in place; other lengths and escapes go through parse
// (events.ParseTraceID, ParseSpanID).
func readID(dst, value []byte, typ jsonparser.ValueType, parse func(string) ([]byte, error)) bool {
	if typ != jsonparser.String || len(value) != 2*len(dst) || !decodeHex(dst, value) {
		b, err := parse(text(value, typ))
		if err != nil {
			return false
		}
		copy(dst, b)
	}
	for _, c := range dst {
		if c != 0 {
			return true
		}
	}
	return false
}

// decodeHex decodes hex digits (either case) into dst, len(src) = 2 len(dst),
// reporting whether every byte was a digit.
func decodeHex(dst, src []byte) bool {
	for i := range dst {
		hi, ok1 := unhex(src[2*i])
		lo, ok2 := unhex(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseTime reads a time: RFC 3339 text, or unix time as a number or
// numeric text, in seconds, milliseconds, microseconds or nanoseconds by
// its magnitude (seconds may have a fraction; the others are integers).
func parseTime(value []byte, typ jsonparser.ValueType) (int64, error) {
	s := view(value)
	if typ == jsonparser.String && bytes.IndexByte(value, '\\') >= 0 {
		s = text(value, typ)
	}
	if typ == jsonparser.String {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UnixNano(), nil
		}
		// Go's and Python's default formats: a space for the T.
		for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UnixNano(), nil
			}
		}
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && i >= 0 {
		switch {
		case i < 1e11:
			return i * 1e9, nil
		case i < 1e14:
			return i * 1e6, nil
		case i < 1e17:
			return i * 1e3, nil
		}
		return i, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f >= 1e11 {
		return 0, fmt.Errorf("time %q is neither RFC 3339 nor a unix time", s)
	}
	sec, frac := math.Modf(f)
	return int64(sec)*1e9 + int64(math.Round(frac*1e9)), nil
}
