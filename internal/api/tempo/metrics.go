package tempo

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/horus-obs/horus/internal/query/traceql"
)

// TraceQL metrics results in tempopb's JSON shape.
type queryRangeResponse struct {
	Series  []timeSeries   `json:"series"`
	Metrics metricsMetrics `json:"metrics"`
}

type queryInstantResponse struct {
	Series  []instantSeries `json:"series"`
	Metrics metricsMetrics  `json:"metrics"`
}

type metricsMetrics struct {
	InspectedTraces uint32 `json:"inspectedTraces,omitempty"`
	InspectedSpans  string `json:"inspectedSpans,omitempty"`
	CompletedJobs   uint32 `json:"completedJobs"`
	TotalJobs       uint32 `json:"totalJobs"`
}

type timeSeries struct {
	Labels     []keyValue `json:"labels"`
	Samples    []sample   `json:"samples"`
	PromLabels string     `json:"promLabels,omitempty"`
	Exemplars  []exemplar `json:"exemplars,omitempty"`
}

type instantSeries struct {
	Labels     []keyValue `json:"labels"`
	Value      float64    `json:"value"`
	PromLabels string     `json:"promLabels,omitempty"`
}

type sample struct {
	TimestampMs string  `json:"timestampMs"`
	Value       float64 `json:"value"`
}

type exemplar struct {
	Labels      []keyValue `json:"labels"`
	Value       float64    `json:"value"`
	TimestampMs string     `json:"timestampMs"`
}

// metricsParams reads a metrics request as Tempo does: q; start and end
// as unix seconds (up to 10 digits), nanoseconds (more), fractional
// seconds or RFC 3339, or since (a duration back from now); the last hour
// by default; step as seconds or a duration.
func (a *API) metricsParams(tenant string, r *http.Request, instant bool) (traceql.MetricsRequest, error) {
	req := traceql.MetricsRequest{Tenant: tenant}
	q := r.FormValue("q")
	if q == "" {
		q = r.FormValue("query")
	}
	if q == "" {
		return req, badf("invalid TraceQL query: q is empty; a metrics query is a spanset filter and a function: { } | rate()")
	}
	query, err := traceql.Parse(q)
	if err != nil {
		return req, badf("invalid TraceQL query: %v", err)
	}
	if query.Metrics == nil {
		return req, badf("invalid TraceQL query: not a metrics query; end it with a metrics function, as in { } | rate()")
	}
	req.Query = query
	now := time.Now()
	end, start := now.UnixNano(), int64(0)
	if v := r.FormValue("end"); v != "" {
		if end, err = metricsTime(v); err != nil {
			return req, badf("invalid end: %v", err)
		}
	}
	switch {
	case r.FormValue("start") != "":
		if start, err = metricsTime(r.FormValue("start")); err != nil {
			return req, badf("invalid start: %v", err)
		}
	case r.FormValue("since") != "":
		d, err := model.ParseDuration(r.FormValue("since"))
		if err != nil {
			return req, badf("invalid since: %v", err)
		}
		start = end - int64(d)
	default:
		start = end - int64(time.Hour)
	}
	if end <= start {
		return req, badf("http parameter start must be before end. received start=%d end=%d", start, end)
	}
	req.Start, req.End = start, end
	if instant {
		req.Instant, req.Step = true, end-start
	} else if v := r.FormValue("step"); v != "" {
		if req.Step, err = metricsStep(v); err != nil {
			return req, badf("invalid step: %v", err)
		}
	} else {
		req.Step = defaultStep(end - start) // Grafana sends one
	}
	// Tempo's bounds (modules/frontend/metrics_query_validation.go), with
	// its messages.
	lim := a.opts.Limits
	if maxRange := time.Duration(lim.MetricsMaxDuration); maxRange > 0 && end-start > int64(maxRange) {
		return req, badf("metrics query time range exceeds the maximum allowed duration of %s (query.tempo.metrics_max_duration)", maxRange)
	}
	if n := int64(lim.MaxIntervals); !instant && n > 0 && (end-start)/req.Step > n {
		return req, badf("step of %s is too small, minimum step for given range is %s (query.tempo.max_intervals is %d)",
			time.Duration(req.Step), time.Duration((end-start)/n), n)
	}
	// Exemplars: max_exemplars by default, and a larger request trimmed
	// to it, as Tempo's API documentation says.
	req.Exemplars = lim.MaxExemplars
	if v := r.FormValue("exemplars"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return req, badf("invalid exemplars: %q is not a count", v)
		}
		req.Exemplars = int(min(n, uint64(lim.MaxExemplars)))
	}
	req.MaxSeries = lim.MaxResponseSeries
	if req.MaxSeries == 0 {
		req.MaxSeries = math.MaxInt
	}
	return req, nil
}

// metricsTime reads a time as Tempo's metrics API does.
func metricsTime(v string) (int64, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if len(strings.TrimLeft(v, "-")) <= 10 {
			return n * int64(time.Second), nil
		}
		return n, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && math.Abs(f) < 1e11 {
		return int64(f * 1e9), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, badf("%q is not unix seconds, nanoseconds or RFC 3339", v)
	}
	return t.UnixNano(), nil
}

// defaultStep is the step of a range query without one, as Tempo chooses
// it (pkg/traceql/engine_metrics.go, DefaultQueryRangeStep): about 240
// points, rounded down to 50 ms under a minute's range, else to an hour,
// 5 minutes, a minute, 15, 5 or 1 second (at least 1 s).
func defaultStep(rng int64) int64 {
	baseline := time.Duration(rng / 240)
	if time.Duration(rng) < time.Minute {
		g := 50 * time.Millisecond
		return int64(max(baseline/g*g, g))
	}
	for _, g := range []time.Duration{time.Hour, 5 * time.Minute, time.Minute, 15 * time.Second, 5 * time.Second, time.Second} {
		if baseline > g {
			return int64(baseline / g * g)
		}
	}
	return int64(time.Second)
}

func metricsStep(v string) (int64, error) {
	var step int64
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		step = int64(f * 1e9)
	} else if d, err := model.ParseDuration(v); err == nil {
		step = int64(d)
	} else if d, err := time.ParseDuration(v); err == nil {
		step = int64(d)
	} else {
		return 0, badf("%q is not seconds or a duration", v)
	}
	if step < int64(time.Millisecond) {
		return 0, badf("%q must be at least 1ms", v)
	}
	return step, nil
}

func (a *API) queryRange(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	req, err := a.metricsParams(tenant, r, false)
	if err != nil {
		return err
	}
	series, st, err := traceql.Metrics(ctx, a.store, req)
	if err != nil {
		return metricsErr(err)
	}
	out := queryRangeResponse{Series: []timeSeries{}, Metrics: statsOf(st)}
	for _, s := range series {
		ts := timeSeries{Labels: labelsOf(s.Labels), Samples: []sample{}, PromLabels: promLabels(s.Labels)}
		for i, v := range s.Samples {
			if !math.IsNaN(v) {
				ts.Samples = append(ts.Samples, sample{TimestampMs: strconv.FormatInt(req.Timestamp(i)/1e6, 10), Value: v})
			}
		}
		for _, x := range s.Exemplars {
			id := traceIDString(x.TraceID) // as Tempo labels exemplars: without leading zeros
			sid := x.SpanID.String()
			ts.Exemplars = append(ts.Exemplars, exemplar{
				Labels:      []keyValue{{Key: "trace:id", Value: anyValue{StringValue: &id}}, {Key: "span:id", Value: anyValue{StringValue: &sid}}},
				Value:       finite(x.Value),
				TimestampMs: strconv.FormatInt(x.Time/1e6, 10),
			})
		}
		out.Series = append(out.Series, ts)
	}
	writeJSON(w, out)
	return nil
}

func (a *API) queryInstant(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error {
	req, err := a.metricsParams(tenant, r, true)
	if err != nil {
		return err
	}
	req.Exemplars = 0
	series, st, err := traceql.Metrics(ctx, a.store, req)
	if err != nil {
		return metricsErr(err)
	}
	out := queryInstantResponse{Series: []instantSeries{}, Metrics: statsOf(st)}
	for _, s := range series {
		if len(s.Samples) == 0 || math.IsNaN(s.Samples[0]) {
			continue
		}
		out.Series = append(out.Series, instantSeries{Labels: labelsOf(s.Labels), Value: s.Samples[0], PromLabels: promLabels(s.Labels)})
	}
	writeJSON(w, out)
	return nil
}

// metricsErr makes the engine's refusals client errors.
func metricsErr(err error) error {
	var lim *traceql.LimitError
	if errors.As(err, &lim) {
		return badf("%v", lim)
	}
	return err
}

func statsOf(st traceql.SearchStats) metricsMetrics {
	return metricsMetrics{InspectedTraces: uint32(st.InspectedTraces), InspectedSpans: strconv.FormatInt(st.InspectedSpans, 10), CompletedJobs: 1, TotalJobs: 1}
}

func labelsOf(ls []traceql.Label) []keyValue {
	out := make([]keyValue, len(ls))
	for i, l := range ls {
		out[i] = keyValue{Key: l.Key, Value: toAny(l.Value)}
	}
	return out
}

// promLabels renders labels as Tempo's promLabels: {k="v", ...}.
func promLabels(ls []traceql.Label) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.Key + "=" + strconv.Quote(l.Value.Text())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// finite is v, or 0 for NaN and infinities, which JSON cannot carry.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
