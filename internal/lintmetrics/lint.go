// Package lintmetrics is `horus lint metrics`: it reads a Prometheus
// exposition (scraped over HTTP or from a file) and reports the naming,
// unit, type and cardinality problems of its metrics, each with the rule
// broken and the fix.
//
// Three checkers run over the metric families:
//   - client_golang's promlint, the linter `promtool check metrics` runs
//     (help text, counter suffixes, base units, abbreviations, camelCase,
//     reserved suffixes and labels, duplicate series);
//   - the SDK's hygiene rules (github.com/horus-obs/horus/sdk/metrics):
//     stricter units (a missing unit, percent for ratio), characters, the
//     high-cardinality label deny list;
//   - cardinality: metrics with more series than a threshold, with the
//     labels that hold the most values, and labels whose values look like
//     ids (UUIDs, long hex or digit runs, e-mail and IP addresses, URL paths
//     with ids), with examples.
//
// A problem both promlint and the SDK rules find is one finding, found by
// both, with the SDK rule's fix.
package lintmetrics

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/horus-obs/horus/sdk/metrics"
)

// DefaultMaxSeries is the series a metric may have before the cardinality
// rule reports it: 100 label value combinations is more than a service's
// RED metrics need (20 routes × 5 methods); above it, one label usually
// holds values that have no bound.
const DefaultMaxSeries = 100

// The rules of this package; the others are the sdk/metrics rules.
const (
	// RuleCardinality: a metric has more series (label value combinations)
	// than Options.MaxSeries.
	RuleCardinality metrics.Rule = "cardinality"
	// RuleIDLikeValues: a label holds two or more values that look like ids
	// (IDLike).
	RuleIDLikeValues metrics.Rule = "id-like-values"
	// RuleDuplicateSeries: two series of a family have the same labels
	// (promlint's "metric not unique").
	RuleDuplicateSeries metrics.Rule = "duplicate-series"
	// RulePromlint: a promlint problem none of the other rules names.
	RulePromlint metrics.Rule = "promlint"
)

// Who found a problem (Finding.FoundBy).
const (
	ByPromlint    = "promlint"
	ByHorus       = "horus"
	srcPromlint   = "client_golang prometheus/testutil/promlint (promtool check metrics)"
	srcCardinalty = "https://prometheus.io/docs/practices/instrumentation/#do-not-overuse-labels"
)

// Options configures Lint.
type Options struct {
	// MaxSeries is the series a metric may have before RuleCardinality
	// reports it; 0 means DefaultMaxSeries. A classic histogram's series
	// are its label sets (each stored as its buckets + 3 series, which the
	// finding says).
	MaxSeries int
	// Disable lists rule ids not to report (e.g. "help").
	Disable []string
}

// Finding is one problem: the metric (and label) concerned, the rule broken
// (an sdk/metrics Rule id or one of this package's), what is wrong, the fix,
// where the rule comes from, who found it (ByPromlint, ByHorus), and for
// label values, examples.
type Finding struct {
	Metric   string   `json:"metric"`
	Label    string   `json:"label,omitempty"`
	Rule     string   `json:"rule"`
	Problem  string   `json:"problem"`
	Fix      string   `json:"fix"`
	Source   string   `json:"source"`
	FoundBy  []string `json:"found_by"`
	Examples []string `json:"examples,omitempty"`
}

// promlintRule maps promlint's problem texts (stable strings of
// client_golang's validations) to the rule they state, the label they are
// about when the text says, and the fix when no SDK rule gives one.
func promlintRule(text string) (rule metrics.Rule, label, fix string) {
	switch {
	case text == "no help text":
		return metrics.RuleHelp, "", "add a HELP line: what the metric measures, in which unit (Help in client_golang's Opts)"
	case strings.HasPrefix(text, "use base unit"):
		return metrics.RuleBaseUnit, "", "rename with the base unit and record values in it"
	case strings.HasPrefix(text, `counter metrics should have "_total" suffix`):
		return metrics.RuleCounterTotal, "", "end the name in _total"
	case strings.HasPrefix(text, `non-counter metrics should not have "_total" suffix`):
		return metrics.RuleTotalSuffix, "", "drop _total, or make it a counter"
	case strings.HasPrefix(text, "non-histogram") && strings.Contains(text, "suffix"):
		return metrics.RuleReservedSuffix, "", "rename it without the suffix histograms and summaries use"
	case text == `non-histogram metrics should not have "le" label`:
		return metrics.RuleLabelReserved, "le", "rename the label"
	case text == `non-summary metrics should not have "quantile" label`:
		return metrics.RuleLabelReserved, "quantile", "rename the label, or use a histogram"
	case strings.HasPrefix(text, "metric name should not include type"):
		return metrics.RuleTypeInName, "", "drop the type from the name"
	case strings.HasPrefix(text, "metric names should not contain ':'"):
		return metrics.RuleColon, "", "use _ instead of :, which recording rules own"
	case strings.HasPrefix(text, "metric names should be written in 'snake_case'"):
		return metrics.RuleSnakeCase, "", "write it in snake_case"
	case strings.HasPrefix(text, "label names should be written in 'snake_case'"):
		return metrics.RuleLabelSnakeCase, "", "write the label names in snake_case"
	case strings.HasPrefix(text, "metric names should not contain abbreviated units"):
		return metrics.RuleUnitAbbreviation, "", "spell out the base unit (seconds, bytes)"
	case text == "metric not unique":
		return RuleDuplicateSeries, "", "each label set appears once in a family: the exporter writes the same series twice (two collectors, or a constant label that does not tell them apart)"
	}
	return RulePromlint, "", "see promlint's text"
}

// Lint checks metric families and returns the findings, ordered by metric,
// rule and label.
func Lint(mfs []*dto.MetricFamily, opts Options) []Finding {
	maxSeries := opts.MaxSeries
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	var out []*Finding
	index := map[string]*Finding{} // metric|rule|label
	key := func(m string, r metrics.Rule, l string) string { return m + "|" + string(r) + "|" + l }
	add := func(f *Finding) {
		out = append(out, f)
		index[key(f.Metric, metrics.Rule(f.Rule), f.Label)] = f
	}

	// The SDK's rules.
	for _, mf := range mfs {
		name := mf.GetName()
		problems := metrics.NameProblems(name, mf.GetType())
		for _, l := range labelNames(mf) {
			problems = append(problems, metrics.LabelProblems(name, l)...)
		}
		for _, p := range problems {
			if metrics.Exempt(p) {
				continue
			}
			add(&Finding{Metric: name, Label: p.Label, Rule: string(p.Rule), Problem: p.Problem, Fix: p.Fix, Source: p.Source, FoundBy: []string{ByHorus}})
		}
	}

	// promlint, merged with the SDK's findings of the same rule.
	problems, _ := promlint.NewWithMetricFamilies(mfs).Lint() // it errs only when reading text, which it does not here
	seen := map[promlint.Problem]bool{}
	for _, p := range problems {
		if seen[p] {
			continue // promlint repeats a label problem for each series
		}
		seen[p] = true
		rule, label, fix := promlintRule(p.Text)
		merged := false
		for _, f := range out {
			if f.Metric == p.Metric && metrics.Rule(f.Rule) == rule && (label == "" || f.Label == label) {
				if !slices.Contains(f.FoundBy, ByPromlint) {
					f.FoundBy = append(f.FoundBy, ByPromlint)
				}
				merged = true
			}
		}
		if !merged {
			add(&Finding{Metric: p.Metric, Label: label, Rule: string(rule), Problem: p.Text, Fix: fix, Source: srcPromlint, FoundBy: []string{ByPromlint}})
		}
	}

	// Cardinality and id-like values.
	for _, mf := range mfs {
		name := mf.GetName()
		values := labelValues(mf)
		if n := len(mf.GetMetric()); n > maxSeries {
			add(cardinality(mf, values, maxSeries))
		}
		for _, l := range slices.Sorted(maps.Keys(values)) {
			ids := map[IDKind][]string{}
			var kinds []IDKind
			count := 0
			for _, v := range values[l].list {
				k, ok := IDLike(v)
				if !ok {
					continue
				}
				if len(ids[k]) == 0 {
					kinds = append(kinds, k)
				}
				ids[k] = append(ids[k], v)
				count++
			}
			if f := index[key(name, metrics.RuleHighCardinalityLabel, l)]; f != nil {
				// The deny list named it already: show what it holds, ids first.
				f.Examples = examplesOf(ids, kinds, values[l].list)
				continue
			}
			if count < 2 {
				continue
			}
			examples := examplesOf(ids, kinds, nil)
			names := make([]string, len(kinds))
			for i, k := range kinds {
				names[i] = string(k)
			}
			add(&Finding{Metric: name, Label: l, Rule: string(RuleIDLikeValues),
				Problem: fmt.Sprintf("%d of its %s values look like ids (%s): one series per entity, without bound", count, values[l], strings.Join(names, ", ")),
				Fix:     kindFix(kinds[0]), Source: srcCardinalty, FoundBy: []string{ByHorus}, Examples: examples})
		}
	}

	res := make([]Finding, 0, len(out))
	for _, f := range out {
		if !slices.Contains(opts.Disable, f.Rule) {
			res = append(res, *f)
		}
	}
	slices.SortStableFunc(res, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Label, b.Label))
	})
	return res
}

// examplesOf picks up to three values of each id kind found, or, when none
// looks like an id, the first three of all.
func examplesOf(ids map[IDKind][]string, kinds []IDKind, all []string) []string {
	var out []string
	for _, k := range kinds {
		out = append(out, ids[k][:min(3, len(ids[k]))]...)
	}
	if len(out) == 0 {
		out = all[:min(3, len(all))]
	}
	return out
}

// cardinality is the finding of a metric over the threshold: its series,
// what they cost in stored series, and the labels with the most values.
func cardinality(mf *dto.MetricFamily, values map[string]*distinct, maxSeries int) *Finding {
	n := len(mf.GetMetric())
	type lv struct {
		name string
		n    int
		d    *distinct
	}
	var ls []lv
	for l, d := range values {
		ls = append(ls, lv{l, d.n(), d})
	}
	slices.SortFunc(ls, func(a, b lv) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name)) })
	var parts []string
	for _, l := range ls[:min(3, len(ls))] {
		parts = append(parts, fmt.Sprintf("%s: %s values", l.name, l.d))
	}
	problem := fmt.Sprintf("%d series, over the limit of %d", n, maxSeries)
	if stored := StoredSeries(mf); stored != n {
		problem += fmt.Sprintf(" (%d series stored, counting each %s's buckets or quantiles, sum and count)", stored, strings.ToLower(mf.GetType().String()))
	}
	if len(parts) > 0 {
		problem += "; most values: " + strings.Join(parts, ", ")
	}
	fix := "drop or coarsen the label with the most values (bucket it, or map it to a bounded set); per-entity detail belongs in exemplars, span attributes or log fields"
	var examples []string
	if len(ls) > 0 {
		top := values[ls[0].name]
		fix = fmt.Sprintf("drop or coarsen %s (bucket it, or map it to a bounded set); per-entity detail belongs in exemplars, span attributes or log fields", ls[0].name)
		for _, v := range top.list[:min(3, len(top.list))] {
			examples = append(examples, ls[0].name+"="+v)
		}
	}
	return &Finding{Metric: mf.GetName(), Rule: string(RuleCardinality), Problem: problem, Fix: fix, Source: srcCardinalty, FoundBy: []string{ByHorus}, Examples: examples}
}

// StoredSeries is how many series a family is once stored: one per label
// set, times (buckets with +Inf, sum, count) for a classic histogram,
// (quantiles, sum, count) for a summary; a native histogram is one.
func StoredSeries(mf *dto.MetricFamily) int {
	n := 0
	for _, m := range mf.GetMetric() {
		switch {
		case m.Histogram != nil && len(m.Histogram.GetBucket()) > 0:
			b := m.Histogram.GetBucket()
			n += len(b) + 2
			if !math.IsInf(b[len(b)-1].GetUpperBound(), 1) { // +Inf implicit, as client_golang writes it
				n++
			}
		case m.Summary != nil:
			n += len(m.Summary.GetQuantile()) + 2
		default:
			n++
		}
	}
	return n
}

// maxValuesKept bounds the distinct values kept per label: enough for
// examples and counts, bounded for a label with millions.
const maxValuesKept = 10000

type distinct struct {
	set  map[string]struct{}
	list []string
	more bool // values past maxValuesKept were seen
}

func (d *distinct) n() int { return len(d.list) }

// String is the count of values, "10000+" when some were not kept.
func (d *distinct) String() string {
	if d.more {
		return fmt.Sprintf("%d+", len(d.list))
	}
	return fmt.Sprint(len(d.list))
}

// labelValues gathers each label's distinct values, in order of appearance.
func labelValues(mf *dto.MetricFamily) map[string]*distinct {
	out := map[string]*distinct{}
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			d := out[lp.GetName()]
			if d == nil {
				d = &distinct{set: map[string]struct{}{}}
				out[lp.GetName()] = d
			}
			if _, ok := d.set[lp.GetValue()]; ok {
				continue
			}
			if len(d.list) >= maxValuesKept {
				d.more = true
				continue
			}
			d.set[lp.GetValue()] = struct{}{}
			d.list = append(d.list, lp.GetValue())
		}
	}
	return out
}

// labelNames are the label names of a family's series, sorted.
func labelNames(mf *dto.MetricFamily) []string {
	set := map[string]struct{}{}
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			set[lp.GetName()] = struct{}{}
		}
	}
	return slices.Sorted(maps.Keys(set))
}
