package shop

import (
	"context"
	"net/http"
)

// auth checks the shop's bearer tokens (Token): POST /verify with
// {"token": ...} answers the user and tenant, or 401.
type auth struct{ n *node }

func newAuth(_ context.Context, n *node) (service, error) {
	a := &auth{n: n}
	n.handle("POST /verify", a.verify)
	return noClose{}, nil
}

func (a *auth) verify(w http.ResponseWriter, r *http.Request) error {
	var req verifyRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	user, tenant, err := parseToken(req.Token)
	if err != nil {
		return errStatus(http.StatusUnauthorized, "%v", err)
	}
	a.n.setFields(r.Context(), user, tenant)
	writeJSON(w, http.StatusOK, identity{UserID: user, TenantID: tenant})
	return nil
}
