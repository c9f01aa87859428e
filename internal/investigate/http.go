package investigate

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/horus-obs/horus/internal/tenant"
)

// Register adds GET /api/v1/investigate to mux.
func (e *Engine) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/investigate", e)
}

// response is the Prometheus API's envelope, as every /api/v1 endpoint
// of Horus answers.
type response struct {
	Status    string   `json:"status"`
	Data      *Result  `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// ServeHTTP answers GET /api/v1/investigate (docs/investigate.md) for the
// tenant of X-Scope-OrgID: 200 with the Result; 400 (bad_data) for a bad
// parameter or header, naming it; 404 (not_found) for an alert that is
// not active; 503 (timeout) past the engine's timeout; 500 otherwise.
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	org, err := tenant.FromHeader(r.Header.Get(tenant.Header))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, response{Status: "error", ErrorType: "bad_data", Error: tenant.Header + " header: " + err.Error()})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, response{Status: "error", ErrorType: "bad_data", Error: err.Error()})
		return
	}
	req, err := ParseRequest(r.Form, e.o.Now())
	if err == nil {
		req.Tenant = org
		var res *Result
		if res, err = e.Investigate(r.Context(), req); err == nil {
			writeJSON(w, http.StatusOK, response{Status: "success", Data: res, Warnings: res.Warnings})
			return
		}
	}
	var nf *NotFoundError
	switch {
	case IsBadRequest(err):
		writeJSON(w, http.StatusBadRequest, response{Status: "error", ErrorType: "bad_data", Error: err.Error()})
	case errors.As(err, &nf):
		writeJSON(w, http.StatusNotFound, response{Status: "error", ErrorType: "not_found", Error: err.Error()})
	case errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusServiceUnavailable, response{Status: "error", ErrorType: "timeout", Error: err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, response{Status: "error", ErrorType: "internal", Error: err.Error()})
	}
}

// writeJSON answers v with code; a v JSON cannot encode is a 500 naming
// the problem, not an empty answer.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(response{Status: "error", ErrorType: "internal", Error: "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
