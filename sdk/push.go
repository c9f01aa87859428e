package sdk

import (
	"context"
	"encoding/hex"

	"github.com/prometheus/client_golang/prometheus"
	prombridge "go.opentelemetry.io/contrib/bridges/prometheus"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// registryProducer is OpenTelemetry's Prometheus bridge over one registry,
// with the exemplars' trace and span ids decoded from hex.
//
// The bridge (go.opentelemetry.io/contrib/bridges/prometheus v0.72) copies
// an exemplar's trace_id label into the OTLP exemplar as the bytes of its
// hex text (32 bytes for a 16-byte trace id), so a receiver reads a trace
// id that matches no trace. OpenTelemetry's Prometheus compatibility
// specification asks for valid hex trace_id/span_id labels to become the
// exemplar's Trace ID and Span ID and for anything else to stay a filtered
// attribute; this producer applies that to the bridge's output.
type registryProducer struct {
	bridge sdkmetric.Producer
}

func newRegistryProducer(g prometheus.Gatherer) *registryProducer {
	return &registryProducer{bridge: prombridge.NewMetricProducer(prombridge.WithGatherer(g))}
}

// Produce gathers the registry through the bridge and fixes the exemplars.
func (p *registryProducer) Produce(ctx context.Context) ([]metricdata.ScopeMetrics, error) {
	sms, err := p.bridge.Produce(ctx)
	for i := range sms {
		for j := range sms[i].Metrics {
			switch d := sms[i].Metrics[j].Data.(type) {
			case metricdata.Sum[float64]:
				for k := range d.DataPoints {
					fixExemplars(d.DataPoints[k].Exemplars)
				}
			case metricdata.Histogram[float64]:
				for k := range d.DataPoints {
					fixExemplars(d.DataPoints[k].Exemplars)
				}
			case metricdata.ExponentialHistogram[float64]:
				for k := range d.DataPoints {
					fixExemplars(d.DataPoints[k].Exemplars)
				}
			}
		}
	}
	return sms, err
}

// fixExemplars decodes each exemplar's TraceID and SpanID from the hex
// text the bridge left in them; a value that is not the hex of a 16-byte
// trace id or an 8-byte span id moves to the filtered attributes under its
// label name.
func fixExemplars(exs []metricdata.Exemplar[float64]) {
	for i := range exs {
		e := &exs[i]
		e.TraceID = decodeID(e, e.TraceID, 16, "trace_id")
		e.SpanID = decodeID(e, e.SpanID, 8, "span_id")
	}
}

func decodeID(e *metricdata.Exemplar[float64], text []byte, size int, label string) []byte {
	if len(text) == 0 {
		return nil
	}
	if len(text) == 2*size {
		id := make([]byte, size)
		if _, err := hex.Decode(id, text); err == nil {
			return id
		}
	}
	e.FilteredAttributes = append(e.FilteredAttributes, attribute.String(label, string(text)))
	return nil
}
