package shop

import (
	"context"
	"net/http"
	"time"
)

// notifications sends the shop's e-mails through the external
// email-provider: POST /notifications with an order and a kind.
type notifications struct {
	n     *node
	email *peer
}

// emailTimeout bounds a call to the email provider.
const emailTimeout = 2 * time.Second

func newNotifications(_ context.Context, n *node) (service, error) {
	s := &notifications{n: n}
	var err error
	if s.email, err = n.peer(EmailProvider); err != nil {
		return nil, err
	}
	n.handle("POST /notifications", s.notify)
	return noClose{}, nil
}

// notifyRequest is what POST /notifications takes.
type notifyRequest struct {
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Kind    string `json:"kind"` // "order_confirmation"
}

// emailRequest is what the email provider's POST /send takes.
type emailRequest struct {
	To       string `json:"to"`
	Template string `json:"template"`
	Ref      string `json:"ref"`
}

func (s *notifications) notify(w http.ResponseWriter, r *http.Request) error {
	var req notifyRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	var sent struct {
		ID string `json:"id"`
	}
	if err := s.n.call(r.Context(), s.email, 1, s.email.addrs[0], http.MethodPost, "/send", emailTimeout,
		emailRequest{To: req.UserID + "@customers.example", Template: req.Kind, Ref: req.OrderID}, &sent); err != nil {
		return upstreamError(err, "sending %s for order %s: %v", req.Kind, req.OrderID, err)
	}
	s.n.log.InfoContext(r.Context(), "notification sent", "order_id", req.OrderID, "kind", req.Kind, "message_id", sent.ID)
	writeJSON(w, http.StatusAccepted, map[string]string{"message_id": sent.ID})
	return nil
}
