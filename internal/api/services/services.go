// Package services serves GET /api/v1/services: every service seen in
// traces or metrics over a time range, with its request rate, error ratio
// and latency percentiles from the span metrics, read with PromQL on the
// server so that the UI's home page is one request.
package services

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/api/promeval"
	"github.com/horus-obs/horus/internal/tenant"
)

// Service is one service's numbers over the range. The numbers are of its
// server (and consumer) spans; null where it has none.
type Service struct {
	Name string `json:"name"`
	// Signals says where the service was seen: "traces" (span metrics'
	// service label), "metrics" (a scrape job or pushed target_info).
	Signals []string `json:"signals"`
	// Rate is requests per second averaged over the range.
	Rate *float64 `json:"rate"`
	// ErrorRatio is the share of the requests with status error, 0 to 1.
	ErrorRatio *float64 `json:"errorRatio"`
	// P50, P90 and P99 are latency percentiles in seconds, estimated from
	// the span metrics' histogram buckets.
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
	P99 *float64 `json:"p99"`
}

// Data is the answer's data.
type Data struct {
	Services []Service `json:"services"`
}

// serverKinds selects the spans that are a service's requests.
const serverKinds = `span_kind=~"SPAN_KIND_SERVER|SPAN_KIND_CONSUMER"`

// Handler answers GET /api/v1/services?start=&end= (Prometheus' time
// formats; the last hour by default) for the tenant of X-Scope-OrgID,
// reading q (metrics.Tenancy) as List does.
func Handler(engine promql.QueryEngine, q storage.Queryable, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org, err := tenant.FromHeader(r.Header.Get(tenant.Header))
		if err != nil {
			promeval.WriteError(w, http.StatusBadRequest, "bad_data", tenant.Header+" header: "+err.Error())
			return
		}
		start, end, err := promeval.Range(r, time.Now(), time.Hour)
		if err != nil {
			promeval.WriteError(w, http.StatusBadRequest, "bad_data", err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		list, err := List(ctx, engine, q, org, start, end)
		if err != nil {
			promeval.WriteError(w, http.StatusInternalServerError, "execution", err.Error())
			return
		}
		promeval.Write(w, http.StatusOK, promeval.Response{Status: "success", Data: Data{Services: list}})
	})
}

// List returns the services of tenant org seen between start and end,
// sorted by name.
func List(ctx context.Context, engine promql.QueryEngine, q storage.Queryable, org string, start, end time.Time) ([]Service, error) {
	ctx = tenant.WithContext(ctx, org)
	rng := fmt.Sprintf("[%dms]", end.Sub(start).Milliseconds())
	queries := []string{
		// seen in traces: any span kind
		fmt.Sprintf(`group by (service) (last_over_time(traces_spanmetrics_calls_total%s))`, rng),
		// seen in metrics: a scrape job, or a pushed resource (target_info)
		fmt.Sprintf(`group by (job) (last_over_time({__name__=~"up|target_info"}%s))`, rng),
		fmt.Sprintf(`sum by (service) (rate(traces_spanmetrics_calls_total{%s}%s))`, serverKinds, rng),
		fmt.Sprintf(`sum by (service) (rate(traces_spanmetrics_calls_total{%s, status_code="STATUS_CODE_ERROR"}%s))`, serverKinds, rng),
	}
	for _, p := range []string{"0.5", "0.9", "0.99"} {
		queries = append(queries, fmt.Sprintf(`histogram_quantile(%s, sum by (service, le) (rate(traces_spanmetrics_latency_bucket{%s}%s)))`, p, serverKinds, rng))
	}
	results := make([]promql.Vector, len(queries))
	errs := make([]error, len(queries))
	var wg sync.WaitGroup
	for i, qs := range queries {
		wg.Go(func() { results[i], errs[i] = promeval.Instant(ctx, engine, q, qs, end) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	byName := map[string]*Service{}
	get := func(name string) *Service {
		s := byName[name]
		if s == nil {
			s = &Service{Name: name, Signals: []string{}}
			byName[name] = s
		}
		return s
	}
	seen := func(v promql.Vector, label, signal string) {
		for _, smp := range v {
			if name := smp.Metric.Get(label); name != "" {
				s := get(name)
				if !slices.Contains(s.Signals, signal) {
					s.Signals = append(s.Signals, signal)
				}
			}
		}
	}
	seen(results[0], "service", "traces")
	seen(results[1], "job", "metrics")
	value := func(v promql.Vector, set func(*Service, float64)) {
		for _, smp := range v {
			if name := smp.Metric.Get("service"); name != "" && !math.IsNaN(smp.F) && !math.IsInf(smp.F, 0) {
				set(get(name), smp.F)
			}
		}
	}
	value(results[2], func(s *Service, f float64) { s.Rate = &f })
	failed := map[string]float64{}
	value(results[3], func(s *Service, f float64) { failed[s.Name] = f })
	value(results[4], func(s *Service, f float64) { s.P50 = &f })
	value(results[5], func(s *Service, f float64) { s.P90 = &f })
	value(results[6], func(s *Service, f float64) { s.P99 = &f })
	out := make([]Service, 0, len(byName))
	for _, s := range byName {
		if s.Rate != nil {
			ratio := 0.0
			if *s.Rate > 0 {
				ratio = failed[s.Name] / *s.Rate
			}
			s.ErrorRatio = &ratio
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Service) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}
