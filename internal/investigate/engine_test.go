package investigate

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/horus-obs/horus/bench/eventgen"
	"github.com/horus-obs/horus/internal/changes"
	"github.com/horus-obs/horus/internal/store/events"
)

// planted is a store of bench/eventgen's shop with a fault planted: from
// onset, the payments server spans of one host fail with "connection
// refused", up the trace to the gateway, and orders logs a line naming
// the host; a config change on that host 2 minutes before.
type planted struct {
	store        *events.Store
	start, onset time.Time
	end          time.Time
	host         string // the culprit's host.name
	// stockHost is the inventory host.name that plantStockFault breaks.
	stockHost   string
	change      changes.Change
	spans, logs int
}

const testTenant = "t"

// nopTB stands for a testing.TB where there is none to fail: the
// benchmark's store, which outlives each run; a failure panics.
type nopTB struct{ testing.TB }

func (nopTB) Fatal(args ...any) { panic(fmt.Sprint(args...)) }

// fakeChanges lists fixed changes.
type fakeChanges []changes.Change

func (f fakeChanges) List(_ context.Context, q changes.Query) ([]changes.Change, error) {
	var out []changes.Change
	for _, c := range f {
		if !c.Time.Before(q.Start) && (q.End.IsZero() || !c.Time.After(q.End)) {
			out = append(out, c)
		}
	}
	return out, nil
}

// plant generates requests every step over [start, end) into a store at
// dir, with each of faults applied to the requests from onset on.
func plant(tb testing.TB, dir string, start, onset, end time.Time, step time.Duration, faults ...func(*eventgen.Request, *planted)) *planted {
	if tb == nil {
		tb = nopTB{}
	}
	s, err := events.Open(dir, slog.New(slog.DiscardHandler), events.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if _, ok := tb.(nopTB); !ok {
		tb.Cleanup(func() { _ = s.Close() })
	}
	p := &planted{store: s, start: start, onset: onset, end: end}
	ctx := context.Background()
	g := eventgen.New(7, start, step)
	var spans, logs []events.Event
	flush := func(force bool) {
		if len(spans) >= 5000 || force && len(spans) > 0 {
			if err := s.Append(ctx, testTenant, events.KindSpan, spans); err != nil {
				tb.Fatal(err)
			}
			p.spans += len(spans)
			spans = spans[:0]
		}
		if len(logs) >= 5000 || force && len(logs) > 0 {
			if err := s.Append(ctx, testTenant, events.KindLog, logs); err != nil {
				tb.Fatal(err)
			}
			p.logs += len(logs)
			logs = logs[:0]
		}
	}
	hosts := map[string]bool{}
	n := int(end.Sub(start) / step)
	for range n {
		r := g.Next()
		if r.Spans[0].Time >= onset.UnixNano() {
			for _, f := range faults {
				f(&r, p)
			}
		}
		for _, sp := range r.Spans {
			if sp.Service == "payments" {
				h, _ := sp.Resource.Get("host.name")
				hosts[h.Str] = true
			}
		}
		spans = append(spans, r.Spans...)
		logs = append(logs, r.Logs...)
		flush(false)
	}
	flush(true)
	s.Maintain(ctx, true)
	if p.host == "" {
		var hs []string
		for h := range hosts {
			hs = append(hs, h)
		}
		slices.Sort(hs)
		p.host = hs[len(hs)-1]
	}
	p.change = changes.Change{ID: "c1", Kind: changes.KindConfig, Service: "payments", Instance: p.host, Version: "3.2.5",
		Description: "pool size 0", Time: onset.Add(-2 * time.Minute), Source: changes.SourceAPI, Tenant: testTenant}
	return p
}

func plantFault(r *eventgen.Request, p *planted) {
	var pay *events.Event
	for i := range r.Spans {
		sp := &r.Spans[i]
		if sp.Service == "payments" && sp.SpanKind == kindServer {
			pay = sp
		}
	}
	if pay == nil {
		return
	}
	h, _ := pay.Resource.Get("host.name")
	if p.host == "" {
		if !strings.HasSuffix(h.Str, "-2") {
			return
		}
		p.host = h.Str
	}
	if h.Str != p.host {
		return
	}
	byID := map[events.SpanID]*events.Event{}
	for i := range r.Spans {
		byID[r.Spans[i].SpanID] = &r.Spans[i]
	}
	for sp := pay; sp != nil; sp = byID[sp.ParentSpanID] {
		sp.StatusCode, sp.StatusMessage = statusError, ""
	}
	pay.StatusMessage = "dial tcp: connection refused"
	for i := range r.Spans { // the bank call does not happen
		if r.Spans[i].ParentSpanID == pay.SpanID {
			r.Spans[i].StatusCode = 0
		}
	}
	r.Logs = append(r.Logs, events.Event{Time: pay.Time + 1000, TraceID: pay.TraceID, SpanID: pay.ParentSpanID, Service: "orders",
		Resource: r.Spans[1].Resource, Severity: 17, SeverityText: "ERROR", Body: "connection refused to " + p.host})
}

func TestInvestigatePlanted(t *testing.T) {
	start := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	onset := start.Add(80 * time.Minute)
	p := plant(t, t.TempDir(), start, onset, start.Add(2*time.Hour), 500*time.Millisecond, plantFault)
	e := New(Options{Events: p.store, Changes: fakeChanges{p.change}})
	res, err := e.Investigate(context.Background(), Request{Tenant: testTenant, Service: "api-gateway", Signal: SignalErrors,
		Start: start.Add(time.Hour), End: start.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("%s", b)
	od := res.Onset.Details.(*OnsetDetails)
	if od.Onset == nil || od.Onset.Sub(onset).Abs() > 30*time.Second {
		t.Errorf("onset %v, want %v", od.Onset, onset)
	}
	if len(res.Findings) == 0 || res.Findings[0].Kind != KindBubbleUp || !strings.Contains(res.Findings[0].Statement, p.host) {
		t.Fatalf("top finding %+v, want BubbleUp naming %s", first3(res.Findings), p.host)
	}
	kinds := map[string]string{}
	for _, f := range res.Findings {
		if _, ok := kinds[f.Kind]; !ok {
			kinds[f.Kind] = f.Statement
		}
	}
	// The onset is the first failure, a request or two after the fault.
	if s := kinds[KindChange]; !strings.Contains(s, p.host) || !regexp.MustCompile(`2m[0-9]?s? before the onset`).MatchString(s) {
		t.Errorf("change finding %q, want the config change on %s 2m before", s, p.host)
	}
	if s := kinds[KindLogs]; !strings.Contains(s, "connection refused to <_>") {
		t.Errorf("log finding %q, want `connection refused to <_>`", s)
	}
	if s := kinds[KindWhere]; !strings.Contains(s, `payments server span "POST /charge" fails first`) {
		t.Errorf("where finding %q, want the payments server span", s)
	}
	if !res.ClearCulprit || !strings.Contains(res.Summary, p.host) {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestInvestigateNoFault(t *testing.T) {
	start := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	p := plant(t, t.TempDir(), start, start.Add(80*time.Minute), start.Add(2*time.Hour), 500*time.Millisecond)
	e := New(Options{Events: p.store, Changes: fakeChanges{}})
	res, err := e.Investigate(context.Background(), Request{Tenant: testTenant, Service: "api-gateway", Signal: SignalErrors,
		Start: start.Add(time.Hour), End: start.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Onset.Details.(*OnsetDetails).Onset != nil {
		t.Errorf("an onset in steady noise: %s", res.Onset.Statement)
	}
	for _, f := range res.Findings {
		if f.Score >= ClearScore {
			t.Errorf("a culprit without a fault: %+v", f)
		}
	}
	if res.ClearCulprit || !strings.Contains(res.Summary, "no clear culprit") {
		t.Errorf("summary %q", res.Summary)
	}
}

func first3(fs []Finding) string {
	var b strings.Builder
	for i, f := range fs {
		if i == 3 {
			break
		}
		fmt.Fprintf(&b, "\n  %.2f %s: %s", f.Score, f.Kind, f.Statement)
	}
	return b.String()
}

// plantStockFault is a second, independent fault: from onset, the
// inventory server spans of one host (the one ending in -1) fail with a
// deadlock, up the trace to the gateway, and inventory logs it.
func plantStockFault(r *eventgen.Request, p *planted) {
	byID := map[events.SpanID]*events.Event{}
	for i := range r.Spans {
		byID[r.Spans[i].SpanID] = &r.Spans[i]
	}
	for i := range r.Spans {
		inv := &r.Spans[i]
		if inv.Service != "inventory" || inv.SpanKind != kindServer {
			continue
		}
		h, _ := inv.Resource.Get("host.name")
		if !strings.HasSuffix(h.Str, "-1") {
			return
		}
		p.stockHost = h.Str
		for sp := inv; sp != nil; sp = byID[sp.ParentSpanID] {
			sp.StatusCode = statusError
		}
		inv.StatusMessage = "deadlock detected"
		r.Logs = append(r.Logs, events.Event{Time: inv.Time + 1000, TraceID: inv.TraceID, SpanID: inv.SpanID, Service: "inventory",
			Resource: inv.Resource, Severity: 17, SeverityText: "ERROR", Body: "stock read failed: deadlock detected on table stock"})
		return
	}
}

// TestInvestigateTwoFaults: two independent faults at once (a payments
// host refusing connections, an inventory host deadlocking, each with its
// change), investigated from the gateway's errors: both culprits are among
// the top findings.
func TestInvestigateTwoFaults(t *testing.T) {
	start := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	onset := start.Add(80 * time.Minute)
	p := plant(t, t.TempDir(), start, onset, start.Add(2*time.Hour), 500*time.Millisecond, plantFault, plantStockFault)
	if p.stockHost == "" {
		t.Fatal("no inventory host broken")
	}
	deploy := changes.Change{ID: "c2", Kind: changes.KindDeploy, Service: "inventory", Instance: p.stockHost, Version: "4.1.0",
		Time: onset.Add(-time.Minute), Source: changes.SourceAPI, Tenant: testTenant}
	e := New(Options{Events: p.store, Changes: fakeChanges{p.change, deploy}})
	res, err := e.Investigate(context.Background(), Request{Tenant: testTenant, Service: "api-gateway", Signal: SignalErrors,
		Start: start.Add(time.Hour), End: start.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("summary: %s", res.Summary)
	for _, f := range res.Findings {
		t.Logf("%.2f %s: %s", f.Score, f.Kind, f.Statement)
	}
	const top = 5
	for _, culprit := range []string{p.host, p.stockHost} {
		found := false
		for i, f := range res.Findings {
			if i == top {
				break
			}
			if f.Score >= ClearScore && strings.Contains(f.Statement, culprit) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s is not named by the top %d findings: %s", culprit, top, first3(res.Findings[:min(top, len(res.Findings))]))
		}
	}
	for _, c := range []changes.Change{p.change, deploy} {
		if !slices.ContainsFunc(res.Findings, func(f Finding) bool {
			return f.Kind == KindChange && f.Score >= ClearScore && strings.Contains(f.Statement, c.Instance)
		}) {
			t.Errorf("no change finding of %s on %s", c.Kind, c.Instance)
		}
	}
	if !res.ClearCulprit || !strings.Contains(res.Summary, p.host) || !strings.Contains(res.Summary, p.stockHost) {
		t.Errorf("the summary does not name both culprits: %s", res.Summary)
	}
}
