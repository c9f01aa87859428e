package ruler

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/api/prom"
)

func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return code, out.String() + errOut.String()
}

// TestRulesTest: the promtool-format tests of testdata pass on Horus'
// engine, and a wrong expectation fails naming the alert, with what was
// expected and what came.
func TestRulesTest(t *testing.T) {
	if code, out := run(t, "test", "testdata/rules_test.yml"); code != ExitClean || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("rules_test.yml: exit %d\n%s", code, out)
	}
	if code, out := run(t, "test", "testdata/logs_test.yml"); code != ExitClean || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("logs_test.yml (LogQL rules over input_logs): exit %d\n%s", code, out)
	}
	code, out := run(t, "test", "testdata/rules_wrong_test.yml")
	if code != ExitProblems {
		t.Fatalf("rules_wrong_test.yml: exit %d, want %d\n%s", code, ExitProblems, out)
	}
	for _, want := range []string{"FAILED", "alertname: CheckoutErrorRatioHigh", `severity="page"`, `severity="critical"`, "exp:", "got:"} {
		if !strings.Contains(out, want) {
			t.Errorf("the failure does not say %q:\n%s", want, out)
		}
	}
}

// TestRulesCheck: a clean file passes; each lint rule is found at its
// line with the fix; a file that does not parse is an error with its
// line; exit statuses as documented.
func TestRulesCheck(t *testing.T) {
	if code, out := run(t, "check", "testdata/rules.yml"); code != ExitClean {
		t.Errorf("rules.yml: exit %d\n%s", code, out)
	}
	code, out := run(t, "check", "testdata/lint_bad.yml")
	if code != ExitProblems {
		t.Errorf("lint_bad.yml: exit %d, want %d", code, ExitProblems)
	}
	for _, want := range []string{
		`lint_bad.yml:6: error (severity): group "hosts", alert "HostHighCPU": no severity label`,
		`lint_bad.yml:6: error (runbook): group "hosts", alert "HostHighCPU"`,
		`lint_bad.yml:6: warning (for):`,
		`lint_bad.yml:6: warning (cause): group "hosts", alert "HostHighCPU"`,
		`lint_bad.yml:10: error (severity): group "hosts", alert "HostMemoryLow": severity is "page"`,
		`lint_bad.yml:10: warning (cause)`,
		"Fix: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `alert "HostMemoryLow": no for`) {
		t.Errorf("HostMemoryLow has for: 10m:\n%s", out)
	}
	code, out = run(t, "check", "testdata/syntax_bad.yml")
	if code != ExitError || !strings.Contains(out, "syntax_bad.yml: 5:15:") {
		t.Errorf("syntax_bad.yml: exit %d, want %d with the line\n%s", code, ExitError, out)
	}
	// LogQL files: parsed as LogQL, refused as PromQL.
	if code, out := run(t, "check", "-logql", "testdata/logs.yml"); code != ExitClean {
		t.Errorf("logs.yml -logql: exit %d\n%s", code, out)
	}
	if code, _ := run(t, "check", "testdata/logs.yml"); code != ExitError {
		t.Errorf("logs.yml as PromQL: exit %d, want %d", code, ExitError)
	}
	// A warning is fatal when asked.
	if code, _ := run(t, "check", "-logql", "-warnings-fatal", "testdata/logs.yml"); code != ExitProblems {
		t.Errorf("-warnings-fatal: exit %d, want %d", code, ExitProblems)
	}
	// -config: the configured files, each in its setting's language.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "horus.yml")
	abs, _ := filepath.Abs("testdata")
	if err := os.WriteFile(cfg, []byte("rule_files: ["+abs+"/rules.yml]\nlogql_rule_files: ["+abs+"/logs.yml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := run(t, "check", "-config", cfg); code != ExitClean || !strings.Contains(out, "rules.yml: SUCCESS: 4 rules") || !strings.Contains(out, "logs.yml: SUCCESS: 2 rules") {
		t.Errorf("-config: exit %d\n%s", code, out)
	}
	if code, _ := run(t, "check"); code != ExitError {
		t.Errorf("no files: exit %d, want %d", code, ExitError)
	}
}

// TestGroupLanguageLabel: a group's horus_query_language label sets its
// language in a PromQL file, and is taken off the group.
func TestGroupLanguageLabel(t *testing.T) {
	src := `groups:
  - name: metrics
    rules:
      - record: a:rate5m
        expr: sum(rate(a_total[5m]))
  - name: logs
    labels:
      horus_query_language: logql
      team: shop
    rules:
      - record: errors:count5m
        expr: sum(count_over_time({service_name="x"} |= "error" [5m]))
  - name: traces
    labels:
      horus_query_language: traceql
    rules:
      - record: spans:errors:rate
        expr: '{ status = error } | rate() by (resource.service.name)'
`
	f, errs := Parse([]byte(src), PromQL, Parsers{PromQL: prom.NewParser(prom.Limits{})}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for lang, name := range map[Lang]string{PromQL: "metrics", LogQL: "logs", TraceQL: "traces"} {
		g := f.Groups[lang]
		if g == nil || len(g.Groups) != 1 || g.Groups[0].Name != name {
			t.Fatalf("%s groups: %+v", lang, g)
		}
		if _, ok := g.Groups[0].Labels[LangLabel]; ok {
			t.Errorf("%s: the language label is left on the group", lang)
		}
	}
	if f.Groups[LogQL].Groups[0].Labels["team"] != "shop" {
		t.Errorf("the group's other labels are lost: %v", f.Groups[LogQL].Groups[0].Labels)
	}
	bad := strings.Replace(src, "horus_query_language: logql", "horus_query_language: sql", 1)
	if _, errs := Parse([]byte(bad), PromQL, Parsers{PromQL: prom.NewParser(prom.Limits{})}, nil); len(errs) == 0 || !strings.Contains(errs[0].Error(), "promql, logql or traceql") {
		t.Errorf("an unknown language: %v", errs)
	}
}

// TestPromtoolAcceptsTestdata: Prometheus' promtool accepts the PromQL
// rule files and passes the unit tests of testdata.
func TestPromtoolAcceptsTestdata(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (make test-deps installs it)")
	}
	files, _ := filepath.Glob("testdata/*.yml")
	var rules []string
	for _, f := range files {
		switch {
		case strings.HasSuffix(f, "_test.yml"), strings.HasSuffix(f, "syntax_bad.yml"), strings.HasSuffix(f, "logs.yml"):
		default:
			rules = append(rules, f)
		}
	}
	if out, err := exec.Command(promtool, append([]string{"check", "rules"}, rules...)...).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules %v: %v\n%s", rules, err, out)
	}
	if out, err := exec.Command(promtool, "test", "rules", "testdata/rules_test.yml").CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}

func TestPromLabelName(t *testing.T) {
	for in, want := range map[string]string{
		"resource.service.name": "service_name",
		"span.http.route":       "http_route",
		".foo":                  "foo",
		"status":                "status",
		"__name__":              "__name__",
		"span:name":             "name",
		"9lives":                "_lives",
	} {
		if got := PromLabelName(in); got != want {
			t.Errorf("PromLabelName(%q) = %q, want %q", in, got, want)
		}
	}
}

func parserForTest() interface {
	ParseMetric(string) (labels.Labels, error)
} {
	return prom.NewParser(prom.Limits{})
}

// TestCauseNames: the alert names the cause check takes for a host's
// resources, and symptom names it leaves alone.
func TestCauseNames(t *testing.T) {
	for name, want := range map[string]bool{
		"HostHighCPU": true, "NodeMemoryLow": true, "DiskWillFillIn4h": true, "ContainerOOMKilled": true,
		"FilesystemReadOnly": true, "HostLoadAverageHigh": true,
		"UploadErrorsHigh": false, "RoomBookingFailed": false, "CheckoutLatencyHigh": false, "PayloadTooLarge": false,
	} {
		if got := causeName.MatchString(name); got != want {
			t.Errorf("%s: cause = %v, want %v", name, got, want)
		}
	}
}
