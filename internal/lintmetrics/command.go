package lintmetrics

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// The exit statuses of Main. Clean is 0 and problems are 1, as grep, diff
// and golangci-lint answer, so a CI step fails on findings by default;
// usage, fetch and parse errors are 2, the status every horus command
// exits with on an error. promtool check metrics answers 3 for lint
// problems and 1 for errors: a script that ran promtool must change its
// test from "= 3" to "= 1".
const (
	ExitClean    = 0
	ExitProblems = 1
	ExitError    = 2
)

// Usage is the help text of `horus lint metrics`.
const Usage = `usage: horus lint metrics [flags] URL|FILE|-

Reads a Prometheus exposition — scraped from an http:// or https:// URL, read
from a file, or from stdin with "-" — and reports the naming, unit, type and
cardinality problems of its metrics, each with the rule broken and the fix:
promlint's checks (promtool check metrics), the Horus SDK's hygiene rules, and
cardinality (series per metric, labels whose values look like ids).

Exit status: 0 no problems, 1 problems found, 2 usage, fetch or parse error.

flags:
`

// Main runs `horus lint metrics` with args (the flags and the one target
// after "metrics"), reading "-" from stdin, writing the report to stdout and
// errors to stderr, and returns the exit status (ExitClean, ExitProblems,
// ExitError).
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lint metrics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, Usage)
		fs.PrintDefaults()
	}
	format := fs.String("format", "text", "report format: text or json")
	maxSeries := fs.Int("max-series", DefaultMaxSeries, "series a metric may have before the cardinality rule reports it")
	disable := fs.String("disable", "", "comma-separated rule ids not to report (e.g. help,missing-unit)")
	exposition := fs.String("exposition", "auto", "exposition format: auto, text, openmetrics, protobuf (for a URL, what is asked for; for a file, how it is read, auto telling OpenMetrics by its # EOF)")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit of a scrape")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitClean
		}
		return ExitError
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "horus lint metrics: "+format+"\n", a...)
		return ExitError
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fail("one URL, file or - is needed, got %d arguments", fs.NArg())
	}
	if *format != "text" && *format != "json" {
		return fail("-format is text or json, not %q", *format)
	}
	switch *exposition {
	case "auto", string(FormatText), string(FormatOpenMetrics), string(FormatProtobuf):
	default:
		return fail("-exposition is auto, text, openmetrics or protobuf, not %q", *exposition)
	}
	target := fs.Arg(0)

	var (
		body []byte
		got  Format
		err  error
	)
	switch {
	case strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://"):
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		body, got, err = Fetch(ctx, &http.Client{}, target, *exposition)
	case target == "-":
		body, err = readAll(stdin)
	default:
		var f *os.File
		if f, err = os.Open(target); err == nil {
			body, err = readAll(f)
			_ = f.Close() // read only: nothing to lose
		}
	}
	if err != nil {
		return fail("%v", err)
	}
	if got == "" {
		got = Format(*exposition)
		if got == "auto" {
			got = Sniff(body)
		}
	}
	mfs, err := Parse(body, got)
	if err != nil {
		return fail("reading %s as %s: %v", target, got, err)
	}
	var rules []string
	for r := range strings.SplitSeq(*disable, ",") {
		if r = strings.TrimSpace(r); r != "" {
			rules = append(rules, r)
		}
	}
	rep := Report{Target: target, Exposition: got, Families: len(mfs), Findings: Lint(mfs, Options{MaxSeries: *maxSeries, Disable: rules})}
	for _, mf := range mfs {
		rep.Series += len(mf.GetMetric())
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail("%v", err)
		}
	} else {
		rep.WriteText(stdout)
	}
	if len(rep.Findings) > 0 {
		return ExitProblems
	}
	return ExitClean
}

// Report is what `horus lint metrics` prints: the target read, the format it
// was in, its metric families and series (label sets), and the findings
// (never null in JSON).
type Report struct {
	Target     string    `json:"target"`
	Exposition Format    `json:"exposition"`
	Families   int       `json:"families"`
	Series     int       `json:"series"`
	Findings   []Finding `json:"findings"`
}

// WriteText writes the report for a reader: a finding a block, then a
// summary line.
func (r Report) WriteText(w io.Writer) {
	metrics := map[string]bool{}
	for _, f := range r.Findings {
		metrics[f.Metric] = true
		where := f.Metric
		if f.Label != "" {
			where += "{" + f.Label + "}"
		}
		fmt.Fprintf(w, "%s: %s: %s\n", where, f.Rule, f.Problem)
		fmt.Fprintf(w, "    fix: %s\n", f.Fix)
		if len(f.Examples) > 0 {
			fmt.Fprintf(w, "    examples: %s\n", strings.Join(quoteAll(f.Examples), ", "))
		}
		fmt.Fprintf(w, "    found by: %s; rule from: %s\n", strings.Join(f.FoundBy, ", "), f.Source)
	}
	if len(r.Findings) == 0 {
		fmt.Fprintf(w, "%s (%s): %d metric families, %d series, no problems\n", r.Target, r.Exposition, r.Families, r.Series)
		return
	}
	fmt.Fprintf(w, "%s (%s): %d problems in %d of %d metric families (%d series)\n", r.Target, r.Exposition, len(r.Findings), len(metrics), r.Families, r.Series)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
