package metrics

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Registerer returns a prometheus.Registerer over the factory's registry
// that holds every collector registered through it to the rules of the
// factory's constructors (CheckCollector) before registering it, and
// refuses it with the same *RuleError errors. Metrics registered this way
// are not capped: the cap is the constructors'.
//
// client_golang's Go, process, build info and database/sql collectors pass
// (StandardExemptions). A third-party collector whose names the application
// cannot change can be registered on the registry itself; `horus lint
// metrics` still reports what it breaks.
func (f *Factory) Registerer() prometheus.Registerer { return checkedRegisterer{f.reg} }

type checkedRegisterer struct{ reg prometheus.Registerer }

// Register checks c (CheckCollector) and registers it.
func (r checkedRegisterer) Register(c prometheus.Collector) error {
	if err := CheckCollector(c); err != nil {
		return err
	}
	return r.reg.Register(c)
}

// MustRegister registers each collector and panics on the first error.
func (r checkedRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister unregisters c from the registry.
func (r checkedRegisterer) Unregister(c prometheus.Collector) bool { return r.reg.Unregister(c) }

// ErrUnreadableDesc is returned (wrapped) by CheckCollector for a descriptor
// whose String form it cannot read: the collector is refused rather than
// registered unchecked.
var ErrUnreadableDesc = errors.New("metrics: cannot read the metric descriptor")

// CheckCollector holds the metrics a collector describes and collects to
// the naming and label rules (CheckName, CheckLabelName, help text) and
// returns nil or every broken rule (*RuleError, joined), less
// StandardExemptions, so client_golang's Go, process, build info and
// database/sql collectors pass.
//
// prometheus.Desc has no accessors, so the names, help and label names come
// from Desc.String(), whose form — Desc{fqName: "…", help: "…", unit: "…",
// constLabels: {k="v",…}, variableLabels: {a,b}} — client_golang has kept
// since v0.9 (a test pins it; a form this cannot read refuses the collector
// with ErrUnreadableDesc). Descriptors carry no type, and the counter rules
// need it: the type comes from the collector's own type for client_golang's
// vectors and metrics, and otherwise from one Collect, whose metrics' Write
// says what each is. A metric neither tells the type of (an empty custom
// vector) is checked as untyped: every rule but the type's.
func CheckCollector(c prometheus.Collector) error {
	type info struct {
		desc
		typ dto.MetricType
	}
	var order []string
	seen := map[string]*info{}
	note := func(d *prometheus.Desc, typ dto.MetricType) error {
		pd, err := parseDesc(d.String())
		if err != nil {
			return err
		}
		in, ok := seen[pd.name]
		if !ok {
			in = &info{desc: pd, typ: dto.MetricType_UNTYPED}
			seen[pd.name] = in
			order = append(order, pd.name)
		}
		if typ != dto.MetricType_UNTYPED {
			in.typ = typ
		}
		return nil
	}

	descs := make(chan *prometheus.Desc)
	go func() {
		c.Describe(descs)
		close(descs)
	}()
	var errs []error
	for d := range descs {
		if err := note(d, typeOfCollector(c)); err != nil {
			errs = append(errs, err)
		}
	}
	if typeOfCollector(c) == dto.MetricType_UNTYPED {
		ms := make(chan prometheus.Metric)
		go func() {
			c.Collect(ms)
			close(ms)
		}()
		for m := range ms {
			var pb dto.Metric
			if m.Write(&pb) != nil {
				continue // the registry reports it when it gathers
			}
			if err := note(m.Desc(), typeOfMetric(&pb)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	var problems []*RuleError
	for _, name := range order {
		in := seen[name]
		labels := append(slices.Clone(in.constLabels), in.variableLabels...)
		for _, e := range RuleErrors(check(in.name, in.help, in.typ, nil, labels)) {
			if !Exempt(e) {
				problems = append(problems, e)
			}
		}
	}
	return join(problems)
}

// typeOfCollector is the type of client_golang's own vectors and metrics,
// UNTYPED for any other collector.
func typeOfCollector(c prometheus.Collector) dto.MetricType {
	switch c := c.(type) {
	case *prometheus.CounterVec, *CounterVec:
		return dto.MetricType_COUNTER
	case *prometheus.GaugeVec, *GaugeVec:
		return dto.MetricType_GAUGE
	case *prometheus.HistogramVec, *HistogramVec:
		return dto.MetricType_HISTOGRAM
	case *prometheus.SummaryVec:
		return dto.MetricType_SUMMARY
	case prometheus.Metric:
		var pb dto.Metric
		if c.Write(&pb) == nil {
			return typeOfMetric(&pb)
		}
	}
	return dto.MetricType_UNTYPED
}

// typeOfMetric is the type a written metric has.
func typeOfMetric(m *dto.Metric) dto.MetricType {
	switch {
	case m.Counter != nil:
		return dto.MetricType_COUNTER
	case m.Gauge != nil:
		return dto.MetricType_GAUGE
	case m.Histogram != nil:
		return dto.MetricType_HISTOGRAM
	case m.Summary != nil:
		return dto.MetricType_SUMMARY
	}
	return dto.MetricType_UNTYPED
}

// desc is what parseDesc reads of a Desc.
type desc struct {
	name, help     string
	constLabels    []string
	variableLabels []string
}

// parseDesc reads the String form of a prometheus.Desc:
//
//	Desc{fqName: "name", help: "help", unit: "", constLabels: {k="v",…}, variableLabels: {a,c(b)}}
//
// (c(b) marks a constrained label). "unit" is optional: older releases do
// not write it.
func parseDesc(s string) (desc, error) {
	var d desc
	bad := func(what string) (desc, error) {
		return desc{}, fmt.Errorf("%w: %s in %q", ErrUnreadableDesc, what, s)
	}
	rest, ok := strings.CutPrefix(s, "Desc{fqName: ")
	if !ok {
		return bad("no fqName")
	}
	var err error
	if d.name, rest, err = quoted(rest); err != nil {
		return bad("fqName")
	}
	if rest, ok = strings.CutPrefix(rest, ", help: "); !ok {
		return bad("no help")
	}
	if d.help, rest, err = quoted(rest); err != nil {
		return bad("help")
	}
	if r, ok := strings.CutPrefix(rest, ", unit: "); ok {
		if _, rest, err = quoted(r); err != nil {
			return bad("unit")
		}
	}
	if rest, ok = strings.CutPrefix(rest, ", constLabels: {"); !ok {
		return bad("no constLabels")
	}
	for !strings.HasPrefix(rest, "}") {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return bad("constLabels")
		}
		d.constLabels = append(d.constLabels, rest[:eq])
		if _, rest, err = quoted(rest[eq+1:]); err != nil {
			return bad("constLabels value")
		}
		rest = strings.TrimPrefix(rest, ",")
	}
	if rest, ok = strings.CutPrefix(rest, "}, variableLabels: {"); !ok {
		return bad("no variableLabels")
	}
	list, ok := strings.CutSuffix(rest, "}}")
	if !ok || strings.ContainsAny(list, "{}") {
		return bad("variableLabels")
	}
	if list != "" {
		for _, l := range strings.Split(list, ",") {
			if inner, ok := strings.CutPrefix(l, "c("); ok {
				l = strings.TrimSuffix(inner, ")")
			}
			d.variableLabels = append(d.variableLabels, l)
		}
	}
	return d, nil
}

// quoted reads a Go-quoted string at the start of s and returns it unquoted
// and what follows it.
func quoted(s string) (string, string, error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", err
	}
	v, err := strconv.Unquote(q)
	return v, s[len(q):], err
}
