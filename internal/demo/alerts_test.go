package demo

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/docs/runbooks"
	"github.com/horus-obs/horus/internal/demo/fault"
	"github.com/horus-obs/horus/internal/ruler"
)

// alertView is an alert of Horus' /api/v1/alerts (Prometheus' format).
type alertView struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
}

func (a alertView) String() string {
	return fmt.Sprintf("%s %v (%s since %s)", a.Labels["alertname"], a.Labels, a.State, a.ActiveAt.Format(time.TimeOnly))
}

// is reports whether the alert is the scenario's alert want: its name and
// labels.
func (a alertView) is(want fault.Alert) bool {
	if a.Labels["alertname"] != want.Name {
		return false
	}
	for k, v := range want.Labels {
		if a.Labels[k] != v {
			return false
		}
	}
	return true
}

// alerts lists Horus' pending and firing alerts.
func (h horusAPI) alerts() ([]alertView, error) {
	var res struct {
		Data struct {
			Alerts []alertView `json:"alerts"`
		} `json:"data"`
	}
	err := getJSON(string(h), "/api/v1/alerts", nil, &res)
	return res.Data.Alerts, err
}

// firingNow returns the alerts pending or firing now: at a scenario's
// switch, those that came before it.
func (r *scenarioRun) firingNow(t *testing.T) []alertView {
	t.Helper()
	as, err := r.h.alerts()
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// ruleGroup is a group of Horus' /api/v1/rules.
type ruleGroup struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	LastEvaluation time.Time `json:"lastEvaluation"`
	Rules          []struct {
		Name      string `json:"name"`
		Health    string `json:"health"`
		LastError string `json:"lastError"`
	} `json:"rules"`
}

// baseAlerts checks the demo's rules before any scenario: every group of
// the shipped files is loaded from the demo's directory and each of its
// rules has been evaluated without error on the shop's telemetry; every
// shipped SLO reads real telemetry (its SLI is known on /api/v1/slos);
// and no alert has been pending or firing since the demo started (the
// ALERTS series over that time), page or otherwise.
func (r *scenarioRun) baseAlerts(t *testing.T) {
	sh := loadShipped(t)
	rulesDir := filepath.Join(r.d.Dir(), "rules")
	ready(t, "the demo's rules evaluated", func() error {
		var res struct {
			Data struct {
				Groups []ruleGroup `json:"groups"`
			} `json:"data"`
		}
		if err := getJSON(string(r.h), "/api/v1/rules", nil, &res); err != nil {
			return err
		}
		var got []string
		for _, g := range res.Data.Groups {
			if !strings.HasPrefix(g.File, rulesDir+string(filepath.Separator)) {
				return fmt.Errorf("group %s of %s: not a file of the demo's", g.Name, g.File)
			}
			got = append(got, g.Name)
			// Evaluated once the scrapes and span metrics had data to read.
			if g.LastEvaluation.Before(r.start.Add(10 * time.Second)) {
				return fmt.Errorf("group %s last evaluated at %s", g.Name, g.LastEvaluation)
			}
			for _, rl := range g.Rules {
				if rl.Health != "ok" {
					return fmt.Errorf("group %s, rule %s: health %q %s", g.Name, rl.Name, rl.Health, rl.LastError)
				}
			}
		}
		if want := slices.Sorted(slices.Values(sh.groups)); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
			return fmt.Errorf("groups %v, want %v", got, want)
		}
		return nil
	})
	ready(t, "every SLO's SLI", func() error {
		var res struct {
			Data []struct {
				ID  string   `json:"id"`
				SLI *float64 `json:"sli"`
			} `json:"data"`
		}
		if err := getJSON(string(r.h), "/api/v1/slos", nil, &res); err != nil {
			return err
		}
		sli := map[string]*float64{}
		for _, s := range res.Data {
			sli[s.ID] = s.SLI
		}
		for _, s := range sh.slos {
			if v, ok := sli[s.ID]; !ok || v == nil {
				return fmt.Errorf("SLO %s: no SLI yet (%v)", s.ID, ok)
			}
		}
		for _, s := range sh.slos {
			t.Logf("SLO %s: SLI %.5f (objective %g%%)", s.ID, *sli[s.ID], s.Objective)
		}
		return nil
	})
	w := windowSince(r.start) + 1
	got, err := r.h.query(fmt.Sprintf("count by (alertname, alertstate, severity) (count_over_time(ALERTS[%ds]))", w), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range got {
		t.Errorf("with no fault, %s was %s (severity %s) in the last %ds", s.labels["alertname"], s.labels["alertstate"], s.labels["severity"], w)
	}
	if as := r.firingNow(t); len(as) > 0 {
		t.Errorf("with no fault, alerts %v", as)
	}
}

// alerts checks that each alert of scenario n, switched on at on, fires
// (within alertWithin, on Horus' /api/v1/alerts) with the scenario's
// labels: activated after the switch, unless it was already pending or
// firing at the switch (in before: a scenario run before it left it, as
// scenario 4 leaves the orders SLO burning for scenario 5), in which case
// it must still be firing. Each is then delivered to the Alertmanager
// inside Horus (/alertmanager/api/v2/alerts: active, with its severity,
// summary, description, horus_url and runbook_url, and, for an alert of
// the service the scenario deployed, the deploy in recent_changes); its
// runbook_url is Horus' runbook page of the alert, served, and every query
// of the runbook runs on Horus.
func (r *scenarioRun) alerts(t *testing.T, n int, on time.Time, before []alertView) {
	t.Helper()
	sc, _ := fault.ScenarioByName(strconv.Itoa(n))
	t.Run(sc.Name+"/alerts", func(t *testing.T) {
		for _, want := range sc.Alerts {
			carried := slices.ContainsFunc(before, func(a alertView) bool { return a.is(want) })
			var got alertView
			eventually(t, alertWithin, fmt.Sprintf("%s%v firing", want.Name, want.Labels), func() error {
				as, err := r.h.alerts()
				if err != nil {
					return err
				}
				for _, a := range as {
					if a.is(want) && a.State == "firing" && (carried || !a.ActiveAt.Before(on.Add(-time.Second))) {
						got = a
						return nil
					}
				}
				return fmt.Errorf("alerts %v", as)
			})
			if carried {
				t.Logf("%5.1fs  %s: pending or firing before the switch, still firing", time.Since(on).Seconds(), got)
			} else {
				t.Logf("%5.1fs  %s, active %.1fs after the switch", time.Since(on).Seconds(), got, got.ActiveAt.Sub(on).Seconds())
			}
			r.delivered(t, sc, got, carried)
		}
	})
}

// delivered checks that the alert reached the Alertmanager inside Horus
// with what a notification needs, that its runbook_url serves its runbook,
// and that the runbook's queries run.
func (r *scenarioRun) delivered(t *testing.T, sc fault.Scenario, a alertView, carried bool) {
	t.Helper()
	name := a.Labels["alertname"]
	var am struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		Status      struct {
			State string `json:"state"`
		} `json:"status"`
	}
	eventually(t, 30*time.Second, name+" in the Alertmanager", func() error {
		var list []struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			Status      struct {
				State string `json:"state"`
			} `json:"status"`
		}
		q := url.Values{"filter": {fmt.Sprintf("alertname=%q", name)}}
		if err := getJSON(string(r.h), "/alertmanager/api/v2/alerts", q, &list); err != nil {
			return err
		}
		for _, x := range list {
			if maps.Equal(x.Labels, a.Labels) {
				am = x
				return nil
			}
		}
		return fmt.Errorf("not among %d alerts named so: %v", len(list), list)
	})
	ann := am.Annotations
	if am.Status.State != "active" || !slices.Contains(ruler.Severities, am.Labels["severity"]) ||
		ann["summary"] == "" || ann["description"] == "" || ann["horus_url"] == "" {
		t.Errorf("%s in the Alertmanager: state %q, labels %v, annotations %v", name, am.Status.State, am.Labels, ann)
	}
	if d := sc.Deploy; d != nil && !carried && ruler.ServiceOf(labels.FromMap(a.Labels)) == d.Service {
		if line := "deploy " + d.Service + " " + d.Version; !strings.Contains(ann["recent_changes"], line) {
			t.Errorf("%s: recent_changes %q, want the scenario's %q", name, ann["recent_changes"], line)
		}
	}
	r.fingerprints[sc.Name+"/"+name] = fingerprintOf(ann["horus_url"])
	u, err := url.Parse(ann["runbook_url"])
	if err != nil || u.String() != demoExternalURL+runbooks.Path+name {
		t.Fatalf("%s: runbook_url %q, want %s", name, ann["runbook_url"], demoExternalURL+runbooks.Path+name)
	}
	if r.runbooks[name] {
		return
	}
	r.runbooks[name] = true
	body, err := getText(string(r.h), u.Path)
	if err != nil || !strings.HasPrefix(body, "# "+name+"\n") {
		t.Errorf("GET %s on Horus: %v, %.60q", u.Path, err, body)
	}
	for _, q := range runbooks.Queries(name) {
		if err := r.h.run(q); err != nil {
			t.Errorf("runbook %s: %s %s: %v", name, q.Lang, q.Text, err)
		}
	}
}

// getText GETs base+path and returns the answer's body; a status other
// than 200 is an error.
func getText(base, path string) (string, error) {
	resp, err := http.Get("http://" + base + path)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b), err
}

// run runs a runbook's query on Horus' API of its language over the last
// 15 minutes.
func (h horusAPI) run(q runbooks.Query) error {
	end := time.Now()
	start := end.Add(-15 * time.Minute)
	var out any
	switch q.Lang {
	case "promql":
		return getJSON(string(h), "/api/v1/query", url.Values{"query": {q.Text}}, &out)
	case "logql":
		return getJSON(string(h), "/loki/api/v1/query_range", url.Values{"query": {q.Text},
			"start": {strconv.FormatInt(start.UnixNano(), 10)}, "end": {strconv.FormatInt(end.UnixNano(), 10)}, "limit": {"10"}}, &out)
	case "traceql":
		return getJSON(string(h), "/api/search", url.Values{"q": {q.Text},
			"start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix()+1, 10)}, "limit": {"10"}}, &out)
	}
	return errors.New("unknown language " + q.Lang)
}
