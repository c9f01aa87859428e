package metrics

import (
	"errors"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// jobsCollector is a custom collector whose type only its metrics tell.
type jobsCollector struct{ desc *prometheus.Desc }

func (c jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, 3, "batch")
}

// TestRegistererRefuses: collectors registered directly through the
// factory's Registerer are held to the constructors' rules.
func TestRegistererRefuses(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := NewFactory(reg, Options{}).Registerer()
	cases := []struct {
		what string
		c    prometheus.Collector
		rule Rule
	}{
		{"camelCase counter", prometheus.NewCounter(prometheus.CounterOpts{Name: "ordersTotal", Help: "h"}), RuleSnakeCase},
		{"counter vector without _total", prometheus.NewCounterVec(prometheus.CounterOpts{Name: "orders", Help: "h"}, []string{"status"}), RuleCounterTotal},
		{"gauge vector with user_id", prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "carts_open", Help: "h"}, []string{"user_id"}), RuleHighCardinalityLabel},
		{"summary in ms", prometheus.NewSummary(prometheus.SummaryOpts{Name: "rpc_latency_ms", Help: "h"}), RuleUnitAbbreviation},
		{"gauge func with _total", prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pool_total", Help: "h"}, func() float64 { return 1 }), RuleTotalSuffix},
		{"custom collector counter", jobsCollector{prometheus.NewDesc("jobs_done", "h", []string{"kind"}, nil)}, RuleCounterTotal},
		{"custom collector, client ip", jobsCollector{prometheus.NewDesc("jobs_done_total", "h", []string{"client_ip"}, nil)}, RuleHighCardinalityLabel},
		{"constant label email", prometheus.NewGauge(prometheus.GaugeOpts{Name: "owner_info", Help: "h", ConstLabels: prometheus.Labels{"email": "a@b.c"}}), RuleHighCardinalityLabel},
		{"no help", prometheus.NewGauge(prometheus.GaugeOpts{Name: "widgets"}), RuleHelp},
	}
	for _, c := range cases {
		err := r.Register(c.c)
		if !hasRule(err, c.rule) {
			t.Errorf("%s: Register = %v, want rule %s", c.what, err, c.rule)
		}
	}
	good := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "orders_created_total", Help: "Orders."}, []string{"status"})
	if err := r.Register(good); err != nil {
		t.Fatalf("good counter refused: %v", err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != DroppedSeriesName && mf.GetName() != "orders_created_total" {
			t.Errorf("refused collector registered: %s", mf.GetName())
		}
	}
	if !r.Unregister(good) {
		t.Error("Unregister = false")
	}
}

// TestStandardCollectorsPass: client_golang's own collectors go through the
// checked Registerer (their two deliberate exceptions are exempt).
func TestStandardCollectorsPass(t *testing.T) {
	r := NewFactory(prometheus.NewRegistry(), Options{}).Registerer()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsAll)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	} {
		if err := r.Register(c); err != nil {
			t.Errorf("%T refused: %v", c, err)
		}
	}
	// Without the exemption, the Go collector's name does break base-unit.
	if !hasRule(CheckName("go_gc_gogc_percent", gauge), RuleBaseUnit) {
		t.Error("go_gc_gogc_percent passes CheckName: the exemption tests nothing")
	}
}

// TestDescFormatPinned pins the Desc.String form CheckCollector reads: a
// client_golang upgrade that changes it fails here, not in an application.
func TestDescFormatPinned(t *testing.T) {
	d := prometheus.V2.NewDesc("shop_orders_total", "Orders, \"quoted\" {braced}.",
		prometheus.ConstrainedLabels{{Name: "status"}, {Name: "method", Constraint: func(s string) string { return s }}},
		prometheus.Labels{"zone": `a"},b`, "env": "prod"})
	got, err := parseDesc(d.String())
	if err != nil {
		t.Fatalf("parseDesc(%s): %v", d.String(), err)
	}
	if got.name != "shop_orders_total" || got.help != "Orders, \"quoted\" {braced}." {
		t.Errorf("name %q help %q", got.name, got.help)
	}
	slices.Sort(got.constLabels)
	if !slices.Equal(got.constLabels, []string{"env", "zone"}) || !slices.Equal(got.variableLabels, []string{"status", "method"}) {
		t.Errorf("const %q variable %q", got.constLabels, got.variableLabels)
	}
	for _, bad := range []string{"", "Desc{}", `Desc{fqName: "x", help: "h", constLabels: {a=}, variableLabels: {}}`} {
		if _, err := parseDesc(bad); !errors.Is(err, ErrUnreadableDesc) {
			t.Errorf("parseDesc(%q) = %v, want ErrUnreadableDesc", bad, err)
		}
	}
}
