package fault

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	f, err := Parse(`kind=latency service=payments instance=1 route="POST /pay" median=200ms p99=2s fraction=0.3 ` +
		`match=tenant:acme,payment_method:card match=user_id:u:7 min_items=100 for=10m version=1.0.1`)
	if err != nil {
		t.Fatal(err)
	}
	want := Fault{Kind: KindLatency, Target: Target{Service: "payments", Instance: "1", Route: "POST /pay"},
		Scope: Scope{Fraction: 0.3, Match: map[string]string{"tenant": "acme", "payment_method": "card", "user_id": "u:7"},
			MinItems: 100},
		Duration: 10 * time.Minute, Latency: Latency{Median: 200 * time.Millisecond, P99: 2 * time.Second}, Version: "1.0.1"}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("Parse:\n got %#v\nwant %#v", f, want)
	}
	s := f.String()
	if s != `kind=latency service=payments instance=1 route="POST /pay" median=200ms p99=2s fraction=0.3 `+
		`match=payment_method:card,tenant:acme,user_id:u:7 min_items=100 for=10m0s version=1.0.1` {
		t.Fatalf("String() = %s", s)
	}
	g, err := Parse(s)
	if err != nil || !reflect.DeepEqual(g, f) {
		t.Fatalf("Parse(String()) = %#v, %v", g, err)
	}

	f, err = Parse(`kind=error service=orders 'message=it said "no" \ loudly' status=503 duration=1h`)
	if err != nil {
		t.Fatal(err)
	}
	if f.Message != `it said "no" \ loudly` || f.Status != 503 || f.Duration != time.Hour {
		t.Fatalf("quoted message: %#v", f)
	}
	if s := f.String(); s != `kind=error service=orders status=503 message="it said \"no\" \\ loudly" for=1h0m0s` {
		t.Fatalf("String() = %s", s)
	}
	if g, err := Parse(f.String()); err != nil || !reflect.DeepEqual(g, f) {
		t.Fatalf("Parse(String()) = %#v, %v", g, err)
	}
	f, err = Parse(`kind=cpu_burn service=payments instance=2 cpu=1.5`)
	if err != nil || f.CPU != 1.5 {
		t.Fatalf("cpu: %#v %v", f, err)
	}
	f, err = Parse(`kind=slow_query service=products min_items=200 fraction=0.5 id=s-1`)
	if err != nil || f.Scope.MinItems != 200 || f.ID != "s-1" {
		t.Fatalf("slow_query: %#v %v", f, err)
	}
}

func TestParseArgs(t *testing.T) {
	// As a shell passes: quotes gone, spaces kept within an argument.
	f, err := ParseArgs([]string{"kind=error", "service=orders", "route=POST /orders", "message=out of stock", "status=409"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Target.Route != "POST /orders" || f.Message != "out of stock" || f.Status != 409 {
		t.Fatalf("ParseArgs: %#v", f)
	}
}

func TestParseErrors(t *testing.T) {
	for spec, want := range map[string]string{
		``:                                          "kind is required",
		`kind=latency`:                              "service is required",
		`kind=latency service=a`:                    "needs median > 0",
		`kind=slow service=a`:                       `unknown kind "slow" (one of latency, error, refuse_connections, pool_exhaustion, cpu_burn, slow_query)`,
		`kind=error service=a colour=red`:           `unknown key "colour"`,
		`kind=error service=a status`:               `"status" is not key=value`,
		`kind=error service=a status=abc`:           `status="abc": not a whole number`,
		`kind=error service=a status=200`:           "status=200: an error fault answers a 4xx or 5xx status",
		`kind=error service=a fraction=0`:           "fraction=0: must be above 0",
		`kind=error service=a fraction=2`:           "fraction=2: must be in (0, 1]",
		`kind=error service=a fraction=x`:           `fraction="x": not a number`,
		`kind=error service=a for=soon`:             `for="soon": not a duration`,
		`kind=error service=a for=`:                 "for is empty",
		`kind=error service=a service=b`:            "service is given twice",
		`kind=error service=a match=tenant`:         `match "tenant": write attr:value pairs`,
		`kind=error service=a match=`:               "match is empty",
		`kind=error service=a match=t:1,t:2`:        "match t is given twice",
		`kind=error service=a route="POST`:          `unclosed "`,
		`kind=error service=a route='POST`:          `unclosed '`,
		`kind=latency service=a median=2s p99=1s`:   "p99=1s is below median=2s",
		`kind=cpu_burn service=a cpu=0`:             "cpu=0: must be above 0",
		`kind=refuse_connections service=a route=/`: "route applies only to kinds latency and error",
	} {
		_, err := Parse(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", spec, err, want)
		}
	}
}

func TestStringQuoting(t *testing.T) {
	for _, msg := range []string{"a'b", `a"b`, `a\b`, "a b", "x=y", "ünïcode"} {
		f := Fault{Kind: KindError, Target: Target{Service: "s"}, Message: msg}
		g, err := Parse(f.String())
		if err != nil || g.Message != msg {
			t.Errorf("message %q: Parse(%s) = %q, %v", msg, f.String(), g.Message, err)
		}
	}
	words, err := splitSpec("a=\"x\ty\" b='p q' c=r\\ s")
	if err != nil || !reflect.DeepEqual(words, []string{"a=x\ty", "b=p q", "c=r s"}) {
		t.Fatalf("splitSpec = %q, %v", words, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`kind=latency service=payments instance=1 route="POST /pay" median=200ms p99=2s fraction=0.3 match=tenant:acme,payment_method:card for=10m`,
		`kind=error service=orders status=503 message="upstream timeout" min_items=100`,
		`kind=cpu_burn service=payments instance=2 cpu=1`,
		`kind=slow_query service=products min_items=200`,
		`kind=refuse_connections service=payments instance=2 version=1.0.1 id=a-1`,
		`kind=pool_exhaustion service=orders for=1h`,
		`'kind=error' "service=a" message='x "y"' route=GET\ /a`,
		`kind=error service=a fraction=1e-300`,
	} {
		f.Add(s)
	}
	for _, sc := range Scenarios() {
		for _, flt := range sc.Faults {
			f.Add(flt.String())
		}
	}
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := Parse(spec)
		if err != nil {
			return
		}
		s := got.String()
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) accepted %#v, but its String %q fails: %v", spec, got, s, err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip of %q through %q:\n got %#v\nwant %#v", spec, s, again, got)
		}
		if again.String() != s {
			t.Fatalf("String not stable: %q then %q", s, again.String())
		}
		// The JSON form round-trips too (the parent forwards faults as JSON).
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON Fault
		if err := json.Unmarshal(b, &fromJSON); err != nil || !reflect.DeepEqual(fromJSON, got) {
			t.Fatalf("JSON round trip of %q through %s: %#v, %v", spec, b, fromJSON, err)
		}
	})
}
