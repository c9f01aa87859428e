package changes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/horus-obs/horus/internal/tenant"
)

// Client posts and lists changes over Horus' HTTP API: what `horus change`
// and the demo use.
type Client struct {
	// URL is Horus' HTTP address (http://localhost:3300).
	URL string
	// Tenant is sent as X-Scope-OrgID ("": the default tenant).
	Tenant string
	// HTTP is the client (a client with a 30 s timeout when nil).
	HTTP *http.Client
}

// Add posts c (its Kind, Service, Instance, Version, Author, Description,
// Links, Time if set, and Source, api if unset) and returns it as stored,
// with the server's warnings.
func (cl *Client) Add(ctx context.Context, c Change) (Change, []string, error) {
	in := input{Kind: c.Kind, Service: c.Service, Instance: c.Instance, Version: c.Version, Author: c.Author,
		Description: c.Description, Links: c.Links, Source: c.Source}
	if !c.Time.IsZero() {
		in.Time, _ = json.Marshal(c.Time.UTC().Format(time.RFC3339Nano))
	}
	b, err := json.Marshal(in)
	if err != nil {
		return Change{}, nil, err
	}
	var out Change
	warnings, err := cl.do(ctx, http.MethodPost, "", bytes.NewReader(b), &out)
	return out, warnings, err
}

// ListParams select changes to list; zero fields are the API's defaults.
type ListParams struct {
	Start, End              time.Time
	Service, Instance, Kind string
	Limit                   int
}

// List returns the changes p selects, newest first, with the server's
// warnings.
func (cl *Client) List(ctx context.Context, p ListParams) ([]Change, []string, error) {
	v := url.Values{}
	for k, s := range map[string]string{"service": p.Service, "instance": p.Instance, "kind": p.Kind} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !p.Start.IsZero() {
		v.Set("start", p.Start.UTC().Format(time.RFC3339Nano))
	}
	if !p.End.IsZero() {
		v.Set("end", p.End.UTC().Format(time.RFC3339Nano))
	}
	if p.Limit > 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	var out []Change
	warnings, err := cl.do(ctx, http.MethodGet, v.Encode(), nil, &out)
	return out, warnings, err
}

// do sends a request to /api/v1/changes and decodes the envelope's data
// into out.
func (cl *Client) do(ctx context.Context, method, query string, body io.Reader, out any) ([]string, error) {
	base := strings.TrimRight(cl.URL, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u := base + "/api/v1/changes"
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.Tenant != "" {
		req.Header.Set(tenant.Header, cl.Tenant)
	}
	hc := cl.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, u, err)
	}
	var env struct {
		Status   string          `json:"status"`
		Data     json.RawMessage `json:"data"`
		Error    string          `json:"error"`
		Warnings []string        `json:"warnings"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Status == "" {
		return nil, fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(b)))
	}
	if resp.StatusCode/100 != 2 || env.Status != "success" {
		return nil, fmt.Errorf("%s: %s", resp.Status, env.Error)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return nil, fmt.Errorf("%s %s: decoding the answer: %w", method, u, err)
	}
	return env.Warnings, nil
}
