package e2e

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// TestSIGHUPReloadsRules: horus serve reloads its config file and rule
// files on SIGHUP, as Prometheus does: a new rule appears; a broken file
// keeps the rules before (and says so on its log).
func TestSIGHUPReloadsRules(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	rule := func(name string) string {
		return `
groups:
  - name: g
    rules:
      - alert: ` + name + `
        expr: vector(1)
        for: 1m
        labels: {severity: info}
        annotations: {runbook_url: "https://runbooks.example.com/x"}
`
	}
	writeFile(t, rules, rule("BeforeReload"))
	cfg := filepath.Join(dir, "horus.yml")
	writeFile(t, cfg, "rule_files: [rules.yml]\n")
	h := startHorus(t, filepath.Join(dir, "data"), "--config", cfg)
	defer h.stop(t)

	names := func() string {
		res, err := h.api.Rules(ctxT(t, 10*time.Second), nil)
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, g := range res.Groups {
			for _, r := range g.Rules {
				if a, ok := r.(promv1.AlertingRule); ok {
					ns = append(ns, a.Name)
				}
			}
		}
		return strings.Join(ns, ",")
	}
	waitRules := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for names() != want {
			if time.Now().After(deadline) {
				t.Fatalf("rules = %q, want %q", names(), want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitRules("BeforeReload")

	writeFile(t, rules, rule("AfterReload"))
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitRules("AfterReload")

	writeFile(t, rules, "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: sum(\n")
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(h.out.String(), "rules.yml: 5:15") {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say why the reload failed:\n%s", tail(h.out.String(), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := names(); got != "AfterReload" {
		t.Errorf("after a failed reload, rules = %q; want the ones before", got)
	}
}
