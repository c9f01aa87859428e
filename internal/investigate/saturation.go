package investigate

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// saturationWeight scales the saturation findings' scores: a resource
// that saturates at the onset is a cause or a consequence, rarely the
// first thing to say.
const saturationWeight = 0.7

// SaturationQuery is a USE metric of a service: Query has %[1]q where
// the service's job label value goes; its series are told apart by their
// labels (instance, db_name).
type SaturationQuery struct {
	Name  string // "CPU"
	Unit  string // "cores"
	Query string
	// Kind is how a rise is read: "" a resource used (CPU, memory),
	// KindWait time spent waiting (any wait is saturation), KindUtilisation
	// a share of a limit (its level counts: near 1 is saturated),
	// KindTraffic a gauge that follows the load (requests in flight,
	// goroutines: a consequence more often than a cause).
	Kind string
}

// Saturation kinds.
const (
	KindWait        = "wait"
	KindUtilisation = "utilisation"
	KindTraffic     = "traffic"
)

// trafficFactor scales the score of a KindTraffic series.
const trafficFactor = 0.4

// DefaultSaturation are the USE metrics read by default: those of
// Prometheus' Go and process collectors and database/sql pool stats, and
// the in-flight requests of OpenTelemetry's HTTP server metrics, as the
// demo shop and most Go services expose them (job = service.name, as
// both the scrape of the demo and Prometheus' OTLP translation name it).
var DefaultSaturation = []SaturationQuery{
	{"CPU", "cores", `sum by (instance) (rate(process_cpu_seconds_total{job=%[1]q}[1m]))`, ""},
	{"memory", "MiB", `sum by (instance) (process_resident_memory_bytes{job=%[1]q}) / 1048576`, ""},
	{"goroutines", "", `sum by (instance) (go_goroutines{job=%[1]q})`, KindTraffic},
	{"DB pool wait", "s/s", `sum by (instance, db_name) (rate(go_sql_wait_duration_seconds_total{job=%[1]q}[1m]))`, KindWait},
	{"DB pool in use", "of max", `sum by (instance, db_name) (go_sql_in_use_connections{job=%[1]q}) / sum by (instance, db_name) (go_sql_max_open_connections{job=%[1]q})`, KindUtilisation},
	{"requests in flight", "", `sum by (instance) (http_requests_in_progress{job=%[1]q})`, KindTraffic},
}

// SaturationDetails are a saturation finding's figures.
type SaturationDetails struct {
	Service string `json:"service"`
	Metric  string `json:"metric"`
	Unit    string `json:"unit,omitempty"`
	// Series names the series (its labels, "instance=payments-2").
	Series string `json:"series"`
	// Before and After are the series' means before the onset and from
	// it; Z is (After − Before) over the spread before.
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	Z      float64 `json:"z"`
}

// saturationFindings reads the USE metrics of the implicated services
// over the window and keeps the series whose mean after the onset is
// above 1.5× the mean before it and 3 spreads above it. Without an onset
// there is nothing to compare: none.
func (r *run) saturationFindings(ctx context.Context) []Finding {
	if r.e.o.Engine == nil || r.e.o.Metrics == nil {
		r.warn("metrics are not available here: no saturation findings")
		return nil
	}
	if !r.onsetOK {
		return nil
	}
	services, instances := r.implicated()
	if len(services) > 4 {
		services = services[:4]
	}
	step := max(time.Duration(r.entries.step), 5*time.Second)
	var out []Finding
	for _, svc := range services {
		for _, sq := range r.e.o.Saturation {
			qs := fmt.Sprintf(sq.Query, svc)
			m, err := r.rangeQuery(ctx, qs, r.req.Start, r.req.End, step)
			if err != nil {
				r.warn("saturation %s of %s: %v", sq.Name, svc, err)
				continue
			}
			for _, s := range m {
				f, ok := r.departure(svc, sq, qs, s, instances)
				if ok {
					out = append(out, f)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}

func (r *run) rangeQuery(ctx context.Context, qs string, start, end time.Time, step time.Duration) (promql.Matrix, error) {
	qry, err := r.e.o.Engine.NewRangeQuery(ctx, r.e.o.Metrics, nil, qs, start, end, step)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Matrix()
}

// departure tests one series for a rise at the onset.
func (r *run) departure(svc string, sq SaturationQuery, qs string, s promql.Series, instances []string) (Finding, bool) {
	on := r.onset.UnixMilli()
	var before, after []float64
	for _, p := range s.Floats {
		if math.IsNaN(p.F) {
			continue
		}
		if p.T < on {
			before = append(before, p.F)
		} else {
			after = append(after, p.F)
		}
	}
	if len(before) < 3 || len(after) < 2 {
		return Finding{}, false
	}
	mb, sb := meanSD(before)
	ma, _ := meanSD(after)
	spread := sb + 0.05*math.Abs(mb) + 1e-9
	z := (ma - mb) / spread
	if ma <= 1.5*mb || z < 3 || ma <= 0 {
		return Finding{}, false
	}
	score, fromZero := SaturationScore(sq.Kind, mb, ma)
	var parts []string
	s.Metric.Range(func(l labels.Label) { parts = append(parts, l.Name+"="+l.Value) })
	name := strings.Join(parts, ", ")
	inst := s.Metric.Get("instance")
	for _, in := range instances {
		if in == inst && sq.Kind != KindTraffic {
			score = math.Min(score*1.15, saturationWeight)
		}
	}
	det := &SaturationDetails{Service: svc, Metric: sq.Name, Unit: sq.Unit, Series: name, Before: mb, After: ma, Z: z}
	who := svc
	if inst != "" {
		who = inst
	}
	if db := s.Metric.Get("db_name"); db != "" {
		who += " " + db
	}
	st := fmt.Sprintf("%s %s: %s → %s%s at the onset (%s×)", who, sq.Name, sig3(mb), sig3(ma), unitSuffix(sq.Unit), sig3(ma/mb))
	if fromZero {
		st = fmt.Sprintf("%s %s: 0 → %s%s at the onset", who, sq.Name, sig3(ma), unitSuffix(sq.Unit))
	}
	f := Finding{Kind: KindSaturation, Score: clamp01(score), Statement: st, Details: det}
	f.Evidence = append(f.Evidence, explore(sq.Name+" of "+svc, "promql", qs, r.req.Start, r.req.End), serviceEvidence(svc, r.req.Start, r.req.End))
	return f, true
}

// SaturationScore scores a series that rose from a mean of before to
// after at the onset, 0 to saturationWeight: the rise is
// 1 − e^(−(ratio − 1)/2) (the ratio capped at 50); from a zero baseline
// (before under 1% of after, where a ratio means nothing: fromZero) it is
// 1 for a wait (any wait is saturation) and 0.5 otherwise; for a
// utilisation it is at least the level reached (1 of max is saturated).
// A traffic gauge's score is scaled by 0.4: it rises with the load and
// with slow callees.
func SaturationScore(kind string, before, after float64) (score float64, fromZero bool) {
	var rise float64
	switch {
	case after <= 0:
		return 0, false
	case before < 0.01*after:
		fromZero = true
		rise = 0.5
		if kind == KindWait {
			rise = 1
		}
	default:
		rise = 1 - math.Exp(-(math.Min(after/before, 50)-1)/2)
	}
	if kind == KindUtilisation {
		rise = math.Max(rise, math.Min(after, 1))
	}
	if kind == KindTraffic {
		rise *= trafficFactor
	}
	return saturationWeight * clamp01(rise), fromZero
}

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)))
}
