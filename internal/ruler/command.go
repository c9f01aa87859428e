package ruler

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/horus-obs/horus/internal/api/prom"
	"github.com/horus-obs/horus/internal/config"
)

// The exit statuses of `horus rules check` and `horus rules test`, as
// `horus lint metrics`: 0 clean (warnings may be printed), 1 findings
// that fail (a lint error, a failed test; with -warnings-fatal a
// warning too), 2 usage errors and files that do not load (YAML, PromQL,
// LogQL or TraceQL errors, a missing file). promtool check rules answers 1
// for both load errors and failed lint (3 with --lint-fatal).
const (
	ExitClean    = 0
	ExitProblems = 1
	ExitError    = 2
)

// Usage is the help text of `horus rules`.
const Usage = `usage: horus rules check [flags] FILE...
       horus rules check -config horus.yml [FILE...]
       horus rules test FILE...

check  parses Prometheus rule files (errors as file:line) and lints their
       alerting rules: a severity label (critical, warning or info) and a
       runbook_url annotation are required; an alert without for: and a
       cause alert (a host's CPU, memory or disk) with no symptom alert in
       its group are warned of. Each finding says the rule and the fix.
       Groups are PromQL unless -logql or -traceql is given or the group's
       horus_query_language label says otherwise. With -config, the rule
       files of a Horus configuration are checked too, each in the language
       of the setting that names it.
test   runs unit tests in promtool's format (rule_files, evaluation_interval,
       tests with input_series, alert_rule_test, promql_expr_test) on
       Horus' PromQL engine and metrics store.

Exit status: 0 clean, 1 lint errors or failed tests (warnings too with
-warnings-fatal), 2 usage errors or files that do not load.

flags of check:
`

// Main runs `horus rules` with args (check or test, flags, files) and
// returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, Usage)
		return ExitError
	}
	switch args[0] {
	case "check":
		return check(args[1:], stdout, stderr)
	case "test":
		return test(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, Usage)
		return ExitClean
	}
	fmt.Fprint(stderr, Usage)
	fmt.Fprintf(stderr, "horus rules: unknown command %q\n", args[0])
	return ExitError
}

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, Usage)
		fs.PrintDefaults()
	}
	logqlFiles := fs.Bool("logql", false, "the files are LogQL rule files (as logql_rule_files)")
	traceqlFiles := fs.Bool("traceql", false, "the files are TraceQL rule files (as traceql_rule_files)")
	warningsFatal := fs.Bool("warnings-fatal", false, "exit 1 on warnings too")
	configFile := fs.String("config", "", "a Horus configuration whose rule_files, logql_rule_files and traceql_rule_files are checked too")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitClean
		}
		return ExitError
	}
	if fs.NArg() == 0 && *configFile == "" {
		fs.Usage()
		fmt.Fprintf(stderr, "horus rules check: %v\n", errNoFiles)
		return ExitError
	}
	def := PromQL
	switch {
	case *logqlFiles && *traceqlFiles:
		fmt.Fprintln(stderr, "horus rules check: -logql or -traceql, not both")
		return ExitError
	case *logqlFiles:
		def = LogQL
	case *traceqlFiles:
		def = TraceQL
	}
	names := fs.Args()
	langs := map[string]Lang{}
	for _, n := range names {
		langs[n] = def
	}
	if *configFile != "" {
		cfg, err := config.Load(*configFile)
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			fmt.Fprintf(stderr, "horus rules check: %v\n", err)
			return ExitError
		}
		files, fileLangs, err := RuleFiles(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "horus rules check: %v\n", err)
			return ExitError
		}
		for _, f := range files {
			if _, ok := langs[f]; !ok {
				names = append(names, f)
				langs[f] = fileLangs[f]
			}
		}
	}
	p := prom.NewParser(prom.Limits{})
	status := ExitClean
	for _, name := range names {
		f, errs := ParseFile(name, langs[name], Parsers{PromQL: p}, nil)
		if len(errs) > 0 {
			fmt.Fprintf(stdout, "%s: FAILED: does not load:\n", name)
			for _, e := range errs {
				fmt.Fprintf(stdout, "  %v\n", e)
			}
			status = ExitError
			continue
		}
		findings := Lint(f, p)
		errCount, warnCount, rules := 0, 0, 0
		for _, g := range f.Groups {
			for _, rg := range g.Groups {
				rules += len(rg.Rules)
			}
		}
		for _, fd := range findings {
			fmt.Fprintln(stdout, fd)
			if fd.Fatal {
				errCount++
			} else {
				warnCount++
			}
		}
		switch {
		case errCount > 0:
			fmt.Fprintf(stdout, "%s: FAILED: %d rules, %d errors, %d warnings\n", name, rules, errCount, warnCount)
		default:
			fmt.Fprintf(stdout, "%s: SUCCESS: %d rules, %d warnings\n", name, rules, warnCount)
		}
		if (errCount > 0 || *warningsFatal && warnCount > 0) && status == ExitClean {
			status = ExitProblems
		}
	}
	return status
}

func test(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, Usage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitClean
		}
		return ExitError
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, Usage)
		fmt.Fprintf(stderr, "horus rules test: %v\n", errNoFiles)
		return ExitError
	}
	status := ExitClean
	for _, r := range RunUnitTests(fs.Args(), prom.NewParser(prom.Limits{})) {
		fmt.Fprintf(stdout, "Unit testing: %s\n", r.File)
		if len(r.Errs) == 0 {
			fmt.Fprintln(stdout, "  SUCCESS")
			continue
		}
		fmt.Fprintln(stdout, "  FAILED:")
		for _, e := range r.Errs {
			fmt.Fprintf(stdout, "    %v\n", e)
		}
		status = ExitProblems
	}
	return status
}
