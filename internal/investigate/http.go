package investigate

import (
	"context"
	"errors"
	"net/http"

	"github.com/horus-obs/horus/internal/api/promeval"
	"github.com/horus-obs/horus/internal/tenant"
)

// Register adds GET /api/v1/investigate to mux.
func (e *Engine) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/investigate", e)
}

// ServeHTTP answers GET /api/v1/investigate (docs/investigate.md) for the
// tenant of X-Scope-OrgID: 200 with the Result; 400 (bad_data) for a bad
// parameter or header, naming it; 404 (not_found) for an alert that is
// not active; 503 (timeout) past the engine's timeout; 500 otherwise.
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	org, err := tenant.FromHeader(r.Header.Get(tenant.Header))
	if err != nil {
		promeval.WriteError(w, http.StatusBadRequest, "bad_data", tenant.Header+" header: "+err.Error())
		return
	}
	if err := r.ParseForm(); err != nil {
		promeval.WriteError(w, http.StatusBadRequest, "bad_data", err.Error())
		return
	}
	req, err := ParseRequest(r.Form, e.o.Now())
	if err == nil {
		req.Tenant = org
		var res *Result
		if res, err = e.Investigate(r.Context(), req); err == nil {
			promeval.Write(w, http.StatusOK, promeval.Response{Status: "success", Data: res, Warnings: res.Warnings})
			return
		}
	}
	var nf *NotFoundError
	switch {
	case IsBadRequest(err):
		promeval.WriteError(w, http.StatusBadRequest, "bad_data", err.Error())
	case errors.As(err, &nf):
		promeval.WriteError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		promeval.WriteError(w, http.StatusServiceUnavailable, "timeout", err.Error())
	default:
		promeval.WriteError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}
