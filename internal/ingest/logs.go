package ingest

import (
	"context"
	"strings"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
)

// UnknownService is the service of data that names none, as the
// OpenTelemetry Collector, Loki and Tempo name it.
const UnknownService = "unknown_service"

// LogSink takes the log records of one tenant once they are decoded and
// checked: the log pipeline (redaction) in front of the event store.
type LogSink interface {
	AppendLogs(ctx context.Context, tenant string, logs []events.Event) error
}

// LogLimits bound log records at ingest. A record over a limit is refused
// and the rest of its batch is stored; a batch of more than MaxLines
// records is refused whole. Zero fields are unlimited.
type LogLimits struct {
	// MaxLineBytes bounds a record's body.
	MaxLineBytes int
	// MaxFields bounds a record's attributes (structured metadata).
	MaxFields int
	// MaxLines bounds the records of one request.
	MaxLines int
	// MaxFuture refuses records timed further than this ahead of the
	// receiving clock, as Loki's creation grace period does.
	MaxFuture time.Duration
	// MaxAge refuses records timed further than this behind the
	// receiving clock, as Loki's reject_old_samples_max_age does (a
	// timestamp in seconds where nanoseconds are due lands in 1970).
	MaxAge time.Duration
	// MaxStreamLabels bounds the labels of a record's stream (its
	// Resource), as Loki's max_label_names_per_series (default 15).
	MaxStreamLabels int
	// MaxLabelNameLength and MaxLabelValueLength bound a stream label's
	// name and value in bytes, as Loki's max_label_name_length (1024) and
	// max_label_value_length (2048).
	MaxLabelNameLength, MaxLabelValueLength int
}

// CheckStream refuses a stream (a record's Resource: its stream labels)
// over the label limits.
func (l LogLimits) CheckStream(res events.Attrs) *Error {
	if l.MaxStreamLabels > 0 && len(res) > l.MaxStreamLabels {
		return Errorf(ReasonTooManyLabels, "stream %s has %d labels, more than the limit of %d (limits.max_log_stream_labels)", truncate(streamString(res)), len(res), l.MaxStreamLabels)
	}
	for _, a := range res {
		switch {
		case l.MaxLabelNameLength > 0 && len(a.Key) > l.MaxLabelNameLength:
			return Errorf(ReasonLabelNameTooLong, "stream label name %q is %d bytes, more than the limit of %d (limits.max_log_label_name_length)", truncate(a.Key), len(a.Key), l.MaxLabelNameLength)
		case l.MaxLabelValueLength > 0 && len(a.Value.Str) > l.MaxLabelValueLength:
			return Errorf(ReasonLabelValueTooLong, "value of stream label %q is %d bytes, more than the limit of %d (limits.max_log_label_value_length)", truncate(a.Key), len(a.Value.Str), l.MaxLabelValueLength)
		}
	}
	return nil
}

// streamString renders stream labels as {name="value", ...}.
func streamString(res events.Attrs) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, a := range res {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Key)
		b.WriteString(`="`)
		b.WriteString(a.Value.String())
		b.WriteByte('"')
		if b.Len() > 256 {
			break
		}
	}
	b.WriteByte('}')
	return b.String()
}

// CheckBatch refuses a request of more than MaxLines records.
func (l LogLimits) CheckBatch(n int) *Error {
	if l.MaxLines > 0 && n > l.MaxLines {
		return Errorf(ReasonTooManyLines, "%d log lines in one request, more than the limit of %d (limits.max_log_lines_per_request); send smaller batches", n, l.MaxLines)
	}
	return nil
}

// Check refuses a record over a limit; now is the receiving time in unix ns.
func (l LogLimits) Check(e *events.Event, now int64) *Error {
	switch {
	case l.MaxLineBytes > 0 && len(e.Body) > l.MaxLineBytes:
		// Not quoted: the line is not redacted yet.
		return Errorf(ReasonLineTooLong, "log line of service %q at %s is %d bytes, more than the limit of %d (limits.max_log_line_bytes)",
			e.Service, time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano), len(e.Body), l.MaxLineBytes)
	case l.MaxFields > 0 && len(e.Attrs) > l.MaxFields:
		return Errorf(ReasonTooManyAttributes, "log line of service %q has %d fields (attributes, structured metadata), more than the limit of %d (limits.max_log_fields)",
			e.Service, len(e.Attrs), l.MaxFields)
	case l.MaxFuture > 0 && e.Time > now+int64(l.MaxFuture):
		return Errorf(ReasonTooNew, "log line of service %q is timed %s, more than %v ahead of the server's clock",
			e.Service, time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano), l.MaxFuture)
	case l.MaxAge > 0 && e.Time < now-int64(l.MaxAge):
		return Errorf(ReasonTooOld, "log line of service %q has timestamp too old: %s, oldest acceptable timestamp is %s (limits.reject_old_samples_max_age); is it in seconds or milliseconds where nanoseconds are due?",
			e.Service, time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano), time.Unix(0, now-int64(l.MaxAge)).UTC().Format(time.RFC3339))
	}
	return nil
}

// CheckLogs keeps the records Check accepts, in place, and records the
// others in rej.
func (l LogLimits) CheckLogs(logs []events.Event, rej *Rejections) []events.Event {
	now := time.Now().UnixNano()
	kept := logs[:0]
	// The records of a stream share one Resource: it is checked once.
	var lastRes *events.Attr
	var resErr *Error
	for i := range logs {
		if res := logs[i].Resource; len(res) > 0 && &res[0] != lastRes {
			lastRes, resErr = &res[0], l.CheckStream(res)
		} else if len(res) == 0 {
			lastRes, resErr = nil, nil
		}
		if resErr != nil {
			rej.Add(resErr)
			continue
		}
		if err := l.Check(&logs[i], now); err != nil {
			rej.Add(err)
			continue
		}
		kept = append(kept, logs[i])
	}
	return kept
}

// levelWords are the words DetectLevel looks for, upper and lower case.
var levelWords = map[string]string{
	"TRACE": "trace", "DEBUG": "debug", "DBG": "debug", "INFO": "info", "WARN": "warn", "WARNING": "warn",
	"ERROR": "error", "ERR": "error", "CRITICAL": "critical", "CRIT": "critical", "FATAL": "fatal", "PANIC": "fatal",
}

// levelFields are the field names a line's level is read from.
var levelFields = []string{"level", "lvl", "severity", "loglevel", "log.level"}

// DetectLevel finds the level of a log line that carries none, as Loki's
// detected_level: a level field written as JSON ("level":"warn") or logfmt
// (level=warn), else the first level word (ERROR, warn, ...) written all
// upper or all lower case as a whole word. It returns the normalised level,
// or "" when there is none.
func DetectLevel(line string) string {
	for _, f := range levelFields {
		if v := fieldValue(line, f); v != "" {
			return events.NormalizeLevel(v)
		}
	}
	for i := 0; i < len(line); {
		for i < len(line) && !isWordByte(line[i]) {
			i++
		}
		j := i
		for j < len(line) && isWordByte(line[j]) {
			j++
		}
		if w := line[i:j]; len(w) >= 3 && len(w) <= 8 {
			if l, ok := levelWords[w]; ok {
				return l
			}
			if l, ok := levelWords[strings.ToUpper(w)]; ok && w == strings.ToLower(w) {
				return l
			}
		}
		i = j
	}
	return ""
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// fieldValue finds "name":"value" or name=value (value quoted or not) in a
// line, the name a whole word.
func fieldValue(line, name string) string {
	for off := 0; off < len(line); {
		i := strings.Index(line[off:], name)
		if i < 0 {
			return ""
		}
		i += off
		off = i + len(name)
		if i > 0 && (isWordByte(line[i-1]) || line[i-1] == '.') {
			continue
		}
		rest := line[off:]
		if strings.HasPrefix(rest, `":`) && i > 0 && line[i-1] == '"' {
			rest = strings.TrimLeft(rest[2:], " ")
			if strings.HasPrefix(rest, `"`) {
				if end := strings.IndexByte(rest[1:], '"'); end >= 0 {
					return rest[1 : 1+end]
				}
			}
			continue
		}
		if strings.HasPrefix(rest, "=") {
			rest = rest[1:]
			if strings.HasPrefix(rest, `"`) {
				if end := strings.IndexByte(rest[1:], '"'); end >= 0 {
					return rest[1 : 1+end]
				}
				continue
			}
			end := strings.IndexAny(rest, " \t,")
			if end < 0 {
				end = len(rest)
			}
			if end > 0 {
				return rest[:end]
			}
		}
	}
	return ""
}

// IDsInLine finds a trace id and a span id written in a log line's text,
// as JSON members ("trace_id":"…") or logfmt pairs (trace_id=…), under the
// names the JSON lines endpoint reads them by (trace_id, traceId, traceID,
// trace.id; span_id, spanId, spanID, span.id). It returns the hex text of
// each, "" when absent; the caller parses it. OTLP bodies whose ids came
// in the text rather than in fields are so correlated as JSON lines are
// (Loki pushes are not: Loki does not read a pushed line for ids).
func IDsInLine(line string) (trace, span string) {
	return idInLine(line, "trace"), idInLine(line, "span")
}

// SetIDsFromLine sets e's trace and span ids from its body's text
// (IDsInLine) where they parse; ids already set are kept.
func SetIDsFromLine(e *events.Event) {
	tr, sp := IDsInLine(e.Body)
	if tr != "" && e.TraceID.IsZero() {
		if id, err := events.ParseTraceID(tr); err == nil {
			e.TraceID = id
		}
	}
	if sp != "" && e.SpanID.IsZero() {
		if id, err := events.ParseSpanID(sp); err == nil {
			e.SpanID = id
		}
	}
}

// idInLine finds the first "<prefix>_id", "<prefix>Id", "<prefix>ID" or
// "<prefix>.id" key in line followed by a hex value.
func idInLine(line, prefix string) string {
	for from := 0; ; {
		i := strings.Index(line[from:], prefix)
		if i < 0 {
			return ""
		}
		i += from
		from = i + len(prefix)
		rest := line[from:]
		var n int
		switch {
		case strings.HasPrefix(rest, "_id"), strings.HasPrefix(rest, "Id"), strings.HasPrefix(rest, "ID"), strings.HasPrefix(rest, ".id"):
			n = 3
			if rest[0] != '_' && rest[0] != '.' {
				n = 2
			}
		default:
			continue
		}
		// The key starts a JSON name or a logfmt pair.
		quoted := i > 0 && line[i-1] == '"'
		if !quoted && i > 0 && line[i-1] != ' ' && line[i-1] != '\t' {
			continue
		}
		rest = rest[n:]
		if quoted {
			if !strings.HasPrefix(rest, `"`) {
				continue
			}
			rest = strings.TrimLeft(rest[1:], " \t")
			if !strings.HasPrefix(rest, ":") {
				continue
			}
			rest = strings.TrimLeft(rest[1:], " \t")
		} else if !strings.HasPrefix(rest, "=") {
			continue
		} else {
			rest = rest[1:]
		}
		rest = strings.TrimPrefix(rest, `"`)
		end := 0
		for end < len(rest) && end < 32 && isHex(rest[end]) {
			end++
		}
		if end > 0 && (end == len(rest) || !isHex(rest[end])) {
			return rest[:end]
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
