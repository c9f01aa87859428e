// Package querycli is the command line of Horus' three query languages
// against a running Horus: `horus query` (PromQL, LogQL, TraceQL, the
// language detected from the expression when not given, with live tail
// for logs), `horus trace ID` (a trace as a tree, a waterfall in the
// terminal) and `horus check config FILE` (a configuration and the files
// it names, validated without starting). docs/query-cli.md describes them.
package querycli

import (
	"context"
	"fmt"
	"io"
)

// The exit statuses: 0 success, 1 a query the API refused or a
// configuration that does not validate, 2 a usage error.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// Main runs the command cmd ("query", "trace" or "check") with args (the
// arguments after it) and returns the exit status. ctx ends a live tail
// and any request.
func Main(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	switch cmd {
	case "query":
		return runQuery(ctx, args, stdout, stderr)
	case "trace":
		return runTrace(ctx, args, stdout, stderr)
	case "check":
		return runCheck(args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "horus: unknown command %q\n", cmd)
	return ExitUsage
}
