package shop

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/sdk"
)

// exemplar is the trace_id exemplar of the sampled span in ctx, nil when
// there is none.
func exemplar(ctx context.Context) prometheus.Labels {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsSampled() {
		return nil
	}
	return prometheus.Labels{"trace_id": sc.TraceID().String()}
}

// addWithExemplar adds 1 to c with the trace of ctx as exemplar.
func addWithExemplar(ctx context.Context, c prometheus.Counter) {
	if ex := exemplar(ctx); ex != nil {
		if ea, ok := c.(prometheus.ExemplarAdder); ok {
			ea.AddWithExemplar(1, ex)
			return
		}
	}
	c.Inc()
}

// observeWithExemplar observes v with the trace of ctx as exemplar.
func observeWithExemplar(ctx context.Context, o prometheus.Observer, v float64) {
	if ex := exemplar(ctx); ex != nil {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(v, ex)
			return
		}
	}
	o.Observe(v)
}

// registerTargetInfo exposes the service's resource on its /metrics as
// target_info, a gauge of 1 labelled with the resource attributes (dots
// made underscores), as OpenTelemetry's Prometheus exporter does (its
// compatibility specification), less service.name and service.instance.id,
// which the scrape's job and instance labels carry. A deploy's new
// service.version is then visible in PromQL
// (count by (instance, service_version) (target_info)), joined to the
// scraped series on job and instance. Skipped when the registry has a
// target_info already.
func registerTargetInfo(t *sdk.Telemetry) error {
	mfs, err := t.Registry.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		if mf.GetName() == "target_info" {
			return nil
		}
	}
	labels := prometheus.Labels{}
	for _, kv := range t.Resource.Attributes() {
		k := string(kv.Key)
		if k == "service.name" || k == "service.instance.id" {
			continue
		}
		labels[labelName(k)] = kv.Value.String()
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "target_info",
		Help:        "Target metadata: the service's OpenTelemetry resource attributes.",
		ConstLabels: labels,
	})
	g.Set(1)
	return t.Registry.Register(g)
}

// labelName is an attribute key as a Prometheus label name: every
// character other than a letter, digit or '_' made '_'.
func labelName(k string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, k)
}
