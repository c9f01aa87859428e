package changes

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/horus-obs/horus/internal/ingest/otlp"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/tenant"
)

// The resource attributes a version and an instance are read from: the
// OpenTelemetry names, then the label names Loki push streams and JSON
// lines query parameters carry them under.
var (
	versionKeys  = []string{"service.version", "service_version"}
	instanceKeys = []string{"service.instance.id", "service_instance_id"}
)

// flapWindow is how long two versions may alternate under one key
// without a change event for each switch: the old and new instances of a
// rolling deploy that send without service.instance.id.
const flapWindow = 5 * time.Minute

// maxInstances bounds the instances remembered per service; past it the
// service's instances are forgotten (and seen again as new).
const maxInstances = 10000

// autoTimeout bounds the recording of a detected change, which runs in
// the request that brought the new version.
const autoTimeout = 10 * time.Second

type svcKey struct{ tenant, service string }

// svcState is what is known of one service's versions.
type svcState struct {
	version  string    // the service's current version
	previous string    // the one before it
	changed  time.Time // when version became current
	// flapped is when the previous version was last seen again within
	// flapWindow: the old instances of a rolling deploy still sending.
	flapped time.Time
	// instances maps each instance ("" for telemetry without
	// service.instance.id) to the version it last sent.
	instances map[string]string
}

// versions tracks the current version of every service and instance.
type versions struct {
	mu   sync.RWMutex
	svcs map[svcKey]*svcState
}

func newVersions() *versions { return &versions{svcs: map[svcKey]*svcState{}} }

// known reports whether instance of service last sent version: the hot
// path, a read-locked map lookup per resource.
func (v *versions) known(tenant, service, instance, version string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	st := v.svcs[svcKey{tenant, service}]
	if st == nil {
		return false
	}
	got, ok := st.instances[instance]
	return ok && got == version
}

// observe notes that instance of service sends version, and returns the
// change it makes, if any. The first version seen of a service makes
// none (Horus cannot tell a deploy from telemetry it had not received
// before); a version other than the service's current one does, once:
// the first instance to send it is the change's instance, the others
// follow silently. Within flapWindow of a change (or of the last such
// switch), the previous version from an instance not seen before, or from
// telemetry without an instance, is taken for the old instances of a
// rolling deploy still sending: no change, and the new version stays
// current. A known instance going back is a rollback, and a change.
func (v *versions) observe(tenant, service, instance, version string, now time.Time) *Change {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := svcKey{tenant, service}
	st := v.svcs[k]
	if st == nil {
		k = svcKey{strings.Clone(tenant), strings.Clone(service)}
		st = &svcState{version: strings.Clone(version), changed: now, instances: map[string]string{}}
		v.svcs[k] = st
	}
	got, seen := st.instances[instance]
	if seen && got == version {
		return nil // another request got here first
	}
	if len(st.instances) >= maxInstances {
		clear(st.instances)
	}
	version = strings.Clone(version)
	st.instances[strings.Clone(instance)] = version
	switch {
	case version == st.version:
		return nil
	case version == st.previous && (instance == "" || !seen) && now.Sub(later(st.changed, st.flapped)) < flapWindow:
		st.flapped = now
		return nil
	}
	c := &Change{
		Kind: KindDeploy, Service: k.service, Instance: instance, Version: version, PreviousVersion: st.version,
		Description: "service.version changed from " + st.version + " to " + version + " in " + service + "'s telemetry",
		Time:        now, Source: SourceAuto, Tenant: k.tenant,
	}
	st.version, st.previous, st.changed = version, st.version, now
	return c
}

// record makes c, a stored deploy or rollback, the current version of
// its service (and instance), unless a later change is known.
func (v *versions) record(c *Change) {
	if c.Version == "" || (c.Kind != KindDeploy && c.Kind != KindRollback) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	k := svcKey{c.Tenant, c.Service}
	st := v.svcs[k]
	if st == nil {
		st = &svcState{instances: map[string]string{}}
		v.svcs[k] = st
	}
	if !st.changed.IsZero() && c.Time.Before(st.changed) {
		return
	}
	if c.Version != st.version {
		st.previous = st.version
		if c.PreviousVersion != "" {
			st.previous = c.PreviousVersion
		}
		st.version = c.Version
	}
	st.changed = c.Time
	if c.Instance != "" {
		st.instances[c.Instance] = c.Version
	}
}

// firstOf returns the first of keys a has as text.
func firstOf(a events.Attrs, keys []string) string {
	for _, k := range keys {
		if v, ok := a.Get(k); ok && v.Type == events.TypeStr {
			return v.Str
		}
	}
	return ""
}

// ObserveEvents watches the resources of a batch of logs or spans of a
// tenant for new versions. The events of a resource share its attribute
// slice, so a batch costs a pointer comparison per event and a map
// lookup per resource.
func (s *Store) ObserveEvents(tenant string, evs []events.Event) {
	var last *events.Attr
	var found []*Change
	now := s.now()
	for i := range evs {
		e := &evs[i]
		if len(e.Resource) == 0 || &e.Resource[0] == last || e.Service == "" {
			continue
		}
		last = &e.Resource[0]
		version := firstOf(e.Resource, versionKeys)
		if version == "" {
			continue
		}
		found = s.see(found, tenant, e.Service, firstOf(e.Resource, instanceKeys), version, now)
	}
	s.recordAuto(found)
}

// see notes a resource's version, appending to found the change it
// makes: a map lookup when the version is known.
func (s *Store) see(found []*Change, tenant, service, instance, version string, now time.Time) []*Change {
	if s.versions.known(tenant, service, instance, version) {
		return found
	}
	if c := s.versions.observe(tenant, service, instance, version, now); c != nil {
		found = append(found, c)
	}
	return found
}

// recordAuto stores the detected changes.
func (s *Store) recordAuto(found []*Change) {
	for _, c := range found {
		ctx, cancel := context.WithTimeout(context.Background(), autoTimeout)
		stored, _, err := s.Add(ctx, *c)
		cancel()
		if err != nil {
			s.failed.Inc()
			s.logger.Error("recording a detected version change", "tenant", c.Tenant, "service", c.Service, "version", c.Version, "err", err)
			continue
		}
		s.logger.Info("version change detected", "tenant", c.Tenant, "service", c.Service, "instance", c.Instance,
			"version", c.Version, "previous", c.PreviousVersion, "id", stored.ID)
	}
}

// DeriveSpans watches spans for new versions (pipeline.SpanDeriver: it
// sees every span, before sampling).
func (s *Store) DeriveSpans(tenant string, spans []events.Event) { s.ObserveEvents(tenant, spans) }

// EventAppender is the event store as the log pipeline writes to it
// (pipeline.SpanStore).
type EventAppender interface {
	Append(ctx context.Context, tenant string, kind events.Kind, evs []events.Event) error
}

// WatchLogs returns next, watching the logs stored through it for new
// versions.
func (s *Store) WatchLogs(next EventAppender) EventAppender { return &logWatch{next: next, s: s} }

type logWatch struct {
	next EventAppender
	s    *Store
}

func (w *logWatch) Append(ctx context.Context, tenant string, kind events.Kind, evs []events.Event) error {
	if err := w.next.Append(ctx, tenant, kind, evs); err != nil {
		return err
	}
	if kind == events.KindLog {
		w.s.ObserveEvents(tenant, evs)
	}
	return nil
}

// WatchMetrics returns next, watching the resources of the OTLP metrics
// it stores for new versions.
func (s *Store) WatchMetrics(next otlp.MetricsConsumer) otlp.MetricsConsumer {
	return &metricsWatch{next: next, s: s}
}

type metricsWatch struct {
	next otlp.MetricsConsumer
	s    *Store
}

func (w *metricsWatch) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) (otlp.Partial, error) {
	p, err := w.next.ConsumeMetrics(ctx, md)
	if err != nil {
		return p, err
	}
	org, ok := tenant.FromContext(ctx)
	if !ok {
		org = tenant.Default
	}
	var found []*Change
	now := w.s.now()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		attrs := rms.At(i).Resource().Attributes()
		service, version := pstr(attrs, "service.name"), pstr(attrs, "service.version")
		if service == "" || version == "" {
			continue
		}
		found = w.s.see(found, org, service, pstr(attrs, "service.instance.id"), version, now)
	}
	w.s.recordAuto(found)
	return p, nil
}

// pstr returns attribute k of m if it is text.
func pstr(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
