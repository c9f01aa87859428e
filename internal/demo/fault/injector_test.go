package fault

import (
	"context"
	"errors"
	mrand "math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestInjector(t *testing.T, service, instance string, reg prometheus.Registerer) *Injector {
	t.Helper()
	i, err := NewInjector(service, instance, reg)
	if err != nil {
		t.Fatal(err)
	}
	i.rng = mrand.New(mrand.NewPCG(7, 11))
	t.Cleanup(i.Close)
	return i
}

func mustAdd(t *testing.T, i *Injector, spec string) Fault {
	t.Helper()
	f, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := i.Add(f)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBeforeScope(t *testing.T) {
	i := newTestInjector(t, "payments", "1", nil)
	f := mustAdd(t, i, `kind=error service=payments route="POST /pay" match=tenant:acme,payment_method:card min_items=3 status=503 message="bank down"`)
	ctx := context.Background()
	acme := map[string]string{"tenant": "acme", "payment_method": "card", "user_id": "u1"}
	for _, c := range []struct {
		name string
		r    Request
		hit  bool
	}{
		{"all match", Request{Route: "POST /pay", Attrs: acme, Items: 3}, true},
		{"other route", Request{Route: "POST /refund", Attrs: acme, Items: 3}, false},
		{"other method", Request{Route: "GET /pay", Attrs: acme, Items: 3}, false},
		{"other tenant", Request{Route: "POST /pay", Attrs: map[string]string{"tenant": "globex", "payment_method": "card"}, Items: 3}, false},
		{"attribute missing", Request{Route: "POST /pay", Attrs: map[string]string{"tenant": "acme"}, Items: 3}, false},
		{"too few items", Request{Route: "POST /pay", Attrs: acme, Items: 2}, false},
	} {
		err := i.Before(ctx, c.r)
		var se *StatusError
		if got := errors.As(err, &se); got != c.hit {
			t.Errorf("%s: Before = %v, want hit %v", c.name, err, c.hit)
			continue
		}
		if c.hit && (se.Status != 503 || se.Message != "bank down" || se.FaultID != f.ID) {
			t.Errorf("%s: %+v", c.name, se)
		}
		if !c.hit && err != nil {
			t.Errorf("%s: Before = %v", c.name, err)
		}
	}
	// A route without a method matches the path under any method.
	mustAdd(t, i, `kind=error service=payments route=/refund id=r`)
	if err := i.Before(ctx, Request{Route: "DELETE /refund"}); err == nil {
		t.Error("route /refund did not match DELETE /refund")
	}
	if err := i.Before(ctx, Request{Route: "DELETE /refunds"}); err != nil {
		t.Errorf("route /refund matched DELETE /refunds: %v", err)
	}
}

func TestBeforeFraction(t *testing.T) {
	i := newTestInjector(t, "orders", "1", nil)
	mustAdd(t, i, `kind=error service=orders fraction=0.3`)
	hits := 0
	const n = 10000
	for range n {
		if i.Before(context.Background(), Request{Route: "POST /orders"}) != nil {
			hits++
		}
	}
	if hits < 2700 || hits > 3300 {
		t.Fatalf("fraction 0.3 hit %d of %d requests", hits, n)
	}
}

func TestBeforeOrderAndLatency(t *testing.T) {
	i := newTestInjector(t, "orders", "1", nil)
	mustAdd(t, i, `kind=latency service=orders median=30ms id=slow`)
	mustAdd(t, i, `kind=error service=orders status=504 id=err`)
	start := time.Now()
	err := i.Before(context.Background(), Request{})
	if took := time.Since(start); took < 30*time.Millisecond {
		t.Errorf("latency then error: took %v, want the 30ms delay first", took)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 504 {
		t.Fatalf("latency then error: %v", err)
	}
	// Re-adding "slow" replaces it in place: still before the error.
	mustAdd(t, i, `kind=latency service=orders median=1ms id=slow`)
	if l := i.List(); len(l) != 2 || l[0].ID != "slow" || l[0].Latency.Median != time.Millisecond || l[1].Status != 504 {
		t.Fatalf("replace: %v", l)
	}
	// An error added first answers without delay.
	i.Clear()
	mustAdd(t, i, `kind=error service=orders id=err`)
	mustAdd(t, i, `kind=latency service=orders median=5s id=slow`)
	start = time.Now()
	if err := i.Before(context.Background(), Request{}); !errors.As(err, &se) || se.Status != 500 {
		t.Fatalf("error first: %v (default status 500)", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("error first: took %v", took)
	}
}

func TestBeforeContext(t *testing.T) {
	i := newTestInjector(t, "bank-api", "1", nil)
	mustAdd(t, i, `kind=latency service=bank-api median=10s p99=30s`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := i.Before(ctx, Request{Route: "POST /charges"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Before = %v, want the context's deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Before returned %v after the deadline", took)
	}
}

func TestAddTargets(t *testing.T) {
	i := newTestInjector(t, "payments", "2", nil)
	for _, spec := range []string{`kind=error service=orders`, `kind=error service=payments instance=1`} {
		f, _ := Parse(spec)
		if _, err := i.Add(f); !errors.Is(err, ErrNotThisProcess) || !strings.Contains(err.Error(), "this is payments instance 2") {
			t.Errorf("Add(%s) = %v, want ErrNotThisProcess", spec, err)
		}
	}
	got := mustAdd(t, i, `kind=error service=payments instance=2`)
	if got.ID == "" || got.Status != 500 {
		t.Errorf("Add assigned %+v, want an ID and status 500", got)
	}
	if _, err := i.Add(Fault{Kind: "nope", Target: Target{Service: "payments"}}); err == nil {
		t.Error("Add of an invalid fault succeeded")
	}
	// The stored fault is a copy: changing the caller's map changes nothing.
	m := map[string]string{"tenant": "acme"}
	f, err := i.Add(Fault{ID: "m", Kind: KindError, Target: Target{Service: "payments"}, Scope: Scope{Match: m}})
	if err != nil {
		t.Fatal(err)
	}
	m["tenant"] = "globex"
	f.Scope.Match["tenant"] = "initech"
	if err := i.Before(context.Background(), Request{Attrs: map[string]string{"tenant": "acme"}}); err == nil {
		t.Error("the stored match changed with the caller's map")
	}
	if !i.Remove("m") || i.Remove("m") {
		t.Error("Remove: want true then false")
	}
	i.Close()
	if _, err := i.Add(Fault{Kind: KindError, Target: Target{Service: "payments"}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close = %v", err)
	}
	if _, err := NewInjector("", "1", nil); err == nil {
		t.Error("NewInjector without a service succeeded")
	}
}

func TestRefusingHooksAndExpiry(t *testing.T) {
	i := newTestInjector(t, "payments", "2", nil)
	var (
		mu   sync.Mutex
		seen []bool
	)
	i.OnChange(func() {
		mu.Lock()
		seen = append(seen, i.Refusing())
		mu.Unlock()
	})
	last := func() (bool, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			return false, 0
		}
		return seen[len(seen)-1], len(seen)
	}
	mustAdd(t, i, `kind=refuse_connections service=payments instance=2 for=100ms`)
	if r, n := last(); !r || n != 1 {
		t.Fatalf("after Add the hook saw Refusing=%v (%d calls), want true once", r, n)
	}
	// The timer ends the fault and runs the hook with nobody reading.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, n := last(); !r && n == 2 {
			break
		}
		if time.Now().After(deadline) {
			r, n := last()
			t.Fatalf("after expiry the hook saw Refusing=%v (%d calls), want false on a second call", r, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if i.Refusing() || len(i.List()) != 0 {
		t.Fatal("an expired fault is still in force")
	}
	mustAdd(t, i, `kind=pool_exhaustion service=payments id=p`)
	if !i.PoolExhausted() || i.Refusing() {
		t.Fatal("pool_exhaustion: PoolExhausted false or Refusing true")
	}
	i.Clear()
	if i.PoolExhausted() {
		t.Fatal("PoolExhausted after Clear")
	}
	if _, n := last(); n != 4 {
		t.Fatalf("hook ran %d times, want 4 (add, expiry, add, clear)", n)
	}
}

func TestExpiryOnRead(t *testing.T) {
	i := newTestInjector(t, "orders", "1", nil)
	var now atomic.Int64
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	i.now = func() time.Time { return time.Unix(0, now.Load()) }
	var calls atomic.Int32
	i.OnChange(func() { calls.Add(1) })
	f := mustAdd(t, i, `kind=pool_exhaustion service=orders for=1h`)
	if !f.Expires.Equal(i.now().Add(time.Hour)) {
		t.Fatalf("Expires = %v", f.Expires)
	}
	mustAdd(t, i, `kind=slow_query service=orders min_items=5`)
	now.Add(int64(2 * time.Hour))
	// The timer is an hour of real time away: readers drop the fault.
	if i.PoolExhausted() {
		t.Fatal("PoolExhausted reads an expired fault")
	}
	if l := i.List(); len(l) != 1 || l[0].Kind != KindSlowQuery {
		t.Fatalf("List = %v, want the slow query only", l)
	}
	if calls.Load() != 3 {
		t.Fatalf("hook ran %d times, want 3 (two adds, the drop on List)", calls.Load())
	}
}

func TestSlowQuery(t *testing.T) {
	reg := prometheus.NewRegistry()
	i := newTestInjector(t, "products", "1", reg)
	if i.SlowQuery(1000) {
		t.Fatal("SlowQuery without a fault")
	}
	mustAdd(t, i, `kind=slow_query service=products min_items=200`)
	if i.SlowQuery(199) || !i.SlowQuery(200) || !i.SlowQuery(5000) {
		t.Fatal("SlowQuery around min_items=200")
	}
	if got := testutil.ToFloat64(i.injections.WithLabelValues("slow_query")); got != 2 {
		t.Fatalf("slow_query injections = %v, want 2", got)
	}
}

func TestHookMayChangeInjector(t *testing.T) {
	i := newTestInjector(t, "orders", "1", nil)
	var once sync.Once
	i.OnChange(func() {
		once.Do(func() { mustAdd(t, i, `kind=error service=orders id=from-hook`) })
	})
	done := make(chan struct{})
	go func() {
		mustAdd(t, i, `kind=error service=orders id=first`)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a hook that adds a fault deadlocked Add")
	}
	if len(i.List()) != 2 {
		t.Fatalf("List = %v", i.List())
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	i := newTestInjector(t, "orders", "1", reg)
	mustAdd(t, i, `kind=error service=orders fraction=0.5`)
	mustAdd(t, i, `kind=latency service=orders median=1ms route="GET /never"`)
	mustAdd(t, i, `kind=pool_exhaustion service=orders`)
	for range 100 {
		_ = i.Before(context.Background(), Request{Route: "POST /orders"})
	}
	hits := testutil.ToFloat64(i.injections.WithLabelValues("error"))
	if hits < 30 || hits > 70 {
		t.Fatalf("error injections = %v of 100 at fraction 0.5", hits)
	}
	want := `
# HELP demo_faults_active Demo faults in force in this process, by fault kind.
# TYPE demo_faults_active gauge
demo_faults_active{kind="cpu_burn"} 0
demo_faults_active{kind="error"} 1
demo_faults_active{kind="latency"} 1
demo_faults_active{kind="pool_exhaustion"} 1
demo_faults_active{kind="refuse_connections"} 0
demo_faults_active{kind="slow_query"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "demo_faults_active"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(i.injections.WithLabelValues("latency")); got != 0 {
		t.Fatalf("latency injections = %v for a route never requested", got)
	}
	if _, err := NewInjector("orders", "1", reg); err == nil {
		t.Fatal("a second injector registered the same metrics on one registry")
	}
}

func TestCPUBurnStops(t *testing.T) {
	i := newTestInjector(t, "payments", "2", nil)
	base := runtime.NumGoroutine()
	mustAdd(t, i, `kind=cpu_burn service=payments id=a cpu=1`)
	mustAdd(t, i, `kind=cpu_burn service=payments id=b cpu=0.5`)
	want := min(1.5, float64(runtime.NumCPU()))
	if got := i.BurningCPU(); got != want {
		t.Fatalf("BurningCPU = %v, want %v", got, want)
	}
	if n := runtime.NumGoroutine(); n < base+1 {
		t.Fatalf("%d goroutines, %d before: no burner started", n, base)
	}
	i.Remove("a")
	i.Remove("b")
	if i.BurningCPU() != 0 {
		t.Fatalf("BurningCPU after removal = %v", i.BurningCPU())
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines a while after the burn ended, %d before", runtime.NumGoroutine(), base)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// An expiring burn stops by itself, and Close waits for the spinners.
	mustAdd(t, i, `kind=cpu_burn service=payments for=50ms`)
	deadline = time.Now().Add(5 * time.Second)
	for i.BurningCPU() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("an expired cpu_burn still burns")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mustAdd(t, i, `kind=cpu_burn service=payments`)
	i.Close()
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("%d goroutines after Close, %d before", n, base)
	}
}

// TestConcurrent runs every method at once; with -race it checks the
// injector's locking.
func TestConcurrent(t *testing.T) {
	i := newTestInjector(t, "orders", "1", prometheus.NewRegistry())
	i.OnChange(func() { _ = i.Refusing() })
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = i.Before(context.Background(), Request{Route: "POST /orders", Items: w * 100})
				_ = i.SlowQuery(w * 100)
				_ = i.PoolExhausted()
			}
		}()
	}
	for n := range 200 {
		id := []string{"a", "b", "c"}[n%3]
		switch n % 5 {
		case 0:
			mustAdd(t, i, `kind=error service=orders fraction=0.5 id=`+id)
		case 1:
			mustAdd(t, i, `kind=latency service=orders median=10us for=1ms id=`+id)
		case 2:
			i.Remove(id)
		case 3:
			_ = i.List()
		case 4:
			mustAdd(t, i, `kind=refuse_connections service=orders for=2ms id=`+id)
		}
	}
	i.Clear()
	close(stop)
	wg.Wait()
}
