// Command horus is the Horus observability server: metrics, logs and traces
// in one binary with embedded storage.
//
//	horus serve [flags]                 run the server
//	horus demo [flags]                  run the server, the demo shop, its load and faults
//	horus lint metrics URL|FILE|-       lint a Prometheus exposition
//	horus change add|ls [flags]         record or list change events
//	horus rules check|test FILE...      lint or unit-test rule files
//	horus slo generate FILE...          print the rules of SLO files
//	horus query [promql|logql|traceql] EXPR   query a running Horus
//	horus trace ID                      print a trace as a tree
//	horus check config FILE...          validate a configuration
//	horus version                       print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/horus-obs/horus/internal/buildinfo"
	"github.com/horus-obs/horus/internal/changes"
	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/demo"
	"github.com/horus-obs/horus/internal/lintmetrics"
	"github.com/horus-obs/horus/internal/querycli"
	"github.com/horus-obs/horus/internal/ruler"
	"github.com/horus-obs/horus/internal/server"
	"github.com/horus-obs/horus/internal/slo"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "horus:", err)
		}
		os.Exit(2)
	}
}

const usage = `usage: horus <command> [flags]

commands:
  serve     run the Horus server (see 'horus serve -h')
  demo      run Horus with a demo shop, its load and faults (see 'horus demo help')
  lint      lint metrics: 'horus lint metrics URL|FILE|-' (see 'horus lint metrics -h')
  change    record or list change events: 'horus change add|ls' (see 'horus change help')
  rules     check or unit-test rule files: 'horus rules check|test FILE...' (see 'horus rules help')
  slo       print the rules of SLO files: 'horus slo generate FILE...' (docs/slo.md)
  query     query a running Horus in PromQL, LogQL or TraceQL: 'horus query [LANG] EXPR' (docs/query-cli.md)
  trace     print a trace as a tree of spans: 'horus trace ID' (docs/query-cli.md)
  check     validate a configuration without starting: 'horus check config FILE...'
  version   print the version
`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "demo":
		return demo.Main(args[1:], stdout, stderr)
	case "lint":
		return lint(args[1:], stdout, stderr)
	case "change":
		return changes.Main(context.Background(), args[1:], stdout, stderr)
	case "rules":
		if code := ruler.Main(args[1:], stdout, stderr); code != ruler.ExitClean {
			return exitCode(code)
		}
		return nil
	case "slo":
		return slo.Main(args[1:], stdout, stderr)
	case "query", "trace", "check":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if code := querycli.Main(ctx, args[0], args[1:], stdout, stderr); code != querycli.ExitOK {
			return exitCode(code)
		}
		return nil
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, buildinfo.Get())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// exitCode is an error that is only an exit status: the command reported
// what it had to say, and main exits with the status and prints nothing.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// lint runs 'horus lint metrics'; its exit status (0 clean, 1 problems,
// 2 errors) becomes the process's.
func lint(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "metrics" {
		return errors.New("lint: what to lint? usage: horus lint metrics [flags] URL|FILE|-")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if code := lintmetrics.Main(ctx, args[1:], os.Stdin, stdout, stderr); code != lintmetrics.ExitClean {
		return exitCode(code)
	}
	return nil
}

// defaultGOGC is the garbage collector's target when GOGC is not set: 75,
// as Prometheus 3 chose, trading a little CPU for a smaller heap.
const defaultGOGC = 75

func serve(args []string, stderr io.Writer) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	cfg, err := flags.Resolve()
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(cfg, logger)
	if err != nil {
		return err
	}
	// SIGHUP reloads the configuration file and the rule files, as it
	// does Prometheus' (Reload logs what failed).
	srv.SetReloader(flags.Resolve)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			_ = srv.Reload()
		}
	}()
	return srv.Run(ctx)
}

func newLogger(c config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
