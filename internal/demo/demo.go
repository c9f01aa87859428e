package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"go.yaml.in/yaml/v2"

	"github.com/horus-obs/horus/internal/changes"
	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/demo/fault"
	"github.com/horus-obs/horus/internal/demo/load"
	"github.com/horus-obs/horus/internal/demo/shop"
	"github.com/horus-obs/horus/internal/server"
)

// ChildOutput is where the service processes' stdout and stderr (their
// JSON log lines) go. Their logs reach Horus over OTLP either way.
type ChildOutput string

// The places child output can go.
const (
	// OutputFile appends each instance's output to <demo dir>/logs/<instance id>.log.
	OutputFile ChildOutput = "file"
	// OutputStderr writes it to Options.Stderr, each line prefixed with
	// "<instance id> | ".
	OutputStderr ChildOutput = "stderr"
	// OutputDiscard drops it.
	OutputDiscard ChildOutput = "discard"
)

// Defaults of Options.
const (
	DefaultControlAddr = "127.0.0.1:3390"
	DefaultVersion     = fault.BaseVersion
	DefaultEnvironment = "demo"
	DefaultStopTimeout = 10 * time.Second
	// ScrapeInterval is how often Horus scrapes each service's /metrics.
	ScrapeInterval = 5 * time.Second
)

// Options configure a demo. The zero value of each field is the default
// named on it.
type Options struct {
	// Config is Horus' configuration: listen addresses, limits, its own
	// scrape jobs (nil: config.Default()). It must have been validated
	// (config.Flags.Resolve or Config.Validate). Start adds a scrape job
	// per instrumented service to its Prometheus configuration and the
	// demo's SLO and rule files (Rules, written to <Dir>/rules) to its
	// settings, and sets its evaluation interval when it has none
	// (DefaultEvaluationInterval), so a Config serves one Start; Horus'
	// data goes under Dir whatever its DataDir says.
	Config *config.Config
	// Dir holds everything the demo writes: Horus' data (horus/), the
	// shop's SQLite databases (shop/), the services' logs (logs/) and the
	// demo's SLO and rule files (rules/, written at each start).
	// "" is <Config.DataDir>/demo.
	Dir string
	// ControlAddr is the control API's listen address (DefaultControlAddr;
	// "127.0.0.1:0" picks a free port).
	ControlAddr string
	// BasePort, when not 0, is the first of the consecutive ports the
	// services listen on, two per instance (service, then management), in
	// Topology order; 0 picks free ports.
	BasePort int
	// Version is every service's initial service.version (DefaultVersion).
	Version string
	// Environment is deployment.environment.name (DefaultEnvironment).
	Environment string
	// Load configures the traffic; Load.Rate 0 sends none (SetRate
	// through the control API starts it).
	Load load.Options
	// Scenario, if set, is switched on once the shop is up (a name or
	// number of fault.Scenarios).
	Scenario string
	// Faults are fault specs (fault.Parse) switched on once the shop is up.
	Faults []string
	// ChildOutput is where the services' output goes (OutputFile).
	ChildOutput ChildOutput
	// Stderr receives OutputStderr's lines (os.Stderr).
	Stderr io.Writer
	// StopTimeout is how long a service process has to stop after SIGTERM
	// before it is killed (DefaultStopTimeout).
	StopTimeout time.Duration
	// Executable is the program run for each service with the arguments
	// `demo service NAME ...` ("": this program, os.Executable).
	Executable string
	// Env is added to the services' environment.
	Env []string
	// Logger receives the demo's own log (services started, deploys,
	// faults); nil discards it.
	Logger *slog.Logger
	// ServerLogger receives Horus' log; nil discards it.
	ServerLogger *slog.Logger
	// OnChange, if set, is called after each change the demo makes to the
	// shop: a deploy, a rollback, a scenario switched on or off, a fault
	// added or removed. (Deploys and rollbacks are also recorded in Horus'
	// change events, POST /api/v1/changes, whatever OnChange does.)
	OnChange func(ChangeEvent)
}

// ChangeEvent is a change the demo made to the shop, for Options.OnChange.
type ChangeEvent struct {
	Time time.Time `json:"time"`
	// Kind is "deploy", "rollback", "scenario_on", "scenario_off",
	// "fault_added" or "fault_removed".
	Kind     string `json:"kind"`
	Service  string `json:"service,omitempty"`
	Instance string `json:"instance,omitempty"` // "" for every instance
	// Version is the new service.version of a deploy; Previous the one it
	// replaced.
	Version  string `json:"version,omitempty"`
	Previous string `json:"previous,omitempty"`
	Scenario string `json:"scenario,omitempty"`
	FaultID  string `json:"fault_id,omitempty"`
	Detail   string `json:"detail,omitempty"` // a fault's spec, a scenario's title
}

// Addrs are where a running demo can be reached.
type Addrs struct {
	// Horus is Horus' HTTP address (UI, Prometheus, Loki and Tempo APIs).
	Horus string
	// OTLPHTTP is Horus' OTLP/HTTP address ("" when disabled), OTLPGRPC
	// its OTLP/gRPC address.
	OTLPHTTP, OTLPGRPC string
	// Control is the control API's address.
	Control string
	// Gateway is the api-gateway's address: the shop's public API.
	Gateway string
}

// Demo is a running demo: Horus, the shop's processes, the load and the
// control API.
type Demo struct {
	opts    Options
	logger  *slog.Logger
	dir     string
	shopDir string
	logDir  string
	exe     string
	otlpURL string

	srv      *server.Server
	srvDone  chan error
	srvStop  context.CancelFunc
	spawn    *spawner
	stopping chan struct{}
	done     chan struct{} // closed when Wait returns
	failed   chan error    // a component failed: Horus stopped
	stopOnce sync.Once
	stopErr  error

	instances []*instance
	byService map[string][]*instance

	adminClient *http.Client
	changes     *changes.Client // Horus' change-event API
	faults      *faultBook
	deployMu    sync.Mutex // held by deploys and scenario switches
	stopped     bool       // under deployMu: Stop has begun

	control   *http.Server
	controlLn net.Listener

	gen     *load.Generator
	loadCtx context.CancelFunc
	loadWG  sync.WaitGroup

	stderrMu sync.Mutex

	firstTrace  string
	startFaults []fault.Fault // Options.Faults, parsed
}

// Start starts a demo: Horus in this process with the scrape jobs of the
// shop and its SLOs and alert rules (Rules), every service process (waiting until each answers /ready), one
// checkout (its trace is FirstTrace), the control API, the faults and
// scenario of opts, and the load. On error everything started is stopped. Stop
// ends it; ctx bounds only the start.
func Start(ctx context.Context, opts Options) (_ *Demo, err error) {
	d, err := newDemo(opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = d.Stop(context.Background())
		}
	}()
	if err := d.bindAll(); err != nil {
		return nil, err
	}
	if err := d.startServer(); err != nil {
		return nil, err
	}
	if err := d.startServices(ctx); err != nil {
		return nil, err
	}
	d.gen = load.New("http://"+d.byService[shop.Gateway][0].listen.addr, d.opts.Load)
	// One checkout before any fault: a healthy trace to show first. The
	// bank declines some payments (no notification then), so up to five
	// small checkouts are placed until one completes and shows every
	// service.
	var first load.Result
	for range 5 {
		first = d.gen.Checkout(ctx, load.CheckoutOptions{Items: 3})
		d.gen.Record(first)
		if first.Status == http.StatusCreated {
			break
		}
	}
	d.firstTrace = first.TraceID
	if first.Status == 0 {
		d.logger.Warn("first checkout got no answer", "error", first.Error)
	}
	d.startControl()
	for i, f := range d.startFaults {
		if _, err := d.AddFault(ctx, f); err != nil {
			return nil, fmt.Errorf("--fault %q: %w", d.opts.Faults[i], err)
		}
	}
	if d.opts.Scenario != "" {
		if _, err := d.StartScenario(ctx, d.opts.Scenario); err != nil {
			return nil, err
		}
	}
	lctx, cancel := context.WithCancel(context.Background())
	d.loadCtx = cancel
	d.loadWG.Add(1)
	go func() {
		defer d.loadWG.Done()
		d.gen.Run(lctx)
	}()
	return d, nil
}

func newDemo(opts Options) (*Demo, error) {
	if opts.Config == nil {
		opts.Config = config.Default()
		if err := opts.Config.Validate(); err != nil {
			return nil, err
		}
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Join(opts.Config.DataDir, "demo")
	}
	if opts.ControlAddr == "" {
		opts.ControlAddr = DefaultControlAddr
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if opts.Environment == "" {
		opts.Environment = DefaultEnvironment
	}
	switch opts.ChildOutput {
	case "":
		opts.ChildOutput = OutputFile
	case OutputFile, OutputStderr, OutputDiscard:
	default:
		return nil, fmt.Errorf("child output %q: one of file, stderr, discard", opts.ChildOutput)
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slogDiscard
	}
	if opts.ServerLogger == nil {
		opts.ServerLogger = slogDiscard
	}
	// The faults and scenario are checked before anything starts.
	var startFaults []fault.Fault
	for _, spec := range opts.Faults {
		f, err := fault.Parse(spec)
		if err == nil {
			err = f.Validate(serviceNames()...)
		}
		if err != nil {
			return nil, fmt.Errorf("--fault %q: %w", spec, err)
		}
		startFaults = append(startFaults, f)
	}
	if _, ok := fault.ScenarioByName(opts.Scenario); opts.Scenario != "" && !ok {
		return nil, fmt.Errorf("--scenario %q: no such scenario (horus demo scenario ls lists them once the demo runs: %s)",
			opts.Scenario, strings.Join(scenarioNames(), ", "))
	}
	exe := opts.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find this program to run the services: %w", err)
		}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	d := &Demo{
		opts: opts, logger: opts.Logger, dir: dir, exe: exe, startFaults: startFaults,
		shopDir:     filepath.Join(dir, "shop"),
		logDir:      filepath.Join(dir, "logs"),
		stopping:    make(chan struct{}),
		done:        make(chan struct{}),
		failed:      make(chan error, 1),
		byService:   map[string][]*instance{},
		adminClient: &http.Client{Timeout: 5 * time.Second},
	}
	d.faults = newFaultBook(d)
	for _, p := range []string{d.shopDir, d.logDir} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// bindAll binds the control API's listener and every instance's service
// and management listeners.
func (d *Demo) bindAll() error {
	// The control API's address first: a taken one fails before anything
	// runs.
	ln, err := net.Listen("tcp", d.opts.ControlAddr)
	if err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	d.controlLn = ln
	port := d.opts.BasePort
	next := func() int {
		if port == 0 {
			return 0
		}
		port++
		return port - 1
	}
	for _, svc := range Topology {
		for n := 1; n <= svc.Instances; n++ {
			in := &instance{svc: svc, n: n, id: shop.InstanceID(svc.Name, n), version: d.opts.Version}
			var err error
			if in.listen, err = bindLoopback(next()); err != nil {
				return fmt.Errorf("%s listener: %w", in.id, err)
			}
			d.instances = append(d.instances, in) // appended before the second bind so Stop closes the first
			if in.admin, err = bindLoopback(next()); err != nil {
				return fmt.Errorf("%s management listener: %w", in.id, err)
			}
			d.byService[svc.Name] = append(d.byService[svc.Name], in)
		}
	}
	return nil
}

// startServer configures and starts Horus.
func (d *Demo) startServer() error {
	cfg := *d.opts.Config // a copy: the caller's stays as given
	cfg.DataDir = filepath.Join(d.dir, "horus")
	if err := d.addScrapeJobs(&cfg); err != nil {
		return err
	}
	if err := d.addRules(&cfg); err != nil {
		return err
	}
	srv, err := server.New(&cfg, d.opts.ServerLogger)
	if err != nil {
		return err
	}
	d.srv = srv
	a := srv.Addrs()
	d.changes = &changes.Client{URL: "http://" + hostForURL(a.HTTP), HTTP: &http.Client{Timeout: 10 * time.Second}}
	if a.OTLPHTTP != "" {
		d.otlpURL = "http://" + a.OTLPHTTP
	} else {
		d.otlpURL = "http://" + a.HTTP + "/otlp"
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.srvStop = cancel
	d.srvDone = make(chan error, 1)
	go func() {
		err := srv.Run(ctx)
		d.srvDone <- err
		select {
		case <-d.stopping:
		default:
			if err == nil {
				err = errors.New("horus stopped by itself")
			}
			d.failed <- err
		}
	}()
	return nil
}

// addScrapeJobs adds a scrape job per instrumented service to cfg's
// Prometheus configuration: job = the service name, one target per
// instance at its management address, with instance = its
// service.instance.id ("payments-2"), as OpenTelemetry's Prometheus
// compatibility maps service.instance.id, so the scraped series join the
// services' OTLP logs and traces on one value.
func (d *Demo) addScrapeJobs(cfg *config.Config) error {
	pc := cfg.PrometheusConfig()
	if pc == nil {
		return errors.New("the Horus configuration was not validated")
	}
	var jobs []*promconfig.ScrapeConfig
	for _, svc := range Topology {
		if !svc.Instrumented {
			continue
		}
		for _, sc := range pc.ScrapeConfigs {
			if sc.JobName == svc.Name {
				return fmt.Errorf("the configuration has a scrape job %q already: the demo's jobs are named after its services", svc.Name)
			}
		}
		type target struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		}
		var targets []target
		for _, in := range d.byService[svc.Name] {
			targets = append(targets, target{Targets: []string{in.admin.addr}, Labels: map[string]string{"instance": in.id}})
		}
		b, err := yaml.Marshal(map[string]any{
			"job_name":        svc.Name,
			"scrape_interval": model.Duration(ScrapeInterval).String(),
			"scrape_timeout":  model.Duration(ScrapeInterval - time.Second).String(),
			"static_configs":  targets,
		})
		if err != nil {
			return err
		}
		sc := &promconfig.ScrapeConfig{}
		if err := yaml.UnmarshalStrict(b, sc); err != nil {
			return fmt.Errorf("scrape job %s: %w", svc.Name, err)
		}
		if err := sc.Validate(pc.GlobalConfig); err != nil {
			return fmt.Errorf("scrape job %s: %w", svc.Name, err)
		}
		jobs = append(jobs, sc)
	}
	pc.ScrapeConfigs = append(pc.ScrapeConfigs, jobs...)
	return nil
}

// startServices starts every service process and waits until all are
// ready.
func (d *Demo) startServices(ctx context.Context) error {
	d.spawn = newSpawner()
	for _, in := range d.instances {
		if err := d.startProcess(in, d.opts.Version); err != nil {
			return err
		}
	}
	errs := make(chan error, len(d.instances))
	for _, in := range d.instances {
		go func() { errs <- d.waitReady(ctx, in) }()
	}
	var all []error
	for range d.instances {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// Addrs returns where the demo can be reached.
func (d *Demo) Addrs() Addrs {
	a := d.srv.Addrs()
	out := Addrs{Horus: a.HTTP, OTLPHTTP: a.OTLPHTTP, OTLPGRPC: a.OTLPGRPC,
		Gateway: d.byService[shop.Gateway][0].listen.addr}
	if d.controlLn != nil {
		out.Control = d.controlLn.Addr().String()
	}
	return out
}

// Dir is the directory the demo writes to.
func (d *Demo) Dir() string { return d.dir }

// LogDir is where the services' output goes under OutputFile.
func (d *Demo) LogDir() string { return d.logDir }

// FirstTrace is the trace id of the checkout Start made ("" if the
// gateway did not answer with one).
func (d *Demo) FirstTrace() string { return d.firstTrace }

// Load is the demo's traffic generator.
func (d *Demo) Load() *load.Generator { return d.gen }

// Instances lists every service instance and its process.
func (d *Demo) Instances() []InstanceStatus {
	out := make([]InstanceStatus, 0, len(d.instances))
	for _, in := range d.instances {
		out = append(out, in.status())
	}
	return out
}

// Failed is closed (with the error sent first) when Horus stops by itself.
func (d *Demo) Failed() <-chan error { return d.failed }

// Stop ends the demo: the load, the control API, every service process
// (SIGTERM, then SIGKILL after StopTimeout), then Horus, which flushes
// its stores. It returns the errors met; it is safe to call more than
// once (later calls return the first's result). ctx bounds the wait for
// Horus.
func (d *Demo) Stop(ctx context.Context) error {
	d.stopOnce.Do(func() { d.stopErr = d.stop(ctx) })
	return d.stopErr
}

func (d *Demo) stop(ctx context.Context) error {
	close(d.stopping)
	var errs []error
	if d.loadCtx != nil {
		d.loadCtx()
		d.loadWG.Wait()
	}
	if d.control != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = d.control.Shutdown(sctx)
		cancel()
	} else if d.controlLn != nil {
		_ = d.controlLn.Close()
	}
	// A deploy or scenario switch under way finishes first; none starts
	// after.
	d.deployMu.Lock()
	d.stopped = true
	d.deployMu.Unlock()
	var wg sync.WaitGroup
	for _, in := range d.instances {
		in.mu.Lock()
		in.stopped = true
		in.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.stopProcess(in, d.opts.StopTimeout)
		}()
	}
	wg.Wait()
	if d.spawn != nil {
		d.spawn.close()
	}
	for _, in := range d.instances {
		for _, bl := range []*boundListener{in.listen, in.admin} {
			if bl != nil {
				_ = bl.Close()
			}
		}
	}
	if d.srv != nil {
		d.srvStop()
		select {
		case err := <-d.srvDone:
			if err != nil {
				errs = append(errs, fmt.Errorf("horus: %w", err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("horus did not stop: %w", ctx.Err()))
		}
	}
	d.logger.Info("demo stopped")
	return errors.Join(errs...)
}

// change reports ev to the OnChange hook and the demo's log.
func (d *Demo) change(ev ChangeEvent) {
	ev.Time = time.Now()
	attrs := []any{"kind", ev.Kind}
	for _, kv := range [][2]string{{"service", ev.Service}, {"instance", ev.Instance}, {"version", ev.Version},
		{"previous", ev.Previous}, {"scenario", ev.Scenario}, {"fault_id", ev.FaultID}, {"detail", ev.Detail}} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0], kv[1])
		}
	}
	d.logger.Info("change", attrs...)
	d.faults.mu.Lock()
	d.faults.changes = append(d.faults.changes, ev)
	if len(d.faults.changes) > changeHistory {
		d.faults.changes = d.faults.changes[len(d.faults.changes)-changeHistory:]
	}
	d.faults.mu.Unlock()
	if d.opts.OnChange != nil {
		d.opts.OnChange(ev)
	}
}

// Changes returns the newest change events, oldest first.
func (d *Demo) Changes() []ChangeEvent {
	d.faults.mu.Lock()
	defer d.faults.mu.Unlock()
	return append([]ChangeEvent(nil), d.faults.changes...)
}

// scenarioNames lists the scenarios' names.
func scenarioNames() []string {
	var out []string
	for _, s := range fault.Scenarios() {
		out = append(out, s.Name)
	}
	return out
}

// serviceNames lists the services of the topology.
func serviceNames() []string {
	out := make([]string, len(Topology))
	for i, s := range Topology {
		out[i] = s.Name
	}
	return out
}
