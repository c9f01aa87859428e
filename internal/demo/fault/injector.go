package fault

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrNotThisProcess is wrapped by Injector.Add when the fault's target names
// another service or another instance.
var ErrNotThisProcess = errors.New("fault targets another process")

// ErrClosed is returned by Injector.Add after Close.
var ErrClosed = errors.New("fault injector closed")

// Injector holds the faults of one process (one instance of one service)
// and applies them: Before for per-request latency and errors, Refusing
// (with OnChange) for refused connections, PoolExhausted, SlowQuery, and CPU
// burn, which it runs itself. Faults end when removed or when their
// Duration has passed: readers ignore expired faults, and one timer drops
// them, stops their CPU burn and runs the OnChange hooks at the moment they
// end. All methods are safe for concurrent use; Before, Refusing,
// PoolExhausted and SlowQuery read a copy-on-write snapshot without locks.
type Injector struct {
	service, instance string

	mu     sync.Mutex
	faults []Fault // in the order added, Expires set
	timer  *time.Timer
	closed bool
	snap   atomic.Pointer[[]Fault]

	hookMu      sync.Mutex
	hooks       []func()
	hookRunning bool
	hookPending bool

	rngMu sync.Mutex
	rng   *mrand.Rand // nil: the global source

	burn       burner
	injections *prometheus.CounterVec // nil without a registerer
	now        func() time.Time
}

// NewInjector returns the injector of the process running instance of
// service (the `--instance N` value, "1" for the first). With reg non-nil
// it registers demo_faults_active{kind}, the faults in force by kind (a
// gauge), and demo_fault_injections_total{kind}, the requests and queries a
// latency, error or slow_query fault acted on (a counter); an error
// registering them is returned. Call Close when the process stops.
func NewInjector(service, instance string, reg prometheus.Registerer) (*Injector, error) {
	if err := (Target{Service: service, Instance: instance}).validate(nil); err != nil {
		return nil, err
	}
	i := &Injector{service: service, instance: instance, now: time.Now}
	i.snap.Store(&[]Fault{})
	if reg != nil {
		i.injections = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "demo_fault_injections_total",
			Help: "Requests and queries a demo fault acted on (delayed, answered with an error, or made slow), by fault kind.",
		}, []string{"kind"})
		for _, k := range []Kind{KindLatency, KindError, KindSlowQuery} {
			i.injections.WithLabelValues(string(k))
		}
		if err := reg.Register(i.injections); err != nil {
			return nil, fmt.Errorf("register demo_fault_injections_total: %w", err)
		}
		if err := reg.Register(activeCollector{i}); err != nil {
			reg.Unregister(i.injections)
			return nil, fmt.Errorf("register demo_faults_active: %w", err)
		}
	}
	return i, nil
}

// Service returns the service.name the injector was created for.
func (i *Injector) Service() string { return i.service }

// Instance returns the instance the injector was created for.
func (i *Injector) Instance() string { return i.instance }

// Add validates f and puts it in force: an empty ID gets NewID, an ID
// already present replaces that fault in its place, Expires is set from
// Duration, a Status or CPU left 0 takes its default. It returns the fault
// as stored. Errors: the fault's validation error; one wrapping
// ErrNotThisProcess when f.Target names another service or instance;
// ErrClosed after Close. The OnChange hooks run before Add returns (unless
// another goroutine is running them, which then runs them again).
func (i *Injector) Add(f Fault) (Fault, error) {
	if err := f.Validate(); err != nil {
		return Fault{}, err
	}
	if !f.Target.Selects(i.service, i.instance) {
		return Fault{}, fmt.Errorf("%w: it is for %s, this is %s instance %s", ErrNotThisProcess,
			describeTarget(f.Target), i.service, i.instance)
	}
	f = f.Clone()
	if f.ID == "" {
		f.ID = NewID()
	}
	if f.Kind == KindError && f.Status == 0 {
		f.Status = 500
	}
	if f.Kind == KindCPUBurn && f.CPU == 0 {
		f.CPU = 1
	}
	f.Expires = time.Time{}
	if f.Duration > 0 {
		f.Expires = i.now().Add(f.Duration)
	}
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return Fault{}, ErrClosed
	}
	if at := slices.IndexFunc(i.faults, func(g Fault) bool { return g.ID == f.ID }); at >= 0 {
		i.faults[at] = f
	} else {
		i.faults = append(i.faults, f)
	}
	i.changedLocked()
	i.mu.Unlock()
	i.notify()
	return f.Clone(), nil
}

func describeTarget(t Target) string {
	if t.Instance == "" {
		return t.Service
	}
	return t.Service + " instance " + t.Instance
}

// Remove ends the fault with the given ID and reports whether there was one.
func (i *Injector) Remove(id string) bool {
	i.mu.Lock()
	at := slices.IndexFunc(i.faults, func(g Fault) bool { return g.ID == id })
	if at >= 0 {
		i.faults = slices.Delete(i.faults, at, at+1)
		i.changedLocked()
	}
	i.mu.Unlock()
	if at >= 0 {
		i.notify()
	}
	return at >= 0
}

// Clear ends every fault.
func (i *Injector) Clear() {
	i.mu.Lock()
	n := len(i.faults)
	i.faults = nil
	i.changedLocked()
	i.mu.Unlock()
	if n > 0 {
		i.notify()
	}
}

// List returns the faults in force, in the order added, each a copy.
// Expired faults are dropped.
func (i *Injector) List() []Fault {
	i.mu.Lock()
	dropped := i.pruneLocked()
	out := make([]Fault, len(i.faults))
	for n, f := range i.faults {
		out[n] = f.Clone()
	}
	i.mu.Unlock()
	if dropped {
		i.notify()
	}
	return out
}

// Close ends every fault's effect for good: it stops the expiry timer and the
// CPU burn (waiting for its goroutines), and later Adds fail with ErrClosed.
// The OnChange hooks are not run.
func (i *Injector) Close() {
	i.mu.Lock()
	i.closed = true
	i.faults = nil
	i.snap.Store(&[]Fault{})
	if i.timer != nil {
		i.timer.Stop()
	}
	i.mu.Unlock()
	i.burn.set(0)
	i.burn.wait()
}

// OnChange registers fn to run after every change of the faults in force
// (Add, Remove, Clear, and a fault expiring). Hooks run one at a time, in
// the order registered, outside the injector's locks, so they may call any
// of its methods; a change made while hooks run makes them run once more.
// A process uses it to close its listener while Refusing and reopen it
// after.
func (i *Injector) OnChange(fn func()) {
	i.hookMu.Lock()
	i.hooks = append(i.hooks, fn)
	i.hookMu.Unlock()
}

func (i *Injector) notify() {
	i.hookMu.Lock()
	i.hookPending = true
	if i.hookRunning {
		i.hookMu.Unlock()
		return
	}
	i.hookRunning = true
	defer func() {
		i.hookRunning = false
		i.hookMu.Unlock()
	}()
	for i.hookPending {
		i.hookPending = false
		hooks := slices.Clone(i.hooks)
		i.hookMu.Unlock()
		func() {
			defer i.hookMu.Lock() // re-taken even if a hook panics
			for _, h := range hooks {
				h()
			}
		}()
	}
}

// pruneLocked drops expired faults and reports whether it dropped any
// (and so rebuilt the state).
func (i *Injector) pruneLocked() bool {
	now := i.now()
	n := len(i.faults)
	i.faults = slices.DeleteFunc(i.faults, func(f Fault) bool { return !active(f, now) })
	if len(i.faults) == n {
		return false
	}
	i.changedLocked()
	return true
}

// changedLocked publishes the faults to readers, sets the timer for the
// next expiry and sets the CPU burn to the active cpu_burn faults.
func (i *Injector) changedLocked() {
	snap := slices.Clone(i.faults)
	i.snap.Store(&snap)
	var next time.Time
	cores := 0.0
	for _, f := range i.faults {
		if !f.Expires.IsZero() && (next.IsZero() || f.Expires.Before(next)) {
			next = f.Expires
		}
		if f.Kind == KindCPUBurn {
			cores += f.CPU
		}
	}
	if !next.IsZero() && !i.closed {
		d := max(next.Sub(i.now()), 0)
		if i.timer == nil {
			i.timer = time.AfterFunc(d, i.expire)
		} else {
			i.timer.Reset(d)
		}
	} else if i.timer != nil {
		i.timer.Stop()
	}
	if i.closed {
		cores = 0
	}
	i.burn.set(min(cores, float64(runtime.NumCPU())))
}

// expire runs on the timer: it drops the faults that have ended.
func (i *Injector) expire() {
	i.mu.Lock()
	dropped := i.pruneLocked()
	if !dropped && !i.closed {
		i.changedLocked() // woke early (a Reset raced): set the timer again
	}
	i.mu.Unlock()
	if dropped {
		i.notify()
	}
}

func active(f Fault, now time.Time) bool { return f.Expires.IsZero() || now.Before(f.Expires) }

// activeFaults returns the snapshot's faults in force now.
func (i *Injector) activeFaults() []Fault {
	s := *i.snap.Load()
	now := i.now()
	if !slices.ContainsFunc(s, func(f Fault) bool { return !active(f, now) }) {
		return s
	}
	return slices.DeleteFunc(slices.Clone(s), func(f Fault) bool { return !active(f, now) })
}

func (i *Injector) anyActive(k Kind) bool {
	return slices.ContainsFunc(i.activeFaults(), func(f Fault) bool { return f.Kind == k })
}

// Before applies the latency and error faults that match r, in the order
// they were added: a latency fault sleeps a sample of its distribution
// (returning ctx.Err() if ctx ends first), an error fault returns a
// *StatusError the handler answers, and no later fault is applied. A fault
// matches when its route matches r.Route (see Target.Route), every Match
// attribute equals r.Attrs', r.Items reaches MinItems, and a draw falls
// within Fraction. It returns nil when no fault answered.
func (i *Injector) Before(ctx context.Context, r Request) error {
	for _, f := range i.activeFaults() {
		if !f.Kind.perRequest() || !matches(f, r) || !i.draw(f.Scope.Fraction) {
			continue
		}
		i.count(f.Kind)
		if f.Kind == KindError {
			return &StatusError{Status: f.EffectiveStatus(), Message: f.EffectiveMessage(), FaultID: f.ID}
		}
		if err := sleep(ctx, i.sample(f.Latency)); err != nil {
			return err
		}
	}
	return nil
}

// Refusing reports whether a refuse_connections fault is in force: the
// process should not accept connections (close its listener) until it ends.
func (i *Injector) Refusing() bool { return i.anyActive(KindRefuse) }

// PoolExhausted reports whether a pool_exhaustion fault is in force: the
// process should hold every connection of its database pool until it ends.
func (i *Injector) PoolExhausted() bool { return i.anyActive(KindPoolExhaustion) }

// SlowQuery reports whether a query for an order of items items should run
// slow: a slow_query fault is in force whose MinItems items reaches and
// whose Fraction draw falls in. A true answer is counted as an injection.
func (i *Injector) SlowQuery(items int) bool {
	for _, f := range i.activeFaults() {
		if f.Kind == KindSlowQuery && items >= f.Scope.MinItems && i.draw(f.Scope.Fraction) {
			i.count(f.Kind)
			return true
		}
	}
	return false
}

// BurningCPU returns the cores the injector is keeping busy now: the sum of
// the cpu_burn faults in force, at most runtime.NumCPU().
func (i *Injector) BurningCPU() float64 { return i.burn.current() }

func matches(f Fault, r Request) bool {
	if !routeMatches(f.Target.Route, r.Route) || r.Items < f.Scope.MinItems {
		return false
	}
	for k, v := range f.Scope.Match {
		if got, ok := r.Attrs[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// routeMatches compares a fault's route with a request's ServeMux pattern:
// equal, or the fault's route has no method and equals the pattern's path.
func routeMatches(want, got string) bool {
	if want == "" || want == got {
		return true
	}
	if strings.ContainsAny(want, " \t") {
		return false
	}
	_, path, ok := strings.Cut(got, " ")
	return ok && strings.TrimLeft(path, " \t") == want
}

func (i *Injector) draw(fraction float64) bool {
	if fraction == 0 || fraction >= 1 {
		return true
	}
	if i.rng == nil {
		return mrand.Float64() < fraction
	}
	i.rngMu.Lock()
	defer i.rngMu.Unlock()
	return i.rng.Float64() < fraction
}

func (i *Injector) sample(l Latency) time.Duration {
	if i.rng == nil {
		return l.Sample(nil)
	}
	i.rngMu.Lock()
	defer i.rngMu.Unlock()
	return l.Sample(i.rng)
}

func (i *Injector) count(k Kind) {
	if i.injections != nil {
		i.injections.WithLabelValues(string(k)).Inc()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// activeCollector exposes demo_faults_active{kind}, counted from the
// snapshot at each scrape so that expired faults never show.
type activeCollector struct{ i *Injector }

var activeDesc = prometheus.NewDesc("demo_faults_active",
	"Demo faults in force in this process, by fault kind.", []string{"kind"}, nil)

func (c activeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- activeDesc }

func (c activeCollector) Collect(ch chan<- prometheus.Metric) {
	n := map[Kind]int{}
	for _, f := range c.i.activeFaults() {
		n[f.Kind]++
	}
	for _, k := range Kinds() {
		ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, float64(n[k]), string(k))
	}
}

// burner keeps a number of cores busy with goroutines spinning on
// arithmetic; a fractional last core spins that part of every 10 ms.
type burner struct {
	mu    sync.Mutex
	cores float64
	stop  *atomic.Bool // the running goroutines' flag
	wg    sync.WaitGroup
}

const burnPeriod = 10 * time.Millisecond

// burnSink keeps the spinning arithmetic observable so that it is not
// optimised away.
var burnSink atomic.Uint64

func (b *burner) set(cores float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cores == b.cores {
		return
	}
	if b.stop != nil {
		b.stop.Store(true)
		b.stop = nil
	}
	b.cores = cores
	if cores <= 0 {
		return
	}
	stop := new(atomic.Bool)
	b.stop = stop
	for c := cores; c > 0; c-- {
		b.wg.Add(1)
		go b.spin(stop, min(c, 1))
	}
}

func (b *burner) current() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cores
}

func (b *burner) wait() { b.wg.Wait() }

func (b *burner) spin(stop *atomic.Bool, duty float64) {
	defer b.wg.Done()
	x := uint64(1)
	if duty >= 1 {
		for !stop.Load() {
			x = x*6364136223846793005 + 1442695040888963407
		}
		burnSink.Add(x)
		return
	}
	busy := time.Duration(duty * float64(burnPeriod))
	for !stop.Load() {
		end := time.Now().Add(busy)
		for !stop.Load() && time.Now().Before(end) {
			x = x*6364136223846793005 + 1442695040888963407
		}
		time.Sleep(burnPeriod - busy)
	}
	burnSink.Add(x)
}
