package investigate

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"
)

// OnsetDetails are the onset-and-scope finding's figures.
type OnsetDetails struct {
	// Onset is when the symptom started; null when no change point was
	// found (the symptom is steady over the window, or there is none).
	Onset *time.Time `json:"onset"`
	// Before and After are the symptom's level before and after the
	// onset: the share of bad entry spans (0 to 1), or the PromQL
	// expression's mean; over the window when there is no onset.
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	// Statistic is the change-point test's (twice the log-likelihood
	// ratio); Method names the test: "binomial" or "mean-shift".
	Statistic float64 `json:"statistic"`
	Method    string  `json:"method"`
	// ThresholdSeconds is the latency above which a span is bad
	// (latency symptoms); ThresholdAuto, that it is the window's p90.
	ThresholdSeconds float64 `json:"thresholdSeconds,omitempty"`
	ThresholdAuto    bool    `json:"thresholdAuto,omitempty"`
	// Baselines are the share of bad entry spans over the same interval
	// a day and a week before (Share null without spans then).
	Baselines []BaselineShare `json:"baselines"`
	// Routes are the entry span names (routes, operations) whose share
	// of bad spans rose most, at most 5.
	Routes []RouteScope `json:"routes"`
}

// BaselineShare is the symptom a day or a week before.
type BaselineShare struct {
	Offset string   `json:"offset"`
	Bad    int      `json:"bad"`
	Total  int      `json:"total"`
	Share  *float64 `json:"share"`
}

// RouteScope is one entry span name's bad share before and after the
// onset.
type RouteScope struct {
	Name        string  `json:"name"`
	BeforeShare float64 `json:"beforeShare"`
	AfterShare  float64 `json:"afterShare"`
	Bad         int     `json:"bad"`
	Total       int     `json:"total"`
}

// onsetFinding states when, how bad against the baselines, and where.
func (r *run) onsetFinding(bl [2]baseline) Finding {
	s := r.entries
	det := &OnsetDetails{Method: "binomial", Baselines: []BaselineShare{}, Routes: r.routes()}
	if s.threshold > 0 {
		det.ThresholdSeconds, det.ThresholdAuto = time.Duration(s.threshold).Seconds(), s.thresholdAuto
	}
	if r.req.Signal == SignalPromQL && r.res.Series.Values != nil {
		det.Method = "mean-shift"
	}
	if r.onsetOK {
		on := r.onset.UTC()
		// Two flat levels make the mean-shift statistic infinite, which
		// JSON has no number for: the largest float says it.
		det.Onset, det.Before, det.After, det.Statistic = &on, r.cp.Before, r.cp.After, min(r.cp.Stat, math.MaxFloat64)
	} else {
		det.After = Proportion(r.res.Sampling.BadSpans, r.res.Sampling.EntrySpans)
		det.Before = det.After
	}
	for _, b := range bl {
		bs := BaselineShare{Offset: b.Offset, Bad: b.Bad, Total: b.Total}
		if b.Total > 0 {
			v := Proportion(b.Bad, b.Total)
			bs.Share = &v
		}
		det.Baselines = append(det.Baselines, bs)
	}
	st := r.symptomSentence(det)
	var bparts []string
	for _, b := range det.Baselines {
		what := "no data"
		if b.Share != nil {
			what = fmtPercent(*b.Share)
		}
		bparts = append(bparts, fmt.Sprintf("%s before: %s", map[string]string{"1d": "a day", "1w": "a week"}[b.Offset], what))
	}
	if det.Method == "binomial" || r.res.Sampling.EntrySpans > 0 {
		st += " (" + strings.Join(bparts, ", ") + ")"
	}
	if len(det.Routes) > 0 && (r.req.Route == "" || len(det.Routes) > 1) {
		var rs []string
		for i, rt := range det.Routes {
			if i == 2 {
				break
			}
			rs = append(rs, fmt.Sprintf("%s %s → %s", rt.Name, fmtPercent(rt.BeforeShare), fmtPercent(rt.AfterShare)))
		}
		st += "; most affected: " + strings.Join(rs, ", ")
	}
	f := Finding{Kind: KindOnset, Statement: st, Details: det}
	if r.onsetOK {
		f.Score = 1
	}
	f.Evidence = append(f.Evidence, explore("the symptom", "promql", r.symptomPromQL(), r.req.Start, r.req.End),
		explore("the bad requests", "traceql", r.symptomTraceQL(), r.req.Start, r.req.End),
		serviceEvidence(r.req.Service, r.req.Start, r.req.End))
	return f
}

// symptomSentence says what rose when: "errors on api-gateway POST
// /api/orders rose from 0.1% to 12% at 03:42:10Z".
func (r *run) symptomSentence(det *OnsetDetails) string {
	what := "errors"
	if r.entries.threshold > 0 {
		what = "requests slower than " + fmtDuration(time.Duration(r.entries.threshold))
		if r.entries.thresholdAuto {
			what += " (the window's p90)"
		}
	}
	where := r.req.Service
	if r.req.Route != "" {
		where += " " + r.req.Route
	}
	if det.Method == "mean-shift" && det.Onset != nil {
		return fmt.Sprintf("%s rose from %s to %s at %s", r.promSymptomName(), sig3(det.Before), sig3(det.After), fmtTime(*det.Onset))
	}
	if det.Onset != nil {
		return fmt.Sprintf("%s on %s rose from %s to %s at %s", what, where, fmtPercent(det.Before), fmtPercent(det.After), fmtTime(*det.Onset))
	}
	if r.res.Sampling.EntrySpans == 0 {
		return fmt.Sprintf("no requests of %s in the window", where)
	}
	return fmt.Sprintf("%s on %s: %s of %s requests in the window, with no onset in it", what, where,
		fmtPercent(det.After), fmtCount(r.res.Sampling.EntrySpans))
}

// routes are the entry span names whose bad share rose most at the onset
// (or, without one, with the most bad spans).
func (r *run) routes() []RouteScope {
	s := r.entries
	type acc struct{ bb, bt, ab, at int }
	by := make([]acc, len(s.names))
	on := int64(0)
	if r.onsetOK {
		on = r.onset.UnixNano()
	}
	for i := range s.list {
		e := &s.list[i]
		a := &by[e.name]
		bad := s.bad(e)
		if r.onsetOK && e.t < on {
			a.bt++
			if bad {
				a.bb++
			}
		} else {
			a.at++
			if bad {
				a.ab++
			}
		}
	}
	var out []RouteScope
	for i, a := range by {
		if a.ab < MinBadCount {
			continue
		}
		out = append(out, RouteScope{Name: s.names[i], BeforeShare: Proportion(a.bb, a.bt), AfterShare: Proportion(a.ab, a.at), Bad: a.ab, Total: a.at})
	}
	sort.Slice(out, func(i, j int) bool {
		di, dj := out[i].AfterShare-out[i].BeforeShare, out[j].AfterShare-out[j].BeforeShare
		if di != dj {
			return di > dj
		}
		if out[i].Bad != out[j].Bad {
			return out[i].Bad > out[j].Bad
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > 5 {
		out = out[:5]
	}
	if out == nil {
		out = []RouteScope{}
	}
	return out
}

// symptomPromQL is the symptom as PromQL: the expression, or the share
// of bad calls from the span metrics.
func (r *run) symptomPromQL() string {
	if r.req.Expr != "" {
		return r.req.Expr
	}
	sel := fmt.Sprintf(`service=%s, span_kind=~"SPAN_KIND_SERVER|SPAN_KIND_CONSUMER"`, quote(r.req.Service))
	if r.req.Route != "" {
		sel += fmt.Sprintf(", span_name=~%s", quote(".*"+regexp.QuoteMeta(r.req.Route)))
	}
	if r.entries != nil && r.entries.threshold > 0 {
		le := fmt.Sprint(time.Duration(r.entries.threshold).Seconds())
		return fmt.Sprintf(`1 - sum(rate(traces_spanmetrics_latency_bucket{%s, le="%s"}[1m])) / sum(rate(traces_spanmetrics_latency_count{%s}[1m]))`, sel, le, sel)
	}
	return fmt.Sprintf(`sum(rate(traces_spanmetrics_calls_total{%s, status_code="STATUS_CODE_ERROR"}[1m])) / sum(rate(traces_spanmetrics_calls_total{%s}[1m]))`, sel, sel)
}

// summaryPerKind is how many findings of a kind the summary says: two
// BubbleUp pairs and two spans (two faults at once), one log pattern,
// change and saturation series (the same error logged by each service
// it went through would fill the sentence).
func summaryPerKind(kind string) int {
	if kind == KindBubbleUp || kind == KindWhere {
		return 2
	}
	return 1
}

// summary is one sentence from the onset and the findings at or above
// ClearScore (at most four, at most summaryPerKind of a kind), or "no
// clear culprit".
func (r *run) summary(fs []Finding) (string, bool) {
	parts := []string{r.symptomSentence(r.res.Onset.Details.(*OnsetDetails))}
	n := 0
	perKind := map[string]int{}
	for _, f := range fs {
		if f.Score < ClearScore || n == 4 || perKind[f.Kind] >= summaryPerKind(f.Kind) {
			continue
		}
		n++
		perKind[f.Kind]++
		parts = append(parts, f.Statement)
	}
	switch {
	case n > 0:
	case !r.onsetOK && len(fs) > 0:
		parts = append(parts, "no clear culprit: the symptom does not change in the window; what the bad requests have in common is: "+fs[0].Statement)
	default:
		parts = append(parts, "no clear culprit: no attribute, span, log pattern, change or saturation metric stands out in the bad requests")
	}
	if !r.onsetOK {
		for _, b := range r.res.Onset.Details.(*OnsetDetails).Baselines {
			if after := r.res.Onset.Details.(*OnsetDetails).After; b.Share != nil && b.Total >= 100 && after > 2*(*b.Share)+0.001 {
				parts = append(parts, fmt.Sprintf("it is above its level of %s %s before: it may have begun before the window (start earlier)",
					fmtPercent(*b.Share), map[string]string{"1d": "a day", "1w": "a week"}[b.Offset]))
				break
			}
		}
	}
	return strings.Join(parts, "; ") + ".", n > 0
}

// promSymptomName names a PromQL symptom in a sentence: the alert's
// expression by the alert's name (and its summary), else the expression
// when it is short, else its beginning.
func (r *run) promSymptomName() string {
	switch {
	case r.req.Alert != "" && r.req.AlertSummary != "":
		return fmt.Sprintf("the expression of alert %s (%s)", r.req.Alert, quote(r.req.AlertSummary))
	case r.req.Alert != "":
		return "the expression of alert " + r.req.Alert
	case len(r.req.Expr) <= 80:
		return r.req.Expr
	}
	return "the PromQL symptom " + quote(oneLine(r.req.Expr, 60))
}
