package shop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"time"
)

// The external providers stand for other companies' systems: they use no
// SDK and send Horus nothing, so they appear only through their callers'
// client spans (peer.service), as virtual nodes of the service graph.
// They still hold a fault injector, so a scenario can make them slow or
// failing.

// bank is the bank-api: POST /charge approves or declines a payment after
// a log-normal wait (median 80 ms, p99 about 400 ms).
type bank struct{ n *node }

func newBank(_ context.Context, n *node) (service, error) {
	b := &bank{n: n}
	n.handle("POST /charge", b.charge)
	return noClose{}, nil
}

// chargeRequest is what POST /charge takes.
type chargeRequest struct {
	AmountCents   int64  `json:"amount_cents"`
	PaymentMethod string `json:"payment_method"`
	Reference     string `json:"reference"`
}

// chargeResult is POST /charge's answer: status "approved" or "declined".
type chargeResult struct {
	Status        string `json:"status"`
	Reason        string `json:"reason,omitempty"`
	Authorization string `json:"authorization,omitempty"`
}

// declineRates are the bank's decline probabilities by payment method,
// and the reasons it gives.
var declineRates = map[string]struct {
	p       float64
	reasons []string
}{
	"card":          {0.04, []string{"insufficient_funds", "card_expired", "do_not_honor"}},
	"paypal":        {0.02, []string{"account_restricted"}},
	"bank_transfer": {0.01, []string{"invalid_account"}},
	"gift_card":     {0.15, []string{"insufficient_balance"}},
}

func (b *bank) charge(w http.ResponseWriter, r *http.Request) error {
	var req chargeRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if err := sleepCtx(r.Context(), logNormal(80*time.Millisecond, 0.7)); err != nil {
		return err
	}
	if d, ok := declineRates[req.PaymentMethod]; ok && mrand.Float64() < d.p {
		res := chargeResult{Status: "declined", Reason: d.reasons[mrand.IntN(len(d.reasons))]}
		b.n.log.Info("charge declined", "reference", req.Reference, "reason", res.Reason)
		writeJSON(w, http.StatusOK, res)
		return nil
	}
	writeJSON(w, http.StatusOK, chargeResult{Status: "approved", Authorization: randomHex(6)})
	return nil
}

// email is the email-provider: POST /send accepts a message after a short
// wait and answers its id.
type email struct{ n *node }

func newEmail(_ context.Context, n *node) (service, error) {
	e := &email{n: n}
	n.handle("POST /send", e.send)
	return noClose{}, nil
}

func (e *email) send(w http.ResponseWriter, r *http.Request) error {
	var req emailRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if err := sleepCtx(r.Context(), logNormal(25*time.Millisecond, 0.5)); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": "msg_" + randomHex(8)})
	return nil
}

// logNormal draws a wait whose logarithm is normal around ln(median) with
// standard deviation sigma (p99 ≈ median × e^(2.33 σ)).
func logNormal(median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*mrand.NormFloat64()))
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
