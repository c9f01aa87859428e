package changes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/tenant"
)

// SeriesName is the metric of the series a change is a sample of.
const SeriesName = "horus_change_event"

var seriesMeta = metadata.Metadata{
	Type: model.MetricTypeGauge,
	Help: "A change event (deploy, config, feature_flag, rollback, other): one sample of value 1 at the time of each change, for annotations.",
}

// EventStore is where changes are kept: the event store.
type EventStore interface {
	Append(ctx context.Context, tenant string, kind events.Kind, evs []events.Event) error
	Select(ctx context.Context, q events.Query) ([]events.Event, events.ScanStats, error)
	Status() events.Status
}

// Options configure a Store.
type Options struct {
	Logger *slog.Logger
	// Registerer gets the store's metrics, if set.
	Registerer prometheus.Registerer
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Store records changes in the event store and the metrics store, and
// watches incoming telemetry for new service versions.
type Store struct {
	events   EventStore
	metrics  storage.AppendableV2
	logger   *slog.Logger
	now      func() time.Time
	versions *versions

	recorded *prometheus.CounterVec
	refused  prometheus.Counter
	failed   prometheus.Counter
}

// New returns a Store over the event store ev and the metrics store m.
// Call Seed before ingest starts.
func New(ev EventStore, m storage.AppendableV2, o Options) *Store {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{
		events: ev, metrics: m, logger: o.Logger, now: o.Now,
		versions: newVersions(),
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_changes_recorded_total",
			Help: "Change events recorded, by source (api, cli, auto) and kind.",
		}, []string{"source", "kind"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horus_changes_series_refused_total",
			Help: "Change events recorded whose sample of horus_change_event the metrics store refused (older than it takes).",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "horus_changes_auto_failures_total",
			Help: "Detected version changes that could not be recorded (the event store refused them).",
		}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.recorded, s.refused, s.failed)
	}
	return s
}

// InvalidError is a change refused for its content; the message names
// the field.
type InvalidError struct{ msg string }

func (e *InvalidError) Error() string { return e.msg }

// Add records c: in the event store (as durable as its WAL), then as a
// sample of horus_change_event. A zero time is now, an empty tenant the
// default tenant. It returns the change as stored (with its id), and
// warnings: the sample refused by the metrics store (a change older than
// it takes; the change itself is stored). An *InvalidError is the
// change's fault; other errors the stores'.
func (s *Store) Add(ctx context.Context, c Change) (Change, []string, error) {
	now := s.now()
	if c.Time.IsZero() {
		c.Time = now
	}
	c.Time = c.Time.UTC()
	if c.Tenant == "" {
		c.Tenant = tenant.Default
	}
	if err := tenant.Check(c.Tenant); err != nil {
		return Change{}, nil, &InvalidError{err.Error()}
	}
	if err := c.Check(now); err != nil {
		return Change{}, nil, &InvalidError{err.Error()}
	}
	c.setID()
	if err := s.events.Append(ctx, c.Tenant, events.KindChange, []events.Event{c.event()}); err != nil {
		return Change{}, nil, fmt.Errorf("storing the change: %w", err)
	}
	s.recorded.WithLabelValues(c.Source, c.Kind).Inc()
	if c.Source != SourceAuto {
		s.versions.record(&c)
	}
	var warnings []string
	if err := s.appendSeries(ctx, &c); err != nil {
		s.refused.Inc()
		warnings = append(warnings, seriesWarning(err))
		s.logger.Warn("change stored without its sample of "+SeriesName, "service", c.Service, "kind", c.Kind, "time", c.Time, "err", err)
	}
	return c, warnings, nil
}

// seriesWarning explains a sample the metrics store refused.
func seriesWarning(err error) string {
	msg := fmt.Sprintf("the change is stored, but the metrics store refused its sample of %s (%v)", SeriesName, err)
	if errors.Is(err, storage.ErrOutOfBounds) || errors.Is(err, storage.ErrTooOldSample) || errors.Is(err, storage.ErrOutOfOrderSample) {
		msg += ": the change is older than the metrics store takes (about an hour before its newest sample, or metrics.out_of_order_window if longer, and never before a later sample of the same series); GET /api/v1/changes has it, PromQL does not"
	}
	return msg
}

// appendSeries writes the sample of c.
func (s *Store) appendSeries(ctx context.Context, c *Change) error {
	b := labels.NewScratchBuilder(6)
	b.Add(model.MetricNameLabel, SeriesName)
	b.Add("service", c.Service)
	b.Add("kind", c.Kind)
	if c.Instance != "" {
		b.Add("instance", c.Instance)
	}
	if c.Version != "" {
		b.Add("version", c.Version)
	}
	if c.Tenant != tenant.Default {
		b.Add(tenant.Label, c.Tenant)
	}
	b.Sort()
	a := s.metrics.AppenderV2(ctx)
	_, err := a.Append(0, b.Labels(), 0, c.Time.UnixMilli(), 1, nil, nil, storage.AppendV2Options{MetricFamilyName: SeriesName, Metadata: seriesMeta})
	if err != nil {
		_ = a.Rollback()
		return err
	}
	return a.Commit()
}

// Query selects changes of one tenant.
type Query struct {
	Tenant string
	// Start and End bound the changes' times, both included; a zero End
	// is no bound.
	Start, End time.Time
	// Service, Instance and Kind, if set, must equal the change's.
	Service, Instance, Kind string
	// Limit caps the changes returned, the newest kept (0: no limit).
	Limit int
}

// List returns the changes q selects, newest first.
func (s *Store) List(ctx context.Context, q Query) ([]Change, error) {
	eq := events.Query{Tenant: q.Tenant, Kind: events.KindChange, Start: q.Start.UnixNano(), Limit: q.Limit, Newest: true}
	if q.Start.IsZero() {
		eq.Start = 0
	}
	if !q.End.IsZero() {
		eq.End = q.End.UnixNano() + 1
	}
	for _, f := range []struct{ field, v string }{{fieldService, q.Service}, {fieldInstance, q.Instance}, {fieldChangeKind, q.Kind}} {
		if f.v != "" {
			eq.Filters = append(eq.Filters, events.Filter{Field: f.field, Op: events.Eq, Value: f.v})
		}
	}
	evs, _, err := s.events.Select(ctx, eq)
	if err != nil {
		return nil, err
	}
	out := make([]Change, len(evs))
	for i := range evs {
		out[i] = fromEvent(q.Tenant, &evs[i])
	}
	return out, nil
}

// Seed loads the versions of every service from the stored deploys and
// rollbacks, so that the watcher carries on where it stopped: a restart
// makes no change event for a version it had recorded. It returns how
// many changes it read.
func (s *Store) Seed(ctx context.Context) (int, error) {
	n := 0
	seen := map[string]bool{}
	for _, ts := range s.events.Status().Tenants {
		if ts.Kind != events.KindChange.String() || seen[ts.Tenant] {
			continue
		}
		seen[ts.Tenant] = true
		evs, _, err := s.events.Select(ctx, events.Query{
			Tenant: ts.Tenant, Kind: events.KindChange,
			Filters: []events.Filter{{Field: fieldChangeKind, Op: events.In, Value: KindDeploy + "," + KindRollback}},
		})
		if err != nil {
			return n, fmt.Errorf("reading the changes of tenant %s: %w", ts.Tenant, err)
		}
		for i := range evs {
			c := fromEvent(ts.Tenant, &evs[i])
			s.versions.record(&c)
		}
		n += len(evs)
	}
	return n, nil
}
