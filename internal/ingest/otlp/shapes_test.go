package otlp

import (
	"reflect"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/horus-obs/horus/internal/ingest/shape"
)

// TestShapeCosts: the cost of every shape covers pdata's struct (read by
// reflection from the wrapper's pointer, as pdata's structs are internal)
// and, for the messages pdata keeps by pointer, the pointer.
func TestShapeCosts(t *testing.T) {
	size := func(wrapper any) int { return int(reflect.ValueOf(wrapper).Field(0).Type().Elem().Size()) }
	for _, c := range []struct {
		s       *shape.Shape
		size    int
		pointer bool
	}{
		{resSpans, size(ptrace.NewResourceSpans()), true},
		{scopeSpan, size(ptrace.NewScopeSpans()), true},
		{span, size(ptrace.NewSpan()), true},
		{spanEvent, size(ptrace.NewSpanEvent()), true},
		{spanLink, size(ptrace.NewSpanLink()), true},
		{resLogs, size(plog.NewResourceLogs()), true},
		{scopeLogs, size(plog.NewScopeLogs()), true},
		{logRecord, size(plog.NewLogRecord()), true},
		{resMetrics, size(pmetric.NewResourceMetrics()), true},
		{scopeMetrics, size(pmetric.NewScopeMetrics()), true},
		{metric, size(pmetric.NewMetric()), true},
		{numberPoint, size(pmetric.NewNumberDataPoint()), true},
		{histPoint, size(pmetric.NewHistogramDataPoint()), true},
		{expHistPoint, size(pmetric.NewExponentialHistogramDataPoint()), true},
		{summaryPoint, size(pmetric.NewSummaryDataPoint()), true},
		{quantile, size(pmetric.NewSummaryDataPointValueAtQuantile()), true},
		{exemplar, size(pmetric.NewExemplar()), false},
		{anyValue, size(pcommon.NewValueEmpty()), false},
	} {
		want := c.size
		if c.pointer {
			want += 8
		}
		if c.s.Cost < want {
			t.Errorf("%s costs %d, less than its %d bytes", c.s.Name, c.s.Cost, want)
		}
	}
}
