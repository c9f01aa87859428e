package metrics

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// value is what a counter or gauge series holds (testutil.ToFloat64 would
// add a dependency to the SDK module's go.sum).
func value(t *testing.T, m any) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.(prometheus.Metric).Write(&pb); err != nil {
		t.Fatal(err)
	}
	if pb.Counter != nil {
		return pb.GetCounter().GetValue()
	}
	return pb.GetGauge().GetValue()
}

func collectCount(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for range ch {
		n++
	}
	return n
}

func hasRule(err error, r Rule) bool {
	for _, e := range RuleErrors(err) {
		if e.Rule == r {
			return true
		}
	}
	return false
}

// TestFactoryRefuses: each constructor refuses a bad name or label with the
// rule and registers nothing.
func TestFactoryRefuses(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	f := NewFactory(reg, Options{})
	cases := []struct {
		what string
		make func() error
		rule Rule
	}{
		{"camelCase counter", func() error {
			_, err := f.NewCounterVec(prometheus.CounterOpts{Name: "ordersCreatedTotal", Help: "h"}, "status")
			return err
		}, RuleSnakeCase},
		{"dashed gauge", func() error {
			_, err := f.NewGauge(prometheus.GaugeOpts{Name: "queue-depth", Help: "h"})
			return err
		}, RuleNameChars},
		{"histogram without unit", func() error {
			_, err := f.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration", Help: "h"}, "route")
			return err
		}, RuleMissingUnit},
		{"histogram in milliseconds", func() error {
			_, err := f.NewHistogram(prometheus.HistogramOpts{Namespace: "shop", Name: "checkout_duration_milliseconds", Help: "h"})
			return err
		}, RuleBaseUnit},
		{"counter without _total", func() error {
			_, err := f.NewCounter(prometheus.CounterOpts{Name: "orders_created", Help: "h"})
			return err
		}, RuleCounterTotal},
		{"user_id label", func() error {
			_, err := f.NewCounterVec(prometheus.CounterOpts{Name: "logins_total", Help: "h"}, "user_id")
			return err
		}, RuleHighCardinalityLabel},
		{"request_id constant label", func() error {
			_, err := f.NewGaugeVec(prometheus.GaugeOpts{Name: "sessions", Help: "h", ConstLabels: prometheus.Labels{"request_id": "x"}}, "kind")
			return err
		}, RuleHighCardinalityLabel},
		{"no help", func() error {
			_, err := f.NewGaugeVec(prometheus.GaugeOpts{Name: "sessions"}, "kind")
			return err
		}, RuleHelp},
	}
	for _, c := range cases {
		err := c.make()
		if !hasRule(err, c.rule) {
			t.Errorf("%s: err = %v, want rule %s", c.what, err, c.rule)
		}
	}
	got := gather(t, reg)
	delete(got, DroppedSeriesName)
	if len(got) != 0 {
		t.Errorf("refused metrics were registered: %v", got)
	}
	if !panics(func() { f.MustNewCounter(prometheus.CounterOpts{Name: "bad-name_total", Help: "h"}) }) {
		t.Error("MustNewCounter did not panic on a refused name")
	}
}

func panics(fn func()) (did bool) {
	defer func() { did = recover() != nil }()
	fn()
	return false
}

// TestSeriesCap: past the limit a lookup gets a discarding metric, the drop
// is counted on the same registry, and the series held keep working.
func TestSeriesCap(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	f := NewFactory(reg, Options{SeriesLimit: 3})
	cv := f.MustNewCounterVec(prometheus.CounterOpts{Name: "orders_total", Help: "Orders."}, "tenant")
	hv := f.MustNewHistogramVec(prometheus.HistogramOpts{Name: "order_value_dollars", Help: "Order values."}, "tenant")
	gv := f.MustNewGaugeVec(prometheus.GaugeOpts{Name: "carts_open", Help: "Open carts."}, "tenant")
	for i := range 5 {
		tenant := fmt.Sprint("t", i)
		cv.WithLabelValues(tenant).Inc()
		hv.WithLabelValues(tenant).Observe(10)
		gv.WithLabelValues(tenant).Set(1)
	}
	cv.WithLabelValues("t0").Add(2) // held: still counts
	cv.WithLabelValues("t4").Inc()  // dropped again: counted again
	if n := cv.Series(); n != 3 {
		t.Errorf("Series() = %d, want 3", n)
	}
	mfs := gather(t, reg)
	for _, name := range []string{"orders_total", "order_value_dollars", "carts_open"} {
		if n := len(mfs[name].GetMetric()); n != 3 {
			t.Errorf("%s exposes %d series, want the limit, 3", name, n)
		}
	}
	if v := value(t, cv.WithLabelValues("t0")); v != 3 {
		t.Errorf("held series t0 = %v, want 3", v)
	}
	dropped := map[string]float64{}
	for _, m := range mfs[DroppedSeriesName].GetMetric() {
		dropped[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	// orders_total: t3, t4, t4 again, and the ToFloat64 lookup above was of a held series.
	want := map[string]float64{"orders_total": 3, "order_value_dollars": 2, "carts_open": 2}
	for k, v := range want {
		if dropped[k] != v {
			t.Errorf("dropped{metric=%q} = %v, want %v (all: %v)", k, dropped[k], v, dropped)
		}
	}
	// Deleting a series frees its place.
	if !cv.DeleteLabelValues("t1") {
		t.Fatal("DeleteLabelValues(t1) = false")
	}
	cv.WithLabelValues("t9").Inc()
	if v := value(t, cv.WithLabelValues("t9")); v != 1 {
		t.Errorf("t9 after a delete = %v, want 1 (admitted)", v)
	}
	cv.Reset()
	if cv.Series() != 0 || collectCount(cv) != 0 {
		t.Errorf("after Reset: %d series, %d collected", cv.Series(), collectCount(cv))
	}
}

// TestExemplarInterfaces: the series the middleware gets implement the
// exemplar interfaces, held or discarded, and the exemplar is exposed.
func TestExemplarInterfaces(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := NewFactory(reg, Options{SeriesLimit: 1})
	cv := f.MustNewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "h"}, "route")
	hv := f.MustNewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "h"}, "route")
	ex := prometheus.Labels{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
	for _, route := range []string{"GET /a", "GET /b"} { // the second is past the cap
		c, ok := cv.WithLabelValues(route).(prometheus.ExemplarAdder)
		if !ok {
			t.Fatalf("counter series for %q does not implement ExemplarAdder", route)
		}
		c.AddWithExemplar(1, ex)
		o, ok := hv.WithLabelValues(route).(prometheus.ExemplarObserver)
		if !ok {
			t.Fatalf("histogram series for %q does not implement ExemplarObserver", route)
		}
		o.ObserveWithExemplar(0.2, ex)
	}
	mfs := gather(t, reg)
	got := mfs["http_request_duration_seconds"].GetMetric()[0].GetHistogram()
	var found bool
	for _, b := range got.GetBucket() {
		if e := b.GetExemplar(); e != nil && e.GetLabel()[0].GetValue() == ex["trace_id"] {
			found = true
		}
	}
	if !found {
		t.Errorf("no bucket holds the trace_id exemplar: %v", got)
	}
	if e := mfs["http_requests_total"].GetMetric()[0].GetCounter().GetExemplar(); e.GetLabel()[0].GetValue() != ex["trace_id"] {
		t.Errorf("counter exemplar = %v", e)
	}
	var d dto.Metric
	if err := cv.WithLabelValues("GET /c").(prometheus.Metric).Write(&d); !errors.Is(err, ErrDiscarded) {
		t.Errorf("discarded series Write = %v, want ErrDiscarded", err)
	}
}

// TestSameMetricTwice: asking again for the same metric returns it; the
// same name with other labels or type is an error.
func TestSameMetricTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := NewFactory(reg, Options{})
	opts := prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Duration."}
	a := f.MustNewHistogramVec(opts, "method", "route")
	b := f.MustNewHistogramVec(opts, "method", "route")
	if a != b {
		t.Error("the same histogram asked twice gave two vectors")
	}
	if _, err := f.NewHistogramVec(opts, "route"); err == nil || !strings.Contains(err.Error(), "already created") {
		t.Errorf("other labels: err = %v", err)
	}
	if _, err := f.NewGauge(prometheus.GaugeOpts{Name: "http_request_duration_seconds", Help: "Duration."}); err == nil {
		t.Error("same name as a gauge: no error")
	}
	// A second factory on the same registry shares the drop counter.
	g := NewFactory(reg, Options{})
	if g.dropped != f.dropped {
		t.Error("second factory registered another drop counter")
	}
}

// TestNativeHistograms: with the option, histograms have native buckets and
// keep their classic ones.
func TestNativeHistograms(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := NewFactory(reg, Options{NativeHistograms: true})
	hv := f.MustNewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "h"}, "route")
	for _, v := range []float64{0.01, 0.2, 3} {
		hv.WithLabelValues("GET /").Observe(v)
	}
	h := gather(t, reg)["http_request_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.Schema == nil || len(h.GetPositiveSpan()) == 0 {
		t.Errorf("no native histogram: schema %v spans %v", h.Schema, h.GetPositiveSpan())
	}
	if len(h.GetBucket()) != len(prometheus.DefBuckets) {
		t.Errorf("classic buckets = %d, want %d", len(h.GetBucket()), len(prometheus.DefBuckets))
	}
}

func TestWithAndWrongCount(t *testing.T) {
	f := NewFactory(prometheus.NewRegistry(), Options{})
	cv := f.MustNewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "h"}, "method", "status")
	cv.With(prometheus.Labels{"method": "GET", "status": "200"}).Inc()
	if v := value(t, cv.WithLabelValues("GET", "200")); v != 1 {
		t.Errorf("With then WithLabelValues = %v, want 1", v)
	}
	if !panics(func() { cv.WithLabelValues("GET") }) {
		t.Error("one value for two labels did not panic")
	}
	if !panics(func() { cv.With(prometheus.Labels{"method": "GET", "code": "200"}) }) {
		t.Error("a wrong label name did not panic")
	}
	if cv.Series() != 1 {
		t.Errorf("Series() = %d after the panics, want 1", cv.Series())
	}
}

// TestManySeriesFound: every series created is found again, through the
// merges of the lock-free map (limit well above the merge thresholds).
func TestManySeriesFound(t *testing.T) {
	f := NewFactory(prometheus.NewRegistry(), Options{SeriesLimit: 5000})
	cv := f.MustNewCounterVec(prometheus.CounterOpts{Name: "items_total", Help: "h"}, "a", "b")
	for round := range 3 {
		for i := range 5000 {
			cv.WithLabelValues(fmt.Sprint(i%7), fmt.Sprint(i)).Inc()
		}
		if n := cv.Series(); n != 5000 {
			t.Fatalf("round %d: %d series", round, n)
		}
	}
	for _, i := range []int{0, 1, 2499, 4999} {
		if v := value(t, cv.WithLabelValues(fmt.Sprint(i%7), fmt.Sprint(i))); v != 3 {
			t.Errorf("series %d = %v, want 3", i, v)
		}
	}
}

// TestConcurrentCap: goroutines creating, finding and dropping series at
// once (run with -race) end with exactly the limit held and every lookup
// either recorded or counted as dropped.
func TestConcurrentCap(t *testing.T) {
	reg := prometheus.NewRegistry()
	const limit, workers, perWorker, distinct = 50, 8, 2000, 120
	f := NewFactory(reg, Options{SeriesLimit: limit})
	cv := f.MustNewCounterVec(prometheus.CounterOpts{Name: "jobs_total", Help: "h"}, "kind")
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				cv.WithLabelValues(fmt.Sprint((i*7 + w) % distinct)).Inc()
			}
		})
	}
	wg.Wait()
	if n := cv.Series(); n != limit {
		t.Errorf("series held = %d, want %d", n, limit)
	}
	var recorded float64
	mfs := gather(t, reg)
	for _, m := range mfs["jobs_total"].GetMetric() {
		recorded += m.GetCounter().GetValue()
	}
	dropped := value(t, f.dropped.WithLabelValues("jobs_total"))
	if recorded+dropped != workers*perWorker {
		t.Errorf("recorded %v + dropped %v != %d lookups", recorded, dropped, workers*perWorker)
	}
	if dropped == 0 {
		t.Error("nothing dropped with 120 distinct values over a limit of 50")
	}
}
