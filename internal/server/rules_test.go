package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/changes"
	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/tenant"
)

// startWithConfig runs Horus with the configuration file body (its rule
// files beside it, in dir), data in dir/data.
func startWithConfig(t *testing.T, dir, body string) *testServer {
	t.Helper()
	f := filepath.Join(dir, "horus.yml")
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, filepath.Join(dir, "data"), func(c *config.Config) { *c = *withProm(c, loaded) })
}

func writeFile(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendSample writes one sample (with an exemplar carrying traceID, if
// any) into the default tenant's series.
func appendSample(t *testing.T, ts *testServer, ls labels.Labels, at time.Time, v float64, traceID string) {
	t.Helper()
	app := ts.metrics.AppenderV2(context.Background())
	var opts storage.AOptions
	if traceID != "" {
		opts.Exemplars = []exemplar.Exemplar{{Labels: labels.FromStrings("trace_id", traceID), Value: v, Ts: at.UnixMilli(), HasTs: true}}
	}
	if _, err := app.Append(0, ls, 0, at.UnixMilli(), v, nil, nil, opts); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// promAlert is an alert of /api/v1/alerts.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
}

// fetchJSON decodes the JSON answer of a GET of url into out.
func fetchJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func horusAlerts(t *testing.T, ts *testServer) []promAlert {
	t.Helper()
	var out struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	fetchJSON(t, ts.URL()+"/api/v1/alerts", &out)
	return out.Data.Alerts
}

// waitFor polls cond every 100 ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// startAlertmanager runs Debian's Alertmanager on a loopback port, its
// cluster listener off, and returns its address.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		if bin, err = exec.LookPath("alertmanager"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("Alertmanager not installed; make test-deps installs Debian's prometheus-alertmanager")
			}
			t.Skip("Alertmanager not installed (make test-deps installs Debian's prometheus-alertmanager)")
		}
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "alertmanager.yml"), "route:\n  receiver: none\n  group_wait: 1s\nreceivers:\n  - name: none\n")
	addr := freePort(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "alertmanager.yml"), "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if testing.Verbose() {
		cmd.Stderr = testWriter{t}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitFor(t, 20*time.Second, "Alertmanager ready", func() bool {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return addr
}

// amAlert is an alert of Alertmanager's API v2.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

func amAlerts(t *testing.T, addr, alertname string) []amAlert {
	t.Helper()
	var out []amAlert
	fetchJSON(t, "http://"+addr+"/api/v2/alerts?filter="+"alertname%3D%22"+alertname+"%22", &out)
	return out
}

// TestExternalAlertmanager: Debian's Alertmanager receives a firing alert
// from Horus, with the rule's severity, summary and runbook_url and
// Horus' link, exemplar trace ids and recent change events, and then its
// resolution.
func TestExternalAlertmanager(t *testing.T) {
	am := startAlertmanager(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yml"), `groups:
  - name: checkout
    interval: 1s
    rules:
      - alert: CheckoutErrors
        expr: sum by (service) (checkout_errors) > 0
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.service }} fails {{ $value }} requests"
          runbook_url: https://runbooks.example.com/checkout-errors
`)
	ts := startWithConfig(t, dir, `rule_files: [rules.yml]
external_url: https://horus.example.com/
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["`+am+`"]
      timeout: 5s
`)
	now := time.Now()
	// A deploy 10 minutes before, and one a day before (out of the window).
	for _, c := range []changes.Change{
		{Kind: "deploy", Service: "checkout", Version: "1.4.2", Author: "alice", Description: "new payment client", Time: now.Add(-10 * time.Minute)},
		{Kind: "deploy", Service: "checkout", Version: "1.4.1", Time: now.Add(-24 * time.Hour)},
	} {
		c.Tenant, c.Source = tenant.Default, changes.SourceAPI
		if _, _, err := ts.changes.Add(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	ls := labels.FromStrings("__name__", "checkout_errors", "service", "checkout", "instance", "a")
	appendSample(t, ts, ls, now.Add(-3*time.Second), 2, "0af7651916cd43dd8448eb211c80319c")
	appendSample(t, ts, ls, now.Add(-2*time.Second), 3, "4bf92f3577b34da6a3ce929d0e0e4736")
	// Another service's exemplars are not this alert's.
	appendSample(t, ts, labels.FromStrings("__name__", "checkout_errors", "service", "search"), now.Add(-2*time.Second), 0, "ffffffffffffffffffffffffffffffff")

	var got []amAlert
	waitFor(t, 30*time.Second, "the firing alert in Alertmanager", func() bool {
		got = amAlerts(t, am, "CheckoutErrors")
		return len(got) == 1 && got[0].Status.State == "active"
	})
	a := got[0]
	if a.Labels["severity"] != "critical" || a.Labels["service"] != "checkout" {
		t.Errorf("labels = %v", a.Labels)
	}
	want := map[string]string{
		"summary":            "checkout fails 3 requests",
		"runbook_url":        "https://runbooks.example.com/checkout-errors",
		"horus_url":          "https://horus.example.com/alerts/" + a.Fingerprint,
		"exemplar_trace_ids": "4bf92f3577b34da6a3ce929d0e0e4736,0af7651916cd43dd8448eb211c80319c",
	}
	for k, v := range want {
		if a.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, a.Annotations[k], v)
		}
	}
	if rc := a.Annotations["recent_changes"]; !strings.Contains(rc, "deploy checkout 1.4.2 by alice: new payment client") || strings.Contains(rc, "1.4.1") {
		t.Errorf("recent_changes = %q", rc)
	}

	// Horus' own API agrees, and /alertmanagers lists the Alertmanager.
	if as := horusAlerts(t, ts); len(as) != 1 || as[0].State != "firing" {
		t.Errorf("/api/v1/alerts = %+v", as)
	}
	resp, err := http.Get(ts.URL() + "/api/v1/alertmanagers")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(b), am+"/api/v2/alerts") {
		t.Errorf("/api/v1/alertmanagers: %s", b)
	}

	// The errors stop: Alertmanager gets the resolution (the alert ends
	// and leaves its list of active alerts).
	appendSample(t, ts, ls, time.Now(), 0, "")
	waitFor(t, 30*time.Second, "the resolution in Alertmanager", func() bool {
		got = amAlerts(t, am, "CheckoutErrors")
		return len(got) == 0 || got[0].EndsAt.Before(time.Now().Add(time.Second)) && !got[0].EndsAt.IsZero() && got[0].EndsAt.Before(a.EndsAt)
	})
	if m := metricValue(t, ts, `prometheus_notifications_sent_total{alertmanager="http://`+am+`/api/v2/alerts"}`); m < 2 {
		t.Errorf("prometheus_notifications_sent_total = %v, want >= 2 (firing, resolved)", m)
	}
}

// metricValue reads one sample of Horus' /metrics, by its exposition
// line's name and labels.
func metricValue(t *testing.T, ts *testServer, series string) float64 {
	t.Helper()
	resp, err := http.Get(ts.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Errorf("%s not in /metrics", series)
	return 0
}

// TestLogQLAlertFromPushedLogs: a LogQL alert ("more than 5 error lines
// for a service in 5m") fires from logs pushed to Loki's API, and its
// recording rule writes a Prometheus series.
func TestLogQLAlertFromPushedLogs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "logs.yml"), `groups:
  - name: log-errors
    interval: 1s
    rules:
      - record: service:log_errors:count5m
        expr: sum by (service_name) (count_over_time({service_name=~".+"} |= "error" [5m]))
      - alert: ServiceErrorLogsHigh
        expr: sum by (service_name) (count_over_time({service_name=~".+"} |= "error" [5m])) > 5
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.service_name }} logged {{ $value }} error lines in 5 minutes"
          runbook_url: https://runbooks.example.com/error-logs
`)
	ts := startWithConfig(t, dir, "logql_rule_files: [logs.yml]\n")
	now := time.Now()
	var stream push.Stream
	stream.Labels = `{service_name="payments"}`
	for i := range 8 {
		line := "level=info msg=ok"
		if i < 6 {
			line = fmt.Sprintf("level=error msg=\"card declined\" n=%d", i)
		}
		stream.Entries = append(stream.Entries, push.Entry{Timestamp: now.Add(time.Duration(i-10) * time.Second), Line: line})
	}
	quiet := push.Stream{Labels: `{service_name="search"}`, Entries: []push.Entry{{Timestamp: now.Add(-time.Second), Line: "level=error msg=once"}}}
	body, err := json.Marshal(map[string]any{"streams": []map[string]any{lokiJSON(stream), lokiJSON(quiet)}})
	if err != nil {
		t.Fatal(err)
	}
	expectPost(t, ts.URL()+"/loki/api/v1/push", body, map[string]string{"Content-Type": "application/json"}, http.StatusNoContent, "")

	var firing []promAlert
	waitFor(t, 30*time.Second, "ServiceErrorLogsHigh firing", func() bool {
		firing = nil
		for _, a := range horusAlerts(t, ts) {
			if a.State == "firing" {
				firing = append(firing, a)
			}
		}
		return len(firing) > 0
	})
	if len(firing) != 1 || firing[0].Labels["service_name"] != "payments" || firing[0].Labels["alertname"] != "ServiceErrorLogsHigh" {
		t.Fatalf("firing = %+v, want payments' alone", firing)
	}
	if s := firing[0].Annotations["summary"]; s != "payments logged 6 error lines in 5 minutes" {
		t.Errorf("summary = %q", s)
	}
	waitFor(t, 10*time.Second, "the recording rule's series and ALERTS", func() bool {
		rec := ts.query(t, `service:log_errors:count5m{service_name="payments"}`, time.Now())
		al := ts.query(t, `ALERTS{alertname="ServiceErrorLogsHigh", alertstate="firing"}`, time.Now())
		return len(rec) == 1 && rec[0].Value == 6 && len(al) == 1
	})
	// Prometheus' rule manager counts on Horus' registry.
	group := filepath.Join(dir, "logs.yml") + ";log-errors"
	if v := metricValue(t, ts, `prometheus_rule_evaluations_total{rule_group="`+group+`"}`); v < 2 {
		t.Errorf("prometheus_rule_evaluations_total = %v", v)
	}
	if v := metricValue(t, ts, `prometheus_rule_evaluation_failures_total{rule_group="`+group+`"}`); v != 0 {
		t.Errorf("prometheus_rule_evaluation_failures_total = %v", v)
	}
}

func lokiJSON(s push.Stream) map[string]any {
	ls := map[string]string{}
	for _, kv := range strings.Split(strings.Trim(s.Labels, "{}"), ",") {
		k, v, _ := strings.Cut(kv, "=")
		ls[strings.TrimSpace(k)] = strings.Trim(v, `"`)
	}
	var values [][]string
	for _, e := range s.Entries {
		values = append(values, []string{strconv.FormatInt(e.Timestamp.UnixNano(), 10), e.Line})
	}
	return map[string]any{"stream": ls, "values": values}
}

// TestAlertStateSurvivesRestart: a pending alert's activeAt is restored
// from ALERTS_FOR_STATE after a restart, not started again.
func TestAlertStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yml"), `groups:
  - name: slow
    interval: 1s
    rules:
      - alert: QueueBacklog
        expr: queue_depth > 100
        for: 1h
        labels:
          severity: warning
        annotations:
          runbook_url: https://runbooks.example.com/queue
`)
	body := "rule_files: [rules.yml]\n"
	ts := startWithConfig(t, dir, body)
	appendSample(t, ts, labels.FromStrings("__name__", "queue_depth"), time.Now(), 500, "")
	var before []promAlert
	waitFor(t, 20*time.Second, "QueueBacklog pending", func() bool {
		before = horusAlerts(t, ts)
		return len(before) == 1 && before[0].State == "pending"
	})
	waitFor(t, 20*time.Second, "ALERTS_FOR_STATE written", func() bool {
		return len(ts.query(t, `ALERTS_FOR_STATE{alertname="QueueBacklog"}`, time.Now())) == 1
	})
	time.Sleep(4 * time.Second) // pending for a while before the restart
	ts.stop()

	restartAt := time.Now()
	ts2 := startWithConfig(t, dir, body)
	// Prometheus' manager restores after its second evaluation: activeAt
	// becomes the first one moved by the time Horus was down, well before
	// the restart; not restored, it would be after it.
	var after []promAlert
	waitFor(t, 20*time.Second, "QueueBacklog's activeAt restored", func() bool {
		after = horusAlerts(t, ts2)
		return len(after) == 1 && after[0].State == "pending" && after[0].ActiveAt.Before(restartAt.Add(-2*time.Second))
	})
	if got := after[0].ActiveAt; got.Before(before[0].ActiveAt.Add(-time.Second)) {
		t.Errorf("activeAt after the restart = %v, before it %v", got, before[0].ActiveAt)
	}
}

// TestReload: a bad rule file keeps the rules before it, and the reload
// says why (500 from /-/reload, as Prometheus); a good one replaces them.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	good := func(name string) string {
		return `groups:
  - name: g
    rules:
      - alert: ` + name + `
        expr: vector(1)
        for: 1m
        labels:
          severity: info
        annotations:
          runbook_url: https://runbooks.example.com/x
`
	}
	writeFile(t, rules, good("First"))
	ts := startWithConfig(t, dir, "rule_files: [rules.yml]\n")
	names := func() []string {
		var out struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name string `json:"name"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		fetchJSON(t, ts.URL()+"/api/v1/rules", &out)
		var ns []string
		for _, g := range out.Data.Groups {
			for _, r := range g.Rules {
				ns = append(ns, r.Name)
			}
		}
		return ns
	}
	reload := func() (int, string) {
		resp, err := http.Post(ts.URL()+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if ns := names(); strings.Join(ns, ",") != "First" {
		t.Fatalf("rules = %v", ns)
	}
	writeFile(t, rules, "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: sum(\n")
	code, msg := reload()
	if code != http.StatusInternalServerError || !strings.Contains(msg, "rules.yml: 5:15") {
		t.Errorf("reload of a bad file: %d %q, want 500 naming the file and line", code, msg)
	}
	if ns := names(); strings.Join(ns, ",") != "First" {
		t.Errorf("after a failed reload, rules = %v; want the ones before", ns)
	}
	if v := metricValue(t, ts, "horus_rules_last_reload_successful"); v != 0 {
		t.Errorf("horus_rules_last_reload_successful = %v after a failed reload", v)
	}
	writeFile(t, rules, good("Second"))
	if code, msg := reload(); code != http.StatusOK {
		t.Errorf("reload: %d %q", code, msg)
	}
	if ns := names(); strings.Join(ns, ",") != "Second" {
		t.Errorf("after a reload, rules = %v", ns)
	}
	resp, err := http.Get(ts.URL() + "/-/reload")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %s", resp.Status)
	}
}

// TestTraceQLRecordingRule: a TraceQL metrics rule counts error spans per
// service over rules.traceql_range and writes a Prometheus series, its
// labels made Prometheus names (resource.service.name: service_name).
func TestTraceQLRecordingRule(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "traces.yml"), `groups:
  - name: span-errors
    interval: 1s
    rules:
      - record: service:span_errors:count5m
        expr: '{ status = error } | count_over_time() by (resource.service.name)'
`)
	ts := startWithConfig(t, dir, "traceql_rule_files: [traces.yml]\n")
	ctx := t.Context()
	shop := newShop(t, ctx, ts, "http", "")
	for range 3 {
		shop.checkout(t, ctx)
	}
	waitFor(t, 20*time.Second, "the TraceQL rule's series", func() bool {
		v := ts.query(t, `service:span_errors:count5m{service_name="payments"}`, time.Now())
		return len(v) == 1 && v[0].Value == 3
	})
}
