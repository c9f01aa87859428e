package investigate

import (
	"math"
	"strings"
	"testing"
	"time"
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

// The summary says one log pattern: the same error logged by three
// services leaves room for the saturation that explains it.
func TestSummaryOnePerKind(t *testing.T) {
	r := &run{req: Request{Service: "orders"}, entries: &entrySet{}, onsetOK: true, res: &Result{}}
	r.res.Onset.Details = &OnsetDetails{Method: "binomial", Before: 0, After: 0.5, Onset: &time.Time{}}
	fs := []Finding{
		{Kind: KindLogs, Score: 0.8, Statement: "log A"},
		{Kind: KindLogs, Score: 0.8, Statement: "log B"},
		{Kind: KindWhere, Score: 0.75, Statement: "where"},
		{Kind: KindLogs, Score: 0.74, Statement: "log C"},
		{Kind: KindSaturation, Score: 0.7, Statement: "pool wait"},
		{Kind: KindSaturation, Score: 0.7, Statement: "pool in use"},
		{Kind: KindChange, Score: 0.6, Statement: "change"},
		{Kind: KindChange, Score: 0.5, Statement: "change 2"},
	}
	got, clear := r.summary(fs)
	want := "errors on orders rose from 0% to 50% at 00:00:00Z; log A; where; pool wait; change."
	if got != want || !clear {
		t.Errorf("summary\n got %s\nwant %s", got, want)
	}
}

// A window much longer than its data: the clean requests and the
// failing ones share one bucket, and the test on each span finds when
// the failures began.
func TestOnsetBySpan(t *testing.T) {
	start := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	s := &entrySet{start: start.UnixNano(), end: end.UnixNano(), step: int64(time.Hour / buckets)}
	first := end.Add(-20 * time.Second)
	for i := range 200 {
		at := first.Add(time.Duration(i) * 50 * time.Millisecond)
		s.list = append(s.list, entry{t: at.UnixNano(), err: i >= 100 && i%3 == 0})
	}
	r := &run{req: Request{Service: "api-gateway", Signal: SignalErrors}, res: &Result{}, entries: s}
	r.findOnset(t.Context())
	want := first.Add(100 * 50 * time.Millisecond)
	if !r.onsetOK || r.onset.Sub(want).Abs() > time.Second {
		t.Fatalf("onset %v (%v), want about %v", r.onset, r.onsetOK, want)
	}
	// Steady failures: no onset.
	for i := range s.list {
		s.list[i].err = i%3 == 0
	}
	r = &run{req: Request{Service: "api-gateway", Signal: SignalErrors}, res: &Result{}, entries: s}
	r.findOnset(t.Context())
	if r.onsetOK {
		t.Errorf("steady failures: onset at %v", r.onset)
	}
}
