package querycli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/horus-obs/horus/internal/tenant"
)

// DefaultURL is where the commands find Horus without --url or
// $HORUS_URL.
const DefaultURL = "http://127.0.0.1:3300"

// maxAnswer bounds an API answer read into memory.
const maxAnswer = 256 << 20

// client reads Horus' query APIs.
type client struct {
	url     string
	tenant  string
	timeout time.Duration
}

// register adds --url, --tenant and --timeout to fs.
func (c *client) register(fs *flag.FlagSet) {
	def := os.Getenv("HORUS_URL")
	if def == "" {
		def = DefaultURL
	}
	fs.StringVar(&c.url, "url", def, "Horus' HTTP address ($HORUS_URL)")
	fs.StringVar(&c.tenant, "tenant", os.Getenv("HORUS_TENANT"), "tenant, sent as X-Scope-OrgID ($HORUS_TENANT)")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "how long to wait for an answer")
}

// base is the URL without a trailing slash, http:// when no scheme is
// given.
func (c *client) base() string {
	b := strings.TrimRight(c.url, "/")
	if !strings.Contains(b, "://") {
		b = "http://" + b
	}
	return b
}

// apiError is an answer of the API other than success: its message.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// get sends GET path?params and returns the body of a 2xx answer; any
// other answer is an *apiError with the API's own message: the error
// field of a Prometheus envelope, or the text Loki and Tempo answer.
func (c *client) get(ctx context.Context, path string, params url.Values, accept string) ([]byte, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	u := c.base() + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c.tenant != "" {
		req.Header.Set(tenant.Header, c.tenant)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("is Horus running at %s (--url, $HORUS_URL)? %w", c.base(), err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading the answer: %w", path, err)
	}
	if resp.StatusCode/100 == 2 {
		return b, nil
	}
	return nil, &apiError{status: resp.StatusCode, msg: errorMessage(resp.Status, b)}
}

// errorMessage is the message of an error answer: a Prometheus
// envelope's error (after its type), a JSON object's error or message, or
// the text.
func errorMessage(status string, b []byte) string {
	var env struct {
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(b, &env) == nil {
		switch {
		case env.Error != "" && env.ErrorType != "":
			return env.ErrorType + ": " + env.Error
		case env.Error != "":
			return env.Error
		case env.Message != "":
			return env.Message
		}
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return s
	}
	return status
}
