package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/horus-obs/horus/internal/demo/fault"
	"github.com/horus-obs/horus/internal/demo/load"
)

// Client calls a running demo's control API (what `horus demo fault`,
// `scenario`, `deploy`, `status` and `load` use).
type Client struct {
	base string
	hc   *http.Client
}

// NewClient returns a client of the control API at base
// ("http://127.0.0.1:3390"); a bare host:port gets http://.
func NewClient(base string) *Client {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	// Deploys restart processes one at a time, each within the stop
	// timeout and the ready timeout.
	return &Client{base: strings.TrimRight(base, "/"), hc: &http.Client{Timeout: 5 * time.Minute}}
}

// ControlError is an error answer of the control API.
type ControlError struct {
	Status  int
	Message string
}

func (e *ControlError) Error() string { return fmt.Sprintf("control API: %d: %s", e.Status, e.Message) }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w (is `horus demo` running? its control API is at %s)", err, c.base)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &ControlError{Status: resp.StatusCode, Message: msg}
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

// Summary is GET /api/demo.
func (c *Client) Summary(ctx context.Context) (Summary, error) {
	var s Summary
	return s, c.do(ctx, http.MethodGet, "/api/demo", nil, &s)
}

// Services is GET /api/demo/services.
func (c *Client) Services(ctx context.Context) ([]InstanceStatus, error) {
	var out []InstanceStatus
	return out, c.do(ctx, http.MethodGet, "/api/demo/services", nil, &out)
}

// Faults is GET /api/demo/faults.
func (c *Client) Faults(ctx context.Context) ([]FaultStatus, error) {
	var out []FaultStatus
	return out, c.do(ctx, http.MethodGet, "/api/demo/faults", nil, &out)
}

// AddFault is POST /api/demo/faults with a spec (fault.Parse).
func (c *Client) AddFault(ctx context.Context, spec string) (FaultStatus, error) {
	var out FaultStatus
	return out, c.do(ctx, http.MethodPost, "/api/demo/faults", map[string]string{"spec": spec}, &out)
}

// RemoveFault is DELETE /api/demo/faults/{id}.
func (c *Client) RemoveFault(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/demo/faults/"+url.PathEscape(id), nil, nil)
}

// ClearFaults is DELETE /api/demo/faults.
func (c *Client) ClearFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/api/demo/faults", nil, nil)
}

// Scenarios is GET /api/demo/scenarios.
func (c *Client) Scenarios(ctx context.Context) ([]ScenarioStatus, error) {
	var out []ScenarioStatus
	return out, c.do(ctx, http.MethodGet, "/api/demo/scenarios", nil, &out)
}

// StartScenario is POST /api/demo/scenarios/{name}.
func (c *Client) StartScenario(ctx context.Context, name string) (ScenarioStatus, error) {
	var out ScenarioStatus
	return out, c.do(ctx, http.MethodPost, "/api/demo/scenarios/"+url.PathEscape(name), struct{}{}, &out)
}

// StopScenario is DELETE /api/demo/scenarios.
func (c *Client) StopScenario(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/api/demo/scenarios", nil, nil)
}

// Deploy is POST /api/demo/deploy.
func (c *Client) Deploy(ctx context.Context, req DeployRequest) (DeployResult, error) {
	var out DeployResult
	return out, c.do(ctx, http.MethodPost, "/api/demo/deploy", req, &out)
}

// Load is GET /api/demo/load.
func (c *Client) Load(ctx context.Context) (load.Stats, error) {
	var out load.Stats
	return out, c.do(ctx, http.MethodGet, "/api/demo/load", nil, &out)
}

// SetRate is POST /api/demo/load.
func (c *Client) SetRate(ctx context.Context, rate float64) (load.Stats, error) {
	var out load.Stats
	return out, c.do(ctx, http.MethodPost, "/api/demo/load", map[string]float64{"rate": rate}, &out)
}

// Checkout is POST /api/demo/checkout: one order now, its fields drawn
// as the load draws them where o leaves them zero.
func (c *Client) Checkout(ctx context.Context, o load.CheckoutOptions) (load.Result, error) {
	var out load.Result
	req := map[string]any{"items": o.Items, "payment_method": o.PaymentMethod, "tenant": o.Tenant}
	return out, c.do(ctx, http.MethodPost, "/api/demo/checkout", req, &out)
}

// Changes is GET /api/demo/changes.
func (c *Client) Changes(ctx context.Context) ([]ChangeEvent, error) {
	var out []ChangeEvent
	return out, c.do(ctx, http.MethodGet, "/api/demo/changes", nil, &out)
}

// parseFaults reads deploy fault specs.
func parseFaults(specs []string) ([]fault.Fault, error) {
	var out []fault.Fault
	for _, s := range specs {
		f, err := fault.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("fault %q: %w", s, err)
		}
		out = append(out, f)
	}
	return out, nil
}
