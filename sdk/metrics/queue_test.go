package metrics

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func metricValue(t *testing.T, reg *prometheus.Registry, name string, label ...string) float64 {
	t.Helper()
	mf := gather(t, reg)[name]
	if mf == nil {
		t.Fatalf("%s not exposed", name)
	}
	for _, m := range mf.GetMetric() {
		if len(label) == 2 && !hasLabel(m, label[0], label[1]) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("%s%v: no series", name, label)
	return 0
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

// TestQueueUSE: a full queue rejects and counts it; depth, capacity,
// workers, busy time, waits and results are exposed.
func TestQueueUSE(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := NewFactory(reg, Options{})
	q, err := NewQueue(f, "shop_email", QueueOptions{Capacity: 2, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	started := make(chan struct{})
	blocker := func(context.Context) error {
		started <- struct{}{}
		<-release
		return nil
	}
	ctx := context.Background()
	if err := q.Submit(ctx, blocker); err != nil {
		t.Fatal(err)
	}
	<-started // the worker is busy: the next two wait
	for range 2 {
		if err := q.Submit(ctx, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Submit(ctx, func(context.Context) error { return nil }); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("fourth Submit = %v, want ErrQueueFull", err)
	}
	for name, want := range map[string]float64{
		"shop_email_queue_depth": 2, "shop_email_queue_capacity": 2, "shop_email_workers": 1,
		"shop_email_workers_busy": 1, "shop_email_rejections_total": 1,
	} {
		if got := metricValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if q.Len() != 2 || q.Cap() != 2 {
		t.Errorf("Len %d Cap %d", q.Len(), q.Cap())
	}
	time.Sleep(20 * time.Millisecond) // busy time and waits to measure
	close(release)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := q.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if err := q.Submit(ctx, blocker); !errors.Is(err, ErrQueueClosed) {
		t.Errorf("Submit after Shutdown = %v", err)
	}
	if got := metricValue(t, reg, "shop_email_tasks_total", "result", "success"); got != 3 {
		t.Errorf("successes = %v, want 3", got)
	}
	if got := metricValue(t, reg, "shop_email_busy_seconds_total"); got < 0.02 {
		t.Errorf("busy seconds = %v, want at least the 20ms the first task was held", got)
	}
	if got := metricValue(t, reg, "shop_email_wait_seconds"); got != 3 {
		t.Errorf("waits observed = %v, want 3", got)
	}
	if got := metricValue(t, reg, "shop_email_queue_depth") + metricValue(t, reg, "shop_email_workers_busy"); got != 0 {
		t.Errorf("depth + busy after shutdown = %v", got)
	}
	if _, err := NewQueue(f, "shop_email", QueueOptions{Capacity: 1}); err == nil {
		t.Error("a second queue of the same name was created")
	}
	if _, err := NewQueue(f, "shopEmail", QueueOptions{Capacity: 1}); !hasRule(err, RuleSnakeCase) {
		t.Errorf("camelCase queue name: %v", err)
	}
}

type ctxKey struct{}

// TestQueueErrorsAndContext: errors and panics are counted and reported
// with the task's context, which keeps the submitter's values but not its
// cancellation.
func TestQueueErrorsAndContext(t *testing.T) {
	reg := prometheus.NewRegistry()
	var mu sync.Mutex
	var reported []error
	var values []any
	q, err := NewQueue(NewFactory(reg, Options{}), "jobs", QueueOptions{Capacity: 4, Workers: 2, OnError: func(ctx context.Context, err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err)
		values = append(values, ctx.Value(ctxKey{}))
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "req-1"))
	boom := errors.New("boom")
	alive := make(chan error, 1)
	_ = q.Submit(ctx, func(context.Context) error { return boom })
	_ = q.Submit(ctx, func(context.Context) error { panic("bad task") })
	cancel() // the request ends before the task runs
	_ = q.Submit(context.WithValue(context.Background(), ctxKey{}, "req-2"), func(tctx context.Context) error {
		alive <- tctx.Err()
		return nil
	})
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := q.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if err := <-alive; err != nil {
		t.Errorf("task context err = %v, want nil", err)
	}
	for result, want := range map[string]float64{"success": 1, "error": 1, "panic": 1} {
		if got := metricValue(t, reg, "jobs_tasks_total", "result", result); got != want {
			t.Errorf("result %s = %v, want %v", result, got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 2 {
		t.Fatalf("OnError got %v", reported)
	}
	var pe *PanicError
	for i, e := range reported {
		if values[i] != "req-1" {
			t.Errorf("OnError context value = %v, want req-1", values[i])
		}
		if errors.As(e, &pe) && (pe.Value != "bad task" || len(pe.Stack) == 0) {
			t.Errorf("panic error %v stack %d bytes", pe.Value, len(pe.Stack))
		}
	}
	if pe == nil || !errors.Is(errors.Join(reported...), boom) {
		t.Errorf("reported %v, want boom and a *PanicError", reported)
	}
}

// TestQueueShutdownDeadline: when Shutdown's context ends, running tasks'
// contexts are cancelled.
func TestQueueShutdownDeadline(t *testing.T) {
	q, err := NewQueue(NewFactory(prometheus.NewRegistry(), Options{}), "slow", QueueOptions{Capacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	ended := make(chan error, 1)
	_ = q.Submit(context.Background(), func(ctx context.Context) error {
		close(started)
		select {
		case <-ctx.Done():
			ended <- ctx.Err()
		case <-time.After(10 * time.Second):
			ended <- errors.New("not cancelled")
		}
		return nil
	})
	<-started
	sctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("task saw %v, want Canceled", err)
	}
}
