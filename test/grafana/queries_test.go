package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/horus-obs/horus/test/horustest"
)

// TestQueriesAgainstHorus runs what Grafana would run with deploy/grafana
// against a Horus holding a shop and an inventory service's telemetry
// (traces, logs and metrics from the OpenTelemetry Go SDK, span metrics
// and the service graph Horus derives from the traces, a line pushed
// through Loki's API, a deploy through the change API, the SLOs' rules,
// the span metrics of a week before): every variable query, every panel
// query of every dashboard for every service, every annotation, every
// Explore link, and from their results every data-source link (exemplar →
// trace, derived field → trace, trace → logs, trace → metrics, the
// service map). Each must answer without error and with data.
func TestQueriesAgainstHorus(t *testing.T) {
	h := startHorus(t)
	f := fillHorus(t, h, 40)
	p := loadProvisioning(t, map[string]string{"HORUS_URL": h.url})
	scrape, err := time.ParseDuration(p.prom.TimeInterval)
	if err != nil {
		t.Fatalf("timeInterval: %v", err)
	}

	// Wait for what Horus derives: span metrics and the service graph
	// (flushed every second), the SLO rules' series and the shop's page
	// alert (evaluated every second), and for the dashboards' newest
	// aligned step to hold them (Grafana aligns a range query's end down
	// to a multiple of its step, the scrape interval here).
	horustest.Eventually(t, 25*time.Second, "derived series", func() error {
		for _, q := range []string{
			`traces_spanmetrics_calls_total{service="inventory", status_code="STATUS_CODE_ERROR"}`,
			`traces_service_graph_request_failed_total{client="shop", server="inventory"}`,
			`slo:period_error_budget_remaining:ratio{sloth_service="shop"}`,
			`slo:period_error_budget_remaining:ratio{sloth_service="inventory"}`,
			`ALERTS{alertname="ShopAvailability", alertstate="firing"}`,
		} {
			if v, err := h.promInstant(q, time.Now()); err != nil || len(v) == 0 {
				return fmt.Errorf("%s: %d series, %w", q, len(v), err)
			}
		}
		return nil
	})
	ready := time.Now()
	h.copyWeekBefore(t, f.start.Add(-time.Minute), ready)
	horustest.Eventually(t, scrape+5*time.Second, "a step after the data", func() error {
		if end := alignTime(time.Now(), scrape); end.Before(ready) {
			return fmt.Errorf("the newest %s step, %s, is before the data", scrape, end.Format(time.TimeOnly))
		}
		return nil
	})

	r := &runner{t: t, h: h, p: p, scrape: scrape, now: time.Now(), traces: map[string]bool{}}
	for _, uid := range sortedKeys(p.dashboards) {
		r.dashboard(p.dashboards[uid])
	}
	// The exemplar link on the metrics an OpenTelemetry SDK exports (any
	// panel over them): their exemplars carry trace_id too. One export,
	// so one sample per series: no rate().
	r.promTarget("OTLP histogram", `sum by (le) (http_server_request_duration_seconds_bucket{job="shop"})`, false, true,
		r.dashRange("now-1h", "now"), scrape)
	r.links()
	t.Logf("%d queries run, %d traces opened", r.queries, len(r.traces))
}

// runner runs a dashboard's queries as Grafana would.
type runner struct {
	t      *testing.T
	h      *horus
	p      *provisioning
	scrape time.Duration
	now    time.Time
	// queries counts the requests made.
	queries int
	// traces are the trace ids links led to, opened (true) or not yet.
	traces map[string]bool
	// derived counts the lines each derived field matched.
	derived map[string]int
}

// timeRange is a dashboard's or a link's time range.
type timeRange struct{ from, to time.Time }

func (tr timeRange) length() time.Duration { return tr.to.Sub(tr.from) }

// dashRange parses a dashboard's relative time range (now-1h … now).
func (r *runner) dashRange(from, to string) timeRange {
	parse := func(s string) time.Time {
		if s == "now" {
			return r.now
		}
		d, err := time.ParseDuration(strings.TrimPrefix(s, "now-"))
		if err != nil {
			if days, ok := strings.CutSuffix(strings.TrimPrefix(s, "now-"), "d"); ok {
				n, _ := strconv.Atoi(days)
				return r.now.Add(-time.Duration(n) * 24 * time.Hour)
			}
			r.t.Fatalf("time range %q: %v", s, err)
		}
		return r.now.Add(-d)
	}
	return timeRange{parse(from), parse(to)}
}

// dashboard resolves the dashboard's variables and runs every panel,
// annotation and link, for each value of its first variable.
//
// A dashboard whose range is longer than an hour is run over the last
// hour: at 1000 points, ranges up to about three hours have the scrape
// interval as their step, longer ones a longer step (a minute for 24
// hours), and Grafana aligns a range's end down to a multiple of the
// step, so the newest minute would only show after the next whole
// minute, which the test does not wait for.
func (r *runner) dashboard(d dashboard) {
	tr := r.dashRange(d.Time.From, d.Time.To)
	if tr.length() > time.Hour {
		tr.from = tr.to.Add(-time.Hour)
	}
	firsts := []string{""}
	if len(d.Templating.List) > 0 && !d.Templating.List[0].IncludeAll {
		firsts = r.variableValues(d, d.Templating.List[0], scope{vars: map[string]varValue{}}, tr)
	}
	for _, first := range firsts {
		s := r.resolveVariables(d, tr, first)
		where := d.UID
		if first != "" {
			where += " " + d.Templating.List[0].Name + "=" + first
		}
		for _, pn := range d.Panels {
			interval := r.scrape
			if pn.Interval != "" {
				iv, err := time.ParseDuration(pn.Interval)
				if err != nil {
					r.t.Fatalf("%s: panel %q: interval: %v", where, pn.Title, err)
				}
				interval = iv
			}
			for _, tg := range pn.Targets {
				r.target(where+": panel "+strconv.Quote(pn.Title)+" "+tg.RefID, tg, s, tr, interval)
			}
		}
		for _, a := range d.Annotations.List {
			if a.BuiltIn == 1 {
				continue
			}
			r.annotation(where+": annotation "+a.Name, a, s, tr)
		}
		for _, l := range d.Links {
			if l.Type == "link" && strings.HasPrefix(l.URL, "/explore") {
				r.explore(where+": link "+strconv.Quote(l.Title), l.URL, s, tr)
			}
		}
	}
}

// resolveVariables gives each variable its value as a dashboard opened
// with the defaults would: the first variable first (when given), then
// each one's query, interpolated with the ones before, keeps its saved
// current value if the query returns it, else takes the first value;
// "All" stays All.
func (r *runner) resolveVariables(d dashboard, tr timeRange, first string) scope {
	s := scope{vars: map[string]varValue{}}
	for i, v := range d.Templating.List {
		var cur struct {
			Value any `json:"value"`
		}
		if len(v.Current) > 0 {
			if err := json.Unmarshal(v.Current, &cur); err != nil {
				r.t.Fatalf("%s: variable %s: current: %v", d.UID, v.Name, err)
			}
		}
		vals := r.variableValues(d, v, s, tr)
		val := varValue{allValue: v.AllValue, multi: v.Multi || v.IncludeAll}
		switch c := cur.Value.(type) {
		case string:
			if slices.Contains(vals, c) {
				val.values = []string{c}
			}
		case []any:
			if len(c) == 1 && c[0] == "$__all" && v.IncludeAll {
				val.all, val.values = true, vals
			}
		}
		if i == 0 && first != "" {
			val.values = []string{first}
		}
		if len(val.values) == 0 {
			val.values = vals[:1]
		}
		s.vars[v.Name] = val
	}
	return s
}

// labelValuesRE is the Prometheus data source's label_values(metric,
// label) variable query (packages/grafana-prometheus/src/
// metric_find_query.ts).
var labelValuesRE = regexp.MustCompile(`^label_values\((?:(.+),\s*)?(\w+)\)$`)

// variableValues runs a variable's query: label_values(metric, label) is
// GET /api/v1/label/<label>/values?match[]=<metric>&start&end, as the
// Prometheus data source asks a Prometheus of version 2.24 or later
// (jsonData.prometheusVersion). Values are sorted as sort 1 (alphabetical)
// says; none is an error.
func (r *runner) variableValues(d dashboard, v variable, s scope, tr timeRange) []string {
	expr, err := v.expr()
	if err != nil {
		r.t.Fatal(err)
	}
	expr, err = s.interpolate(expr)
	if err != nil {
		r.t.Fatalf("%s: variable %s: %v", d.UID, v.Name, err)
	}
	m := labelValuesRE.FindStringSubmatch(expr)
	if m == nil || v.Datasource.UID != uidPrometheus {
		r.t.Fatalf("%s: variable %s: %q is not label_values() on %s", d.UID, v.Name, expr, uidPrometheus)
	}
	q := url.Values{"start": {unixS(tr.from)}, "end": {unixS(tr.to)}}
	if m[1] != "" {
		q.Set("match[]", m[1])
	}
	var vals []string
	r.queries++
	if err := r.h.prom("GET", "/api/v1/label/"+m[2]+"/values", q, &vals); err != nil || len(vals) == 0 {
		r.t.Fatalf("%s: variable %s: %s: %d values, %v", d.UID, v.Name, expr, len(vals), err)
	}
	if v.Sort == 1 {
		sort.Strings(vals)
	}
	return vals
}

// target runs one panel query.
func (r *runner) target(where string, tg target, s scope, tr timeRange, minInterval time.Duration) {
	r.t.Helper()
	switch tg.Datasource.UID {
	case uidPrometheus:
		expr := r.interp(where, s, tg.Expr)
		r.promTarget(where, expr, tg.Instant, tg.Exemplar, tr, minInterval)
	case uidLoki:
		r.lokiTarget(where, r.interp(where, s, tg.Expr), tg.MaxLines, tr, minInterval)
	case uidTempo:
		switch tg.QueryType {
		case "traceql":
			r.tempoSearch(where, r.interp(where, s, tg.Query), tg.Limit, tg.Spss, tr)
		case "serviceMap":
			sel, err := tg.serviceMapQueries()
			if err != nil {
				r.t.Fatal(err)
			}
			for i := range sel {
				sel[i] = r.interp(where, s, sel[i])
			}
			r.serviceMap(where, sel, tr)
		default:
			r.t.Errorf("%s: Tempo queryType %q", where, tg.QueryType)
		}
	default:
		r.t.Errorf("%s: data source %q", where, tg.Datasource.UID)
	}
}

func (r *runner) interp(where string, s scope, text string) string {
	out, err := s.interpolate(text)
	if err != nil {
		r.t.Fatalf("%s: %v", where, err)
	}
	return out
}

// promTarget runs a Prometheus query as the data source's backend does
// (pkg/promlib/querydata): a range query POSTed to /api/v1/query_range
// over the range aligned to the step, or an instant one to /api/v1/query
// at the range's end, and for an exemplar query /api/v1/query_exemplars;
// each exemplar's trace_id opens its trace.
func (r *runner) promTarget(where, expr string, instant, exemplar bool, tr timeRange, minInterval time.Duration) {
	r.t.Helper()
	step := promStep(tr.length(), minInterval)
	expr = expandIntervals(expr, step, rateInterval(step, r.scrape), tr.length())
	start, end := alignTime(tr.from, step), alignTime(tr.to, step)
	r.queries++
	if instant {
		v, err := r.h.promInstant(expr, end)
		if err != nil || len(v) == 0 {
			r.t.Errorf("%s: %s: %d series at %s, %v", where, expr, len(v), end.Format(time.TimeOnly), err)
		}
		return
	}
	m, err := r.h.promRange(expr, start, end, step)
	if err != nil || !m.hasValues() {
		r.t.Errorf("%s: %s: %d series without a value, %v", where, expr, len(m), err)
	}
	if !exemplar {
		return
	}
	r.queries++
	var ex []struct {
		SeriesLabels map[string]string `json:"seriesLabels"`
		Exemplars    []struct {
			Labels map[string]string `json:"labels"`
		} `json:"exemplars"`
	}
	if err := r.h.prom("POST", "/api/v1/query_exemplars", url.Values{"query": {expr}, "start": {unixS(start)}, "end": {unixS(end)}}, &ex); err != nil || len(ex) == 0 {
		r.t.Errorf("%s: exemplars of %s: %d series, %v", where, expr, len(ex), err)
		return
	}
	for _, dest := range r.p.prom.ExemplarTraceIDDestinations {
		n := 0
		for _, s := range ex {
			for _, e := range s.Exemplars {
				if id := e.Labels[dest.Name]; id != "" {
					n++
					r.openTrace(where+": exemplar", id, tr)
				}
			}
		}
		if n == 0 {
			r.t.Errorf("%s: no exemplar with the label %q", where, dest.Name)
		}
	}
}

// lokiTarget runs a Loki query as the data source's backend does
// (pkg/tsdb/loki: api.go and parse_query.go): GET
// /loki/api/v1/query_range with the range in nanoseconds, the step from
// the interval, the line limit (the query's maxLines, else the data
// source's), direction backward, and the categorize-labels flag. The
// derived fields are applied to every line returned.
func (r *runner) lokiTarget(where, expr string, maxLines int, tr timeRange, minInterval time.Duration) {
	r.t.Helper()
	interval := queryInterval(tr.length(), 1000, minInterval)
	step := interval
	if safe := tr.length() / 11000; safe > step {
		step = safe
	}
	expr = expandIntervals(expr, interval, rateInterval(interval, r.scrape), tr.length())
	if maxLines == 0 {
		maxLines = r.p.loki.MaxLines
	}
	res, err := r.h.lokiRange(expr, tr, step, maxLines)
	r.queries++
	if err != nil || res.empty() {
		r.t.Errorf("%s: %s: %s, %v", where, expr, res.ResultType, err)
		return
	}
	for _, st := range res.streams() {
		for _, v := range st.Values {
			r.derivedFields(where, st.Stream, v, tr)
		}
	}
}

// derivedFields applies the Loki data source's derived fields to a line
// as Grafana's getDerivedFields does
// (public/app/plugins/datasource/loki/getDerivedFields.ts): a "label"
// matcher takes the value of the first of the line's labels (stream
// labels, structured metadata, parsed labels) whose name the regex
// matches; a "regex" matcher the first group of the regex on the line.
// Each value found opens its trace in the Tempo data source.
func (r *runner) derivedFields(where string, stream map[string]string, entry lokiEntry, tr timeRange) {
	labels := map[string]string{}
	for _, m := range []map[string]string{stream, entry.Meta.StructuredMetadata, entry.Meta.Parsed} {
		for k, v := range m {
			labels[k] = v
		}
	}
	if r.derived == nil {
		r.derived = map[string]int{}
	}
	for _, f := range r.p.loki.DerivedFields {
		re := regexp.MustCompile(f.MatcherRegex)
		value := ""
		switch f.MatcherType {
		case "label":
			for _, k := range sortedKeys(labels) {
				if re.MatchString(k) {
					value = labels[k]
					break
				}
			}
		case "regex", "":
			if m := re.FindStringSubmatch(entry.Line); len(m) > 1 {
				value = m[1]
			}
		}
		if value == "" {
			continue
		}
		r.derived[f.Name]++
		if f.MatcherType == "label" && !strings.Contains(entry.Line, value) {
			r.derived[f.Name+" (not in the line)"]++
		}
		id := strings.ReplaceAll(f.URL, "${__value.raw}", value)
		r.openTrace(where+": derived field "+f.Name, id, tr)
	}
}

// tempoSearch runs a TraceQL search as the Tempo data source does (GET
// /api/search with q, limit, spss, start and end in seconds) and opens
// every trace found, as a click on its id would.
func (r *runner) tempoSearch(where, q string, limit, spss int, tr timeRange) {
	r.t.Helper()
	if limit == 0 {
		limit = 20
	}
	var res struct {
		Traces []struct {
			TraceID string `json:"traceID"`
		} `json:"traces"`
	}
	req, _ := http.NewRequest("GET", r.h.url+"/api/search?"+url.Values{"q": {q}, "limit": {strconv.Itoa(limit)},
		"spss": {strconv.Itoa(spss)}, "start": {unixS(tr.from)}, "end": {unixS(tr.to)}}.Encode(), nil)
	r.queries++
	if err := getJSON(req, &res); err != nil || len(res.Traces) == 0 {
		r.t.Errorf("%s: TraceQL %s: %d traces, %v", where, q, len(res.Traces), err)
		return
	}
	for _, tc := range res.Traces {
		r.openTrace(where, tc.TraceID, tr)
	}
}

// serviceMap runs the Tempo data source's service map: for each of its
// metrics, the rate by edge over the range and the edges' labels, as
// instant queries (public/app/plugins/datasource/tempo/datasource.ts,
// makePromServiceMapRequest; graphTransform.ts, serviceMapMetrics), one
// sub-expression per selector joined with OR.
func (r *runner) serviceMap(where string, selectors []string, tr timeRange) {
	r.t.Helper()
	uid := r.p.tempo.ServiceMap.DatasourceUID
	if uid != uidPrometheus {
		r.t.Fatalf("serviceMap on %q", uid)
	}
	for _, metric := range []string{"traces_service_graph_request_server_seconds_sum", "traces_service_graph_request_total",
		"traces_service_graph_request_failed_total", "traces_service_graph_request_server_seconds_bucket"} {
		var sums, groups []string
		for _, sel := range selectors {
			sums = append(sums, fmt.Sprintf("sum by (client, server) (rate(%s%s[$__range]))", metric, sel))
			groups = append(groups, fmt.Sprintf("group by (client, connection_type, server) (%s%s)", metric, sel))
		}
		r.promTarget(where+": service map", strings.Join(sums, " OR "), true, false, tr, r.scrape)
		r.promTarget(where+": service map", strings.Join(groups, " OR "), true, false, tr, r.scrape)
	}
}

// serviceGraphTable runs the queries of the table beside Explore's
// service graph (datasource.ts, getServiceGraphView and buildExpr;
// graphTransform.ts: rateMetric, errorRateMetric, durationMetric with the
// default filter span_kind="SPAN_KIND_SERVER"): the selector's client or
// server label becomes service.
func (r *runner) serviceGraphTable(where, selector string, tr timeRange) {
	sel := strings.NewReplacer("client", "service", "server", "service").Replace(strings.Trim(selector, "{}"))
	build := func(expr string, params ...string) string {
		return strings.Replace(expr, "{}", "{"+strings.Join(slices.DeleteFunc(append(params, sel, `span_kind="SPAN_KIND_SERVER"`), func(s string) bool { return s == "" }), ",")+"}", 1)
	}
	for _, e := range []string{
		build(`sum(rate(traces_spanmetrics_calls_total{}[$__range])) by (span_name)`),
		build(`sum(rate(traces_spanmetrics_calls_total{}[$__range])) by (span_name)`, `status_code="STATUS_CODE_ERROR"`),
		build(`histogram_quantile(.9, sum(rate(traces_spanmetrics_latency_bucket{}[$__range])) by (le))`),
	} {
		r.promTarget(where+": service graph table", e, true, false, tr, r.scrape)
	}
}

// annotation runs a Prometheus annotation query: a range query whose
// step is the annotation's (60s by default, ANNOTATION_QUERY_STEP_DEFAULT
// in packages/grafana-prometheus) or the query interval if longer; an
// annotation is drawn where a series has a value other than 0.
func (r *runner) annotation(where string, a annotation, s scope, tr timeRange) {
	r.t.Helper()
	stepText := a.Step
	if stepText == "" {
		stepText = "60s"
	}
	minStep, err := time.ParseDuration(stepText)
	if err != nil {
		r.t.Fatalf("%s: step %q: %v", where, a.Step, err)
	}
	step := promStep(tr.length(), max(minStep, r.scrape))
	expr := expandIntervals(r.interp(where, s, a.Expr), step, rateInterval(step, r.scrape), tr.length())
	m, err := r.h.promRange(expr, alignTime(tr.from, step), alignTime(tr.to, step), step)
	r.queries++
	if err != nil || !m.hasNonZero() {
		r.t.Errorf("%s: %s: no value other than 0 in %d series, %v", where, expr, len(m), err)
	}
	// The title's {{label}}s and the tag keys must be labels of the series.
	var names []string
	for _, sm := range legendRE.FindAllStringSubmatch(a.TitleFormat+a.TextFormat, -1) {
		names = append(names, sm[1])
	}
	for _, k := range strings.Split(a.TagKeys, ",") {
		names = append(names, strings.TrimSpace(k))
	}
	for _, name := range names {
		if len(m) > 0 && m[0].Metric[name] == "" {
			r.t.Errorf("%s: %q is not a label of %v", where, name, m[0].Metric)
		}
	}
}

// legendRE finds the {{label}}s of a legend or title format.
var legendRE = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// explore runs the queries of an Explore link (/explore?panes=<JSON>),
// with the dashboard's time range (keepTime) and variables.
func (r *runner) explore(where, link string, s scope, tr timeRange) {
	r.t.Helper()
	u, err := url.Parse(r.interp(where, s, link))
	if err != nil {
		r.t.Fatalf("%s: %v", where, err)
	}
	var panes map[string]struct {
		Datasource string          `json:"datasource"`
		Queries    []target        `json:"queries"`
		Range      json.RawMessage `json:"range"`
	}
	if err := strictJSON([]byte(u.Query().Get("panes")), &panes); err != nil || len(panes) == 0 {
		r.t.Fatalf("%s: panes: %v", where, err)
	}
	for _, pane := range panes {
		for _, q := range pane.Queries {
			if q.Datasource.UID != pane.Datasource {
				r.t.Errorf("%s: query on %s in a pane of %s", where, q.Datasource.UID, pane.Datasource)
			}
			r.target(where, q, s, tr, r.scrape)
			if q.QueryType == "serviceMap" {
				sel, _ := q.serviceMapQueries()
				r.serviceGraphTable(where, sel[0], tr)
			}
		}
	}
}

// openTrace fetches a trace as the Tempo data source does (GET
// /api/v2/traces/<id>?start&end, Accept: application/protobuf;
// pkg/tsdb/tempo/trace.go), the range widened by traceQuery's shifts, and
// wants its spans. The first few traces opened are then followed through
// the trace view's links (traceLinks).
func (r *runner) openTrace(where, id string, tr timeRange) {
	r.t.Helper()
	if _, seen := r.traces[id]; seen {
		return
	}
	r.traces[id] = false
	tq := r.p.tempo.TraceQuery
	from, to := tr.from, tr.to
	if tq.TimeShiftEnabled {
		from, to = from.Add(parseShift(r.t, tq.SpanStartTimeShift)), to.Add(parseShift(r.t, tq.SpanEndTimeShift))
	}
	req, _ := http.NewRequest("GET", r.h.url+"/api/v2/traces/"+id+"?start="+unixS(from)+"&end="+unixS(to), nil)
	req.Header.Set("Accept", "application/protobuf")
	r.queries++
	td, err := getTrace(req)
	if err != nil || td.SpanCount() == 0 {
		r.t.Errorf("%s: trace %s: %d spans, %v", where, id, td.SpanCount(), err)
		return
	}
	// Grafana before the v2 endpoint (and as a fallback) asks
	// /api/traces/<id>, whose protobuf answer is the trace itself.
	req, _ = http.NewRequest("GET", r.h.url+"/api/traces/"+id+"?start="+unixS(from)+"&end="+unixS(to), nil)
	req.Header.Set("Accept", "application/protobuf")
	r.queries++
	if v1, err := getTraceV1(req); err != nil || v1.SpanCount() != td.SpanCount() {
		r.t.Errorf("%s: trace %s from /api/traces: %d spans (v2: %d), %v", where, id, v1.SpanCount(), td.SpanCount(), err)
	}
	r.traces[id] = true
	if len(r.traces) <= 6 {
		r.traceLinks(where+": trace "+id, td)
	}
}

// getTraceV1 decodes a tempopb.Trace (wire-identical to OTLP TracesData).
func getTraceV1(req *http.Request) (ptrace.Traces, error) {
	b, err := fetch(req)
	if err != nil {
		return ptrace.NewTraces(), err
	}
	var u ptrace.ProtoUnmarshaler
	return u.UnmarshalTraces(b)
}

// fetch returns the body of a 200 answer to req.
func fetch(req *http.Request) ([]byte, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %.200s", resp.Status, b)
	}
	return b, nil
}

// getTrace decodes a TraceByIDResponse (field 1: the trace, wire-identical
// to OTLP TracesData).
func getTrace(req *http.Request) (ptrace.Traces, error) {
	b, err := fetch(req)
	if err != nil {
		return ptrace.NewTraces(), err
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ptrace.NewTraces(), protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return ptrace.NewTraces(), protowire.ParseError(n)
			}
			var u ptrace.ProtoUnmarshaler
			return u.UnmarshalTraces(v)
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return ptrace.NewTraces(), protowire.ParseError(n)
		}
		b = b[n:]
	}
	return ptrace.NewTraces(), fmt.Errorf("no trace in the answer")
}

// traceLinks runs the trace view's links of every span of td as Grafana
// builds them (public/app/features/explore/TraceView/createSpanLink.tsx):
// trace to logs (the custom query, and Grafana's default query for
// filterByTraceID, over the span's time shifted by spanStartTimeShift and
// spanEndTimeShift) and trace to metrics (each query, over the span's
// time shifted by its shifts), with ${__tags} the span's and its
// resource's attributes named in tags, as label="value" joined by ", "
// (getFormattedTags), and ${__span.*}, ${__trace.traceId} the span's.
func (r *runner) traceLinks(where string, td ptrace.Traces) {
	t2l, t2m := r.p.tempo.TracesToLogsV2, r.p.tempo.TracesToMetrics
	for i := range td.ResourceSpans().Len() {
		rs := td.ResourceSpans().At(i)
		for j := range rs.ScopeSpans().Len() {
			spans := rs.ScopeSpans().At(j).Spans()
			for k := range spans.Len() {
				sp := spans.At(k)
				attrs := map[string]string{}
				rs.Resource().Attributes().Range(func(k string, v pcommon.Value) bool { attrs[k] = v.AsString(); return true })
				sp.Attributes().Range(func(k string, v pcommon.Value) bool { attrs[k] = v.AsString(); return true })
				s := scope{scoped: map[string]string{
					"__span.traceId": sp.TraceID().String(), "__span.spanId": sp.SpanID().String(), "__span.name": sp.Name(),
					"__trace.traceId": sp.TraceID().String(),
				}}
				spanWhere := fmt.Sprintf("%s span %q (%s)", where, sp.Name(), attrs["service.name"])
				start, end := sp.StartTimestamp().AsTime(), sp.EndTimestamp().AsTime()

				s.scoped["__tags"] = formattedTags(attrs, t2l.Tags)
				logsRange := timeRange{start.Add(parseShift(r.t, t2l.SpanStartTimeShift)), end.Add(parseShift(r.t, t2l.SpanEndTimeShift))}
				queries := []string{}
				if t2l.CustomQuery {
					queries = append(queries, t2l.Query)
				}
				if t2l.FilterByTraceID { // Grafana's own query (getQueryForLoki) must work too
					queries = append(queries, "{${__tags}} | label_format log_line_contains_trace_id=`{{ contains \"${__span.traceId}\" __line__  }}` | log_line_contains_trace_id=\"true\" OR trace_id=\"${__span.traceId}\"")
				}
				for _, q := range queries {
					r.lokiTarget(spanWhere+": trace to logs", r.interp(spanWhere, s, q), 0, logsRange, time.Millisecond)
				}

				s.scoped["__tags"] = formattedTags(attrs, t2m.Tags)
				metricsRange := timeRange{start.Add(parseShift(r.t, t2m.SpanStartTimeShift)), end.Add(parseShift(r.t, t2m.SpanEndTimeShift))}
				for _, q := range t2m.Queries {
					r.promTarget(spanWhere+": trace to metrics "+strconv.Quote(q.Name), r.interp(spanWhere, s, q.Query), false, false, metricsRange, r.scrape)
				}
			}
		}
	}
}

// formattedTags is Grafana's getFormattedTags: key="value" (the key
// mapped to its label name) for each tag the span has, joined by ", ".
func formattedTags(attrs map[string]string, tags []tagToUse) string {
	var out []string
	for _, k := range sortedKeys(attrs) {
		for _, tg := range tags {
			if tg.Key == k {
				out = append(out, firstNonEmpty(tg.Value, tg.Key)+`="`+attrs[k]+`"`)
			}
		}
	}
	return strings.Join(out, ", ")
}

// links checks that every data-source link met a trace that opened, and
// that both derived fields found ids.
func (r *runner) links() {
	for _, f := range r.p.loki.DerivedFields {
		if r.derived[f.Name] == 0 {
			r.t.Errorf("derived field %q matched no line of any log query", f.Name)
		}
		// A label matcher is there for the lines (OTLP's) whose text does
		// not hold the id.
		if f.MatcherType == "label" && r.derived[f.Name+" (not in the line)"] == 0 {
			r.t.Errorf("derived field %q matched no line without the id in its text", f.Name)
		}
	}
	opened := 0
	for _, ok := range r.traces {
		if ok {
			opened++
		}
	}
	if opened == 0 {
		r.t.Error("no trace opened")
	}
}

// parseShift parses a time shift ("-5m", "1h"; "" is 0).
func parseShift(t *testing.T, s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("time shift %q: %v", s, err)
	}
	return d
}

// copyWeekBefore writes the span metrics of [from, to] again a week
// earlier through remote_write, so that the dashboards' "1 week ago"
// series have the data a week-old Horus would hold.
func (h *horus) copyWeekBefore(t *testing.T, from, to time.Time) {
	t.Helper()
	var m promMatrix
	q := fmt.Sprintf(`{__name__=~"traces_spanmetrics_.+"}[%ds]`, int(to.Sub(from).Seconds())+1)
	if err := h.prom("POST", "/api/v1/query", url.Values{"query": {q}, "time": {unixS(to)}}, &struct {
		ResultType string      `json:"resultType"`
		Result     *promMatrix `json:"result"`
	}{Result: &m}); err != nil || len(m) == 0 {
		t.Fatalf("read the span metrics: %d series, %v", len(m), err)
	}
	week := 7 * 24 * time.Hour
	var ts []prompb.TimeSeries
	for _, s := range m {
		var ls []prompb.Label
		for _, k := range sortedKeys(s.Metric) {
			ls = append(ls, prompb.Label{Name: k, Value: s.Metric[k]})
		}
		var samples []prompb.Sample
		for _, v := range s.Values {
			samples = append(samples, prompb.Sample{Timestamp: v.t.Add(-week).UnixMilli(), Value: v.v})
		}
		ts = append(ts, prompb.TimeSeries{Labels: ls, Samples: samples})
	}
	c, err := remoteapi.NewAPI(h.url, remoteapi.WithAPIPath("api/v1/write"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Write(ctx, remoteapi.WriteV1MessageType, &prompb.WriteRequest{Timeseries: ts}); err != nil {
		t.Fatalf("remote_write the week before: %v", err)
	}
}

// prom calls a Prometheus API endpoint (form-encoded, as the data source
// does with httpMethod POST) and decodes its data into v.
func (h *horus) prom(method, path string, form url.Values, v any) error {
	var req *http.Request
	if method == "GET" {
		req, _ = http.NewRequest("GET", h.url+path+"?"+form.Encode(), nil)
	} else {
		req, _ = http.NewRequest("POST", h.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := getJSON(req, &env); err != nil {
		return err
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", env.Status, env.Error)
	}
	return json.Unmarshal(env.Data, v)
}

// promVector is an instant vector.
type promVector []struct {
	Metric map[string]string `json:"metric"`
}

func (h *horus) promInstant(expr string, at time.Time) (promVector, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := h.prom("POST", "/api/v1/query", url.Values{"query": {expr}, "time": {unixS(at)}}, &d); err != nil {
		return nil, err
	}
	if d.ResultType == "scalar" {
		return promVector{{}}, nil
	}
	var v promVector
	return v, json.Unmarshal(d.Result, &v)
}

// promMatrix is a range query's answer.
type promMatrix []struct {
	Metric map[string]string `json:"metric"`
	Values []promPoint       `json:"values"`
}

// promPoint is a [time, "value"] pair.
type promPoint struct {
	t time.Time
	v float64
}

func (p *promPoint) UnmarshalJSON(b []byte) error {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	var sec float64
	var val string
	if err := fmtErr(json.Unmarshal(pair[0], &sec), json.Unmarshal(pair[1], &val)); err != nil {
		return err
	}
	p.t = time.UnixMilli(int64(math.Round(sec * 1000)))
	var err error
	p.v, err = strconv.ParseFloat(val, 64)
	return err
}

func (m promMatrix) hasValues() bool {
	for _, s := range m {
		for _, v := range s.Values {
			if !math.IsNaN(v.v) {
				return true
			}
		}
	}
	return false
}

func (m promMatrix) hasNonZero() bool {
	for _, s := range m {
		for _, v := range s.Values {
			if v.v != 0 && !math.IsNaN(v.v) {
				return true
			}
		}
	}
	return false
}

func (h *horus) promRange(expr string, start, end time.Time, step time.Duration) (promMatrix, error) {
	var m promMatrix
	err := h.prom("POST", "/api/v1/query_range", url.Values{"query": {expr}, "start": {unixS(start)}, "end": {unixS(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}, &struct {
		ResultType string      `json:"resultType"`
		Result     *promMatrix `json:"result"`
	}{Result: &m})
	return m, err
}

// lokiResult is a Loki query_range answer's data.
type lokiResult struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// lokiStream is a stream of a log query's answer.
type lokiStream struct {
	Stream map[string]string `json:"stream"`
	Values []lokiEntry       `json:"values"`
}

// lokiEntry is [ns, line, {structuredMetadata, parsed}] (categorize-labels).
type lokiEntry struct {
	Line string
	Meta struct {
		StructuredMetadata map[string]string `json:"structuredMetadata"`
		Parsed             map[string]string `json:"parsed"`
	}
}

func (e *lokiEntry) UnmarshalJSON(b []byte) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil || len(parts) < 2 {
		return fmt.Errorf("a log entry %.100s: %w", b, err)
	}
	if err := json.Unmarshal(parts[1], &e.Line); err != nil {
		return err
	}
	if len(parts) > 2 {
		return json.Unmarshal(parts[2], &e.Meta)
	}
	return nil
}

func (l lokiResult) streams() []lokiStream {
	if l.ResultType != "streams" {
		return nil
	}
	var s []lokiStream
	_ = json.Unmarshal(l.Result, &s)
	return s
}

func (l lokiResult) empty() bool {
	switch l.ResultType {
	case "streams":
		for _, s := range l.streams() {
			if len(s.Values) > 0 {
				return false
			}
		}
	case "matrix":
		var m promMatrix
		_ = json.Unmarshal(l.Result, &m)
		return !m.hasValues()
	}
	return true
}

func (h *horus) lokiRange(expr string, tr timeRange, step time.Duration, limit int) (lokiResult, error) {
	q := url.Values{"query": {expr}, "start": {strconv.FormatInt(tr.from.UnixNano(), 10)}, "end": {strconv.FormatInt(tr.to.UnixNano(), 10)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}, "limit": {strconv.Itoa(limit)}, "direction": {"backward"}}
	req, _ := http.NewRequest("GET", h.url+"/loki/api/v1/query_range?"+q.Encode(), nil)
	req.Header.Set("X-Loki-Response-Encoding-Flags", "categorize-labels")
	var env struct {
		Status string     `json:"status"`
		Data   lokiResult `json:"data"`
	}
	err := getJSON(req, &env)
	return env.Data, err
}

func unixS(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
