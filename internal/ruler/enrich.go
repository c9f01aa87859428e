package ruler

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/util/strutil"

	"github.com/horus-obs/horus/internal/tenant"
)

// The annotations Horus adds to every alert it sends (docs/alerting.md).
const (
	// AnnotationURL links to the alert in Horus:
	// <external_url>/alerts/<fingerprint>.
	AnnotationURL = "horus_url"
	// AnnotationTraceIDs lists up to MaxTraceIDs trace ids, comma
	// separated, from the exemplars of the alerting expression's series.
	AnnotationTraceIDs = "exemplar_trace_ids"
	// AnnotationChanges lists the change events of the alert's service
	// in the ChangeWindow before it became active, one a line.
	AnnotationChanges = "recent_changes"
	// AnnotationSummary is filled when the rule gives none.
	AnnotationSummary = "summary"
)

const (
	// MaxTraceIDs is the most exemplar trace ids an alert carries.
	MaxTraceIDs = 3
	// ChangeWindow is how far before an alert became active its
	// service's change events are listed.
	ChangeWindow = 30 * time.Minute
	// MaxChanges is the most change events an alert lists.
	MaxChanges = 5
	// exemplarLookback is how far before an alert became active its
	// exemplars are looked for (the range of a typical rate()).
	exemplarLookback = 5 * time.Minute
	// maxEnriched bounds the enrichments remembered between sends.
	maxEnriched = 10000
)

// Change is a change event as a notification lists it.
type Change struct {
	Time        time.Time
	Kind        string // deploy, config, feature_flag, rollback, other
	Service     string
	Version     string
	Author      string
	Description string
}

// String is the change's line in the recent_changes annotation.
func (c Change) String() string {
	var b strings.Builder
	b.WriteString(c.Time.UTC().Format(time.RFC3339))
	b.WriteString(" " + c.Kind + " " + c.Service)
	if c.Version != "" {
		b.WriteString(" " + c.Version)
	}
	if c.Author != "" {
		b.WriteString(" by " + c.Author)
	}
	if c.Description != "" {
		b.WriteString(": " + c.Description)
	}
	return b.String()
}

// RecentChangesFunc lists the change events of service (the default
// tenant's) in [start, end), oldest first.
type RecentChangesFunc func(ctx context.Context, service string, start, end time.Time) ([]Change, error)

// ServiceLabels are the alert labels that name the affected service, in
// order of preference.
var ServiceLabels = []string{"service", "service_name", "job"}

// TraceIDLabels are the exemplar labels that hold a trace id.
var TraceIDLabels = []string{"trace_id", "traceID", "traceId", "trace.id"}

// enricher adds Horus' annotations to alerts before they are sent. What
// it looks up (exemplars, changes) is looked up once per alert
// activation and remembered for the resends and the resolution.
type enricher struct {
	r      *Ruler
	errors *prometheus.CounterVec

	mu       sync.Mutex
	external labels.Labels
	done     map[enrichKey]labels.Labels
}

type enrichKey struct {
	labels   uint64
	activeAt int64
}

func newEnricher(r *Ruler, reg prometheus.Registerer) *enricher {
	e := &enricher{r: r, done: map[enrichKey]labels.Labels{},
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "horus_alert_enrichment_errors_total",
			Help: "Look-ups for alert notifications that failed (the alert is sent without what they would have added), by what was looked up: exemplars or changes.",
		}, []string{"lookup"}),
	}
	if reg != nil {
		reg.MustRegister(e.errors)
	}
	return e
}

func (e *enricher) setExternalLabels(pc *promconfig.Config) {
	e.mu.Lock()
	e.external = pc.GlobalConfig.ExternalLabels
	e.mu.Unlock()
}

// notifyFunc sends a manager's alerts to the notifier, as
// rules.SendAlerts does, with Horus' annotations.
func (r *Ruler) notifyFunc(lang Lang) rules.NotifyFunc {
	return func(ctx context.Context, expr string, alerts ...*rules.Alert) {
		if len(alerts) == 0 {
			return
		}
		out := make([]*notifier.Alert, 0, len(alerts))
		for _, a := range alerts {
			na := &notifier.Alert{
				StartsAt:     a.FiredAt,
				Labels:       a.Labels,
				Annotations:  r.enricher.annotate(ctx, lang, expr, a),
				GeneratorURL: r.externURL + strutil.TableLinkForExpression(expr),
			}
			if !a.ResolvedAt.IsZero() {
				na.EndsAt = a.ResolvedAt
			} else {
				na.EndsAt = a.ValidUntil
			}
			out = append(out, na)
		}
		r.notifier.Send(out...)
	}
}

// Fingerprint is the alert's id in its horus_url: Alertmanager's
// fingerprint (16 hex digits) of its labels as sent, with the external
// labels it lacks, so the same id finds it in Alertmanager's API.
func Fingerprint(ls, external labels.Labels) string {
	set := model.LabelSet{}
	external.Range(func(l labels.Label) { set[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	ls.Range(func(l labels.Label) { set[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	return set.Fingerprint().String()
}

// annotate returns a's annotations with Horus' own added.
func (e *enricher) annotate(ctx context.Context, lang Lang, expr string, a *rules.Alert) labels.Labels {
	key := enrichKey{a.Labels.Hash(), a.ActiveAt.UnixNano()}
	e.mu.Lock()
	extra, ok := e.done[key]
	external := e.external
	e.mu.Unlock()
	if !ok {
		extra = e.lookup(ctx, lang, expr, a, external)
		e.mu.Lock()
		if len(e.done) >= maxEnriched {
			clear(e.done)
		}
		e.done[key] = extra
		e.mu.Unlock()
	}
	if !a.ResolvedAt.IsZero() {
		e.mu.Lock()
		delete(e.done, key)
		e.mu.Unlock()
	}
	b := labels.NewBuilder(a.Annotations)
	extra.Range(func(l labels.Label) {
		if a.Annotations.Get(l.Name) == "" {
			b.Set(l.Name, l.Value)
		}
	})
	return b.Labels()
}

// lookup makes the annotations Horus adds to a.
func (e *enricher) lookup(ctx context.Context, lang Lang, expr string, a *rules.Alert, external labels.Labels) labels.Labels {
	b := labels.NewBuilder(labels.EmptyLabels())
	b.Set(AnnotationURL, e.r.externURL+"/alerts/"+Fingerprint(a.Labels, external))
	if a.Annotations.Get(AnnotationSummary) == "" {
		b.Set(AnnotationSummary, defaultSummary(a))
	}
	ctx = tenant.WithContext(ctx, tenant.Default)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if lang == PromQL && e.r.o.Exemplars != nil {
		ids, err := e.traceIDs(ctx, expr, a)
		if err != nil {
			e.errors.WithLabelValues("exemplars").Inc()
			e.r.logger.Warn("exemplars for an alert notification", "alert", a.Labels.Get(labels.AlertName), "err", err)
		}
		if len(ids) > 0 {
			b.Set(AnnotationTraceIDs, strings.Join(ids, ","))
		}
	}
	if e.r.o.RecentChanges != nil {
		if svc := ServiceOf(a.Labels); svc != "" {
			cs, err := e.r.o.RecentChanges(ctx, svc, a.ActiveAt.Add(-ChangeWindow), a.ActiveAt.Add(time.Millisecond))
			if err != nil {
				e.errors.WithLabelValues("changes").Inc()
				e.r.logger.Warn("change events for an alert notification", "alert", a.Labels.Get(labels.AlertName), "service", svc, "err", err)
			}
			if s := changesText(cs); s != "" {
				b.Set(AnnotationChanges, s)
			}
		}
	}
	return b.Labels()
}

// ServiceOf is the service an alert is about: its first ServiceLabels
// label.
func ServiceOf(ls labels.Labels) string {
	for _, n := range ServiceLabels {
		if v := ls.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// changesText lists the newest MaxChanges changes, oldest first.
func changesText(cs []Change) string {
	if len(cs) == 0 {
		return ""
	}
	slices.SortStableFunc(cs, func(a, b Change) int { return a.Time.Compare(b.Time) })
	var lines []string
	if n := len(cs) - MaxChanges; n > 0 {
		lines = append(lines, fmt.Sprintf("(%d earlier changes)", n))
		cs = cs[n:]
	}
	for _, c := range cs {
		lines = append(lines, c.String())
	}
	return strings.Join(lines, "\n")
}

// defaultSummary says what fired when the rule gives no summary.
func defaultSummary(a *rules.Alert) string {
	var parts []string
	a.Labels.Range(func(l labels.Label) {
		switch l.Name {
		case labels.AlertName, "severity":
			return
		}
		parts = append(parts, l.Name+"="+l.Value)
	})
	s := a.Labels.Get(labels.AlertName)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s + fmt.Sprintf(": value %g", a.Value)
}

// traceIDs returns up to MaxTraceIDs trace ids, newest first, from the
// exemplars of the series the alerting expression selects that agree
// with the alert's labels, from a little before the alert became active
// until now. A selector of a histogram's _count or _sum also looks at its
// _bucket series, where exemplars are.
func (e *enricher) traceIDs(ctx context.Context, expr string, a *rules.Alert) ([]string, error) {
	pe, err := e.r.o.Parser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var sets [][]*labels.Matcher
	for _, ms := range parser.ExtractSelectors(pe) {
		sets = append(sets, ms)
		for i, m := range ms {
			if m.Name != model.MetricNameLabel || m.Type != labels.MatchEqual {
				continue
			}
			for _, suffix := range []string{"_count", "_sum"} {
				if base, ok := strings.CutSuffix(m.Value, suffix); ok {
					alt := slices.Clone(ms)
					alt[i] = labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, base+"_bucket")
					sets = append(sets, alt)
				}
			}
		}
	}
	if len(sets) == 0 {
		return nil, nil
	}
	q, err := e.r.o.Exemplars.ExemplarQuerier(ctx)
	if err != nil {
		return nil, err
	}
	start := a.ActiveAt.Add(-exemplarLookback)
	end := time.Now()
	if !a.ResolvedAt.IsZero() {
		end = a.ResolvedAt
	}
	res, err := q.Select(start.UnixMilli(), end.UnixMilli(), sets...)
	if err != nil {
		return nil, err
	}
	type found struct {
		id string
		ts int64
	}
	var all []found
	for _, r := range res {
		if !agrees(r.SeriesLabels, a.Labels) {
			continue
		}
		for _, ex := range r.Exemplars {
			if id := traceID(ex); id != "" {
				all = append(all, found{id, ex.Ts})
			}
		}
	}
	slices.SortStableFunc(all, func(x, y found) int { return cmp.Compare(y.ts, x.ts) })
	var ids []string
	for _, f := range all {
		if !slices.Contains(ids, f.id) {
			ids = append(ids, f.id)
		}
		if len(ids) == MaxTraceIDs {
			break
		}
	}
	return ids, nil
}

// agrees says whether a series could be behind an alert: every alert
// label the series also has (but alertname) has the same value.
func agrees(series, alert labels.Labels) bool {
	ok := true
	alert.Range(func(l labels.Label) {
		if l.Name == labels.AlertName {
			return
		}
		if v := series.Get(l.Name); v != "" && v != l.Value {
			ok = false
		}
	})
	return ok
}

func traceID(ex exemplar.Exemplar) string {
	for _, n := range TraceIDLabels {
		if v := ex.Labels.Get(n); v != "" {
			return v
		}
	}
	return ""
}
