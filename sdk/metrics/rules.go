// Package metrics holds the SDK's metric hygiene: naming and label rules
// checked when a metric is created, a Factory of checked client_golang
// constructors with a per-metric series cap, a Registerer that holds
// collectors registered directly to the same rules, and Queue, a bounded
// work queue instrumented for the USE method.
//
// The rules come from the Prometheus naming practices
// (https://prometheus.io/docs/practices/naming/), the Prometheus data model
// (https://prometheus.io/docs/concepts/data_model/), the instrumentation
// practices (https://prometheus.io/docs/practices/instrumentation/) and the
// OpenTelemetry to Prometheus translation of names and units
// (https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/).
// They are the rules client_golang's promlint (what `promtool check metrics`
// runs) checks, made stricter where a wrong name costs most: a unit that is
// missing or not a base unit, and label names that carry unbounded values
// (user, request and trace ids, e-mail and IP addresses, raw URLs).
//
// Each broken rule is a *RuleError naming the metric, the rule (a Rule id,
// stable, used by `horus lint metrics` as well), what is wrong, the fix and
// where the rule comes from.
package metrics

import (
	"errors"
	"fmt"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// Rule identifies one hygiene rule. The ids are stable: `horus lint metrics`
// reports them and its -disable flag takes them.
type Rule string

// The metric name rules.
const (
	// RuleNameChars: a name matches [a-zA-Z_:][a-zA-Z0-9_:]* (no dashes, dots,
	// spaces, no leading digit). Source: the Prometheus data model; OTel names
	// with dots are translated by replacing each invalid character with "_".
	RuleNameChars Rule = "name-chars"
	// RuleSnakeCase: a name is lower snake_case, never camelCase.
	// Source: Prometheus naming practices (and promlint).
	RuleSnakeCase Rule = "snake-case"
	// RuleColon: colons are reserved for recording rules.
	// Source: the Prometheus data model.
	RuleColon Rule = "colon"
	// RuleReservedPrefix: names (metric and label) starting with "__" are
	// reserved for Prometheus' internal use. Source: the Prometheus data model.
	RuleReservedPrefix Rule = "reserved-prefix"
	// RuleCounterTotal: a counter's name ends in "_total".
	// Source: Prometheus naming practices, OpenMetrics.
	RuleCounterTotal Rule = "counter-total"
	// RuleTotalSuffix: a metric that is not a counter does not end in "_total".
	// Source: Prometheus naming practices (and promlint).
	RuleTotalSuffix Rule = "total-suffix"
	// RuleReservedSuffix: a metric's own name does not end in "_count", "_sum"
	// or "_bucket": histograms and summaries expose series with these
	// suffixes, and a name that has one collides with them or reads as one.
	// Source: the Prometheus exposition format (and promlint).
	RuleReservedSuffix Rule = "reserved-suffix"
	// RuleTypeInName: a name does not repeat its type ("_counter", "_gauge",
	// "_histogram", "_summary"). Source: promlint.
	RuleTypeInName Rule = "type-in-name"
	// RuleBaseUnit: a unit in a name is a base unit, in plural form: seconds
	// not milliseconds or minutes, bytes not kilobytes or bits, ratio not
	// percent, celsius not fahrenheit, meters not kilometers. Source: the
	// "Base units" table of the Prometheus naming practices.
	RuleBaseUnit Rule = "base-unit"
	// RuleUnitAbbreviation: a unit is spelled out (seconds, bytes), not
	// abbreviated (ms, s, sec, kb, mb, pct). Source: Prometheus naming
	// practices (and promlint).
	RuleUnitAbbreviation Rule = "unit-abbreviation"
	// RuleMissingUnit: a name whose last word (before "_total") is a quantity
	// that has a unit (duration, latency, time, timeout, size, memory,
	// temperature, ...) ends in that unit's suffix. See MissingUnit for the
	// heuristic. Source: Prometheus naming practices ("SHOULD have a suffix
	// describing the unit, in plural form").
	RuleMissingUnit Rule = "missing-unit"
	// RuleHelp: a metric has help text. Source: Prometheus instrumentation
	// practices (and promlint).
	RuleHelp Rule = "help"
)

// The label name rules.
const (
	// RuleLabelChars: a label name matches [a-zA-Z_][a-zA-Z0-9_]*.
	// Source: the Prometheus data model.
	RuleLabelChars Rule = "label-chars"
	// RuleLabelSnakeCase: a label name is lower snake_case.
	// Source: Prometheus naming practices (and promlint).
	RuleLabelSnakeCase Rule = "label-snake-case"
	// RuleLabelReserved: label names starting with "__" are reserved; "le"
	// belongs to histogram buckets and "quantile" to summary quantiles, where
	// the client library sets them, and on any other metric they mislead
	// every query that treats them as such. Source: the Prometheus data model,
	// the exposition format (and promlint).
	RuleLabelReserved Rule = "label-reserved"
	// RuleHighCardinalityLabel: a label named for a value that has no bound
	// (user_id, request_id, session_id, trace_id, email, ip, url, ...) is
	// refused. Every distinct value is a new time series. Source: Prometheus
	// naming practices ("Do not use labels to store dimensions with high
	// cardinality ... such as user IDs, email addresses, or other unbounded
	// sets of values") and the instrumentation practices ("Do not overuse
	// labels").
	RuleHighCardinalityLabel Rule = "high-cardinality-label"
)

// The sources cited by the rules.
const (
	srcNaming          = "https://prometheus.io/docs/practices/naming/"
	srcNamingUnits     = "https://prometheus.io/docs/practices/naming/#base-units"
	srcNamingLabels    = "https://prometheus.io/docs/practices/naming/#labels"
	srcDataModel       = "https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels"
	srcExposition      = "https://prometheus.io/docs/instrumenting/exposition_formats/"
	srcInstrumentation = "https://prometheus.io/docs/practices/instrumentation/#do-not-overuse-labels"
	srcOTel            = "https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/"
	srcPromlint        = "client_golang prometheus/testutil/promlint (promtool check metrics)"
)

// RuleError is one broken rule. Metric is the metric's full name; Label is
// the label name when the rule is about a label ("" otherwise). Problem says
// what is wrong, Fix what to do instead (with a suggested name where one can
// be derived), Source where the rule comes from (a URL).
type RuleError struct {
	Metric  string
	Label   string
	Rule    Rule
	Problem string
	Fix     string
	Source  string
}

// Error is one line: the metric (and label), the rule, the problem, the fix
// and the source.
func (e *RuleError) Error() string {
	var b strings.Builder
	switch {
	case e.Metric != "" && e.Label != "":
		fmt.Fprintf(&b, "metric %q label %q", e.Metric, e.Label)
	case e.Label != "":
		fmt.Fprintf(&b, "label %q", e.Label)
	default:
		fmt.Fprintf(&b, "metric %q", e.Metric)
	}
	fmt.Fprintf(&b, ": rule %s: %s; fix: %s (%s)", e.Rule, e.Problem, e.Fix, e.Source)
	return b.String()
}

// RuleErrors returns every *RuleError in err (a single one, or those joined
// by CheckName, CheckLabelName and the Factory's constructors), in order.
func RuleErrors(err error) []*RuleError {
	var out []*RuleError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if re, ok := err.(*RuleError); ok { //nolint:errorlint // the walk itself: errors.As stops at the first
			out = append(out, re)
			return
		}
		switch u := err.(type) { //nolint:errorlint // as above: every error of the tree, not the first
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

func join(errs []*RuleError) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	es := make([]error, len(errs))
	for i, e := range errs {
		es[i] = e
	}
	return errors.Join(es...)
}

// Exemption excuses one metric (and label, for a label rule) from one rule:
// the names client_golang's own collectors export, which client libraries
// standardize and an application cannot change.
type Exemption struct {
	Metric string
	Label  string
	Rule   Rule
	Why    string
}

// StandardExemptions are the rules client_golang's collectors break on
// purpose. CheckCollector (and so Factory.Registerer) and `horus lint
// metrics` skip them; the constructors do not, since an application naming
// its own metric so has no such reason.
var StandardExemptions = []Exemption{
	{Metric: "go_gc_gogc_percent", Rule: RuleBaseUnit, Why: "the Go collector exports GOGC, which the runtime defines as a percentage"},
	{Metric: "go_build_info", Label: "path", Rule: RuleHighCardinalityLabel, Why: "the build info collector's path is the main module's import path: one value per binary"},
}

// Exempt reports whether e is excused by StandardExemptions.
func Exempt(e *RuleError) bool {
	for _, x := range StandardExemptions {
		if x.Metric == e.Metric && x.Label == e.Label && x.Rule == e.Rule {
			return true
		}
	}
	return false
}

// CheckName checks a metric's full name (namespace_subsystem_name) for a
// metric of type typ and returns nil, or every broken rule as *RuleError
// (joined with errors.Join; RuleErrors takes them apart). Type-dependent rules
// (counter-total, total-suffix, reserved-suffix, type-in-name) are skipped for
// dto.MetricType_UNTYPED, as promlint skips them.
func CheckName(name string, typ dto.MetricType) error {
	return join(NameProblems(name, typ))
}

// NameProblems is CheckName's list of broken rules, nil when there is none.
func NameProblems(name string, typ dto.MetricType) []*RuleError {
	var out []*RuleError
	add := func(r Rule, problem, fix, src string) {
		out = append(out, &RuleError{Metric: name, Rule: r, Problem: problem, Fix: fix, Source: src})
	}
	if name == "" {
		add(RuleNameChars, "the name is empty", "name the metric after what it measures, e.g. orders_created_total", srcDataModel)
		return out
	}
	if bad := invalidChars(name, true); bad != "" {
		add(RuleNameChars, fmt.Sprintf("the name has characters outside [a-zA-Z0-9_:] or starts with a digit (%s)", bad),
			fmt.Sprintf("replace each with \"_\", as the OpenTelemetry to Prometheus translation does: %s", sanitize(name)), srcOTel)
	}
	if hasUpper(name) {
		add(RuleSnakeCase, "the name is camelCase or has capitals", fmt.Sprintf("write it in snake_case: %s", sanitize(name)), srcNaming)
	}
	if strings.Contains(name, ":") {
		add(RuleColon, "colons are reserved for the names of recording rules", fmt.Sprintf("use \"_\": %s", strings.ReplaceAll(sanitize(name), ":", "_")), srcDataModel)
	}
	if strings.HasPrefix(name, "__") {
		add(RuleReservedPrefix, "names starting with \"__\" are reserved for Prometheus' internal use", fmt.Sprintf("drop the leading underscores: %s", strings.TrimLeft(name, "_")), srcDataModel)
	}
	lower := sanitize(name)
	words := strings.Split(lower, "_")
	typed := typ != dto.MetricType_UNTYPED
	isCounter := typ == dto.MetricType_COUNTER
	isHistogram := typ == dto.MetricType_HISTOGRAM || typ == dto.MetricType_GAUGE_HISTOGRAM
	isSummary := typ == dto.MetricType_SUMMARY
	hasTotal := strings.HasSuffix(name, "_total")
	if typed {
		switch {
		case isCounter && !hasTotal:
			fixed := lower + "_total"
			if base, ok := strings.CutSuffix(lower, "_count"); ok {
				fixed = base + "_total"
			}
			add(RuleCounterTotal, "a counter's name must end in \"_total\"", fmt.Sprintf("rename it %s", fixed), srcNaming)
		case !isCounter && hasTotal:
			add(RuleTotalSuffix, fmt.Sprintf("only counters end in \"_total\", and this is a %s", typeName(typ)),
				fmt.Sprintf("rename it %s, or make it a counter if it only ever goes up", strings.TrimSuffix(lower, "_total")), srcNaming)
		}
		for _, s := range []string{"_bucket", "_count", "_sum"} {
			if strings.HasSuffix(name, s) {
				add(RuleReservedSuffix, fmt.Sprintf("%q is the suffix of a histogram's or summary's own series, so the name collides with one or reads as one", s),
					reservedSuffixFix(lower, s, isCounter, isHistogram || isSummary), srcExposition)
			}
		}
		// Only the metric's own type, as promlint: a gauge of native
		// histogram buckets may say "histogram".
		if t := typeName(typ); strings.Contains(lower, "_"+t+"_") || strings.HasSuffix(lower, "_"+t) {
			add(RuleTypeInName, fmt.Sprintf("the name repeats the metric type %q, which the exposition already carries", t),
				fmt.Sprintf("drop it: %s", dropWord(lower, t)), srcPromlint)
		}
	}
	// Units: every word but the first (the application prefix).
	var sawUnit bool
	for i, w := range words {
		if i == 0 {
			continue
		}
		if _, ok := baseUnits[w]; ok {
			sawUnit = true
			continue
		}
		if i > 1 && words[i-1] == "per" {
			if _, ok := perUnits[w]; ok {
				sawUnit = true
				add(RuleBaseUnit, fmt.Sprintf("\"per_%s\" makes the metric a rate", w),
					"export the counter of what happens (a name ending in _total) and compute the rate with rate() in PromQL", srcNaming)
				continue
			}
		}
		if nb, ok := nonBaseUnit(w); ok {
			sawUnit = true
			add(RuleBaseUnit, fmt.Sprintf("%q is not a base unit", w),
				fmt.Sprintf("use %s and record values in it (%s): %s", nb.base, nb.convert, replaceWord(lower, i, nb.base)), srcNamingUnits)
			continue
		}
		if ab, ok := abbreviations[w]; ok {
			sawUnit = true
			add(RuleUnitAbbreviation, fmt.Sprintf("%q abbreviates a unit", w),
				fmt.Sprintf("spell out the base unit: %s (%s): %s", ab.base, ab.convert, replaceWord(lower, i, ab.base)), srcNaming)
		}
	}
	if !sawUnit {
		if q, unit, ok := MissingUnit(lower, isCounter); ok {
			stem := strings.TrimSuffix(lower, "_total")
			fixed := stem + "_" + unit
			if hasTotal {
				fixed += "_total"
			}
			fix := fmt.Sprintf("end the name in its unit: %s", fixed)
			if q == "size" {
				fix = fmt.Sprintf("a size in bytes ends in _bytes (%s); a count of things names them (e.g. queue_items, batch_entries)", fixed)
			}
			if q == "time" || q == "timestamp" {
				fix += "; a point in time is seconds since the Unix epoch, named ..._timestamp_seconds"
			}
			add(RuleMissingUnit, fmt.Sprintf("%q is a quantity with a unit, and the name does not say which", q), fix, srcNaming)
		}
	}
	return out
}

// MissingUnit is the missing-unit heuristic. It looks at the last word of a
// snake_case name, after dropping "_total" when counter is true (and "_info",
// which marks an info pseudo-metric and is never checked): when that word is
// a quantity that has a unit — duration, latency, elapsed, uptime, delay,
// timeout, time, timestamp, interval, ttl, age (seconds); size, memory
// (bytes); temperature, temp (celsius); voltage (volts); distance (meters);
// weight, mass (grams); energy (joules); frequency (hertz); power (watts);
// utilization, utilisation (ratio) — the unit is missing, and it returns the
// word and the base unit the name should end in. Before a counter's "_total",
// timeout, timestamp, delay, ttl, age and interval name the events counted
// (request_timeout_total counts timeouts) and are not taken for quantities. Only the last word counts,
// so a word that qualifies another (request_time_slots, size_class_bytes) is
// not taken for the quantity measured; any unit word anywhere in the name
// (base, non-base or abbreviated) means the unit is given, and the other
// rules judge it.
func MissingUnit(name string, counter bool) (quantity, unit string, ok bool) {
	if strings.HasSuffix(name, "_info") {
		return "", "", false
	}
	stem := name
	if counter {
		stem = strings.TrimSuffix(stem, "_total")
	}
	i := strings.LastIndexByte(stem, '_')
	if i < 0 {
		return "", "", false // one word: the application prefix alone
	}
	last := stem[i+1:]
	if unit, ok = quantities[last]; !ok || (counter && eventNouns[last]) {
		return "", "", false
	}
	return last, unit, true
}

// eventNouns are the quantities that, before a counter's "_total", name
// the events counted rather than a quantity summed: timeouts, duplicate
// timestamps, delays, expired TTLs.
var eventNouns = map[string]bool{"timeout": true, "timestamp": true, "delay": true, "ttl": true, "age": true, "interval": true}

// quantities maps the last word of a name to the base unit it needs.
var quantities = map[string]string{
	"duration": "seconds", "latency": "seconds", "elapsed": "seconds", "uptime": "seconds",
	"delay": "seconds", "timeout": "seconds", "time": "seconds", "timestamp": "seconds",
	"interval": "seconds", "ttl": "seconds", "age": "seconds",
	"size": "bytes", "memory": "bytes",
	"temperature": "celsius", "temp": "celsius",
	"voltage":  "volts",
	"distance": "meters",
	"weight":   "grams", "mass": "grams",
	"energy":      "joules",
	"frequency":   "hertz",
	"power":       "watts",
	"utilization": "ratio", "utilisation": "ratio",
}

// baseUnits are the unit words accepted: the base units of the Prometheus
// naming practices (seconds, celsius, meters, bytes, ratio, volts, amperes,
// joules, grams; kelvin for absolute temperatures), plus hertz and watts,
// which the OpenTelemetry to Prometheus unit translation produces (Hz, W)
// and node_exporter uses.
var baseUnits = map[string]struct{}{
	"seconds": {}, "bytes": {}, "meters": {}, "metres": {}, "celsius": {}, "kelvin": {},
	"volts": {}, "amperes": {}, "joules": {}, "grams": {}, "ratio": {}, "hertz": {}, "watts": {},
}

type unitFix struct{ base, convert string }

// perUnits are the time units that, after "per", make a name a rate.
var perUnits = map[string]struct{}{
	"second": {}, "seconds": {}, "sec": {}, "s": {}, "minute": {}, "min": {}, "hour": {}, "day": {}, "ms": {},
}

// explicitUnits are the non-base units spelled out that have no SI prefix.
var explicitUnits = map[string]unitFix{
	"minutes": {"seconds", "× 60"}, "hours": {"seconds", "× 3600"}, "days": {"seconds", "× 86400"},
	"weeks": {"seconds", "× 604800"}, "second": {"seconds", "the plural form"}, "minute": {"seconds", "× 60"},
	"hour": {"seconds", "× 3600"}, "day": {"seconds", "× 86400"},
	"byte": {"bytes", "the plural form"}, "bits": {"bytes", "÷ 8"}, "bit": {"bytes", "÷ 8"},
	"octets":  {"bytes", "octets are bytes"},
	"percent": {"ratio", "0 to 1, ÷ 100"}, "percentage": {"ratio", "0 to 1, ÷ 100"}, "percents": {"ratio", "0 to 1, ÷ 100"},
	"fahrenheit": {"celsius", "(°F − 32) × 5/9"}, "kelvins": {"kelvin", "kelvin has no plural"},
	"meter": {"meters", "the plural form"}, "inches": {"meters", "× 0.0254"}, "feet": {"meters", "× 0.3048"},
	"yards": {"meters", "× 0.9144"}, "miles": {"meters", "× 1609.344"},
	"pounds": {"grams", "× 453.59237"}, "ounces": {"grams", "× 28.349523"},
	"calories": {"joules", "× 4.184"}, "volt": {"volts", "the plural form"}, "ampere": {"amperes", "the plural form"},
	"amps": {"amperes", "spelled out"}, "joule": {"joules", "the plural form"}, "gram": {"grams", "the plural form"},
	"watt": {"watts", "the plural form"},
}

// siPrefixes, with their factors, make a non-base unit of a base one
// (milliseconds, kilobytes, mebibytes, kilometers, ...).
var siPrefixes = []struct{ prefix, factor string }{
	{"pico", "÷ 1e12"}, {"nano", "÷ 1e9"}, {"micro", "÷ 1e6"}, {"milli", "÷ 1000"}, {"centi", "÷ 100"},
	{"deci", "÷ 10"}, {"deca", "× 10"}, {"hecto", "× 100"}, {"kilo", "× 1000"}, {"kibi", "× 1024"},
	{"mega", "× 1e6"}, {"mebi", "× 2^20"}, {"giga", "× 1e9"}, {"gibi", "× 2^30"}, {"tera", "× 1e12"},
	{"tebi", "× 2^40"}, {"peta", "× 1e15"}, {"pebi", "× 2^50"},
}

func nonBaseUnit(w string) (unitFix, bool) {
	if f, ok := explicitUnits[w]; ok {
		return f, true
	}
	for _, p := range siPrefixes {
		rest, ok := strings.CutPrefix(w, p.prefix)
		if !ok {
			continue
		}
		if _, ok := baseUnits[rest]; ok {
			return unitFix{rest, p.factor}, true
		}
		if f, ok := explicitUnits[rest]; ok && (rest == "bits" || rest == "second" || rest == "byte" || rest == "meter") {
			return unitFix{f.base, p.factor + ", " + f.convert}, true
		}
	}
	return unitFix{}, false
}

// abbreviations are the abbreviated units promlint discourages, and a few
// more, with the base unit each stands for. "min" is left out: in names it
// means minimum far more often than minutes.
var abbreviations = map[string]unitFix{
	"s": {"seconds", "same values"}, "sec": {"seconds", "same values"}, "secs": {"seconds", "same values"},
	"ms": {"seconds", "÷ 1000"}, "msec": {"seconds", "÷ 1000"}, "msecs": {"seconds", "÷ 1000"},
	"us": {"seconds", "÷ 1e6"}, "usec": {"seconds", "÷ 1e6"}, "ns": {"seconds", "÷ 1e9"}, "nsec": {"seconds", "÷ 1e9"},
	"h": {"seconds", "× 3600"}, "hr": {"seconds", "× 3600"}, "hrs": {"seconds", "× 3600"}, "d": {"seconds", "× 86400"},
	"b": {"bytes", "same values"}, "kb": {"bytes", "× 1000"}, "mb": {"bytes", "× 1e6"}, "gb": {"bytes", "× 1e9"},
	"tb": {"bytes", "× 1e12"}, "pb": {"bytes", "× 1e15"}, "kib": {"bytes", "× 1024"}, "mib": {"bytes", "× 2^20"},
	"gib": {"bytes", "× 2^30"}, "tib": {"bytes", "× 2^40"},
	"m": {"meters", "or seconds × 60 if it meant minutes"}, "km": {"meters", "× 1000"}, "cm": {"meters", "÷ 100"}, "mm": {"meters", "÷ 1000"},
	"pct": {"ratio", "0 to 1, ÷ 100"}, "perc": {"ratio", "0 to 1, ÷ 100"},
}

// invalidChars describes the characters of name outside the data model's
// [a-zA-Z_:][a-zA-Z0-9_:]* (colon allowed for metric names only), or "".
func invalidChars(name string, metric bool) string {
	var bad []string
	seen := map[rune]bool{}
	for i, r := range name {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (metric && r == ':') || (i > 0 && r >= '0' && r <= '9')
		if ok || seen[r] {
			continue
		}
		seen[r] = true
		switch {
		case r >= '0' && r <= '9':
			bad = append(bad, "a leading digit")
		case r == '-':
			bad = append(bad, "dashes")
		case r == '.':
			bad = append(bad, "dots")
		case r == ' ':
			bad = append(bad, "spaces")
		default:
			bad = append(bad, fmt.Sprintf("%q", r))
		}
	}
	return strings.Join(bad, ", ")
}

func hasUpper(s string) bool {
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			return true
		}
	}
	return false
}

// sanitize is the snake_case form of name: camelCase humps split with "_",
// letters lowered, every character outside [a-z0-9_:] replaced by "_", runs
// of "_" collapsed, a leading digit prefixed with "_".
func sanitize(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		switch {
		case r >= 'A' && r <= 'Z':
			if i > 0 && (isLowerOrDigit(rs[i-1]) || (i+1 < len(rs) && rs[i+1] >= 'a' && rs[i+1] <= 'z' && rs[i-1] >= 'A' && rs[i-1] <= 'Z')) {
				b.WriteByte('_')
			}
			b.WriteRune(r + ('a' - 'A'))
		case r == '_' || r == ':' || isLowerOrDigit(r):
			if i == 0 && r >= '0' && r <= '9' {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	for strings.Contains(s, "__") && !strings.HasPrefix(s, "__") {
		s = strings.ReplaceAll(s, "__", "_")
	}
	return strings.TrimSuffix(s, "_")
}

func isLowerOrDigit(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') }

func replaceWord(name string, i int, w string) string {
	words := strings.Split(name, "_")
	words[i] = w
	return strings.Join(words, "_")
}

func dropWord(name, w string) string {
	words := strings.Split(name, "_")
	out := words[:0]
	for _, x := range words {
		if x != w {
			out = append(out, x)
		}
	}
	return strings.Join(out, "_")
}

func reservedSuffixFix(name, suffix string, counter, histogramOrSummary bool) string {
	base := strings.TrimSuffix(name, suffix)
	switch {
	case counter && suffix == "_count":
		return fmt.Sprintf("a counter of events ends in _total: %s_total", base)
	case histogramOrSummary:
		return fmt.Sprintf("name the histogram or summary without it (%s); the client library adds %s itself", base, suffix)
	default:
		return fmt.Sprintf("rename it so it does not end in %s (e.g. %s)", suffix, base)
	}
}

func typeName(t dto.MetricType) string { return strings.ToLower(t.String()) }
