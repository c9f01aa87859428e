package changes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/horus-obs/horus/internal/api/promeval"
	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/tenant"
)

// API limits.
const (
	// maxBodyBytes bounds a POST's body, below the server's write limit:
	// a change is a few hundred bytes.
	maxBodyBytes = 1 << 20
	// DefaultLimit and MaxLimit bound the changes a GET returns.
	DefaultLimit = 100
	MaxLimit     = 5000
	// DefaultRange is how far back a GET without start reads.
	DefaultRange = 7 * 24 * time.Hour
)

// Handler serves /api/v1/changes: GET lists changes, POST adds one.
// write wraps the POST handler as the server's other write endpoints are
// wrapped (in-flight limits, browser-simple content types refused); body
// bounds the request body. The tenant is X-Scope-OrgID's.
func (s *Store) Handler(body ingest.BodyLimits, write func(http.Handler) http.Handler) http.Handler {
	if body.MaxBytes <= 0 || body.MaxBytes > maxBodyBytes {
		body.MaxBytes = maxBodyBytes
	}
	if body.MaxDecodedBytes <= 0 || body.MaxDecodedBytes > maxBodyBytes {
		body.MaxDecodedBytes = maxBodyBytes
	}
	post := write(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveAdd(w, r, body) }))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.serveList(w, r)
		case http.MethodPost:
			post.ServeHTTP(w, r)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			writeError(w, http.StatusMethodNotAllowed, "bad_data", r.Method+" is not allowed here: GET lists changes, POST adds one")
		}
	})
}

// input is the body of a POST.
type input struct {
	Kind        string          `json:"kind"`
	Service     string          `json:"service"`
	Instance    string          `json:"instance"`
	Version     string          `json:"version"`
	Author      string          `json:"author"`
	Description string          `json:"description"`
	Links       []Link          `json:"links"`
	Time        json.RawMessage `json:"time"`
	Source      string          `json:"source"`
}

func (s *Store) serveAdd(w http.ResponseWriter, r *http.Request, limits ingest.BodyLimits) {
	org, ok := requestTenant(w, r)
	if !ok {
		return
	}
	if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "bad_data", fmt.Sprintf("Content-Type %q: send the change as application/json", r.Header.Get("Content-Type")))
		return
	}
	b, err := ingest.ReadBody(r, limits)
	if err != nil {
		writeError(w, ingest.StatusOf(err), "bad_data", err.Error())
		return
	}
	c, err := parseInput(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_data", err.Error())
		return
	}
	c.Tenant = org
	stored, warnings, err := s.Add(r.Context(), c)
	var inv *InvalidError
	switch {
	case errors.As(err, &inv):
		writeError(w, http.StatusBadRequest, "bad_data", err.Error())
		return
	case errors.Is(err, events.ErrStorage):
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, response{Status: "success", Data: stored, Warnings: warnings})
}

// parseInput reads a POST's body: one JSON object, no unknown fields.
func parseInput(b []byte) (Change, error) {
	var in input
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Change{}, fmt.Errorf("unknown field %s; the fields are kind, service, instance, version, author, description, links, time, source", f)
		}
		return Change{}, fmt.Errorf("body: want a JSON object of a change: %w", err)
	}
	if dec.More() {
		return Change{}, fmt.Errorf("body: want one JSON object, got more after it")
	}
	c := Change{Kind: in.Kind, Service: in.Service, Instance: in.Instance, Version: in.Version, Author: in.Author,
		Description: in.Description, Links: in.Links, Source: in.Source}
	if c.Source == "" {
		c.Source = SourceAPI
	}
	if c.Source == SourceAuto {
		return Change{}, fmt.Errorf("source \"auto\" is Horus' own, for the versions it detects; send api or cli")
	}
	if len(in.Time) > 0 && string(in.Time) != "null" {
		var err error
		if c.Time, err = parseJSONTime(in.Time); err != nil {
			return Change{}, err
		}
	}
	return c, nil
}

// parseJSONTime reads a time given as RFC 3339 text or as Unix seconds
// (a number, or text that reads as one), as the Prometheus API takes them.
func parseJSONTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time: %w", err)
	}
	return t, nil
}

// ParseTime reads a time as RFC 3339 text or Unix seconds.
func ParseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
			return time.Time{}, fmt.Errorf("%q is not a time", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-01-02T15:04:05Z) or Unix seconds", s)
	}
	return t.UTC(), nil
}

func (s *Store) serveList(w http.ResponseWriter, r *http.Request) {
	org, ok := requestTenant(w, r)
	if !ok {
		return
	}
	q, err := listQuery(r, s.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_data", err.Error())
		return
	}
	q.Tenant = org
	q.Limit++ // one more tells whether the limit cut the list
	out, err := s.List(r.Context(), q)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	var warnings []string
	if len(out) == q.Limit {
		out = out[:q.Limit-1]
		warnings = append(warnings, fmt.Sprintf("more changes than the limit of %d: the newest are listed; narrow the range or raise limit (at most %d)", q.Limit-1, MaxLimit))
	}
	writeJSON(w, http.StatusOK, response{Status: "success", Data: out, Warnings: warnings})
}

// listQuery reads a GET's parameters: start and end (RFC 3339 or Unix
// seconds; end defaults to now, start to DefaultRange before end),
// service, instance, kind and limit.
func listQuery(r *http.Request, now time.Time) (Query, error) {
	if err := r.ParseForm(); err != nil {
		return Query{}, err
	}
	q := Query{End: now, Service: r.Form.Get("service"), Instance: r.Form.Get("instance"), Kind: r.Form.Get("kind"), Limit: DefaultLimit}
	var err error
	if v := r.Form.Get("end"); v != "" {
		if q.End, err = ParseTime(v); err != nil {
			return q, fmt.Errorf("end: %w", err)
		}
	}
	q.Start = q.End.Add(-DefaultRange)
	if v := r.Form.Get("start"); v != "" {
		if q.Start, err = ParseTime(v); err != nil {
			return q, fmt.Errorf("start: %w", err)
		}
	}
	if q.End.Before(q.Start) {
		return q, fmt.Errorf("end %s is before start %s", q.End.Format(time.RFC3339), q.Start.Format(time.RFC3339))
	}
	if q.Kind != "" && !slices.Contains(Kinds, q.Kind) {
		return q, fmt.Errorf("kind %q is unknown; want one of %s", q.Kind, strings.Join(Kinds, ", "))
	}
	if v := r.Form.Get("limit"); v != "" {
		if q.Limit, err = strconv.Atoi(v); err != nil || q.Limit < 1 || q.Limit > MaxLimit {
			return q, fmt.Errorf("limit %q: want a whole number from 1 to %d", v, MaxLimit)
		}
	}
	return q, nil
}

// response is the Prometheus API's envelope, which every /api/v1
// endpoint of Horus answers with.
type response struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// writeJSON writes v as JSON, encoded before the status is sent
// (promeval.WriteJSON).
func writeJSON(w http.ResponseWriter, code int, v any) { promeval.WriteJSON(w, code, v) }

func writeError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, response{Status: "error", ErrorType: typ, Error: msg})
}

// requestTenant returns the request's tenant (X-Scope-OrgID); a bad
// header is answered 400, and ok is false.
func requestTenant(w http.ResponseWriter, r *http.Request) (string, bool) {
	org, err := tenant.FromHeader(r.Header.Get(tenant.Header))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_data", tenant.Header+" header: "+err.Error())
		return "", false
	}
	return org, true
}
