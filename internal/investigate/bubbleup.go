package investigate

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
)

// consequenceKeys are attributes that tell that a request failed or how,
// not why: left out of BubbleUp, which would otherwise rank the
// definition of "bad" first.
var consequenceKeys = map[string]bool{
	"http.response.status_code": true, "http.status_code": true, "rpc.grpc.status_code": true,
	"error": true, "error.type": true, "error.message": true, "otel.status_code": true, "otel.status_description": true,
	"exception.type": true, "exception.message": true, "exception.stacktrace": true, "exception.escaped": true,
	"db.response.status_code": true, "http.request.resend_count": true,
	// The answer's size follows from the answer: an error page is small.
	"http.response.body.size": true, "http.response_content_length": true, "http.response.size": true,
	"rpc.response.status_code": true, "status": true,
}

// skipResource are resource attributes that tell nothing of a request.
func skipResource(k string) bool {
	return k == "service.name" || strings.HasPrefix(k, "telemetry.") || strings.HasPrefix(k, "process.") && k != "process.runtime.version"
}

// dimKey names a key: a resource attribute of a service, a span
// attribute anywhere in the trace (service ""), or a service's span
// names ("span.name").
type dimKey struct {
	service, key string
	resource     bool
}

// keyStats are the values of one key over the traces.
type keyStats struct {
	values map[string]*[2]int // value → traces bad, good
	// numeric: every value read as a number; nums the largest value of
	// each trace that has the key, bad and good.
	numeric bool
	numBad  []float64
	numGood []float64
}

// bubbleUp ranks the attribute=value pairs of the sampled bad traces
// against the good ones (rankPairs). When the top pair leaves more than
// residualShare of the bad traces unexplained, the bad traces without it
// are ranked against the good ones again, and the top pair there, if
// strong (Score ≥ ClearScore), is a further cause, placed right after the
// first with the figures of that residual set (Ranked.Without): two
// faults at once (an instance refusing connections and another service's
// deadlocks) are both named, not only the one with more failures. At most
// maxCauses causes.
func (r *run) bubbleUp() {
	ts := r.traces
	if len(ts.bad) == 0 || len(ts.good) == 0 {
		return
	}
	totalBad, totalGood := r.res.Sampling.BadSpans, r.res.Sampling.EntrySpans-r.res.Sampling.BadSpans
	r.bubble, r.high = r.rankPairs(ts.bad, ts.good, totalBad, totalGood)
	sort.Slice(r.high, func(i, j int) bool {
		if r.high[i].Distinct != r.high[j].Distinct {
			return r.high[i].Distinct > r.high[j].Distinct
		}
		return r.high[i].Service+r.high[i].Key < r.high[j].Service+r.high[j].Key
	})
	if len(r.bubble) == 0 || r.bubble[0].Score < ClearScore {
		return
	}
	causes := []Ranked{r.bubble[0]}
	rest := ts.bad
	for len(causes) < maxCauses {
		last := causes[len(causes)-1]
		var without []*trace
		for _, t := range rest {
			if !traceHasAny(t, last) {
				without = append(without, t)
			}
		}
		if len(without) < max(MinBadCount, int(residualShare*float64(len(ts.bad)))) {
			break
		}
		ranked, _ := r.rankPairs(without, ts.good, 0, 0)
		var next *Ranked
		for i := range ranked {
			if !slices.ContainsFunc(causes, func(c Ranked) bool { return sameCause(c, ranked[i]) }) {
				next = &ranked[i]
				break
			}
		}
		if next == nil || next.Score < ClearScore {
			break
		}
		next.Without = append(slices.Clone(last.Without), last.Dim)
		next.WithoutBad = len(without)
		// Its shares of every bad request and of all requests, as the
		// first cause's: ranked over the residual, its AllShare would be
		// of the residual and the good set, a set nobody asked about.
		withPair := 0
		for _, t := range ts.bad {
			if traceHas(t, next.Dim) {
				withPair++
			}
		}
		next.AllBadShare = Proportion(withPair, len(ts.bad))
		if totalBad <= 0 {
			totalBad, totalGood = len(ts.bad), len(ts.good)
		}
		next.AllShare = ShareOfAll(next.AllBadShare, next.GoodShare, totalBad, totalGood)
		// Ranked among fewer requests, its difference of proportions
		// is not comparable with the first's: it ranks after the cause
		// it was found without.
		next.Score = min(next.Score, last.Score)
		causes = append(causes, *next)
		rest = without
	}
	if len(causes) == 1 {
		return
	}
	// The further causes right after the first; their pairs, where also
	// ranked over all bad traces, leave that place.
	out := slices.Clone(causes)
	for _, d := range r.bubble[1:] {
		if !slices.ContainsFunc(causes, func(c Ranked) bool { return sameCause(c, d) }) {
			out = append(out, d)
		}
	}
	r.bubble = out
}

// shareOfBad says how many of the bad requests have a ranked pair: "72% of
// failing requests", or for a further cause "96% of the 282 failing
// requests without inventory host.name=inventory-1".
func (r *run) shareOfBad(d Ranked) string {
	if len(d.Without) == 0 {
		return fmtPercent(d.BadShare) + " of " + r.badNoun()
	}
	var ws []string
	for _, w := range d.Without {
		ws = append(ws, oneLine(w.label(), 60))
	}
	return fmt.Sprintf("%s of the %d %s without %s", fmtPercent(d.BadShare), d.WithoutBad, r.badNoun(), strings.Join(ws, " or "))
}

// maxCauses is how many independent causes bubbleUp looks for;
// residualShare the share of the bad traces that must be left unexplained
// by the causes found so far to look for another.
const (
	maxCauses     = 3
	residualShare = 0.15
)

// traceHasAny reports whether t has the pair or one of its aliases.
func traceHasAny(t *trace, d Ranked) bool {
	if traceHas(t, d.Dim) {
		return true
	}
	return slices.ContainsFunc(d.Aliases, func(a Dim) bool { return traceHas(t, a) })
}

// sameCause reports whether two ranked pairs name the same thing: the same
// pair, or one is an alias of the other.
func sameCause(a, b Ranked) bool {
	if a.same(b.Dim) {
		return true
	}
	return slices.ContainsFunc(a.Aliases, b.same) || slices.ContainsFunc(b.Aliases, a.same)
}

// same reports whether two pairs are the same pair (counts aside).
func (d Dim) same(o Dim) bool {
	return d.Service == o.Service && d.Key == o.Key && d.Op == o.Op && d.Value == o.Value
}

// rankPairs counts every attribute=value pair over the bad and good
// traces (each counted once per trace) and ranks them with RankDims
// (totalBad and totalGood the real sizes of the sets sampled, 0 when they
// are the sets themselves); keys with too many values are summarised
// (SummariseKey), numeric ones split at their best threshold
// (NumericSplit).
func (r *run) rankPairs(bad, good []*trace, totalBad, totalGood int) ([]Ranked, []HighCardinality) {
	keys := map[dimKey]*keyStats{}
	type dimVal struct {
		k dimKey
		v string
	}
	seen := map[dimVal]struct{}{} // of one trace
	nums := map[dimKey]float64{}  // of one trace: the largest value of each numeric key
	count := func(t *trace, col int) {
		clear(seen)
		clear(nums)
		add := func(k dimKey, v events.Value) {
			s := v.String()
			if _, dup := seen[dimVal{k, s}]; dup {
				return
			}
			seen[dimVal{k, s}] = struct{}{}
			ks := keys[k]
			if ks == nil {
				ks = &keyStats{values: map[string]*[2]int{}, numeric: true}
				keys[k] = ks
			}
			c := ks.values[s]
			if c == nil {
				c = &[2]int{}
				ks.values[s] = c
			}
			c[col]++
			if n, ok := v.Number(); ok && (v.Type == events.TypeInt || v.Type == events.TypeFloat) {
				if old, had := nums[k]; !had || n > old {
					nums[k] = n
				}
			} else {
				ks.numeric = false
			}
		}
		for _, sp := range t.spans {
			for _, a := range sp.res {
				if !skipResource(a.Key) {
					add(dimKey{sp.service, a.Key, true}, a.Value)
				}
			}
			for _, a := range sp.attrs {
				if !consequenceKeys[a.Key] {
					add(dimKey{"", a.Key, false}, a.Value)
				}
			}
			add(dimKey{sp.service, "span.name", false}, events.Str(sp.name))
			// The instance a client span called, even when the call
			// never reached it (no span of it in the trace).
			if p := sp.peer; p != nil && p.instance != "" {
				add(dimKey{p.service, p.instanceKey, true}, events.Str(p.instance))
			}
		}
		for k, n := range nums {
			if ks := keys[k]; ks.numeric {
				if col == 0 {
					ks.numBad = append(ks.numBad, n)
				} else {
					ks.numGood = append(ks.numGood, n)
				}
			}
		}
	}
	for _, t := range bad {
		count(t, 0)
	}
	for _, t := range good {
		count(t, 1)
	}
	nBad, nGood := len(bad), len(good)
	var high []HighCardinality
	var dims []Dim
	for k, ks := range keys {
		if ks.numeric && len(ks.values) > 10 {
			t, op, nb, ng, ok := NumericSplit(ks.numBad, ks.numGood, nBad, nGood)
			if ok {
				dims = append(dims, Dim{Service: k.service, Key: k.key, Value: sig3(t), Op: op, Bad: nb, Good: ng})
			}
			continue
		}
		counts := make(map[string][2]int, len(ks.values))
		for v, c := range ks.values {
			counts[v] = *c
		}
		if sum, keep, ok := SummariseKey(k.service, k.key, counts, nBad); ok {
			high = append(high, sum)
			for _, v := range keep {
				c := counts[v]
				dims = append(dims, Dim{Service: k.service, Key: k.key, Value: v, Op: "=", Bad: c[0], Good: c[1]})
			}
			continue
		}
		for v, c := range counts {
			dims = append(dims, Dim{Service: k.service, Key: k.key, Value: v, Op: "=", Bad: c[0], Good: c[1]})
		}
	}
	return RankDims(dims, nBad, nGood, totalBad, totalGood), high
}

// BubbleUpDetails are a BubbleUp finding's figures.
type BubbleUpDetails struct {
	Ranked
	// BadTraces and GoodTraces are the sizes of the sets compared.
	BadTraces  int `json:"badTraces"`
	GoodTraces int `json:"goodTraces"`
	// HighCardinality are the keys summarised (on the first BubbleUp
	// finding only).
	HighCardinality []HighCardinality `json:"highCardinality,omitempty"`
	// PeerOnly is how many of the bad traces have an instance pair only
	// as the callee of a client span (resolved from the address it
	// dialled): the call did not reach it, so no span of it is there.
	PeerOnly int `json:"peerOnly,omitempty"`
	// ExampleTraces are up to 3 bad traces with the pair.
	ExampleTraces []string `json:"exampleTraces"`
}

// maxBubbleFindings is how many BubbleUp pairs become findings.
const maxBubbleFindings = 3

// bubbleFindings are the top BubbleUp pairs as findings. The score is the
// difference of proportions.
func (r *run) bubbleFindings() []Finding {
	var out []Finding
	what := r.badNoun()
	for i, d := range r.bubble {
		if i >= maxBubbleFindings || d.Score <= 0.05 {
			break
		}
		st := fmt.Sprintf("%s: %s of %s, %s of all", oneLine(d.label(), 120), fmtPercent(d.BadShare), what, fmtPercent(d.AllShare))
		if len(d.Without) > 0 {
			st = fmt.Sprintf("a further cause: %s: %s (%s of all %s), %s of the others, %s of all",
				oneLine(d.label(), 120), r.shareOfBad(d), fmtPercent(d.AllBadShare), what, fmtPercent(d.GoodShare), fmtPercent(d.AllShare))
		}
		peerOnlyN, addr := 0, ""
		for _, t := range r.traces.bad {
			if peerOnly(t, d.Dim) {
				peerOnlyN++
				if addr == "" {
					addr = addrOfPeer(t, d.Dim)
				}
			}
		}
		if peerOnlyN > 0 {
			st += fmt.Sprintf(" (on %s of them only as the callee of a client span: the call did not reach it)", fmtPercent(Proportion(peerOnlyN, d.Bad)))
		}
		if len(d.Aliases) > 0 {
			var as []string
			for _, a := range d.Aliases {
				as = append(as, oneLine(a.label(), 60))
			}
			if len(as) > 3 {
				as = append(as[:3], fmt.Sprintf("%d more", len(d.Aliases)-3))
			}
			st += " (with " + strings.Join(as, ", ") + ")"
		}
		det := &BubbleUpDetails{Ranked: d, BadTraces: len(r.traces.bad), GoodTraces: len(r.traces.good), ExampleTraces: r.examples(d.Dim),
			PeerOnly: peerOnlyN}
		if i == 0 {
			det.HighCardinality = r.high
		}
		f := Finding{Kind: KindBubbleUp, Score: clamp01(d.Score), Statement: st, Details: det}
		f.Evidence = append(f.Evidence, explore("bad traces with "+d.label(), "traceql", r.traceqlWith(d.Dim), r.req.Start, r.req.End))
		if h, p := hostPort(addr); p != "" {
			q := r.symptomTraceQL() + fmt.Sprintf(" && {kind=client && span.server.address=%s && span.server.port=%s}", quote(h), p)
			f.Evidence = append(f.Evidence, explore("bad traces calling "+d.Value+" at "+addr, "traceql", q, r.req.Start, r.req.End))
		}
		for _, id := range det.ExampleTraces {
			f.Evidence = append(f.Evidence, traceEvidence(id))
		}
		if d.Service != "" {
			f.Evidence = append(f.Evidence, serviceEvidence(d.Service, r.req.Start, r.req.End))
		}
		out = append(out, f)
	}
	return out
}

// label is the pair as a statement names it.
func (d Dim) label() string {
	s := d.Key + d.Op + d.Value
	if d.Key == "span.name" {
		s = "span " + quote(d.Value)
	}
	if d.Service != "" && (d.Key != "service.instance.id" || !strings.HasPrefix(d.Value, d.Service)) {
		s = d.Service + " " + s
	}
	return s
}

// badNoun is what the bad requests are called: "failing requests" or
// "requests slower than 2 s".
func (r *run) badNoun() string {
	if r.entries != nil && r.entries.threshold > 0 {
		return "requests slower than " + fmtDuration(time.Duration(r.entries.threshold))
	}
	return "failing requests"
}

// examples returns up to 3 bad traces that have d.
func (r *run) examples(d Dim) []string {
	out := []string{}
	for _, t := range r.traces.bad {
		if len(out) == 3 {
			break
		}
		if traceHas(t, d) {
			out = append(out, t.id.String())
		}
	}
	return out
}

// traceHas reports whether a trace has the pair d.
func traceHas(t *trace, d Dim) bool {
	match := func(v events.Value) bool {
		if d.Op == "=" {
			return v.String() == d.Value
		}
		n, ok := v.Number()
		var th float64
		_, _ = fmt.Sscan(d.Value, &th)
		return ok && (d.Op == ">=" && n >= th || d.Op == "<" && n < th)
	}
	for _, sp := range t.spans {
		if d.Key == "span.name" {
			if sp.service == d.Service && sp.name == d.Value {
				return true
			}
			continue
		}
		if d.Service != "" {
			if p := sp.peer; p != nil && p.service == d.Service && p.instanceKey == d.Key && p.instance == d.Value && d.Op == "=" {
				return true
			}
			if sp.service != d.Service {
				continue
			}
			if v, ok := sp.res.Get(d.Key); ok && match(v) {
				return true
			}
			continue
		}
		if v, ok := sp.attrs.Get(d.Key); ok && match(v) {
			return true
		}
	}
	return false
}

// traceqlWith is the TraceQL of the bad entry spans in traces with d.
func (r *run) traceqlWith(d Dim) string {
	sym := r.symptomTraceQL()
	var cond string
	switch {
	case d.Key == "span.name":
		cond = fmt.Sprintf("resource.service.name=%s && name=%s", quote(d.Service), quote(d.Value))
	case d.Service != "":
		cond = fmt.Sprintf("resource.service.name=%s && %s%s%s", quote(d.Service), traceqlField(true, d.Key), traceqlOp(d.Op), traceqlValue(d))
	default:
		cond = fmt.Sprintf("%s%s%s", traceqlField(false, d.Key), traceqlOp(d.Op), traceqlValue(d))
	}
	return sym + " && {" + cond + "}"
}

func traceqlOp(op string) string {
	if op == "=" {
		return "="
	}
	return " " + op + " "
}

func traceqlValue(d Dim) string {
	if d.Op != "=" {
		return d.Value
	}
	return quote(d.Value)
}

// symptomTraceQL is the TraceQL of the bad entry spans.
func (r *run) symptomTraceQL() string {
	c := fmt.Sprintf("resource.service.name=%s", quote(r.req.Service))
	if r.req.Route != "" {
		c += fmt.Sprintf(" && name=~%s", quote(".*"+regexp.QuoteMeta(r.req.Route)))
	}
	if r.entries != nil && r.entries.threshold > 0 {
		c += " && duration > " + durationLiteral(time.Duration(r.entries.threshold))
	} else {
		c += " && status=error"
	}
	return "{" + c + "}"
}

// durationLiteral renders d as TraceQL and PromQL take it (ms).
func durationLiteral(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return fmt.Sprintf("%dus", d/time.Microsecond)
}

func clamp01(x float64) float64 { return min(max(x, 0), 1) }
