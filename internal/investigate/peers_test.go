package investigate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/horus-obs/horus/internal/store/events"
)

// refusedShop is a hand-made sample: the gateway calls one of three
// payments instances by address (127.0.0.1:2001 to 2003, round robin);
// payments-2 refuses its connections in the bad traces, which hold the
// gateway's failing client span and no payments span. Before, payments-2
// served a few calls (its server spans say at which address).
func refusedShop(nBad, nGood int) *run {
	r := &run{e: New(Options{}), req: Request{Service: "api-gateway", Signal: SignalErrors}, res: &Result{},
		entries: &entrySet{}, traces: &traceSample{}}
	id := byte(0)
	mk := func(bad bool, inst int, port int, served bool, ephemeral int) *trace {
		id++
		t := &trace{id: events.TraceID{id}, bad: bad}
		gwRes := events.Attrs{{Key: "service.instance.id", Value: events.Str("api-gateway-1")}}
		entry := &span{id: events.SpanID{1}, service: "api-gateway", name: "POST /api/orders", kind: kindServer, res: gwRes,
			isEntryBad: bad, isEntryGood: !bad, dur: 10, attrs: events.Attrs{{Key: "network.peer.port", Value: events.Int(int64(ephemeral))}}}
		client := &span{id: events.SpanID{2}, parent: events.SpanID{1}, service: "api-gateway", name: "POST", kind: kindClient, res: gwRes,
			start: 1, dur: 5, attrs: events.Attrs{
				{Key: "peer.service", Value: events.Str("payments")},
				{Key: "server.address", Value: events.Str("127.0.0.1")},
				{Key: "server.port", Value: events.Int(int64(port))},
				{Key: "url.full", Value: events.Str(fmt.Sprintf("http://127.0.0.1:%d/payments", port))},
			}}
		t.spans = []*span{entry, client}
		if bad {
			entry.status, client.status = statusError, statusError
			client.statusMsg = fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", port)
		}
		status := map[bool]string{true: "failed", false: "paid"}[bad]
		t.spans = append(t.spans, &span{id: events.SpanID{9}, service: "api-gateway", name: "order", kind: 1, parent: events.SpanID{1},
			attrs: events.Attrs{{Key: "order.status", Value: events.Str(status)}}})
		if served {
			t.spans = append(t.spans, &span{id: events.SpanID{3}, parent: events.SpanID{2}, service: "payments", name: "POST /payments",
				kind: kindServer, start: 2, dur: 2,
				res:   events.Attrs{{Key: "service.instance.id", Value: events.Str(fmt.Sprintf("payments-%d", inst))}},
				attrs: events.Attrs{{Key: "server.address", Value: events.Str("127.0.0.1")}, {Key: "server.port", Value: events.Int(int64(port))}}})
		}
		return t
	}
	for i := range nGood {
		inst := []int{1, 3}[i%2]
		r.traces.good = append(r.traces.good, mk(false, inst, 2000+inst, true, 40000+i))
	}
	// Before the fault, payments-2 served at 2002: a few good traces.
	for i := range 3 {
		r.traces.good = append(r.traces.good, mk(false, 2, 2002, true, 40000+nGood+i))
	}
	for i := range nBad {
		r.traces.bad = append(r.traces.bad, mk(true, 2, 2002, false, 50000+i))
	}
	r.res.Sampling.BadSpans, r.res.Sampling.EntrySpans = nBad, nBad+len(r.traces.good)
	return r
}

// A refused connection leaves no span of the callee: the failing client
// span's address, served by payments-2 in other traces, names it, in
// BubbleUp (with url.full as an alias, the ports demoted), in where
// ("api-gateway → payments ... payments-2") and among the implicated.
func TestPeerOfRefusedCall(t *testing.T) {
	r := refusedShop(20, 40)
	r.resolvePeers(context.Background(), append(append([]*trace{}, r.traces.bad...), r.traces.good...))
	r.bubbleUp()
	r.findWhere()
	if len(r.bubble) == 0 {
		t.Fatal("no BubbleUp pair")
	}
	top := r.bubble[0]
	if top.Service != "payments" || top.Key != "service.instance.id" || top.Value != "payments-2" || top.Bad != 20 || top.Good != 3 {
		t.Fatalf("top pair %+v, want payments service.instance.id=payments-2 on 20 bad and 3 good", top.Dim)
	}
	for _, d := range r.bubble {
		if d.Demoted == "" {
			continue
		}
		if d.Score >= top.Score || d.Score > d.BadShare-d.GoodShare {
			t.Errorf("demoted %s ranks at %.3f", d.label(), d.Score)
		}
	}
	for _, d := range r.bubble {
		if d.Key == "order.status" && d.Demoted != "outcome" {
			t.Errorf("order.status not demoted as an outcome: %+v", d)
		}
		if (d.Key == "network.peer.port" || d.Key == "server.port" || d.Key == "url.full") && d.Demoted != "transport" {
			t.Errorf("%s not demoted as transport: %+v", d.Key, d)
		}
	}
	fs := r.bubbleFindings()
	if !strings.Contains(fs[0].Statement, "payments-2") || !strings.Contains(fs[0].Statement, "only as the callee of a client span") {
		t.Errorf("first BubbleUp statement %q", fs[0].Statement)
	}
	if det := fs[0].Details.(*BubbleUpDetails); det.PeerOnly != 20 || len(det.ExampleTraces) != 3 {
		t.Errorf("peerOnly %d, examples %v: want 20 and 3", det.PeerOnly, det.ExampleTraces)
	}
	var byAddr bool
	for _, e := range fs[0].Evidence {
		byAddr = byAddr || strings.Contains(e.Query, `span.server.address="127.0.0.1" && span.server.port=2002`)
	}
	if !byAddr {
		t.Errorf("no evidence of the calls by address: %+v", fs[0].Evidence)
	}
	ws := r.whereFindings()
	if len(ws) == 0 {
		t.Fatal("no where finding")
	}
	want := `api-gateway → payments client span "POST" fails first in 100% of failing requests (payments-2 on 100% of them): "dial tcp 127.0.0.1:2002: connect: connection refused"`
	if ws[0].Statement != want {
		t.Errorf("where:\n got %s\nwant %s", ws[0].Statement, want)
	}
	services, instances := r.implicated()
	if !slices.Contains(services, "payments") || !slices.Contains(instances, "payments-2") {
		t.Errorf("implicated %v %v, want payments and payments-2", services, instances)
	}
}

// An address two instances served (a proxy in front) names no
// instance; a client span's own peer.service is kept.
func TestPeerAmbiguousAddress(t *testing.T) {
	r := refusedShop(5, 10)
	// payments-1 also answered at 2002.
	for _, tr := range r.traces.good[:5] {
		for _, sp := range tr.spans {
			if sp.kind == kindServer && sp.service == "payments" {
				sp.attrs = events.Attrs{{Key: "server.address", Value: events.Str("127.0.0.1")}, {Key: "server.port", Value: events.Int(2002)}}
			}
		}
	}
	r.resolvePeers(context.Background(), append(append([]*trace{}, r.traces.bad...), r.traces.good...))
	for _, tr := range r.traces.bad {
		for _, sp := range tr.spans {
			if sp.kind == kindClient && (sp.peer == nil || sp.peer.service != "payments" || sp.peer.instance != "") {
				t.Fatalf("peer %+v, want payments with no instance", sp.peer)
			}
		}
	}
}

func TestClientAddr(t *testing.T) {
	for _, c := range []struct {
		attrs events.Attrs
		want  string
	}{
		{events.Attrs{{Key: "server.address", Value: events.Str("10.0.0.7")}, {Key: "server.port", Value: events.Int(8080)}}, "10.0.0.7:8080"},
		{events.Attrs{{Key: "url.full", Value: events.Str("http://payments-2.svc:9000/pay?x=1")}}, "payments-2.svc:9000"},
		{events.Attrs{{Key: "url.full", Value: events.Str("https://bank.example/pay")}}, ""},
		{events.Attrs{{Key: "network.peer.address", Value: events.Str("::1")}, {Key: "network.peer.port", Value: events.Int(7)}}, "[::1]:7"},
	} {
		if got := clientAddr(&span{attrs: c.attrs}); got != c.want {
			t.Errorf("clientAddr(%v) = %q, want %q", c.attrs, got, c.want)
		}
	}
}

// The instance that refuses since the onset served before it: its
// server spans are in traces read but not compared (the good traces are
// those after the onset), and still resolve the address.
func TestPeerServedBeforeOnset(t *testing.T) {
	r := refusedShop(10, 30)
	before := r.traces.good[30:]
	r.traces.good = r.traces.good[:30]
	all := append(append(append([]*trace{}, r.traces.bad...), r.traces.good...), before...)
	r.resolvePeers(context.Background(), all)
	r.bubbleUp()
	if len(r.bubble) == 0 || r.bubble[0].Value != "payments-2" || r.bubble[0].Bad != 10 || r.bubble[0].Good != 0 {
		t.Fatalf("top pair %+v, want payments-2 on the 10 bad traces", r.bubble)
	}
}
