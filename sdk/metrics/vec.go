package metrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// vec is what the three capped vectors share: the client_golang vector and
// the capped table of its children.
type vec[T any] struct {
	c      prometheus.Collector
	mv     *prometheus.MetricVec
	labels []string
	s      *series[T]
}

func newVec[T any](c prometheus.Collector, mv *prometheus.MetricVec, labels []string, limit int, create func([]string) T, discard T, dropped prometheus.Counter) vec[T] {
	return vec[T]{c: c, mv: mv, labels: labels, s: newSeries(limit, create, discard, dropped)}
}

// WithLabelValues returns the series for the label values lvs, given in the
// order of the label names, creating it if the metric holds fewer series
// than its limit; past the limit it returns a metric that discards what it
// is given and counts the drop in horus_sdk_series_dropped_total{metric}.
// It panics, as client_golang does, when len(lvs) is not the number of
// label names. A series that exists is found without a lock or allocation.
func (v *vec[T]) WithLabelValues(lvs ...string) T {
	return v.s.get(lvs)
}

// With is WithLabelValues with the values given by label name. It panics,
// as client_golang does, when labels does not name exactly the vector's
// labels. It allocates the values' slice; WithLabelValues does not.
func (v *vec[T]) With(labels prometheus.Labels) T {
	if len(labels) != len(v.labels) {
		panic(fmt.Errorf("metrics: %d labels given, the metric has %d (%q)", len(labels), len(v.labels), v.labels))
	}
	lvs := make([]string, len(v.labels))
	for i, name := range v.labels {
		val, ok := labels[name]
		if !ok {
			panic(fmt.Errorf("metrics: label %q missing (the metric has %q)", name, v.labels))
		}
		lvs[i] = val
	}
	return v.s.get(lvs)
}

// DeleteLabelValues removes the series for lvs, freeing its place under the
// limit, and reports whether it existed.
func (v *vec[T]) DeleteLabelValues(lvs ...string) bool {
	return v.s.remove(lvs, func() { v.mv.DeleteLabelValues(lvs...) })
}

// Reset removes every series.
func (v *vec[T]) Reset() {
	v.s.reset(v.mv.Reset)
}

// Series is the number of series the metric holds (at most its limit).
func (v *vec[T]) Series() int { return v.s.len() }

// Describe implements prometheus.Collector by the client_golang vector's
// Describe (the vector is registered already: do not register it again).
func (v *vec[T]) Describe(ch chan<- *prometheus.Desc) { v.c.Describe(ch) }

// Collect implements prometheus.Collector by the client_golang vector's
// Collect, so testutil.ToFloat64 and CollectAndCount work on the vector.
func (v *vec[T]) Collect(ch chan<- prometheus.Metric) { v.c.Collect(ch) }

// CounterVec is a capped prometheus.CounterVec (see Factory.NewCounterVec).
// Its series implement prometheus.ExemplarAdder.
type CounterVec struct{ vec[prometheus.Counter] }

// GaugeVec is a capped prometheus.GaugeVec (see Factory.NewGaugeVec).
type GaugeVec struct{ vec[prometheus.Gauge] }

// HistogramVec is a capped prometheus.HistogramVec (see
// Factory.NewHistogramVec). Its series implement prometheus.ExemplarObserver.
type HistogramVec struct{ vec[prometheus.Observer] }

// ErrDiscarded is what Write of a discarding metric (returned past the
// series limit) answers: it holds no value and is registered nowhere.
var ErrDiscarded = errors.New("metrics: series dropped by the series limit, nothing recorded")

type discardMetric struct{ desc *prometheus.Desc }

func (d discardMetric) Desc() *prometheus.Desc                    { return d.desc }
func (discardMetric) Write(*dto.Metric) error                     { return ErrDiscarded }
func (d discardMetric) Describe(ch chan<- *prometheus.Desc)       { ch <- d.desc }
func (discardMetric) Collect(chan<- prometheus.Metric)            {}
func (discardCounter) Inc()                                       {}
func (discardCounter) Add(float64)                                {}
func (discardCounter) AddWithExemplar(float64, prometheus.Labels) {}

type discardCounter struct{ discardMetric }

type discardGauge struct{ discardMetric }

func (discardGauge) Set(float64)       {}
func (discardGauge) Inc()              {}
func (discardGauge) Dec()              {}
func (discardGauge) Add(float64)       {}
func (discardGauge) Sub(float64)       {}
func (discardGauge) SetToCurrentTime() {}

type discardObserver struct{ discardMetric }

func (discardObserver) Observe(float64)                                {}
func (discardObserver) ObserveWithExemplar(float64, prometheus.Labels) {}

var (
	_ prometheus.Counter          = discardCounter{}
	_ prometheus.ExemplarAdder    = discardCounter{}
	_ prometheus.Gauge            = discardGauge{}
	_ prometheus.ExemplarObserver = discardObserver{}
	_ prometheus.Collector        = (*CounterVec)(nil)
)
