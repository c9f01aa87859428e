package querycli

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promparser "github.com/prometheus/prometheus/promql/parser"

	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/query/traceql"
)

// The labels and attribute that name a service in each ecosystem, as
// Horus stores them (docs/query-cli.md#one-service-many-names).
const (
	// JobLabel is the service of a metric: Prometheus' job, which the OTLP
	// translation makes from service.name (service.namespace/service.name
	// when the namespace is set), and a scrape config's job_name.
	// --service matches it with JobPattern.
	JobLabel = "job"
	// SpanMetricsLabel is the service of the span metrics
	// (traces_spanmetrics_*), from the span's service.name.
	SpanMetricsLabel = "service"
	// ServiceGraphLabel is the service that served a service-graph edge
	// (traces_service_graph_*, whose caller is the client label).
	ServiceGraphLabel = "server"
	// LogsLabel is the stream label of a log line's service.
	LogsLabel = "service_name"
	// TraceAttribute is the TraceQL field of a span's service.
	TraceAttribute = "resource.service.name"
)

// JobPattern is the regular expression --service matches job with: the
// service's name alone or after a namespace (service.namespace/name),
// so that a service is the same in metrics as in spans and logs, whose
// labels have service.name without the namespace.
const JobPattern = "(.+/)?%s"

// PromServiceLabel is the label --service matches on the series of
// metric name: service for span metrics, server for the service graph,
// job for every other metric.
func PromServiceLabel(metric string) string {
	switch {
	case strings.HasPrefix(metric, "traces_spanmetrics_"):
		return SpanMetricsLabel
	case strings.HasPrefix(metric, "traces_service_graph_"):
		return ServiceGraphLabel
	}
	return JobLabel
}

// promServiceMatcher is the matcher --service adds to a selector of
// metric.
func promServiceMatcher(metric, service string) *labels.Matcher {
	name := PromServiceLabel(metric)
	if name == JobLabel {
		return labels.MustNewMatcher(labels.MatchRegexp, name, fmt.Sprintf(JobPattern, regexp.QuoteMeta(service)))
	}
	return labels.MustNewMatcher(labels.MatchEqual, name, service)
}

// WithService returns q, a query in lang, restricted to service: every
// PromQL series selector gains a matcher on the service label of its
// metric (PromServiceLabel; job=~"(.+/)?service"), every LogQL stream selector
// service_name="service", and every TraceQL spanset filter the condition
// resource.service.name = "service". The query comes back as its parser
// prints it.
func WithService(lang Lang, q, service string) (string, error) {
	switch lang {
	case PromQL:
		e, err := promParser.ParseExpr(q)
		if err != nil {
			return "", err
		}
		promparser.Inspect(e, func(n promparser.Node, _ []promparser.Node) error {
			if vs, ok := n.(*promparser.VectorSelector); ok {
				vs.LabelMatchers = append(vs.LabelMatchers, promServiceMatcher(selectorName(vs), service))
			}
			return nil
		})
		return e.String(), nil
	case LogQL:
		e, err := logql.Parse(q)
		if err != nil {
			return "", err
		}
		if err := walkLogQL(e, func(le *logql.LogExpr) {
			le.Matchers = append(le.Matchers, labels.MustNewMatcher(labels.MatchEqual, LogsLabel, service))
		}); err != nil {
			return "", err
		}
		return e.String(), nil
	case TraceQL:
		tq, err := traceql.Parse(q)
		if err != nil {
			return "", err
		}
		cond := rawExpr(TraceAttribute + " = " + strconv.Quote(service))
		if err := restrictSpansets(tq.Root, cond); err != nil {
			return "", err
		}
		return tq.String(), nil
	}
	return "", fmt.Errorf("unknown language %q", lang)
}

// selectorName is the metric name a selector selects, "" if none.
func selectorName(vs *promparser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// rawExpr is a TraceQL field expression given as text.
type rawExpr string

func (r rawExpr) String() string { return string(r) }

// restrictSpansets adds cond to every spanset filter of e.
func restrictSpansets(e traceql.SetExpr, cond traceql.Expr) error {
	switch x := e.(type) {
	case *traceql.Filter:
		if x.Cond == nil {
			x.Cond = cond
		} else {
			x.Cond = &traceql.Binary{Op: traceql.OpAnd, L: x.Cond, R: cond}
		}
	case *traceql.SetOp:
		if err := restrictSpansets(x.L, cond); err != nil {
			return err
		}
		return restrictSpansets(x.R, cond)
	case *traceql.Pipeline:
		return restrictSpansets(x.Source, cond)
	default:
		return fmt.Errorf("TraceQL expression %T not known to horus query", e)
	}
	return nil
}
