package slo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/horus-obs/horus/internal/buildinfo"
)

// The names Sloth gives its series and labels (Sloth's
// pkg/common/conventions), which its Grafana dashboards read.
const (
	// MetricErrorRatio + window ("5m", "30d") is an SLI's error ratio
	// over that window: slo:sli_error:ratio_rate5m.
	MetricErrorRatio = "slo:sli_error:ratio_rate"

	MetricObjective              = "slo:objective:ratio"
	MetricErrorBudget            = "slo:error_budget:ratio"
	MetricPeriodDays             = "slo:time_period:days"
	MetricCurrentBurnRate        = "slo:current_burn_rate:ratio"
	MetricPeriodBurnRate         = "slo:period_burn_rate:ratio"
	MetricPeriodBudgetRemaining  = "slo:period_error_budget_remaining:ratio"
	MetricInfo                   = "sloth_slo_info"
	labelID, labelService        = "sloth_id", "sloth_service"
	labelSLO, labelWindow        = "sloth_slo", "sloth_window"
	labelSeverity                = "sloth_severity"
	groupSLI, groupMeta, groupAl = "sloth-slo-sli-recordings-", "sloth-slo-meta-recordings-", "sloth-slo-alerts-"
)

// Horus' own series, beside Sloth's, for events SLIs: the rates of failed
// and of all events, which make the period's SLI a ratio of counts (not
// Sloth's average of 5-minute ratios, docs/slo.md) and let the low-traffic
// guard count failures.
const (
	// MetricErrorRate + window is the rate of failed events (per second).
	MetricErrorRate = "slo:sli_error:rate"
	// MetricTotalRate + window is the rate of all events (per second).
	MetricTotalRate = "slo:sli_total:rate"
)

// BurnAlert is one of the SRE workbook's four multi-window burn-rate
// conditions ("Alerting on SLOs", recommended parameters): the alert
// fires when, over both its long and its short window, the error ratio
// is above Factor × the error budget; Factor is the rate that spends
// BudgetSpent of the period's budget in the long window.
type BurnAlert struct {
	Severity    string // SeverityPage or SeverityTicket
	BudgetSpent float64
	Short, Long time.Duration
}

// BurnAlerts are the workbook's conditions: at a 30-day period, page on
// 14.4× over 1h and 5m or 6× over 6h and 30m; ticket on 3× over 1d and
// 2h or 1× over 3d and 6h.
var BurnAlerts = []BurnAlert{
	{SeverityPage, 0.02, 5 * time.Minute, time.Hour},
	{SeverityPage, 0.05, 30 * time.Minute, 6 * time.Hour},
	{SeverityTicket, 0.10, 2 * time.Hour, 24 * time.Hour},
	{SeverityTicket, 0.10, 6 * time.Hour, 72 * time.Hour},
}

// Factor is the burn rate of the condition for an SLO period:
// BudgetSpent × period / Long (14.4 for 2% in 1h of 30 days).
func (b BurnAlert) Factor(period time.Duration) float64 {
	f := b.BudgetSpent * float64(period) / float64(b.Long)
	return math.Round(f*1e6) / 1e6
}

// AlertWindows are the windows of the SLI error-ratio rules, shortest
// first: every window of BurnAlerts. The period's window comes after them.
var AlertWindows = []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}

// Generate writes the recording and alerting rules of slos, three groups
// each (as Sloth's): sloth-slo-sli-recordings-<id> (the error ratios per
// window), sloth-slo-meta-recordings-<id> (objective, budget, burn rates,
// info) and sloth-slo-alerts-<id> (page and ticket). The groups are
// checked with Prometheus' rule parser before they are returned.
func Generate(slos []SLO) (rulefmt.RuleGroups, error) {
	var out rulefmt.RuleGroups
	seen := map[string]string{}
	for i := range slos {
		s := slos[i]
		if prev, ok := seen[s.ID]; ok {
			return out, fmt.Errorf("SLO %s (%s) is defined twice (also in %s)", s.ID, s.File, prev)
		}
		seen[s.ID] = s.File
		gs, err := generate(&s)
		if err != nil {
			return out, fmt.Errorf("SLO %s: %w", s.ID, err)
		}
		out.Groups = append(out.Groups, gs...)
	}
	b, err := Marshal(out)
	if err != nil {
		return out, err
	}
	_, errs := rulefmt.Parse(b, false, model.LegacyValidation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		return out, fmt.Errorf("generated rules are invalid: %w", errors.Join(errs...))
	}
	return out, nil
}

// Marshal writes groups as a Prometheus rule file (YAML).
func Marshal(groups rulefmt.RuleGroups) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(groups); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteRuleFile writes the rule file of slos to w, after a comment naming
// its sources.
func WriteRuleFile(w io.Writer, slos []SLO) error {
	groups, err := Generate(slos)
	if err != nil {
		return err
	}
	b, err := Marshal(groups)
	if err != nil {
		return err
	}
	var files []string
	for _, s := range slos {
		if s.File != "" && !slices.Contains(files, s.File) {
			files = append(files, s.File)
		}
	}
	header := "# Generated by horus slo generate (Horus " + buildinfo.Get().Version + ")"
	if len(files) > 0 {
		header += " from " + strings.Join(files, ", ")
	}
	header += ". Do not edit: edit the SLO files and generate again.\n"
	_, err = io.WriteString(w, header+string(b))
	return err
}

// filter is the selector of an SLO's series: {sloth_id="…",
// sloth_service="…", sloth_slo="…"}.
func (s *SLO) filter() string {
	return fmt.Sprintf(`{%s=%q, %s=%q, %s=%q}`, labelID, s.ID, labelService, s.Service, labelSLO, s.Name)
}

func (s *SLO) idLabels() map[string]string {
	return map[string]string{labelID: s.ID, labelService: s.Service, labelSLO: s.Name}
}

// seriesLabels are the labels of an SLO's recorded series: its own, then
// the ids (and the window, if not "").
func (s *SLO) seriesLabels(window string) map[string]string {
	l := maps.Clone(s.Labels)
	if l == nil {
		l = map[string]string{}
	}
	maps.Copy(l, s.idLabels())
	if window != "" {
		l[labelWindow] = window
	}
	return l
}

// guardWindows are the long windows the low-traffic guard counts
// failures in.
func guardWindows() []time.Duration {
	var ws []time.Duration
	for _, b := range BurnAlerts {
		if !slices.Contains(ws, b.Long) {
			ws = append(ws, b.Long)
		}
	}
	return ws
}

func generate(s *SLO) ([]rulefmt.RuleGroup, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	period := promDuration(s.Window)
	var sli []rulefmt.Rule
	for _, w := range AlertWindows {
		expr, err := s.errorRatioExpr(promDuration(w))
		if err != nil {
			return nil, err
		}
		sli = append(sli, rulefmt.Rule{Record: MetricErrorRatio + promDuration(w), Expr: expr, Labels: s.seriesLabels(promDuration(w))})
	}
	f := s.filter()
	short := promDuration(AlertWindows[0])
	if ev := s.SLI.Events; ev != nil {
		// The rates of failed events at 5m (the period's ratio) and at
		// each long alert window (the guard), of all events at 5m.
		ws := []time.Duration{AlertWindows[0]}
		if s.MinErrors > 0 && (!s.Page.Disable || !s.Ticket.Disable) {
			ws = append(ws, guardWindows()...)
		}
		for _, w := range ws {
			expr, err := render(ev.ErrorQuery, promDuration(w))
			if err != nil {
				return nil, err
			}
			sli = append(sli, rulefmt.Rule{Record: MetricErrorRate + promDuration(w), Expr: expr, Labels: s.seriesLabels(promDuration(w))})
		}
		expr, err := render(ev.TotalQuery, short)
		if err != nil {
			return nil, err
		}
		sli = append(sli, rulefmt.Rule{Record: MetricTotalRate + short, Expr: expr, Labels: s.seriesLabels(short)})
		// The period's error ratio: failed over all events in it, from
		// the 5m rates recorded at every evaluation (each event is in
		// the same number of 5m windows on both sides, so the ratio is
		// that of the counts).
		sli = append(sli, rulefmt.Rule{
			Record: MetricErrorRatio + period,
			Expr: fmt.Sprintf("sum_over_time(%s%s%s[%s])\n/ ignoring (%s)\nsum_over_time(%s%s%s[%s])\n",
				MetricErrorRate, short, f, period, labelWindow, MetricTotalRate, short, f, period),
			Labels: s.seriesLabels(period),
		})
	} else {
		// A raw ratio has no counts: the period's ratio is the mean of
		// the 5m ratios, as Sloth's.
		sli = append(sli, rulefmt.Rule{
			Record: MetricErrorRatio + period,
			Expr: fmt.Sprintf("sum_over_time(%s%s%s[%s])\n/ ignoring (%s)\ncount_over_time(%s%s%s[%s])\n",
				MetricErrorRatio, short, f, period, labelWindow, MetricErrorRatio, short, f, period),
			Labels: s.seriesLabels(period),
		})
	}

	labels := s.seriesLabels("")
	burn := func(window string) string {
		return fmt.Sprintf("%s%s%s\n/ on(%s, %s, %s) group_left\n%s%s\n", MetricErrorRatio, window, f, labelID, labelSLO, labelService, MetricErrorBudget, f)
	}
	info := maps.Clone(labels)
	maps.Copy(info, s.InfoLabels)
	maps.Copy(info, map[string]string{
		"sloth_version":   buildinfo.Get().Version,
		"sloth_mode":      "horus",
		"sloth_spec":      s.Spec,
		"sloth_objective": strconv.FormatFloat(s.Objective, 'f', -1, 64),
	})
	meta := []rulefmt.Rule{
		{Record: MetricObjective, Expr: fmt.Sprintf("vector(%s)", formatFloat(s.Objective/100)), Labels: labels},
		{Record: MetricErrorBudget, Expr: fmt.Sprintf("vector(%s)", formatFloat(s.budget())), Labels: labels},
		{Record: MetricPeriodDays, Expr: fmt.Sprintf("vector(%s)", formatFloat(s.Window.Hours()/24)), Labels: labels},
		{Record: MetricCurrentBurnRate, Expr: burn(short), Labels: labels},
		{Record: MetricPeriodBurnRate, Expr: burn(period), Labels: labels},
		{Record: MetricPeriodBudgetRemaining, Expr: fmt.Sprintf("1 - %s%s", MetricPeriodBurnRate, f), Labels: labels},
		{Record: MetricInfo, Expr: "vector(1)", Labels: info},
	}

	var alerts []rulefmt.Rule
	for _, a := range []struct {
		sev   string
		alert Alert
	}{{SeverityPage, s.Page}, {SeverityTicket, s.Ticket}} {
		if a.alert.Disable {
			continue
		}
		alerts = append(alerts, s.alertRule(a.sev, a.alert))
	}

	groups := []rulefmt.RuleGroup{
		{Name: groupSLI + s.ID, Interval: model.Duration(s.Intervals.SLIError), Rules: sli},
		{Name: groupMeta + s.ID, Interval: model.Duration(s.Intervals.Metadata), Rules: meta},
	}
	if len(alerts) > 0 {
		groups = append(groups, rulefmt.RuleGroup{Name: groupAl + s.ID, Interval: model.Duration(s.Intervals.Alert), Rules: alerts})
	}
	return groups, nil
}

// errorRatioExpr is the SLI's error ratio over window.
func (s *SLO) errorRatioExpr(window string) (string, error) {
	if ev := s.SLI.Events; ev != nil {
		e, err := render(ev.ErrorQuery, window)
		if err != nil {
			return "", err
		}
		t, err := render(ev.TotalQuery, window)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("(%s)\n/\n(%s)\n", strings.TrimSpace(e), strings.TrimSpace(t)), nil
	}
	r, err := render(s.SLI.Raw.ErrorRatioQuery, window)
	if err != nil {
		return "", err
	}
	return "(" + strings.TrimSpace(r) + ")", nil
}

// conditions are the burn-rate conditions of one severity.
func conditions(sev string) []BurnAlert {
	var out []BurnAlert
	for _, b := range BurnAlerts {
		if b.Severity == sev {
			out = append(out, b)
		}
	}
	return out
}

// alertExpr is the alert of severity sev: any of its conditions, each the
// error ratio above the factor × budget over both windows and, with the
// guard on, at least MinErrors failed events in the long window.
func (s *SLO) alertExpr(sev string) string {
	var parts []string
	for _, b := range conditions(sev) {
		parts = append(parts, "(\n    "+strings.Join(s.conditionTerms(b), "\n    and\n    ")+"\n)")
	}
	return strings.Join(parts, "\nor\n") + "\n"
}

// conditionTerms are the terms of one burn-rate condition, to be joined
// with "and".
func (s *SLO) conditionTerms(b BurnAlert) []string {
	f, budget := s.filter(), formatFloat(s.budget())
	factor := formatFloat(b.Factor(s.Window))
	terms := []string{
		fmt.Sprintf("max(%s%s%s > (%s * %s)) without (%s)", MetricErrorRatio, promDuration(b.Short), f, factor, budget, labelWindow),
		fmt.Sprintf("max(%s%s%s > (%s * %s)) without (%s)", MetricErrorRatio, promDuration(b.Long), f, factor, budget, labelWindow),
	}
	if s.SLI.Events != nil && s.MinErrors > 0 {
		terms = append(terms, fmt.Sprintf("max(%s%s%s * %d >= %d) without (%s)", MetricErrorRate, promDuration(b.Long), f, int64(b.Long.Seconds()), s.MinErrors, labelWindow))
	}
	return terms
}

func (s *SLO) alertRule(sev string, a Alert) rulefmt.Rule {
	ann := s.defaultAnnotations(sev)
	maps.Copy(ann, a.Annotations)
	labels := maps.Clone(a.Labels)
	labels[labelSeverity] = sev
	return rulefmt.Rule{
		Alert:       a.Name,
		Expr:        s.alertExpr(sev),
		For:         model.Duration(a.For),
		Labels:      labels,
		Annotations: ann,
	}
}

// defaultAnnotations say what fires, how bad it is and where to look; a
// file's own annotations replace them key by key.
func (s *SLO) defaultAnnotations(sev string) map[string]string {
	period := promDuration(s.Window)
	budget := s.budget()
	var conds []string
	for _, b := range conditions(sev) {
		factor := b.Factor(s.Window)
		conds = append(conds, fmt.Sprintf("above %s× the budget (%s failed) over both %s and %s, which spends %s of the %s budget in %s and all of it in %s",
			formatFloat(factor), percent(factor*budget), promDuration(b.Long), promDuration(b.Short),
			percent(b.BudgetSpent), period, promDuration(b.Long), humanDuration(time.Duration(float64(s.Window)/factor))))
	}
	desc := fmt.Sprintf("SLO %s of %s: %s of events good over %s (error budget %s). The %s alert fires when the error ratio is %s.",
		s.Name, s.Service, percent(s.Objective/100), period, percent(budget), sev, strings.Join(conds, "; or "))
	if s.SLI.Events != nil && s.MinErrors > 0 {
		desc += fmt.Sprintf(" It waits for at least %d bad events in the long window, so a handful of failures on a quiet service does not fire it.", s.MinErrors)
	}
	return map[string]string{
		"summary":     fmt.Sprintf("{{ $labels.sloth_service }} %s SLO: error budget burning too fast (error ratio {{ $value | humanizePercentage }} over the short window)", s.Name),
		"description": desc,
		"title":       fmt.Sprintf("(%s) {{ $labels.sloth_service }} {{ $labels.sloth_slo }}: SLO error budget burn rate too high", sev),
	}
}

// percent prints a ratio as a percentage with up to 4 significant digits.
func percent(r float64) string {
	return strconv.FormatFloat(r*100, 'g', 4, 64) + "%"
}

// humanDuration prints d in days or hours, rounded.
func humanDuration(d time.Duration) string {
	if d >= 48*time.Hour {
		return strconv.FormatFloat(math.Round(d.Hours()/24*10)/10, 'f', -1, 64) + " days"
	}
	return strconv.FormatFloat(math.Round(d.Hours()*10)/10, 'f', -1, 64) + " hours"
}

// render replaces {{.window}} in q.
func render(q, window string) (string, error) {
	t, err := template.New("query").Option("missingkey=error").Parse(q)
	if err != nil {
		return "", fmt.Errorf("query template %q: %w", q, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, map[string]string{"window": window}); err != nil {
		return "", fmt.Errorf("query template %q: %w", q, err)
	}
	return b.String(), nil
}

var promqlParser = parser.NewParser(parser.Options{})

func parseExpr(q string) (parser.Expr, error) { return promqlParser.ParseExpr(q) }
