package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/horus-obs/horus/sdk/metrics"
)

// payments charges orders: POST /payments asks fraud-check, then charges
// the external bank-api, retrying a call that timed out or failed.
type payments struct {
	n           *node
	fraud, bank *peer
	processed   *metrics.CounterVec
}

// The bank-api retry policy: each attempt gets bankAttemptTimeout, and a
// failed attempt (no answer, a timeout or a 5xx) is retried after
// bankBackoff × the attempts so far, up to bankAttempts in all.
const (
	bankAttempts       = 3
	bankAttemptTimeout = 2 * time.Second
	bankBackoff        = 100 * time.Millisecond
	fraudTimeout       = 2 * time.Second
)

func newPayments(_ context.Context, n *node) (service, error) {
	p := &payments{n: n}
	var err error
	if p.fraud, err = n.peer(FraudCheck); err != nil {
		return nil, err
	}
	if p.bank, err = n.peer(BankAPI); err != nil {
		return nil, err
	}
	if p.processed, err = n.tel.Metrics.NewCounterVec(prometheus.CounterOpts{
		Name: "payments_processed_total",
		Help: "Payments processed, by payment method and outcome (approved, declined, failed).",
	}, "payment_method", "status"); err != nil {
		return nil, err
	}
	n.handle("POST /payments", p.pay)
	return noClose{}, nil
}

func (p *payments) pay(w http.ResponseWriter, r *http.Request) error {
	var req paymentRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("order.id", req.OrderID),
		attribute.String("payment.method", req.PaymentMethod))
	var verdict fraudDecision
	if err := p.n.call(ctx, p.fraud, 1, p.fraud.addrs[0], http.MethodPost, "/check", fraudTimeout,
		fraudRequest(req), &verdict); err != nil {
		p.count(ctx, req.PaymentMethod, statusFailed)
		return upstreamError(err, "fraud check for order %s: %v", req.OrderID, err)
	}
	if !verdict.Allow {
		return p.declined(ctx, w, req, verdict.Reason)
	}
	res, err := p.charge(ctx, req)
	if err != nil {
		p.count(ctx, req.PaymentMethod, statusFailed)
		p.n.log.ErrorContext(ctx, fmt.Sprintf("payment failed after %d attempts", bankAttempts),
			"order_id", req.OrderID, "peer", BankAPI, "error", err.Error())
		return &httpError{status: http.StatusBadGateway, msg: fmt.Sprintf("payment for order %s failed: %v", req.OrderID, err), cause: err}
	}
	if res.Status != "approved" {
		return p.declined(ctx, w, req, res.Reason)
	}
	p.count(ctx, req.PaymentMethod, "approved")
	writeJSON(w, http.StatusOK, paymentResult{Status: "approved", PaymentID: "pay_" + res.Authorization})
	return nil
}

// declined answers a refused payment and logs "payment declined" with the
// reason.
func (p *payments) declined(ctx context.Context, w http.ResponseWriter, req paymentRequest, reason string) error {
	p.count(ctx, req.PaymentMethod, "declined")
	p.n.log.InfoContext(ctx, "payment declined", "order_id", req.OrderID, "reason", reason,
		"payment_method", req.PaymentMethod, "amount_dollars", float64(req.AmountCents)/100)
	writeJSON(w, http.StatusOK, paymentResult{Status: "declined", Reason: reason})
	return nil
}

// charge calls bank-api, retrying failed attempts: each retry is logged
// as "retrying bank-api charge: attempt n of m" (attempt, max_attempts,
// peer); a timed-out attempt is logged by call as "timeout calling
// bank-api". A 4xx is not retried.
func (p *payments) charge(ctx context.Context, req paymentRequest) (chargeResult, error) {
	var lastErr error
	for attempt := 1; attempt <= bankAttempts; attempt++ {
		if attempt > 1 {
			p.n.log.WarnContext(ctx, fmt.Sprintf("retrying bank-api charge: attempt %d of %d", attempt, bankAttempts),
				"attempt", attempt, "max_attempts", bankAttempts, "peer", BankAPI, "order_id", req.OrderID,
				"previous_error", lastErr.Error())
			if err := sleepCtx(ctx, bankBackoff*time.Duration(attempt-1)); err != nil {
				return chargeResult{}, err
			}
		}
		var res chargeResult
		err := p.n.call(ctx, p.bank, 1, p.bank.addrs[0], http.MethodPost, "/charge", bankAttemptTimeout,
			chargeRequest{AmountCents: req.AmountCents, PaymentMethod: req.PaymentMethod, Reference: req.OrderID}, &res)
		if err == nil {
			return res, nil
		}
		lastErr = err
		var ce *callError
		if errors.As(err, &ce) && ce.status >= 400 && ce.status < 500 || ctx.Err() != nil {
			break
		}
	}
	return chargeResult{}, lastErr
}

func (p *payments) count(ctx context.Context, method, status string) {
	addWithExemplar(ctx, p.processed.WithLabelValues(method, status))
}
