package demo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/horus-obs/horus/internal/changes"
	"github.com/horus-obs/horus/internal/demo/fault"
)

// faultBook is the parent's record of the faults it forwarded, so that a
// restarted process (a deploy, a crash) gets the faults that select it
// again, and of the scenario switched on.
type faultBook struct {
	d  *Demo
	mu sync.Mutex
	// faults in the order added, Expires set from Duration when added.
	faults []fault.Fault
	// scenario is the active scenario ("" none); rollback the deploys that
	// undo its deploy.
	scenario string
	rollback []DeployRequest
	changes  []ChangeEvent // the newest changeHistory
}

// changeHistory is how many change events the control API keeps.
const changeHistory = 200

func newFaultBook(d *Demo) *faultBook { return &faultBook{d: d} }

// live returns the recorded faults still in force, dropping the others.
func (b *faultBook) live() []fault.Fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.faults = slices.DeleteFunc(b.faults, func(f fault.Fault) bool { return !f.Expires.IsZero() && !now.Before(f.Expires) })
	return slices.Clone(b.faults)
}

// put records f, replacing a fault of the same ID.
func (b *faultBook) put(f fault.Fault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.IndexFunc(b.faults, func(g fault.Fault) bool { return g.ID == f.ID }); i >= 0 {
		b.faults[i] = f
		return
	}
	b.faults = append(b.faults, f)
}

// drop forgets the fault id (all when id is ""), reporting whether it
// was recorded.
func (b *faultBook) drop(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.faults)
	b.faults = slices.DeleteFunc(b.faults, func(f fault.Fault) bool { return id == "" || f.ID == id })
	return len(b.faults) < n
}

// reapply gives in's new process the recorded faults that select it, each
// for what remains of its duration.
func (b *faultBook) reapply(ctx context.Context, in *instance) error {
	var errs []error
	now := time.Now()
	for _, f := range b.live() {
		if !f.Target.Selects(in.svc.Name, strconv.Itoa(in.n)) {
			continue
		}
		if !f.Expires.IsZero() {
			f.Duration = f.Expires.Sub(now)
			if f.Duration <= 0 {
				continue
			}
		}
		f.Expires = time.Time{}
		if _, err := b.d.adminOf(in).Add(ctx, f); err != nil {
			errs = append(errs, fmt.Errorf("fault %s to %s: %w", f.ID, in.id, err))
		}
	}
	return errors.Join(errs...)
}

// adminOf is the fault admin API client of in's process.
func (d *Demo) adminOf(in *instance) *fault.Client {
	return fault.NewClient("http://"+in.admin.addr, d.adminClient)
}

// FaultStatus is a fault in force and the instances that hold it.
type FaultStatus struct {
	Fault fault.Fault `json:"fault"`
	// Spec is the fault as a spec (fault.Parse reads it back).
	Spec string `json:"spec"`
	// Instances are the service.instance.ids of the processes holding it.
	Instances []string `json:"instances"`
}

// selected returns the instances f targets, or an error naming a target
// the shop does not have.
func (d *Demo) selected(f fault.Fault) ([]*instance, error) {
	if err := f.Validate(serviceNames()...); err != nil {
		return nil, err
	}
	var out []*instance
	for _, in := range d.byService[f.Target.Service] {
		if f.Target.Selects(in.svc.Name, strconv.Itoa(in.n)) {
			out = append(out, in)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no instance %q (instances 1 to %d)", f.Target.Service, f.Target.Instance,
			len(d.byService[f.Target.Service]))
	}
	return out, nil
}

// AddFault switches f on in every process it targets, after checking it
// (fault.Validate with the shop's services; the instance must exist). An
// f without ID gets one (fault.NewID), so the same ID names it in every
// process; an ID in force already is replaced. The parent records it and
// gives it again to a process that restarts, for what remains of its
// duration.
func (d *Demo) AddFault(ctx context.Context, f fault.Fault) (FaultStatus, error) {
	return d.addFault(ctx, f, nil)
}

// addFault is AddFault, skipping the instances in skip (about to
// restart: they get it from reapply).
func (d *Demo) addFault(ctx context.Context, f fault.Fault, skip []*instance) (FaultStatus, error) {
	targets, err := d.selected(f)
	if err != nil {
		return FaultStatus{}, err
	}
	if f.ID == "" {
		f.ID = fault.NewID()
	}
	f.Expires = time.Time{}
	if f.Duration > 0 {
		f.Expires = time.Now().Add(f.Duration)
	}
	d.faults.put(f)
	st := FaultStatus{Fault: f, Spec: f.String()}
	var errs []error
	for _, in := range targets {
		st.Instances = append(st.Instances, in.id)
		if slices.Contains(skip, in) {
			continue
		}
		if _, err := d.adminOf(in).Add(ctx, f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", in.id, err))
		}
	}
	d.change(ChangeEvent{Kind: "fault_added", Service: f.Target.Service, Instance: f.Target.Instance,
		FaultID: f.ID, Detail: st.Spec})
	return st, errors.Join(errs...)
}

// RemoveFault switches the fault id off everywhere and reports whether
// any process (or the record) had it.
func (d *Demo) RemoveFault(ctx context.Context, id string) (bool, error) {
	found := d.faults.drop(id)
	var errs []error
	for _, in := range d.instances {
		ok, err := d.adminOf(in).Remove(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", in.id, err))
		}
		found = found || ok
	}
	if found {
		d.change(ChangeEvent{Kind: "fault_removed", FaultID: id})
	}
	return found, errors.Join(errs...)
}

// ClearFaults switches every fault off in every process.
func (d *Demo) ClearFaults(ctx context.Context) error {
	d.faults.drop("")
	var errs []error
	for _, in := range d.instances {
		if err := d.adminOf(in).Clear(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", in.id, err))
		}
	}
	d.change(ChangeEvent{Kind: "fault_removed", Detail: "all"})
	return errors.Join(errs...)
}

// Faults lists the faults in force, as the processes report them, each
// with the instances holding it, in the order first seen.
func (d *Demo) Faults(ctx context.Context) ([]FaultStatus, error) {
	var out []FaultStatus
	at := map[string]int{}
	var errs []error
	for _, in := range d.instances {
		fs, err := d.adminOf(in).List(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", in.id, err))
			continue
		}
		for _, f := range fs {
			i, ok := at[f.ID]
			if !ok {
				i = len(out)
				at[f.ID] = i
				out = append(out, FaultStatus{Fault: f, Spec: f.String()})
			}
			out[i].Instances = append(out[i].Instances, in.id)
		}
	}
	return out, errors.Join(errs...)
}

// DeployRequest is a new service.version for one instance of a service or
// all of them, optionally carrying faults (a bad version's behaviour).
type DeployRequest struct {
	Service  string `json:"service"`
	Instance string `json:"instance,omitempty"` // the instance number; "" every instance
	Version  string `json:"version"`
	// Faults come with the deploy: the restarted processes start with
	// them (ID and Version set by Deploy when empty).
	Faults []fault.Fault `json:"faults,omitempty"`
}

// DeployResult is what a deploy did.
type DeployResult struct {
	Instances []InstanceStatus  `json:"instances"` // the restarted instances, after the restart
	Previous  map[string]string `json:"previous"`  // service.instance.id → the version it replaced
	Faults    []FaultStatus     `json:"faults,omitempty"`
}

var versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)

// Deploy rolls a new version out: one instance at a time, the process is
// stopped (SIGTERM, then SIGKILL after StopTimeout) and a new one started
// with the new service.version on the same listener, so callers' new
// connections wait in the listen queue instead of failing. The deploy's
// faults are recorded first and reach the new processes as they start.
// Deploys run one at a time.
func (d *Demo) Deploy(ctx context.Context, req DeployRequest) (DeployResult, error) {
	d.deployMu.Lock()
	defer d.deployMu.Unlock()
	return d.deploy(ctx, req, "deploy", "")
}

// deploy is Deploy; kind is "deploy" or "rollback", why what it is for
// (a scenario), for the change events.
func (d *Demo) deploy(ctx context.Context, req DeployRequest, kind, why string) (DeployResult, error) {
	if d.stopped {
		return DeployResult{}, errStopping
	}
	if !versionRE.MatchString(req.Version) {
		return DeployResult{}, fmt.Errorf("version %q: 1 to 64 letters, digits, '.', '_', '+' or '-'", req.Version)
	}
	targets, err := d.selected(fault.Fault{Kind: fault.KindCPUBurn, Target: fault.Target{Service: req.Service, Instance: req.Instance}})
	if err != nil {
		return DeployResult{}, err
	}
	res := DeployResult{Previous: map[string]string{}}
	var errs []error
	for _, f := range req.Faults {
		if f.Version == "" && f.Target.Service == req.Service {
			f.Version = req.Version
		}
		st, err := d.addFault(ctx, f, targets)
		if err != nil {
			errs = append(errs, err)
		}
		res.Faults = append(res.Faults, st)
	}
	for _, in := range targets {
		in.mu.Lock()
		prev := in.version
		in.mu.Unlock()
		res.Previous[in.id] = prev
		d.stopProcess(in, d.opts.StopTimeout)
		d.recordChange(ctx, kind, in, req.Version, prev, why)
		if err := d.startProcess(in, req.Version); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := d.afterStart(ctx, in); err != nil {
			errs = append(errs, err)
		}
		res.Instances = append(res.Instances, in.status())
		d.change(ChangeEvent{Kind: kind, Service: in.svc.Name, Instance: strconv.Itoa(in.n), Version: req.Version, Previous: prev})
	}
	return res, errors.Join(errs...)
}

// changeAuthor is the author of the change events the demo records.
const changeAuthor = "horus demo"

// recordChange records a deploy or rollback of in in Horus' change events
// (POST /api/v1/changes, docs/changes.md). It runs between the old
// process's exit, which flushed its telemetry, and the new one's start, so
// that Horus' own detection of a new service.version finds the version
// recorded and makes no second change. A failure is logged: the deploy
// goes on.
func (d *Demo) recordChange(ctx context.Context, kind string, in *instance, version, prev, why string) {
	desc := fmt.Sprintf("%s %s of %s: %s → %s", changeAuthor, kind, in.id, prev, version)
	if why != "" {
		desc += " (" + why + ")"
	}
	c, warnings, err := d.changes.Add(ctx, changes.Change{Kind: kind, Service: in.svc.Name, Instance: in.id,
		Version: version, Author: changeAuthor, Description: desc})
	if err != nil {
		d.logger.Warn("recording the change in Horus", "instance", in.id, "err", err)
		return
	}
	for _, w := range warnings {
		d.logger.Warn("recording the change in Horus", "instance", in.id, "id", c.ID, "warning", w)
	}
}

// ScenarioStatus is a scenario, as the control API lists it (the
// scenario's own JSON fields, and number and active), and whether it is
// on.
type ScenarioStatus struct {
	Number int `json:"number"` // 1 to 5
	fault.Scenario
	Active bool `json:"active"`
}

// Scenarios lists the named scenarios, marking the active one.
func (d *Demo) Scenarios() []ScenarioStatus {
	d.faults.mu.Lock()
	active := d.faults.scenario
	d.faults.mu.Unlock()
	var out []ScenarioStatus
	for i, s := range fault.Scenarios() {
		out = append(out, ScenarioStatus{Number: i + 1, Scenario: s, Active: s.Name == active})
	}
	return out
}

// StartScenario switches the scenario name (or number) on, after
// switching off the one that is on: its deploy (carrying the faults of
// the deployed service), then its other faults.
func (d *Demo) StartScenario(ctx context.Context, name string) (ScenarioStatus, error) {
	sc, ok := fault.ScenarioByName(name)
	if !ok {
		return ScenarioStatus{}, fmt.Errorf("no scenario %q (horus demo scenario ls)", name)
	}
	d.deployMu.Lock()
	defer d.deployMu.Unlock()
	if d.stopped {
		return ScenarioStatus{}, errStopping
	}
	if err := d.stopScenario(ctx); err != nil {
		return ScenarioStatus{}, err
	}
	var errs []error
	var rollback []DeployRequest
	rest := sc.Faults
	if dep := sc.Deploy; dep != nil {
		var carried []fault.Fault
		rest = nil
		for _, f := range sc.Faults {
			if f.Target.Service == dep.Service && (dep.Instance == "" || f.Target.Instance == dep.Instance) {
				carried = append(carried, f)
			} else {
				rest = append(rest, f)
			}
		}
		res, err := d.deploy(ctx, DeployRequest{Service: dep.Service, Instance: dep.Instance, Version: dep.Version, Faults: carried},
			"deploy", "scenario "+sc.Name+": "+sc.Title)
		if err != nil {
			errs = append(errs, err)
		}
		for id, prev := range res.Previous {
			for _, in := range d.byService[dep.Service] {
				if in.id == id {
					rollback = append(rollback, DeployRequest{Service: dep.Service, Instance: strconv.Itoa(in.n), Version: prev})
				}
			}
		}
	}
	for _, f := range rest {
		if _, err := d.addFault(ctx, f, nil); err != nil {
			errs = append(errs, err)
		}
	}
	d.faults.mu.Lock()
	d.faults.scenario, d.faults.rollback = sc.Name, rollback
	d.faults.mu.Unlock()
	d.change(ChangeEvent{Kind: "scenario_on", Scenario: sc.Name, Detail: sc.Title})
	for _, s := range d.Scenarios() {
		if s.Name == sc.Name {
			return s, errors.Join(errs...)
		}
	}
	return ScenarioStatus{}, errors.Join(errs...)
}

// StopScenario switches the active scenario off: its faults removed, its
// deploy rolled back to the versions it replaced. Without an active
// scenario it does nothing.
func (d *Demo) StopScenario(ctx context.Context) error {
	d.deployMu.Lock()
	defer d.deployMu.Unlock()
	return d.stopScenario(ctx)
}

func (d *Demo) stopScenario(ctx context.Context) error {
	d.faults.mu.Lock()
	name, rollback := d.faults.scenario, d.faults.rollback
	d.faults.scenario, d.faults.rollback = "", nil
	d.faults.mu.Unlock()
	if name == "" {
		return nil
	}
	sc, _ := fault.ScenarioByName(name)
	var errs []error
	for _, f := range sc.Faults {
		if _, err := d.RemoveFault(ctx, f.ID); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range rollback {
		if _, err := d.deploy(ctx, r, "rollback", "scenario "+name+" off"); err != nil {
			errs = append(errs, err)
		}
	}
	d.change(ChangeEvent{Kind: "scenario_off", Scenario: name})
	return errors.Join(errs...)
}
