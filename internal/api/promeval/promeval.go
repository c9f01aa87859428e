// Package promeval holds what Horus' own JSON APIs that read metrics with
// PromQL share: an instant query's vector and the API time parameter.
package promeval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// Instant evaluates the PromQL query qs at ts over q and returns its
// vector; a query whose result is not a vector is an error.
func Instant(ctx context.Context, engine promql.QueryEngine, q storage.Queryable, qs string, ts time.Time) (promql.Vector, error) {
	qry, err := engine.NewInstantQuery(ctx, q, nil, qs, ts)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Vector()
}

// ParseTime reads a time parameter as Prometheus' API does: Unix seconds
// (with a fraction) or RFC 3339; "" is def.
func ParseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
			return time.Time{}, fmt.Errorf("%q is out of range", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot parse %q as a unix timestamp or RFC 3339 time", s)
	}
	return t, nil
}

// Response is the Prometheus API's envelope, which Horus' own JSON APIs
// answer with.
type Response struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// Write writes r as JSON with status code. r is encoded before the
// status is sent, so an r JSON cannot encode (a NaN or an infinity in
// its data) is a 500 (errorType internal) naming the problem, not a 200
// with an empty or cut body.
func Write(w http.ResponseWriter, code int, r Response) { WriteJSON(w, code, r) }

// WriteJSON writes v as JSON with the status code, encoding it first: a
// value JSON cannot encode (a NaN, a channel) is a 500 with an error
// envelope naming the problem, never a status already sent over an empty
// or cut body.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(Response{Status: "error", ErrorType: "internal", Error: "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// WriteError writes an error envelope: typ is Prometheus' errorType
// ("bad_data", "execution").
func WriteError(w http.ResponseWriter, code int, typ, msg string) {
	Write(w, code, Response{Status: "error", ErrorType: typ, Error: msg})
}

// Range reads the start and end parameters of r as ParseTime does: end is
// now by default, start def before end; an end not after start is an
// error. Errors name the parameter.
func Range(r *http.Request, now time.Time, def time.Duration) (start, end time.Time, err error) {
	end, err = ParseTime(r.FormValue("end"), now)
	if err != nil {
		return start, end, fmt.Errorf("invalid parameter \"end\": %w", err)
	}
	start, err = ParseTime(r.FormValue("start"), end.Add(-def))
	if err != nil {
		return start, end, fmt.Errorf("invalid parameter \"start\": %w", err)
	}
	if !end.After(start) {
		return start, end, errors.New("invalid parameters: end must be after start")
	}
	return start, end, nil
}
