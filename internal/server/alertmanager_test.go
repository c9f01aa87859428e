package server

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/alertmanager"
)

// webhookMessage is the part of Alertmanager's webhook payload read here.
type webhookMessage struct {
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Alerts   []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
}

// webhookReceiver is a webhook receiver on loopback.
func webhookReceiver(t *testing.T) (string, func() []webhookMessage) {
	t.Helper()
	var mu sync.Mutex
	var got []webhookMessage
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m webhookMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook: %v", err)
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []webhookMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]webhookMessage(nil), got...)
	}
}

func amtoolAt(t *testing.T, base string) func(args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("amtool")
	if err != nil {
		t.Skip("amtool not installed (make test-deps installs Debian's prometheus-alertmanager)")
	}
	home := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--alertmanager.url=" + base + alertmanager.Prefix}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("amtool %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
		}
		return string(out)
	}
}

// TestEmbeddedAlertmanager: Horus' own alert reaches the Alertmanager
// inside Horus by default and is delivered to a webhook with Horus'
// annotations; amtool lists it and silences it against Horus' API; the
// silence survives a restart of Horus; a bad alertmanager.yml at reload
// keeps the configuration before it.
func TestEmbeddedAlertmanager(t *testing.T) {
	hook, received := webhookReceiver(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yml"), `groups:
  - name: payments
    interval: 1s
    rules:
      - alert: PaymentsFailing
        expr: sum by (service) (payment_failures) > 0
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.service }} fails payments"
          runbook_url: https://runbooks.example.com/payments
`)
	amYML := filepath.Join(dir, "alertmanager.yml")
	goodAM := `route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: oncall
    webhook_configs:
      - url: ` + hook + `
        send_resolved: true
`
	writeFile(t, amYML, goodAM)
	body := "rule_files: [rules.yml]\nalertmanager:\n  config_file: alertmanager.yml\n"
	ts := startWithConfig(t, dir, body)
	appendSample(t, ts, labels.FromStrings("__name__", "payment_failures", "service", "payments"), time.Now(), 4, "")

	waitFor(t, 30*time.Second, "the notification at the webhook", func() bool { return len(received()) > 0 })
	m := received()[0]
	if m.Receiver != "oncall" || m.Status != "firing" || len(m.Alerts) != 1 {
		t.Fatalf("notification = %+v", m)
	}
	a := m.Alerts[0]
	if a.Labels["alertname"] != "PaymentsFailing" || a.Labels["severity"] != "critical" ||
		a.Annotations["runbook_url"] != "https://runbooks.example.com/payments" || !strings.HasPrefix(a.Annotations["horus_url"], "http://"+ts.Addrs().HTTP+"/alerts/") {
		// http_addr is on port 0: the links name the port bound.
		t.Errorf("alert = %+v", a)
	}
	// The in-process Alertmanager is one of the notifier's.
	var ams struct {
		Data struct {
			Active []struct {
				URL string `json:"url"`
			} `json:"activeAlertmanagers"`
		} `json:"data"`
	}
	fetchJSON(t, ts.URL()+"/api/v1/alertmanagers", &ams)
	if len(ams.Data.Active) != 1 || ams.Data.Active[0].URL != "http://"+alertmanager.InProcessHost+alertmanager.Prefix+"/api/v2/alerts" {
		t.Errorf("/api/v1/alertmanagers: %+v", ams.Data.Active)
	}
	if v := metricValue(t, ts, `alertmanager_notifications_total{integration="webhook"}`); v < 1 {
		t.Errorf("alertmanager_notifications_total{integration=webhook} = %v", v)
	}

	amtool := amtoolAt(t, ts.URL())
	if out := amtool("alert", "query"); !strings.Contains(out, "PaymentsFailing") {
		t.Errorf("amtool alert query:\n%s", out)
	}
	id := strings.TrimSpace(amtool("silence", "add", "alertname=PaymentsFailing", "--comment=fixing it", "--duration=2h", "--author=oncall"))
	if out := amtool("alert", "query", "--silenced"); !strings.Contains(out, "PaymentsFailing") {
		t.Errorf("amtool alert query --silenced:\n%s", out)
	}

	// A bad alertmanager.yml: the reload fails and says why, the
	// configuration before it stays.
	writeFile(t, amYML, "route:\n  receiver: nobody\n")
	resp, err := http.Post(ts.URL()+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(b), "alertmanager.yml") {
		t.Errorf("reload of a bad alertmanager.yml: %s %s", resp.Status, b)
	}
	if out := amtool("config", "show"); !strings.Contains(out, "webhook_configs") || !strings.Contains(out, "receiver: oncall") {
		t.Errorf("configuration after a failed reload:\n%s", out)
	}
	if v := metricValue(t, ts, "alertmanager_config_last_reload_successful"); v != 0 {
		t.Errorf("alertmanager_config_last_reload_successful = %v", v)
	}
	writeFile(t, amYML, goodAM)

	ts.stop()
	ts2 := startWithConfig(t, dir, body)
	amtool = amtoolAt(t, ts2.URL())
	if out := strings.TrimSpace(amtool("silence", "query", "-q")); out != id {
		t.Errorf("silences after a restart: %q, want %s", out, id)
	}
}
