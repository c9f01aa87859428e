package otlp

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/shape"
)

// MaxValueDepth bounds how deeply OTLP values (AnyValue: arrays and maps
// inside arrays and maps) may nest in a request, in either encoding; the
// top value of an attribute or body is level 1. pdata's protobuf decoder
// refuses about 34 levels of maps (its recursion limit of 100 counts a
// map, its entry and the value), so Horus refuses 33 and more in JSON too
// and the two encodings agree; real data nests a few levels.
const MaxValueDepth = 32

// The shapes of OTLP requests for the checks before decoding
// (opentelemetry/proto/{common,resource,trace,logs,metrics}/v1). Costs are
// pdata's structs (internal, measured by TestShapeCosts) rounded to Go's
// size classes, plus the pointer in the parent's slice for the messages
// pdata keeps by pointer.
var (
	anyValue   = &shape.Shape{Name: "AnyValue", Kind: shape.Nested, Cost: 16 + 8} // in a []AnyValue, and its oneof holder
	arrayValue = &shape.Shape{Name: "ArrayValue", Cost: 32}
	kvList     = &shape.Shape{Name: "KeyValueList", Cost: 32}
	keyValue   = &shape.Shape{Name: "KeyValue", Cost: 32} // in a []KeyValue
	entityRef  = &shape.Shape{Name: "EntityRef", Cost: 80 + 8}
	resource   = &shape.Shape{Name: "Resource"} // held in its parent
	scope      = &shape.Shape{Name: "InstrumentationScope"}

	spanEvent = &shape.Shape{Name: "Span.Event", Cost: 64 + 8}
	spanLink  = &shape.Shape{Name: "Span.Link", Cost: 80 + 8}
	span      = &shape.Shape{Name: "Span", Kind: shape.Record, Cost: 208 + 8}
	scopeSpan = &shape.Shape{Name: "ScopeSpans", Kind: shape.Container, Cost: 112 + 8}
	resSpans  = &shape.Shape{Name: "ResourceSpans", Kind: shape.Container, Cost: 128 + 8}
	// tracesRequest is ExportTraceServiceRequest.
	tracesRequest = &shape.Shape{Name: "ExportTraceServiceRequest"}

	logRecord = &shape.Shape{Name: "LogRecord", Kind: shape.Record, Cost: 128 + 8}
	scopeLogs = &shape.Shape{Name: "ScopeLogs", Kind: shape.Container, Cost: 112 + 8}
	resLogs   = &shape.Shape{Name: "ResourceLogs", Kind: shape.Container, Cost: 128 + 8}
	// logsRequest is ExportLogsServiceRequest.
	logsRequest = &shape.Shape{Name: "ExportLogsServiceRequest"}

	exemplar      = &shape.Shape{Name: "Exemplar", Cost: 80} // in a []Exemplar, with its oneof holder
	quantile      = &shape.Shape{Name: "SummaryDataPoint.ValueAtQuantile", Cost: 16 + 8}
	numberPoint   = &shape.Shape{Name: "NumberDataPoint", Kind: shape.Record, Cost: 96 + 8}
	histPoint     = &shape.Shape{Name: "HistogramDataPoint", Kind: shape.Record, Cost: 160 + 8}
	expHistPoint  = &shape.Shape{Name: "ExponentialHistogramDataPoint", Kind: shape.Record, Cost: 192 + 8}
	summaryPoint  = &shape.Shape{Name: "SummaryDataPoint", Kind: shape.Record, Cost: 96 + 8}
	gauge         = &shape.Shape{Name: "Gauge", Cost: 32 + 16} // and the oneof holder
	sum           = &shape.Shape{Name: "Sum", Cost: 32 + 16}
	histogram     = &shape.Shape{Name: "Histogram", Cost: 32 + 16}
	expHistogram  = &shape.Shape{Name: "ExponentialHistogram", Cost: 32 + 16}
	summary       = &shape.Shape{Name: "Summary", Cost: 32 + 16}
	metric        = &shape.Shape{Name: "Metric", Cost: 96 + 8}
	scopeMetrics  = &shape.Shape{Name: "ScopeMetrics", Kind: shape.Container, Cost: 112 + 8}
	resMetrics    = &shape.Shape{Name: "ResourceMetrics", Kind: shape.Container, Cost: 128 + 8}
	metricRequest = &shape.Shape{Name: "ExportMetricsServiceRequest"}
)

func init() {
	attrs := func(num protowire.Number) shape.Field { return shape.Repeated(num, "attributes", keyValue) }
	anyValue.Fields = []shape.Field{shape.Message(5, "array_value", arrayValue), shape.Message(6, "kvlist_value", kvList)}
	arrayValue.Fields = []shape.Field{shape.Repeated(1, "values", anyValue)}
	kvList.Fields = []shape.Field{shape.Repeated(1, "values", keyValue)}
	keyValue.Fields = []shape.Field{shape.Message(2, "value", anyValue)}
	entityRef.Fields = []shape.Field{shape.Strings(3, "id_keys", 16), shape.Strings(4, "description_keys", 16)}
	resource.Fields = []shape.Field{attrs(1), shape.Repeated(3, "entity_refs", entityRef)}
	scope.Fields = []shape.Field{attrs(3)}

	spanEvent.Fields = []shape.Field{attrs(3)}
	spanLink.Fields = []shape.Field{attrs(4)}
	span.Fields = []shape.Field{attrs(9), shape.Repeated(11, "events", spanEvent), shape.Repeated(13, "links", spanLink)}
	scopeSpan.Fields = []shape.Field{shape.Message(1, "scope", scope), shape.Repeated(2, "spans", span)}
	resSpans.Fields = []shape.Field{shape.Message(1, "resource", resource), shape.Repeated(2, "scope_spans", scopeSpan),
		shape.Repeated(1000, "deprecated_scope_spans", scopeSpan)}
	tracesRequest.Fields = []shape.Field{shape.Repeated(1, "resource_spans", resSpans)}

	logRecord.Fields = []shape.Field{shape.Message(5, "body", anyValue), attrs(6)}
	scopeLogs.Fields = []shape.Field{shape.Message(1, "scope", scope), shape.Repeated(2, "log_records", logRecord)}
	resLogs.Fields = []shape.Field{shape.Message(1, "resource", resource), shape.Repeated(2, "scope_logs", scopeLogs),
		shape.Repeated(1000, "deprecated_scope_logs", scopeLogs)}
	logsRequest.Fields = []shape.Field{shape.Repeated(1, "resource_logs", resLogs)}

	exemplar.Fields = []shape.Field{shape.Repeated(7, "filtered_attributes", keyValue)}
	numberPoint.Fields = []shape.Field{attrs(7), shape.Repeated(5, "exemplars", exemplar)}
	histPoint.Fields = []shape.Field{attrs(9), shape.Repeated(8, "exemplars", exemplar)}
	expHistPoint.Fields = []shape.Field{attrs(1), shape.Repeated(11, "exemplars", exemplar)}
	summaryPoint.Fields = []shape.Field{attrs(7), shape.Repeated(6, "quantile_values", quantile)}
	gauge.Fields = []shape.Field{shape.Repeated(1, "data_points", numberPoint)}
	sum.Fields = []shape.Field{shape.Repeated(1, "data_points", numberPoint)}
	histogram.Fields = []shape.Field{shape.Repeated(1, "data_points", histPoint)}
	expHistogram.Fields = []shape.Field{shape.Repeated(1, "data_points", expHistPoint)}
	summary.Fields = []shape.Field{shape.Repeated(1, "data_points", summaryPoint)}
	metric.Fields = []shape.Field{shape.Message(5, "gauge", gauge), shape.Message(7, "sum", sum), shape.Message(9, "histogram", histogram),
		shape.Message(10, "exponential_histogram", expHistogram), shape.Message(11, "summary", summary), shape.Repeated(12, "metadata", keyValue)}
	scopeMetrics.Fields = []shape.Field{shape.Message(1, "scope", scope), shape.Repeated(2, "metrics", metric)}
	resMetrics.Fields = []shape.Field{shape.Message(1, "resource", resource), shape.Repeated(2, "scope_metrics", scopeMetrics),
		shape.Repeated(1000, "deprecated_scope_metrics", scopeMetrics)}
	metricRequest.Fields = []shape.Field{shape.Repeated(1, "resource_metrics", resMetrics)}
}

// signalShape is what the checks before decoding need of a signal.
type signalShape struct {
	root    *shape.Shape
	what    string        // "OTLP logs"
	records string        // "log records"
	reason  ingest.Reason // of too many records
}

var (
	logsSignal    = signalShape{logsRequest, "OTLP logs", "log records", ingest.ReasonTooManyLines}
	tracesSignal  = signalShape{tracesRequest, "OTLP traces", "spans", ingest.ReasonBodyTooLarge}
	metricsSignal = signalShape{metricRequest, "OTLP metrics", "data points", ingest.ReasonBodyTooLarge}
)

// defaultLimit names shape.MaxRecordsPerRequest in errors.
const defaultLimit = "Horus' limit for one request"

// limits are the checks' limits for a request of maxRecords records at
// most (limit names that limit).
func (s signalShape) limits(maxRecords int, limit string) shape.Limits {
	return shape.Limits{
		What:          s.what,
		Records:       s.records,
		MaxRecords:    maxRecords,
		RecordsLimit:  limit,
		RecordsReason: s.reason,
		MaxDepth:      MaxValueDepth,
		// Four JSON levels a value (the AnyValue, its kvlistValue, the
		// values array, the KeyValue) and the request's own ten.
		MaxJSONDepth: 4*MaxValueDepth + 16,
		NoEmptyNames: true, // pdata reads JSON with jsoniter's ReadObject
	}
}

// check refuses a body, before it is decoded, whose values nest deeper
// than MaxValueDepth, that holds more than maxRecords records (limit names
// that limit), or whose decoding would take more memory than package
// shape allows. The error is an *ingest.Error.
func (s signalShape) check(enc encoding, body []byte, maxRecords int, limit string) error {
	_, err := s.tally(enc, body, s.limits(maxRecords, limit))
	return err
}

// tally is the checks' count of a body under l.
func (s signalShape) tally(enc encoding, body []byte, l shape.Limits) (shape.Tally, error) {
	if enc == encJSON {
		return shape.JSON(body, shape.Message(0, "", s.root), l)
	}
	return shape.Proto(body, s.root, l)
}
