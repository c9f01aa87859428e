// Package ui_test is the web UI's browser test: a real Horus with the demo
// shop's data on loopback, and web/e2e/ui.mjs driving Debian's Chromium
// through playwright-core against it.
package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/demo"
	"github.com/horus-obs/horus/internal/demo/fault"
	"github.com/horus-obs/horus/internal/demo/load"
)

// childEnv marks a run of this test binary as a process of the demo shop,
// which re-executes its program (here the test binary) for each service.
const childEnv = "HORUS_UI_TEST_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "demo" {
		if err := demo.Main(os.Args[2:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "horus demo:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// report is what ui.mjs prints.
type report struct {
	Steps []struct {
		Name  string `json:"name"`
		MS    int    `json:"ms"`
		Error string `json:"error"`
	} `json:"steps"`
	Loads       map[string]int `json:"loads"`
	Screenshots []string       `json:"screenshots"`
	Error       string         `json:"error"`
}

// TestBrowser starts the demo shop with its load and a 30 s slowdown of
// notifications (resolvedFault, whose alert of resolvedRule fires and
// resolves before the browser looks), lets it run healthy,
// switches on the orders-bad-deploy scenario (a deploy of orders, then 20%
// of its requests fail), and runs the browser journey: Services with
// orders on top, its page with the error spike and the deploy's change
// marker, comparison, zoom, an exemplar to its trace, a dependency, a
// PromQL, a LogQL and a TraceQL query in Explore, a live tail of another
// tenant's lines, a failing orders trace
// (the failing span on the critical path, its logs), the firing alert of orders with its page, series, deploy and runbook,
// from the alert list to the culprit's change, log line and trace in 3
// clicks (alert, Investigate, a trace of the findings), the resolved
// alert in the History tab and its page, the
// SLOs and an SLO page, Changes with the deploy, an investigation of orders,
// an error state, and a pushed 10,000-span trace rendered and scrolled.
// Screenshots go to
// test/ui/screenshots (and docs/screenshots with HORUS_UI_SCREENSHOTS_TO_DOCS=1).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test runs the demo shop for about a minute (-short)")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no Chromium at %s (make test-deps installs Debian's chromium)", chromium)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(root, "web")
	if _, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core")); err != nil {
		t.Skip("web/node_modules has no playwright-core (make web-check, or npm ci in web/, installs it)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node on PATH")
	}

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	// An alert that fires and resolves within a minute, for the History
	// tab and the page of a resolved alert (resolvedRule).
	rulesFile := filepath.Join(t.TempDir(), "resolved.yml")
	if err := os.WriteFile(rulesFile, []byte(resolvedRule), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.RuleFiles = []string{rulesFile}
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.OTLP.GRPCAddr = "127.0.0.1:0"
	cfg.OTLP.HTTPAddr = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{
		Config: cfg, Dir: t.TempDir(), ControlAddr: "127.0.0.1:0",
		Executable: os.Args[0], StopTimeout: 5 * time.Second,
		Env:  []string{childEnv + "=1", "OTEL_BSP_SCHEDULE_DELAY=200", "OTEL_BLRP_SCHEDULE_DELAY=200"},
		Load: load.Options{Rate: 8, Seed: 15},
	})
	if err != nil {
		t.Fatalf("start the demo: %v", err)
	}
	defer func() { _ = d.Stop(context.Background()) }()
	horus := "http://" + d.Addrs().Horus
	// At once, notifications slows down for 30 s: resolvedRule's alert
	// fires, then resolves (it sees 20 s), before the browser looks.
	f, err := fault.Parse(resolvedFault)
	if err != nil {
		t.Fatal(err)
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer fcancel()
	if _, err := d.AddFault(fctx, f); err != nil {
		t.Fatalf("fault: %v", err)
	}

	// Healthy traffic first, so the error spike has a before.
	started := time.Now()
	waitServices(t, horus, 90*time.Second, func(s map[string]svc) error {
		for _, name := range []string{"api-gateway", "orders", "payments", "products"} {
			if s[name].Rate == nil || *s[name].Rate == 0 {
				return fmt.Errorf("no rate of %s yet", name)
			}
		}
		return nil
	})
	time.Sleep(max(0, 30*time.Second-time.Since(started)))
	sctx, scancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer scancel()
	if _, err := d.StartScenario(sctx, "orders-bad-deploy"); err != nil {
		t.Fatalf("scenario: %v", err)
	}
	waitServices(t, horus, 90*time.Second, func(s map[string]svc) error {
		if r := s["orders"].ErrorRatio; r == nil || *r < 0.02 {
			return fmt.Errorf("orders' error ratio %v", r)
		}
		return nil
	})
	// The service page graphs rate() over a minute: wait until that shows
	// the errors (new series need a flush or two).
	waitQuery(t, horus, 90*time.Second,
		`sum(rate(traces_spanmetrics_calls_total{service="orders", status_code="STATUS_CODE_ERROR"}[1m])) > 0 and sum(rate(http_requests_total{job="orders", status=~"5.."}[1m])) > 0`)
	// resolvedAlert has fired and is no longer active (a firing alert
	// would put notifications on top of the Services page).
	waitQuery(t, horus, 90*time.Second, `count_over_time(ALERTS{alertname="`+resolvedAlert+`", alertstate="firing"}[10m]) and on() absent(ALERTS{alertname="`+resolvedAlert+`"})`)
	t.Logf("data ready after %s", time.Since(started).Round(time.Second))

	shots := filepath.Join(root, "test", "ui", "screenshots")
	cmd := exec.Command(node, "e2e/ui.mjs")
	cmd.Dir = web
	cmd.Env = append(os.Environ(), "HORUS_URL="+horus, "SCREENSHOTS="+shots, "CHROMIUM="+chromium, "FAILING_SERVICE=orders",
		"RESOLVED_ALERT="+resolvedAlert)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	begin := time.Now()
	out, runErr := cmd.Output()
	t.Logf("ui.mjs (%s):\n%s", time.Since(begin).Round(time.Millisecond), stderr.String())
	var rep report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("ui.mjs: %v; its output: %s", runErr, out)
	}
	for _, s := range rep.Steps {
		t.Logf("step %-55s %6d ms %s", s.Name, s.MS, s.Error)
	}
	t.Logf("page loads (ms from navigation to data shown): %v", rep.Loads)
	t.Logf("screenshots: %s", strings.Join(rep.Screenshots, " "))
	if runErr != nil || rep.Error != "" {
		t.Fatalf("browser journey failed: %s (%v)", rep.Error, runErr)
	}
	if os.Getenv("HORUS_UI_SCREENSHOTS_TO_DOCS") == "1" {
		for _, name := range []string{"services", "service", "alerts", "alert", "slo", "investigate", "explore-traces", "trace-failing"} {
			b, err := os.ReadFile(filepath.Join(shots, name+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "docs", "screenshots", name+".png"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkServing(t, horus)
}

// resolvedFault slows every request of notifications for 30 s (the demo's
// fault syntax, docs/demo.md): orders' completions wait for it, but no
// request fails, so the services' error shares and the order the
// Services page shows them in do not change.
const resolvedFault = "kind=latency service=notifications median=400ms p99=800ms for=30s"

// resolvedAlert is the alert of resolvedRule.
const resolvedAlert = "NotificationsSlow"

// resolvedRule fires when notifications' mean latency over 20 s passes
// 0.2 s, evaluated every 5 s with a for: of 5 s, so that resolvedFault
// makes it fire and resolve within a minute. Its runbook_url is the
// runbooks' index: the demo has no runbook of this test's own alert.
const resolvedRule = `groups:
  - name: ui-test
    interval: 5s
    rules:
      - alert: NotificationsSlow
        expr: |
          sum by (job) (rate(http_request_duration_seconds_sum{job="notifications"}[20s]))
          / sum by (job) (rate(http_request_duration_seconds_count{job="notifications"}[20s])) > 0.2
        for: 5s
        labels:
          severity: warning
          team: shop
        annotations:
          summary: '{{ $labels.job }} answers in {{ $value }} s on average'
          description: 'The mean latency of {{ $labels.job }} over 20 s is above 0.2 s.'
          runbook_url: '{{ $externalURL }}/runbooks/'
`

// checkServing checks what the browser does not see: API paths keep their
// handlers and unknown ones stay 404s; index.html is not cached.
func checkServing(t *testing.T, horus string) {
	for path, want := range map[string]int{
		"/":                        200,
		"/service/orders":          200,
		"/trace/0123456789abcdef":  200,
		"/api/v1/nope":             404,
		"/loki/api/v1/nope":        404,
		"/nope":                    404,
		"/service/a/b":             404,
		"/-/healthy":               200,
		"/api/v1/status/buildinfo": 200,
	} {
		req, _ := http.NewRequest(http.MethodGet, horus+path, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		if want == 200 && !strings.HasPrefix(path, "/api") && !strings.HasPrefix(path, "/-/") && resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q", path, resp.Header.Get("Cache-Control"))
		}
	}
}

type svc struct {
	Name       string   `json:"name"`
	Rate       *float64 `json:"rate"`
	ErrorRatio *float64 `json:"errorRatio"`
}

// waitServices polls /api/v1/services over the last 5 minutes until ok
// accepts it.
func waitServices(t *testing.T, horus string, within time.Duration, ok func(map[string]svc) error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := func() error {
			q := url.Values{"start": {strconv.FormatInt(time.Now().Add(-5*time.Minute).Unix(), 10)}}
			resp, err := http.Get(horus + "/api/v1/services?" + q.Encode())
			if err != nil {
				return err
			}
			defer func() { _ = resp.Body.Close() }()
			var body struct {
				Data struct{ Services []svc }
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				return err
			}
			m := map[string]svc{}
			for _, s := range body.Data.Services {
				m[s.Name] = s
			}
			return ok(m)
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not after %s: %v", within, err)
		}
		time.Sleep(time.Second)
	}
}

// waitQuery polls the PromQL query qs until it answers a sample.
func waitQuery(t *testing.T, horus string, within time.Duration, qs string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(horus + "/api/v1/query?" + url.Values{"query": {qs}}.Encode())
		if err == nil {
			var body struct {
				Data struct{ Result []json.RawMessage }
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			_ = resp.Body.Close()
			if err == nil && len(body.Data.Result) > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no sample after %s (%v)", qs, within, err)
		}
		time.Sleep(time.Second)
	}
}
