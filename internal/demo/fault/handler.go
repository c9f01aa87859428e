package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// maxBody bounds a POST /faults body.
const maxBody = 64 << 10

// Handler returns the process's fault admin API, JSON in and out:
//
//	GET    /faults       200, the faults in force: a JSON array of Fault (MarshalJSON's form)
//	GET    /faults/{id}  200, one fault; 404 if there is none with that ID
//	POST   /faults       add or replace a fault: a JSON Fault, or {"spec": "<spec>"}
//	                     (Parse); 201 with the fault as stored
//	DELETE /faults/{id}  204; 404 if there is none with that ID
//	DELETE /faults       204, every fault removed
//
// A bad request is a 4xx whose JSON body {"error": "..."} names the problem:
// 400 for a spec or fault that does not parse or validate (or targets another
// process), 413 for a body over 64 KiB, 415 for a body that is not JSON, 405
// (from net/http's ServeMux) for another method, 403 for a Host that is not
// localhost or a loopback address. Like the demo's control API, it takes
// JSON only and answers loopback names only, so that a web page cannot
// drive it: a page may POST a form or text anywhere without asking the
// browser's permission (a CORS "simple request"), but not JSON, and a host
// name rebound to 127.0.0.1 is refused by its Host. Mount it at the root of
// an admin listener, or under a prefix with http.StripPrefix.
func (i *Injector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, i.List())
	})
	mux.HandleFunc("GET /faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		for _, f := range i.List() {
			if f.ID == id {
				writeJSON(w, http.StatusOK, f)
				return
			}
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no fault with id %q", id))
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		f, status, err := ReadFault(w, r)
		if err != nil {
			writeError(w, status, err.Error())
			return
		}
		stored, err := i.Add(f)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusCreated, stored)
	})
	mux.HandleFunc("DELETE /faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !i.Remove(r.PathValue("id")) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no fault with id %q", r.PathValue("id")))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) {
		i.Clear()
		w.WriteHeader(http.StatusNoContent)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("host %q: the fault API answers requests to localhost or a loopback address", r.Host))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a request's Host names this machine:
// "localhost" or a loopback address, with or without a port.
func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// ReadFault reads the fault of a POST /faults request as Handler does: a
// JSON body (Content-Type application/json, at most 64 KiB) that is either
// a fault in Fault's JSON form or {"spec": "<spec>"} (Parse). The fault is
// validated (Fault.Validate, without a service list). On error it returns
// the status to answer (400, 413 or 415) and an error naming the problem.
// The demo's control API can use it to take the same bodies.
func ReadFault(w http.ResponseWriter, r *http.Request) (Fault, int, error) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return Fault{}, http.StatusUnsupportedMediaType, fmt.Errorf(
			"content type %q: send a JSON fault or {\"spec\": \"kind=... service=...\"} as application/json", ct)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return Fault{}, bodyStatus(err), fmt.Errorf("read body: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return Fault{}, http.StatusBadRequest, fmt.Errorf("fault JSON: %w", err)
	}
	if spec, ok := raw["spec"]; ok {
		var text string
		if len(raw) != 1 {
			return Fault{}, http.StatusBadRequest, errors.New(`a body with "spec" has no other key`)
		}
		if err := json.Unmarshal(spec, &text); err != nil {
			return Fault{}, http.StatusBadRequest, errors.New(`"spec" is a string: "kind=... service=..."`)
		}
		f, err := Parse(text)
		if err != nil {
			return Fault{}, http.StatusBadRequest, fmt.Errorf("spec: %w", err)
		}
		return f, 0, nil
	}
	var f Fault
	if err := json.Unmarshal(body, &f); err != nil {
		return Fault{}, http.StatusBadRequest, fmt.Errorf("fault JSON: %w", err)
	}
	if err := f.Validate(); err != nil {
		return Fault{}, http.StatusBadRequest, err
	}
	return f, 0, nil
}

func bodyStatus(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Client calls a fault admin API (Handler's) at a base URL, such as a
// child's admin listener "http://127.0.0.1:9101".
type Client struct {
	base string
	hc   *http.Client
}

// NewClient returns a client of the admin API at base (scheme, host and any
// prefix the handler is mounted under, without the "/faults"). hc nil uses
// http.DefaultClient.
func NewClient(base string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(base, "/"), hc: hc}
}

// APIError is a non-2xx answer of the admin API.
type APIError struct {
	Status  int    // HTTP status
	Message string // the answer's "error" text, else its body
}

// Error implements error: "fault API: <status>: <message>".
func (e *APIError) Error() string { return fmt.Sprintf("fault API: %d: %s", e.Status, e.Message) }

// List returns the faults in force (GET /faults).
func (c *Client) List(ctx context.Context) ([]Fault, error) {
	var out []Fault
	err := c.do(ctx, http.MethodGet, "/faults", nil, http.StatusOK, &out)
	return out, err
}

// Add adds or replaces f (POST /faults) and returns it as stored. A refusal
// is an *APIError with the handler's message.
func (c *Client) Add(ctx context.Context, f Fault) (Fault, error) {
	body, err := json.Marshal(f)
	if err != nil {
		return Fault{}, err
	}
	var out Fault
	err = c.do(ctx, http.MethodPost, "/faults", body, http.StatusCreated, &out)
	return out, err
}

// Remove ends the fault id (DELETE /faults/{id}) and reports whether the
// process had it.
func (c *Client) Remove(ctx context.Context, id string) (bool, error) {
	err := c.do(ctx, http.MethodDelete, "/faults/"+url.PathEscape(id), nil, http.StatusNoContent, nil)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// Clear ends every fault (DELETE /faults).
func (c *Client) Clear(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/faults", nil, http.StatusNoContent, nil)
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &APIError{Status: resp.StatusCode, Message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: answer: %w", method, path, err)
		}
	}
	return nil
}
