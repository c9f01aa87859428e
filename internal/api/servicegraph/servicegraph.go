// Package servicegraph serves GET /api/v1/service-graph: the services and
// the calls between them over a time range, with request rate, error rate
// and p99 latency, read with PromQL from the traces_service_graph_*
// metrics the service-graph deriver writes.
package servicegraph

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/api/promeval"
	"github.com/horus-obs/horus/internal/pipeline"
	"github.com/horus-obs/horus/internal/tenant"
)

// Graph is the answer's data.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// Stats are the calls into a node, or over an edge, in the range.
type Stats struct {
	// Rate is requests per second, averaged over the range.
	Rate float64 `json:"rate"`
	// ErrorRate is the share of those requests that failed, 0 to 1.
	ErrorRate float64 `json:"errorRate"`
	// P99Seconds is the 99th percentile server latency, estimated from
	// the histogram's buckets; null without requests.
	P99Seconds *float64 `json:"p99Seconds"`
}

// Node is a service, or a virtual node: "user" (the callers of root
// spans), a database, a messaging system's consumer or an
// uninstrumented peer.
type Node struct {
	ID string `json:"id"`
	// Type is "service" (it sent spans), "user", "database" or "virtual".
	Type string `json:"type"`
	// Stats are of the calls it received.
	Stats
}

// Edge is the calls from Source to Target.
type Edge struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// ConnectionType is "", "database", "messaging_system" or
	// "virtual_node", as Tempo labels it.
	ConnectionType string `json:"connectionType,omitempty"`
	Stats
}

// Handler answers GET /api/v1/service-graph?start=&end= (Prometheus'
// time formats; the last hour by default) for the tenant of
// X-Scope-OrgID, reading q as Build does.
func Handler(engine promql.QueryEngine, q storage.Queryable, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org, err := tenant.FromHeader(r.Header.Get(tenant.Header))
		if err != nil {
			writeError(w, tenant.Header+" header: "+err.Error())
			return
		}
		start, end, err := promeval.Range(r, time.Now(), time.Hour)
		if err != nil {
			writeError(w, err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		g, err := Build(ctx, engine, q, org, start, end)
		if err != nil {
			promeval.WriteError(w, http.StatusInternalServerError, "execution", err.Error())
			return
		}
		promeval.Write(w, http.StatusOK, promeval.Response{Status: "success", Data: g})
	})
}

func writeError(w http.ResponseWriter, msg string) {
	promeval.WriteError(w, http.StatusBadRequest, "bad_data", msg)
}

// edgeID is an edge's labels.
type edgeID struct{ client, server, conn string }

// Build reads the graph of tenant org between start and end from q, a
// queryable of the tenant of the context (metrics.Tenancy), which Build
// sets to org.
func Build(ctx context.Context, engine promql.QueryEngine, q storage.Queryable, org string, start, end time.Time) (*Graph, error) {
	ctx = tenant.WithContext(ctx, org)
	rng := fmt.Sprintf("[%dms]", end.Sub(start).Milliseconds())
	const by = "client, server, connection_type"
	queries := []string{
		fmt.Sprintf("sum by (%s) (increase(traces_service_graph_request_total%s))", by, rng),
		fmt.Sprintf("sum by (%s) (increase(traces_service_graph_request_failed_total%s))", by, rng),
		fmt.Sprintf("histogram_quantile(0.99, sum by (%s, le) (increase(traces_service_graph_request_server_seconds_bucket%s)))", by, rng),
	}
	var results [3]map[edgeID]float64
	for i, qs := range queries {
		res, err := instant(ctx, engine, q, qs, end)
		if err != nil {
			return nil, err
		}
		results[i] = res
	}
	secs := end.Sub(start).Seconds()
	g := &Graph{Nodes: []Node{}, Edges: []Edge{}}
	type nodeAcc struct {
		typ              string
		requests, failed float64
		p99              *float64 // the largest p99 of an edge into it
	}
	nodes := map[string]*nodeAcc{}
	node := func(id, typ string) *nodeAcc {
		n := nodes[id]
		if n == nil {
			n = &nodeAcc{typ: typ}
			nodes[id] = n
		}
		if typ == "service" { // a node is a service once it sent spans
			n.typ = typ
		}
		return n
	}
	for id, requests := range results[0] {
		if requests <= 0 {
			continue
		}
		failed := results[1][id]
		e := Edge{Source: id.client, Target: id.server, ConnectionType: id.conn, Stats: Stats{Rate: requests / secs, ErrorRate: failed / requests}}
		if p, ok := results[2][id]; ok && !math.IsNaN(p) {
			e.P99Seconds = &p
		}
		g.Edges = append(g.Edges, e)
		src := node(id.client, "service")
		if id.client == pipeline.UserNode && id.conn == pipeline.ConnVirtualNode {
			src.typ = "user"
		}
		typ := "service"
		switch id.conn {
		case pipeline.ConnDatabase:
			typ = "database"
		case pipeline.ConnVirtualNode:
			if id.client != pipeline.UserNode {
				typ = "virtual"
			}
		}
		dst := node(id.server, typ)
		dst.requests += requests
		dst.failed += failed
		if e.P99Seconds != nil && (dst.p99 == nil || *e.P99Seconds > *dst.p99) {
			dst.p99 = e.P99Seconds
		}
	}
	for id, n := range nodes {
		st := Stats{Rate: n.requests / secs, P99Seconds: n.p99}
		if n.requests > 0 {
			st.ErrorRate = n.failed / n.requests
		}
		g.Nodes = append(g.Nodes, Node{ID: id, Type: n.typ, Stats: st})
	}
	slices.SortFunc(g.Nodes, func(a, b Node) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(g.Edges, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Target, b.Target), cmp.Compare(a.ConnectionType, b.ConnectionType))
	})
	return g, nil
}

// instant evaluates qs at ts, by edge.
func instant(ctx context.Context, engine promql.QueryEngine, q storage.Queryable, qs string, ts time.Time) (map[edgeID]float64, error) {
	vec, err := promeval.Instant(ctx, engine, q, qs, ts)
	if err != nil {
		return nil, err
	}
	out := make(map[edgeID]float64, len(vec))
	for _, s := range vec {
		out[edgeOf(s.Metric)] = s.F
	}
	return out, nil
}

func edgeOf(ls labels.Labels) edgeID {
	return edgeID{ls.Get("client"), ls.Get("server"), ls.Get("connection_type")}
}
