package investigate

import (
	"math"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestProportionAndZ(t *testing.T) {
	if p := Proportion(3, 4); p != 0.75 {
		t.Errorf("Proportion(3, 4) = %v", p)
	}
	if p := Proportion(1, 0); p != 0 {
		t.Errorf("Proportion(1, 0) = %v", p)
	}
	// p1 = .3, p2 = .1, pooled .2: se = sqrt(.2 × .8 × (1/100 + 1/100)) = .056569; z = .2 / se.
	if z := TwoProportionZ(30, 100, 10, 100); !near(z, 3.5355, 1e-3) {
		t.Errorf("TwoProportionZ(30/100, 10/100) = %v, want 3.5355", z)
	}
	if z := TwoProportionZ(10, 100, 30, 100); !near(z, -3.5355, 1e-3) {
		t.Errorf("TwoProportionZ reversed = %v", z)
	}
	if z := TwoProportionZ(0, 10, 0, 10); z != 0 {
		t.Errorf("TwoProportionZ of nothing = %v", z)
	}
}

func TestRankDims(t *testing.T) {
	dims := []Dim{
		{Service: "payments", Key: "host.name", Value: "h3", Op: "=", Bad: 97, Good: 40},
		{Service: "payments", Key: "service.instance.id", Value: "payments-3", Op: "=", Bad: 97, Good: 40},
		{Key: "tenant.id", Value: "acme", Op: "=", Bad: 30, Good: 40}, // z 1.93: noise
		{Key: "http.route", Value: "/x", Op: "=", Bad: 2, Good: 0},    // too few
		{Key: "region", Value: "eu", Op: "=", Bad: 60, Good: 40},
		{Key: "region", Value: "us", Op: "=", Bad: 40, Good: 160}, // under-represented
	}
	got := RankDims(dims, 100, 200, 1000, 9000)
	if len(got) != 2 {
		t.Fatalf("RankDims = %+v, want payments-3 (host h3 its alias) then region=eu", got)
	}
	a := got[0]
	if a.Key != "service.instance.id" || len(a.Aliases) != 1 || a.Aliases[0].Key != "host.name" {
		t.Errorf("first %+v, want service.instance.id with host.name as alias", a)
	}
	// .97 − .2; all = (.97 × 1000 + .2 × 9000) / 10000 = .277.
	if !near(a.Score, 0.77, 1e-9) || !near(a.BadShare, 0.97, 1e-9) || !near(a.GoodShare, 0.2, 1e-9) || !near(a.AllShare, 0.277, 1e-9) {
		t.Errorf("first's figures %+v", a)
	}
	// p = 100/300, se = sqrt(2/9 × (1/100 + 1/200)) = .057735: z = .4 / se = 6.93.
	if b := got[1]; b.Value != "eu" || !near(b.Score, 0.4, 1e-9) || !near(b.Z, 6.928, 1e-3) {
		t.Errorf("second %+v, want region=eu, score .4, z 6.93", b)
	}
}

func TestSummariseKey(t *testing.T) {
	values := map[string][2]int{"u-bad": {30, 1}}
	for i := range 60 {
		values["u-"+string(rune('A'+i%26))+string(rune('a'+i/26))] = [2]int{1, 1}
	}
	s, keep, ok := SummariseKey("", "user.id", values, 100)
	if !ok || s.Distinct != 61 || s.TopBadValue != "u-bad" || !near(s.TopBadShare, 0.3, 1e-9) || !slices.Equal(keep, []string{"u-bad"}) {
		t.Errorf("SummariseKey = %+v, %v, %v; want 61 values, u-bad at 30%% kept", s, keep, ok)
	}
	if _, _, ok := SummariseKey("", "region", map[string][2]int{"eu": {1, 2}, "us": {3, 4}}, 10); ok {
		t.Error("two values summarised")
	}
}

func TestNumericSplit(t *testing.T) {
	bad := []float64{200, 250, 300, 220}
	good := []float64{1, 2, 3, 5, 10, 50, 100}
	th, op, nb, ng, ok := NumericSplit(bad, good, 4, 7)
	if !ok || th != 200 || op != ">=" || nb != 4 || ng != 0 {
		t.Errorf("NumericSplit = %v %s %d %d %v, want >= 200 with 4 bad, 0 good", th, op, nb, ng, ok)
	}
	th, op, nb, ng, _ = NumericSplit([]float64{1, 1, 2}, []float64{50, 60, 70, 80}, 3, 4)
	if th != 50 || op != "<" || nb != 3 || ng != 0 {
		t.Errorf("small values bad: %v %s %d %d, want < 50 with 3 bad, 0 good", th, op, nb, ng)
	}
	if _, _, _, _, ok := NumericSplit(nil, good, 0, 7); ok {
		t.Error("no bad values: ok")
	}
}

func TestBinomialChangePoint(t *testing.T) {
	total := []int{100, 100, 100, 100, 100, 100, 100, 100}
	cp, ok := BinomialChangePoint([]int{0, 0, 0, 0, 5, 5, 5, 5}, total)
	// ll(0/400) = 0; ll(20/400) = 20 ln .05 + 380 ln .95 = −79.406;
	// ll(20/800) = 20 ln .025 + 780 ln .975 = −93.526; 2 × 14.120 = 28.24
	// over the threshold 10.83 + 2 ln 8 = 14.99.
	if !ok || cp.Index != 4 || cp.Before != 0 || cp.After != 0.05 || !near(cp.Stat, 28.24, 0.01) {
		t.Errorf("step: %+v %v, want index 4, 0 → .05, statistic 28.24", cp, ok)
	}
	if cp, ok := BinomialChangePoint([]int{1, 1, 1, 1, 1, 1, 1, 1}, total); ok {
		t.Errorf("flat series: change %+v", cp)
	}
	if cp, ok := BinomialChangePoint([]int{5, 5, 5, 5, 0, 0, 0, 0}, total); ok {
		t.Errorf("a fall is not an onset: %+v", cp)
	}
	// Too small to tell: 1 of 10 then 2 of 10.
	if cp, ok := BinomialChangePoint([]int{1, 2}, []int{10, 10}); ok {
		t.Errorf("noise: %+v", cp)
	}
	// Empty buckets are skipped over.
	cp, ok = BinomialChangePoint([]int{0, 0, 0, 0, 30, 30}, []int{100, 0, 100, 100, 100, 100})
	if !ok || cp.Index != 4 {
		t.Errorf("with an empty bucket: %+v %v, want index 4", cp, ok)
	}
}

func TestMeanChangePoint(t *testing.T) {
	cp, ok := MeanChangePoint([]float64{1, 1, 1, 1, 5, 5, 5, 5})
	if !ok || cp.Index != 4 || cp.Before != 1 || cp.After != 5 {
		t.Errorf("step: %+v %v", cp, ok)
	}
	// With noise and a gap (NaN: no sample), the index is the series'.
	nan := math.NaN()
	cp, ok = MeanChangePoint([]float64{1, 2, 1, 2, nan, 1, 2, 6, 7, 6, 7})
	if !ok || cp.Index != 7 || !near(cp.Before, 1.5, 1e-9) || !near(cp.After, 6.5, 1e-9) {
		t.Errorf("noisy step: %+v %v, want index 7, 1.5 → 6.5", cp, ok)
	}
	if cp, ok := MeanChangePoint([]float64{1, 2, 1, 2, 1, 2, 1, 2}); ok {
		t.Errorf("alternating: change %+v", cp)
	}
	if _, ok := MeanChangePoint([]float64{5, 5, 5, 1, 1, 1}); ok {
		t.Error("a fall is not an onset")
	}
}

func TestQuantileAndPoisson(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if q := Quantile(xs, 0.9); q != 9 {
		t.Errorf("p90 of 1..10 = %v, want 9 (nearest rank)", q)
	}
	if q := Quantile(xs, 1); q != 10 {
		t.Errorf("p100 = %v", q)
	}
	// Expected 0.5: 100 ln(100/0.5) − 99.5 = 430.33.
	if s := PoissonRise(0, 100, 60, 60); !near(s, 430.33, 0.01) {
		t.Errorf("PoissonRise(0 → 100) = %v, want 430.33", s)
	}
	if s := PoissonRise(10, 10, 60, 60); s != 0 {
		t.Errorf("steady: %v", s)
	}
	// 10 in 60 s is 5 in 30 s expected (5.25 with the half event).
	if s := PoissonRise(10, 5, 60, 30); s != 0 {
		t.Errorf("same rate over a shorter period: %v", s)
	}
}

func TestTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"connection refused to payments-3":             "connection refused to <_>",
		"  charge failed for order o-12 after 2003ms ": "charge failed for order <_> after <_>",
		"": "",
	} {
		if got := Template(in); got != want {
			t.Errorf("Template(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTemplateHash(t *testing.T) {
	same := [][2]string{
		{"connection refused to payments-3", "connection  refused to payments-12"},
		{"order o-1 created", "order o-22 created\n"},
	}
	for _, p := range same {
		var a, b templater
		if a.hash(p[0]) != b.hash(p[1]) {
			t.Errorf("%q and %q hash apart", p[0], p[1])
		}
	}
	var tm templater
	if tm.hash("connection refused to payments-3") == tm.hash("connection refused by payments-3") {
		t.Error("different templates hash alike")
	}
	// The hash is of the template as Template writes it.
	for _, l := range templateLines {
		if tm.hash(l) != xxhash.Sum64String(Template(l)) {
			t.Errorf("hash(%q) is not the hash of %q", l, Template(l))
		}
	}
}

// templateLines are lines as bench/eventgen's shop writes them.
var templateLines = []string{
	"charge authorized for order o-1f3a2 amount=12.50 EUR",
	"POST /api/orders from 10.2.33.147",
	"cache miss for user u-4411, loading orders from db",
	"query took 1532us rows=7",
	"stock for sku SKU-01234 is 77",
	"order o-99ab1 created for user u-4411 total=129.90 EUR items=3",
	"POST /api/orders 200 43ms",
	"connection refused to payments-66310-2",
}

func BenchmarkTemplateHash(b *testing.B) {
	var tm templater
	n := 0
	for _, l := range templateLines {
		n += len(l)
	}
	b.SetBytes(int64(n))
	for b.Loop() {
		for _, l := range templateLines {
			tm.hash(l)
		}
	}
}
