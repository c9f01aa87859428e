package ruler

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"

	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/query/traceql"
)

// LogQLQueryFunc evaluates a LogQL metric query at one instant for the
// rule manager, as Loki's ruler does: the query's own ranges ([5m]) say
// how far back it looks.
func LogQLQueryFunc(engine *logql.Engine, tenant string) rules.QueryFunc {
	return func(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
		expr, err := logql.ParseSample(q)
		if err != nil {
			return nil, err
		}
		res, err := engine.Exec(ctx, expr, logql.Params{Tenant: tenant, Start: t, End: t, Instant: true})
		if err != nil {
			return nil, err
		}
		ms := t.UnixMilli()
		switch res.Type {
		case "scalar":
			return promql.Vector{{T: ms, F: res.Scalar.V, Metric: labels.EmptyLabels()}}, nil
		case "matrix":
			// An instant query answers a vector; take each series' last
			// point should an engine answer a matrix.
			out := make(promql.Vector, 0, len(res.Matrix))
			for _, s := range res.Matrix {
				if n := len(s.Points); n > 0 {
					out = append(out, promql.Sample{T: ms, F: s.Points[n-1].V, Metric: s.Labels})
				}
			}
			return out, nil
		}
		out := make(promql.Vector, 0, len(res.Vector))
		for _, s := range res.Vector {
			out = append(out, promql.Sample{T: ms, F: s.V, Metric: s.Labels})
		}
		return out, nil
	}
}

// TraceQLQueryFunc evaluates a TraceQL metrics query for the rule
// manager over the spans that started in [t - window, t] (an instant
// query counts both ends, as Tempo's): TraceQL says no range in the
// query, so the window is rules.traceql_range. Series labels are made
// Prometheus label names (see PromLabelName).
func TraceQLQueryFunc(store traceql.SpanStore, tenant string, window time.Duration, maxSeries int) rules.QueryFunc {
	return func(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
		tq, err := traceql.Parse(q)
		if err != nil {
			return nil, err
		}
		end := t.UnixNano()
		series, _, err := traceql.Metrics(ctx, store, traceql.MetricsRequest{
			Tenant: tenant, Query: tq, Start: end - int64(window), End: end, Step: int64(window),
			Instant: true, MaxSeries: maxSeries,
		})
		if err != nil {
			return nil, err
		}
		ms := t.UnixMilli()
		out := make(promql.Vector, 0, len(series))
		b := labels.NewBuilder(labels.EmptyLabels())
		for _, s := range series {
			if len(s.Samples) == 0 || math.IsNaN(s.Samples[0]) {
				continue
			}
			b.Reset(labels.EmptyLabels())
			for _, l := range s.Labels {
				b.Set(PromLabelName(l.Key), l.Value.Text())
			}
			out = append(out, promql.Sample{T: ms, F: s.Samples[0], Metric: b.Labels()})
		}
		return out, nil
	}
}

// PromLabelName makes a TraceQL series label (resource.service.name,
// span.http.route, .foo, status, __name__) a Prometheus label name as
// OpenTelemetry's Prometheus exporters name attributes: the scope is
// dropped and characters other than letters, digits and _ become _
// (service_name, http_route, foo, status). Alertmanager and most
// dashboards take no other names.
func PromLabelName(key string) string {
	if key == model.MetricNameLabel {
		return key
	}
	for _, scope := range []string{"resource.", "span.", "event.", "link.", "instrumentation.", "trace:", "span:", "event:", "link:", "instrumentation:", "."} {
		if strings.HasPrefix(key, scope) {
			key = key[len(scope):]
			break
		}
	}
	var b strings.Builder
	for i, r := range key {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
