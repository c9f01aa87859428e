package ruler

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"

	"github.com/horus-obs/horus/internal/config"
)

// TestChangesText: the newest MaxChanges changes, oldest first, with the
// count of those left out.
func TestChangesText(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	var cs []Change
	for i := range 7 {
		cs = append(cs, Change{Time: t0.Add(time.Duration(6-i) * time.Minute), Kind: "deploy", Service: "checkout", Version: "1." + string(rune('0'+6-i))})
	}
	cs[0].Author, cs[0].Description = "alice", "new payment client"
	got := strings.Split(changesText(cs), "\n")
	want := []string{
		"(2 earlier changes)",
		"2026-11-30T03:02:00Z deploy checkout 1.2",
		"2026-11-30T03:03:00Z deploy checkout 1.3",
		"2026-11-30T03:04:00Z deploy checkout 1.4",
		"2026-11-30T03:05:00Z deploy checkout 1.5",
		"2026-11-30T03:06:00Z deploy checkout 1.6 by alice: new payment client",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changesText:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if changesText(nil) != "" {
		t.Error("no changes: want no annotation")
	}
}

// TestFingerprint: Alertmanager's fingerprint of the labels with the
// external labels they lack (theirs win).
func TestFingerprint(t *testing.T) {
	ls := labels.FromStrings("alertname", "A", "region", "eu-2", "service", "x")
	ext := labels.FromStrings("region", "eu-1", "cluster", "c1")
	want := model.LabelSet{"alertname": "A", "region": "eu-2", "service": "x", "cluster": "c1"}.Fingerprint().String()
	if got := Fingerprint(ls, ext); got != want || len(got) != 16 {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
}

func TestServiceAndSummary(t *testing.T) {
	a := &rules.Alert{Labels: labels.FromStrings("alertname", "HighErrors", "job", "shop/api", "service_name", "api", "severity", "critical"), Value: 0.25}
	if got := ServiceOf(a.Labels); got != "api" {
		t.Errorf("ServiceOf = %q, want service_name's", got)
	}
	if got := defaultSummary(a); got != "HighErrors (job=shop/api, service_name=api): value 0.25" {
		t.Errorf("defaultSummary = %q", got)
	}
	// A series agrees with an alert unless a label both have differs.
	alert := labels.FromStrings("alertname", "A", "service", "x", "severity", "page")
	for ls, want := range map[string]bool{
		`{__name__="m", service="x", code="500"}`: true,
		`{__name__="m", service="y"}`:             false,
		`{__name__="m"}`:                          true,
	} {
		series, err := parserForTest().ParseMetric(ls)
		if err != nil {
			t.Fatal(err)
		}
		if got := agrees(series, alert); got != want {
			t.Errorf("agrees(%s) = %v, want %v", ls, got, want)
		}
	}
}

func TestExternalURL(t *testing.T) {
	host, _ := os.Hostname()
	for _, c := range []struct{ external, addr, want string }{
		{"https://horus.example.com/", "localhost:3300", "https://horus.example.com"},
		{"", "localhost:3300", "http://localhost:3300"},
		{"", "0.0.0.0:3300", "http://" + net.JoinHostPort(host, "3300")},
		{"", ":3300", "http://" + net.JoinHostPort(host, "3300")},
	} {
		cfg := config.Default()
		cfg.ExternalURL, cfg.HTTPAddr = c.external, c.addr
		if got := ExternalURL(cfg); got != c.want {
			t.Errorf("ExternalURL(%q, %q) = %q, want %q", c.external, c.addr, got, c.want)
		}
	}
}
