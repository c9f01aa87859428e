package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/prompb"

	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/slo"
)

// sloTestFile: availability SLOs (Horus' form, over span metrics) of four
// services whose traffic the test writes: checkout burns fast (a page),
// search slowly (a ticket), ledger has a handful of calls and two
// failures (no page, unless its guard is off), catalog never failed.
const sloTestFile = `
version: horus/v1
service: checkout
slos:
  - name: availability
    objective: 99
    sli: {availability: {}}
    alerting: {annotations: {runbook_url: https://runbooks.example.com/checkout}}
---
version: horus/v1
service: search
slos:
  - name: availability
    objective: 99
    sli: {availability: {}}
    alerting: {annotations: {runbook_url: https://runbooks.example.com/search}}
---
version: horus/v1
service: ledger
slos:
  - name: availability
    objective: 99
    sli: {availability: {}}
    alerting: {annotations: {runbook_url: https://runbooks.example.com/ledger}}
  - name: unguarded
    objective: 99
    sli: {availability: {}}
    alerting:
      min_errors: 0
      annotations: {runbook_url: https://runbooks.example.com/ledger}
---
version: horus/v1
service: catalog
slos:
  - name: availability
    objective: 99
    sli: {availability: {}}
    alerting: {annotations: {runbook_url: https://runbooks.example.com/catalog}}
`

// TestSLOBurnRates writes four days of span-metric counters to a running
// Horus, evaluates the rules 'horus slo generate' makes for them as the
// rules manager would (each recording rule's expression by PromQL, its
// result written back; the 5m rules every 5 minutes over the last three
// days, the others at the time T of the checks) and compares error
// ratios, burn rates, alert conditions and the /api/v1/slos answer with
// numbers worked out by hand below.
//
// Traffic: samples every minute from T-4d to T. A counter's increase over
// a window [T-W, T] is that of the intervals ending at T-W+1m … T (W/1m -
// 1 of them, as rate() reads the samples inside the window), and the same
// extrapolation scales errors and totals alike (every counter starts high,
// so no extrapolation stops at zero), so an error ratio is a ratio of
// counts of those intervals.
//   - checkout: 600 calls a minute; 120 of them fail in each minute
//     after T-2h (intervals ending T-119m … T).
//   - search: 600 calls a minute; 24 fail in each minute after T-1d.
//   - ledger: one call every 10 minutes (at T, T-10m, …); the calls at T
//     and T-30m fail.
//   - catalog: 600 calls a minute, none failed: it has no error series.
//
// Objective 99%: the budget is 0.01; the page needs an error ratio above
// 0.144 over 1h and 5m or above 0.06 over 6h and 30m, the ticket above
// 0.03 over 1d and 2h or above 0.01 over 3d and 6h; the guard needs 5
// failed calls in the long window.
func TestSLOBurnRates(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "slos.yml")
	if err := os.WriteFile(file, []byte(sloTestFile), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "", func(c *config.Config) {
		c.SLOFiles = []string{file}
		c.Metrics.OutOfOrderWindow = model.Duration(5 * 24 * time.Hour) // series written one after the other, each from T-4d
	})
	T := time.Now().Truncate(time.Minute).Add(-time.Hour)
	writeSpanCalls(t, ts, T)

	slos, err := slo.Load([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := slo.Generate(slos)
	if err != nil {
		t.Fatal(err)
	}
	evalRecordingRules(t, ts, groups, T.Add(-72*time.Hour), T)

	// Error ratios at T, by SLO and window.
	ratio := func(id, window string) float64 {
		t.Helper()
		vec := ts.query(t, fmt.Sprintf(`slo:sli_error:ratio_rate%s{sloth_id=%q}`, window, id), T)
		if len(vec) != 1 {
			t.Fatalf("%s %s: %v, want one sample", id, window, vec)
		}
		return float64(vec[0].Value)
	}
	for _, c := range []struct {
		id, window string
		want       float64
	}{
		{"checkout-availability", "5m", 0.2},
		{"checkout-availability", "30m", 0.2},
		{"checkout-availability", "1h", 0.2},
		{"checkout-availability", "2h", 0.2},
		{"checkout-availability", "6h", 120 * 120 / (359 * 600.0)},  // 0.0668524: errors in the last 120 of 359 intervals
		{"checkout-availability", "1d", 120 * 120 / (1439 * 600.0)}, // 0.0166782
		{"checkout-availability", "3d", 120 * 120 / (4319 * 600.0)}, // 0.0055569
		// The period: the 5m rates every 5 minutes from T-3d to T (865
		// evaluations). Errors in the 24 after T-2h, 4 failing intervals
		// of 120 each (2/s after extrapolation), totals 10/s in all 865:
		// 24×2 / (865×10).
		{"checkout-availability", "30d", 48 / 8650.0}, // 0.0055491
		{"search-availability", "2h", 0.04},
		{"search-availability", "1d", 0.04},
		{"search-availability", "3d", 1440 * 24 / (4319 * 600.0)}, // 0.0133364
		// 288 evaluations after T-1d, 0.4/s of errors each: 115.2 / 8650.
		{"search-availability", "30d", 115.2 / 8650},
		// ledger: the 5m window at T holds the failed call at T alone;
		// 1h holds 6 calls (T-50m … T), 2 failed; 6h 36 calls.
		{"ledger-availability", "5m", 1},
		{"ledger-availability", "1h", 2 / 6.0},
		{"ledger-availability", "30m", 1 / 3.0},
		{"ledger-availability", "6h", 2 / 36.0},
		// Every other 5m evaluation (433 of 865) holds one call; 2 failed.
		{"ledger-availability", "30d", 2 / 433.0},
		{"catalog-availability", "1h", 0},
		{"catalog-availability", "30d", 0},
	} {
		if got := ratio(c.id, c.window); !near(got, c.want) {
			t.Errorf("%s error ratio over %s = %v, want %v", c.id, c.window, got, c.want)
		}
	}
	// The guard's count: 2 failed calls in the 1h window, extrapolated
	// from the 59 minutes of samples to 60.
	if vec := ts.query(t, `slo:sli_error:rate1h{sloth_id="ledger-availability"} * 3600`, T); len(vec) != 1 || !near(float64(vec[0].Value), 2*60/59.0) {
		t.Errorf("ledger failed calls in 1h = %v, want %v", vec, 2*60/59.0)
	}

	// The alerts at T, by evaluating the generated alerting rules.
	firing := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			vec := ts.query(t, r.Expr, T)
			key := strings.TrimPrefix(g.Name, "sloth-slo-alerts-") + " " + r.Labels["sloth_severity"]
			firing[key] = len(vec) > 0
			for _, s := range vec {
				if s.Metric["sloth_id"] == "" || s.Metric["sloth_window"] != "" {
					t.Errorf("%s: alert labels %v, want the SLO's without sloth_window", key, s.Metric)
				}
			}
		}
	}
	for key, want := range map[string]bool{
		"checkout-availability page": true, "checkout-availability ticket": false,
		"search-availability page": false, "search-availability ticket": true,
		// Low traffic: the ratios are far above the page's (1 and 1/3
		// against 0.144) but 2 failed calls are fewer than 5: no page.
		// Without the guard the same SLI pages.
		"ledger-availability page": false, "ledger-availability ticket": false,
		"ledger-unguarded page": true, "ledger-unguarded ticket": false,
		"catalog-availability page": false, "catalog-availability ticket": false,
	} {
		if got, ok := firing[key]; !ok || got != want {
			t.Errorf("%s fires: %v (rule found: %v), want %v", key, got, ok, want)
		}
	}

	// The API at T.
	var list struct {
		Status string       `json:"status"`
		Data   []slo.Status `json:"data"`
	}
	getJSON(t, fmt.Sprintf("%s/api/v1/slos?time=%d", ts.URL(), T.Unix()), http.StatusOK, &list)
	if list.Status != "success" || len(list.Data) != 5 {
		t.Fatalf("GET /api/v1/slos: %s, %d SLOs; want 5", list.Status, len(list.Data))
	}
	var one struct {
		Data slo.Status `json:"data"`
	}
	getJSON(t, fmt.Sprintf("%s/api/v1/slos/checkout-availability?time=%d", ts.URL(), T.Unix()), http.StatusOK, &one)
	co := one.Data
	// remaining = 1 - (48/8650)/0.01 = 0.4450867; at a burn of 20 (0.2
	// over 5m / 0.01) it lasts 0.4450867 × 30d / 20 = 57683.2 s.
	remaining := 1 - 48/8650.0/0.01
	checkNum(t, "checkout sli", co.SLI, 1-48/8650.0)
	checkNum(t, "checkout remaining", co.ErrorBudget.Remaining, remaining)
	checkNum(t, "checkout remaining %", co.ErrorBudget.RemainingPercent, remaining*100)
	checkNum(t, "checkout current burn", co.ErrorBudget.CurrentBurnRate, 20)
	checkNum(t, "checkout exhausted in", co.ErrorBudget.ExhaustedInSeconds, remaining*30*86400/20)
	wantBurn := map[string]float64{"5m": 20, "1h": 20, "6h": 120 * 120 / (359 * 600.0) / 0.01, "3d": 120 * 120 / (4319 * 600.0) / 0.01, "30d": 48 / 8650.0 / 0.01}
	for _, b := range co.BurnRates {
		if w, ok := wantBurn[b.Window]; ok {
			checkNum(t, "checkout burn rate "+b.Window, b.BurnRate, w)
			delete(wantBurn, b.Window)
		}
	}
	if len(wantBurn) > 0 {
		t.Errorf("burn rates missing for %v", wantBurn)
	}
	if len(co.Alerts) != 2 || !co.Alerts[0].Burning || co.Alerts[1].Burning || co.Alerts[0].Type != "page" || co.Alerts[0].Severity != "critical" ||
		!co.Alerts[0].Conditions[0].Met || !co.Alerts[0].Conditions[1].Met || co.Alerts[0].Conditions[0].Factor != 14.4 {
		t.Errorf("checkout alerts %+v", co.Alerts)
	}
	for _, s := range list.Data {
		switch s.ID {
		case "search-availability":
			// 115.2/8650 = 0.0133179 is 1.33× the budget: overspent, so
			// the budget is gone already.
			checkNum(t, "search remaining", s.ErrorBudget.Remaining, 1-115.2/8650/0.01)
			checkNum(t, "search exhausted in", s.ErrorBudget.ExhaustedInSeconds, 0)
			if !s.Alerts[1].Burning || s.Alerts[0].Burning {
				t.Errorf("search alerts %+v", s.Alerts)
			}
		case "ledger-availability":
			checkNum(t, "ledger remaining", s.ErrorBudget.Remaining, 1-2/433.0/0.01)
			if s.Alerts[0].Burning {
				t.Errorf("ledger page burning on 2 failed calls: %+v", s.Alerts[0])
			}
		case "catalog-availability":
			checkNum(t, "catalog sli", s.SLI, 1)
			checkNum(t, "catalog remaining %", s.ErrorBudget.RemainingPercent, 100)
			if s.ErrorBudget.ExhaustedInSeconds != nil {
				t.Errorf("catalog burns nothing, yet its budget is exhausted in %v s", *s.ErrorBudget.ExhaustedInSeconds)
			}
		}
	}
	var notFound struct {
		ErrorType string `json:"errorType"`
	}
	getJSON(t, ts.URL()+"/api/v1/slos/nope", http.StatusNotFound, &notFound)
	if notFound.ErrorType != "not_found" {
		t.Errorf("unknown SLO: errorType %q", notFound.ErrorType)
	}
}

// writeSpanCalls writes the span-metric counters of TestSLOBurnRates,
// one sample a minute from T-4d to T.
func writeSpanCalls(t *testing.T, ts *testServer, T time.Time) {
	t.Helper()
	const minutes = 4 * 24 * 60
	type counter struct {
		service, status string
		inc             func(m int) float64 // calls in the minute ending m minutes before T
	}
	failing := func(total, failed float64, within int) (ok, bad func(int) float64) {
		return func(m int) float64 {
				if m < within {
					return total - failed
				}
				return total
			}, func(m int) float64 {
				if m < within {
					return failed
				}
				return 0
			}
	}
	coOK, coErr := failing(600, 120, 120)
	seOK, seErr := failing(600, 24, 1440)
	ledger := func(fail bool) func(int) float64 {
		return func(m int) float64 {
			if m%10 != 0 || (m == 0 || m == 30) != fail {
				return 0
			}
			return 1
		}
	}
	counters := []counter{
		{"checkout", "STATUS_CODE_OK", coOK}, {"checkout", "STATUS_CODE_ERROR", coErr},
		{"search", "STATUS_CODE_OK", seOK}, {"search", "STATUS_CODE_ERROR", seErr},
		{"ledger", "STATUS_CODE_UNSET", ledger(false)}, {"ledger", "STATUS_CODE_ERROR", ledger(true)},
		{"catalog", "STATUS_CODE_UNSET", func(int) float64 { return 600 }},
	}
	var req prompb.WriteRequest
	for _, c := range counters {
		v := 1e6 // well above any increase: rate() extrapolates to the window's start, never stopping at zero
		var samples []prompb.Sample
		for m := minutes; m >= 0; m-- {
			if m < minutes {
				v += c.inc(m)
			}
			samples = append(samples, prompb.Sample{Value: v, Timestamp: T.Add(-time.Duration(m) * time.Minute).UnixMilli()})
		}
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
			Labels:  series("traces_spanmetrics_calls_total", "service", c.service, "span_kind", "SPAN_KIND_SERVER", "span_name", "GET /", "status_code", c.status),
			Samples: samples,
		})
	}
	writeRemote(t, ts, &req)
}

func writeRemote(t *testing.T, ts *testServer, req *prompb.WriteRequest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := rwClient(t, ts).Write(ctx, remoteapi.WriteV1MessageType, req); err != nil {
		t.Fatalf("remote write: %v", err)
	}
}

// evalRecordingRules does what the rules manager does with groups, in
// order, at the times the checks read: each recording rule's expression
// is evaluated and its result, with the rule's labels and name, written
// back. Rules over the 5m window run every 5 minutes from start to end
// (the period's ratio sums them), the others at end only.
func evalRecordingRules(t *testing.T, ts *testServer, groups rulefmt.RuleGroups, start, end time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Record == "" {
				continue
			}
			var m model.Matrix
			if r.Labels["sloth_window"] == "5m" {
				v, _, _, err := ts.api.QueryRange(ctx, r.Expr, promv1.Range{Start: start, End: end, Step: 5 * time.Minute})
				if err != nil {
					t.Fatalf("%s: %v", r.Record, err)
				}
				m = v.(model.Matrix)
			} else {
				v, _, _, err := ts.api.Query(ctx, r.Expr, end)
				if err != nil {
					t.Fatalf("%s: %v", r.Record, err)
				}
				for _, s := range v.(model.Vector) {
					m = append(m, &model.SampleStream{Metric: s.Metric, Values: []model.SamplePair{{Timestamp: s.Timestamp, Value: s.Value}}})
				}
			}
			var req prompb.WriteRequest
			for _, ss := range m {
				lbls := model.LabelSet{}
				for k, v := range ss.Metric {
					lbls[k] = v
				}
				for k, v := range r.Labels {
					lbls[model.LabelName(k)] = model.LabelValue(v)
				}
				lbls[model.MetricNameLabel] = model.LabelValue(r.Record)
				pts := prompb.TimeSeries{}
				for k, v := range lbls {
					pts.Labels = append(pts.Labels, prompb.Label{Name: string(k), Value: string(v)})
				}
				for _, p := range ss.Values {
					pts.Samples = append(pts.Samples, prompb.Sample{Value: float64(p.Value), Timestamp: int64(p.Timestamp)})
				}
				req.Timeseries = append(req.Timeseries, pts)
			}
			if len(req.Timeseries) > 0 {
				writeRemote(t, ts, &req)
			}
		}
	}
}

func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

func checkNum(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil || !near(*got, want) {
		if got == nil {
			t.Errorf("%s = null, want %v", what, want)
			return
		}
		t.Errorf("%s = %v, want %v", what, *got, want)
	}
}

func getJSON(t *testing.T, url string, code int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != code {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, code)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestSLORulesLive: the rules manager loads the rules of slo_files and
// evaluates them: a service failing half its requests pages, the page is
// firing in ALERTS, /api/v1/rules and /api/v1/slos show it; a reload with
// a bad SLO file keeps the SLOs before, a good one replaces them.
func TestSLORulesLive(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "shop.yml")
	sloth := func(name string) string {
		return `version: "prometheus/v1"
service: shop
slos:
  - name: ` + name + `
    objective: 99
    interval: {all: 1s}
    sli:
      events:
        error_query: sum(rate(shop_requests_total{code="500"}[{{.window}}]))
        total_query: sum(rate(shop_requests_total[{{.window}}]))
    alerting:
      name: ShopAvailability
      annotations: {runbook_url: https://runbooks.example.com/shop}
`
	}
	writeFile(t, file, sloth("availability"))
	ts := startServer(t, "", func(c *config.Config) {
		c.SLOFiles = []string{file}
		c.Metrics.OutOfOrderWindow = model.Duration(24 * time.Hour)
	})
	// Three hours of 600 requests a minute, half of them failing.
	now := time.Now()
	var req prompb.WriteRequest
	for _, code := range []string{"200", "500"} {
		var samples []prompb.Sample
		for m := 180; m >= 0; m-- {
			samples = append(samples, prompb.Sample{Value: 1e6 + float64(300*(180-m)), Timestamp: now.Add(-time.Duration(m) * time.Minute).UnixMilli()})
		}
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: series("shop_requests_total", "code", code), Samples: samples})
	}
	writeRemote(t, ts, &req)

	waitFor(t, 30*time.Second, "the SLO's page firing", func() bool {
		return len(ts.query(t, `ALERTS{alertname="ShopAvailability", sloth_severity="page", alertstate="firing", sloth_id="shop-availability"}`, time.Now())) == 1
	})
	var st struct {
		Data slo.Status `json:"data"`
	}
	getJSON(t, ts.URL()+"/api/v1/slos/shop-availability", http.StatusOK, &st)
	// Half the requests failing for three hours is above every condition:
	// the ticket fires too.
	if len(st.Data.Alerts) != 2 || st.Data.Alerts[0].State != "firing" || !st.Data.Alerts[0].Burning || st.Data.Alerts[1].Type != "ticket" || !st.Data.Alerts[1].Burning {
		t.Errorf("alerts %+v, want the page firing and both burning", st.Data.Alerts)
	}
	checkNum(t, "burn rate over 5m", st.Data.BurnRates[0].BurnRate, 50)
	var rules struct {
		Data struct {
			Groups []struct {
				Name string `json:"name"`
			} `json:"groups"`
		} `json:"data"`
	}
	getJSON(t, ts.URL()+"/api/v1/rules", http.StatusOK, &rules)
	var names []string
	for _, g := range rules.Data.Groups {
		names = append(names, g.Name)
	}
	for _, g := range []string{"sloth-slo-sli-recordings-shop-availability", "sloth-slo-meta-recordings-shop-availability", "sloth-slo-alerts-shop-availability"} {
		if !slices.Contains(names, g) {
			t.Errorf("/api/v1/rules groups %q lack %s", names, g)
		}
	}

	ids := func() []string {
		var list struct {
			Data []slo.Status `json:"data"`
		}
		getJSON(t, ts.URL()+"/api/v1/slos", http.StatusOK, &list)
		var out []string
		for _, s := range list.Data {
			out = append(out, s.ID)
		}
		return out
	}
	reload := func() (int, string) {
		resp, err := http.Post(ts.URL()+"/-/reload", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	writeFile(t, file, strings.Replace(sloth("availability"), "events:", "plugin: {id: sloth-common/availability}\n      events:", 1))
	if code, body := reload(); code != http.StatusInternalServerError || !strings.Contains(body, "sli.plugin") {
		t.Errorf("reload with a plugin SLI: %d %q, want 500 naming sli.plugin", code, body)
	}
	if got := ids(); !slices.Equal(got, []string{"shop-availability"}) {
		t.Errorf("after a failed reload the SLOs are %q, want the ones before", got)
	}
	writeFile(t, file, sloth("requests"))
	if code, body := reload(); code != http.StatusOK {
		t.Errorf("reload: %d %q", code, body)
	}
	if got := ids(); !slices.Equal(got, []string{"shop-requests"}) {
		t.Errorf("after a reload the SLOs are %q, want [shop-requests]", got)
	}
}
