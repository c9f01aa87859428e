package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/demo/fault"
	"github.com/horus-obs/horus/internal/demo/load"
	"github.com/horus-obs/horus/internal/investigate"
)

// expectation is what GET /api/v1/investigate should answer for a
// scenario: the alert whose fingerprint is investigated (or, without one,
// the symptom's parameters), what the top findings name, the change and
// the log line. Each is taken from the scenario's own data.
type expectation struct {
	alert  string     // the scenario's alert investigated by fingerprint
	params url.Values // added to the request (a symptom, a threshold)
	// culprit is what a top finding (one in the summary) names: the
	// instance, dependency, attribute or version injected.
	culprit string
	// by, when set, are the kinds of finding one of which must name the
	// culprit (not only the change of it).
	by []string
	// change is what the change finding names ("" : the scenario has no
	// change).
	change string
	// log is what a log finding's pattern shows ("": no error line).
	log string
	// gap, when set, says why the engine does not name the culprit yet:
	// the culprit and change checks are logged, not failed.
	gap string
}

// lineFilter is the first |= "..." of a scenario's LogQL signals: the
// error message its lines carry.
var lineFilter = regexp.MustCompile(`\|= "([^"]+)"`)

func expectationOf(t *testing.T, n int) expectation {
	t.Helper()
	sc, _ := fault.ScenarioByName(strconv.Itoa(n))
	var e expectation
	for _, s := range sc.Signals {
		if m := lineFilter.FindStringSubmatch(s.Query); s.Lang == fault.LangLogQL && m != nil && e.log == "" {
			e.log = m[1]
		}
	}
	if d := sc.Deploy; d != nil {
		e.change = d.Version
	}
	f := sc.Faults[0]
	switch sc.Name {
	case "payments-bad-config":
		// The instance the deploy and the faults target.
		e.alert = fault.AlertCheckoutAvailability
		e.culprit = f.Target.Service + "-" + f.Target.Instance
		// A refused connection leaves no payments span: the engine
		// resolves the gateway's client span's address to payments-2,
		// which BubbleUp or where must name.
		e.by = []string{investigate.KindBubbleUp, investigate.KindWhere}
	case "bank-timeouts":
		// The dependency whose calls wait.
		e.alert = fault.AlertCheckoutLatency
		e.culprit = f.Target.Service
	case "big-order-slow-query":
		// The attribute of the requests the fault is scoped to, over
		// the rule's 0.5 s.
		e.alert = fault.AlertLookupSlow
		e.params = url.Values{"threshold": {slowLookup.String()}}
		e.culprit = "order.item_count>="
		e.log = "" // its log signal lists big orders, not an error
	case "orders-bad-deploy":
		// The version deployed, with its 500's message.
		e.alert = fault.AlertOrdersAvailability
		e.culprit = sc.Deploy.Version
		e.log = f.Message
	case "orders-pool-exhausted":
		e.alert = fault.AlertPoolSaturated
		e.culprit = f.Target.Service
	default:
		t.Fatalf("no investigation expected of scenario %s", sc.Name)
	}
	return e
}

// bigOrders places n orders of bigOrder items at once, in the
// background; the function returned waits for them.
func (r *scenarioRun) bigOrders(n int) (wait func()) {
	done := make(chan load.Result, n)
	for range n {
		go func() {
			done <- r.d.Load().Checkout(context.Background(), load.CheckoutOptions{Items: bigOrder, PaymentMethod: "card"})
		}()
	}
	return func() {
		for range n {
			<-done
		}
	}
}

// investigate calls GET /api/v1/investigate with params.
func (h horusAPI) investigate(params url.Values) (*investigate.Result, error) {
	var res struct {
		Status string             `json:"status"`
		Data   investigate.Result `json:"data"`
	}
	if err := getJSON(string(h), "/api/v1/investigate", params, &res); err != nil {
		return nil, err
	}
	return &res.Data, nil
}

// logAnswer logs an investigation's summary and findings.
func logAnswer(t *testing.T, res *investigate.Result) {
	t.Helper()
	t.Logf("investigation in %.3fs (%+v): %s", res.TookSeconds, res.Sampling, res.Summary)
	for _, f := range res.Findings {
		t.Logf("  %-10s %.3f  %s", f.Kind, f.Score, f.Statement)
	}
	for _, w := range res.Warnings {
		t.Logf("  warning: %s", w)
	}
}

// investigateBaseline investigates the checkout's errors before any
// scenario: no clear culprit.
func (r *scenarioRun) investigateBaseline(t *testing.T) {
	res, err := r.h.investigate(url.Values{"service": {"api-gateway"}, "signal": {"errors"},
		"start": {unixParam(r.start)}, "end": {unixParam(time.Now())}})
	if err != nil {
		t.Fatal(err)
	}
	logAnswer(t, res)
	if res.ClearCulprit {
		t.Errorf("with no fault, a culprit: %s", res.Summary)
	}
}

// investigateScenario investigates scenario n's alert (its fingerprint,
// from the horus_url the Alertmanager holds) and checks that the top
// findings name its culprit, that the change finding names its deploy and
// that a log finding shows its error message.
func (r *scenarioRun) investigateScenario(t *testing.T, n int) {
	t.Helper()
	sc, _ := fault.ScenarioByName(strconv.Itoa(n))
	t.Run(sc.Name+"/investigate", func(t *testing.T) {
		e := expectationOf(t, n)
		params := url.Values{}
		for k, v := range e.params {
			params[k] = v
		}
		fp := r.fingerprints[sc.Name+"/"+e.alert]
		if fp == "" {
			t.Fatalf("no fingerprint of %s", e.alert)
		}
		params.Set("fingerprint", fp)
		res, err := r.h.investigate(params)
		if err != nil {
			t.Fatal(err)
		}
		logAnswer(t, res)
		if !res.ClearCulprit {
			t.Errorf("no clear culprit: %s", res.Summary)
		}
		report := t.Errorf
		if e.gap != "" {
			report = t.Logf
			t.Logf("known gap: %s", e.gap)
		}
		if !topNames(res, e.culprit, e.by...) {
			report("no top finding %v names %q: %s", e.by, e.culprit, res.Summary)
		}
		if e.change != "" && !hasFinding(res, investigate.KindChange, sc.Deploy.Service, e.change) {
			report("no change finding of %s %s", sc.Deploy.Service, e.change)
		}
		if e.log != "" && !hasFinding(res, investigate.KindLogs, e.log) {
			t.Errorf("no log finding with %q", e.log)
		}
	})
}

// topFindings is how many of the findings, highest score first, count as
// the top ones.
const topFindings = 5

// topNames reports whether one of the top findings scoring at least
// ClearScore (of one of kinds, when given) names what: in its statement
// or its details (a BubbleUp pair's aliases).
func topNames(res *investigate.Result, what string, kinds ...string) bool {
	for i, f := range res.Findings {
		if i >= topFindings || f.Score < investigate.ClearScore {
			break
		}
		if len(kinds) > 0 && !slices.Contains(kinds, f.Kind) {
			continue
		}
		det, _ := json.Marshal(f.Details)
		if strings.Contains(f.Statement, what) || strings.Contains(string(det), what) {
			return true
		}
	}
	return false
}

// hasFinding reports whether a finding of kind has every part in its
// statement.
func hasFinding(res *investigate.Result, kind string, parts ...string) bool {
	for _, f := range res.Findings {
		if f.Kind != kind {
			continue
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(f.Statement, p)
		}
		if all {
			return true
		}
	}
	return false
}

// fingerprintOf is the fingerprint of an alert's horus_url
// (<external_url>/alerts/<fingerprint>).
func fingerprintOf(horusURL string) string {
	u, err := url.Parse(horusURL)
	if err != nil {
		return ""
	}
	return path.Base(u.Path)
}

func unixParam(t time.Time) string { return fmt.Sprint(t.Unix()) }
