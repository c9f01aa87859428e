package metrics

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Errors of Queue.Submit.
var (
	// ErrQueueFull: the queue held Capacity tasks; the task was refused and
	// counted in <name>_rejections_total.
	ErrQueueFull = errors.New("metrics: work queue full")
	// ErrQueueClosed: Shutdown was called.
	ErrQueueClosed = errors.New("metrics: work queue shut down")
)

// PanicError is what QueueOptions.OnError receives for a task that
// panicked: the value it panicked with and the stack of the panic.
type PanicError struct {
	Value any
	Stack []byte
}

// Error gives the panic value; the stack is in Stack.
func (e *PanicError) Error() string { return fmt.Sprintf("task panicked: %v", e.Value) }

// QueueOptions configures NewQueue.
type QueueOptions struct {
	// Capacity is how many tasks may wait for a worker; Submit refuses more
	// with ErrQueueFull. Required, > 0.
	Capacity int
	// Workers is how many goroutines run tasks; 0 means 1.
	Workers int
	// OnError, if set, is called with a task's non-nil error and with a
	// *PanicError for a task that panicked (the worker recovers and goes on),
	// and the task's context, so it can log with the task's trace. Tasks'
	// errors are counted whether it is set or not.
	OnError func(ctx context.Context, err error)
}

// Queue is a bounded work queue run by a fixed pool of workers and
// instrumented for Brendan Gregg's USE method
// (https://www.brendangregg.com/usemethod.html), the resource being the
// worker pool:
//
//   - Utilisation, the fraction of time the resource was busy:
//     rate(<name>_busy_seconds_total[5m]) / <name>_workers, from the
//     worker-seconds spent running tasks (each task's time is added when it
//     ends). <name>_workers_busy is the number busy now.
//   - Saturation, the work the resource cannot serve yet and queues:
//     <name>_queue_depth, the tasks waiting, against <name>_queue_capacity;
//     and <name>_wait_seconds, a histogram of how long tasks waited for a
//     worker. Depth near capacity or growing waits mean the workers do not
//     keep up.
//   - Errors: <name>_rejections_total, tasks refused because the queue was
//     full (saturation turned into failure), and
//     <name>_tasks_total{result="success|error|panic"}, tasks run by how they
//     ended.
//
// The names are built from the name given to NewQueue and held to the
// factory's rules.
type Queue struct {
	ch      chan queued
	onError func(context.Context, error)
	workers int

	depth, busy prometheus.Gauge
	busyTime    prometheus.Counter
	rejections  prometheus.Counter
	results     *CounterVec
	wait        prometheus.Histogram

	mu     sync.RWMutex
	closed bool
	done   chan struct{} // closed when every worker has returned
	hard   context.Context
	cancel context.CancelFunc
}

type queued struct {
	ctx  context.Context
	task func(context.Context) error
	at   time.Time
}

// NewQueue creates a Queue named name (a snake_case prefix such as
// "shop_email"; its metrics are name + "_queue_depth" and so on) on f, and
// starts its workers. Errors: opts.Capacity ≤ 0, a name already used by a
// queue of f, the metrics' names refused by the rules.
func NewQueue(f *Factory, name string, opts QueueOptions) (*Queue, error) {
	if opts.Capacity <= 0 {
		return nil, fmt.Errorf("metrics: queue %q: capacity must be > 0, got %d", name, opts.Capacity)
	}
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	f.mu.Lock()
	if f.queues == nil {
		f.queues = map[string]bool{}
	}
	dup := f.queues[name]
	f.queues[name] = true
	f.mu.Unlock()
	if dup {
		return nil, fmt.Errorf("metrics: a queue named %q exists already", name)
	}
	q := &Queue{ch: make(chan queued, opts.Capacity), onError: opts.OnError, workers: opts.Workers, done: make(chan struct{})}
	var errs []error
	gauge := func(suffix, help string) prometheus.Gauge {
		g, err := f.NewGauge(prometheus.GaugeOpts{Name: name + suffix, Help: help})
		errs = append(errs, err)
		return g
	}
	counter := func(suffix, help string) prometheus.Counter {
		c, err := f.NewCounter(prometheus.CounterOpts{Name: name + suffix, Help: help})
		errs = append(errs, err)
		return c
	}
	q.depth = gauge("_queue_depth", "Tasks waiting in the queue for a worker (USE saturation).")
	capacity := gauge("_queue_capacity", "Tasks the queue holds at most; more are rejected.")
	workers := gauge("_workers", "Workers running the queue's tasks.")
	q.busy = gauge("_workers_busy", "Workers running a task now.")
	q.busyTime = counter("_busy_seconds_total", "Worker time spent running tasks, added as each ends; rate() over _workers is the utilisation (USE).")
	q.rejections = counter("_rejections_total", "Tasks refused because the queue was full (USE errors).")
	var err error
	q.results, err = f.NewCounterVec(prometheus.CounterOpts{Name: name + "_tasks_total", Help: "Tasks run, by result: success, error (the task returned one) or panic."}, "result")
	errs = append(errs, err)
	q.wait, err = f.NewHistogram(prometheus.HistogramOpts{Name: name + "_wait_seconds", Help: "Time tasks waited in the queue before a worker took them (USE saturation)."})
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	capacity.Set(float64(opts.Capacity))
	workers.Set(float64(opts.Workers))
	for _, r := range []string{"success", "error", "panic"} {
		q.results.WithLabelValues(r)
	}
	q.hard, q.cancel = context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(q.work)
	}
	go func() {
		wg.Wait()
		close(q.done)
	}()
	return q, nil
}

// Submit queues task without blocking. The task runs on a worker with a
// context that carries ctx's values (its span, its log fields) but not its
// cancellation or deadline, since the caller usually returns before the task
// runs; that context is cancelled only when Shutdown gives up waiting.
// Errors: ErrQueueFull (counted as a rejection), ErrQueueClosed.
func (q *Queue) Submit(ctx context.Context, task func(context.Context) error) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrQueueClosed
	}
	q.depth.Inc() // before the send, so a worker's Dec never comes first
	select {
	case q.ch <- queued{ctx: context.WithoutCancel(ctx), task: task, at: time.Now()}:
		return nil
	default:
		q.depth.Dec()
		q.rejections.Inc()
		return ErrQueueFull
	}
}

// Len is the number of tasks waiting.
func (q *Queue) Len() int { return len(q.ch) }

// Cap is the queue's capacity.
func (q *Queue) Cap() int { return cap(q.ch) }

// Shutdown refuses new tasks and waits for the queued and running ones to
// end. If ctx ends first, it cancels the tasks' contexts (tasks still queued
// then run with a cancelled context) and returns ctx.Err() without waiting
// further. Calling it again waits again.
func (q *Queue) Shutdown(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
		q.cancel()
		return nil
	case <-ctx.Done():
		q.cancel()
		return ctx.Err()
	}
}

func (q *Queue) work() {
	for t := range q.ch {
		q.depth.Dec()
		q.run(t)
	}
}

func (q *Queue) run(t queued) {
	start := time.Now()
	q.wait.Observe(start.Sub(t.at).Seconds())
	ctx, cancel := context.WithCancel(t.ctx)
	stop := context.AfterFunc(q.hard, cancel)
	q.busy.Inc()
	var err error
	result := "success"
	defer func() {
		if v := recover(); v != nil {
			result, err = "panic", &PanicError{Value: v, Stack: debug.Stack()}
		}
		q.busy.Dec()
		q.busyTime.Add(time.Since(start).Seconds())
		q.results.WithLabelValues(result).Inc()
		if err != nil && q.onError != nil {
			q.onError(ctx, err)
		}
		stop()
		cancel()
	}()
	if err = t.task(ctx); err != nil {
		result = "error"
	}
}
