package shop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// The services' names: service.name, the Prometheus job, the peer.service
// of their callers' client spans.
const (
	Gateway       = "api-gateway"
	Auth          = "auth"
	Orders        = "orders"
	Products      = "products"
	Payments      = "payments"
	FraudCheck    = "fraud-check"
	Notifications = "notifications"
	BankAPI       = "bank-api"       // external, not instrumented
	EmailProvider = "email-provider" // external, not instrumented
)

// Instrumented reports whether service uses the SDK: every service but the
// external providers.
func Instrumented(service string) bool {
	return service != BankAPI && service != EmailProvider
}

// The api-gateway's public API, which the load generator calls.
//
//	POST /api/orders       Authorization: Bearer <token>, CheckoutRequest
//	                       → 201 CheckoutResponse (status "completed"),
//	                         402 (status "declined", Reason), 401, 400, 5xx
//	GET  /api/orders/{id}  → 200 Order, 404
//
// Every answer carries a W3C Trace Context Level 2 traceresponse header
// naming the trace the request made.

// OrderItem is one line of an order: a product of the catalogue (ids 1 to
// CatalogSize) and how many.
type OrderItem struct {
	ProductID int `json:"product_id"`
	Quantity  int `json:"quantity"`
}

// CheckoutRequest is the body of POST /api/orders.
type CheckoutRequest struct {
	Items         []OrderItem `json:"items"`
	PaymentMethod string      `json:"payment_method"` // card, paypal, bank_transfer, gift_card
}

// CheckoutResponse is the answer to POST /api/orders.
type CheckoutResponse struct {
	OrderID      string  `json:"order_id"`
	Status       string  `json:"status"`           // completed, declined, failed
	Reason       string  `json:"reason,omitempty"` // why a payment was declined
	TotalDollars float64 `json:"total_dollars"`
	Items        int     `json:"items"`
}

// MaxOrderItems bounds the lines of one order.
const MaxOrderItems = 1000

// PaymentMethods are the accepted payment methods.
var PaymentMethods = []string{"card", "paypal", "bank_transfer", "gift_card"}

// tokenKey signs the demo's bearer tokens. It is a published constant:
// the tokens only make auth do the work of a real check.
var tokenKey = []byte("horus-demo-shop-token-key")

// Token returns the bearer token of a user of a tenant:
// "v1.<tenant>.<user>.<HMAC-SHA256 of both, hex>". auth checks the
// signature.
func Token(userID, tenant string) string {
	return "v1." + tenant + "." + userID + "." + tokenMAC(tenant, userID)
}

func tokenMAC(tenant, userID string) string {
	m := hmac.New(sha256.New, tokenKey)
	m.Write([]byte(tenant + "\x00" + userID))
	return hex.EncodeToString(m.Sum(nil))
}

// errBadToken is a token that does not parse or whose signature is wrong.
var errBadToken = errors.New("invalid bearer token")

// parseToken checks a token made by Token and returns its user and tenant.
func parseToken(tok string) (userID, tenant string, err error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 4 || parts[0] != "v1" || parts[1] == "" || parts[2] == "" {
		return "", "", errBadToken
	}
	want := tokenMAC(parts[1], parts[2])
	if !hmac.Equal([]byte(want), []byte(parts[3])) {
		return "", "", errBadToken
	}
	return parts[2], parts[1], nil
}
