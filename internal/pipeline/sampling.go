package pipeline

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/horus-obs/horus/internal/store/events"
)

// SamplerOptions configure tail sampling.
type SamplerOptions struct {
	// DecisionWait is how long after its first span a trace is decided.
	DecisionWait time.Duration
	// LatencyThreshold keeps every trace lasting at least this long, from
	// its first span's start to its last span's end; 0 keeps none for
	// latency.
	LatencyThreshold time.Duration
	// Probability is the share of the other traces kept, 0 to 1, by a
	// hash of the trace id: the same trace is decided alike everywhere.
	Probability float64
	// MaxTraces bounds the traces waiting; beyond it the oldest are
	// decided early.
	MaxTraces int
	// RememberFor is how long a decision is kept for the late spans of a
	// trace; 0 is 5 × DecisionWait.
	RememberFor time.Duration
}

// Sampler is tail sampling: it holds each trace's spans for DecisionWait
// after its first span, then stores the whole trace, or none of it. A
// trace with an error span is kept, so is one over LatencyThreshold, and a
// Probability share of the rest. Spans that come after their trace's
// decision follow it (for RememberFor). Derived metrics are computed
// before it, so they count every span.
//
// Spans waiting for a decision are in memory only: a crash loses them,
// though their batch was acknowledged (a graceful stop decides and stores
// every waiting trace).
type Sampler struct {
	opts      SamplerOptions
	store     SpanStore
	logger    *slog.Logger
	threshold uint64 // hash below: kept by probability

	mu      sync.Mutex
	pending map[traceKey]*pendingTrace
	queue   []traceKey // pending, oldest first: the order of their decisions
	decided map[traceKey]decision
	done    []decided // decisions, oldest first, to forget them

	traces *prometheus.CounterVec
	spans  *prometheus.CounterVec
}

type traceKey struct {
	tenant string
	id     events.TraceID
}

type pendingTrace struct {
	first      time.Time
	spans      []events.Event
	err        bool
	start, end int64 // ns
}

type decision struct {
	keep bool
	at   time.Time
}

type decided struct {
	key traceKey
	at  time.Time
}

// Decision reasons, as the reason label of horus_sampling_traces_total.
const (
	reasonError       = "error"
	reasonLatency     = "latency"
	reasonProbability = "probabilistic"
)

// NewSampler returns a sampler that stores what it keeps in store. reg,
// if not nil, gets its metrics.
func NewSampler(opts SamplerOptions, store SpanStore, reg prometheus.Registerer, logger *slog.Logger) *Sampler {
	if opts.DecisionWait <= 0 {
		opts.DecisionWait = 10 * time.Second
	}
	if opts.MaxTraces <= 0 {
		opts.MaxTraces = 50000
	}
	if opts.RememberFor <= 0 {
		opts.RememberFor = 5 * opts.DecisionWait
	}
	s := &Sampler{
		opts: opts, store: store, logger: logger,
		pending: map[traceKey]*pendingTrace{},
		decided: map[traceKey]decision{},
		traces: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_sampling_traces_total",
			Help: "Traces decided by tail sampling, by decision (kept, dropped) and reason (error, latency, probabilistic).",
		}, []string{"decision", "reason"}),
		spans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_sampling_spans_total",
			Help: "Spans through tail sampling, by decision: kept, dropped, or failed (kept, but the store refused them).",
		}, []string{"decision"}),
	}
	switch p := opts.Probability; {
	case p >= 1:
		s.threshold = math.MaxUint64
	case p > 0:
		s.threshold = uint64(p * (1 << 63) * 2)
	}
	if reg != nil {
		reg.MustRegister(s.traces, s.spans, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "horus_sampling_pending_traces",
			Help: "Traces waiting for their tail-sampling decision.",
		}, func() float64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			return float64(len(s.pending))
		}))
	}
	return s
}

// batches are spans to store, by tenant.
type batches map[string][]events.Event

// Add takes spans of a tenant. Those of decided traces are stored or
// dropped at once, the others wait; the error is the store's, for spans
// of kept traces.
func (s *Sampler) Add(ctx context.Context, tenantID string, spans []events.Event) error {
	now := time.Now()
	out := batches{}
	s.mu.Lock()
	for i := range spans {
		e := &spans[i]
		k := traceKey{tenantID, e.TraceID}
		if d, ok := s.decided[k]; ok {
			if d.keep {
				out[tenantID] = append(out[tenantID], *e)
			} else {
				s.spans.WithLabelValues("dropped").Inc()
			}
			continue
		}
		p := s.pending[k]
		if p == nil {
			if len(s.pending) >= s.opts.MaxTraces {
				s.decideOldest(now, out)
			}
			p = &pendingTrace{first: now, start: e.Time, end: e.End()}
			s.pending[k] = p
			s.queue = append(s.queue, k)
		}
		p.spans = append(p.spans, *e)
		p.err = p.err || e.StatusCode == 2
		p.start, p.end = min(p.start, e.Time), max(p.end, e.End())
	}
	s.mu.Unlock()
	return s.write(ctx, out)
}

// Decide decides every trace that has waited DecisionWait by now (all of
// them if all) and stores the kept ones.
func (s *Sampler) Decide(ctx context.Context, now time.Time, all bool) error {
	out := batches{}
	s.mu.Lock()
	for len(s.queue) > 0 && (all || now.Sub(s.pending[s.queue[0]].first) >= s.opts.DecisionWait) {
		s.decideOldest(now, out)
	}
	for len(s.done) > 0 && now.Sub(s.done[0].at) > s.opts.RememberFor {
		delete(s.decided, s.done[0].key)
		s.done = s.done[1:]
	}
	s.mu.Unlock()
	return s.write(ctx, out)
}

// decideOldest decides the trace waiting longest; its spans go to out if
// kept.
func (s *Sampler) decideOldest(now time.Time, out batches) {
	k := s.queue[0]
	s.queue = s.queue[1:]
	p := s.pending[k]
	delete(s.pending, k)
	keep, reason := s.decide(k.id, p)
	s.decided[k] = decision{keep: keep, at: now}
	s.done = append(s.done, decided{k, now})
	if keep {
		s.traces.WithLabelValues("kept", reason).Inc()
		out[k.tenant] = append(out[k.tenant], p.spans...)
		return
	}
	s.traces.WithLabelValues("dropped", reason).Inc()
	s.spans.WithLabelValues("dropped").Add(float64(len(p.spans)))
}

func (s *Sampler) decide(id events.TraceID, p *pendingTrace) (keep bool, reason string) {
	switch {
	case p.err:
		return true, reasonError
	case s.opts.LatencyThreshold > 0 && p.end-p.start >= int64(s.opts.LatencyThreshold):
		return true, reasonLatency
	}
	return s.threshold != 0 && xxhash.Sum64(id[:]) <= s.threshold, reasonProbability
}

// write stores the kept spans, by tenant.
func (s *Sampler) write(ctx context.Context, out batches) error {
	var first error
	for t, spans := range out {
		if err := s.store.Append(ctx, t, events.KindSpan, spans); err != nil {
			s.spans.WithLabelValues("failed").Add(float64(len(spans)))
			if first == nil {
				first = err
			}
			continue
		}
		s.spans.WithLabelValues("kept").Add(float64(len(spans)))
	}
	return first
}

// Run decides every second until ctx ends, then decides and stores every
// trace still waiting.
func (s *Sampler) Run(ctx context.Context) {
	tick := time.NewTicker(min(time.Second, s.opts.DecisionWait/2))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := s.Decide(context.Background(), time.Now(), true); err != nil {
				s.logger.Error("storing sampled traces at shutdown failed", "err", err)
			}
			return
		case now := <-tick.C:
			if err := s.Decide(ctx, now, false); err != nil {
				s.logger.Error("storing sampled traces failed", "err", err)
			}
		}
	}
}
