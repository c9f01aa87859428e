package shop

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

func openCatalog(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", sqliteDSN(filepath.Join(tb.TempDir(), "products.db")))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	if err := seedCatalog(context.Background(), db); err != nil {
		tb.Fatal(err)
	}
	return db
}

// TestLookupQueries: both lookups price every item at its quantity's
// tier, the same products and prices; the fast one returns a row per
// item, the slow one a row per item and tier; a second seeding keeps the
// catalogue.
func TestLookupQueries(t *testing.T) {
	db := openCatalog(t)
	ctx := context.Background()
	if err := seedCatalog(ctx, db); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM products`).Scan(&n); err != nil || n != CatalogSize {
		t.Fatalf("products = %d, %v; want %d", n, err, CatalogSize)
	}
	items := []OrderItem{{1, 1}, {17, 2}, {2024, 4}, {CatalogSize, 30}, {999, 10}}
	fast, fastRows, err := lookupProducts(ctx, db, items, false)
	if err != nil {
		t.Fatal(err)
	}
	slow, slowRows, err := lookupProducts(ctx, db, items, true)
	if err != nil {
		t.Fatal(err)
	}
	if fastRows != len(items) || slowRows != len(items)*len(priceTiers) {
		t.Fatalf("rows returned: fast %d, slow %d; want %d and %d", fastRows, slowRows, len(items), len(items)*len(priceTiers))
	}
	byID := func(a, b Product) int { return a.ID - b.ID }
	slices.SortFunc(fast, byID)
	slices.SortFunc(slow, byID)
	if !slices.Equal(fast, slow) {
		t.Fatalf("slow lookup differs:\n%v\n%v", fast, slow)
	}
	if len(fast) != len(items) || fast[0].SKU != "SKU-000001" || fast[0].PriceCents < 99 {
		t.Fatalf("products = %+v", fast)
	}
	// Product 17 at quantity 2 is priced at the 2+ tier, below its list price.
	var list, tier2 int
	if err := db.QueryRow(`SELECT price_cents FROM price_tiers WHERE product_id = 17 AND min_qty = 1`).Scan(&list); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT price_cents FROM price_tiers WHERE product_id = 17 AND min_qty = 2`).Scan(&tier2); err != nil {
		t.Fatal(err)
	}
	if fast[1].ID != 17 || fast[1].PriceCents != tier2 || tier2 >= list {
		t.Fatalf("product 17 x2 = %+v; tiers list %d, 2+ %d", fast[1], list, tier2)
	}
}

// BenchmarkLookup times the indexed lookup and the slow_query variant for
// orders of 10 and 200 items.
func BenchmarkLookup(b *testing.B) {
	db := openCatalog(b)
	for _, n := range []int{10, 200} {
		items := make([]OrderItem, n)
		for i := range items {
			items[i] = OrderItem{ProductID: 1 + i*(CatalogSize/n), Quantity: 1 + i%7}
		}
		for _, slow := range []bool{false, true} {
			name := "index"
			if slow {
				name = "slow"
			}
			b.Run(name+"/items="+strconv.Itoa(n), func(b *testing.B) {
				for b.Loop() {
					if _, _, err := lookupProducts(context.Background(), db, items, slow); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
