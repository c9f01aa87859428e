package fault

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/query/traceql"
)

// shopServices are the shop's services as the issue names them; a
// scenario's targets must be among them.
var shopServices = []string{"api-gateway", "auth", "orders", "products", "payments", "fraud-check", "bank-api",
	"notifications", "email-provider"}

func TestScenarios(t *testing.T) {
	all := Scenarios()
	wantNames := []string{"payments-bad-config", "bank-timeouts", "big-order-slow-query", "orders-bad-deploy", "orders-pool-exhausted"}
	var names []string
	kebab := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	ids := map[string]bool{}
	prom := parser.NewParser(parser.Options{})
	for n, sc := range all {
		names = append(names, sc.Name)
		if !kebab.MatchString(sc.Name) || sc.Title == "" || sc.Description == "" || sc.Expect == "" {
			t.Errorf("scenario %d: name %q not kebab-case or a text missing", n+1, sc.Name)
		}
		if len(sc.Faults) == 0 {
			t.Errorf("%s: no faults", sc.Name)
		}
		for _, f := range sc.Faults {
			if err := f.Validate(shopServices...); err != nil {
				t.Errorf("%s: fault %v: %v", sc.Name, f, err)
			}
			if ids[f.ID] || f.ID == "" {
				t.Errorf("%s: fault ID %q empty or repeated", sc.Name, f.ID)
			}
			ids[f.ID] = true
			// Each fault is accepted by the process it targets and survives
			// the spec round trip (the CLI prints it, the parent forwards it).
			inst := f.Target.Instance
			if inst == "" {
				inst = "1"
			}
			i := newTestInjector(t, f.Target.Service, inst, nil)
			stored, err := i.Add(f)
			if err != nil {
				t.Errorf("%s: %v", sc.Name, err)
			}
			i.Close()
			if stored.Kind == KindCPUBurn && stored.CPU != 1 {
				t.Errorf("%s: cpu %v", sc.Name, stored.CPU)
			}
			if g, err := Parse(f.String()); err != nil || g.String() != f.String() {
				t.Errorf("%s: Parse(%s) = %v, %v", sc.Name, f, g, err)
			}
		}
		if d := sc.Deploy; d != nil {
			if !slices.Contains(shopServices, d.Service) || d.Version == "" || d.Version == BaseVersion {
				t.Errorf("%s: deploy %+v", sc.Name, *d)
			}
			for _, f := range sc.Faults {
				if f.Target.Service == d.Service && f.Version != d.Version {
					t.Errorf("%s: fault %s does not carry the deploy's version", sc.Name, f.ID)
				}
			}
		}
		langs := map[string]bool{}
		for _, s := range sc.Signals {
			langs[s.Lang] = true
			if s.Shows == "" {
				t.Errorf("%s: %s says not what it shows", sc.Name, s.Query)
			}
			var err error
			switch s.Lang {
			case LangPromQL:
				_, err = prom.ParseExpr(s.Query)
			case LangLogQL:
				_, err = logql.Parse(s.Query)
			case LangTraceQL:
				_, err = traceql.Parse(s.Query)
			default:
				t.Errorf("%s: language %q", sc.Name, s.Lang)
			}
			if err != nil {
				t.Errorf("%s: %s %s: %v", sc.Name, s.Lang, s.Query, err)
			}
		}
		for _, l := range []string{LangPromQL, LangLogQL, LangTraceQL} {
			if !langs[l] {
				t.Errorf("%s: no %s signal", sc.Name, l)
			}
		}
	}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("scenarios %v, want %v", names, wantNames)
	}
	for n, name := range wantNames {
		byName, ok := ScenarioByName(name)
		byNum, ok2 := ScenarioByName(string(rune('1' + n)))
		if !ok || !ok2 || byName.Name != name || byNum.Name != name {
			t.Errorf("ScenarioByName(%q / %d)", name, n+1)
		}
	}
	if _, ok := ScenarioByName("6"); ok {
		t.Error("ScenarioByName(6) found one")
	}
	if _, ok := ScenarioByName("nope"); ok {
		t.Error("ScenarioByName(nope) found one")
	}
	b, err := json.Marshal(all[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"payments-bad-config"`, `"deploy":{"service":"payments","instance":"2","version":"1.0.1"}`,
		`"faults":[{"id":"payments-bad-config-1","kind":"refuse_connections","service":"payments","instance":"2"`,
		`"signals":[{"lang":"promql","query":`,
		`"alerts":[{"name":"CheckoutAvailabilitySLO","labels":{"sloth_severity":"page"}},{"name":"ServiceErrorLogsHigh","labels":{"service_name":"api-gateway"}}]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("scenario JSON %s lacks %s", b, want)
		}
	}
	// Fresh values: changing one call's faults leaves the next call's alone.
	all[0].Faults[0].Target.Service = "changed"
	if Scenarios()[0].Faults[0].Target.Service != "payments" {
		t.Error("Scenarios shares its values between calls")
	}
}

// TestScenarioDocs holds docs/demo.md to the scenarios as data: every
// scenario's heading, fault spec and query appears there as written here,
// and its row of the alerts table names every alert it fires.
func TestScenarioDocs(t *testing.T) {
	b, err := os.ReadFile("../../../docs/demo.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for n, sc := range Scenarios() {
		if h := fmt.Sprintf("### %d. `%s`: ", n+1, sc.Name); !strings.Contains(doc, h) {
			t.Errorf("docs/demo.md has no heading %q", h)
		}
		for _, f := range sc.Faults {
			if !strings.Contains(doc, "\n"+f.String()+"\n") {
				t.Errorf("docs/demo.md lacks the fault line %s", f)
			}
		}
		for _, s := range sc.Signals {
			if q := "`" + strings.ReplaceAll(s.Query, "|", `\|`) + "`"; !strings.Contains(doc, q) {
				t.Errorf("docs/demo.md lacks the %s query %s", s.Lang, q)
			}
		}
		row := fmt.Sprintf("\n| %d. `%s` | ", n+1, sc.Name)
		at := strings.Index(doc, row)
		if at < 0 {
			t.Errorf("docs/demo.md has no alerts row %q", row)
			continue
		}
		line := doc[at+len(row) : at+len(row)+strings.Index(doc[at+len(row):], "\n")]
		line = line[:strings.Index(line, " | ")] // the alerts column
		var names []string
		for _, a := range sc.Alerts {
			names = append(names, a.Name)
			if !strings.Contains(line, "`"+a.Name+"`") {
				t.Errorf("docs/demo.md, alerts of %s: %q lacks %s", sc.Name, line, a.Name)
			}
		}
		if got := strings.Count(line, "`"); got != 2*len(sc.Alerts) {
			t.Errorf("docs/demo.md, alerts of %s: %q, want just %v", sc.Name, line, names)
		}
	}
}
