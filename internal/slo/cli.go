package slo

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

const cliUsage = `usage: horus slo generate FILE...

Reads SLO files (Sloth prometheus/v1, OpenSLO v1 or Horus' horus/v1; see
docs/slo.md) and prints the Prometheus rule file of their recording and
alerting rules on standard output: what 'horus serve' loads from the
config's slo_files. A FILE may be a glob ("slos/*.yml").
`

// Main runs 'horus slo ARGS…', printing to stdout and stderr.
func Main(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, cliUsage)
		if len(args) == 0 {
			return errors.New("slo: no command given; usage: horus slo generate FILE")
		}
		return nil
	}
	if args[0] != "generate" {
		fmt.Fprint(stderr, cliUsage)
		return fmt.Errorf("slo: unknown command %q", args[0])
	}
	fs := flag.NewFlagSet("slo generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, cliUsage) }
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("slo generate: no SLO file given")
	}
	slos, err := Load(fs.Args())
	if err != nil {
		return err
	}
	if len(slos) == 0 {
		return fmt.Errorf("slo generate: no SLO in %q", fs.Args())
	}
	return WriteRuleFile(stdout, slos)
}
