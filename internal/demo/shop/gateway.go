package shop

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// The api-gateway's time budget for each call.
const (
	authTimeout     = 2 * time.Second
	createTimeout   = 20 * time.Second // covers products' slow query for big orders
	paymentTimeout  = 10 * time.Second // covers payments' three bank-api attempts
	completeTimeout = 10 * time.Second
	lookupTimeout   = 5 * time.Second
)

// gateway is the api-gateway: the shop's public API. It authenticates
// each request with auth, then drives the checkout: orders creates the
// order, one of the payments instances (round robin: client-side
// balancing) charges it, and orders completes it.
type gateway struct {
	n                      *node
	auth, orders, payments *peer
}

func newGateway(_ context.Context, n *node) (service, error) {
	g := &gateway{n: n}
	var err error
	if g.auth, err = n.peer(Auth); err != nil {
		return nil, err
	}
	if g.orders, err = n.peer(Orders); err != nil {
		return nil, err
	}
	if g.payments, err = n.peer(Payments); err != nil {
		return nil, err
	}
	n.handleRaw("POST /api/orders", g.checkout)
	n.handleRaw("GET /api/orders/{id}", g.getOrder)
	return noClose{}, nil
}

// identity is what auth answers for a valid token.
type identity struct {
	UserID   string `json:"user_id"`
	TenantID string `json:"tenant_id"`
}

type verifyRequest struct {
	Token string `json:"token"`
}

// authenticate checks the request's bearer token with auth.
func (g *gateway) authenticate(r *http.Request) (identity, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return identity{}, errStatus(http.StatusUnauthorized, "missing bearer token")
	}
	var id identity
	if err := g.n.call(r.Context(), g.auth, 1, g.auth.addrs[0], http.MethodPost, "/verify", authTimeout, verifyRequest{Token: tok}, &id); err != nil {
		if upstreamStatus(err) == http.StatusUnauthorized {
			return identity{}, errStatus(http.StatusUnauthorized, "invalid credentials")
		}
		return identity{}, upstreamError(err, "authentication unavailable: %v", err)
	}
	return id, nil
}

// withIdentity puts the caller's tenant, user and order facts in the
// request's baggage, which the SDK's propagator carries to every service
// downstream, and in the gateway's own log fields and span. It returns the
// request with that context and the fault match attributes.
func (g *gateway) withIdentity(r *http.Request, id identity, method string, items int) (*http.Request, map[string]string) {
	attrs := map[string]string{bagTenant: id.TenantID, bagUser: id.UserID}
	members := []string{bagTenant, id.TenantID, bagUser, id.UserID}
	if method != "" {
		attrs[bagMethod] = method
		members = append(members, bagMethod, method)
	}
	if items > 0 {
		members = append(members, bagItems, strconv.Itoa(items))
	}
	bag := baggage.FromContext(r.Context())
	for i := 0; i < len(members); i += 2 {
		if m, err := baggage.NewMemberRaw(members[i], members[i+1]); err == nil {
			if b, err := bag.SetMember(m); err == nil {
				bag = b
			}
		}
	}
	ctx := baggage.ContextWithBaggage(r.Context(), bag)
	g.n.setFields(ctx, id.UserID, id.TenantID)
	return r.WithContext(ctx), attrs
}

// orderRequest is what orders' POST /orders takes.
type orderRequest struct {
	Items         []OrderItem `json:"items"`
	PaymentMethod string      `json:"payment_method"`
}

// orderCreated is orders' answer to POST /orders.
type orderCreated struct {
	OrderID    string `json:"order_id"`
	TotalCents int64  `json:"total_cents"`
	ItemCount  int    `json:"item_count"`
}

// paymentRequest is what payments' POST /payments takes.
type paymentRequest struct {
	OrderID       string `json:"order_id"`
	AmountCents   int64  `json:"amount_cents"`
	PaymentMethod string `json:"payment_method"`
}

// paymentResult is payments' answer: status "approved" or "declined".
type paymentResult struct {
	Status    string `json:"status"`
	Reason    string `json:"reason,omitempty"`
	PaymentID string `json:"payment_id,omitempty"`
}

// completeRequest is what orders' POST /orders/{id}/complete takes:
// the payment's outcome, "approved", "declined" or "failed".
type completeRequest struct {
	PaymentStatus string `json:"payment_status"`
	Reason        string `json:"reason,omitempty"`
}

// The order statuses (orders_created_total's status label).
const (
	statusCompleted = "completed"
	statusDeclined  = "declined"
	statusFailed    = "failed"
)

// checkout is POST /api/orders.
func (g *gateway) checkout(w http.ResponseWriter, r *http.Request) error {
	setTraceResponse(r.Context(), w)
	var req CheckoutRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if err := validCheckout(req); err != nil {
		return err
	}
	id, err := g.authenticate(r)
	if err != nil {
		return err
	}
	r, attrs := g.withIdentity(r, id, req.PaymentMethod, len(req.Items))
	ctx := r.Context()
	trace.SpanFromContext(ctx).SetAttributes(
		attribute.Int("order.item_count", len(req.Items)),
		attribute.String("payment.method", req.PaymentMethod))
	if err := g.n.before(r, attrs, len(req.Items)); err != nil {
		return err
	}

	var created orderCreated
	if err := g.n.call(ctx, g.orders, 1, g.orders.addrs[0], http.MethodPost, "/orders", createTimeout,
		orderRequest(req), &created); err != nil {
		return upstreamError(err, "creating the order: %v", err)
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("order.id", created.OrderID))

	inst, addr := g.payments.pick()
	var paid paymentResult
	payErr := g.n.call(ctx, g.payments, inst, addr, http.MethodPost, "/payments", paymentTimeout,
		paymentRequest{OrderID: created.OrderID, AmountCents: created.TotalCents, PaymentMethod: req.PaymentMethod}, &paid)
	outcome := completeRequest{PaymentStatus: paid.Status, Reason: paid.Reason}
	if payErr != nil {
		outcome = completeRequest{PaymentStatus: statusFailed, Reason: payErr.Error()}
	}
	var done struct {
		Status string `json:"status"`
	}
	completeErr := g.n.call(ctx, g.orders, 1, g.orders.addrs[0], http.MethodPost, "/orders/"+created.OrderID+"/complete",
		completeTimeout, outcome, &done)

	resp := CheckoutResponse{OrderID: created.OrderID, Status: done.Status, Reason: paid.Reason,
		TotalDollars: float64(created.TotalCents) / 100, Items: created.ItemCount}
	switch {
	case payErr != nil:
		return upstreamError(payErr, "payment failed for order %s: %v", created.OrderID, payErr)
	case completeErr != nil:
		return upstreamError(completeErr, "completing order %s: %v", created.OrderID, completeErr)
	case paid.Status == "declined":
		resp.Status = statusDeclined
		writeJSON(w, http.StatusPaymentRequired, resp)
	default:
		writeJSON(w, http.StatusCreated, resp)
	}
	return nil
}

// validCheckout checks a checkout's shape before anything is called.
func validCheckout(req CheckoutRequest) error {
	if len(req.Items) == 0 || len(req.Items) > MaxOrderItems {
		return errStatus(http.StatusBadRequest, "an order has 1 to %d items, got %d", MaxOrderItems, len(req.Items))
	}
	if !slices.Contains(PaymentMethods, req.PaymentMethod) {
		return errStatus(http.StatusBadRequest, "payment_method %q: one of %s", req.PaymentMethod, strings.Join(PaymentMethods, ", "))
	}
	seen := make(map[int]bool, len(req.Items))
	for _, it := range req.Items {
		if it.ProductID < 1 || it.ProductID > CatalogSize || it.Quantity < 1 || it.Quantity > 1000 {
			return errStatus(http.StatusBadRequest, "item %+v: product_id 1 to %d, quantity 1 to 1000", it, CatalogSize)
		}
		if seen[it.ProductID] {
			return errStatus(http.StatusBadRequest, "product %d is listed twice", it.ProductID)
		}
		seen[it.ProductID] = true
	}
	return nil
}

// getOrder is GET /api/orders/{id}.
func (g *gateway) getOrder(w http.ResponseWriter, r *http.Request) error {
	setTraceResponse(r.Context(), w)
	id, err := g.authenticate(r)
	if err != nil {
		return err
	}
	r, attrs := g.withIdentity(r, id, "", 0)
	if err := g.n.before(r, attrs, 0); err != nil {
		return err
	}
	var order Order
	orderID := r.PathValue("id")
	if err := g.n.call(r.Context(), g.orders, 1, g.orders.addrs[0], http.MethodGet, "/orders/"+orderID, lookupTimeout, nil, &order); err != nil {
		return upstreamError(err, "order %s: %v", orderID, err)
	}
	writeJSON(w, http.StatusOK, order)
	return nil
}

// setTraceResponse answers the request's trace in a traceresponse header
// (W3C Trace Context Level 2): "00-<trace id>-<span id>-<flags>", so a
// client can find the trace its request made.
func setTraceResponse(ctx context.Context, w http.ResponseWriter) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	w.Header().Set("Traceresponse", "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-"+sc.TraceFlags().String())
}
