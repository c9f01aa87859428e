package servicegraph

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/horus-obs/horus/internal/api/prom"
	"github.com/horus-obs/horus/internal/store/metrics"
	"github.com/horus-obs/horus/internal/tenant"
)

// TestHandlerWithinQueryLimits serves the graph with the engine Horus
// runs (prom.NewEngine, which parses with the PromQL limits) over a real
// store: the queries the handler builds stay within the limits for the
// longest tenant name and the widest ranges, and bad parameters are 400s.
func TestHandlerWithinQueryLimits(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	st, err := metrics.Open(t.TempDir(), logger, reg, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	engine, err := prom.NewEngine(logger, reg, prom.EngineOptions{Timeout: time.Minute, MaxSamples: 1_000_000, LookbackDelta: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = engine.Close() }()
	srv := httptest.NewServer(Handler(engine, st, time.Minute))
	defer srv.Close()
	longTenant := strings.Repeat("t", 150)
	if err := tenant.Check(longTenant); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		org, start, end string
		code            int
		body            string
	}{
		{"", "", "", 200, `"status":"success"`},
		{longTenant, "", "", 200, `"status":"success"`},
		{longTenant, "-99999999999", "99999999999", 200, `"status":"success"`},
		{"", "2", "1", 400, `"errorType":"bad_data"`},
		{"", "x", "", 400, `"errorType":"bad_data"`},
		{"", "", "1e300", 400, `"errorType":"bad_data"`},
		{"a/b", "", "", 400, `"errorType":"bad_data"`},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, c := range cases {
		params := url.Values{}
		if c.start != "" {
			params.Set("start", c.start)
		}
		if c.end != "" {
			params.Set("end", c.end)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?"+params.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.org != "" {
			req.Header.Set(tenant.Header, c.org)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(body), c.body) {
			t.Errorf("tenant %.10q start %q end %q: %d %.300s; want %d with %s", c.org, c.start, c.end, resp.StatusCode, body, c.code, c.body)
		}
	}
}
