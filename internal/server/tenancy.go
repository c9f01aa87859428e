package server

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	v1 "github.com/prometheus/prometheus/web/api/v1"

	"github.com/horus-obs/horus/internal/api/promeval"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/store/metrics"
	"github.com/horus-obs/horus/internal/tenant"
)

// promStore is what the Prometheus API reads: the metrics store per
// tenant (series, labels, exemplars) and the store's own status pages,
// which tenantReads answers per tenant or for the default tenant only.
type promStore struct {
	*metrics.Tenancy
	v1.TSDBAdminStats
}

// tenantReads serves the Prometheus API (next, under /api/v1/) to the
// tenant of X-Scope-OrgID: the tenant goes into the request's context,
// where metrics.Tenancy finds it, so every series, label and exemplar
// read is the tenant's own. Endpoints that are not about the stored
// series are answered as they are for every tenant; those about the
// default tenant's scrape targets or the whole TSDB (readTenantScope) are
// refused (403) to other tenants, and /status/tsdb is counted over the
// tenant's series.
type tenantReads struct {
	next    http.Handler
	store   *metrics.Store
	tenancy *metrics.Tenancy
}

// readScope is how an endpoint of the Prometheus API serves tenants.
type readScope int

const (
	// scopeDefaultOnly endpoints are the default tenant's: the scrape
	// targets (Horus scrapes into the default tenant), the configuration
	// that lists them, the TSDB's blocks and remote read; unknown paths
	// too.
	scopeDefaultOnly readScope = iota
	// scopeTenant endpoints read through metrics.Tenancy, or tell
	// nothing of stored data (build and runtime information, rules,
	// parsing a query).
	scopeTenant
)

// readTenantScope returns the scope of the API endpoint at p (the path
// after /api/v1).
func readTenantScope(p string) readScope {
	if strings.HasPrefix(p, "/label/") && strings.HasSuffix(p, "/values") {
		return scopeTenant
	}
	switch p {
	case "/query", "/query_range", "/query_exemplars", "/series", "/labels", "/metadata",
		"/format_query", "/parse_query", "/status/tsdb",
		"/status/buildinfo", "/status/runtimeinfo", "/status/flags", "/status/walreplay", "/status/self_metrics",
		"/features", "/rules", "/alerts", "/alertmanagers", "/notifications", "/notifications/live", "/openapi.yaml":
		return scopeTenant
	}
	return scopeDefaultOnly
}

// ServeHTTP implements http.Handler.
func (t *tenantReads) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	org, ok := promTenant(w, r)
	if !ok {
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/api/v1")
	if org != tenant.Default && r.Method != http.MethodOptions && readTenantScope(p) == scopeDefaultOnly {
		writePromError(w, http.StatusForbidden, "forbidden", fmt.Sprintf(
			"/api/v1%s is served to the default tenant only (requests without %s): it shows the scrape targets, which write into the default tenant, or the whole metrics store; tenant %q gets 403",
			p, tenant.Header, org))
		return
	}
	r = r.WithContext(tenant.WithContext(r.Context(), org))
	if p == "/status/tsdb" && r.Method == http.MethodGet {
		t.tsdbStatus(w, r, org)
		return
	}
	t.next.ServeHTTP(w, r)
}

// tsdbStatus answers /api/v1/status/tsdb with the head cardinality of
// org's series. Without other tenants' series in the head, the default
// tenant gets Prometheus' own answer (the figures are the same).
func (t *tenantReads) tsdbStatus(w http.ResponseWriter, r *http.Request, org string) {
	const maxLimit = 10000 // Prometheus' bounds and messages
	limit := 10
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 {
			writePromError(w, http.StatusBadRequest, "bad_data", "limit must be a positive number")
			return
		}
		if limit > maxLimit {
			writePromError(w, http.StatusBadRequest, "bad_data", fmt.Sprintf("limit must not exceed %d", maxLimit))
			return
		}
	}
	head, err := t.store.Stats(model.MetricNameLabel, 1)
	if err != nil {
		writePromError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	if org == tenant.Default {
		multi, err := t.tenancy.HasTenants(r.Context(), head.MinTime, head.MaxTime)
		if err == nil && !multi {
			t.next.ServeHTTP(w, r)
			return
		}
	}
	st, chunks, err := t.tenancy.HeadStats(r.Context(), head.MinTime, head.MaxTime, model.MetricNameLabel, limit)
	if err != nil {
		writePromError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": v1.TSDBStatus{
		HeadStats: v1.HeadStats{
			NumSeries:     st.NumSeries,
			NumLabelPairs: st.IndexPostingStats.NumLabelPairs,
			ChunkCount:    chunks,
			MinTime:       st.MinTime,
			MaxTime:       st.MaxTime,
		},
		SeriesCountByMetricName:     v1.TSDBStatsFromIndexStats(st.IndexPostingStats.CardinalityMetricsStats),
		LabelValueCountByLabelName:  v1.TSDBStatsFromIndexStats(st.IndexPostingStats.CardinalityLabelStats),
		MemoryInBytesByLabelName:    v1.TSDBStatsFromIndexStats(st.IndexPostingStats.LabelValueStats),
		SeriesCountByLabelValuePair: v1.TSDBStatsFromIndexStats(st.IndexPostingStats.LabelValuePairsStats),
	}})
}

// writePromError answers with Prometheus' error envelope.
func writePromError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, map[string]string{"status": "error", "errorType": typ, "error": msg})
}

// promTenant returns a request's tenant, from X-Scope-OrgID; a bad header
// is answered 400 in Prometheus' error shape, naming it, and ok is false.
func promTenant(w http.ResponseWriter, r *http.Request) (org string, ok bool) {
	org, err := tenant.FromHeader(r.Header.Get(tenant.Header))
	if err != nil {
		writePromError(w, http.StatusBadRequest, "bad_data", tenant.Header+" header: "+err.Error())
		return "", false
	}
	return org, true
}

// writeJSON writes v as JSON, encoded before the status is sent
// (promeval.WriteJSON).
func writeJSON(w http.ResponseWriter, code int, v any) { promeval.WriteJSON(w, code, v) }

// eventsStatus answers GET /api/v1/events/status: blocks, rows, bytes and
// compression of the event store per kind, and corrupt blocks, of the
// tenant of X-Scope-OrgID.
func (s *Server) eventsStatus(w http.ResponseWriter, r *http.Request) {
	org, ok := promTenant(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": statusOf(s.events.Status(), org)})
}

// statusOf returns the part of st about tenant org.
func statusOf(st events.Status, org string) events.Status {
	var out events.Status
	for _, t := range st.Tenants {
		if t.Tenant == org {
			out.Tenants = append(out.Tenants, t)
		}
	}
	for _, c := range st.Corrupt {
		// A block's directory is blocks/<tenant>/<kind>/<block>.
		if filepath.Base(filepath.Dir(filepath.Dir(c.Dir))) == org {
			out.Corrupt = append(out.Corrupt, c)
		}
	}
	return out
}
