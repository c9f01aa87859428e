// Package httpx holds small net/http helpers shared by the ingest and query
// APIs.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/horus-obs/horus/internal/tenant"
)

// StatusWriter is an http.ResponseWriter that remembers the status code.
type StatusWriter struct {
	http.ResponseWriter
	code int
}

// WriteHeader implements http.ResponseWriter.
func (w *StatusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Code returns the status written, 200 if none was.
func (w *StatusWriter) Code() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Flush implements http.Flusher when the underlying writer does.
func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// BadRequest is a client error, answered 400 with its text.
type BadRequest struct{ Msg string }

func (e *BadRequest) Error() string { return e.Msg }

// Badf returns a *BadRequest with a formatted message.
func Badf(format string, args ...any) error {
	return &BadRequest{fmt.Sprintf(format, args...)}
}

// Tenant returns a request's tenant, from X-Scope-OrgID. A bad header is
// answered 400, naming it, and ok is false.
func Tenant(w http.ResponseWriter, r *http.Request) (t string, ok bool) {
	t, err := tenant.FromHeader(r.Header.Get(tenant.Header))
	if err != nil {
		http.Error(w, tenant.Header+" header: "+err.Error(), http.StatusBadRequest)
		return "", false
	}
	return t, true
}

// TenantFunc handles a query API request of one tenant.
type TenantFunc func(ctx context.Context, tenant string, w http.ResponseWriter, r *http.Request) error

// Handle serves h as Loki and Tempo answer their query APIs: the tenant
// from X-Scope-OrgID, the request's work bounded by timeout, and errors as
// plain text: 400 for a *BadRequest or an error clientErr reports (nil:
// none), 504 on timeout, 499 when the client went away, else 500, logged
// as api's.
func Handle(api string, timeout time.Duration, logger *slog.Logger, clientErr func(error) bool, h TenantFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, ok := Tenant(w, r)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		err := h(ctx, t, w, r)
		var bad *BadRequest
		switch {
		case err == nil:
		case errors.As(err, &bad):
			http.Error(w, bad.Msg, http.StatusBadRequest)
		case clientErr != nil && clientErr(err):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case errors.Is(err, context.DeadlineExceeded):
			http.Error(w, fmt.Sprintf("query timed out after %s", timeout), http.StatusGatewayTimeout)
		case errors.Is(err, context.Canceled):
			http.Error(w, "request canceled", 499)
		default:
			logger.Error(api+" request failed", "path", r.URL.Path, "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
}

// WriteJSON writes v as a 200 JSON answer with the content type given,
// encoding it first: a value JSON cannot encode (a NaN, a channel) is a
// 500 in plain text naming the problem, as Loki and Tempo answer errors,
// never a 200 over an empty or cut body.
func WriteJSON(w http.ResponseWriter, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(append(b, '\n'))
}
