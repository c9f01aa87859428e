package demo

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"

	"github.com/horus-obs/horus/internal/config"
)

// shipped holds the SLO and rule files of the demo shop (rules/): the
// SLOs of the checkout journey, payments and orders, and the alerts an
// SLO does not fit (docs/demo.md, "Alerts").
//
//go:embed rules
var shipped embed.FS

// The directories of Rules, one per configuration setting that loads them.
const (
	RulesSLO     = "slo"     // slo_files: Horus' horus/v1 and Sloth's prometheus/v1
	RulesPromQL  = "promql"  // rule_files
	RulesLogQL   = "logql"   // logql_rule_files
	RulesTraceQL = "traceql" // traceql_rule_files
)

// DefaultEvaluationInterval is the rules' evaluation interval in the demo
// when the configuration sets no global.evaluation_interval (Prometheus'
// default, 1m, would add up to two minutes before an alert of the demo's
// SLOs fires: one for the recording rules, one for the alert).
const DefaultEvaluationInterval = 15 * time.Second

// Rules returns the SLO and rule files the demo ships, in the directories
// RulesSLO, RulesPromQL, RulesLogQL and RulesTraceQL (each file *.yml).
func Rules() fs.FS {
	sub, err := fs.Sub(shipped, "rules")
	if err != nil {
		panic(err) // the embedded directory exists: go:embed fails the build otherwise
	}
	return sub
}

// addRules writes the shipped rule files to <dir>/rules (replacing
// whatever an earlier run left there, so they are the binary's) and adds
// each directory's files to its setting in cfg, after the configuration's
// own; without a global.evaluation_interval in the configuration, rules
// are evaluated every DefaultEvaluationInterval.
func (d *Demo) addRules(cfg *config.Config) error {
	dir := filepath.Join(d.dir, "rules")
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("demo rules: %w", err)
	}
	if err := os.CopyFS(dir, Rules()); err != nil {
		return fmt.Errorf("demo rules: %w", err)
	}
	glob := func(sub string) []string { return []string{filepath.Join(dir, sub, "*.yml")} }
	// New slices: the caller's Config keeps its own.
	cfg.SLOFiles = slices.Concat(cfg.SLOFiles, glob(RulesSLO))
	cfg.RuleFiles = slices.Concat(cfg.RuleFiles, glob(RulesPromQL))
	cfg.LogQLRuleFiles = slices.Concat(cfg.LogQLRuleFiles, glob(RulesLogQL))
	cfg.TraceQLRuleFiles = slices.Concat(cfg.TraceQLRuleFiles, glob(RulesTraceQL))
	set := slices.ContainsFunc(cfg.Global, func(it yaml.MapItem) bool { return it.Key == "evaluation_interval" })
	if pc := cfg.PrometheusConfig(); pc != nil && !set {
		pc.GlobalConfig.EvaluationInterval = model.Duration(DefaultEvaluationInterval)
	}
	return nil
}
