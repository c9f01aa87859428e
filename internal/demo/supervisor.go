package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The file descriptors a service process finds its listeners at
// (exec.Cmd.ExtraFiles start at 3).
const (
	serviceFD = 3
	adminFD   = 4
)

// instance is one running copy of a service: its listeners, held by the
// parent across restarts, and its current process.
type instance struct {
	svc    Service
	n      int    // 1-based instance number
	id     string // service.instance.id: "payments-2"
	listen *boundListener
	admin  *boundListener

	mu       sync.Mutex
	version  string
	proc     *process // nil before the first start and after stop
	restarts int      // unplanned restarts (crashes)
	stopped  bool     // stop asked: no restart after an exit
}

// process is one OS process of an instance.
type process struct {
	cmd     *exec.Cmd
	stdin   *os.File // the parent's end of the child's stdin pipe
	done    chan struct{}
	err     error // Wait's result, set before done closes
	started time.Time
	planned bool // the exit was asked for (deploy or stop)
	closers []io.Closer
}

// InstanceStatus is one instance as the control API lists it.
type InstanceStatus struct {
	Service    string    `json:"service"`
	Instance   string    `json:"instance"`    // the instance number, as fault targets name it
	InstanceID string    `json:"instance_id"` // service.instance.id
	Version    string    `json:"version"`     // service.version
	Addr       string    `json:"addr"`        // the service listener, host:port
	AdminAddr  string    `json:"admin_addr"`  // the management listener (/metrics, /faults, /ready)
	PID        int       `json:"pid,omitempty"`
	Started    time.Time `json:"started,omitzero"`
	Restarts   int       `json:"restarts"`
	Running    bool      `json:"running"`
}

func (in *instance) status() InstanceStatus {
	in.mu.Lock()
	defer in.mu.Unlock()
	st := InstanceStatus{
		Service: in.svc.Name, Instance: strconv.Itoa(in.n), InstanceID: in.id, Version: in.version,
		Addr: in.listen.addr, AdminAddr: in.admin.addr, Restarts: in.restarts,
	}
	if p := in.proc; p != nil {
		st.PID, st.Started = p.cmd.Process.Pid, p.started
		select {
		case <-p.done:
		default:
			st.Running = true
		}
	}
	return st
}

// spawner starts every child from one goroutine locked to its OS thread:
// Linux sends the parent-death signal when the thread that forked a child
// ends, not the process, and Go may end an idle thread whose goroutine was
// locked; this thread lives as long as the demo.
type spawner struct {
	mu     sync.Mutex
	closed bool
	reqs   chan func()
	done   chan struct{}
}

// errStopping is a process start asked for while the demo stops.
var errStopping = errors.New("the demo is stopping")

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan func()), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, after the children
		defer close(s.done)
		for f := range s.reqs {
			f()
		}
	}()
	return s
}

// start runs cmd.Start on the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStopping
	}
	errc := make(chan error, 1)
	s.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

// close ends the spawner's goroutine, and so its thread: any child still
// alive gets its parent-death signal.
func (s *spawner) close() {
	s.mu.Lock()
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.done
}

// childArgs are the arguments of `horus demo service` for one process.
func (d *Demo) childArgs(in *instance, version string) []string {
	args := []string{"demo", "service", in.svc.Name,
		"--instance", strconv.Itoa(in.n),
		"--version", version,
		"--env", d.opts.Environment,
		"--listen-fd", strconv.Itoa(serviceFD),
		"--admin-fd", strconv.Itoa(adminFD),
		"--data-dir", d.shopDir,
		"--exit-on-stdin-eof",
	}
	if in.svc.Instrumented {
		args = append(args, "--otlp", d.otlpURL)
	}
	for _, callee := range in.svc.Calls {
		var addrs string
		for i, c := range d.byService[callee] {
			if i > 0 {
				addrs += ","
			}
			addrs += c.listen.addr
		}
		args = append(args, "--peer", callee+"="+addrs)
	}
	return args
}

// startProcess starts a new process for in at version. The caller holds
// no lock; in.proc is replaced.
func (d *Demo) startProcess(in *instance, version string) error {
	cmd := exec.Command(d.exe, d.childArgs(in, version)...)
	cmd.Env = append(os.Environ(), d.opts.Env...)
	cmd.ExtraFiles = []*os.File{in.listen.file, in.admin.file}
	cmd.SysProcAttr = childAttr()
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdin = stdinR
	out, closers, err := d.childOutput(in)
	if err != nil {
		_ = stdinR.Close()
		_ = stdinW.Close()
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := d.spawn.start(cmd); err != nil {
		_ = stdinR.Close()
		_ = stdinW.Close()
		closeAll(closers)
		return fmt.Errorf("start %s: %w", in.id, err)
	}
	_ = stdinR.Close() // the child has its copy
	p := &process{cmd: cmd, stdin: stdinW, done: make(chan struct{}), started: time.Now(), closers: closers}
	in.mu.Lock()
	in.proc, in.version = p, version
	in.mu.Unlock()
	d.logger.Info("service started", "instance", in.id, "version", version, "pid", cmd.Process.Pid, "addr", in.listen.addr)
	go d.watch(in, p)
	return nil
}

// childOutput is where a child's stdout and stderr go: its log file, the
// parent's stderr with a prefix, or nowhere.
func (d *Demo) childOutput(in *instance) (io.Writer, []io.Closer, error) {
	switch d.opts.ChildOutput {
	case OutputStderr:
		pw := &prefixWriter{prefix: []byte(in.id + " | "), w: d.opts.Stderr, mu: &d.stderrMu}
		return pw, nil, nil
	case OutputDiscard:
		return nil, nil, nil // exec sends them to /dev/null
	}
	f, err := os.OpenFile(d.logPath(in), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("child log: %w", err)
	}
	return f, []io.Closer{f}, nil
}

// watch waits for p to exit and restarts the instance after an unplanned
// exit (a crash), with a growing delay, unless the demo is stopping.
func (d *Demo) watch(in *instance, p *process) {
	p.err = p.cmd.Wait()
	_ = p.stdin.Close()
	closeAll(p.closers)
	close(p.done)
	in.mu.Lock()
	planned, stopped := p.planned, in.stopped
	if !planned && !stopped {
		in.restarts++
	}
	restarts := in.restarts
	in.mu.Unlock()
	if planned || stopped {
		return
	}
	delay := min(time.Duration(restarts)*time.Second, 30*time.Second)
	d.logger.Error("service exited unexpectedly; restarting", "instance", in.id, "pid", p.cmd.Process.Pid,
		"err", p.err, "restarts", restarts, "delay", delay)
	select {
	case <-time.After(delay):
	case <-d.stopping:
		return
	}
	in.mu.Lock()
	version, stale := in.version, in.proc != p || in.stopped
	in.mu.Unlock()
	if stale {
		return
	}
	if err := d.startProcess(in, version); err != nil {
		d.logger.Error("restart failed", "instance", in.id, "err", err)
		return
	}
	if err := d.afterStart(context.Background(), in); err != nil {
		d.logger.Error("restarted service not ready", "instance", in.id, "err", err)
	}
}

// stopProcess ends in's current process: SIGTERM, then SIGKILL after
// grace. It returns once the process has exited.
func (d *Demo) stopProcess(in *instance, grace time.Duration) {
	in.mu.Lock()
	p := in.proc
	if p != nil {
		p.planned = true
	}
	in.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	d.logger.Warn("service did not stop in time; killing it", "instance", in.id, "pid", p.cmd.Process.Pid, "grace", grace)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// afterStart waits until in's new process answers /ready on its admin
// listener, then gives it the faults that target it.
func (d *Demo) afterStart(ctx context.Context, in *instance) error {
	if err := d.waitReady(ctx, in); err != nil {
		return err
	}
	return d.faults.reapply(ctx, in)
}

// readyTimeout bounds how long a new process may take to answer /ready.
const readyTimeout = 30 * time.Second

// waitReady polls in's admin /ready until it answers 200, its process
// exits, ctx ends or readyTimeout passes.
func (d *Demo) waitReady(ctx context.Context, in *instance) error {
	in.mu.Lock()
	p := in.proc
	in.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	url := "http://" + in.admin.addr + "/ready"
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := d.adminClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %w (see %s)", in.id, p.err, d.outputHint(in))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w (see %s)", in.id, readyTimeout, ctx.Err(), d.outputHint(in))
		case <-tick.C:
		}
	}
}

// outputHint says where a child's output went, for error messages.
func (d *Demo) outputHint(in *instance) string {
	switch d.opts.ChildOutput {
	case OutputStderr:
		return "its lines on stderr"
	case OutputDiscard:
		return "nothing: child output is discarded"
	}
	return d.logPath(in)
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// prefixWriter writes each line of a child's output to w after prefix,
// one line at a time under mu so that children's lines do not interleave.
type prefixWriter struct {
	prefix []byte
	w      io.Writer
	mu     *sync.Mutex
	buf    []byte
}

// maxPartialLine bounds a line held back while waiting for its end.
const maxPartialLine = 64 << 10

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			if len(p.buf) < maxPartialLine {
				return len(b), nil
			}
			i = len(p.buf) - 1
		}
		p.mu.Lock()
		_, err := p.w.Write(append(append([]byte{}, p.prefix...), p.buf[:i+1]...))
		p.mu.Unlock()
		p.buf = p.buf[i+1:]
		if err != nil {
			return len(b), err
		}
	}
}

// logPath is the log file of an instance's processes.
func (d *Demo) logPath(in *instance) string {
	return d.logDir + string(os.PathSeparator) + in.id + ".log"
}

// slogDiscard is a logger that drops everything.
var slogDiscard = slog.New(slog.DiscardHandler)
