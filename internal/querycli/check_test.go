package querycli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	goodRules = `groups:
  - name: orders
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
      - alert: OrdersDown
        expr: up{job="orders"} == 0
        labels: {severity: critical}
        annotations: {runbook_url: https://runbooks.example.com/orders}
`
	goodLogRules = `groups:
  - name: logs
    rules:
      - record: service:log_errors:rate1m
        expr: sum by (service_name) (rate({level="error"}[1m]))
`
	goodSLO = `version: horus/v1
service: checkout
slos:
  - name: availability
    objective: 99.9
    sli:
      availability: {}
    alerting:
      annotations:
        runbook_url: https://runbooks.example.com/checkout
`
)

func runCheckConfig(args ...string) result {
	var out, errb bytes.Buffer
	code := runCheck(args, &out, &errb)
	return result{out.String(), errb.String(), code}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"good.yml": `data_dir: data
rule_files: [rules/*.yml]
logql_rule_files: [logs/*.yml, nothing/*.yml]
slo_files: [slo.yml]
`,
		"rules/orders.yml": goodRules,
		"logs/errors.yml":  goodLogRules,
		"slo.yml":          goodSLO,
		"typo.yml": `metrics:
  retension: 1d
traces:
  span_metrics:
    enabeld: true
`,
		"badrules.yml":        "rule_files: [broken/*.yml]\nslo_files: [badslo.yml]\n",
		"broken/broken.yml":   "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(rate(y[5m])\n",
		"badslo.yml":          "version: horus/v1\nservice: checkout\nslos:\n  - name: a\n    objective: 100\n    sli:\n      availability: {}\n",
		"badvalue.yml":        "query:\n  timeout: 0s\n",
		"badalertmanager.yml": "alertmanager:\n  config_file: am.yml\n",
		"am.yml":              "route:\n  receiver: nobody\n",
	})
	p := func(name string) string { return filepath.Join(dir, name) }

	want(t, "good", runCheckConfig("config", p("good.yml")), 0, lines(
		"Checking "+p("good.yml"),
		"  SUCCESS: "+p("good.yml")+" is a valid Horus configuration",
		`  WARNING: logql_rule_files: "`+p("nothing/*.yml")+`" matches no file`,
		"  SUCCESS: "+p("rules/orders.yml")+": 2 rules (promql)",
		"  SUCCESS: "+p("logs/errors.yml")+": 1 rule (logql)",
		"  SUCCESS: slo_files: 1 SLO in 1 file, 23 rules generated"), "")

	// A typo names its YAML path and the nearest key.
	want(t, "typo", runCheckConfig("config", p("typo.yml")), 1, lines(
		"Checking "+p("typo.yml"),
		"  FAILED: metrics.retension: unknown key; did you mean metrics.retention?",
		"  FAILED: traces.span_metrics.enabeld: unknown key; did you mean traces.span_metrics.enabled?"), "")

	r := runCheckConfig("config", p("badrules.yml"))
	if r.code != 1 || !strings.Contains(r.stdout, "  FAILED: "+p("broken/broken.yml")+": 5:") ||
		!strings.Contains(r.stdout, "  FAILED: slo_files: ") || !strings.Contains(r.stdout, "objective") {
		t.Errorf("broken rule and SLO files: %d\n%s", r.code, r.stdout)
	}
	r = runCheckConfig("config", p("badvalue.yml"))
	if r.code != 1 || !strings.Contains(r.stdout, "  FAILED: query.timeout:") {
		t.Errorf("a bad value: %d\n%s", r.code, r.stdout)
	}
	r = runCheckConfig("config", p("badalertmanager.yml"))
	if r.code != 1 || !strings.Contains(r.stdout, "  FAILED: alertmanager.config_file: ") || !strings.Contains(r.stdout, "nobody") {
		t.Errorf("a bad alertmanager.yml: %d\n%s", r.code, r.stdout)
	}
	r = runCheckConfig("config", p("missing.yml"))
	if r.code != 1 || !strings.Contains(r.stdout, "  FAILED: read config: open "+p("missing.yml")) {
		t.Errorf("a missing file: %d\n%s", r.code, r.stdout)
	}
	// Several files: each checked, the status the worst.
	r = runCheckConfig("config", p("good.yml"), p("typo.yml"))
	if r.code != 1 || strings.Count(r.stdout, "Checking ") != 2 {
		t.Errorf("two files: %d\n%s", r.code, r.stdout)
	}

	want(t, "no file", runCheckConfig("config"), 2, "", "horus check config: which file? give a configuration file\nsee 'horus check config -h'\n")
	r = runCheckConfig("rules", "x")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "usage: horus check config") {
		t.Errorf("check rules: %d %q", r.code, r.stderr)
	}
	// The example configuration of the repository is valid.
	r = runCheckConfig("config", "../../horus.example.yml")
	if r.code != 0 {
		t.Errorf("horus.example.yml: %d\n%s", r.code, r.stdout)
	}
}
