package slo

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// The Sloth prometheus/v1 format, as Sloth's pkg/prometheus/api/v1
// documents it (https://sloth.dev/specs/prometheus/), with two Horus
// additions that Sloth ignores: alerting.min_errors and an alert's for.
type slothSpec struct {
	Version    string            `yaml:"version"`
	Service    string            `yaml:"service"`
	Labels     map[string]string `yaml:"labels"`
	SLOPlugins yaml.Node         `yaml:"slo_plugins"`
	SLOs       []yaml.Node       `yaml:"slos"`
}

type slothSLO struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Objective   float64           `yaml:"objective"`
	Labels      map[string]string `yaml:"labels"`
	InfoLabels  map[string]string `yaml:"infoLabels"`
	Plugins     yaml.Node         `yaml:"plugins"`
	SLI         slothSLI          `yaml:"sli"`
	Alerting    slothAlerting     `yaml:"alerting"`
	Interval    slothInterval     `yaml:"interval"`
}

type slothSLI struct {
	Raw    *slothRaw    `yaml:"raw"`
	Events *slothEvents `yaml:"events"`
	Plugin yaml.Node    `yaml:"plugin"`
}

type slothRaw struct {
	ErrorRatioQuery string `yaml:"error_ratio_query"`
}

type slothEvents struct {
	ErrorQuery string `yaml:"error_query"`
	TotalQuery string `yaml:"total_query"`
}

type slothAlerting struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
	PageAlert   slothAlert        `yaml:"page_alert"`
	TicketAlert slothAlert        `yaml:"ticket_alert"`
	// MinErrors (Horus): the low-traffic guard; absent: DefaultMinErrors.
	MinErrors *int `yaml:"min_errors"`
}

type slothAlert struct {
	Disable     bool              `yaml:"disable"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
	// For (Horus) is the alerting rule's for.
	For model.Duration `yaml:"for"`
}

type slothInterval struct {
	All      model.Duration `yaml:"all"`
	SLIError model.Duration `yaml:"slierror"`
	Metadata model.Duration `yaml:"metadata"`
	Alert    model.Duration `yaml:"alert"`
}

func (i slothInterval) intervals() Intervals {
	or := func(d model.Duration) time.Duration {
		if d != 0 {
			return time.Duration(d)
		}
		return time.Duration(i.All)
	}
	return Intervals{SLIError: or(i.SLIError), Metadata: or(i.Metadata), Alert: or(i.Alert)}
}

// parseSloth reads a prometheus/v1 spec from n (the document, or a
// PrometheusServiceLevel's spec).
func parseSloth(d document, n *yaml.Node) ([]SLO, error) {
	var spec slothSpec
	if err := decodeStrict(d, n, &spec, ""); err != nil {
		return nil, err
	}
	if spec.SLOPlugins.Kind != 0 {
		return nil, fmt.Errorf("%s: slo_plugins: Horus does not run Sloth's SLO plugins; remove the block, or generate the rules with Sloth and load them as rule_files", d.pos(&spec.SLOPlugins))
	}
	if len(spec.SLOs) == 0 {
		return nil, fmt.Errorf("%s: slos: at least one SLO is required", d.pos(n))
	}
	return eachSLO(d, spec.SLOs, func(n *yaml.Node, ss *slothSLO) (SLO, error) {
		return ss.slo(d, n, spec.Service, spec.Labels, SpecSloth, DefaultWindow)
	})
}

// eachSLO decodes each entry of a slos list into a T and makes its SLO
// with mk, gathering every entry's errors.
func eachSLO[T any](d document, nodes []yaml.Node, mk func(*yaml.Node, *T) (SLO, error)) ([]SLO, error) {
	var out []SLO
	var errs []error
	for i := range nodes {
		var v T
		if err := decodeStrict(d, &nodes[i], &v, fmt.Sprintf("slos[%d]", i)); err != nil {
			errs = append(errs, err)
			continue
		}
		s, err := mk(&nodes[i], &v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// slo makes the SLO of a Sloth-shaped entry (the Horus form shares the
// alerting block).
func (ss *slothSLO) slo(d document, n *yaml.Node, service string, labels map[string]string, spec string, window time.Duration) (SLO, error) {
	s := SLO{
		ID:          service + "-" + ss.Name,
		Name:        ss.Name,
		Service:     service,
		Description: ss.Description,
		Spec:        spec,
		File:        d.file,
		Objective:   ss.Objective,
		Window:      window,
		Labels:      merge(labels, ss.Labels),
		InfoLabels:  ss.InfoLabels,
		Intervals:   ss.Interval.intervals(),
	}
	fail := func(err error) (SLO, error) { return SLO{}, fmt.Errorf("%s: SLO %s: %w", d.pos(n), s.ID, err) }
	if ss.Plugins.Kind != 0 {
		return fail(errors.New("plugins: Horus does not run Sloth's SLO plugins; remove the block, or generate the rules with Sloth and load them as rule_files"))
	}
	switch sli := ss.SLI; {
	case sli.Plugin.Kind != 0:
		return fail(errors.New("sli.plugin: Horus does not run Sloth's SLI plugins; write the plugin's queries as sli.events (error_query, total_query) or sli.raw (error_ratio_query)"))
	case sli.Events != nil && sli.Raw != nil:
		return fail(errors.New("sli: give events or raw, not both"))
	case sli.Events != nil:
		s.SLI.Events = &Events{ErrorQuery: sli.Events.ErrorQuery, TotalQuery: sli.Events.TotalQuery}
	case sli.Raw != nil:
		s.SLI.Raw = &Raw{ErrorRatioQuery: sli.Raw.ErrorRatioQuery}
	}
	ss.Alerting.apply(&s)
	if err := s.validate(); err != nil {
		return fail(err)
	}
	return s, nil
}

// apply sets the SLO's alerts and guard from the alerting block: the
// block's labels and annotations, then each alert's own over them.
func (a slothAlerting) apply(s *SLO) {
	s.MinErrors = DefaultMinErrors
	if a.MinErrors != nil {
		s.MinErrors = *a.MinErrors
	} else if s.SLI.Raw != nil {
		s.MinErrors = 0 // no counts to guard with
	}
	for _, x := range []struct {
		spec slothAlert
		to   *Alert
	}{{a.PageAlert, &s.Page}, {a.TicketAlert, &s.Ticket}} {
		*x.to = Alert{
			Disable:     x.spec.Disable,
			Name:        a.Name,
			Labels:      merge(a.Labels, x.spec.Labels),
			Annotations: merge(a.Annotations, x.spec.Annotations),
			For:         time.Duration(x.spec.For),
		}
	}
}

// merge returns a copy of the maps, later ones winning.
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// parseSlothCRD reads Sloth's Kubernetes PrometheusServiceLevel, whose
// spec is a prometheus/v1 spec without the version.
func parseSlothCRD(d document) ([]SLO, error) {
	var crd struct {
		APIVersion string    `yaml:"apiVersion"`
		Kind       string    `yaml:"kind"`
		Metadata   yaml.Node `yaml:"metadata"`
		Spec       yaml.Node `yaml:"spec"`
	}
	if err := decodeStrict(d, d.node, &crd, ""); err != nil {
		return nil, err
	}
	if crd.Kind != "PrometheusServiceLevel" {
		return nil, fmt.Errorf("%s: kind %q: of sloth.slok.dev/v1, Horus reads PrometheusServiceLevel", d.pos(value(d.node, "kind")), crd.Kind)
	}
	if crd.Spec.Kind == 0 {
		return nil, fmt.Errorf("%s: spec: missing", d.pos(nil))
	}
	return parseSloth(d, &crd.Spec)
}
