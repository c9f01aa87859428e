package shop

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// The databases' names: db.namespace on their spans, db_name on their
// pool metrics (go_sql_*). Not the services' names, which would make one
// node of a service and its database in the service graph.
const (
	ordersDB  = "shop_orders"
	catalogDB = "shop_catalog"
)

// CatalogSize is the number of products in the catalogue, ids 1 to
// CatalogSize.
const CatalogSize = 4000

// catalogSchema is the products service's SQLite schema: products, and
// each product's price tiers (a lower unit price from a minimum quantity).
const catalogSchema = `
CREATE TABLE IF NOT EXISTS products (
	id       INTEGER PRIMARY KEY,
	sku      TEXT    NOT NULL UNIQUE,
	name     TEXT    NOT NULL,
	category TEXT    NOT NULL,
	stock    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS price_tiers (
	product_id  INTEGER NOT NULL REFERENCES products (id),
	min_qty     INTEGER NOT NULL,
	price_cents INTEGER NOT NULL,
	PRIMARY KEY (product_id, min_qty)
) WITHOUT ROWID`

// priceTiers are the minimum quantities of the tiers and their discounts.
var priceTiers = []struct {
	minQty   int
	discount float64
}{{1, 0}, {2, 0.03}, {3, 0.05}, {5, 0.08}, {10, 0.12}, {25, 0.18}}

var (
	adjectives = []string{"Classic", "Organic", "Smart", "Compact", "Deluxe", "Rugged", "Wireless", "Vintage",
		"Ergonomic", "Portable", "Premium", "Eco", "Ultra", "Mini", "Heavy-duty", "Handmade"}
	nouns = map[string][]string{
		"kitchen":     {"Kettle", "Skillet", "Knife Set", "Blender", "Cutting Board", "Teapot"},
		"electronics": {"Headphones", "Charger", "Speaker", "Keyboard", "Mouse", "Webcam"},
		"garden":      {"Hose", "Trowel", "Planter", "Sprinkler", "Rake", "Bird Feeder"},
		"books":       {"Cookbook", "Novel", "Atlas", "Field Guide", "Notebook", "Sketchbook"},
		"outdoor":     {"Tent", "Backpack", "Water Bottle", "Lantern", "Hammock", "Compass"},
		"toys":        {"Puzzle", "Kite", "Building Set", "Plush Bear", "Yo-yo", "Board Game"},
	}
	categories = []string{"kitchen", "electronics", "garden", "books", "outdoor", "toys"}
)

// seedCatalog creates the tables and fills them with CatalogSize products
// and their price tiers, the same ones every time (a fixed seed), unless
// they are there already. List prices are log-normal around $20.
func seedCatalog(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, catalogSchema); err != nil {
		return fmt.Errorf("catalogue schema: %w", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM price_tiers`).Scan(&n); err != nil {
		return fmt.Errorf("count price tiers: %w", err)
	}
	if n == CatalogSize*len(priceTiers) {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for _, q := range []string{`DELETE FROM price_tiers`, `DELETE FROM products`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	prod, err := tx.PrepareContext(ctx, `INSERT INTO products (id, sku, name, category, stock) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer func() { _ = prod.Close() }()
	tier, err := tx.PrepareContext(ctx, `INSERT INTO price_tiers (product_id, min_qty, price_cents) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer func() { _ = tier.Close() }()
	r := rand.New(rand.NewPCG(13, 17))
	for id := 1; id <= CatalogSize; id++ {
		cat := categories[r.IntN(len(categories))]
		name := adjectives[r.IntN(len(adjectives))] + " " + nouns[cat][r.IntN(len(nouns[cat]))]
		if _, err := prod.ExecContext(ctx, id, fmt.Sprintf("SKU-%06d", id), name, cat, r.IntN(500)); err != nil {
			return fmt.Errorf("seed product %d: %w", id, err)
		}
		list := max(2000*math.Exp(0.8*r.NormFloat64()), 99)
		for _, t := range priceTiers {
			if _, err := tier.ExecContext(ctx, id, t.minQty, int(math.Round(list*(1-t.discount)))); err != nil {
				return fmt.Errorf("seed price tier %d/%d: %w", id, t.minQty, err)
			}
		}
	}
	return tx.Commit()
}

// Product is one product of an order with its unit price at the order's
// quantity.
type Product struct {
	ID         int    `json:"id"`
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	Stock      int    `json:"stock"`
	Quantity   int    `json:"quantity"`
	PriceCents int    `json:"price_cents"` // unit price of the tier for Quantity
}

// lookupQuery finds the products of an order by primary key, with the
// price tier of each item's quantity: one index probe into each table
// per item, one row per item.
const lookupQuery = `
SELECT p.id, p.sku, p.name, p.category, p.stock, j.qty,
	(SELECT t.price_cents FROM price_tiers AS t
	 WHERE t.product_id = p.id AND t.min_qty <= j.qty ORDER BY t.min_qty DESC LIMIT 1)
FROM (SELECT json_extract(value, '$.product_id') AS id, json_extract(value, '$.quantity') AS qty FROM json_each(?)) AS j
JOIN products AS p ON p.id = j.id`

// slowLookupQuery is the lookup as the slow_query fault runs it: every
// price tier of every item is returned and the tier is picked in Go, and
// each tier is matched to its product by SKU, a string formatted from the
// tier's product id (a join key of the wrong type, the classic way to lose
// an index): no index serves that comparison (nor an automatic one), so
// SQLite formats and compares every row of the tiers table for every item
// (CROSS JOIN keeps the items the outer loop). CatalogSize × 6 rows
// examined, a string formatted for each, and 6 rows returned per item: an
// order of 200 items takes about 1.5 s on an idle core, 400 items twice
// that, and returns thousands of rows.
const slowLookupQuery = `
WITH j AS MATERIALIZED (
	SELECT json_extract(value, '$.product_id') AS id, json_extract(value, '$.quantity') AS qty FROM json_each(?))
SELECT p.id, p.sku, p.name, p.category, p.stock, j.qty, t.min_qty, t.price_cents
FROM j CROSS JOIN products AS p CROSS JOIN price_tiers AS t
WHERE p.id = j.id AND printf('SKU-%06d', t.product_id) = p.sku`

// lookupProducts returns the catalogue rows of the items, in no
// particular order, and the number of rows the query returned. Unknown
// products are left out.
func lookupProducts(ctx context.Context, db *sql.DB, items []OrderItem, slow bool) ([]Product, int, error) {
	arg, err := json.Marshal(items)
	if err != nil {
		return nil, 0, err
	}
	q := lookupQuery
	if slow {
		q = slowLookupQuery
	}
	rows, err := db.QueryContext(ctx, q, string(arg))
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = rows.Close() }()
	out := make([]Product, 0, len(items))
	at := map[int]int{} // product id → index in out (slow query: several rows each)
	best := map[int]int{}
	n := 0
	for rows.Next() {
		n++
		var p Product
		if !slow {
			if err := rows.Scan(&p.ID, &p.SKU, &p.Name, &p.Category, &p.Stock, &p.Quantity, &p.PriceCents); err != nil {
				return nil, n, err
			}
			out = append(out, p)
			continue
		}
		var minQty int
		if err := rows.Scan(&p.ID, &p.SKU, &p.Name, &p.Category, &p.Stock, &p.Quantity, &minQty, &p.PriceCents); err != nil {
			return nil, n, err
		}
		if minQty > p.Quantity {
			continue
		}
		i, seen := at[p.ID]
		switch {
		case !seen:
			at[p.ID], best[p.ID] = len(out), minQty
			out = append(out, p)
		case minQty > best[p.ID]:
			out[i], best[p.ID] = p, minQty
		}
	}
	return out, n, rows.Err()
}

// sqliteDSN is the modernc.org/sqlite data source of a database file:
// write-ahead logging so readers do not wait for a writer, and a busy
// timeout so a writer waits for the lock instead of failing at once.
func sqliteDSN(path string) string {
	return "file:" + strings.ReplaceAll(path, "?", "%3F") +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
}
