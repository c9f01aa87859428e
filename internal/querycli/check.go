package querycli

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/horus-obs/horus/internal/alertmanager"
	"github.com/horus-obs/horus/internal/api/prom"
	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/ruler"
	"github.com/horus-obs/horus/internal/slo"
)

const checkUsage = `usage: horus check config FILE...

Validates Horus configuration files without starting Horus, as promtool
check config does: unknown keys (named by YAML path, with the nearest
known key), values out of range, the Prometheus sections (global,
scrape_configs, alerting), and the files the configuration names: every
rule file of rule_files, logql_rule_files and traceql_rule_files parses
(in its language), the SLO files of slo_files load and generate their
rules, and alertmanager.config_file loads. A pattern that matches no file
is a warning. 'horus rules check' lints rule files further.

Exit status: 0 valid, 1 a file is not, 2 usage.
`

func runCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "config" {
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, checkUsage)
			return ExitOK
		}
		fmt.Fprint(stderr, checkUsage)
		return ExitUsage
	}
	fs := newFlagSet("check config")
	files, err := parseArgs(fs, args[1:])
	if err == nil && len(files) == 0 {
		err = usagef("which file? give a configuration file")
	}
	if err != nil {
		return exitFor("horus check config", err, stdout, stderr, fs, checkUsage)
	}
	status := ExitOK
	for i, f := range files {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if !checkConfig(f, stdout) {
			status = ExitError
		}
	}
	return status
}

// checkConfig checks one configuration file and what it names, printing
// a line per finding; it says whether all is valid.
func checkConfig(file string, w io.Writer) bool {
	fmt.Fprintf(w, "Checking %s\n", file)
	cfg, err := config.Load(file)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		for _, line := range errorLines(err, "config "+file+": ") {
			fmt.Fprintf(w, "  FAILED: %s\n", line)
		}
		return false
	}
	fmt.Fprintf(w, "  SUCCESS: %s is a valid Horus configuration\n", file)
	ok := checkRuleFiles(cfg, w)
	ok = checkSLOFiles(cfg, w) && ok
	if f := cfg.Alertmanager.ConfigFile; cfg.Alertmanager.Enabled && f != "" {
		if _, err := alertmanager.LoadConfig(f); err != nil {
			fmt.Fprintf(w, "  FAILED: alertmanager.config_file: %v\n", err)
			ok = false
		} else {
			fmt.Fprintf(w, "  SUCCESS: alertmanager.config_file %s\n", f)
		}
	}
	return ok
}

// errorLines are the lines of err's message, each problem on its own
// and without prefix.
func errorLines(err error, prefix string) []string {
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(l, prefix)); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// checkRuleFiles parses every rule file the configuration names, in its
// setting's language, and warns of a pattern that matches nothing.
func checkRuleFiles(cfg *config.Config, w io.Writer) bool {
	for _, set := range []struct {
		key      string
		patterns []string
	}{{"rule_files", cfg.RuleFiles}, {"logql_rule_files", cfg.LogQLRuleFiles}, {"traceql_rule_files", cfg.TraceQLRuleFiles}} {
		for _, p := range set.patterns {
			if m, err := filepath.Glob(p); err == nil && len(m) == 0 {
				fmt.Fprintf(w, "  WARNING: %s: %q matches no file\n", set.key, p)
			}
		}
	}
	names, langs, err := ruler.RuleFiles(cfg)
	if err != nil {
		fmt.Fprintf(w, "  FAILED: %v\n", err)
		return false
	}
	ok := true
	ps := ruler.Parsers{PromQL: prom.NewParser(prom.Limits{})}
	for _, name := range names {
		f, errs := ruler.ParseFile(name, langs[name], ps, nil)
		if len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintf(w, "  FAILED: %v\n", e)
			}
			ok = false
			continue
		}
		rules := 0
		var inLangs []string
		for l, g := range f.Groups {
			inLangs = append(inLangs, string(l))
			for _, rg := range g.Groups {
				rules += len(rg.Rules)
			}
		}
		sort.Strings(inLangs)
		fmt.Fprintf(w, "  SUCCESS: %s: %s (%s)\n", name, plural(rules, "rule"), strings.Join(inLangs, ", "))
	}
	return ok
}

// checkSLOFiles loads the SLO files and generates their rules, as a
// start would.
func checkSLOFiles(cfg *config.Config, w io.Writer) bool {
	if len(cfg.SLOFiles) == 0 {
		return true
	}
	for _, p := range cfg.SLOFiles {
		if m, err := filepath.Glob(p); err == nil && len(m) == 0 && strings.ContainsAny(p, `*?[`) {
			fmt.Fprintf(w, "  WARNING: slo_files: %q matches no file\n", p)
		}
	}
	set := slo.NewSet()
	groups, err := set.RuleGroups(cfg)
	if err != nil {
		for _, line := range errorLines(err, "") {
			fmt.Fprintf(w, "  FAILED: %s\n", line)
		}
		return false
	}
	rules := 0
	for _, g := range groups {
		for _, rg := range g.Groups {
			rules += len(rg.Rules)
		}
	}
	fmt.Fprintf(w, "  SUCCESS: slo_files: %s in %s, %s generated\n", plural(len(set.SLOs()), "SLO"), plural(len(groups), "file"), plural(rules, "rule"))
	return true
}
