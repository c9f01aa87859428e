package investigate

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/changes"
	"github.com/horus-obs/horus/internal/ruler"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/tenant"
)

// EventStore is what an investigation reads spans and logs from: the
// event store (*events.Store), through its own scans.
type EventStore interface {
	// Scan calls fn with batches of the events matching q (calls do not
	// overlap); ScanConcurrent lets them overlap, one per worker.
	Scan(ctx context.Context, q events.Query, fn func([]events.Event) error) (events.ScanStats, error)
	ScanConcurrent(ctx context.Context, q events.Query, fn func([]events.Event) error) (events.ScanStats, error)
}

// ChangeLister lists change events (*changes.Store).
type ChangeLister interface {
	List(ctx context.Context, q changes.Query) ([]changes.Change, error)
}

// AlertSource lists the alerting rules and their active alerts (the
// ruler: *ruler.Ruler).
type AlertSource interface {
	AlertingRules() []*rules.AlertingRule
}

// Options configure an Engine. Events is required; a nil Changes,
// Engine (with Metrics) or Alerts leaves out what needs it, with a
// warning in the answer.
type Options struct {
	Events  EventStore
	Changes ChangeLister
	// Engine and Metrics evaluate PromQL (a PromQL symptom, saturation):
	// Metrics reads as the tenant of the context (metrics.Tenancy).
	Engine  promql.QueryEngine
	Metrics storage.Queryable
	// Alerts resolve a fingerprint or a rule; ExternalLabels are added
	// to an alert's labels for its fingerprint, as the ruler does.
	Alerts         AlertSource
	ExternalLabels labels.Labels
	// Timeout bounds an investigation (default 30 s).
	Timeout time.Duration
	// Saturation are the USE queries (default DefaultSaturation).
	Saturation []SaturationQuery
	Logger     *slog.Logger
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Engine runs investigations.
type Engine struct {
	o Options
}

// New returns an Engine.
func New(o Options) *Engine {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Saturation == nil {
		o.Saturation = DefaultSaturation
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Engine{o: o}
}

// run is the state of one investigation.
type run struct {
	e   *Engine
	req Request
	res *Result

	mu       sync.Mutex
	warnings []string

	entries *entrySet
	onset   time.Time // zero: none found
	cp      ChangePoint
	onsetOK bool
	traces  *traceSample
	bubble  []Ranked
	high    []HighCardinality
	where   []whereKey
}

func (r *run) warn(format string, a ...any) {
	r.mu.Lock()
	r.warnings = append(r.warnings, fmt.Sprintf(format, a...))
	r.mu.Unlock()
}

// Investigate runs one investigation. Errors are *BadRequestError (the
// request's fault), *NotFoundError (no such alert), or the stores'.
func (e *Engine) Investigate(ctx context.Context, req Request) (*Result, error) {
	began := time.Now()
	now := e.o.Now()
	if req.Tenant == "" {
		req.Tenant = tenant.Default
	}
	if req.Fingerprint != "" || req.Rule != "" {
		if err := e.resolveAlert(&req, now); err != nil {
			return nil, err
		}
	}
	if err := req.check(now); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(tenant.WithContext(ctx, req.Tenant), e.o.Timeout)
	defer cancel()
	r := &run{e: e, req: req, res: &Result{Request: req}}
	if err := r.do(ctx); err != nil {
		return nil, err
	}
	r.res.Link = withTenant("/investigate?"+r.req.Query().Encode(), req.Tenant)
	for _, f := range append([]*Finding{&r.res.Onset}, ptrs(r.res.Findings)...) {
		for i := range f.Evidence {
			f.Evidence[i].URL = withTenant(f.Evidence[i].URL, req.Tenant)
		}
	}
	r.res.Request = r.req
	sort.Strings(r.warnings)
	r.res.Warnings = r.warnings
	r.res.TookSeconds = time.Since(began).Seconds()
	return r.res, nil
}

func (r *run) do(ctx context.Context) error {
	// 1. The symptom's entry spans, the onset and the scope.
	if err := phase(ctx, "entries", r.scanEntries); err != nil {
		return err
	}
	r.findOnset(ctx)
	var wg sync.WaitGroup
	var baselines [2]baseline
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = phase(ctx, "baselines", func(ctx context.Context) error { baselines = r.baselines(ctx); return nil })
	}()
	// 2 and 3: the traces, sampled; what differs; where.
	if err := phase(ctx, "traces", r.sampleTraces); err != nil {
		wg.Wait()
		return err
	}
	// 4. The logs of the symptom's service and of the services on most
	// bad traces, read while BubbleUp and where run on the traces (the
	// scan's two workers and this goroutine keep two cores busy)...
	ls := r.newLogScan()
	var logsWG sync.WaitGroup
	scanLogs := func(services []string) {
		logsWG.Add(1)
		go func() {
			defer logsWG.Done()
			_ = phase(ctx, "logs", func(ctx context.Context) error { ls.scan(ctx, services); return nil })
		}()
	}
	scanLogs(r.logServicesFirst())
	_ = phase(ctx, "bubbleup", func(context.Context) error { r.bubbleUp(); return nil })
	r.findWhere()
	// ... then those of the services they implicate, with 5 and 6:
	// changes and saturation.
	services, _ := r.implicated()
	scanLogs(services)
	var chs, sat []Finding
	wg.Add(2)
	go func() { defer wg.Done(); chs = r.changeFindings(ctx) }()
	go func() { defer wg.Done(); sat = r.saturationFindings(ctx) }()
	logsWG.Wait()
	logs := r.logFindings(ls)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("investigation: %w (timeout %v)", err, r.e.o.Timeout)
	}
	r.res.Onset = r.onsetFinding(baselines)
	var fs []Finding
	fs = append(fs, r.bubbleFindings()...)
	fs = append(fs, r.whereFindings()...)
	fs = append(fs, logs...)
	fs = append(fs, chs...)
	fs = append(fs, sat...)
	if !r.onsetOK {
		// No change in the symptom: the findings describe the steady
		// bad requests, not the cause of an incident.
		for i := range fs {
			fs[i].Score *= noOnsetFactor
		}
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Score > fs[j].Score })
	if fs == nil {
		fs = []Finding{}
	}
	r.res.Findings = fs
	r.res.Summary, r.res.ClearCulprit = r.summary(fs)
	return nil
}

func ptrs(fs []Finding) []*Finding {
	out := make([]*Finding, len(fs))
	for i := range fs {
		out[i] = &fs[i]
	}
	return out
}

// noOnsetFactor scales the findings of a symptom without an onset: they
// tell what the steady bad requests have in common, which is not the
// cause of a change, and stay below ClearScore.
const noOnsetFactor = 0.25

// implicated are the services and instances the findings so far point
// at: the symptom's service, the services and instances of the top
// BubbleUp pairs, the services of the top "where" spans.
func (r *run) implicated() (services, instances []string) {
	add := func(list *[]string, s string) {
		if s != "" && !slices.Contains(*list, s) {
			*list = append(*list, s)
		}
	}
	add(&services, r.req.Service)
	for i, d := range r.bubble {
		if i >= 3 || d.Score < ClearScore/2 {
			break
		}
		for _, x := range append([]Dim{d.Dim}, d.Aliases...) {
			add(&services, x.Service)
			if slices.Contains(instanceKeys, x.Key) && x.Op == "=" {
				add(&instances, x.Value)
			}
		}
	}
	for i, w := range r.where {
		if i >= 2 {
			break
		}
		add(&services, w.service)
		if w.topInstanceShare >= 0.8 {
			add(&instances, w.topInstance)
		}
		// The callee of a client span that fails first: the call
		// never reached it, or it answered with the error.
		add(&services, w.peer)
		if w.topPeerShare >= 0.8 {
			add(&instances, w.topPeer)
		}
	}
	return services, instances
}

// servicesOnBad counts the sampled bad traces through each service.
func (r *run) servicesOnBad() map[string]int {
	through := map[string]int{}
	for _, t := range r.traces.bad {
		seen := map[string]bool{}
		for _, sp := range t.spans {
			if !seen[sp.service] {
				seen[sp.service] = true
				through[sp.service]++
			}
		}
	}
	return through
}

// serviceLabels are the labels of an alert that name its service.
var serviceLabels = ruler.ServiceLabels

// routeLabels are the labels of an alert that name its route.
var routeLabels = []string{"route", "http_route", "span_name", "operation"}

var latencyExpr = regexp.MustCompile(`(?i)latency|duration|_bucket|slow`)

// resolveAlert fills req from the alert it names: its service and route
// labels, its rule's expression as a PromQL symptom, and a window from an
// hour before the alert became active to now.
func (e *Engine) resolveAlert(req *Request, now time.Time) error {
	if e.o.Alerts == nil {
		return badf("alerts are not available here: give the symptom (service, signal, start, end)")
	}
	var found *rules.Alert
	var rule *rules.AlertingRule
	for _, ar := range e.o.Alerts.AlertingRules() {
		if req.Rule != "" && ar.Name() != req.Rule {
			continue
		}
		if req.Rule != "" && rule == nil {
			rule = ar
		}
		for _, a := range ar.ActiveAlerts() {
			if req.Fingerprint != "" {
				if ruler.Fingerprint(a.Labels, e.o.ExternalLabels) == req.Fingerprint || ruler.Fingerprint(a.Labels, labels.EmptyLabels()) == req.Fingerprint {
					found, rule = a, ar
				}
				continue
			}
			match := true
			for k, v := range req.Labels {
				if k != "alertname" && a.Labels.Get(k) != v {
					match = false
				}
			}
			if match && (found == nil || a.ActiveAt.Before(found.ActiveAt)) {
				found, rule = a, ar
			}
		}
	}
	switch {
	case req.Fingerprint != "" && found == nil:
		return &NotFoundError{fmt.Sprintf("no active alert has fingerprint %s (alerts that resolved are gone: investigate the symptom with service, signal, start and end)", req.Fingerprint)}
	case req.Rule != "" && rule == nil:
		return &NotFoundError{fmt.Sprintf("no alerting rule is named %q", req.Rule)}
	}
	ls := labels.FromMap(req.Labels)
	req.Alert = rule.Name()
	if found != nil {
		req.AlertSummary = oneLine(found.Annotations.Get(ruler.AnnotationSummary), 160)
		ls = found.Labels
		if req.Start.IsZero() {
			req.Start = found.ActiveAt.Add(-DefaultWindow)
		}
	}
	if req.Service == "" {
		for _, n := range serviceLabels {
			if v := ls.Get(n); v != "" {
				req.Service = v
				break
			}
		}
	}
	if req.Route == "" {
		for _, n := range routeLabels {
			if v := ls.Get(n); v != "" {
				req.Route = v
				break
			}
		}
	}
	if req.Signal == "" {
		req.Signal = SignalPromQL
		req.Expr = rule.Query().String()
		if latencyExpr.MatchString(req.Expr) || latencyExpr.MatchString(rule.Name()) {
			// A latency alert: slow spans are the bad ones (the
			// window's p90 unless a threshold is given).
			req.Signal = SignalLatency
			req.Expr = ""
		}
	}
	if req.End.IsZero() {
		req.End = now
	}
	return nil
}

// fmtPercent renders a share (0 to 1) as a percentage with the digits
// that matter.
func fmtPercent(p float64) string {
	switch {
	case p == 0:
		return "0%"
	case p < 0.001:
		return "<0.1%"
	case p < 0.1:
		return trimZeros(fmt.Sprintf("%.1f", p*100)) + "%"
	}
	return fmt.Sprintf("%.0f%%", p*100)
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// fmtCount renders a count with thousands separators.
func fmtCount(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + fmtCount(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// fmtDuration renders a duration with about three significant digits.
func fmtDuration(d time.Duration) string {
	switch {
	case d >= 10*time.Minute:
		s := strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return sig3(d.Seconds()) + " s"
	case d >= time.Millisecond:
		return sig3(float64(d)/1e6) + " ms"
	}
	return sig3(float64(d)/1e3) + " µs"
}

// sig3 renders x with about three significant digits, without an
// exponent.
func sig3(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return trimZeros(fmt.Sprintf("%.1f", x))
	case a >= 1:
		return trimZeros(fmt.Sprintf("%.2f", x))
	}
	return trimZeros(fmt.Sprintf("%.3g", x))
}

func fmtTime(t time.Time) string { return t.UTC().Format("15:04:05Z") }

// phase runs fn with the pprof label phase=name, so a CPU profile of
// investigations tells their stages apart (go tool pprof -tags).
func phase(ctx context.Context, name string, fn func(context.Context) error) error {
	var err error
	pprof.Do(ctx, pprof.Labels("phase", name), func(ctx context.Context) { err = fn(ctx) })
	return err
}
