package shop

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/horus-obs/horus/sdk"
)

// products serves the catalogue, an SQLite database opened through the
// SDK (queries traced, pool metrics): POST /products/lookup prices the
// items of an order.
type products struct {
	n    *node
	db   *sql.DB
	rows prometheus.Histogram
}

func newProducts(ctx context.Context, n *node) (service, error) {
	db, err := n.tel.OpenDB("sqlite", sqliteDSN(filepath.Join(n.cfg.DataDir, "products.db")), "sqlite", sdk.DBName(catalogDB))
	if err != nil {
		return nil, err
	}
	if err := seedCatalog(ctx, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	p := &products{n: n, db: db}
	// The OpenTelemetry metric db.client.response.returned_rows, named
	// for Prometheus.
	if p.rows, err = n.tel.Metrics.NewHistogram(prometheus.HistogramOpts{
		Name:    "db_client_response_returned_rows",
		Help:    "Rows returned by the catalogue's product lookup query.",
		Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000},
	}); err != nil {
		_ = db.Close()
		return nil, err
	}
	n.handle("POST /products/lookup", p.lookup)
	return p, nil
}

func (p *products) close() error { return p.db.Close() }

// lookupRequest is what POST /products/lookup takes.
type lookupRequest struct {
	Items []OrderItem `json:"items"`
}

// lookupResponse is its answer: the products of the items, priced.
type lookupResponse struct {
	Products []Product `json:"products"`
}

func (p *products) lookup(w http.ResponseWriter, r *http.Request) error {
	var req lookupRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	ctx, span := p.n.tel.Tracer(scope).Start(r.Context(), "lookup products")
	defer span.End()
	span.SetAttributes(attribute.Int("order.item_count", len(req.Items)), attribute.String("db.system", "sqlite"),
		attribute.String("db.collection.name", "products"))
	slow := p.n.inj.SlowQuery(len(req.Items))
	found, rows, err := lookupProducts(ctx, p.db, req.Items, slow)
	// db.response.returned_rows: the OpenTelemetry semantic conventions'
	// attribute for the rows a query returned.
	span.SetAttributes(attribute.Int("db.response.returned_rows", rows))
	observeWithExemplar(ctx, p.rows, float64(rows))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	if len(found) != len(req.Items) {
		return errStatus(http.StatusNotFound, "%d of %d products are not in the catalogue", len(req.Items)-len(found), len(req.Items))
	}
	writeJSON(w, http.StatusOK, lookupResponse{Products: found})
	return nil
}
