package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/config"
	"github.com/horus-obs/horus/internal/demo/fault"
	"github.com/horus-obs/horus/internal/demo/load"
)

// childEnv marks a run of this test binary as a demo process: a service
// (the demo re-executes its own program, here the test binary) or a
// parent started by a test.
const childEnv = "HORUS_DEMO_TEST_PROCESS"

// TestMain runs `horus demo ...` when the binary is re-executed as a demo
// process (os.Args[1] is "demo"), the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "demo" {
		if err := Main(os.Args[2:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "horus demo:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testEnv makes the services export their batches every 200 ms (the
// OpenTelemetry SDK's batch processors read these), not every 5 s and 1 s.
var testEnv = []string{childEnv + "=1", "OTEL_BSP_SCHEDULE_DELAY=200", "OTEL_BLRP_SCHEDULE_DELAY=200"}

// testConfig is Horus' configuration for a demo in a test: its own data
// directory, free ports, then each of with applied before it is
// validated.
func testConfig(t *testing.T, with ...func(*config.Config)) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.OTLP.GRPCAddr = "127.0.0.1:0"
	cfg.OTLP.HTTPAddr = "127.0.0.1:0"
	for _, f := range with {
		f(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startDemo starts a demo in this process, its services re-executing the
// test binary, without load; it is stopped at the end of the test, and
// the services' logs are shown if the test failed.
func startDemo(t *testing.T) *Demo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := Start(ctx, Options{
		Config: testConfig(t), Dir: t.TempDir(), ControlAddr: "127.0.0.1:0",
		Executable: os.Args[0], Env: testEnv, StopTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		_ = d.Stop(context.Background())
		if t.Failed() {
			dumpLogs(t, d.LogDir())
		}
	})
	return d
}

// dumpLogs shows the last lines of each service's log.
func dumpLogs(t *testing.T, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		t.Logf("--- %s (last lines)\n%s", filepath.Base(f), strings.Join(lines[max(0, len(lines)-8):], "\n"))
	}
}

// getJSON GETs base+path with query and decodes the JSON answer.
func getJSON(base, path string, query url.Values, out any) error {
	u := "http://" + base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

// eventually retries check every 250 ms until it returns nil or the
// deadline passes, then fails with its last error.
func eventually(t *testing.T, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %v", what, within, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// span is what the test reads of a stored span.
type span struct {
	service, name, id, parent, peer string
	kind                            int
}

// fetchTrace reads a trace from Horus' Tempo API (OTLP JSON).
func fetchTrace(horus, id string) ([]span, error) {
	var tr struct {
		Batches []struct {
			Resource struct {
				Attributes []struct {
					Key   string `json:"key"`
					Value struct {
						StringValue string `json:"stringValue"`
					} `json:"value"`
				} `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Spans []struct {
					Name         string `json:"name"`
					SpanID       string `json:"spanId"`
					ParentSpanID string `json:"parentSpanId"`
					Kind         int    `json:"kind"`
					Attributes   []struct {
						Key   string `json:"key"`
						Value struct {
							StringValue string `json:"stringValue"`
						} `json:"value"`
					} `json:"attributes"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"batches"`
	}
	if err := getJSON(horus, "/api/traces/"+id, nil, &tr); err != nil {
		return nil, err
	}
	var out []span
	for _, b := range tr.Batches {
		var svc string
		for _, a := range b.Resource.Attributes {
			if a.Key == "service.name" {
				svc = a.Value.StringValue
			}
		}
		for _, ss := range b.ScopeSpans {
			for _, s := range ss.Spans {
				sp := span{service: svc, name: s.Name, id: s.SpanID, parent: s.ParentSpanID, kind: s.Kind}
				for _, a := range s.Attributes {
					if a.Key == "peer.service" {
						sp.peer = a.Value.StringValue
					}
				}
				out = append(out, sp)
			}
		}
	}
	return out, nil
}

// checkWhole checks that a checkout's trace arrived whole: a span of
// every service on the path, the bank-api and email-provider only as
// client spans, and one root with every other span's parent present.
func checkWhole(spans []span) error {
	services := map[string]bool{}
	peers := map[string]bool{}
	ids := map[string]bool{}
	for _, s := range spans {
		services[s.service] = true
		ids[s.id] = true
		if s.kind == 3 { // SPAN_KIND_CLIENT
			peers[s.peer] = true
		}
	}
	for _, want := range []string{"api-gateway", "auth", "orders", "products", "payments", "fraud-check", "notifications"} {
		if !services[want] {
			return fmt.Errorf("no span of %s (services %v)", want, keys(services))
		}
	}
	for _, external := range []string{"bank-api", "email-provider"} {
		if services[external] {
			return fmt.Errorf("%s, which is not instrumented, sent spans", external)
		}
		if !peers[external] {
			return fmt.Errorf("no client span to %s (peers %v)", external, keys(peers))
		}
	}
	roots := 0
	for _, s := range spans {
		switch {
		case s.parent == "":
			roots++
			if s.service != "api-gateway" {
				return fmt.Errorf("root span %q of %s, want the api-gateway's", s.name, s.service)
			}
		case !ids[s.parent]:
			return fmt.Errorf("span %q of %s: parent %s missing", s.name, s.service, s.parent)
		}
	}
	if roots != 1 {
		return fmt.Errorf("%d root spans", roots)
	}
	return nil
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDemo starts the demo and checks what it promises: the checkout made
// at start arrives in Horus as one whole trace across the services (the
// uninstrumented providers as client spans), its logs carry its trace_id
// and the request's user and tenant, the scraped RED histograms' exemplars
// name traces Horus has, target_info carries the services' versions, a
// fault forwarded through the parent makes a payments instance refuse
// connections, a deploy restarts an instance with a new service.version
// on the same address, and Stop leaves no service process behind.
func TestDemo(t *testing.T) {
	d := startDemo(t)
	a := d.Addrs()
	trace := d.FirstTrace()
	if len(trace) != 32 {
		t.Fatalf("first trace id %q", trace)
	}

	eventually(t, 20*time.Second, "the first checkout's trace, whole", func() error {
		spans, err := fetchTrace(a.Horus, trace)
		if err != nil {
			return err
		}
		return checkWhole(spans)
	})

	eventually(t, 20*time.Second, "the trace's logs", func() error {
		var res struct {
			Data struct {
				Result []struct {
					Stream map[string]string `json:"stream"`
					Values [][2]string       `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		q := url.Values{"query": {`{service_name="orders"} |= "order created" | trace_id="` + trace + `"`},
			"since": {"10m"}}
		if err := getJSON(a.Horus, "/loki/api/v1/query_range", q, &res); err != nil {
			return err
		}
		for _, r := range res.Data.Result {
			if r.Stream["service_instance_id"] == "orders-1" && r.Stream["user_id"] != "" && r.Stream["tenant_id"] != "" &&
				r.Stream["item_count"] != "" && len(r.Values) == 1 {
				return nil
			}
		}
		return fmt.Errorf("no \"order created\" line of orders-1 with user_id, tenant_id and item_count: %+v", res.Data.Result)
	})

	eventually(t, 30*time.Second, "exemplars of the RED histogram naming stored traces", func() error {
		var res struct {
			Data []struct {
				Exemplars []struct {
					Labels map[string]string `json:"labels"`
				} `json:"exemplars"`
			} `json:"data"`
		}
		now := time.Now()
		q := url.Values{"query": {`http_request_duration_seconds_bucket{job="api-gateway"}`},
			"start": {strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)}, "end": {strconv.FormatInt(now.Unix()+60, 10)}}
		if err := getJSON(a.Horus, "/api/v1/query_exemplars", q, &res); err != nil {
			return err
		}
		for _, s := range res.Data {
			for _, e := range s.Exemplars {
				if id := e.Labels["trace_id"]; id != "" {
					spans, err := fetchTrace(a.Horus, id)
					if err != nil || len(spans) == 0 {
						return fmt.Errorf("exemplar trace %s: %d spans, %w", id, len(spans), err)
					}
					return nil
				}
			}
		}
		return errors.New("no exemplar yet")
	})

	eventually(t, 20*time.Second, "target_info of the three payments instances", func() error {
		var res struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
				} `json:"result"`
			} `json:"data"`
		}
		q := url.Values{"query": {`target_info{job="payments", service_version="` + DefaultVersion + `"}`}}
		if err := getJSON(a.Horus, "/api/v1/query", q, &res); err != nil {
			return err
		}
		var got []string
		for _, r := range res.Data.Result {
			got = append(got, r.Metric["instance"])
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"payments-1", "payments-2", "payments-3"}) {
			return fmt.Errorf("instances %v", got)
		}
		return nil
	})

	// The control API, through its client.
	ctx := context.Background()
	c := NewClient(a.Control)
	if svcs, err := c.Services(ctx); err != nil || len(svcs) != 11 || !svcs[0].Running {
		t.Fatalf("services: %+v, %v", svcs, err)
	}
	res, err := c.Checkout(ctx, load.CheckoutOptions{Items: 3, PaymentMethod: "paypal", Tenant: "wonka"})
	if err != nil || res.Items != 3 || res.Tenant != "wonka" || len(res.TraceID) != 32 || res.OrderID == "" ||
		res.Status != http.StatusCreated && res.Status != http.StatusPaymentRequired {
		t.Fatalf("checkout: %+v, %v", res, err)
	}
	if _, err := c.Checkout(ctx, load.CheckoutOptions{Tenant: "nobody"}); err == nil || !strings.Contains(err.Error(), "tenant") {
		t.Fatalf("checkout for an unknown tenant: %v", err)
	}

	// The command line, against the control API.
	cli := func(args ...string) string {
		t.Helper()
		var out, errOut strings.Builder
		if err := Main(append(args, "--control", a.Control), &out, &errOut); err != nil {
			t.Fatalf("horus demo %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String()
	}
	for args, want := range map[string]string{
		"status":             "payments-3",
		"scenario ls":        "orders-pool-exhausted",
		"checkout --items 2": "(2 items,",
		"load":               "peak rate",
		"fault add kind=latency service=auth median=1ms": "service=auth",
	} {
		if out := cli(strings.Fields(args)...); !strings.Contains(out, want) {
			t.Errorf("horus demo %s: no %q in\n%s", args, want, out)
		}
	}
	if out := cli("fault", "ls"); !strings.Contains(out, "auth-1") {
		t.Errorf("fault ls: %s", out)
	}
	cli("fault", "rm", "--all")
	if out := cli("fault", "ls"); strings.Contains(out, "auth-1") {
		t.Errorf("fault ls after rm --all: %s", out)
	}

	// A fault through the parent: payments-2 refuses connections.
	p2 := instanceStatus(d, "payments-2")
	st, err := d.AddFault(ctx, fault.Fault{Kind: fault.KindRefuse, Target: fault.Target{Service: "payments", Instance: "2"}})
	if err != nil || !slices.Equal(st.Instances, []string{"payments-2"}) {
		t.Fatalf("add fault: %+v, %v", st, err)
	}
	if _, err := net.DialTimeout("tcp", p2.Addr, 2*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial payments-2 while refusing: %v, want connection refused", err)
	}
	if fs, err := d.Faults(ctx); err != nil || len(fs) != 1 || fs[0].Fault.ID != st.Fault.ID {
		t.Fatalf("faults: %+v, %v", fs, err)
	}

	if found, err := d.RemoveFault(ctx, st.Fault.ID); !found || err != nil {
		t.Fatalf("remove fault: %v, %v", found, err)
	}
	dialOK(t, p2.Addr)

	// Scenario 1: a deploy of payments-2 carrying two faults. A new
	// process, the new version, the same address, refusing connections
	// from its start; off, the faults end and the deploy is rolled back.
	sc, err := d.StartScenario(ctx, "1")
	if err != nil || !sc.Active || sc.Name != "payments-bad-config" {
		t.Fatalf("scenario 1: %+v, %v", sc, err)
	}
	after := instanceStatus(d, "payments-2")
	if after.PID == p2.PID || after.Version != fault.BadConfigVersion || after.Addr != p2.Addr || !after.Running {
		t.Fatalf("payments-2 after the scenario's deploy: %+v (before: %+v)", after, p2)
	}
	if _, err := net.DialTimeout("tcp", p2.Addr, 2*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial payments-2 after the deploy: %v, want connection refused", err)
	}
	if fs, err := d.Faults(ctx); err != nil || len(fs) != 2 || !slices.Equal(fs[0].Instances, []string{"payments-2"}) ||
		fs[0].Fault.Version != fault.BadConfigVersion {
		t.Fatalf("faults of scenario 1: %+v, %v", fs, err)
	}
	if err := d.StopScenario(ctx); err != nil {
		t.Fatalf("scenario off: %v", err)
	}
	if back := instanceStatus(d, "payments-2"); back.Version != DefaultVersion || back.PID == after.PID || !back.Running {
		t.Fatalf("payments-2 after the rollback: %+v", back)
	}
	dialOK(t, p2.Addr)
	if fs, err := d.Faults(ctx); err != nil || len(fs) != 0 {
		t.Fatalf("faults after scenario off: %+v, %v", fs, err)
	}
	// The deploy and the rollback are in Horus' change events, recorded by
	// the demo before each new process started, so Horus' detection of the
	// versions in the telemetry made none of its own.
	var recorded struct {
		Data []struct {
			Kind, Instance, Version, Source, Author string
		} `json:"data"`
	}
	if err := getJSON(a.Horus, "/api/v1/changes", url.Values{"service": {"payments"}}, &recorded); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range recorded.Data {
		got = append(got, strings.Join([]string{c.Kind, c.Instance, c.Version, c.Source, c.Author}, " "))
	}
	if want := []string{"rollback payments-2 1.0.0 api horus demo", "deploy payments-2 " + fault.BadConfigVersion + " api horus demo"}; !slices.Equal(got, want) {
		t.Fatalf("Horus' change events of payments: %q, want %q", got, want)
	}
	var kinds []string
	for _, ev := range d.Changes() {
		kinds = append(kinds, ev.Kind)
	}
	want := []string{"fault_added", "fault_removed", "fault_added", "fault_removed", "fault_added", "fault_added", "deploy", "scenario_on",
		"fault_removed", "fault_removed", "rollback", "scenario_off"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("change events %v, want %v", kinds, want)
	}

	// Stop: every service process gone.
	var pids []int
	for _, in := range d.Instances() {
		pids = append(pids, in.PID)
	}
	start := time.Now()
	if err := d.Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
	if alive := living(pids); len(alive) > 0 {
		t.Fatalf("service processes alive after Stop: %v", alive)
	}
	// Under -race the services are race-instrumented too (this binary):
	// their reports are in their logs.
	logs, _ := filepath.Glob(filepath.Join(d.LogDir(), "*.log"))
	for _, f := range logs {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), "WARNING: DATA RACE") {
			t.Errorf("%s reports a data race:\n%s", filepath.Base(f), b)
		}
	}
}

func instanceStatus(d *Demo, id string) InstanceStatus {
	for _, in := range d.Instances() {
		if in.InstanceID == id {
			return in
		}
	}
	return InstanceStatus{}
}

// dialOK checks that addr accepts a connection.
func dialOK(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	_ = c.Close()
}

// living returns the pids among pids whose process exists and is not a
// zombie (an exited child its reaper has not waited for yet).
func living(pids []int) []int {
	var out []int
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone
		}
		// pid (comm) state ...: the state follows the last ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] == 'Z' {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// children returns the pids of the processes whose parent is ppid.
func children(ppid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:]) // state ppid ...
		if len(fields) > 1 && fields[1] == strconv.Itoa(ppid) {
			pid, _ := strconv.Atoi(strings.Fields(s)[0])
			out = append(out, pid)
		}
	}
	return out
}

// startParent runs `horus demo` (this test binary re-executed) as its own
// process, and returns it once its banner is printed, with the pids of
// its service processes.
func startParent(t *testing.T) (*exec.Cmd, []int) {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "demo", "--dir", dir, "--data-dir", dir,
		"--http-addr", "127.0.0.1:0", "--otlp-grpc-addr", "127.0.0.1:0", "--otlp-http-addr", "127.0.0.1:0",
		"--control-addr", "127.0.0.1:0", "--rate", "2", "--stop-timeout", "5s")
	cmd.Env = append(os.Environ(), testEnv...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("parent's stderr:\n%s", stderr.String())
		}
	})
	banner := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Stop with Ctrl-C") {
				banner <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		banner <- fmt.Errorf("the demo ended before its banner: %w", sc.Err())
	}()
	select {
	case err := <-banner:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no banner within 60s")
	}
	pids := children(cmd.Process.Pid)
	if len(pids) != 11 {
		t.Fatalf("%d service processes, want 11: %v", len(pids), pids)
	}
	return cmd, pids
}

// waitGone waits until none of pids is alive.
func waitGone(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	eventually(t, within, "service processes gone", func() error {
		if alive := living(pids); len(alive) > 0 {
			return fmt.Errorf("alive: %v", alive)
		}
		return nil
	})
}

// TestSIGTERM: `horus demo` stops on SIGTERM, with every service process,
// and exits 0.
func TestSIGTERM(t *testing.T) {
	cmd, pids := startParent(t)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not exit within 30s of SIGTERM")
	}
	t.Logf("exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	waitGone(t, pids, 2*time.Second)
}

// TestKillParent: when `horus demo` is killed (SIGKILL: no chance to stop
// anything), its service processes end too, by the parent-death signal.
func TestKillParent(t *testing.T) {
	cmd, pids := startParent(t)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	start := time.Now()
	waitGone(t, pids, 15*time.Second)
	t.Logf("service processes gone %s after the parent's SIGKILL", time.Since(start).Round(time.Millisecond))
}

// TestBadOptions: a fault or scenario the shop does not have is refused
// before anything starts.
func TestBadOptions(t *testing.T) {
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Scenario: "nope"}, "no such scenario"},
		{Options{Faults: []string{"kind=latency service=warehouse median=1s"}}, `unknown service "warehouse"`},
		{Options{Faults: []string{"kind=latency service=payments"}}, "median"},
		{Options{ChildOutput: "syslog"}, "child output"},
	} {
		c.opts.Config, c.opts.Dir = testConfig(t), t.TempDir()
		d, err := Start(context.Background(), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			if d != nil {
				_ = d.Stop(context.Background())
			}
			t.Errorf("%+v: %v, want an error with %q", c.opts, err, c.want)
		}
	}
}
