package ruler

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// Severities are the values an alerting rule's severity label may take.
var Severities = []string{"critical", "warning", "info"}

// Finding is what the lint says of one rule.
type Finding struct {
	File  string
	Line  int
	Group string
	Rule  string // the alert's name
	// Fatal findings fail the check; the others are warnings.
	Fatal bool
	// Check names the lint rule: severity, runbook, for, cause.
	Check string
	// Text says what is wrong, why it matters and how to fix it.
	Text string
}

func (f Finding) String() string {
	level := "warning"
	if f.Fatal {
		level = "error"
	}
	return fmt.Sprintf("%s:%d: %s (%s): group %q, alert %q: %s", f.File, f.Line, level, f.Check, f.Group, f.Rule, f.Text)
}

// causeMetric matches the metrics of a host's resources: node_exporter's
// CPU, memory, disk and load, cAdvisor's container CPU and memory, and
// the process collectors' CPU and memory.
var causeMetric = regexp.MustCompile(`^(node_(cpu|memory|filesystem|disk|load|vmstat|pressure)|container_(cpu|memory|fs)|process_(cpu|resident_memory|virtual_memory)|windows_(cpu|memory|logical_disk)|system_(cpu|memory|disk|filesystem))`)

// causeName matches alert names about a host's resources.
var causeName = regexp.MustCompile(`(?i)(cpu|memory|oomkill|disk|filesystem|inode|swap|iowait|loadaverage)`)

// isCause says whether an alerting rule is about a cause (CPU, memory or
// disk of a host) rather than a symptom users see: by its name, or by its
// expression reading only such metrics.
func isCause(r rulefmt.Rule, lang Lang, p parser.Parser) bool {
	if causeName.MatchString(r.Alert) {
		return true
	}
	if lang != PromQL {
		return false
	}
	e, err := p.ParseExpr(r.Expr)
	if err != nil {
		return false
	}
	sel := parser.ExtractSelectors(e)
	if len(sel) == 0 {
		return false
	}
	for _, ms := range sel {
		name := ""
		for _, m := range ms {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if !causeMetric.MatchString(name) {
			return false
		}
	}
	return true
}

// Lint checks the alerting rules of f against Horus' alerting rules
// (docs/alerting.md, "The lint"):
//
//   - severity: an alert has a severity label of critical, warning or
//     info (fatal);
//   - runbook: an alert has a runbook_url annotation (fatal);
//   - for: an alert waits (for:) before firing (warning);
//   - cause: an alert on a host's CPU, memory or disk has a symptom alert
//     beside it in its group (warning).
func Lint(f *File, p parser.Parser) []Finding {
	var out []Finding
	for _, lang := range Langs {
		rgs := f.Groups[lang]
		if rgs == nil {
			continue
		}
		for _, g := range rgs.Groups {
			lines := f.Lines[g.Name]
			line := func(i int) int {
				if i+1 < len(lines) {
					return lines[i+1]
				}
				if len(lines) > 0 {
					return lines[0]
				}
				return 0
			}
			var causes []int
			symptoms := 0
			for i, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				add := func(fatal bool, check, text string) {
					out = append(out, Finding{File: f.Name, Line: line(i), Group: g.Name, Rule: r.Alert, Fatal: fatal, Check: check, Text: text})
				}
				sev, ok := r.Labels["severity"]
				if !ok {
					sev, ok = g.Labels["severity"]
				}
				switch {
				case !ok:
					add(true, "severity", "no severity label. Whoever is notified must see at once how bad it is, and Alertmanager routes on it (critical pages, warning and info go to a ticket or a channel). Fix: add labels: {severity: critical} (or warning, info).")
				case !slices.Contains(Severities, sev):
					add(true, "severity", fmt.Sprintf("severity is %q. Routing and the on-call know three levels only. Fix: use critical (wake someone: users are hurt now), warning (act within working hours) or info.", sev))
				}
				if strings.TrimSpace(r.Annotations["runbook_url"]) == "" {
					add(true, "runbook", "no runbook_url annotation. An alert whose receiver does not know what to do next wakes someone for nothing; the runbook says what the alert means, how to confirm it and what to do. Fix: write one (e.g. docs/runbooks/<alert>.md) and add annotations: {runbook_url: <its URL>}.")
				}
				if r.For == 0 {
					add(false, "for", "no for: the alert fires on the first evaluation where its expression holds, so one scrape's blip or one slow query notifies. Fix: add for: with the time the condition must hold (e.g. for: 5m; a few evaluation intervals at least).")
				}
				if isCause(r, lang, p) {
					causes = append(causes, i)
				} else {
					symptoms++
				}
			}
			if symptoms == 0 {
				for _, i := range causes {
					r := g.Rules[i]
					out = append(out, Finding{File: f.Name, Line: line(i), Group: g.Name, Rule: r.Alert, Check: "cause",
						Text: "a cause (a host's CPU, memory or disk) with no symptom alert in its group. Users feel errors and slowness, not CPU: a busy host that serves well needs nobody, and a symptom alert catches the failures no cause alert foresaw. Fix: alert on the symptom (error ratio, latency, availability of the service the host serves) with severity critical, and keep this one as a warning or a dashboard panel."})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}
