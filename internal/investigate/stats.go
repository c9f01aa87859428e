package investigate

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strings"
)

// The statistics of an investigation: pure functions on counts, tested
// on hand-computed cases (stats_test.go).

// Proportion is count of total as a share (0 to 1); 0 when total is 0.
func Proportion(count, total int) float64 {
	if total <= 0 {
		return 0
	}
	return float64(count) / float64(total)
}

// TwoProportionZ is the z statistic of the difference between the
// proportions a1/n1 and a2/n2 (pooled standard error), positive when the
// first is larger; 0 when either set is empty or the pooled proportion is
// 0 or 1. A z of 3 is about one chance in 700 that sampling alone made a
// difference that large.
func TwoProportionZ(a1, n1, a2, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 0
	}
	p1, p2 := float64(a1)/float64(n1), float64(a2)/float64(n2)
	p := float64(a1+a2) / float64(n1+n2)
	se := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 0
	}
	return (p1 - p2) / se
}

// Dim is one attribute=value pair counted over the bad and the good
// sets (traces or spans).
type Dim struct {
	// Service qualifies a resource attribute or a span name ("" for a
	// span attribute found anywhere in the trace).
	Service string `json:"service,omitempty"`
	Key     string `json:"key"`
	Value   string `json:"value"`
	// Op is "=" for a value, ">=" or "<" for a numeric range (high
	// cardinality numbers are split at a threshold).
	Op string `json:"op"`
	// Bad and Good are how many bad and good members have the pair.
	Bad  int `json:"bad"`
	Good int `json:"good"`
}

// Ranked is a Dim with its proportions and score, as BubbleUp ranks them.
type Ranked struct {
	Dim
	// BadShare is Bad over the bad set's size (for a further cause: over
	// WithoutBad, the bad members without the causes before it);
	// GoodShare Good over the good set's. AllBadShare is the share of the
	// whole bad set that has the pair: BadShare itself but for a further
	// cause. AllShare is the share of every member, bad and good (ShareOfAll
	// of AllBadShare and GoodShare, weighted by the real sizes of both sets
	// when they were sampled), for a further cause too.
	BadShare    float64 `json:"badShare"`
	GoodShare   float64 `json:"goodShare"`
	AllBadShare float64 `json:"allBadShare"`
	AllShare    float64 `json:"allShare"`
	// Z is TwoProportionZ of bad against good.
	Z float64 `json:"z"`
	// Score is BadShare − GoodShare: how much more common the pair is in
	// the bad set, from −1 to 1; × DemoteFactor for a demoted key.
	Score float64 `json:"score"`
	// Demoted says why the key ranks below the others: "transport" (a
	// port, a peer address, the URL with its port, a body size: how the
	// request travelled, not what it was) or "outcome" (a domain key
	// named status, state, result or outcome: what became of it).
	Demoted string `json:"demoted,omitempty"`
	// Aliases are other pairs with exactly the same counts (the same
	// members): host.name of the instance, its version.
	Aliases []Dim `json:"aliases,omitempty"`
	// Without, for a further cause, are the causes ranked before it: its
	// figures are over the WithoutBad bad members that have none of them
	// (BadShare is Bad over WithoutBad), against the same good set.
	Without    []Dim `json:"without,omitempty"`
	WithoutBad int   `json:"withoutBad,omitempty"`
}

// MinBadCount and MinZ are what a pair needs to be ranked: seen in at
// least MinBadCount bad members, and over-represented with a z of at
// least MinZ.
const (
	MinBadCount = 3
	MinZ        = 3.0
)

// ShareOfAll is the share of all members that have a pair, from its share
// of the bad set and of the good set and the real sizes of the two (of
// which the sets counted may be samples): (badShare·totalBad +
// goodShare·totalGood) / (totalBad + totalGood); 0 when both are empty.
func ShareOfAll(badShare, goodShare float64, totalBad, totalGood int) float64 {
	return (badShare*float64(totalBad) + goodShare*float64(totalGood)) / float64(max(totalBad+totalGood, 1))
}

// RankDims ranks dims by over-representation in the bad set, as
// Honeycomb's BubbleUp compares a selection with the baseline
// (https://docs.honeycomb.io/investigate/analyze/identify-outliers/): for
// each attribute=value pair, the share of bad members that have it
// against the share of good ones; the score is the difference of the two
// proportions. nBad and nGood are the sizes of the sets counted;
// totalBad and totalGood the real sizes the sets were sampled from (the
// same when not sampled), which weight AllShare. Pairs seen in fewer than
// MinBadCount bad members, or whose z is below MinZ, are left out; pairs
// with exactly the same counts are merged (the first in preference order
// kept, the others as Aliases). The result is ordered by score, then z,
// then key and value.
func RankDims(dims []Dim, nBad, nGood, totalBad, totalGood int) []Ranked {
	if totalBad <= 0 {
		totalBad = nBad
	}
	if totalGood <= 0 {
		totalGood = nGood
	}
	var out []Ranked
	for _, d := range dims {
		if d.Bad < MinBadCount {
			continue
		}
		z := TwoProportionZ(d.Bad, nBad, d.Good, nGood)
		if z < MinZ {
			continue
		}
		pb, pg := Proportion(d.Bad, nBad), Proportion(d.Good, nGood)
		rk := Ranked{Dim: d, BadShare: pb, GoodShare: pg, AllBadShare: pb, AllShare: ShareOfAll(pb, pg, totalBad, totalGood),
			Z: z, Score: pb - pg, Demoted: demotedKey(d.Key)}
		if rk.Demoted != "" {
			rk.Score *= DemoteFactor
		}
		out = append(out, rk)
	}
	slices.SortFunc(out, func(a, b Ranked) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Z, a.Z); c != 0 {
			return c
		}
		if c := cmp.Compare(keyPreference(a.Key), keyPreference(b.Key)); c != 0 {
			return c
		}
		return cmp.Compare(a.Service+a.Key+a.Value, b.Service+b.Key+b.Value)
	})
	// Merge pairs with the same counts: the first (by preference) stays.
	type counts struct{ bad, good int }
	first := map[counts]int{}
	merged := out[:0]
	for _, r := range out {
		c := counts{r.Bad, r.Good}
		if i, ok := first[c]; ok && sameService(merged[i].Service, r.Service) {
			merged[i].Aliases = append(merged[i].Aliases, r.Dim)
			continue
		}
		first[c] = len(merged)
		merged = append(merged, r)
	}
	return merged
}

// sameService reports whether two pairs may be aliases: of the same
// service, or one of them of none.
func sameService(a, b string) bool { return a == b || a == "" || b == "" }

// preferredKeys are the keys that name a culprit best, in order: a pair
// of one of them is kept and pairs with the same counts become its
// aliases.
var preferredKeys = []string{
	"service.instance.id", "service.version", "k8s.pod.name", "host.name", "server.address", "peer.service",
	"http.route", "span.name",
}

// keyPreference orders keys with the same counts: the preferred keys,
// then the application's own attributes (order.item_count, tenant:
// what the request was), then the semantic conventions' (db.query.text,
// http.request.method: how it was served).
func keyPreference(k string) int {
	if i := slices.Index(preferredKeys, k); i >= 0 {
		return i
	}
	if conventionKey(k) {
		return len(preferredKeys) + 1
	}
	return len(preferredKeys)
}

// conventionNamespaces are the OpenTelemetry semantic conventions'
// namespaces of span attributes.
var conventionNamespaces = []string{"http", "url", "db", "rpc", "messaging", "network", "net", "server", "client",
	"user_agent", "code", "thread", "otel", "error", "exception", "peer", "faas", "cloud", "k8s", "host", "process",
	"container", "telemetry", "service", "gen_ai", "graphql", "aws", "gcp", "az"}

// conventionKey reports whether a key is in a semantic-convention
// namespace.
func conventionKey(k string) bool {
	ns, _, ok := strings.Cut(k, ".")
	return ok && slices.Contains(conventionNamespaces, ns)
}

// DemoteFactor scales the score of a demoted key (demotedKey): it stays
// in the ranking, below the pairs that say what the request was.
const DemoteFactor = 0.25

// transportKeys are how a request travelled: ports (ephemeral on the
// caller's side, one per instance on the callee's, which the instance
// itself says better), peer addresses, the URL (with the callee's host
// and port), body sizes (which follow what the request carried).
var transportKeys = map[string]bool{
	"server.port": true, "client.port": true, "client.address": true, "network.peer.port": true, "network.peer.address": true,
	"network.local.port": true, "network.local.address": true, "net.peer.port": true, "net.peer.ip": true, "net.host.port": true,
	"net.sock.peer.port": true, "net.sock.peer.addr": true, "net.sock.host.port": true, "net.sock.host.addr": true,
	"url.full": true, "http.url": true, "http.target": true,
	"http.request.body.size": true, "http.request_content_length": true, "http.request.size": true,
}

// outcomeSuffixes end the domain keys that say what became of a request
// (order.status=failed): effects, like the status codes BubbleUp leaves
// out.
var outcomeSuffixes = []string{"status", "state", "result", "outcome"}

// demotedKey says why a key is demoted ("" when it is not).
func demotedKey(k string) string {
	if transportKeys[k] {
		return "transport"
	}
	last := k
	if i := strings.LastIndexAny(k, "._"); i >= 0 {
		last = k[i+1:]
	}
	if slices.Contains(outcomeSuffixes, strings.ToLower(last)) {
		return "outcome"
	}
	return ""
}

// HighCardinality is a key with too many values to list: the number of
// distinct values seen and the value most common in the bad set.
type HighCardinality struct {
	Service string `json:"service,omitempty"`
	Key     string `json:"key"`
	// Distinct is the number of distinct values in the sample.
	Distinct int `json:"distinct"`
	// TopBadValue is the value most bad members have, and TopBadShare
	// their share of the bad set.
	TopBadValue string  `json:"topBadValue"`
	TopBadShare float64 `json:"topBadShare"`
}

// MaxValues is how many distinct values a key may have before it is
// high-cardinality: summarised, and only its values that stand out in
// the bad set (a share of at least HighCardMinShare) ranked.
const (
	MaxValues        = 50
	HighCardMinShare = 0.2
)

// SummariseKey decides how a key's values are reported: when it has more
// than MaxValues distinct values (ids), it returns its summary and the
// values to keep ranking (those whose bad share is at least
// HighCardMinShare: one user or tenant behind most failures); else ok is
// false and every value is kept. values maps each value to its counts.
func SummariseKey(service, key string, values map[string][2]int, nBad int) (s HighCardinality, keep []string, ok bool) {
	if len(values) <= MaxValues {
		return HighCardinality{}, nil, false
	}
	s = HighCardinality{Service: service, Key: key, Distinct: len(values)}
	for v, c := range values {
		share := Proportion(c[0], nBad)
		if share > s.TopBadShare || share == s.TopBadShare && (s.TopBadValue == "" || v < s.TopBadValue) && share > 0 {
			s.TopBadValue, s.TopBadShare = v, share
		}
		if share >= HighCardMinShare {
			keep = append(keep, v)
		}
	}
	sort.Strings(keep)
	return s, keep, true
}

// NumericSplit finds where a numeric key best separates bad from good:
// the threshold t (one of the values of either set at a quantile) for which "key >= t" or
// "key < t" has the largest difference of bad and good shares. bad and
// good are the values of the members that have the key; nBad and nGood
// the sizes of the sets. ok is false with no values.
func NumericSplit(bad, good []float64, nBad, nGood int) (t float64, op string, badN, goodN int, ok bool) {
	if len(bad) == 0 {
		return 0, "", 0, 0, false
	}
	b, g := slices.Clone(bad), slices.Clone(good)
	slices.Sort(b)
	slices.Sort(g)
	// Candidate thresholds: the values of both sets at a few quantiles.
	cands := map[float64]bool{}
	for _, xs := range [][]float64{b, g} {
		for _, q := range []float64{0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1} {
			if len(xs) > 0 {
				cands[xs[int(q*float64(len(xs)-1))]] = true
			}
		}
	}
	best := math.Inf(-1)
	for c := range cands {
		geB := len(b) - sort.SearchFloat64s(b, c)
		geG := len(g) - sort.SearchFloat64s(g, c)
		for _, side := range []struct {
			op     string
			nb, ng int
		}{{">=", geB, geG}, {"<", len(b) - geB, len(g) - geG}} {
			d := Proportion(side.nb, nBad) - Proportion(side.ng, nGood)
			if d > best || d == best && c < t {
				best, t, op, badN, goodN = d, c, side.op, side.nb, side.ng
			}
		}
	}
	return t, op, badN, goodN, true
}

// ChangePoint is a detected change in a series: the index of the first
// point after it, the level before and after, and the test statistic
// (twice the log-likelihood ratio of two levels against one).
type ChangePoint struct {
	Index         int
	Before, After float64
	Stat          float64
}

// changeThreshold is the statistic a change point needs for a series of
// n points: the 0.1% critical value of χ² with one degree of freedom
// (10.83), plus 2 ln n for having tried every position (a BIC-style
// penalty, as in penalised change-point detection: Killick, Fearnhead &
// Eckley, "Optimal detection of changepoints with a linear computational
// cost", JASA 2012).
func changeThreshold(n int) float64 { return 10.83 + 2*math.Log(float64(max(n, 2))) }

// BinomialChangePoint finds the single most likely change in the share of
// bad events: bad[i] of total[i] in each bucket i. It is the
// likelihood-ratio test for a change in a binomial proportion (Worsley,
// "The power of likelihood ratio and cumulative sum tests for a change in
// a binomial probability", Biometrika 70(2), 1983): for each split, the
// log-likelihood of two proportions against one; the split that
// maximises it, among those where the share rises (a symptom starting),
// is the change. ok is false when no split rises or the statistic is
// below the threshold for the series' length.
func BinomialChangePoint(bad, total []int) (cp ChangePoint, ok bool) {
	n := len(total)
	var B, N int
	for i := range n {
		B += bad[i]
		N += total[i]
	}
	if N == 0 || n < 2 {
		return cp, false
	}
	all := binLL(B, N)
	b1, n1 := 0, 0
	best := 0.0
	for i := 1; i < n; i++ {
		b1 += bad[i-1]
		n1 += total[i-1]
		n2, b2 := N-n1, B-b1
		if n1 == 0 || n2 == 0 {
			continue
		}
		p1, p2 := float64(b1)/float64(n1), float64(b2)/float64(n2)
		if p2 <= p1 {
			continue
		}
		stat := 2 * (binLL(b1, n1) + binLL(b2, n2) - all)
		if stat > best {
			best = stat
			cp = ChangePoint{Index: i, Before: p1, After: p2, Stat: stat}
		}
	}
	return cp, best >= changeThreshold(n)
}

// binLL is the binomial log-likelihood of b of n at its maximum (p = b/n),
// without the constant binomial coefficient.
func binLL(b, n int) float64 {
	ll := 0.0
	if b > 0 {
		ll += float64(b) * math.Log(float64(b)/float64(n))
	}
	if n-b > 0 {
		ll += float64(n-b) * math.Log(float64(n-b)/float64(n))
	}
	return ll
}

// MeanChangePoint finds the single most likely rise in the mean of a
// series with normal noise of unknown variance: the split minimising the
// sum of squared deviations from each side's mean (Hinkley, "Inference
// about the change-point in a sequence of random variables", Biometrika
// 57(1), 1970), tested with the likelihood ratio n ln(SSE₀ / SSE₁). NaN
// points are skipped (their indexes still count). ok is false when no
// split rises or the statistic is below the threshold.
func MeanChangePoint(xs []float64) (cp ChangePoint, ok bool) {
	var idx []int
	var vals []float64
	for i, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			idx = append(idx, i)
			vals = append(vals, x)
		}
	}
	n := len(vals)
	if n < 4 {
		return cp, false
	}
	prefix := make([]float64, n+1)
	prefix2 := make([]float64, n+1)
	for i, v := range vals {
		prefix[i+1] = prefix[i] + v
		prefix2[i+1] = prefix2[i] + v*v
	}
	sse := func(a, b int) float64 { // [a, b)
		m := float64(b - a)
		s := prefix[b] - prefix[a]
		return math.Max(prefix2[b]-prefix2[a]-s*s/m, 0)
	}
	sse0 := sse(0, n)
	best := 0.0
	for k := 2; k <= n-2; k++ {
		m1, m2 := (prefix[k])/float64(k), (prefix[n]-prefix[k])/float64(n-k)
		if m2 <= m1 {
			continue
		}
		sse1 := sse(0, k) + sse(k, n)
		var stat float64
		switch {
		case sse1 <= 1e-12*math.Max(sse0, 1):
			stat = math.Inf(1) // two flat levels
		default:
			stat = float64(n) * math.Log(sse0/sse1)
		}
		if stat > best {
			best = stat
			cp = ChangePoint{Index: idx[k], Before: m1, After: m2, Stat: stat}
		}
	}
	return cp, best >= changeThreshold(n)
}

// Quantile is the q-quantile (0 to 1) of sorted xs by the nearest rank;
// 0 for none.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// PoissonRise scores a count that rose: during events in a period of
// length dDuring against before events in one of length dBefore, the
// Poisson log-likelihood ratio of the observed rate against the rate
// before (with half an event added before, so that a pattern new in the
// window has a finite expectation). 0 when the count did not rise.
func PoissonRise(before, during int, dBefore, dDuring float64) float64 {
	if dBefore <= 0 || dDuring <= 0 || during == 0 {
		return 0
	}
	expected := (float64(before) + 0.5) * dDuring / dBefore
	d := float64(during)
	if d <= expected {
		return 0
	}
	return d*math.Log(d/expected) - (d - expected)
}
