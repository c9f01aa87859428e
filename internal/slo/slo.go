// Package slo turns SLO files into Prometheus recording and alerting rules
// and reports each SLO's state.
//
// Three file formats are read (docs/slo.md):
//   - Sloth's prometheus/v1 (https://sloth.dev), so existing Sloth files
//     work: events (error_query / total_query) and raw (error_ratio_query)
//     SLIs, with {{.window}} in their queries;
//   - OpenSLO v1 (https://openslo.com) SLOs with a ratioMetric SLI whose
//     queries are PromQL, inline or by indicatorRef to an SLI document;
//   - Horus' own short form (version: horus/v1), whose SLIs are read from
//     the span metrics Horus derives from traces:
//     traces_spanmetrics_calls_total (availability) and the
//     traces_spanmetrics_latency histogram (latency).
//
// Generate writes the rules Sloth writes, with Sloth's names and labels
// (slo:sli_error:ratio_rate5m … and the period's, slo:objective:ratio,
// slo:error_budget:ratio, slo:time_period:days, slo:current_burn_rate:ratio,
// slo:period_burn_rate:ratio, slo:period_error_budget_remaining:ratio,
// sloth_slo_info; sloth_id, sloth_service, sloth_slo, sloth_window,
// sloth_severity), so Sloth's Grafana dashboards read Horus unchanged, and
// the multi-window, multi-burn-rate alerts of the Google SRE workbook
// (chapter "Alerting on SLOs"), with a guard against paging on a handful
// of failed requests.
package slo

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Spec names, the sloth_spec label of sloth_slo_info.
const (
	SpecSloth   = "prometheus/v1"
	SpecOpenSLO = "openslo/v1"
	SpecHorus   = "horus/v1"
)

// DefaultWindow is an SLO's period when its file names none: 30 days, as
// Sloth's default and the SRE workbook's.
const DefaultWindow = 30 * 24 * time.Hour

// DefaultMinErrors is the low-traffic guard's default: an alert needs at
// least this many failed events in its long window (docs/slo.md, "Low
// traffic").
const DefaultMinErrors = 5

// MinWindow is the shortest period an SLO may have: the longest alert
// window (3d) must be well inside it.
const MinWindow = 7 * 24 * time.Hour

// SLO is one service level objective, whatever file format it came from.
type SLO struct {
	// ID is the sloth_id label: "<service>-<name>", unique among the
	// loaded SLOs.
	ID string `json:"id"`
	// Name is the sloth_slo label; Service the sloth_service label.
	Name    string `json:"name"`
	Service string `json:"service"`
	// Description is free text.
	Description string `json:"description,omitempty"`
	// Spec is the file format: SpecSloth, SpecOpenSLO or SpecHorus.
	Spec string `json:"spec"`
	// File is the file it was read from ("" when parsed from bytes).
	File string `json:"file,omitempty"`
	// Objective is the target in percent, 0 < Objective < 100 (99.9).
	Objective float64 `json:"objective"`
	// Window is the SLO's rolling period (30 days by default).
	Window time.Duration `json:"-"`
	// Labels are added to every recorded series and alert of the SLO.
	Labels map[string]string `json:"labels,omitempty"`
	// InfoLabels are added to sloth_slo_info only.
	InfoLabels map[string]string `json:"-"`
	// SLI says which events are bad.
	SLI SLI `json:"-"`
	// Page and Ticket are the two alerts: page (14.4× over 1h and 5m, or
	// 6× over 6h and 30m) and ticket (3× over 1d and 2h, or 1× over 3d
	// and 6h), at a 30-day window.
	Page   Alert `json:"-"`
	Ticket Alert `json:"-"`
	// MinErrors is the low-traffic guard: an alert fires only when its
	// long window holds at least this many failed events; 0 turns the
	// guard off. Events SLIs only (a raw ratio has no count).
	MinErrors int `json:"-"`
	// Intervals are the rule groups' evaluation intervals; 0 is the
	// rules manager's global interval.
	Intervals Intervals `json:"-"`
}

// SLI is the indicator: exactly one of Events and Raw is set. Queries
// hold the template variable {{.window}} (Go text/template, as Sloth's),
// which each generated rule replaces with its window ("5m", "1h", "30d").
type SLI struct {
	// Events: the SLI's error ratio is ErrorQuery / TotalQuery, both
	// rates of events (failed events, all events).
	Events *Events
	// Raw: the error ratio (0 to 1) comes computed.
	Raw *Raw
}

// Events is an SLI of bad events over all events.
type Events struct {
	ErrorQuery string
	TotalQuery string
}

// Raw is an SLI whose query gives the error ratio itself.
type Raw struct {
	ErrorRatioQuery string
}

// Alert is the page or ticket alert of an SLO.
type Alert struct {
	// Disable: no alert rule is generated.
	Disable bool
	// Name is the alerting rule's name (alertname); page and ticket
	// share it, as in Sloth, and differ by sloth_severity.
	Name string
	// Labels and Annotations are the rule's; severity and runbook_url
	// are always among them once the SLO is validated.
	Labels      map[string]string
	Annotations map[string]string
	// For is the rule's for; 0: none (the short window already keeps a
	// blip from firing).
	For time.Duration
}

// Intervals are rule group evaluation intervals (Sloth's interval block:
// all, slierror, metadata, alert).
type Intervals struct {
	SLIError, Metadata, Alert time.Duration
}

// Severities of the two alerts: sloth_severity is Sloth's page/ticket, and
// the severity label Horus' (critical for a page, warning for a ticket)
// unless the file sets its own.
const (
	SeverityPage   = "page"
	SeverityTicket = "ticket"
)

// nameRE is what Sloth accepts as a service or SLO name.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$`)

// alertNameRE is a metric name, what an alert's name must be for every
// promtool to accept it.
var alertNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// windowVarRE finds the {{.window}} template variable.
var windowVarRE = regexp.MustCompile(`{{ *\.window *}}`)

// validate checks the SLO and fills the alerts' default labels and
// annotations. Errors name the field.
func (s *SLO) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !nameRE.MatchString(s.Service) {
		add("service %q: want letters, digits, '-', '_' and '.', starting and ending with a letter or digit", s.Service)
	}
	if !nameRE.MatchString(s.Name) {
		add("name %q: want letters, digits, '-', '_' and '.', starting and ending with a letter or digit", s.Name)
	}
	if !(s.Objective > 0 && s.Objective < 100) {
		add("objective %v: want a percentage above 0 and below 100 (99.9); 100 leaves no error budget to burn", s.Objective)
	}
	if s.Window < MinWindow || s.Window%(24*time.Hour) != 0 {
		add("window %s: want a whole number of days, at least %s (the longest alert window, 3d, must fit well inside it)", model.Duration(s.Window), model.Duration(MinWindow))
	}
	for k, v := range s.Labels {
		if err := checkLabel(k, v); err != nil {
			add("labels: %v", err)
		}
	}
	for k, v := range s.InfoLabels {
		if err := checkLabel(k, v); err != nil {
			add("info labels: %v", err)
		}
	}
	switch {
	case s.SLI.Events != nil && s.SLI.Raw != nil:
		add("sli: give events or raw, not both")
	case s.SLI.Events != nil:
		if err := checkQuery(s.SLI.Events.ErrorQuery); err != nil {
			add("sli error query: %v", err)
		}
		if err := checkQuery(s.SLI.Events.TotalQuery); err != nil {
			add("sli total query: %v", err)
		}
	case s.SLI.Raw != nil:
		if err := checkQuery(s.SLI.Raw.ErrorRatioQuery); err != nil {
			add("sli error ratio query: %v", err)
		}
		if s.MinErrors > 0 {
			add("min_errors %d: a raw SLI gives a ratio, not a count of failed events, so the low-traffic guard cannot count them; set 0, or give the SLI as events", s.MinErrors)
		}
	default:
		add("sli: missing (give events or raw)")
	}
	if s.MinErrors < 0 {
		add("min_errors %d: want 0 (no guard) or more", s.MinErrors)
	}
	for _, a := range []struct {
		sev string
		a   *Alert
	}{{SeverityPage, &s.Page}, {SeverityTicket, &s.Ticket}} {
		if err := s.validateAlert(a.sev, a.a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *SLO) validateAlert(sev string, a *Alert) error {
	if a.Disable {
		return nil
	}
	what := sev + " alert"
	if a.Name == "" {
		return fmt.Errorf("%s: no alert name (alerting.name)", what)
	}
	if !alertNameRE.MatchString(a.Name) {
		return fmt.Errorf("%s: alert name %q: want letters, digits, '_' and ':', not starting with a digit", what, a.Name)
	}
	if a.For < 0 {
		return fmt.Errorf("%s: for %s: want 0 or more", what, a.For)
	}
	a.Labels = maps.Clone(a.Labels)
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	for k, v := range a.Labels {
		if err := checkLabel(k, v); err != nil {
			return fmt.Errorf("%s labels: %w", what, err)
		}
	}
	a.Annotations = maps.Clone(a.Annotations)
	if a.Annotations == nil {
		a.Annotations = map[string]string{}
	}
	for k := range a.Annotations {
		if !model.LegacyValidation.IsValidLabelName(k) {
			return fmt.Errorf("%s annotations: %q is not a valid annotation name (letters, digits and '_', not starting with a digit)", what, k)
		}
	}
	// Sloth's own examples name the runbook "runbook"; Horus' alerts
	// carry it as runbook_url (the key Alertmanager templates and the
	// rules lint read).
	if a.Annotations["runbook_url"] == "" && a.Annotations["runbook"] != "" {
		a.Annotations["runbook_url"] = a.Annotations["runbook"]
	}
	if strings.TrimSpace(a.Annotations["runbook_url"]) == "" {
		return fmt.Errorf("%s: no runbook_url annotation: every Horus alert links the runbook that says what to do (set alerting.annotations.runbook_url, or disable the alert)", what)
	}
	if _, ok := a.Labels["severity"]; !ok {
		a.Labels["severity"] = map[string]string{SeverityPage: "critical", SeverityTicket: "warning"}[sev]
	}
	return nil
}

// checkLabel refuses label names Prometheus (and every promtool) does not
// accept, and the labels that identify an SLO's series.
func checkLabel(k, v string) error {
	if !model.LegacyValidation.IsValidLabelName(k) || strings.HasPrefix(k, "__") {
		return fmt.Errorf("%q is not a valid label name (letters, digits and '_', not starting with a digit or '__')", k)
	}
	switch k {
	case labelID, labelService, labelSLO, labelWindow, "sloth_severity", "sloth_version", "sloth_mode", "sloth_spec", "sloth_objective":
		return fmt.Errorf("%q is set by Horus (it identifies the SLO's series)", k)
	}
	if !model.LabelValue(v).IsValid() {
		return fmt.Errorf("label %s: value is not valid UTF-8", k)
	}
	return nil
}

// checkQuery checks that q has the {{.window}} variable and is PromQL
// once it is replaced.
func checkQuery(q string) error {
	if strings.TrimSpace(q) == "" {
		return errors.New("empty")
	}
	if !windowVarRE.MatchString(q) {
		return fmt.Errorf("%q has no {{.window}}: each rule needs the query over its own window, e.g. rate(x[{{.window}}])", q)
	}
	out, err := render(q, "5m")
	if err != nil {
		return err
	}
	if _, err := parseExpr(out); err != nil {
		return fmt.Errorf("%q is not PromQL: %w", out, err)
	}
	return nil
}

// budget is the error budget as a ratio: 1 - objective.
func (s *SLO) budget() float64 { return (100 - s.Objective) / 100 }

// formatFloat prints f with up to 12 significant digits, so 1 - 0.999
// prints 0.001 and not 0.0009999999999999432.
func formatFloat(f float64) string {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 12, 64), 64)
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// promDuration prints d as Prometheus does ("5m", "1d", "4w"), the form
// of Sloth's window suffixes and sloth_window values.
func promDuration(d time.Duration) string { return model.Duration(d).String() }
