package slo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"
)

// promtool finds Prometheus' promtool (Debian's prometheus package, which
// make test installs).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not installed; make test installs Debian's prometheus package")
		}
		t.Skip("promtool not installed (make test installs it)")
	}
	return p
}

// TestPromtoolChecksGenerated: promtool check rules accepts the rule file
// 'horus slo generate' prints for every good testdata file (Sloth events,
// raw, several documents, the Kubernetes resource; OpenSLO; Horus'
// availability and latency), one at a time and all together.
func TestPromtoolChecksGenerated(t *testing.T) {
	bin := promtool(t)
	files, _ := filepath.Glob("testdata/*.yml")
	if len(files) < 6 {
		t.Fatalf("%d testdata files", len(files))
	}
	dir := t.TempDir()
	for _, args := range append([][]string{files}, splitEach(files)...) {
		var out, errOut bytes.Buffer
		if err := Main(append([]string{"generate"}, args...), &out, &errOut); err != nil {
			t.Errorf("horus slo generate %s: %v\n%s", args, err, errOut.String())
			continue
		}
		f := filepath.Join(dir, "rules.yml")
		if err := os.WriteFile(f, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := exec.Command(bin, "check", "rules", f).CombinedOutput()
		if err != nil || !strings.Contains(string(res), "SUCCESS") {
			t.Errorf("promtool check rules on the rules of %s: %v\n%s", args, err, res)
		}
	}
}

func splitEach(files []string) [][]string {
	var out [][]string
	for _, f := range files {
		out = append(out, []string{f})
	}
	return out
}

// TestSlothRuleNames: a Sloth file gives Sloth's groups, series names and
// identifying labels, in Sloth's order, with Horus' helper series beside
// them.
func TestSlothRuleNames(t *testing.T) {
	slos, err := Load([]string{"testdata/sloth-events.yml"})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := Generate(slos)
	if err != nil {
		t.Fatal(err)
	}
	ratios := []string{"slo:sli_error:ratio_rate5m", "slo:sli_error:ratio_rate30m", "slo:sli_error:ratio_rate1h",
		"slo:sli_error:ratio_rate2h", "slo:sli_error:ratio_rate6h", "slo:sli_error:ratio_rate1d", "slo:sli_error:ratio_rate3d"}
	helpers := []string{"slo:sli_error:rate5m", "slo:sli_error:rate1h", "slo:sli_error:rate6h", "slo:sli_error:rate1d",
		"slo:sli_error:rate3d", "slo:sli_total:rate5m"}
	meta := []string{"slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days", "slo:current_burn_rate:ratio",
		"slo:period_burn_rate:ratio", "slo:period_error_budget_remaining:ratio", "sloth_slo_info"}
	want := []struct {
		group string
		rules []string
	}{
		{"sloth-slo-sli-recordings-shop-api-requests-availability", slices.Concat(ratios, helpers, []string{"slo:sli_error:ratio_rate30d"})},
		{"sloth-slo-meta-recordings-shop-api-requests-availability", meta},
		{"sloth-slo-alerts-shop-api-requests-availability", []string{"ShopAPIAvailability", "ShopAPIAvailability"}},
		{"sloth-slo-sli-recordings-shop-api-requests-latency", slices.Concat(ratios, helpers, []string{"slo:sli_error:ratio_rate30d"})},
		{"sloth-slo-meta-recordings-shop-api-requests-latency", meta},
		{"sloth-slo-alerts-shop-api-requests-latency", []string{"ShopAPILatency"}},
	}
	if len(groups.Groups) != len(want) {
		t.Fatalf("%d groups, want %d", len(groups.Groups), len(want))
	}
	for i, g := range groups.Groups {
		if g.Name != want[i].group {
			t.Errorf("group %d is %s, want %s", i, g.Name, want[i].group)
		}
		var names []string
		for _, r := range g.Rules {
			names = append(names, r.Record+r.Alert)
		}
		if !slices.Equal(names, want[i].rules) {
			t.Errorf("group %s rules:\n %q\nwant\n %q", g.Name, names, want[i].rules)
		}
	}
	// Sloth's labels on every series; the window on the SLI series.
	for _, g := range groups.Groups[:2] {
		for _, r := range g.Rules {
			l := r.Labels
			if l["sloth_id"] != "shop-api-requests-availability" || l["sloth_service"] != "shop-api" || l["sloth_slo"] != "requests-availability" || l["team"] != "storefront" {
				t.Errorf("%s labels %v", r.Record, l)
			}
			if w := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(r.Record, "slo:sli_error:ratio_rate"), "slo:sli_error:rate"), "slo:sli_total:rate"); strings.HasPrefix(r.Record, "slo:sli_") && l["sloth_window"] != w {
				t.Errorf("%s sloth_window = %q, want %q", r.Record, l["sloth_window"], w)
			}
		}
	}
	info := groups.Groups[1].Rules[6].Labels
	if info["sloth_spec"] != "prometheus/v1" || info["sloth_objective"] != "99.9" || info["sloth_mode"] == "" || info["sloth_version"] == "" {
		t.Errorf("sloth_slo_info labels %v", info)
	}
	page, ticket := groups.Groups[2].Rules[0], groups.Groups[2].Rules[1]
	for _, c := range []struct {
		r                rulefmt.Rule
		sloth, sev, more string
	}{{page, "page", "critical", "routing"}, {ticket, "ticket", "warning", "channel"}} {
		if c.r.Labels["sloth_severity"] != c.sloth || c.r.Labels["severity"] != c.sev || c.r.Labels[c.more] == "" || c.r.Labels["category"] != "availability" {
			t.Errorf("%s alert labels %v", c.sloth, c.r.Labels)
		}
		for _, k := range []string{"summary", "description", "runbook_url", "title"} {
			if c.r.Annotations[k] == "" {
				t.Errorf("%s alert has no %s annotation", c.sloth, k)
			}
		}
	}
	// The latency SLO's runbook is Sloth's "runbook" annotation; its page
	// keeps the file's severity.
	lat := groups.Groups[5].Rules[0]
	if lat.Annotations["runbook_url"] != "https://runbooks.example.com/shop-api/latency" || lat.Labels["severity"] != "critical" {
		t.Errorf("latency alert: %v %v", lat.Labels, lat.Annotations)
	}
}

// TestBurnAlertFactors: the workbook's table at 30 days, and the same
// budget shares at 28 days (Sloth's google-28d windows).
func TestBurnAlertFactors(t *testing.T) {
	for _, c := range []struct {
		window time.Duration
		want   []float64
	}{
		{30 * 24 * time.Hour, []float64{14.4, 6, 3, 1}},
		{28 * 24 * time.Hour, []float64{13.44, 5.6, 2.8, 0.933333}},
	} {
		var got []float64
		for _, b := range BurnAlerts {
			got = append(got, b.Factor(c.window))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: factors %v, want %v", c.window, got, c.want)
		}
	}
	want := []string{"page 5m 1h", "page 30m 6h", "ticket 2h 24h", "ticket 6h 72h"}
	for i, b := range BurnAlerts {
		if got := b.Severity + " " + promDuration(b.Short) + " " + strings.TrimSuffix(b.Long.String(), "0m0s"); got != want[i] {
			t.Errorf("condition %d: %s, want %s", i, got, want[i])
		}
	}
}

// TestHorusForm: the span-metrics SLIs' queries, defaults and window.
func TestHorusForm(t *testing.T) {
	slos, err := Load([]string{"testdata/horus.yml"})
	if err != nil {
		t.Fatal(err)
	}
	if len(slos) != 2 {
		t.Fatalf("%d SLOs", len(slos))
	}
	av, lat := slos[0], slos[1]
	if av.ID != "checkout-availability" || av.Window != DefaultWindow || av.Page.Name != "CheckoutAvailabilitySLO" || av.MinErrors != DefaultMinErrors {
		t.Errorf("availability: %+v", av)
	}
	if want := `(sum(rate(traces_spanmetrics_calls_total{service="checkout", span_kind="SPAN_KIND_SERVER", status_code="STATUS_CODE_ERROR"}[{{.window}}])) or vector(0))`; av.SLI.Events.ErrorQuery != want {
		t.Errorf("availability error query\n %s\nwant\n %s", av.SLI.Events.ErrorQuery, want)
	}
	if want := `sum(rate(traces_spanmetrics_calls_total{service="checkout", span_kind="SPAN_KIND_SERVER"}[{{.window}}]))`; av.SLI.Events.TotalQuery != want {
		t.Errorf("availability total query\n %s\nwant\n %s", av.SLI.Events.TotalQuery, want)
	}
	sel := `service="checkout", span_kind="SPAN_KIND_SERVER", span_name="POST /pay", http_route="/pay"`
	if want := `(sum(rate(traces_spanmetrics_latency_count{` + sel + `}[{{.window}}])) - sum(rate(traces_spanmetrics_latency_bucket{` + sel + `, le="0.256"}[{{.window}}])))`; lat.SLI.Events.ErrorQuery != want {
		t.Errorf("latency error query\n %s\nwant\n %s", lat.SLI.Events.ErrorQuery, want)
	}
	if lat.Window != 28*24*time.Hour || lat.MinErrors != 20 || lat.Page.For != 2*time.Minute || lat.Ticket.Labels["severity"] != "info" || lat.Page.Labels["severity"] != "critical" {
		t.Errorf("latency: window %s min_errors %d page %+v ticket %+v", lat.Window, lat.MinErrors, lat.Page, lat.Ticket)
	}
}

// TestOpenSLO: an indicatorRef across documents, good/total counters,
// target and window shorthand, annotations.
func TestOpenSLO(t *testing.T) {
	slos, err := Load([]string{"testdata/openslo.yml"})
	if err != nil {
		t.Fatal(err)
	}
	if len(slos) != 3 {
		t.Fatalf("%d SLOs", len(slos))
	}
	co, cart, sync := slos[0], slos[1], slos[2]
	if co.ID != "checkout-checkout-availability" || co.Objective != 99.9 || co.Window != 28*24*time.Hour || co.Page.Name != "CheckoutAvailability" || co.Labels["team"] != "checkout" {
		t.Errorf("checkout: %+v", co)
	}
	if want := `(sum(rate(checkout_requests_total[{{.window}}]))) - (sum(rate(checkout_requests_total{code!~"5.."}[{{.window}}])))`; co.SLI.Events.ErrorQuery != want {
		t.Errorf("good/total error query\n %s\nwant\n %s", co.SLI.Events.ErrorQuery, want)
	}
	// A raw success ratio: 1 - its mean over the window, no guard.
	if want := `1 - (avg(avg_over_time(sync_success_ratio{job="sync"}[{{.window}}])))`; sync.SLI.Raw == nil || sync.SLI.Raw.ErrorRatioQuery != want || sync.MinErrors != 0 {
		t.Errorf("raw success ratio: %+v, min_errors %d; want %s", sync.SLI, sync.MinErrors, want)
	}
	if cart.Objective != 99.5 || cart.MinErrors != 10 || cart.Page.Name != "CartCartErrorsSLO" || cart.Page.Annotations["runbook_url"] != "https://runbooks.example.com/cart" {
		t.Errorf("cart: %+v", cart)
	}
}

// TestRefused: each file Horus cannot honour is refused, saying what and
// why, at its file and line.
func TestRefused(t *testing.T) {
	want := map[string]string{
		"plugin.yml":           "sli.plugin: Horus does not run Sloth's SLI plugins",
		"slo-plugins.yml":      "slo_plugins: Horus does not run Sloth's SLO plugins",
		"no-runbook.yml":       "page alert: no runbook_url annotation",
		"typo.yml":             "typo.yml:5: slos[0].objetive: unknown key; did you mean slos[0].objective?",
		"no-window-var.yml":    "has no {{.window}}",
		"objective-100.yml":    "100 leaves no error budget",
		"reserved-label.yml":   `"sloth_id" is set by Horus`,
		"raw-min-errors.yml":   "a raw SLI gives a ratio, not a count",
		"duplicate.yml":        "SLO svc-avail is defined twice",
		"threshold.yml":        "threshold_ms 300: a latency SLI counts the calls in the histogram's buckets, so the threshold must be a bucket bound: one of 2, 4, 8",
		"short-window.yml":     "window 1d: want a whole number of days, at least 1w",
		"unknown-format.yml":   "not an SLO document",
		"calendar.yml":         "calendar-aligned windows are not supported",
		"timeslices.yml":       "budgetingMethod Timeslices: not supported",
		"alert-policies.yml":   "spec.alertPolicies: not supported",
		"v1alpha.yml":          "apiVersion openslo/v1alpha is not supported",
		"threshold-metric.yml": "op and value are for threshold metrics, which are not supported",
		"gauge-query.yml":      `query "sum(req_total)": write it over the template variable {{.window}}`,
	}
	files, _ := filepath.Glob("testdata/bad/*.yml")
	if len(files) != len(want) {
		t.Errorf("%d bad files, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		_, err := Load([]string{f})
		w, ok := want[filepath.Base(f)]
		switch {
		case !ok:
			t.Errorf("%s: no expectation", f)
		case err == nil:
			t.Errorf("%s: loaded, want an error with %q", f, w)
		case !strings.Contains(err.Error(), w) || !strings.Contains(err.Error(), f+":"):
			t.Errorf("%s: error %q, want it to name the file and say %q", f, err, w)
		}
	}
	if _, err := Load([]string{"testdata/missing.yml"}); err == nil {
		t.Error("a missing file loaded")
	}
	if slos, err := Load([]string{"testdata/none-*.yml"}); err != nil || len(slos) != 0 {
		t.Errorf("a glob matching nothing: %v, %v; want no SLO and no error (as rule_files)", slos, err)
	}
}
