package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/tenant"
)

// OTLP span kinds.
const (
	kindServer   = 2
	kindClient   = 3
	kindProducer = 4
	kindConsumer = 5
)

// Connection types of service-graph edges, as Tempo labels them; a call
// between two instrumented services has none.
const (
	ConnVirtualNode = "virtual_node"
	ConnDatabase    = "database"
	ConnMessaging   = "messaging_system"
)

// UserNode is the client of a root server span: whoever called the first
// instrumented service.
const UserNode = "user"

// DefaultPeerAttributes name the server of a client span that no server
// span answers: an uninstrumented service, database or external API.
var DefaultPeerAttributes = []string{"peer.service", "db.namespace", "db.name", "db.system", "server.address", "net.peer.name"}

// dbAttributes mark a client span as a database call, which has no server
// span to wait for.
var dbAttributes = []string{"db.namespace", "db.name", "db.system"}

// ServiceGraphOptions configure the service graph.
type ServiceGraphOptions struct {
	// Wait is how long half an edge (a client span without its server
	// span, or the reverse) waits for the other half.
	Wait time.Duration
	// MaxPending bounds the half edges waiting; spans beyond it are
	// counted in horus_servicegraph_dropped_spans_total.
	MaxPending int
	// PeerAttributes, in order, name the server of a client span whose
	// server span never came (a virtual node).
	PeerAttributes []string
	// Buckets, MaxSeries and StaleAfter are as for span metrics; a series
	// here is one edge.
	Buckets    []float64
	MaxSeries  int
	StaleAfter time.Duration
}

// ServiceGraph derives Tempo metrics-generator's service-graph metrics:
// an edge is a client span and the server span it caused (or a producer
// and its consumer), paired by trace and span id. For every edge client →
// server it counts traces_service_graph_request_total and
// traces_service_graph_request_failed_total (either side has status
// error) and observes traces_service_graph_request_server_seconds (the
// server span's duration) and ..._client_seconds (the client's); for
// messaging, ..._messaging_system_seconds (producer end to consumer
// start).
//
// Calls out of what is instrumented become edges to virtual nodes, as in
// Tempo: a client span with db.* attributes is a database edge at once; a
// client span still unpaired after Wait is an edge to the node its peer
// attributes name (peer.service, then db.*, then server.address); a root
// server span is an edge from "user". Where an edge has one side only,
// both latency histograms get that side's duration.
//
// Spans pair within their tenant only, and the series of a tenant other
// than tenant.Default carry the reserved label tenant.Label.
type ServiceGraph struct {
	opts ServiceGraphOptions

	mu         sync.Mutex
	pending    map[edgeKey]*halfEdge
	series     *groups
	buf        []byte
	nextExpiry time.Time

	unpaired prometheus.Counter
	dropped  *prometheus.CounterVec
}

type edgeKey struct {
	tenant string
	trace  events.TraceID
	span   events.SpanID // the client's span id: the server's parent
}

// halfEdge is an edge while one side of it is known. Client spans and
// server spans of the same call meet here.
type halfEdge struct {
	client, server string // service names; "" for the side not seen
	clientX        spanExemplar
	serverX        spanExemplar
	failed         bool
	messaging      bool
	peer           string // the client span's peer node name, if any
	clientEnd      int64  // ns; producer end, for messaging latency
	serverStart    int64
	expires        time.Time
}

// The counters and histograms of a service-graph edge.
const (
	sgRequests = iota
	sgFailed
)
const (
	sgServerSecs = iota
	sgClientSecs
	sgMessagingSecs
)

// NewServiceGraph returns the deriver. reg, if not nil, gets its own
// metrics.
func NewServiceGraph(opts ServiceGraphOptions, reg prometheus.Registerer) *ServiceGraph {
	if opts.Wait <= 0 {
		opts.Wait = 10 * time.Second
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 10000
	}
	if opts.PeerAttributes == nil {
		opts.PeerAttributes = DefaultPeerAttributes
	}
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "horus_servicegraph_dropped_spans_total",
		Help: "Client and server spans left out of the service graph, by reason: max_pending (too many half edges waiting) or max_series (too many edges).",
	}, []string{"reason"})
	g := &ServiceGraph{
		opts:    opts,
		pending: map[edgeKey]*halfEdge{},
		series: newGroups(groupSpec{
			counters:   []string{"traces_service_graph_request_total", "traces_service_graph_request_failed_total"},
			histograms: []string{"traces_service_graph_request_server_seconds", "traces_service_graph_request_client_seconds", "traces_service_graph_request_messaging_system_seconds"},
			buckets:    opts.Buckets,
		}, opts.MaxSeries, opts.StaleAfter, dropped.WithLabelValues("max_series")),
		unpaired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horus_servicegraph_unpaired_spans_total",
			Help: "Client and server spans whose other half did not come within the wait and that name no peer: no edge.",
		}),
		dropped: dropped,
	}
	if reg != nil {
		reg.MustRegister(g.unpaired, g.dropped, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "horus_servicegraph_pending_edges",
			Help: "Half edges (a client span without its server span, or the reverse) waiting for their other half.",
		}, func() float64 {
			g.mu.Lock()
			defer g.mu.Unlock()
			return float64(len(g.pending))
		}))
	}
	return g
}

// DeriveSpans implements SpanDeriver.
func (g *ServiceGraph) DeriveSpans(tenantID string, spans []events.Event) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range spans {
		e := &spans[i]
		switch e.SpanKind {
		case kindClient, kindProducer:
			if e.SpanKind == kindClient {
				if db := firstAttr(e, dbAttributes); db != "" {
					x := exemplarOf(e, secs(e.Duration))
					g.record(tenantID, e.Service, db, ConnDatabase, e.StatusCode == 2, x, x, spanExemplar{}, now)
					continue
				}
			}
			h := g.half(edgeKey{tenantID, e.TraceID, e.SpanID}, now)
			if h == nil {
				continue
			}
			h.client, h.clientX, h.clientEnd = e.Service, exemplarOf(e, secs(e.Duration)), e.End()
			h.messaging = e.SpanKind == kindProducer
			h.failed = h.failed || e.StatusCode == 2
			h.peer = firstAttr(e, g.opts.PeerAttributes)
			g.complete(tenantID, edgeKey{tenantID, e.TraceID, e.SpanID}, h, now)
		case kindServer, kindConsumer:
			if e.ParentSpanID == (events.SpanID{}) {
				x := exemplarOf(e, secs(e.Duration))
				g.record(tenantID, UserNode, e.Service, ConnVirtualNode, e.StatusCode == 2, x, x, spanExemplar{}, now)
				continue
			}
			k := edgeKey{tenantID, e.TraceID, e.ParentSpanID}
			h := g.half(k, now)
			if h == nil {
				continue
			}
			h.server, h.serverX, h.serverStart = e.Service, exemplarOf(e, secs(e.Duration)), e.Time
			h.failed = h.failed || e.StatusCode == 2
			g.complete(tenantID, k, h, now)
		}
	}
	if now.After(g.nextExpiry) {
		g.expire(now)
		g.nextExpiry = now.Add(time.Second)
	}
}

func secs(ns int64) float64 { return float64(ns) / 1e9 }

// firstAttr is the value of the first of keys the span (or its resource)
// has.
func firstAttr(e *events.Event, keys []string) string {
	for _, k := range keys {
		if v, ok := e.Attr(k); ok {
			if s := v.String(); s != "" {
				return s
			}
		}
	}
	return ""
}

// half returns the half edge of k, made if new; nil (and a dropped span)
// if there are MaxPending already.
func (g *ServiceGraph) half(k edgeKey, now time.Time) *halfEdge {
	if h, ok := g.pending[k]; ok {
		return h
	}
	if len(g.pending) >= g.opts.MaxPending {
		g.dropped.WithLabelValues("max_pending").Inc()
		return nil
	}
	h := &halfEdge{expires: now.Add(g.opts.Wait)}
	g.pending[k] = h
	return h
}

// complete records the edge of h if both its sides are known.
func (g *ServiceGraph) complete(tenantID string, k edgeKey, h *halfEdge, now time.Time) {
	if h.client == "" || h.server == "" {
		return
	}
	delete(g.pending, k)
	conn, msg := "", spanExemplar{}
	if h.messaging {
		conn = ConnMessaging
		msg = h.serverX
		msg.secs = max(secs(h.serverStart-h.clientEnd), 0)
	}
	g.record(tenantID, h.client, h.server, conn, h.failed, h.clientX, h.serverX, msg, now)
}

// expire ends the half edges past their wait: a client span with a peer
// becomes an edge to a virtual node, the rest are unpaired.
func (g *ServiceGraph) expire(now time.Time) {
	for k, h := range g.pending {
		if now.Before(h.expires) {
			continue
		}
		delete(g.pending, k)
		if h.server == "" && h.peer != "" {
			g.record(k.tenant, h.client, h.peer, ConnVirtualNode, h.failed, h.clientX, h.clientX, spanExemplar{}, now)
			continue
		}
		g.unpaired.Inc()
	}
}

// record counts one request on the edge client → server.
func (g *ServiceGraph) record(tenantID, client, server, conn string, failed bool, clientX, serverX, msgX spanExemplar, now time.Time) {
	b := g.buf[:0]
	b = append(b, tenantID...)
	b = append(b, 0xff)
	b = append(b, client...)
	b = append(b, 0xff)
	b = append(b, server...)
	b = append(b, 0xff)
	b = append(b, conn...)
	g.buf = b
	h := xxhash.Sum64(b)
	s, ok := g.series.m[h]
	if !ok {
		lb := labels.NewScratchBuilder(4)
		lb.Add("client", client)
		lb.Add("server", server)
		if conn != "" {
			lb.Add("connection_type", conn)
		}
		if tenantID != tenant.Default {
			lb.Add(tenant.Label, tenantID)
		}
		lb.Sort()
		if s = g.series.add(h, lb.Labels()); s == nil {
			return
		}
	}
	s.counters[sgRequests]++
	if failed {
		s.counters[sgFailed]++
	}
	bounds := g.series.spec.buckets
	s.hists[sgServerSecs].observe(bounds, serverX)
	s.hists[sgClientSecs].observe(bounds, clientX)
	if msgX.ms != 0 {
		s.hists[sgMessagingSecs].observe(bounds, msgX)
	}
	s.updated = now
}

// Flush ends the half edges past their wait, then writes every edge's
// current values at time now to app and commits; edges idle for
// StaleAfter get a staleness marker and are forgotten.
func (g *ServiceGraph) Flush(ctx context.Context, app storage.AppendableV2, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(now)
	return g.series.flush(ctx, app, now)
}

// Run flushes every interval until ctx ends, then once more.
func (g *ServiceGraph) Run(ctx context.Context, app storage.AppendableV2, interval time.Duration, logger *slog.Logger) {
	runFlusher(ctx, g, app, interval, logger)
}
