package investigate

import (
	"math"
	"strings"
	"testing"
)

// Pairs with the same counts: the application's own attribute is kept,
// the query text and the body size (semantic conventions) become its
// aliases; a demoted pair does not outrank a real one.
func TestRankDimsPrefersDomainKeys(t *testing.T) {
	dims := []Dim{
		{Key: "db.query.text", Value: "WITH j AS ...", Op: "=", Bad: 4, Good: 0},
		{Key: "order.item_count", Value: "200", Op: ">=", Bad: 4, Good: 0},
		{Key: "http.request.body.size", Value: "8026", Op: ">=", Bad: 4, Good: 0},
		{Key: "network.peer.port", Value: "55420", Op: ">=", Bad: 4, Good: 10},
		{Key: "payment.method", Value: "card", Op: "=", Bad: 3, Good: 40},
	}
	got := RankDims(dims, 4, 259, 4, 259)
	if got[0].Key != "order.item_count" {
		t.Fatalf("top %+v, want order.item_count", got[0].Dim)
	}
	var aliases []string
	for _, a := range got[0].Aliases {
		aliases = append(aliases, a.Key)
	}
	if strings.Join(aliases, ",") != "db.query.text,http.request.body.size" {
		t.Errorf("aliases %v, want db.query.text and http.request.body.size", aliases)
	}
	for _, r := range got {
		if r.Key == "network.peer.port" && (r.Demoted != "transport" || math.Abs(r.Score-(1-10.0/259)*DemoteFactor) > 1e-9) {
			t.Errorf("network.peer.port %+v: want transport, score × %v", r, DemoteFactor)
		}
	}
}

func TestDemotedKey(t *testing.T) {
	for k, want := range map[string]string{
		"server.port": "transport", "network.peer.port": "transport", "url.full": "transport", "client.port": "transport",
		"order.status": "outcome", "payment_state": "outcome", "job.result": "outcome",
		"order.item_count": "", "service.instance.id": "", "payment.method": "", "http.route": "",
	} {
		if got := demotedKey(k); got != want {
			t.Errorf("demotedKey(%q) = %q, want %q", k, got, want)
		}
	}
}

// A rise from zero has no ratio; a wait from zero is saturation, a
// traffic gauge ranks below both, a pool at its limit is saturated.
func TestSaturationScore(t *testing.T) {
	for _, c := range []struct {
		kind          string
		before, after float64
		want          float64
		fromZero      bool
	}{
		{KindWait, 0, 5.46, 0.7, true},
		{KindUtilisation, 0, 1, 0.7, true},
		{KindUtilisation, 0.1, 0.3, 0.7 * (1 - math.Exp(-1)), false},
		{"", 0, 0.2, 0.35, true},
		{"", 0.1, 0.2, 0.7 * (1 - math.Exp(-0.5)), false},
		{"", 0.1, 10, 0.7 * (1 - math.Exp(-49.0/2)), false},
		{KindTraffic, 1, 9, 0.7 * 0.4 * (1 - math.Exp(-4)), false},
		{"", 0, 0, 0, false},
	} {
		got, fz := SaturationScore(c.kind, c.before, c.after)
		if math.Abs(got-c.want) > 1e-9 || fz != c.fromZero {
			t.Errorf("SaturationScore(%q, %v, %v) = %v, %v; want %v, %v", c.kind, c.before, c.after, got, fz, c.want, c.fromZero)
		}
	}
	wait, _ := SaturationScore(KindWait, 0, 5.46)
	traffic, _ := SaturationScore(KindTraffic, 1, 9)
	if traffic >= ClearScore || traffic >= wait {
		t.Errorf("requests in flight 1 → 9 scores %v: want below the pool wait (%v) and ClearScore", traffic, wait)
	}
}

// A PromQL symptom is named by its alert, not by the burn-rate
// expression.
func TestPromSymptomName(t *testing.T) {
	long := strings.Repeat("max without (sloth_window) (slo:sli_error:ratio_rate5m{} > 0.0144) and ", 5)
	for _, c := range []struct {
		req  Request
		want string
	}{
		{Request{Expr: long, Alert: "CheckoutAvailability", AlertSummary: "checkout errors burn the budget"},
			`the expression of alert CheckoutAvailability ("checkout errors burn the budget")`},
		{Request{Expr: long, Alert: "CheckoutAvailability"}, "the expression of alert CheckoutAvailability"},
		{Request{Expr: `sum(rate(x[1m]))`}, `sum(rate(x[1m]))`},
		{Request{Expr: long}, `the PromQL symptom "max without (sloth_window) (slo:sli_error:ratio_rate5m{} > 0…"`},
	} {
		r := &run{req: c.req}
		if got := r.promSymptomName(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
