package prom

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// call sends params to path by GET (in the URL) or POST (as a form) and
// returns the status and body; the request is bounded by ctx.
func (ta *testAPI) call(ctx context.Context, t *testing.T, method, path string, params url.Values) (int, []byte) {
	t.Helper()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequestWithContext(ctx, method, ta.srv.URL+path+"?"+params.Encode(), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, ta.srv.URL+path, strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// metric reads the value of a counter or gauge of the test's registry
// whose labels include want.
func (ta *testAPI) metric(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := ta.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue metrics
				}
			}
			sum += value(m)
		}
	}
	return sum
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// TestPromQLLimitsHTTP sends the attacks to every endpoint that
// takes PromQL or series selectors, by GET and by POST form, and wants a
// prompt 400 in Prometheus' error shape naming the limit; queries within
// the limits are still answered.
func TestPromQLLimitsHTTP(t *testing.T) {
	ta := newTestAPI(t, nil)
	now := time.Now()
	rng := url.Values{
		"start": {strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)},
		"end":   {strconv.FormatInt(now.Unix(), 10)},
		"step":  {"60"},
	}
	with := func(base url.Values, k, v string) url.Values {
		out := url.Values{k: {v}}
		for k, vs := range base {
			out[k] = vs
		}
		return out
	}
	tooDeep := `query nests deeper than 200 levels`
	tooLong := `query is 1200002 bytes, more than the limit of 65536`
	queries := map[string]struct {
		q, want string
		post    bool // too long for a URL (net/http refuses 1 MB of header)
	}{
		"1 + 1 + ... (10,000 terms, 40 KB)": {strings.Repeat("1 + ", 10_000) + "1", tooDeep, false},
		"up or up or ... (1 MB)":            {strings.Repeat("up or ", 200_000) + "up", tooLong, true},
		"((( ... up ))) (5,000 deep)":       {strings.Repeat("(", 5000) + "up" + strings.Repeat(")", 5000), tooDeep, false},
		"- - - ... up (10,000)":             {strings.Repeat("- ", 10_000) + "up", tooDeep, false},
		"x[1m + 1m + ...] (10,000)":         {"x[" + strings.Repeat("1m + ", 10_000) + "1m]", tooDeep, false},
		"70 KB label value":                 {`up{a="` + strings.Repeat("x", 70_000) + `"}`, `query is 70008 bytes, more than the limit of 65536`, false},
	}
	endpoints := []struct {
		path   string
		params url.Values
	}{
		{"/api/v1/query", url.Values{}},
		{"/api/v1/query_range", rng},
		{"/api/v1/query_exemplars", rng},
		{"/api/v1/parse_query", url.Values{}},
		{"/api/v1/format_query", url.Values{}},
	}
	for _, ep := range endpoints {
		for name, c := range queries {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				if method == http.MethodGet && c.post {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				code, body := ta.call(ctx, t, method, ep.path, with(ep.params, "query", c.q))
				cancel()
				wantErr(t, method+" "+ep.path+" "+name, code, body, c.want)
			}
		}
	}

	// Series selectors: each and all of a request's together.
	long := `{a="` + strings.Repeat("x", 70_000) + `"}`
	many := url.Values{}
	for range 20 {
		many.Add("match[]", `{a="`+strings.Repeat("x", 4000)+`"}`)
	}
	selectors := map[string]struct {
		params url.Values
		want   string
	}{
		"one 70 KB selector":            {url.Values{"match[]": {long}}, `match[] selectors are 70006 bytes together, more than the limit of 65536`},
		"20 selectors of 4 KB":          {many, `match[] selectors are 80120 bytes together, more than the limit of 65536`},
		"1 MB of selectors (POST only)": {url.Values{"match[]": {strings.Repeat(`{a="b"} or `, 100_000)}}, `match[] selectors are 1100000 bytes together, more than the limit of 65536`},
	}
	for _, path := range []string{"/api/v1/series", "/api/v1/labels", "/api/v1/label/a/values"} {
		for name, c := range selectors {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				if method == http.MethodPost && strings.Contains(path, "/label/") {
					continue // GET only, as in Prometheus
				}
				if method == http.MethodGet && strings.Contains(name, "POST only") {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				code, body := ta.call(ctx, t, method, path, c.params)
				cancel()
				want := c.want
				if path == "/api/v1/series" {
					want = `invalid parameter "match[]": ` + want
				}
				wantErr(t, method+" "+path+" "+name, code, body, want)
			}
		}
	}

	// Within the limits: a chain one level short of the depth limit.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	atLimit := strings.Repeat("1 + ", MaxQueryDepth-1) + "1"
	for _, ep := range endpoints {
		code, body := ta.call(ctx, t, http.MethodPost, ep.path, with(ep.params, "query", strings.ReplaceAll(atLimit, "1", "up")))
		if code != http.StatusOK {
			t.Errorf("POST %s at the depth limit: %d %.300s", ep.path, code, body)
		}
	}
	code, body := ta.call(ctx, t, http.MethodGet, "/api/v1/query", url.Values{"query": {atLimit}})
	if code != http.StatusOK || !strings.Contains(string(body), `"200"`) {
		t.Errorf("GET /api/v1/query at the depth limit: %d %.300s", code, body)
	}
	// Pretty-printing is bounded by its own budget.
	for name, q := range worstAccepted() {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			code, body := ta.call(ctx, t, method, "/api/v1/format_query", url.Values{"query": {q}})
			if name == "nested calls" {
				if code != http.StatusOK {
					t.Errorf("%s format_query %s: %d %.300s", method, name, code, body)
				}
				continue
			}
			wantErr(t, method+" format_query "+name, code, body, `invalid parameter "query": query is too large to format: printing it would build about`)
		}
	}
	code, body = ta.call(ctx, t, http.MethodPost, "/api/v1/format_query", url.Values{"query": {"sum(rate(x[5m]))by(job)"}})
	if code != http.StatusOK || !strings.Contains(string(body), `"sum by (job) (rate(x[5m]))"`) {
		t.Errorf("format_query: %d %.300s", code, body)
	}
	if got := ta.metric(t, "horus_query_rejected_total", map[string]string{"reason": "bad_data"}); got == 0 {
		t.Errorf("horus_query_rejected_total{reason=bad_data} = 0, want the refusals counted")
	}
}

// wantErr checks for a 400 in Prometheus' error shape whose message
// contains want.
func wantErr(t *testing.T, what string, code int, body []byte, want string) {
	t.Helper()
	var env struct {
		Status, ErrorType, Error string
	}
	if err := json.Unmarshal(body, &env); err != nil || code != http.StatusBadRequest || env.Status != "error" || env.ErrorType != "bad_data" || !strings.Contains(env.Error, want) {
		t.Errorf("%s: %d %.300s; want 400 bad_data with %q", what, code, body, want)
	}
}

// TestQueryCancelledWhenClientLeaves starts a range query that would run
// for a long time, drops the client once the engine runs it, and wants the
// engine to stop it: its running-query gauge back at 0 and the request
// recorded as cancelled (499), by GET and by POST.
func TestQueryCancelledWhenClientLeaves(t *testing.T) {
	ta := newTestAPI(t, func(o *Options, eo *EngineOptions) {
		o.QueryTimeout, eo.Timeout = 10*time.Minute, 10*time.Minute
	})
	now := time.Now()
	params := url.Values{
		// Each of 10,800 steps sums a week of one-second points: minutes of
		// work, in a few MB.
		"query": {"sum_over_time(vector(1)[7d:1s])"},
		"start": {strconv.FormatInt(now.Add(-3*time.Hour).Unix(), 10)},
		"end":   {strconv.FormatInt(now.Unix(), 10)},
		"step":  {"1"},
	}
	for i, method := range []string{http.MethodGet, http.MethodPost} {
		// Generous: on a loaded machine (a full make test beside other
		// work) the engine took over a minute to start and stop the query;
		// a query that is not cancelled never answers 499, however long.
		deadline, stop := context.WithTimeout(context.Background(), 3*time.Minute)
		client, leave := context.WithCancel(deadline)
		done := make(chan error, 1)
		go func() {
			var req *http.Request
			if method == http.MethodGet {
				req, _ = http.NewRequestWithContext(client, method, ta.srv.URL+"/api/v1/query_range?"+params.Encode(), nil)
			} else {
				req, _ = http.NewRequestWithContext(client, method, ta.srv.URL+"/api/v1/query_range", strings.NewReader(params.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				err = errStatus(resp.StatusCode)
			}
			done <- err
		}()
		waitFor(t, deadline, method+": the engine runs the query", func() bool {
			return ta.metric(t, "prometheus_engine_queries", nil) == 1
		})
		select {
		case err := <-done:
			t.Fatalf("%s: the query ended before the client left: %v", method, err)
		default:
		}
		leave()
		if err := <-done; err == nil {
			t.Fatalf("%s: the query answered", method)
		}
		waitFor(t, deadline, method+": the engine stops the query", func() bool {
			return ta.metric(t, "prometheus_engine_queries", nil) == 0 &&
				ta.metric(t, "horus_query_requests_total", map[string]string{"handler": "/query_range", "code": "499"}) == float64(i+1)
		})
		stop()
	}
}

type errStatus int

func (e errStatus) Error() string { return "status " + strconv.Itoa(int(e)) }

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within the test's deadline", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
