package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// benchRoutes are the label values the benchmarks cycle through: 20 routes
// of a service, as the middleware's lookups see them.
var benchRoutes = func() []string {
	rs := make([]string, 20)
	for i := range rs {
		rs[i] = fmt.Sprintf("GET /api/v1/resource%d/{id}", i)
	}
	return rs
}()

// observer is what the benchmarks time: one lookup by label values, then
// one Inc or Observe.
type observer func(route string)

func benchObservers(b *testing.B) map[string]observer {
	b.Helper()
	copts := prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}
	hopts := prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Duration."}

	bareC := prometheus.NewCounterVec(copts, []string{"method", "route", "status"})
	bareH := prometheus.NewHistogramVec(hopts, []string{"method", "route"})
	prometheus.NewRegistry().MustRegister(bareC, bareH)

	f := NewFactory(prometheus.NewRegistry(), Options{})
	facC := f.MustNewCounterVec(copts, "method", "route", "status")
	facH := f.MustNewHistogramVec(hopts, "method", "route")

	return map[string]observer{
		"counter/client_golang":   func(r string) { bareC.WithLabelValues("GET", r, "200").Inc() },
		"counter/factory":         func(r string) { facC.WithLabelValues("GET", r, "200").Inc() },
		"histogram/client_golang": func(r string) { bareH.WithLabelValues("GET", r).Observe(0.042) },
		"histogram/factory":       func(r string) { facH.WithLabelValues("GET", r).Observe(0.042) },
	}
}

// BenchmarkObserve times WithLabelValues + Inc (counter) or + Observe
// (histogram) of an existing series, on a client_golang vector and on the
// factory's capped one, from one goroutine and from GOMAXPROCS.
//
//	go test -run '^$' -bench Observe -benchmem ./metrics/
func BenchmarkObserve(b *testing.B) {
	obs := benchObservers(b)
	for _, name := range []string{"counter/client_golang", "counter/factory", "histogram/client_golang", "histogram/factory"} {
		o := obs[name]
		for _, r := range benchRoutes {
			o(r) // create the series: the benchmark times lookups of existing ones
		}
		b.Run(name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				o(benchRoutes[i%len(benchRoutes)])
				i++
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					o(benchRoutes[i%len(benchRoutes)])
					i++
				}
			})
		})
	}
}

// BenchmarkDropped times a lookup refused by the cap (a new label value each
// time past the limit): what an unbounded label costs once capped.
func BenchmarkDropped(b *testing.B) {
	f := NewFactory(prometheus.NewRegistry(), Options{SeriesLimit: 1})
	v := f.MustNewCounterVec(prometheus.CounterOpts{Name: "logins_total", Help: "h"}, "account")
	v.WithLabelValues("first").Inc()
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = fmt.Sprint("acct-", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		v.WithLabelValues(ids[i%len(ids)]).Inc()
		i++
	}
}

// BenchmarkPaired times the client_golang and factory forms of the same
// observation in alternating slices of 2,000 operations, so that the
// machine's drift (a shared machine's load comes and goes) falls on both
// alike, and reports each one's ns/op and their ratio (factory ÷
// client_golang). One b.N is one operation of each.
//
//	go test -run '^$' -bench Paired -benchtime 2000000x ./metrics/
func BenchmarkPaired(b *testing.B) {
	obs := benchObservers(b)
	for _, kind := range []string{"counter", "histogram"} {
		bare, fac := obs[kind+"/client_golang"], obs[kind+"/factory"]
		for _, r := range benchRoutes {
			bare(r)
			fac(r)
		}
		b.Run(kind, func(b *testing.B) {
			const slice = 2000
			var tBare, tFac time.Duration
			i := 0
			for done := 0; done < b.N; done += slice {
				n := min(slice, b.N-done)
				start := time.Now()
				for j := range n {
					bare(benchRoutes[(i+j)%len(benchRoutes)])
				}
				mid := time.Now()
				for j := range n {
					fac(benchRoutes[(i+j)%len(benchRoutes)])
				}
				tBare, tFac = tBare+mid.Sub(start), tFac+time.Since(mid)
				i += n
			}
			b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "client_golang-ns/op")
			b.ReportMetric(float64(tFac.Nanoseconds())/float64(b.N), "factory-ns/op")
			b.ReportMetric(float64(tFac)/float64(tBare), "factory/client_golang")
		})
	}
}
