package sdk

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestRegistryProducerExemplarIDs: OpenTelemetry's Prometheus bridge
// output carries exemplar trace and span ids as bytes once pushed, and an
// id that is not valid hex of the right length stays a filtered attribute.
func TestRegistryProducerExemplarIDs(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "orders_total", Help: "h"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "order_seconds", Help: "h", Buckets: []float64{1}})
	reg.MustRegister(c, h)
	const traceID, spanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	c.(prometheus.ExemplarAdder).AddWithExemplar(1, prometheus.Labels{"trace_id": traceID, "span_id": spanID})
	h.(prometheus.ExemplarObserver).ObserveWithExemplar(0.5, prometheus.Labels{"trace_id": "not-hex"})

	sms, err := newRegistryProducer(reg).Produce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sum *metricdata.Exemplar[float64]
	var hist *metricdata.Exemplar[float64]
	for _, sm := range sms {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[float64]:
				if m.Name == "orders_total" && len(d.DataPoints) == 1 && len(d.DataPoints[0].Exemplars) == 1 {
					sum = &d.DataPoints[0].Exemplars[0]
				}
			case metricdata.Histogram[float64]:
				if m.Name == "order_seconds" && len(d.DataPoints) == 1 && len(d.DataPoints[0].Exemplars) == 1 {
					hist = &d.DataPoints[0].Exemplars[0]
				}
			}
		}
	}
	if sum == nil || hist == nil {
		t.Fatalf("exemplars not produced: %+v", sms)
	}
	if hex.EncodeToString(sum.TraceID) != traceID || hex.EncodeToString(sum.SpanID) != spanID {
		t.Errorf("counter exemplar ids %x %x, want %s %s", sum.TraceID, sum.SpanID, traceID, spanID)
	}
	if hist.TraceID != nil || len(hist.FilteredAttributes) != 1 || hist.FilteredAttributes[0].Value.AsString() != "not-hex" {
		t.Errorf("invalid trace_id: TraceID %x, attributes %v; want none and trace_id=not-hex kept", hist.TraceID, hist.FilteredAttributes)
	}
}
