package main

import (
	"fmt"
	"math"
)

// The series set imitates a fleet of instrumented services: each target
// (one instance of one service) exposes seriesPerTarget series: RED
// metrics per route, a latency histogram per route, CPU time per core and
// mode, and a tail of application gauges.
const (
	routes          = 5
	codes           = 3
	buckets         = 12 // 11 bounds + +Inf
	cpus            = 8
	cpuModes        = 8
	seriesPerTarget = routes*codes + routes*(buckets+2) + cpus*cpuModes + appGauges
	appGauges       = 351
)

var (
	routeNames = [routes]string{"/api/cart", "/api/checkout", "/api/search", "/api/product/:id", "/healthz"}
	codeNames  = [codes]string{"200", "404", "500"}
	bounds     = [buckets - 1]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	modeNames  = [cpuModes]string{"user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"}
)

// target is one scraped instance.
type target struct {
	id       int
	service  string
	instance string
}

func targets(series int) []target {
	n := (series + seriesPerTarget - 1) / seriesPerTarget
	ts := make([]target, n)
	for i := range ts {
		ts[i] = target{id: i, service: fmt.Sprintf("svc-%02d", i%20), instance: fmt.Sprintf("10.0.%d.%d:8080", i/250, i%250)}
	}
	return ts
}

// mix is splitmix64: a cheap, well-mixed hash for deterministic noise.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func noise(a, b uint64) float64 { return float64(mix(a*1_000_003+b)%1000) / 1000 }

// counter is a monotonic counter's value at round r: the sum of noisy
// per-round increments, closed form so any round can be computed alone.
func counter(key uint64, r int, rate float64) float64 {
	// Rate varies by series; noise within ±50% of it is added per round as
	// a bounded term that keeps the value monotonic.
	return math.Floor(rate*float64(r) + rate*0.5*noise(key, uint64(r)))
}

// gauge is a gauge's value at round r: a slow wave plus noise.
func gauge(key uint64, r int) float64 {
	base := float64(mix(key)%10000) / 10
	return math.Round((base+base*0.2*math.Sin(float64(r)/40+float64(key%7))+noise(key, uint64(r))*5)*100) / 100
}

// point is one sample of one series, named by its parts, for the
// encoders to turn into their wire form.
type point struct {
	name   string
	labels []string // name, value pairs after job and instance
	value  float64
}

// targetPoints calls emit for every series of t at round r.
func targetPoints(t target, r int, emit func(point)) {
	key := uint64(t.id) << 20
	for ri, route := range routeNames {
		total := 0.0
		for ci, code := range codeNames {
			rate := 50.0 / float64(ci*ci*10+1) * float64(ri+1)
			v := counter(key+uint64(ri*16+ci), r, rate)
			total += v
			emit(point{"http_requests_total", []string{"method", "GET", "route", route, "code", code}, v})
		}
		// Histogram: cumulative bucket counts consistent with total.
		hk := key + 1000 + uint64(ri)
		for bi := 0; bi < buckets; bi++ {
			frac := 1.0
			if bi < buckets-1 {
				frac = 1 - math.Exp(-float64(bi+1)*0.45*(1+noise(hk, uint64(r/40))*0.1))
			}
			le := "+Inf"
			if bi < buckets-1 {
				le = fmt.Sprint(bounds[bi])
			}
			emit(point{"http_request_duration_seconds_bucket", []string{"method", "GET", "route", route, "le", le}, math.Floor(total * frac)})
		}
		emit(point{"http_request_duration_seconds_sum", []string{"method", "GET", "route", route}, math.Round(total*0.137*100) / 100})
		emit(point{"http_request_duration_seconds_count", []string{"method", "GET", "route", route}, total})
	}
	for c := 0; c < cpus; c++ {
		for mi, mode := range modeNames {
			emit(point{"node_cpu_seconds_total", []string{"cpu", cpuName(c), "mode", mode}, counter(key+2000+uint64(c*8+mi), r, 15*float64(8-mi)) / 100})
		}
	}
	for g := 0; g < appGauges; g++ {
		emit(point{"app_gauge", []string{"name", gaugeName(g)}, gauge(key+5000+uint64(g), r)})
	}
}

var cpuNameCache, gaugeNameCache []string

func init() {
	for c := 0; c < cpus; c++ {
		cpuNameCache = append(cpuNameCache, fmt.Sprint(c))
	}
	for g := 0; g < appGauges; g++ {
		gaugeNameCache = append(gaugeNameCache, fmt.Sprintf("g%03d", g))
	}
}

func cpuName(c int) string   { return cpuNameCache[c] }
func gaugeName(g int) string { return gaugeNameCache[g] }
