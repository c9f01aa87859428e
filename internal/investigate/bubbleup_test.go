package investigate

import (
	"testing"

	"github.com/horus-obs/horus/internal/store/events"
)

// twoCauses is a hand-made sample of two faults: of 10 bad traces, 6
// went to payments-1 and 4 (not through payments-1) to inventory-2; the
// 20 good traces went to payments-3 and inventory-1. The sample stands
// for 100 bad and 1,000 good requests.
func twoCauses() *run {
	r := &run{e: New(Options{}), req: Request{Service: "api-gateway", Signal: SignalErrors}, res: &Result{}, traces: &traceSample{}}
	id := byte(0)
	mk := func(bad bool, payments, inventory string) *trace {
		id++
		inst := func(v string) events.Attrs {
			return events.Attrs{{Key: "service.instance.id", Value: events.Str(v)}}
		}
		return &trace{id: events.TraceID{id}, bad: bad, spans: []*span{
			{id: events.SpanID{1}, service: "api-gateway", name: "POST /api/orders", kind: kindServer, isEntryBad: bad, isEntryGood: !bad},
			{id: events.SpanID{2}, parent: events.SpanID{1}, service: "payments", name: "POST /pay", kind: kindServer, res: inst(payments)},
			{id: events.SpanID{3}, parent: events.SpanID{1}, service: "inventory", name: "GET /stock", kind: kindServer, res: inst(inventory)},
		}}
	}
	for range 6 {
		r.traces.bad = append(r.traces.bad, mk(true, "payments-1", "inventory-1"))
	}
	for range 4 {
		r.traces.bad = append(r.traces.bad, mk(true, "payments-3", "inventory-2"))
	}
	for range 20 {
		r.traces.good = append(r.traces.good, mk(false, "payments-3", "inventory-1"))
	}
	r.res.Sampling.BadSpans, r.res.Sampling.EntrySpans = 100, 1100
	return r
}

// A further cause's shares: BadShare over the bad traces left without the
// first cause, AllBadShare over all of them, AllShare over all requests
// (weighted by the real numbers of bad and good requests, as the first
// cause's), not over the residual and the good sample.
func TestFurtherCauseShares(t *testing.T) {
	r := twoCauses()
	r.bubbleUp()
	if len(r.bubble) < 2 {
		t.Fatalf("ranked %+v, want payments-1 then inventory-2", r.bubble)
	}
	first, further := r.bubble[0], r.bubble[1]
	// payments-1: 6 of 10 bad, 0 of 20 good; of all: (.6 × 100 + 0 × 1000) / 1100.
	if first.Value != "payments-1" || !near(first.BadShare, 0.6, 1e-9) || !near(first.AllBadShare, 0.6, 1e-9) ||
		!near(first.AllShare, 60.0/1100, 1e-9) || !near(first.Score, 0.6, 1e-9) {
		t.Errorf("first cause %+v, want payments-1: .6 of bad, 60/1100 of all", first)
	}
	// inventory-2: 4 of the 4 bad without payments-1 (BadShare 1), 4 of
	// all 10 bad (.4), 0 of 20 good; of all: (.4 × 100 + 0) / 1100 =
	// .0364, where the residual and the good sample would say
	// 4 / 24 = .167. Its score is at most the first's.
	if further.Value != "inventory-2" || len(further.Without) != 1 || further.Without[0].Value != "payments-1" || further.WithoutBad != 4 {
		t.Fatalf("further cause %+v, want inventory-2 without payments-1 over 4 bad traces", further)
	}
	if !near(further.BadShare, 1, 1e-9) || !near(further.AllBadShare, 0.4, 1e-9) || !near(further.GoodShare, 0, 1e-9) ||
		!near(further.AllShare, 40.0/1100, 1e-9) || !near(further.Score, 0.6, 1e-9) {
		t.Errorf("further cause's figures %+v, want badShare 1, allBadShare .4, goodShare 0, allShare 40/1100, score .6", further)
	}
	fs := r.bubbleFindings()
	want := "a further cause: service.instance.id=inventory-2: 100% of the 4 failing requests without service.instance.id=payments-1 " +
		"(40% of all failing requests), 0% of the others, 3.6% of all"
	if len(fs) < 2 || fs[1].Statement != want {
		t.Errorf("statements %q, want the second %q", statements(fs), want)
	}
}

func statements(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Statement)
	}
	return out
}
