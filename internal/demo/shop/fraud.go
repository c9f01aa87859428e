package shop

import (
	"context"
	"hash/fnv"
	"math"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// fraudCheck scores payments: POST /check answers allow or deny with a
// score in [0, 1]. The score is a fixed function of the payment (amount,
// method) and the user, so the same shopper gets the same answer.
type fraudCheck struct{ n *node }

func newFraudCheck(_ context.Context, n *node) (service, error) {
	f := &fraudCheck{n: n}
	n.handle("POST /check", f.check)
	return noClose{}, nil
}

// fraudRequest is what POST /check takes.
type fraudRequest struct {
	OrderID       string `json:"order_id"`
	AmountCents   int64  `json:"amount_cents"`
	PaymentMethod string `json:"payment_method"`
}

// fraudDecision is POST /check's answer.
type fraudDecision struct {
	Allow  bool    `json:"allow"`
	Score  float64 `json:"score"`
	Reason string  `json:"reason,omitempty"`
}

// denyScore is the score at and above which a payment is refused.
const denyScore = 0.9

func (f *fraudCheck) check(w http.ResponseWriter, r *http.Request) error {
	var req fraudRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	attrs, _ := f.n.requestFields(r.Context())
	score := riskScore(attrs[bagUser], req.AmountCents, req.PaymentMethod)
	d := fraudDecision{Allow: score < denyScore, Score: score}
	if !d.Allow {
		d.Reason = "fraud_suspected"
		f.n.log.InfoContext(r.Context(), "payment flagged as fraud", "order_id", req.OrderID, "score", score)
	}
	trace.SpanFromContext(r.Context()).SetAttributes(attribute.Float64("fraud.score", score))
	writeJSON(w, http.StatusOK, d)
	return nil
}

// riskScore is a stand-in risk model: a user's base risk (from a hash of
// the id, most users low), raised for large amounts and gift cards, run
// through a few rounds of a logistic function so the check does some work.
func riskScore(user string, amountCents int64, method string) float64 {
	h := fnv.New64a()
	h.Write([]byte(user))
	base := float64(h.Sum64()%1000) / 1000        // uniform in [0, 1)
	x := 6*base*base*base - 5.5                   // most users far below the bar
	x += math.Log1p(float64(amountCents)/100) / 3 // $1,000 adds about 2.3
	if method == "gift_card" {
		x += 0.8
	}
	for i := range 200 {
		x = x + 0.001*math.Sin(x+float64(i)) // the model's "layers"
	}
	return math.Round(1000/(1+math.Exp(-x))) / 1000
}
