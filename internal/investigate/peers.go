package investigate

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"

	"github.com/horus-obs/horus/internal/store/events"
)

// A client span names the service it calls by peer.service and the
// address it dialled (server.address and server.port, else url.full's
// host, else network.peer.address and network.peer.port). When the call
// never reached the callee (a refused connection, a timeout before the
// request was read) there is no server span under it, so the callee's
// instance is on no span of the trace. resolvePeers finds it: the server
// spans of the sample say which instance serves which address (their
// server.address and server.port, from the Host the caller dialled), and
// a client span whose address one instance serves is attributed to it.
// The server spans are those of every trace read (before the onset too:
// an instance refusing since the onset served before it), and, for an
// address none of them served, those of the callee in the window
// (peerScanLimit spans at most).

// peerRef is the callee of a client span: its service and, when the
// address was resolved, its instance (the instance key and value, as its
// resource names it).
type peerRef struct {
	service     string
	instanceKey string
	instance    string
}

// clientAddr is the address a client span dialled, "host:port" ("" when
// it has none).
func clientAddr(sp *span) string {
	get := func(k string) string {
		if v, ok := sp.attrs.Get(k); ok {
			return v.String()
		}
		return ""
	}
	if h, p := get("server.address"), get("server.port"); h != "" && p != "" {
		return net.JoinHostPort(h, p)
	}
	for _, k := range []string{"url.full", "http.url"} {
		if u, err := url.Parse(get(k)); err == nil && u.Host != "" && u.Port() != "" {
			return u.Host
		}
	}
	if h, p := get("network.peer.address"), get("network.peer.port"); h != "" && p != "" {
		return net.JoinHostPort(h, p)
	}
	if h, p := get("net.peer.name"), get("net.peer.port"); h != "" && p != "" {
		return net.JoinHostPort(h, p)
	}
	return ""
}

// serverAddr is the address a server span was called at ("" when it
// does not say): server.address and server.port (net.host.name and
// net.host.port in older conventions).
func serverAddr(sp *span) string {
	for _, ks := range [][2]string{{"server.address", "server.port"}, {"net.host.name", "net.host.port"}} {
		h, okH := sp.attrs.Get(ks[0])
		p, okP := sp.attrs.Get(ks[1])
		if okH && okP && h.String() != "" && p.String() != "" {
			return net.JoinHostPort(h.String(), p.String())
		}
	}
	return ""
}

// instanceKeyOf is the instance key and value a resource names.
func instanceKeyOf(sp *span) (key, value string) {
	for _, k := range instanceKeys {
		if v, ok := sp.res.Get(k); ok && v.String() != "" {
			return k, v.String()
		}
	}
	return "", ""
}

// peerScanLimit bounds the spans read by the scan of a callee's server
// spans at an address no sampled trace showed served.
const peerScanLimit = 20000

// maxPeerScans bounds those scans (one per address).
const maxPeerScans = 4

var errEnough = errors.New("enough")

// resolvePeers sets the peer of every client span of all, the traces
// read: its peer.service, or the service serving its address; and the
// instance serving its address when one instance serves at least 90% of
// the server spans called there.
func (r *run) resolvePeers(ctx context.Context, all []*trace) {
	type inst struct{ service, key, value string }
	votes := map[string]map[inst]int{} // address → instances serving it
	vote := func(sp *span) {
		addr := serverAddr(sp)
		k, v := instanceKeyOf(sp)
		if addr == "" || v == "" {
			return
		}
		if votes[addr] == nil {
			votes[addr] = map[inst]int{}
		}
		votes[addr][inst{sp.service, k, v}]++
	}
	for _, t := range all {
		for _, sp := range t.spans {
			if sp.kind == kindServer {
				vote(sp)
			}
		}
	}
	// Addresses the failing calls dialled that no server span read
	// says is served: the callee's server spans in the window.
	scans := 0
	for _, t := range r.traces.bad {
		for _, sp := range t.spans {
			if sp.kind != kindClient || scans == maxPeerScans || r.e == nil || r.e.o.Events == nil {
				continue
			}
			peer, ok := sp.attrs.Get("peer.service")
			addr := clientAddr(sp)
			host, port := hostPort(addr)
			if !ok || port == "" || votes[addr] != nil {
				continue
			}
			scans++
			votes[addr] = map[inst]int{}
			q := events.Query{Tenant: r.req.Tenant, Kind: events.KindSpan, Start: r.req.Start.UnixNano(), End: r.req.End.UnixNano(),
				Filters: []events.Filter{{Field: "service_name", Op: events.Eq, Value: peer.String()},
					{Field: "attrs.server.port", Op: events.Eq, Value: port}, {Field: "attrs.server.address", Op: events.Eq, Value: host}},
				Fields: []string{"service_name", "kind", "resource", "attrs"}}
			n := 0
			_, err := r.e.o.Events.Scan(ctx, q, func(evs []events.Event) error {
				for i := range evs {
					e := &evs[i]
					if e.SpanKind == kindServer {
						vote(&span{service: e.Service, kind: e.SpanKind, res: e.Resource, attrs: e.Attrs})
					}
					if n++; n >= peerScanLimit {
						return errEnough
					}
				}
				return nil
			})
			if err != nil && !errors.Is(err, errEnough) {
				r.warn("the instance serving %s: %v", addr, err)
			}
		}
	}
	serving := map[string]inst{}
	for addr, vs := range votes {
		total, best, n := 0, inst{}, 0
		for in, c := range vs {
			total += c
			if c > n || c == n && in.value < best.value {
				best, n = in, c
			}
		}
		if float64(n) >= 0.9*float64(total) {
			serving[addr] = best
		}
	}
	for _, t := range all {
		for _, sp := range t.spans {
			if sp.kind != kindClient {
				continue
			}
			var p peerRef
			if v, ok := sp.attrs.Get("peer.service"); ok {
				p.service = v.String()
			}
			if in, ok := serving[clientAddr(sp)]; ok && (p.service == "" || p.service == in.service) && in.service != sp.service {
				p = peerRef{service: in.service, instanceKey: in.key, instance: in.value}
			}
			if p.service != "" {
				sp.peer = &p
			}
		}
	}
}

// peerOnly reports whether a trace has the instance pair d only as the
// callee of a client span (no span of the instance itself).
func peerOnly(t *trace, d Dim) bool {
	if d.Op != "=" || d.Service == "" {
		return false
	}
	called := false
	for _, sp := range t.spans {
		if sp.service == d.Service {
			if v, ok := sp.res.Get(d.Key); ok && v.String() == d.Value {
				return false
			}
		}
		if p := sp.peer; p != nil && p.service == d.Service && p.instanceKey == d.Key && p.instance == d.Value {
			called = true
		}
	}
	return called
}

// addrOfPeer is the address a trace's client spans dialled to reach the
// instance of d ("" when none did).
func addrOfPeer(t *trace, d Dim) string {
	for _, sp := range t.spans {
		if p := sp.peer; p != nil && p.service == d.Service && p.instanceKey == d.Key && p.instance == d.Value {
			return clientAddr(sp)
		}
	}
	return ""
}

// hostPort splits "host:port" ("" parts when it is not one).
func hostPort(addr string) (host, port string) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", ""
	}
	return strings.Trim(h, "[]"), p
}
