package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/demo/fault"
	"github.com/horus-obs/horus/internal/demo/load"
	"github.com/horus-obs/horus/internal/demo/shop"
)

// Usage is `horus demo`'s help.
const Usage = `usage: horus demo [flags]                     run Horus, the shop and its load (see -h)
       horus demo status                      the shop's processes, the load, the active scenario
       horus demo fault add KEY=VALUE...      switch a fault on (kind=... service=... ...)
       horus demo fault ls                    the faults in force
       horus demo fault rm ID | --all         switch faults off
       horus demo scenario NAME|NUMBER        switch a named scenario on (one at a time)
       horus demo scenario ls                 the scenarios, and what each shows
       horus demo scenario off                switch the active scenario off (and roll its deploy back)
       horus demo deploy SERVICE[/N] VERSION [--fault SPEC]...
                                              restart a service (or its instance N) as VERSION
       horus demo load [RATE]                 the load; RATE sets checkouts/s at peak (0 pauses)
       horus demo checkout [--items N] [--method M] [--tenant T]
                                              place one order now; prints its status and trace id
       horus demo changes                     deploys, scenarios and faults so far
       horus demo service NAME [flags]        run one service (the demo starts these itself)

The commands other than the first talk to a running demo's control API:
--control URL, or $HORUS_DEMO_CONTROL, default http://` + DefaultControlAddr + `.
docs/demo.md tells the rest.
`

// Main runs `horus demo` with args (those after "demo").
func Main(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" && args[0] != "-help" {
		return runDemo(args, stdout, stderr)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "service":
		return runService(rest, stderr)
	case "status", "fault", "scenario", "deploy", "load", "changes", "checkout":
		return runClient(cmd, rest, stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, Usage)
		return nil
	}
	fmt.Fprint(stderr, Usage)
	return fmt.Errorf("demo: unknown command %q", cmd)
}

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, " ") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// runDemo is `horus demo [flags]`.
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: horus demo [flags]\n\nRuns Horus with embedded storage, the demo shop (a process per service instance) and its load.\nHorus' own flags (as for horus serve) apply too.\n\nflags:\n")
		fs.PrintDefaults()
	}
	horusFlags := config.RegisterFlags(fs)
	dir := fs.String("dir", "", "directory for Horus' data, the shop's databases and the services' logs (default <data-dir>/demo)")
	temp := fs.Bool("temp", false, "use a new temporary directory, removed at exit, instead of -dir")
	control := fs.String("control-addr", DefaultControlAddr, "listen address of the control API (horus demo fault|scenario|...)")
	basePort := fs.Int("base-port", 0, "first of consecutive ports for the services, two per instance (0: free ports)")
	rate := fs.Float64("rate", 5, "peak load in checkouts per second (plus 30% order lookups); 0 for no load")
	day := fs.Duration("day", time.Hour, "how long a day of the load's daily shape lasts")
	conc := fs.Int("concurrency", 32, "most load requests in flight at once")
	scenario := fs.String("scenario", "", "switch this scenario on at start (horus demo scenario ls)")
	var faults stringsFlag
	fs.Var(&faults, "fault", "switch this fault on at start, e.g. 'kind=latency service=payments median=300ms' (repeatable)")
	childOut := fs.String("child-output", string(OutputFile), "where the services' own output goes: file (<dir>/logs/), stderr, discard")
	stopTimeout := fs.Duration("stop-timeout", DefaultStopTimeout, "how long a service may take to stop before it is killed")
	version := fs.String("version", DefaultVersion, "the services' initial service.version")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo takes no arguments, got %q (subcommands come first: horus demo fault ...)", fs.Args())
	}
	cfg, err := horusFlags.Resolve()
	if err != nil {
		return err
	}
	if *temp {
		if *dir, err = os.MkdirTemp("", "horus-demo-"); err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(*dir) }()
	}
	if *dir == "" {
		*dir = filepath.Join(cfg.DataDir, "demo")
	}
	if err := os.MkdirAll(filepath.Join(*dir, "logs"), 0o755); err != nil {
		return err
	}
	serverLog, err := os.OpenFile(filepath.Join(*dir, "logs", "horus.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = serverLog.Close() }()
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts := Options{
		Config: cfg, Dir: *dir, ControlAddr: *control, BasePort: *basePort, Version: *version,
		Load:     load.Options{Rate: *rate, DayLength: *day, Concurrency: *conc},
		Scenario: *scenario, Faults: faults, ChildOutput: ChildOutput(*childOut), Stderr: stderr,
		StopTimeout: *stopTimeout, Logger: logger,
		ServerLogger: slog.New(slog.NewJSONHandler(serverLog, &slog.HandlerOptions{Level: level})),
	}
	fmt.Fprintln(stderr, "starting Horus and the demo shop...")
	d, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	printBanner(stdout, d, opts)
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-d.Failed():
		logger.Error("Horus stopped; stopping the demo", "err", runErr)
	}
	stop() // a second Ctrl-C kills at once (the services follow: parent-death signal)
	fmt.Fprintln(stderr, "stopping the demo...")
	sctx, cancel := context.WithTimeout(context.Background(), server30s)
	defer cancel()
	return errors.Join(runErr, d.Stop(sctx))
}

// server30s bounds Horus' own stop (its HTTP servers drain for up to 15s).
const server30s = 30 * time.Second

// printBanner tells where to look.
func printBanner(w io.Writer, d *Demo, opts Options) {
	a := d.Addrs()
	horus := "http://" + hostForURL(a.Horus)
	fmt.Fprintf(w, "\nHorus demo: Horus, the shop (%d processes) and its load are running.\n\n", len(d.Instances()))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  Horus\t%s\tPrometheus, Loki and Tempo APIs (a Grafana data source of each at this URL)\n", horus)
	fmt.Fprintf(tw, "  Shop\thttp://%s\tPOST /api/orders, GET /api/orders/{id}\n", a.Gateway)
	fmt.Fprintf(tw, "  Control API\thttp://%s\thorus demo status | fault | scenario | deploy | load\n", a.Control)
	if opts.ChildOutput == OutputFile {
		fmt.Fprintf(tw, "  Service logs\t%s\t(also in Horus over OTLP)\n", d.LogDir())
	}
	if opts.Load.Rate > 0 {
		fmt.Fprintf(tw, "  Load\t%g checkouts/s at peak\ta day lasts %s\n", opts.Load.Rate, opts.Load.DayLength)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nTry (metrics are scraped every %s; the first appear within seconds):\n", ScrapeInterval)
	if t := d.FirstTrace(); t != "" {
		fmt.Fprintf(w, "  a checkout's trace  curl -s %s/api/traces/%s\n", horus, t)
		fmt.Fprintf(w, "  its logs            curl -sG %s/loki/api/v1/query_range --data-urlencode 'query={service_name=~\".+\"} | trace_id=\"%s\"'\n", horus, t)
	}
	fmt.Fprintf(w, "  PromQL              curl -sG %s/api/v1/query --data-urlencode 'query=sum by (job, route, status) (rate(http_requests_total[1m]))'\n", horus)
	fmt.Fprintf(w, "  LogQL               curl -sG %s/loki/api/v1/query_range --data-urlencode 'query={service_name=\"orders\"} |= \"order created\"'\n", horus)
	fmt.Fprintf(w, "  TraceQL             curl -sG %s/api/search --data-urlencode 'q={resource.service.name=\"payments\" && status=error}'\n", horus)
	fmt.Fprintf(w, "  service graph       curl -s %s/api/v1/service-graph\n", horus)
	fmt.Fprintf(w, "  an incident         horus demo scenario ls; horus demo scenario 1\n")
	fmt.Fprintf(w, "  its alerts          curl -s %s/api/v1/alerts; curl -s %s/alertmanager/api/v2/alerts\n", horus, horus)
	fmt.Fprintf(w, "  SLOs and rules      curl -s %s/api/v1/slos (files: %s; runbooks: %s/runbooks/)\n", horus, filepath.Join(d.Dir(), "rules"), horus)
	fmt.Fprintf(w, "\nStop with Ctrl-C.\n\n")
}

// hostForURL makes a listen address usable in a URL: an unspecified host
// (":3300", "0.0.0.0:3300") becomes localhost.
func hostForURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// runService is `horus demo service NAME [flags]`: one service process.
func runService(args []string, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("demo service: which service? one of %s", strings.Join(shop.Services(), ", "))
	}
	name := args[0]
	fs := flag.NewFlagSet("demo service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	instance := fs.Int("instance", 1, "instance number (service.instance.id is NAME-N)")
	version := fs.String("version", DefaultVersion, "service.version")
	env := fs.String("env", DefaultEnvironment, "deployment.environment.name")
	otlp := fs.String("otlp", "", "OTLP/HTTP base URL to send telemetry to, e.g. http://127.0.0.1:4318 (empty: none)")
	listenFD := fs.Int("listen-fd", -1, "inherited file descriptor of the service's listening socket")
	adminFD := fs.Int("admin-fd", -1, "inherited file descriptor of the management listening socket")
	listen := fs.String("listen", "", "address to listen on instead of -listen-fd, e.g. 127.0.0.1:8080")
	admin := fs.String("admin", "", "management address instead of -admin-fd, e.g. 127.0.0.1:8081")
	dataDir := fs.String("data-dir", ".", "directory of the SQLite databases")
	exitOnEOF := fs.Bool("exit-on-stdin-eof", false, "stop when standard input closes (the parent's pipe: the demo's fallback for a dead parent)")
	var peers stringsFlag
	fs.Var(&peers, "peer", "a service this one calls: NAME=HOST:PORT[,HOST:PORT...], instance N the Nth (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !slices.Contains(shop.Services(), name) {
		return fmt.Errorf("demo service: unknown service %q (one of %s)", name, strings.Join(shop.Services(), ", "))
	}
	cfg := shop.Config{Service: name, Instance: *instance, Version: *version, Environment: *env,
		Endpoint: *otlp, DataDir: *dataDir, Peers: map[string][]string{}, LogWriter: stderr}
	for _, p := range peers {
		svc, addrs, ok := strings.Cut(p, "=")
		if !ok || addrs == "" {
			return fmt.Errorf("--peer %q: NAME=HOST:PORT[,HOST:PORT...]", p)
		}
		cfg.Peers[svc] = strings.Split(addrs, ",")
	}
	var err error
	if cfg.Listener, err = listenerFile("service", *listenFD, *listen); err != nil {
		return err
	}
	if cfg.Admin, err = listenerFile("management", *adminFD, *admin); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *exitOnEOF {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			cancel()
		}()
	}
	return shop.Run(ctx, cfg)
}

// listenerFile is an inherited listening socket (fd >= 0) or one bound to
// addr.
func listenerFile(what string, fd int, addr string) (*os.File, error) {
	switch {
	case fd >= 0 && addr != "":
		return nil, fmt.Errorf("the %s listener: give a file descriptor or an address, not both", what)
	case fd >= 0:
		f := os.NewFile(uintptr(fd), what+"-listener")
		if f == nil {
			return nil, fmt.Errorf("the %s listener: file descriptor %d is not open", what, fd)
		}
		return f, nil
	case addr != "":
		bl, err := bindAt(addr)
		if err != nil {
			return nil, fmt.Errorf("the %s listener: %w", what, err)
		}
		return bl.file, nil
	}
	return nil, fmt.Errorf("the %s listener: give --%s-fd or --%s", what, map[string]string{"service": "listen", "management": "admin"}[what], map[string]string{"service": "listen", "management": "admin"}[what])
}

// runClient runs the commands that talk to a running demo.
func runClient(cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := os.Getenv("HORUS_DEMO_CONTROL")
	if def == "" {
		def = "http://" + DefaultControlAddr
	}
	controlURL := fs.String("control", def, "the demo's control API")
	all := fs.Bool("all", false, "fault rm: remove every fault")
	var faults stringsFlag
	fs.Var(&faults, "fault", "deploy: a fault the new version brings (a spec; repeatable)")
	items := fs.Int("items", 0, "checkout: the order's item count (0: drawn as the load draws it)")
	method := fs.String("method", "", "checkout: the payment method (card, paypal, bank_transfer, gift_card)")
	tenant := fs.String("tenant", "", "checkout: the shopper's tenant (acme, globex, ...)")
	// Flags may come after the positional arguments (fault rm ID --control ...).
	var pos []string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	c := NewClient(*controlURL)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	defer func() { _ = tw.Flush() }()
	switch cmd {
	case "status":
		return printStatus(ctx, c, tw)
	case "changes":
		ch, err := c.Changes(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(tw, "TIME\tKIND\tSERVICE\tINSTANCE\tVERSION\tSCENARIO\tFAULT\tDETAIL")
		for _, e := range ch {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.TimeOnly), e.Kind, e.Service, e.Instance,
				e.Version, e.Scenario, e.FaultID, e.Detail)
		}
		return nil
	case "load":
		var st load.Stats
		var err error
		switch len(pos) {
		case 0:
			st, err = c.Load(ctx)
		case 1:
			r, perr := strconv.ParseFloat(pos[0], 64)
			if perr != nil {
				return fmt.Errorf("load %q: a rate in checkouts per second", pos[0])
			}
			st, err = c.SetRate(ctx, r)
		default:
			return errors.New("usage: horus demo load [RATE]")
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "peak rate\t%g checkouts/s\nnow\t%.2f checkouts/s (day hour %.1f)\nsent\t%d (skipped %d, in flight %d)\nby status\t%v\nlast trace\t%s\n",
			st.Rate, st.Current, st.DayHour, st.Sent, st.Skipped, st.InFlight, st.ByStatus, st.LastTrace)
		return nil
	case "checkout":
		if len(pos) > 0 {
			return errors.New("usage: horus demo checkout [--items N] [--method M] [--tenant T]")
		}
		res, err := c.Checkout(ctx, load.CheckoutOptions{Items: *items, PaymentMethod: *method, Tenant: *tenant})
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "status\t%d %s\norder\t%s (%d items, %s)\nshopper\t%s of %s\ntrace\t%s\ntook\t%.3fs\n",
			res.Status, res.Error, res.OrderID, res.Items, res.Method, res.UserID, res.Tenant, res.TraceID, res.Duration)
		return nil
	case "fault":
		return runFault(ctx, c, tw, pos, *all)
	case "scenario":
		return runScenario(ctx, c, tw, pos)
	case "deploy":
		if len(pos) != 2 {
			return errors.New("usage: horus demo deploy SERVICE[/N] VERSION [--fault SPEC]")
		}
		svc, inst, _ := strings.Cut(pos[0], "/")
		fl, err := parseFaults(faults)
		if err != nil {
			return err
		}
		res, err := c.Deploy(ctx, DeployRequest{Service: svc, Instance: inst, Version: pos[1], Faults: fl})
		if err != nil {
			return err
		}
		for _, in := range res.Instances {
			fmt.Fprintf(tw, "%s\t%s → %s\tpid %d\n", in.InstanceID, res.Previous[in.InstanceID], in.Version, in.PID)
		}
		for _, f := range res.Faults {
			fmt.Fprintf(tw, "fault %s\t%s\n", f.Fault.ID, f.Spec)
		}
		return nil
	}
	return fmt.Errorf("demo: unknown command %q", cmd)
}

func printStatus(ctx context.Context, c *Client, tw *tabwriter.Writer) error {
	sum, err := c.Summary(ctx)
	if err != nil {
		return err
	}
	svcs, err := c.Services(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "Horus\t%s\nshop\t%s\ndir\t%s\n", sum.Horus, sum.Gateway, sum.Dir)
	sc := sum.Scenario
	if sc == "" {
		sc = "(none)"
	}
	fmt.Fprintf(tw, "scenario\t%s\n\n", sc)
	fmt.Fprintln(tw, "INSTANCE\tVERSION\tPID\tRUNNING\tRESTARTS\tADDR\tMANAGEMENT")
	for _, s := range svcs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%d\t%s\t%s\n", s.InstanceID, s.Version, s.PID, s.Running, s.Restarts, s.Addr, s.AdminAddr)
	}
	return nil
}

func runFault(ctx context.Context, c *Client, tw *tabwriter.Writer, args []string, all bool) error {
	if len(args) == 0 {
		return errors.New("usage: horus demo fault add KEY=VALUE... | ls | rm ID | rm --all")
	}
	switch args[0] {
	case "add":
		f, err := fault.ParseArgs(args[1:])
		if err != nil {
			return err
		}
		st, err := c.AddFault(ctx, f.String())
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", st.Fault.ID, strings.Join(st.Instances, ","), st.Spec)
		return nil
	case "ls", "list":
		fs, err := c.Faults(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(tw, "ID\tINSTANCES\tEXPIRES\tSPEC")
		for _, f := range fs {
			exp := "-"
			if !f.Fault.Expires.IsZero() {
				exp = f.Fault.Expires.Local().Format(time.TimeOnly)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Fault.ID, strings.Join(f.Instances, ","), exp, f.Spec)
		}
		return nil
	case "rm", "remove":
		switch {
		case all && len(args) == 1:
			return c.ClearFaults(ctx)
		case !all && len(args) == 2:
			return c.RemoveFault(ctx, args[1])
		}
		return errors.New("usage: horus demo fault rm ID | rm --all")
	}
	return fmt.Errorf("demo fault: unknown command %q (add, ls, rm)", args[0])
}

func runScenario(ctx context.Context, c *Client, tw *tabwriter.Writer, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: horus demo scenario NAME|NUMBER | ls | off")
	}
	switch args[0] {
	case "ls", "list":
		scs, err := c.Scenarios(ctx)
		if err != nil {
			return err
		}
		for _, s := range scs {
			mark := " "
			if s.Active {
				mark = "*"
			}
			fmt.Fprintf(tw, "%s %d\t%s\t%s\n", mark, s.Number, s.Name, s.Title)
		}
		return nil
	case "off":
		return c.StopScenario(ctx)
	}
	s, err := c.StartScenario(ctx, args[0])
	if err != nil {
		return err
	}
	printScenario(tw, s)
	return nil
}

// printScenario prints a scenario switched on: what happens, what to
// look for, its signals and the alerts it fires.
func printScenario(tw *tabwriter.Writer, s ScenarioStatus) {
	fmt.Fprintf(tw, "scenario %d, %s: %s\n\n%s\n\nWhat to look for: %s\n", s.Number, s.Name, s.Title, s.Description, s.Expect)
	for _, sig := range s.Signals {
		fmt.Fprintf(tw, "\n  %s\t%s\n  \t→ %s\n", sig.Lang, sig.Query, sig.Shows)
	}
	if len(s.Alerts) == 0 {
		return
	}
	fmt.Fprintf(tw, "\nAlerts it fires within minutes (GET /api/v1/alerts; runbooks at /runbooks/<alert>):\n")
	for _, a := range s.Alerts {
		var ls []string
		for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
			ls = append(ls, k+"="+strconv.Quote(a.Labels[k]))
		}
		fmt.Fprintf(tw, "  %s\t{%s}\n", a.Name, strings.Join(ls, ", "))
	}
}
