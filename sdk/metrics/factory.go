package metrics

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// DefaultSeriesLimit is the series cap of a metric when Options.SeriesLimit
// is 0: a thousand label value combinations is far beyond what a well-named
// metric of one service needs (http_request_duration_seconds over 20 routes ×
// 5 methods is 100) and still bounds a mistake to a few hundred KiB.
const DefaultSeriesLimit = 1000

// DroppedSeriesName is the counter, registered by NewFactory on the
// factory's registry, of lookups refused by the series cap, with one label,
// metric (the capped metric's name):
//
//	horus_sdk_series_dropped_total{metric="http_requests_total"}
//
// Each WithLabelValues or With that would have created a series beyond the
// cap adds one; what was recorded through the metric it returned is lost.
// Alert on increase(horus_sdk_series_dropped_total[10m]) > 0. Its child for
// a metric is created, at 0, with the metric.
const DroppedSeriesName = "horus_sdk_series_dropped_total"

// Options configures a Factory.
type Options struct {
	// SeriesLimit is the most series (distinct label value combinations) one
	// metric of the factory may hold; 0 or less means DefaultSeriesLimit.
	// Past it, a lookup of a new series returns a metric that discards what
	// it is given and counts one in DroppedSeriesName; nothing is logged per
	// drop (an unbounded label would flood the log as well).
	SeriesLimit int
	// NativeHistograms adds a native histogram (sparse, exponential buckets;
	// Prometheus' protobuf exposition) to every histogram the factory
	// creates, beside its classic buckets, which stay for the text and
	// OpenMetrics formats. Unless set in the HistogramOpts: bucket factor 1.1
	// (at most 10% relative error), at most 160 buckets, reset no more often
	// than hourly when that bound is reached; DefBuckets as the classic buckets.
	NativeHistograms bool
}

// Factory creates client_golang metrics whose names and labels are held to
// the hygiene rules (CheckName, CheckLabelName, help text required) and
// whose label vectors are capped at Options.SeriesLimit series each. It is
// safe for concurrent use.
//
// Creating a metric that the factory already created, with the same type,
// help, label names and constant labels, returns the one created first (so a
// middleware built twice over one registry shares its metrics); the same
// name with anything else differing is an error.
type Factory struct {
	reg     prometheus.Registerer
	limit   int
	native  bool
	dropped *prometheus.CounterVec

	mu     sync.Mutex
	made   map[string]madeMetric
	queues map[string]bool // names of the queues created (NewQueue)
}

type madeMetric struct {
	sig string
	m   any
}

// NewFactory returns a Factory registering on reg (which must not be nil)
// and registers DroppedSeriesName there (or reuses the one a previous
// factory registered). It panics if reg holds an incompatible collector of
// that name, as MustRegister would.
func NewFactory(reg prometheus.Registerer, opts Options) *Factory {
	limit := opts.SeriesLimit
	if limit <= 0 {
		limit = DefaultSeriesLimit
	}
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: DroppedSeriesName,
		Help: "Lookups of a new series refused because the metric held its series limit; what they recorded was discarded.",
	}, []string{"metric"})
	if err := reg.Register(dropped); err != nil {
		are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
		if !ok {
			panic(fmt.Errorf("metrics: registering %s: %w", DroppedSeriesName, err))
		}
		existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
		if !ok {
			panic(fmt.Errorf("metrics: %s is registered by another kind of collector (%T)", DroppedSeriesName, are.ExistingCollector))
		}
		dropped = existing
	}
	return &Factory{reg: reg, limit: limit, native: opts.NativeHistograms, dropped: dropped, made: map[string]madeMetric{}}
}

// SeriesLimit is the cap on each metric's series.
func (f *Factory) SeriesLimit() int { return f.limit }

// check holds a metric's name, help and label names to the rules.
func check(name, help string, typ dto.MetricType, constLabels prometheus.Labels, labels []string) error {
	errs := NameProblems(name, typ)
	if strings.TrimSpace(help) == "" {
		errs = append(errs, &RuleError{Metric: name, Rule: RuleHelp, Problem: "the metric has no help text",
			Fix: "set Help to what it measures and in which unit (it is the HELP line a reader of /metrics sees)", Source: srcPromlint})
	}
	for _, l := range labels {
		errs = append(errs, LabelProblems(name, l)...)
	}
	for _, l := range slices.Sorted(maps.Keys(constLabels)) {
		errs = append(errs, LabelProblems(name, l)...)
	}
	return join(errs)
}

// signature identifies what was asked for, to tell a repeat from a conflict.
func signature(typ dto.MetricType, help string, constLabels prometheus.Labels, labels []string, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%q|%q|", typ, help, labels)
	for _, k := range slices.Sorted(maps.Keys(constLabels)) {
		fmt.Fprintf(&b, "%q=%q,", k, constLabels[k])
	}
	b.WriteString(extra)
	return b.String()
}

// create registers what build returns under name, or returns the metric
// created before under the same signature.
func (f *Factory) create(name, sig string, build func() (prometheus.Collector, any)) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.made[name]; ok {
		if m.sig == sig {
			return m.m, nil
		}
		return nil, fmt.Errorf("metrics: %q was already created with another type, help, label names or constant labels (%s); one name is one metric", name, m.sig)
	}
	c, m := build()
	if err := f.reg.Register(c); err != nil {
		return nil, fmt.Errorf("metrics: registering %q: %w", name, err)
	}
	f.made[name] = madeMetric{sig: sig, m: m}
	return m, nil
}

// make checks a metric and creates it through build, which gets the
// descriptor its discarding series use and its drop counter.
func (f *Factory) make(name, help string, typ dto.MetricType, constLabels prometheus.Labels, labels []string, extra string,
	build func(desc *prometheus.Desc, dropped prometheus.Counter) (prometheus.Collector, any)) (any, error) {
	if err := check(name, help, typ, constLabels, labels); err != nil {
		return nil, err
	}
	return f.create(name, signature(typ, help, constLabels, labels, extra), func() (prometheus.Collector, any) {
		return build(prometheus.NewDesc(name, help, labels, constLabels), f.dropped.WithLabelValues(name))
	})
}

// one is make for a metric without labels: the metric is its own collector.
func one[T prometheus.Collector](f *Factory, name, help string, typ dto.MetricType, constLabels prometheus.Labels, extra string, build func() T) (T, error) {
	m, err := f.make(name, help, typ, constLabels, nil, extra, func(*prometheus.Desc, prometheus.Counter) (prometheus.Collector, any) {
		c := build()
		return c, c
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return m.(T), nil
}

// capped is make for a vector: build returns the client_golang vector, its
// MetricVec and its WithLabelValues; discard makes the discarding series
// from its descriptor; wrap makes the capped vector of the series table.
func capped[T, W any](f *Factory, name, help string, typ dto.MetricType, constLabels prometheus.Labels, labels []string, extra string,
	build func() (prometheus.Collector, *prometheus.MetricVec, func([]string) T), discard func(discardMetric) T, wrap func(vec[T]) W) (W, error) {
	m, err := f.make(name, help, typ, constLabels, labels, "vec|"+extra, func(desc *prometheus.Desc, dropped prometheus.Counter) (prometheus.Collector, any) {
		c, mv, create := build()
		return c, wrap(newVec(c, mv, labels, f.limit, create, discard(discardMetric{desc}), dropped))
	})
	if err != nil {
		var zero W
		return zero, err
	}
	return m.(W), nil
}

// NewCounterVec creates and registers a counter vector with the label names
// labels. Errors: every broken rule (*RuleError, see RuleErrors), a
// conflict with a metric of the same name, or the registry's refusal.
func (f *Factory) NewCounterVec(opts prometheus.CounterOpts, labels ...string) (*CounterVec, error) {
	name := prometheus.BuildFQName(opts.Namespace, opts.Subsystem, opts.Name)
	return capped(f, name, opts.Help, dto.MetricType_COUNTER, opts.ConstLabels, labels, "", func() (prometheus.Collector, *prometheus.MetricVec, func([]string) prometheus.Counter) {
		cv := prometheus.NewCounterVec(opts, labels)
		return cv, cv.MetricVec, func(lvs []string) prometheus.Counter { return cv.WithLabelValues(lvs...) }
	}, func(d discardMetric) prometheus.Counter { return discardCounter{d} }, func(v vec[prometheus.Counter]) *CounterVec { return &CounterVec{v} })
}

// NewCounter creates and registers a counter without labels. The result
// implements prometheus.ExemplarAdder. Errors as NewCounterVec.
func (f *Factory) NewCounter(opts prometheus.CounterOpts) (prometheus.Counter, error) {
	name := prometheus.BuildFQName(opts.Namespace, opts.Subsystem, opts.Name)
	return one(f, name, opts.Help, dto.MetricType_COUNTER, opts.ConstLabels, "", func() prometheus.Counter { return prometheus.NewCounter(opts) })
}

// NewGaugeVec creates and registers a gauge vector with the label names
// labels. Errors as NewCounterVec.
func (f *Factory) NewGaugeVec(opts prometheus.GaugeOpts, labels ...string) (*GaugeVec, error) {
	name := prometheus.BuildFQName(opts.Namespace, opts.Subsystem, opts.Name)
	return capped(f, name, opts.Help, dto.MetricType_GAUGE, opts.ConstLabels, labels, "", func() (prometheus.Collector, *prometheus.MetricVec, func([]string) prometheus.Gauge) {
		gv := prometheus.NewGaugeVec(opts, labels)
		return gv, gv.MetricVec, func(lvs []string) prometheus.Gauge { return gv.WithLabelValues(lvs...) }
	}, func(d discardMetric) prometheus.Gauge { return discardGauge{d} }, func(v vec[prometheus.Gauge]) *GaugeVec { return &GaugeVec{v} })
}

// NewGauge creates and registers a gauge without labels. Errors as
// NewCounterVec.
func (f *Factory) NewGauge(opts prometheus.GaugeOpts) (prometheus.Gauge, error) {
	name := prometheus.BuildFQName(opts.Namespace, opts.Subsystem, opts.Name)
	return one(f, name, opts.Help, dto.MetricType_GAUGE, opts.ConstLabels, "", func() prometheus.Gauge { return prometheus.NewGauge(opts) })
}

// histogramOpts applies Options.NativeHistograms.
func (f *Factory) histogramOpts(opts prometheus.HistogramOpts) prometheus.HistogramOpts {
	if !f.native {
		return opts
	}
	if opts.NativeHistogramBucketFactor == 0 {
		opts.NativeHistogramBucketFactor = 1.1
	}
	if opts.NativeHistogramMaxBucketNumber == 0 {
		opts.NativeHistogramMaxBucketNumber = 160
	}
	if opts.NativeHistogramMinResetDuration == 0 {
		opts.NativeHistogramMinResetDuration = time.Hour
	}
	if len(opts.Buckets) == 0 {
		opts.Buckets = prometheus.DefBuckets // client_golang drops the classic buckets of a native histogram given none
	}
	return opts
}

func histogramExtra(opts prometheus.HistogramOpts) string {
	return fmt.Sprintf("%v|%v|%v", opts.Buckets, opts.NativeHistogramBucketFactor, opts.NativeHistogramMaxBucketNumber)
}

// NewHistogramVec creates and registers a histogram vector with the label
// names labels. Its children implement prometheus.ExemplarObserver (the
// discarding one past the cap too). Errors as NewCounterVec.
func (f *Factory) NewHistogramVec(opts prometheus.HistogramOpts, labels ...string) (*HistogramVec, error) {
	name := prometheus.BuildFQName(opts.Namespace, opts.Subsystem, opts.Name)
	opts = f.histogramOpts(opts)
	return capped(f, name, opts.Help, dto.MetricType_HISTOGRAM, opts.ConstLabels, labels, histogramExtra(opts), func() (prometheus.Collector, *prometheus.MetricVec, func([]string) prometheus.Observer) {
		hv := prometheus.NewHistogramVec(opts, labels)
		return hv, hv.MetricVec, func(lvs []string) prometheus.Observer { return hv.WithLabelValues(lvs...) }
	}, func(d discardMetric) prometheus.Observer { return discardObserver{d} }, func(v vec[prometheus.Observer]) *HistogramVec { return &HistogramVec{v} })
}

// NewHistogram creates and registers a histogram without labels. The result
// implements prometheus.ExemplarObserver. Errors as NewCounterVec.
func (f *Factory) NewHistogram(opts prometheus.HistogramOpts) (prometheus.Histogram, error) {
	name := prometheus.BuildFQName(opts.Namespace, opts.Subsystem, opts.Name)
	opts = f.histogramOpts(opts)
	return one(f, name, opts.Help, dto.MetricType_HISTOGRAM, opts.ConstLabels, histogramExtra(opts), func() prometheus.Histogram { return prometheus.NewHistogram(opts) })
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// MustNewCounterVec is NewCounterVec that panics on error, for package-level
// or start-up code where a refused name is a bug.
func (f *Factory) MustNewCounterVec(opts prometheus.CounterOpts, labels ...string) *CounterVec {
	return must(f.NewCounterVec(opts, labels...))
}

// MustNewCounter is NewCounter that panics on error.
func (f *Factory) MustNewCounter(opts prometheus.CounterOpts) prometheus.Counter {
	return must(f.NewCounter(opts))
}

// MustNewGaugeVec is NewGaugeVec that panics on error.
func (f *Factory) MustNewGaugeVec(opts prometheus.GaugeOpts, labels ...string) *GaugeVec {
	return must(f.NewGaugeVec(opts, labels...))
}

// MustNewGauge is NewGauge that panics on error.
func (f *Factory) MustNewGauge(opts prometheus.GaugeOpts) prometheus.Gauge {
	return must(f.NewGauge(opts))
}

// MustNewHistogramVec is NewHistogramVec that panics on error.
func (f *Factory) MustNewHistogramVec(opts prometheus.HistogramOpts, labels ...string) *HistogramVec {
	return must(f.NewHistogramVec(opts, labels...))
}

// MustNewHistogram is NewHistogram that panics on error.
func (f *Factory) MustNewHistogram(opts prometheus.HistogramOpts) prometheus.Histogram {
	return must(f.NewHistogram(opts))
}
