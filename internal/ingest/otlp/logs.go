package otlp

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/store/events"
)

// LogsConsumer stores OTLP logs of a tenant. It returns the part it
// refused, or an error when it could not store the batch.
type LogsConsumer interface {
	ConsumeLogs(ctx context.Context, tenant string, ld plog.Logs) (Partial, error)
}

// EventLogs converts OTLP logs to events, checks every record against the
// limits and hands the accepted ones to a log sink.
type EventLogs struct {
	Limits ingest.LogLimits
	// StreamAttributes are the resource attributes kept as stream labels;
	// the others become attributes of each record (structured metadata).
	StreamAttributes map[string]bool
	Sink             ingest.LogSink
}

var _ LogsConsumer = (*EventLogs)(nil)

// ConsumeLogs implements LogsConsumer.
func (c *EventLogs) ConsumeLogs(ctx context.Context, tenant string, ld plog.Logs) (Partial, error) {
	n := ld.LogRecordCount()
	if err := c.Limits.CheckBatch(n); err != nil {
		return Partial{}, err
	}
	logs := LogsFromOTLP(ld, c.StreamAttributes, time.Now().UnixNano())
	var rej ingest.Rejections
	logs = c.Limits.CheckLogs(logs, &rej)
	if len(logs) > 0 {
		if err := c.Sink.AppendLogs(ctx, tenant, logs); err != nil {
			return Partial{}, fmt.Errorf("store logs: %w", err)
		}
	}
	return partial(&rej, len(logs))
}

// LogsFromOTLP converts OTLP logs to events. A resource's attributes in
// stream are its records' shared resource (their stream labels); the
// others are added to each record's attributes, after its own. A record
// without a time takes its observed time, else now (unix ns).
func LogsFromOTLP(ld plog.Logs, stream map[string]bool, now int64) []events.Event {
	dst := make([]events.Event, 0, ld.LogRecordCount())
	arena := make(events.Attrs, 0, ld.LogRecordCount()*4)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		all := AttrsFrom(rl.Resource().Attributes(), nil)
		var res, extra events.Attrs
		for _, a := range all {
			if stream[a.Key] {
				res = append(res, a)
			} else {
				extra = append(extra, a)
			}
		}
		service := ingest.UnknownService
		if v, ok := res.Get("service.name"); ok && v.String() != "" {
			service = v.String()
		} else if v, ok := extra.Get("service.name"); ok && v.String() != "" {
			service = v.String()
		}
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			scope, scopeVer := sl.Scope().Name(), sl.Scope().Version()
			recs := sl.LogRecords()
			for k := 0; k < recs.Len(); k++ {
				lr := recs.At(k)
				start := len(arena)
				arena = AttrsFrom(lr.Attributes(), arena)
				for _, a := range extra {
					if _, dup := arena[start:].Get(a.Key); !dup {
						arena = append(arena, a)
					}
				}
				t := int64(lr.Timestamp())
				if t == 0 {
					t = int64(lr.ObservedTimestamp())
				}
				if t == 0 {
					t = now
				}
				e := events.Event{
					Time:         t,
					TraceID:      events.TraceID(lr.TraceID()),
					SpanID:       events.SpanID(lr.SpanID()),
					Service:      service,
					Resource:     res,
					Scope:        scope,
					ScopeVer:     scopeVer,
					Severity:     int32(lr.SeverityNumber()),
					SeverityText: lr.SeverityText(),
					Body:         bodyString(lr.Body()),
					Flags:        uint32(lr.Flags()),
				}
				if len(arena) > start {
					e.Attrs = arena[start:len(arena):len(arena)]
				}
				if e.TraceID.IsZero() {
					// A body that carries the ids in its text (a
					// logger that did not set the record's fields).
					ingest.SetIDsFromLine(&e)
				}
				dst = append(dst, e)
			}
		}
	}
	return dst
}

// bodyString is a record's body as a log line: text as it is, maps (from
// structured loggers) and arrays as JSON, bytes as base64, numbers and
// booleans as text.
func bodyString(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeEmpty:
		return ""
	case pcommon.ValueTypeSlice, pcommon.ValueTypeMap:
		return jsonText(v)
	}
	return v.AsString()
}
