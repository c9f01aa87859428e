package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
)

// webhook is a webhook receiver on loopback that keeps what it is sent.
type webhook struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []message
	ch  chan message
}

// message is the part of Alertmanager's webhook payload the tests read.
type message struct {
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	GroupKey string `json:"groupKey"`
	Alerts   []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
	ExternalURL string `json:"externalURL"`
}

func (m message) instances() []string {
	var out []string
	for _, a := range m.Alerts {
		out = append(out, a.Labels["instance"])
	}
	return out
}

func newWebhook(t *testing.T) *webhook {
	t.Helper()
	w := &webhook{ch: make(chan message, 16)}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var m message
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		w.mu.Lock()
		w.got = append(w.got, m)
		w.mu.Unlock()
		w.ch <- m
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) next(t *testing.T, within time.Duration) message {
	t.Helper()
	select {
	case m := <-w.ch:
		return m
	case <-time.After(within):
		t.Fatalf("no notification within %v", within)
		return message{}
	}
}

func (w *webhook) none(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case m := <-w.ch:
		t.Fatalf("unexpected notification: %+v", m)
	case <-time.After(within):
	}
}

// writeConfig writes an alertmanager.yml routing everything, grouped by
// alertname, to the webhook at url.
func writeConfig(t *testing.T, dir, url string) string {
	t.Helper()
	f := filepath.Join(dir, "alertmanager.yml")
	conf := fmt.Sprintf(`route:
  receiver: team
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs:
      - url: %s
        send_resolved: true
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname]
`, url)
	if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// start runs an Alertmanager on dir with config file, its API served on
// loopback under Prefix; it is stopped at the end of the test.
func start(t *testing.T, dir, file string) (*Alertmanager, string, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	am, err := New(file, Options{
		DataDir:             filepath.Join(dir, "alertmanager"),
		ExternalURL:         "http://horus.example/alertmanager",
		Retention:           120 * time.Hour,
		MaintenanceInterval: 15 * time.Minute,
		Registerer:          reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(am.Stop)
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", am.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return am, srv.URL + Prefix, reg
}

func post(t *testing.T, url string, body any) []byte {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s: %s", url, resp.Status, out)
	}
	return out
}

func get(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
}

type testAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt,omitzero"`
}

func firing(name, instance, severity string) testAlert {
	return testAlert{
		Labels:   map[string]string{"alertname": name, "instance": instance, "severity": severity},
		StartsAt: time.Now(), // not before group_wait: an older alert is notified at once
		EndsAt:   time.Now().Add(time.Hour),
	}
}

func silenceBody(name, value string) map[string]any {
	return map[string]any{
		"matchers":  []map[string]any{{"name": name, "value": value, "isRegex": false, "isEqual": true}},
		"startsAt":  time.Now().Add(-time.Second),
		"endsAt":    time.Now().Add(time.Hour),
		"createdBy": "test",
		"comment":   "maintenance of " + value,
	}
}

// TestWebhookGroupingSilenceInhibition: two alerts of one group posted
// apart arrive in one notification; a silenced alert and an inhibited one
// are not delivered, and the API says why.
func TestWebhookGroupingSilenceInhibition(t *testing.T) {
	dir := t.TempDir()
	hook := newWebhook(t)
	am, api, reg := start(t, dir, writeConfig(t, dir, hook.srv.URL))

	var sil struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.Unmarshal(post(t, api+"/api/v2/silences", silenceBody("instance", "silenced")), &sil); err != nil || sil.SilenceID == "" {
		t.Fatalf("silence: %v %+v", err, sil)
	}
	post(t, api+"/api/v2/alerts", []testAlert{firing("HighErrorRate", "a", "critical"), firing("HighErrorRate", "silenced", "critical")})
	time.Sleep(200 * time.Millisecond) // within group_wait: the same notification
	post(t, api+"/api/v2/alerts", []testAlert{firing("HighErrorRate", "b", "critical"), firing("HighErrorRate", "c", "warning")})

	m := hook.next(t, 15*time.Second)
	if got := strings.Join(m.instances(), ","); got != "a,b" || m.Receiver != "team" || m.Status != "firing" {
		t.Fatalf("notification: receiver %q status %q instances %q, want team firing a,b", m.Receiver, m.Status, got)
	}
	if m.ExternalURL != "http://horus.example/alertmanager" {
		t.Errorf("externalURL = %q", m.ExternalURL)
	}
	hook.none(t, 2500*time.Millisecond) // group_interval passes: nothing new to say

	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State       string   `json:"state"`
			SilencedBy  []string `json:"silencedBy"`
			InhibitedBy []string `json:"inhibitedBy"`
		} `json:"status"`
	}
	get(t, api+"/api/v2/alerts", &alerts)
	states := map[string]string{}
	for _, a := range alerts {
		states[a.Labels["instance"]] = a.Status.State
		switch a.Labels["instance"] {
		case "silenced":
			if len(a.Status.SilencedBy) != 1 || a.Status.SilencedBy[0] != sil.SilenceID {
				t.Errorf("silenced alert: silencedBy %v, want [%s]", a.Status.SilencedBy, sil.SilenceID)
			}
		case "c":
			if len(a.Status.InhibitedBy) == 0 {
				t.Errorf("warning alert not inhibited by the critical ones of its alertname")
			}
		}
	}
	want := map[string]string{"a": "active", "b": "active", "silenced": "suppressed", "c": "suppressed"}
	for k, v := range want {
		if states[k] != v {
			t.Errorf("alert %s: state %q, want %q (all: %v)", k, states[k], v, states)
		}
	}

	var groups []struct {
		Labels map[string]string `json:"labels"`
		Alerts []any             `json:"alerts"`
	}
	get(t, api+"/api/v2/alerts/groups", &groups)
	if len(groups) != 1 || groups[0].Labels["alertname"] != "HighErrorRate" || len(groups[0].Alerts) != 4 {
		t.Errorf("groups = %+v", groups)
	}

	if n := testutil.ToFloat64(am.m.reloadOK); n != 1 {
		t.Errorf("alertmanager_config_last_reload_successful = %v", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
	}
	for _, name := range []string{"alertmanager_notifications_total", "alertmanager_notifications_failed_total", "alertmanager_alerts",
		"alertmanager_silences", "alertmanager_nflog_queries_total", "alertmanager_alerts_received_total", "alertmanager_integrations"} {
		if !seen[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
	if got := testutil.ToFloat64(notificationsTotal(t, reg)); got != 1 {
		t.Errorf("alertmanager_notifications_total{integration=webhook} = %v, want 1", got)
	}
}

func notificationsTotal(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "alertmanager_notifications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "integration" && l.GetValue() == "webhook" {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "n", Help: "n"})
					g.Set(m.GetCounter().GetValue())
					return g
				}
			}
		}
	}
	t.Fatal("no alertmanager_notifications_total{integration=\"webhook\"}")
	return nil
}

// TestSilencesAndNflogSurviveRestart: an acknowledged silence is on disk
// at once (a second Alertmanager opened while the first still runs, as
// after a crash, has it); the notification log written at stop keeps a
// restarted Alertmanager from notifying the same group again.
func TestSilencesAndNflogSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	hook := newWebhook(t)
	file := writeConfig(t, dir, hook.srv.URL)
	am1, api1, _ := start(t, dir, file)
	var sil struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.Unmarshal(post(t, api1+"/api/v2/silences", silenceBody("instance", "db-1")), &sil); err != nil {
		t.Fatal(err)
	}
	post(t, api1+"/api/v2/alerts", []testAlert{firing("DiskFull", "web-1", "critical")})
	if m := hook.next(t, 15*time.Second); strings.Join(m.instances(), ",") != "web-1" {
		t.Fatalf("notification: %+v", m)
	}

	// As after a crash: the files as they are while the first still runs.
	copyDir(t, filepath.Join(dir, "alertmanager"), filepath.Join(dir, "crash", "alertmanager"))
	_, apiCrash, _ := start(t, filepath.Join(dir, "crash"), file)
	var sils []struct {
		ID     string `json:"id"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	get(t, apiCrash+"/api/v2/silences", &sils)
	if len(sils) != 1 || sils[0].ID != sil.SilenceID || sils[0].Status.State != "active" {
		t.Fatalf("silences after a crash = %+v, want %s active", sils, sil.SilenceID)
	}

	am1.Stop()
	_, api3, _ := start(t, dir, file)
	get(t, api3+"/api/v2/silences", &sils)
	if len(sils) != 1 || sils[0].ID != sil.SilenceID {
		t.Fatalf("silences after a restart = %+v", sils)
	}
	// The same alert again: the notification log says the group was
	// notified with it, and repeat_interval (1h) has not passed.
	post(t, api3+"/api/v2/alerts", []testAlert{firing("DiskFull", "web-1", "critical")})
	hook.none(t, 3*time.Second)
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

// TestReloadKeepsConfigOnError: a file that does not load, or whose
// receiver cannot be built, leaves the configuration in force.
func TestReloadKeepsConfigOnError(t *testing.T) {
	dir := t.TempDir()
	hook := newWebhook(t)
	good := writeConfig(t, dir, hook.srv.URL)
	am, _, _ := start(t, dir, good)
	before, _ := am.Config()
	for name, body := range map[string]string{
		"syntax.yml":   "route: [\n",
		"receiver.yml": "route:\n  receiver: nobody\nreceivers:\n  - name: team\n",
		"template.yml": "route:\n  receiver: team\nreceivers:\n  - name: team\ntemplates: ['" + filepath.Join(dir, "bad.tmpl") + "']\n",
	} {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if name == "template.yml" {
			if err := os.WriteFile(filepath.Join(dir, "bad.tmpl"), []byte(`{{ define "x" }}{{ .Nope`), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := am.ApplyConfig(f); err == nil {
			t.Errorf("%s: applied", name)
		}
		if c, file := am.Config(); c != before || file != good {
			t.Errorf("%s: configuration replaced", name)
		}
		if v := testutil.ToFloat64(am.m.reloadOK); v != 0 {
			t.Errorf("%s: alertmanager_config_last_reload_successful = %v", name, v)
		}
	}
	if err := am.ApplyConfig(""); err != nil {
		t.Fatal(err)
	}
	if c, file := am.Config(); c == before || file != "" || c.Route.Receiver != "horus" {
		t.Errorf("default configuration not applied: %q %v", file, c.Route.Receiver)
	}
	if v := testutil.ToFloat64(am.m.reloadOK); v != 1 {
		t.Errorf("alertmanager_config_last_reload_successful = %v", v)
	}
}

// TestNotifierInProcess: Prometheus' notifier, given Do and the entry of
// AlertmanagerConfig, delivers to this Alertmanager with no listener.
func TestNotifierInProcess(t *testing.T) {
	dir := t.TempDir()
	hook := newWebhook(t)
	am, api, _ := start(t, dir, writeConfig(t, dir, hook.srv.URL))

	pc, err := promconfig.Load("alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['127.0.0.1:1']}]\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	withAM := WithInProcess(pc)
	if len(pc.AlertingConfig.AlertmanagerConfigs) != 1 || len(withAM.AlertingConfig.AlertmanagerConfigs) != 2 {
		t.Fatalf("WithInProcess changed its argument or did not add the entry")
	}
	n := notifier.NewManager(&notifier.Options{QueueCapacity: 100, Do: am.Do}, model.UTF8Validation, nil)
	if err := n.ApplyConfig(withAM); err != nil {
		t.Fatal(err)
	}
	tsets := make(chan map[string][]*targetgroup.Group, 1)
	tsets <- map[string][]*targetgroup.Group{"config-1": InProcessTargets()}
	go n.Run(tsets)
	defer n.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for len(n.Alertmanagers()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := n.Alertmanagers(); len(got) != 1 || got[0].String() != "http://"+InProcessHost+Prefix+"/api/v2/alerts" {
		t.Fatalf("alertmanagers = %v", got)
	}
	n.Send(&notifier.Alert{
		Labels:   labels.FromStrings("alertname", "FromRules", "instance", "r1", "severity", "critical"),
		StartsAt: time.Now(),
		EndsAt:   time.Now().Add(time.Hour),
	})
	if m := hook.next(t, 15*time.Second); strings.Join(m.instances(), ",") != "r1" {
		t.Fatalf("notification: %+v", m)
	}
	var alerts []any
	get(t, api+"/api/v2/alerts", &alerts)
	if len(alerts) != 1 {
		t.Errorf("alerts in the API: %d", len(alerts))
	}
	// Requests elsewhere are not taken in process.
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://127.0.0.1:1/", nil)
	if resp, err := am.Do(context.Background(), http.DefaultClient, req); err == nil {
		_ = resp.Body.Close()
		t.Error("a request to 127.0.0.1:1 was answered")
	}
}

// TestAmtool: Debian's amtool (package prometheus-alertmanager, installed
// by make test-deps) lists alerts, adds, lists and expires a silence, and
// shows the configuration, against the API under Prefix.
func TestAmtool(t *testing.T) {
	bin, err := exec.LookPath("amtool")
	if err != nil {
		t.Skip("amtool not installed (make test-deps installs Debian's prometheus-alertmanager)")
	}
	dir := t.TempDir()
	hook := newWebhook(t)
	_, api, _ := start(t, dir, writeConfig(t, dir, hook.srv.URL))
	amtool := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--alertmanager.url=" + api}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir) // no ~/.config/amtool of the machine's
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("amtool %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
		}
		return string(out)
	}
	post(t, api+"/api/v2/alerts", []testAlert{firing("LatencyHigh", "checkout-1", "critical"), firing("LatencyHigh", "checkout-2", "critical")})

	out := amtool("alert", "query", "-o", "json")
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.Unmarshal([]byte(out), &alerts); err != nil || len(alerts) != 2 {
		t.Fatalf("amtool alert query: %v\n%s", err, out)
	}
	if out := amtool("alert", "query", "instance=checkout-2"); !strings.Contains(out, "LatencyHigh") || strings.Contains(out, "checkout-1") {
		t.Errorf("amtool alert query instance=checkout-2:\n%s", out)
	}

	id := strings.TrimSpace(amtool("silence", "add", "instance=checkout-2", "--comment=deploying", "--duration=1h", "--author=oncall"))
	if len(id) != 36 {
		t.Fatalf("amtool silence add printed %q, want a silence id", id)
	}
	if out := amtool("silence", "query", "-q"); strings.TrimSpace(out) != id {
		t.Errorf("amtool silence query -q = %q, want %s", out, id)
	}
	if out := amtool("alert", "query", "-o", "extended", "--silenced"); !strings.Contains(out, "checkout-2") || strings.Contains(out, "checkout-1") {
		t.Errorf("amtool alert query --silenced:\n%s", out)
	}
	if out := amtool("config", "show"); !strings.Contains(out, "webhook_configs") {
		t.Errorf("amtool config show:\n%s", out)
	}
	amtool("silence", "expire", id)
	if out := amtool("silence", "query", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("after expire, amtool silence query -q = %q", out)
	}
}
