package demo

import (
	"bytes"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/horus-obs/horus/docs/runbooks"
	"github.com/horus-obs/horus/internal/api/prom"
	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/demo/fault"
	"github.com/horus-obs/horus/internal/ruler"
	"github.com/horus-obs/horus/internal/slo"
)

// shippedAlert is an alerting rule of the demo's files.
type shippedAlert struct {
	file string
	rule rulefmt.Rule
}

// rulesLangs are the languages of Rules' rule directories.
var rulesLangs = map[string]ruler.Lang{RulesPromQL: ruler.PromQL, RulesLogQL: ruler.LogQL, RulesTraceQL: ruler.TraceQL}

// shippedFiles lists Rules' files by directory, as paths under rules/ (the
// package's source, which go:embed takes them from).
func shippedFiles(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := fs.WalkDir(Rules(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		dir := path.Dir(p)
		if _, ok := rulesLangs[dir]; !ok && dir != RulesSLO || path.Ext(p) != ".yml" {
			t.Errorf("rules/%s: not a .yml file of %s, %s, %s or %s", p, RulesSLO, RulesPromQL, RulesLogQL, RulesTraceQL)
		}
		out[dir] = append(out[dir], filepath.Join("rules", filepath.FromSlash(p)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// shippedSet is what the demo's files define.
type shippedSet struct {
	groups []string // the rule groups, the SLOs' generated ones included
	alerts []shippedAlert
	slos   []slo.SLO
}

// loadShipped parses the demo's rule files and generates the rules of its
// SLO files, as the ruler loads them.
func loadShipped(t *testing.T) shippedSet {
	t.Helper()
	var sh shippedSet
	add := func(file string, groups []rulefmt.RuleGroup) {
		for _, g := range groups {
			sh.groups = append(sh.groups, g.Name)
			for _, r := range g.Rules {
				if r.Alert != "" {
					sh.alerts = append(sh.alerts, shippedAlert{file, r})
				}
			}
		}
	}
	files := shippedFiles(t)
	ps := ruler.Parsers{PromQL: prom.NewParser(prom.Limits{})}
	for dir, lang := range rulesLangs {
		for _, f := range files[dir] {
			parsed, errs := ruler.ParseFile(f, lang, ps, slog.New(slog.DiscardHandler))
			if len(errs) > 0 {
				t.Fatalf("%s: %v", f, errs)
			}
			add(f, parsed.Groups[lang].Groups)
		}
	}
	for _, f := range files[RulesSLO] {
		slos, err := slo.Load([]string{f})
		if err != nil {
			t.Fatal(err)
		}
		groups, err := slo.Generate(slos)
		if err != nil {
			t.Fatal(err)
		}
		add(f, groups.Groups)
		sh.slos = append(sh.slos, slos...)
	}
	return sh
}

// TestShippedRules holds the demo's SLO and rule files to the alerting
// guide: every rule file, and the rules every SLO file generates, pass
// `horus rules check -warnings-fatal` (no finding at all) and, in PromQL,
// `promtool check rules`; every alert has a severity, a summary, a
// description and a runbook_url that is Horus' page of its runbook
// (docs/runbooks/<alert>.md, which exists); every runbook is of an alert
// that ships; every alert a scenario expects ships; and the unit tests of
// testdata pass `horus rules test` (and promtool's, in PromQL).
func TestShippedRules(t *testing.T) {
	files := shippedFiles(t)
	for _, dir := range []string{RulesSLO, RulesPromQL, RulesLogQL, RulesTraceQL} {
		if len(files[dir]) == 0 {
			t.Errorf("no file in rules/%s", dir)
		}
	}
	tool, _ := exec.LookPath("promtool")
	if tool == "" && os.Getenv("CI") != "" {
		t.Fatal("promtool not installed; make test installs Debian's prometheus package")
	}
	promtool := func(args ...string) {
		t.Helper()
		if tool == "" {
			t.Logf("promtool not installed: promtool %s not run", strings.Join(args, " "))
			return
		}
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	check := func(file string, flags ...string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if st := ruler.Main(slices.Concat([]string{"check", "-warnings-fatal"}, flags, []string{file}), &out, &errOut); st != ruler.ExitClean {
			t.Errorf("horus rules check %s %s: exit %d\n%s%s", strings.Join(flags, " "), file, st, out.String(), errOut.String())
		}
	}

	for dir, lang := range rulesLangs {
		for _, f := range files[dir] {
			if lang != ruler.PromQL {
				check(f, "-"+string(lang))
				continue
			}
			check(f)
			promtool("check", "rules", f)
		}
	}
	gen := t.TempDir()
	for _, f := range files[RulesSLO] {
		var out, errOut bytes.Buffer
		if err := slo.Main([]string{"generate", f}, &out, &errOut); err != nil {
			t.Fatalf("horus slo generate %s: %v\n%s", f, err, errOut.String())
		}
		rf := filepath.Join(gen, filepath.Base(f))
		if err := os.WriteFile(rf, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		check(rf)
		promtool("check", "rules", rf)
	}

	sh := loadShipped(t)
	names := map[string]bool{}
	for _, a := range sh.alerts {
		r := a.rule
		names[r.Alert] = true
		if !slices.Contains(ruler.Severities, r.Labels["severity"]) {
			t.Errorf("%s: %s: severity %q", a.file, r.Alert, r.Labels["severity"])
		}
		for _, k := range []string{"summary", "description"} {
			if strings.TrimSpace(r.Annotations[k]) == "" {
				t.Errorf("%s: %s: no %s", a.file, r.Alert, k)
			}
		}
		if want := "{{ $externalURL }}" + runbooks.Path + r.Alert; r.Annotations["runbook_url"] != want {
			t.Errorf("%s: %s: runbook_url %q, want %q", a.file, r.Alert, r.Annotations["runbook_url"], want)
		}
		if _, ok := runbooks.Read(r.Alert); !ok {
			t.Errorf("%s: %s: no runbook docs/runbooks/%s.md", a.file, r.Alert, r.Alert)
		}
	}
	if len(names) < 9 {
		t.Errorf("alerts %v", slices.Sorted(maps.Keys(names)))
	}
	for _, rb := range runbooks.Names() {
		if !names[rb] {
			t.Errorf("docs/runbooks/%s.md: no shipped alert of that name", rb)
		}
	}
	for _, sc := range fault.Scenarios() {
		if len(sc.Alerts) == 0 {
			t.Errorf("%s: fires no alert", sc.Name)
		}
		for _, a := range sc.Alerts {
			if !names[a.Name] {
				t.Errorf("%s: alert %s does not ship", sc.Name, a.Name)
			}
		}
	}

	var out, errOut bytes.Buffer
	tests := []string{"testdata/rules_test.yml", "testdata/logs_test.yml"}
	if st := ruler.Main(append([]string{"test"}, tests...), &out, &errOut); st != ruler.ExitClean {
		t.Errorf("horus rules test: exit %d\n%s%s", st, out.String(), errOut.String())
	}
	promtool("test", "rules", tests[0])
}

// TestAddRules: Start's configuration gets the shipped files, written
// under the demo's directory, after the configuration's own (the caller's
// Config unchanged), and the demo's evaluation interval unless the
// configuration sets one.
func TestAddRules(t *testing.T) {
	for _, c := range []struct {
		global string
		want   string
	}{{"", "15s"}, {"evaluation_interval: 1m", "1m"}, {"evaluation_interval: 5s", "5s"}} {
		dir := t.TempDir()
		yml := "data_dir: data\nrule_files: [mine/*.yml]\nslo_files: [slos/*.yml]\n"
		if c.global != "" {
			yml += "global:\n  " + c.global + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, "horus.yml"), []byte(yml), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(filepath.Join(dir, "horus.yml"))
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			t.Fatal(err)
		}
		// A stale file of an earlier run is gone.
		d := &Demo{dir: filepath.Join(dir, "demo")}
		stale := filepath.Join(d.dir, "rules", RulesPromQL, "old.yml")
		if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(stale, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		own := *cfg
		if err := d.addRules(&own); err != nil {
			t.Fatal(err)
		}
		rules := filepath.Join(d.dir, "rules")
		if want := []string{filepath.Join(dir, "mine/*.yml"), filepath.Join(rules, "promql/*.yml")}; !slices.Equal(own.RuleFiles, want) {
			t.Errorf("rule_files %v, want %v", own.RuleFiles, want)
		}
		if want := []string{filepath.Join(dir, "slos/*.yml"), filepath.Join(rules, "slo/*.yml")}; !slices.Equal(own.SLOFiles, want) {
			t.Errorf("slo_files %v, want %v", own.SLOFiles, want)
		}
		if len(cfg.RuleFiles) != 1 || len(cfg.SLOFiles) != 1 || len(cfg.LogQLRuleFiles) != 0 {
			t.Errorf("the caller's configuration changed: %v %v %v", cfg.RuleFiles, cfg.SLOFiles, cfg.LogQLRuleFiles)
		}
		if !slices.Equal(own.LogQLRuleFiles, []string{filepath.Join(rules, "logql/*.yml")}) ||
			!slices.Equal(own.TraceQLRuleFiles, []string{filepath.Join(rules, "traceql/*.yml")}) {
			t.Errorf("logql %v, traceql %v", own.LogQLRuleFiles, own.TraceQLRuleFiles)
		}
		if got := own.PrometheusConfig().GlobalConfig.EvaluationInterval.String(); got != c.want {
			t.Errorf("%q: evaluation interval %s, want %s", c.global, got, c.want)
		}
		if _, err := os.Stat(stale); !os.IsNotExist(err) {
			t.Errorf("a stale rule file is left: %v", err)
		}
		for sub, paths := range shippedFiles(t) {
			for _, f := range paths {
				want, _ := os.ReadFile(f)
				got, err := os.ReadFile(filepath.Join(rules, sub, filepath.Base(f)))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s not written as shipped: %v", f, err)
				}
			}
		}
	}
}

// TestPrintScenario: `horus demo scenario N` prints the alerts the
// scenario fires, with their labels.
func TestPrintScenario(t *testing.T) {
	sc, _ := fault.ScenarioByName("5")
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	printScenario(tw, ScenarioStatus{Number: 5, Scenario: sc})
	_ = tw.Flush()
	out := regexp.MustCompile(` +`).ReplaceAllString(b.String(), " ")
	for _, want := range []string{"scenario 5, orders-pool-exhausted: ", "Alerts it fires within minutes",
		"\n DatabasePoolSaturated {db_name=\"shop_orders\", job=\"orders\"}\n",
		"\n OrdersAvailabilitySLO {sloth_severity=\"page\"}\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}
