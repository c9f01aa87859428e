package shop

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/sdk"
	"github.com/horus-obs/horus/sdk/metrics"
)

// orders keeps the shop's orders in its own SQLite database, opened
// through the SDK with a small pool: POST /orders prices the items with
// products and stores a pending order, POST /orders/{id}/complete records
// the payment's outcome (counting orders_created_total) and has
// notifications confirm a completed order, GET /orders/{id} reads one.
// Orders are kept orderRetention.
type orders struct {
	n                       *node
	db                      *sql.DB
	products, notifications *peer
	created                 *metrics.CounterVec
	value                   prometheus.Histogram
	pool                    *poolHog
	stopPrune               context.CancelFunc
	pruned                  chan struct{}
}

// Orders older than orderRetention are deleted every pruneInterval, so
// that the database of a demo left running does not grow without bound.
const (
	orderRetention = 24 * time.Hour
	pruneInterval  = 10 * time.Minute
)

// The orders database pool and its time budgets.
const (
	ordersPoolSize  = 4
	dbWaitTimeout   = 2 * time.Second // for a connection from the pool
	productsTimeout = 15 * time.Second
	notifyTimeout   = 3 * time.Second
)

const ordersSchema = `
CREATE TABLE IF NOT EXISTS orders (
	id             TEXT    PRIMARY KEY,
	user_id        TEXT    NOT NULL,
	tenant_id      TEXT    NOT NULL,
	status         TEXT    NOT NULL,
	payment_method TEXT    NOT NULL,
	total_cents    INTEGER NOT NULL,
	item_count     INTEGER NOT NULL,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_created_at ON orders (created_at);
CREATE TABLE IF NOT EXISTS order_items (
	order_id    TEXT    NOT NULL REFERENCES orders (id),
	product_id  INTEGER NOT NULL,
	quantity    INTEGER NOT NULL,
	price_cents INTEGER NOT NULL,
	PRIMARY KEY (order_id, product_id)
) WITHOUT ROWID`

func newOrders(ctx context.Context, n *node) (service, error) {
	db, err := n.tel.OpenDB("sqlite", sqliteDSN(filepath.Join(n.cfg.DataDir, "orders.db")), "sqlite", sdk.DBName(ordersDB))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(ordersPoolSize)
	db.SetMaxIdleConns(ordersPoolSize)
	o := &orders{n: n, db: db}
	fail := func(err error) (service, error) {
		_ = db.Close()
		return nil, err
	}
	if _, err := db.ExecContext(ctx, ordersSchema); err != nil {
		return fail(fmt.Errorf("orders schema: %w", err))
	}
	if o.products, err = n.peer(Products); err != nil {
		return fail(err)
	}
	if o.notifications, err = n.peer(Notifications); err != nil {
		return fail(err)
	}
	if o.created, err = n.tel.Metrics.NewCounterVec(prometheus.CounterOpts{
		Name: "orders_created_total",
		Help: "Orders placed, by outcome (completed, declined, failed) and payment method.",
	}, "status", "payment_method"); err != nil {
		return fail(err)
	}
	// Every outcome's series exists from the start at 0, so the first
	// failure after a (re)start is an increase rate() and increase() see,
	// not a new series whose first sample they cannot count.
	for _, st := range []string{statusCompleted, statusDeclined, statusFailed} {
		for _, m := range PaymentMethods {
			o.created.WithLabelValues(st, m).Add(0)
		}
	}
	if o.value, err = n.tel.Metrics.NewHistogram(prometheus.HistogramOpts{
		Name:    "order_value_dollars",
		Help:    "Value of the orders placed, in US dollars.",
		Buckets: []float64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000},
	}); err != nil {
		return fail(err)
	}
	o.pool = newPoolHog(db, ordersPoolSize, n)
	n.inj.OnChange(o.pool.update)
	pctx, cancel := context.WithCancel(context.Background())
	o.stopPrune, o.pruned = cancel, make(chan struct{})
	go o.pruneLoop(pctx)
	n.handle("POST /orders", o.create)
	n.handle("POST /orders/{id}/complete", o.complete)
	n.handle("GET /orders/{id}", o.get)
	return o, nil
}

func (o *orders) close() error {
	o.stopPrune()
	<-o.pruned
	o.pool.release()
	return o.db.Close()
}

// pruneLoop deletes the orders older than orderRetention, at start and
// every pruneInterval, each round a trace of its own ("prune orders").
func (o *orders) pruneLoop(ctx context.Context) {
	defer close(o.pruned)
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		o.prune(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *orders) prune(ctx context.Context) {
	ctx, span := o.n.tel.Tracer(scope).Start(ctx, "prune orders")
	defer span.End()
	cutoff := time.Now().Add(-orderRetention).UnixMilli()
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return // stopping, or the pool is held: the next round
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, `DELETE FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE created_at < ?)`, cutoff); err != nil {
		o.n.log.WarnContext(ctx, "pruning old orders", "error", err.Error())
		return
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM orders WHERE created_at < ?`, cutoff)
	if err != nil {
		o.n.log.WarnContext(ctx, "pruning old orders", "error", err.Error())
		return
	}
	if err := tx.Commit(); err != nil {
		o.n.log.WarnContext(ctx, "pruning old orders", "error", err.Error())
		return
	}
	if n, _ := res.RowsAffected(); n > 0 {
		span.SetAttributes(attribute.Int64("orders.pruned", n))
		o.n.log.InfoContext(ctx, "pruned old orders", "orders", n, "older_than", orderRetention.String())
	}
}

// conn takes a connection from the pool, waiting at most dbWaitTimeout:
// past it the request fails with 503 and "timed out waiting for a database
// connection" is logged.
func (o *orders) conn(ctx context.Context) (*sql.Conn, error) {
	wctx, cancel := context.WithTimeout(ctx, dbWaitTimeout)
	defer cancel()
	start := time.Now()
	c, err := o.db.Conn(wctx)
	if err == nil {
		return c, nil
	}
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		st := o.db.Stats()
		o.n.log.ErrorContext(ctx, "timed out waiting for a database connection",
			"waited_ms", time.Since(start).Milliseconds(), "pool_max_open", st.MaxOpenConnections, "pool_in_use", st.InUse)
		return nil, errStatus(http.StatusServiceUnavailable, "timed out waiting for a database connection after %s", dbWaitTimeout)
	}
	return nil, err
}

func newOrderID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "ord_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func (o *orders) create(w http.ResponseWriter, r *http.Request) error {
	var req orderRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	attrs, _ := o.n.requestFields(ctx)
	user, tenant := attrs[bagUser], attrs[bagTenant]
	if user == "" || tenant == "" {
		return errStatus(http.StatusBadRequest, "no user_id and tenant in the request's baggage")
	}
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.Int("order.item_count", len(req.Items)))

	var priced lookupResponse
	if err := o.n.call(ctx, o.products, 1, o.products.addrs[0], http.MethodPost, "/products/lookup", productsTimeout,
		lookupRequest{Items: req.Items}, &priced); err != nil {
		return upstreamError(err, "pricing the order: %v", err)
	}
	var total int64
	for _, p := range priced.Products {
		total += int64(p.PriceCents) * int64(p.Quantity)
	}

	c, err := o.conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	id, now := newOrderID(), time.Now().UnixMilli()
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, user_id, tenant_id, status, payment_method, total_cents, item_count, created_at, updated_at)
		VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)`, id, user, tenant, req.PaymentMethod, total, len(req.Items), now, now); err != nil {
		return fmt.Errorf("store order: %w", err)
	}
	var values strings.Builder
	args := make([]any, 0, 4*len(priced.Products))
	for i, p := range priced.Products {
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(?, ?, ?, ?)")
		args = append(args, id, p.ID, p.Quantity, p.PriceCents)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_items (order_id, product_id, quantity, price_cents) VALUES `+values.String(), args...); err != nil {
		return fmt.Errorf("store order items: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store order: %w", err)
	}
	dollars := float64(total) / 100
	span.SetAttributes(attribute.String("order.id", id), attribute.Float64("order.total_dollars", dollars))
	observeWithExemplar(ctx, o.value, dollars)
	o.n.log.InfoContext(ctx, "order created", "order_id", id, "item_count", len(req.Items),
		"total_dollars", dollars, "payment_method", req.PaymentMethod)
	writeJSON(w, http.StatusCreated, orderCreated{OrderID: id, TotalCents: total, ItemCount: len(req.Items)})
	return nil
}

// Order is an order as GET /orders/{id} (and the api-gateway's GET
// /api/orders/{id}) answers it.
type Order struct {
	ID            string  `json:"order_id"`
	Status        string  `json:"status"` // pending, completed, declined, failed
	PaymentMethod string  `json:"payment_method"`
	TotalDollars  float64 `json:"total_dollars"`
	ItemCount     int     `json:"item_count"`
	CreatedAt     string  `json:"created_at"` // RFC 3339
}

func (o *orders) complete(w http.ResponseWriter, r *http.Request) error {
	var req completeRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	ctx, id := r.Context(), r.PathValue("id")
	attrs, _ := o.n.requestFields(ctx)
	status := map[string]string{"approved": statusCompleted, "declined": statusDeclined, "failed": statusFailed}[req.PaymentStatus]
	if status == "" {
		return errStatus(http.StatusBadRequest, "payment_status %q: approved, declined or failed", req.PaymentStatus)
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("order.id", id), attribute.String("order.status", status))
	c, err := o.conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	var method string
	var total int64
	err = c.QueryRowContext(ctx, `UPDATE orders SET status = ?, updated_at = ? WHERE id = ? AND status = 'pending'
		RETURNING payment_method, total_cents`, status, time.Now().UnixMilli(), id).Scan(&method, &total)
	if errors.Is(err, sql.ErrNoRows) {
		return errStatus(http.StatusConflict, "order %s is not pending", id)
	}
	if err != nil {
		return fmt.Errorf("update order %s: %w", id, err)
	}
	_ = c.Close() // back to the pool before calling notifications
	addWithExemplar(ctx, o.created.WithLabelValues(status, method))
	switch status {
	case statusCompleted:
		o.n.log.InfoContext(ctx, "order completed", "order_id", id, "total_dollars", float64(total)/100)
		// A confirmation that cannot be sent does not undo the order
		// (call logged the failure).
		_ = o.n.call(ctx, o.notifications, 1, o.notifications.addrs[0], http.MethodPost, "/notifications", notifyTimeout,
			notifyRequest{OrderID: id, UserID: attrs[bagUser], Kind: "order_confirmation"}, nil)
	case statusDeclined:
		o.n.log.InfoContext(ctx, "order declined", "order_id", id, "reason", req.Reason)
	default:
		o.n.log.WarnContext(ctx, "order failed: "+req.Reason, "order_id", id)
	}
	writeJSON(w, http.StatusOK, map[string]string{"order_id": id, "status": status})
	return nil
}

func (o *orders) get(w http.ResponseWriter, r *http.Request) error {
	ctx, id := r.Context(), r.PathValue("id")
	attrs, _ := o.n.requestFields(ctx)
	c, err := o.conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	var ord Order
	var tenant string
	var total, created int64
	err = c.QueryRowContext(ctx, `SELECT id, status, payment_method, total_cents, item_count, created_at, tenant_id FROM orders WHERE id = ?`, id).
		Scan(&ord.ID, &ord.Status, &ord.PaymentMethod, &total, &ord.ItemCount, &created, &tenant)
	// Another tenant's order is answered as missing.
	if errors.Is(err, sql.ErrNoRows) || err == nil && tenant != attrs[bagTenant] {
		return errStatus(http.StatusNotFound, "no order %s", id)
	}
	if err != nil {
		return fmt.Errorf("read order %s: %w", id, err)
	}
	ord.TotalDollars = float64(total) / 100
	ord.CreatedAt = time.UnixMilli(created).UTC().Format(time.RFC3339)
	writeJSON(w, http.StatusOK, ord)
	return nil
}

// poolHog holds every connection of a pool while a pool_exhaustion fault
// is in force (the "leak" of the scenario), and gives them back when it
// ends.
type poolHog struct {
	db   *sql.DB
	size int
	n    *node

	mu     sync.Mutex
	cancel context.CancelFunc // of the goroutine taking connections; nil: not holding
	done   chan struct{}
	held   []*sql.Conn
}

func newPoolHog(db *sql.DB, size int, n *node) *poolHog {
	return &poolHog{db: db, size: size, n: n}
}

// update follows the injector: hold while PoolExhausted, else release.
func (h *poolHog) update() {
	if h.n.inj.PoolExhausted() {
		h.hold()
	} else {
		h.release()
	}
}

func (h *poolHog) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	h.n.log.Warn("database pool: connections held by a leak", "pool_max_open", h.size)
	go func() {
		defer close(h.done)
		for range h.size {
			c, err := h.db.Conn(ctx) // waits for the requests' connections
			if err != nil {
				return
			}
			h.mu.Lock()
			h.held = append(h.held, c)
			h.mu.Unlock()
		}
	}()
}

func (h *poolHog) release() {
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.cancel = nil
	h.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	h.mu.Lock()
	held := h.held
	h.held = nil
	h.mu.Unlock()
	for _, c := range held {
		_ = c.Close()
	}
	h.n.log.Info("database pool: connections released", "released", len(held))
}
