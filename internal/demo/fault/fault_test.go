package fault

import (
	"encoding/json"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := Fault{Kind: KindLatency, Target: Target{Service: "payments"}, Latency: Latency{Median: time.Millisecond}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid fault: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Fault)
		want string // in the error
	}{
		{"no kind", func(f *Fault) { f.Kind = "" }, "kind is required"},
		{"unknown kind", func(f *Fault) { f.Kind = "explode" }, `unknown kind "explode"`},
		{"no service", func(f *Fault) { f.Target.Service = "" }, "service is required"},
		{"bad service", func(f *Fault) { f.Target.Service = "pay ments" }, `service "pay ments"`},
		{"bad instance", func(f *Fault) { f.Target.Instance = "a/b" }, `instance "a/b"`},
		{"bad id", func(f *Fault) { f.ID = "a b" }, `id "a b"`},
		{"fraction 0 < x", func(f *Fault) { f.Scope.Fraction = -0.1 }, "must be in (0, 1]"},
		{"fraction > 1", func(f *Fault) { f.Scope.Fraction = 1.5 }, "must be in (0, 1]"},
		{"fraction NaN", func(f *Fault) { f.Scope.Fraction = math.NaN() }, "must be in (0, 1]"},
		{"p99 < median", func(f *Fault) { f.Latency = Latency{Median: time.Second, P99: time.Millisecond} }, "p99=1ms is below median=1s"},
		{"no median", func(f *Fault) { f.Latency = Latency{P99: time.Second} }, "needs median > 0"},
		{"huge median", func(f *Fault) { f.Latency = Latency{Median: time.Hour} }, "at most 10m0s"},
		{"negative duration", func(f *Fault) { f.Duration = -time.Second }, "cannot be negative"},
		{"negative items", func(f *Fault) { f.Scope.MinItems = -1 }, "min_items=-1"},
		{"status on latency", func(f *Fault) { f.Status = 500 }, "status and message apply only to kind error"},
		{"cpu on latency", func(f *Fault) { f.CPU = 1 }, "cpu applies only to kind cpu_burn"},
		{"bad match key", func(f *Fault) { f.Scope.Match = map[string]string{"a:b": "c"} }, `match attribute name "a:b"`},
		{"empty match value", func(f *Fault) { f.Scope.Match = map[string]string{"tenant": ""} }, "the value is empty"},
		{"comma in match value", func(f *Fault) { f.Scope.Match = map[string]string{"tenant": "a,b"} }, "cannot contain ','"},
		{"control in route", func(f *Fault) { f.Target.Route = "GET /a\nb" }, "route has a control character"},
		{"bad utf8 version", func(f *Fault) { f.Version = "\xff" }, "version is not valid UTF-8"},
		{"status not 4xx/5xx", func(f *Fault) { *f = Fault{Kind: KindError, Target: f.Target, Status: 302} }, "4xx or 5xx"},
		{"route on refuse", func(f *Fault) { *f = Fault{Kind: KindRefuse, Target: Target{Service: "x", Route: "/a"}} }, "route applies only to kinds latency and error"},
		{"match on slow query", func(f *Fault) {
			*f = Fault{Kind: KindSlowQuery, Target: f.Target, Scope: Scope{Match: map[string]string{"tenant": "a"}}}
		}, "match applies only to kinds latency and error"},
		{"fraction on cpu", func(f *Fault) { *f = Fault{Kind: KindCPUBurn, Target: f.Target, Scope: Scope{Fraction: 0.5}} }, "fraction applies only"},
		{"cpu too many", func(f *Fault) { *f = Fault{Kind: KindCPUBurn, Target: f.Target, CPU: 65} }, "cpu=65"},
		{"min_items on pool", func(f *Fault) { *f = Fault{Kind: KindPoolExhaustion, Target: f.Target, Scope: Scope{MinItems: 3}} }, "min_items applies only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := ok.Clone()
			c.edit(&f)
			err := f.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, c.want)
			}
		})
	}
	if err := ok.Validate("orders", "products"); err == nil || !strings.Contains(err.Error(), `unknown service "payments" (one of orders, products)`) {
		t.Fatalf("Validate(services) = %v", err)
	}
	if err := ok.Validate("orders", "payments"); err != nil {
		t.Fatalf("Validate(services with payments) = %v", err)
	}
}

func TestLatencySample(t *testing.T) {
	l := Latency{Median: 100 * time.Millisecond, P99: time.Second}
	if got, want := l.Sigma(), math.Log(10)/2.3263478740408408; math.Abs(got-want) > 1e-12 {
		t.Fatalf("Sigma() = %v, want %v", got, want)
	}
	r := mrand.New(mrand.NewPCG(1, 2))
	const n = 20000
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = l.Sample(r)
		if s[i] <= 0 || s[i] > l.Cap() {
			t.Fatalf("sample %v outside (0, %v]", s[i], l.Cap())
		}
	}
	slices.Sort(s)
	med, p99 := s[n/2], s[n*99/100]
	if med < 90*time.Millisecond || med > 110*time.Millisecond {
		t.Errorf("median of samples %v, want about 100ms", med)
	}
	if p99 < 800*time.Millisecond || p99 > 1250*time.Millisecond {
		t.Errorf("p99 of samples %v, want about 1s", p99)
	}
	if got := (Latency{Median: 5 * time.Millisecond}).Sample(r); got != 5*time.Millisecond {
		t.Errorf("no p99: Sample = %v, want the median", got)
	}
	if got := (Latency{Median: 5 * time.Minute, P99: 10 * time.Minute}).Cap(); got != MaxLatency {
		t.Errorf("Cap of a long latency = %v, want MaxLatency", got)
	}
	// The cap holds: a wide distribution samples past 4×p99 sometimes.
	wide := Latency{Median: time.Millisecond, P99: 100 * time.Millisecond}
	capped := 0
	for range 100000 {
		if wide.Sample(r) == wide.Cap() {
			capped++
		}
	}
	if capped == 0 {
		t.Error("no sample of a wide distribution reached the cap")
	}
}

func TestFaultJSON(t *testing.T) {
	f := Fault{ID: "x1", Kind: KindLatency, Target: Target{Service: "payments", Instance: "2", Route: "POST /pay"},
		Scope:    Scope{Fraction: 0.25, Match: map[string]string{"tenant": "acme"}, MinItems: 3},
		Duration: 10 * time.Minute, Latency: Latency{Median: 200 * time.Millisecond, P99: 2 * time.Second},
		Version: "1.2.3", Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"x1","kind":"latency","service":"payments","instance":"2","route":"POST /pay","fraction":0.25,` +
		`"match":{"tenant":"acme"},"min_items":3,"duration":"10m0s","expires":"2030-01-02T03:04:05Z","median":"200ms",` +
		`"p99":"2s","version":"1.2.3"}`
	if string(b) != want {
		t.Fatalf("JSON\n got %s\nwant %s", b, want)
	}
	var g Fault
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if g.String() != f.String() || !g.Expires.Equal(f.Expires) {
		t.Fatalf("round trip: %v, want %v", g, f)
	}
	for body, msg := range map[string]string{
		`{"kind":"latency","service":"a","colour":"red"}`:  `unknown field "colour"`,
		`{"kind":"latency","service":"a","median":"soon"}`: `median="soon": not a duration`,
		`{"kind":"latency","service":"a","duration":5}`:    "cannot unmarshal number",
	} {
		err := json.Unmarshal([]byte(body), &g)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Unmarshal(%s) = %v, want %q", body, err, msg)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !idRE.MatchString(id) || len(id) != 10 || seen[id] {
			t.Fatalf("NewID() = %q (bad or repeated)", id)
		}
		seen[id] = true
	}
}

func TestDefaults(t *testing.T) {
	f := Fault{Kind: KindError}
	if f.EffectiveStatus() != 500 || f.EffectiveMessage() != "Internal Server Error" {
		t.Errorf("defaults: %d %q", f.EffectiveStatus(), f.EffectiveMessage())
	}
	f = Fault{Kind: KindError, Status: 599}
	if f.EffectiveMessage() != "status 599" {
		t.Errorf("message of a status without text: %q", f.EffectiveMessage())
	}
	if (Fault{}).EffectiveCPU() != 1 || (Fault{CPU: 0.5}).EffectiveCPU() != 0.5 {
		t.Error("EffectiveCPU")
	}
	if !(Target{Service: "p"}).Selects("p", "3") || (Target{Service: "p", Instance: "2"}).Selects("p", "3") ||
		(Target{Service: "p"}).Selects("q", "1") {
		t.Error("Selects")
	}
}
