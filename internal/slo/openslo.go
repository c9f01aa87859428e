package slo

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// OpenSLO v1 (https://github.com/OpenSLO/OpenSLO, README "Specification"):
// the kinds Horus reads. SLO and SLI make rules; DataSource is checked
// when referenced; Service and the alerting kinds are accepted and not
// used.
type osloDoc struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   osloMeta  `yaml:"metadata"`
	Spec       yaml.Node `yaml:"spec"`
}

type osloMeta struct {
	Name        string            `yaml:"name"`
	DisplayName string            `yaml:"displayName"`
	Labels      map[string]any    `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type osloSLOSpec struct {
	Description     string           `yaml:"description"`
	Service         string           `yaml:"service"`
	Indicator       *osloSLI         `yaml:"indicator"`
	IndicatorRef    string           `yaml:"indicatorRef"`
	TimeWindow      []osloTimeWindow `yaml:"timeWindow"`
	BudgetingMethod string           `yaml:"budgetingMethod"`
	Objectives      []osloObjective  `yaml:"objectives"`
	AlertPolicies   []yaml.Node      `yaml:"alertPolicies"`
}

type osloSLI struct {
	Metadata osloMeta    `yaml:"metadata"`
	Spec     osloSLISpec `yaml:"spec"`
}

type osloSLISpec struct {
	Description     string     `yaml:"description"`
	ThresholdMetric yaml.Node  `yaml:"thresholdMetric"`
	RatioMetric     *osloRatio `yaml:"ratioMetric"`
}

type osloRatio struct {
	Counter *bool       `yaml:"counter"`
	Good    *osloMetric `yaml:"good"`
	Bad     *osloMetric `yaml:"bad"`
	Total   *osloMetric `yaml:"total"`
	RawType string      `yaml:"rawType"`
	Raw     *osloMetric `yaml:"raw"`
}

type osloMetric struct {
	MetricSource osloSource `yaml:"metricSource"`
}

type osloSource struct {
	MetricSourceRef string         `yaml:"metricSourceRef"`
	Type            string         `yaml:"type"`
	Spec            map[string]any `yaml:"spec"`
}

type osloTimeWindow struct {
	Duration  string    `yaml:"duration"`
	IsRolling *bool     `yaml:"isRolling"`
	Calendar  yaml.Node `yaml:"calendar"`
}

type osloObjective struct {
	DisplayName     string    `yaml:"displayName"`
	Op              string    `yaml:"op"`
	Value           *float64  `yaml:"value"`
	Target          *float64  `yaml:"target"`
	TargetPercent   *float64  `yaml:"targetPercent"`
	TimeSliceTarget *float64  `yaml:"timeSliceTarget"`
	TimeSliceWindow yaml.Node `yaml:"timeSliceWindow"`
	Indicator       yaml.Node `yaml:"indicator"`
	IndicatorRef    string    `yaml:"indicatorRef"`
	CompositeWeight *float64  `yaml:"compositeWeight"`
}

type osloDataSource struct {
	Description       string    `yaml:"description"`
	Type              string    `yaml:"type"`
	ConnectionDetails yaml.Node `yaml:"connectionDetails"`
}

// Annotations of an OpenSLO SLO that Horus reads (OpenSLO leaves
// implementation settings to annotations).
const (
	// AnnotationRunbookURL is the alerts' runbook_url (required unless
	// the alerts are off).
	AnnotationRunbookURL = "horus/runbook_url"
	// AnnotationAlertName names the alerts (default: service and SLO
	// name in CamelCase, then "SLO").
	AnnotationAlertName = "horus/alert_name"
	// AnnotationMinErrors is the low-traffic guard (default 5).
	AnnotationMinErrors = "horus/min_errors"
	// AnnotationAlerts "false" generates no alert.
	AnnotationAlerts = "horus/alerts"
)

type osloEntry struct {
	d   document
	doc osloDoc
}

// openSLOSet gathers OpenSLO documents; SLOs are made once all are read,
// so an indicatorRef or metricSourceRef may point into another file.
type openSLOSet struct {
	sloDocs     []osloEntry
	slis        map[string]osloEntry
	datasources map[string]osloEntry
}

func newOpenSLOSet() *openSLOSet {
	return &openSLOSet{slis: map[string]osloEntry{}, datasources: map[string]osloEntry{}}
}

func (o *openSLOSet) add(d document) error {
	var doc osloDoc
	if err := decodeStrict(d, d.node, &doc, ""); err != nil {
		return err
	}
	e := osloEntry{d, doc}
	name := doc.Metadata.Name
	if name == "" {
		return fmt.Errorf("%s: metadata.name: missing", d.pos(nil))
	}
	switch doc.Kind {
	case "SLO":
		o.sloDocs = append(o.sloDocs, e)
	case "SLI":
		if prev, ok := o.slis[name]; ok {
			return fmt.Errorf("%s: SLI %s is defined twice (also at %s)", d.pos(nil), name, prev.d.pos(nil))
		}
		o.slis[name] = e
	case "DataSource":
		o.datasources[name] = e
	case "Service", "AlertPolicy", "AlertCondition", "AlertNotificationTarget":
		// Read by other tools; an SLO's alertPolicies are refused below.
	default:
		return fmt.Errorf("%s: kind %q: want one of OpenSLO v1's SLO, SLI, DataSource, Service, AlertPolicy, AlertCondition, AlertNotificationTarget", d.pos(value(d.node, "kind")), doc.Kind)
	}
	return nil
}

func (o *openSLOSet) slos() ([]SLO, error) {
	var out []SLO
	var errs []error
	for _, e := range o.sloDocs {
		s, err := o.slo(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: SLO %s: %w", e.d.pos(nil), e.doc.Metadata.Name, err))
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

func (o *openSLOSet) slo(e osloEntry) (SLO, error) {
	var spec osloSLOSpec
	if err := decodeStrict(e.d, &e.doc.Spec, &spec, "spec"); err != nil {
		return SLO{}, err
	}
	meta := e.doc.Metadata
	s := SLO{
		ID:          spec.Service + "-" + meta.Name,
		Name:        meta.Name,
		Service:     spec.Service,
		Description: spec.Description,
		Spec:        SpecOpenSLO,
		File:        e.d.file,
		Window:      DefaultWindow,
		MinErrors:   DefaultMinErrors,
	}
	if spec.Service == "" {
		return SLO{}, errors.New("spec.service: missing (the service the SLO is of: its sloth_service label)")
	}
	if len(spec.AlertPolicies) > 0 {
		return SLO{}, fmt.Errorf("spec.alertPolicies: not supported: Horus gives every SLO the SRE workbook's multi-window burn-rate alerts (page and ticket); name them with the annotation %s and remove alertPolicies", AnnotationAlertName)
	}
	var err error
	if s.Labels, err = osloLabels(meta.Labels); err != nil {
		return SLO{}, err
	}

	switch len(spec.TimeWindow) {
	case 0:
	case 1:
		tw := spec.TimeWindow[0]
		if tw.Calendar.Kind != 0 || tw.IsRolling != nil && !*tw.IsRolling {
			return SLO{}, errors.New("spec.timeWindow: calendar-aligned windows are not supported: Horus' SLOs are rolling (isRolling: true)")
		}
		if s.Window, err = osloDuration(tw.Duration); err != nil {
			return SLO{}, fmt.Errorf("spec.timeWindow[0].duration: %w", err)
		}
	default:
		return SLO{}, errors.New("spec.timeWindow: want exactly one window")
	}
	switch spec.BudgetingMethod {
	case "", "Occurrences":
	default:
		return SLO{}, fmt.Errorf("spec.budgetingMethod %s: not supported: Horus counts events (Occurrences)", spec.BudgetingMethod)
	}
	if len(spec.Objectives) != 1 {
		return SLO{}, fmt.Errorf("spec.objectives: want exactly one objective (Horus has no composite SLOs), got %d", len(spec.Objectives))
	}
	obj := spec.Objectives[0]
	switch {
	case obj.Indicator.Kind != 0 || obj.IndicatorRef != "" || obj.CompositeWeight != nil:
		return SLO{}, errors.New("spec.objectives[0]: composite SLOs (an indicator per objective) are not supported")
	case obj.Op != "" || obj.Value != nil:
		return SLO{}, errors.New("spec.objectives[0]: op and value are for threshold metrics, which are not supported (give a ratioMetric SLI)")
	case obj.TimeSliceTarget != nil || obj.TimeSliceWindow.Kind != 0:
		return SLO{}, errors.New("spec.objectives[0]: time slices are not supported: Horus counts events (Occurrences)")
	case obj.Target != nil && obj.TargetPercent != nil:
		return SLO{}, errors.New("spec.objectives[0]: give target or targetPercent, not both")
	case obj.Target != nil:
		s.Objective = roundPercent(*obj.Target * 100)
	case obj.TargetPercent != nil:
		s.Objective = roundPercent(*obj.TargetPercent)
	default:
		return SLO{}, errors.New("spec.objectives[0]: target (0.999) or targetPercent (99.9) is required")
	}

	var sli osloSLISpec
	switch {
	case spec.Indicator != nil && spec.IndicatorRef != "":
		return SLO{}, errors.New("spec: give indicator or indicatorRef, not both")
	case spec.Indicator != nil:
		sli = spec.Indicator.Spec
	case spec.IndicatorRef != "":
		ref, ok := o.slis[spec.IndicatorRef]
		if !ok {
			return SLO{}, fmt.Errorf("spec.indicatorRef: no SLI named %q among the loaded files", spec.IndicatorRef)
		}
		if err := decodeStrict(ref.d, &ref.doc.Spec, &sli, "spec"); err != nil {
			return SLO{}, err
		}
	default:
		return SLO{}, errors.New("spec: indicator or indicatorRef is required")
	}
	if s.SLI, err = o.sli(sli); err != nil {
		return SLO{}, err
	}

	ann := meta.Annotations
	if v, ok := ann[AnnotationMinErrors]; ok {
		if s.MinErrors, err = strconv.Atoi(v); err != nil {
			return SLO{}, fmt.Errorf("annotation %s %q: want a whole number", AnnotationMinErrors, v)
		}
	} else if s.SLI.Raw != nil {
		s.MinErrors = 0
	}
	name := ann[AnnotationAlertName]
	if name == "" {
		name = alertName(s.Service, s.Name)
	}
	off := ann[AnnotationAlerts] == "false"
	for _, a := range []*Alert{&s.Page, &s.Ticket} {
		*a = Alert{Disable: off, Name: name, Annotations: map[string]string{"runbook_url": ann[AnnotationRunbookURL]}}
	}
	if err := s.validate(); err != nil {
		if strings.Contains(err.Error(), "runbook_url") {
			err = fmt.Errorf("%w (OpenSLO: the annotation %s)", err, AnnotationRunbookURL)
		}
		return SLO{}, err
	}
	return s, nil
}

// sli makes an SLI of a ratioMetric with PromQL queries.
func (o *openSLOSet) sli(spec osloSLISpec) (SLI, error) {
	if spec.ThresholdMetric.Kind != 0 {
		return SLI{}, errors.New("thresholdMetric SLIs are not supported: give a ratioMetric (good or bad over total)")
	}
	r := spec.RatioMetric
	if r == nil {
		return SLI{}, errors.New("the SLI has no ratioMetric")
	}
	counter := r.Counter != nil && *r.Counter
	q := func(field string, m *osloMetric, wrap string) (string, error) {
		s, err := o.query(m, counter, wrap)
		if err != nil {
			return "", fmt.Errorf("ratioMetric.%s: %w", field, err)
		}
		return s, nil
	}
	switch {
	case r.Raw != nil:
		if r.Good != nil || r.Bad != nil || r.Total != nil {
			return SLI{}, errors.New("ratioMetric: raw goes without good, bad and total")
		}
		raw, err := q("raw", r.Raw, "avg_over_time")
		if err != nil {
			return SLI{}, err
		}
		switch r.RawType {
		case "failure":
			return SLI{Raw: &Raw{ErrorRatioQuery: raw}}, nil
		case "success":
			return SLI{Raw: &Raw{ErrorRatioQuery: "1 - (" + raw + ")"}}, nil
		}
		return SLI{}, fmt.Errorf("ratioMetric.rawType %q: want success or failure", r.RawType)
	case r.Total == nil:
		return SLI{}, errors.New("ratioMetric: total is required (with good or bad)")
	case r.Good != nil && r.Bad != nil:
		return SLI{}, errors.New("ratioMetric: give good or bad, not both")
	}
	total, err := q("total", r.Total, "rate")
	if err != nil {
		return SLI{}, err
	}
	switch {
	case r.Bad != nil:
		bad, err := q("bad", r.Bad, "rate")
		if err != nil {
			return SLI{}, err
		}
		return SLI{Events: &Events{ErrorQuery: bad, TotalQuery: total}}, nil
	case r.Good != nil:
		good, err := q("good", r.Good, "rate")
		if err != nil {
			return SLI{}, err
		}
		return SLI{Events: &Events{ErrorQuery: "(" + total + ") - (" + good + ")", TotalQuery: total}}, nil
	}
	return SLI{}, errors.New("ratioMetric: good or bad is required (with total)")
}

// query is a metric source's PromQL query over {{.window}}: the query as
// written when it has the variable, else a counter selector's summed rate
// (fn "rate") or, for a raw ratio, a gauge selector's average over the
// window (fn "avg_over_time"), averaged across its series.
func (o *openSLOSet) query(m *osloMetric, counter bool, fn string) (string, error) {
	src := m.MetricSource
	typ := src.Type
	if src.MetricSourceRef != "" {
		ds, ok := o.datasources[src.MetricSourceRef]
		if !ok {
			return "", fmt.Errorf("metricSourceRef: no DataSource named %q among the loaded files", src.MetricSourceRef)
		}
		var spec osloDataSource
		if err := decodeStrict(ds.d, &ds.doc.Spec, &spec, "spec"); err != nil {
			return "", err
		}
		if typ == "" {
			typ = spec.Type
		}
	}
	if typ != "" && !strings.EqualFold(typ, "prometheus") {
		return "", fmt.Errorf("metric source type %q: Horus reads PromQL queries (type Prometheus)", typ)
	}
	qv, ok := src.Spec["query"]
	q, isString := qv.(string)
	if !ok || !isString || strings.TrimSpace(q) == "" {
		return "", errors.New("metricSource.spec.query: a PromQL query is required")
	}
	if windowVarRE.MatchString(q) {
		return q, nil
	}
	expr, err := parseExpr(q)
	if err != nil {
		return "", fmt.Errorf("query %q is not PromQL: %w", q, err)
	}
	if _, ok := expr.(*parser.VectorSelector); !ok || fn == "rate" && !counter {
		return "", fmt.Errorf("query %q: write it over the template variable {{.window}} (e.g. sum(rate(x_total[{{.window}}]))), or as a bare counter selector with counter: true, which Horus takes as sum(rate(selector[window]))", q)
	}
	if fn == "rate" {
		return fmt.Sprintf("sum(rate(%s[{{.window}}]))", q), nil
	}
	return fmt.Sprintf("avg(%s(%s[{{.window}}]))", fn, q), nil // ratios average, they do not add
}

// osloLabels makes rule labels of the SLO's metadata labels; a list of
// values is refused (a series has one value per label).
func osloLabels(in map[string]any) (map[string]string, error) {
	out := map[string]string{}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := in[k].(type) {
		case string:
			out[k] = v
		case int, float64, bool:
			out[k] = fmt.Sprint(v)
		default:
			return nil, fmt.Errorf("metadata.labels.%s: want one value: a series label has one", k)
		}
	}
	return out, nil
}

var osloDurationRE = regexp.MustCompile(`^([1-9][0-9]*)([mhdwMQY])$`)

// osloDuration reads OpenSLO's duration shorthand; months, quarters and
// years (calendar lengths) are refused.
func osloDuration(s string) (time.Duration, error) {
	m := osloDurationRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q: want a number and one of m, h, d, w (30d, 4w)", s)
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
	if unit == 0 {
		return 0, fmt.Errorf("%q: months, quarters and years have no fixed length; give the window in days or weeks (30d, 4w)", s)
	}
	return time.Duration(n) * unit, nil
}

// roundPercent drops float noise: 0.9995 × 100 is 99.95, not
// 99.94999999999999.
func roundPercent(p float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(p, 'g', 12, 64), 64)
	return v
}
