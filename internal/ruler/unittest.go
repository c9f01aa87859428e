package ruler

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"go.yaml.in/yaml/v2"

	"github.com/horus-obs/horus/internal/api/prom"
	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/loki"
	"github.com/horus-obs/horus/internal/pipeline"
	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/store/events/wal"
	"github.com/horus-obs/horus/internal/store/metrics"
	"github.com/horus-obs/horus/internal/tenant"
	"github.com/horus-obs/horus/sdk/redact"
)

// UnitTestFile is a rule unit test file in promtool's format
// (prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules).
type UnitTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	// LogQLRuleFiles are rule files whose groups are LogQL (Horus' own
	// key, as the configuration's logql_rule_files).
	LogQLRuleFiles     []string        `yaml:"logql_rule_files,omitempty"`
	EvaluationInterval model.Duration  `yaml:"evaluation_interval,omitempty"`
	GroupEvalOrder     []string        `yaml:"group_eval_order"`
	Tests              []UnitTestGroup `yaml:"tests"`
	FuzzyCompare       bool            `yaml:"fuzzy_compare,omitempty"`
}

// UnitTestGroup is input series and the tests on them.
type UnitTestGroup struct {
	Interval        model.Duration   `yaml:"interval"`
	InputSeries     []InputSeries    `yaml:"input_series"`
	InputLogs       []InputLogs      `yaml:"input_logs,omitempty"`
	AlertRuleTests  []AlertTestCase  `yaml:"alert_rule_test,omitempty"`
	PromQLExprTests []PromQLTestCase `yaml:"promql_expr_test,omitempty"`
	ExternalLabels  labels.Labels    `yaml:"external_labels,omitempty"`
	ExternalURL     string           `yaml:"external_url,omitempty"`
	Name            string           `yaml:"name,omitempty"`
}

// InputSeries is a series in the expanding notation: values '1+2x3 _ 5'.
type InputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

// InputLogs are log lines for LogQL rules (Horus' own key): at each
// interval step, as many lines line in stream stream as values says, in
// the expanding notation ('0 3x4': none at 0, 3 a step from 1 to 5),
// timed in the nanoseconds up to the step. They are pushed through
// Horus' Loki push handler, as Horus ingests them.
type InputLogs struct {
	Stream string `yaml:"stream"`
	Line   string `yaml:"line"`
	Values string `yaml:"values"`
}

// AlertTestCase expects the firing alerts of alertname at eval_time.
type AlertTestCase struct {
	EvalTime  model.Duration `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []ExpAlert     `yaml:"exp_alerts"`
}

// ExpAlert is an expected alert's labels (alertname aside) and
// annotations.
type ExpAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

// PromQLTestCase expects the samples of expr at eval_time.
type PromQLTestCase struct {
	Expr       string         `yaml:"expr"`
	EvalTime   model.Duration `yaml:"eval_time"`
	ExpSamples []ExpSample    `yaml:"exp_samples"`
}

// ExpSample is an expected sample: labels in PromQL notation, a value.
type ExpSample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

// TestResult is the outcome of one test file.
type TestResult struct {
	File string
	// Errs are the failures (each naming the alert or expression, with
	// what was expected and what came) or why the file could not run.
	Errs []error
}

// RunUnitTests runs each file's tests on Horus' PromQL engine and metrics
// store, as promtool test rules runs them on Prometheus'.
func RunUnitTests(files []string, ps parser.Parser) []TestResult {
	var out []TestResult
	for _, f := range files {
		out = append(out, TestResult{File: f, Errs: runUnitTestFile(f, ps)})
	}
	return out
}

func runUnitTestFile(name string, ps parser.Parser) []error {
	b, err := os.ReadFile(name)
	if err != nil {
		return []error{err}
	}
	var utf UnitTestFile
	if err := yaml.UnmarshalStrict(b, &utf); err != nil {
		return []error{err}
	}
	if utf.EvaluationInterval == 0 {
		utf.EvaluationInterval = model.Duration(time.Minute)
	}
	dir := filepath.Dir(name)
	var ruleFiles []string
	files := map[string]*File{}
	for _, set := range []struct {
		lang     Lang
		patterns []string
	}{{PromQL, utf.RuleFiles}, {LogQL, utf.LogQLRuleFiles}} {
		for _, rf := range set.patterns {
			if !filepath.IsAbs(rf) {
				rf = filepath.Join(dir, rf)
			}
			m, err := filepath.Glob(rf)
			if err != nil {
				return []error{err}
			}
			if len(m) == 0 {
				return []error{fmt.Errorf("rule files: no file matches %s", rf)}
			}
			for _, rf := range m {
				f, errs := ParseFile(rf, set.lang, Parsers{PromQL: ps}, nil)
				if len(errs) > 0 {
					return errs
				}
				if f.Groups[TraceQL] != nil {
					return []error{fmt.Errorf("%s: TraceQL groups are not unit-tested (there is no input of spans); test the PromQL over the series they record", rf)}
				}
				files[rf] = f
				ruleFiles = append(ruleFiles, rf)
			}
		}
	}
	order := map[string]int{}
	for i, g := range utf.GroupEvalOrder {
		order[g] = i
	}
	var errs []error
	for i, tg := range utf.Tests {
		name := tg.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		for _, err := range tg.run(ruleFiles, files, order, time.Duration(utf.EvaluationInterval), utf.FuzzyCompare, ps) {
			errs = append(errs, fmt.Errorf("test group %s: %w", name, err))
		}
	}
	return errs
}

// run evaluates the rule groups every evalInterval from time 0 over the
// group's input series and checks the expectations.
func (tg *UnitTestGroup) run(ruleFiles []string, files map[string]*File, order map[string]int, evalInterval time.Duration, fuzzy bool, ps parser.Parser) []error {
	if tg.Interval == 0 {
		tg.Interval = model.Duration(evalInterval)
	}
	dir, err := os.MkdirTemp("", "horus-rules-test-")
	if err != nil {
		return []error{err}
	}
	defer func() { _ = os.RemoveAll(dir) }()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := metrics.Open(dir, logger, nil, metrics.Options{})
	if err != nil {
		return []error{err}
	}
	defer func() { _ = st.Close() }()
	engine, err := prom.NewEngine(logger, nil, prom.EngineOptions{
		Timeout: time.Minute, MaxSamples: 50000000, LookbackDelta: 5 * time.Minute,
	})
	if err != nil {
		return []error{err}
	}
	if err := tg.load(st, ps); err != nil {
		return []error{err}
	}
	ctx := context.Background()
	queries := map[Lang]rules.QueryFunc{PromQL: rules.EngineQueryFunc(engine, st)}
	if tg.needsLogs(files) {
		ev, err := events.Open(filepath.Join(dir, "events"), logger, events.Options{WAL: wal.Options{Sync: wal.SyncNever}})
		if err != nil {
			return []error{err}
		}
		defer func() { _ = ev.Close() }()
		if err := tg.loadLogs(ctx, ev, logger); err != nil {
			return []error{err}
		}
		queries[LogQL] = LogQLQueryFunc(logql.NewEngine(ev, logql.Options{}), tenant.Default)
	}

	var groups []*rules.Group
	for lang, query := range queries {
		mo := &rules.ManagerOptions{
			QueryFunc:    query,
			AppendableV2: st,
			Queryable:    st,
			Context:      ctx,
			NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
			Logger:       logger,
			Parser:       ps,
			GroupLoader:  loader{lang: lang, files: func() map[string]*File { return files }, parser: ps},
		}
		if lang != PromQL {
			mo.RuleDependencyController = noDependencies{}
		}
		groupsMap, lerrs := rules.NewManager(mo).LoadGroups(time.Duration(tg.Interval), tg.ExternalLabels, tg.ExternalURL, nil, false, ruleFiles...)
		if lerrs != nil {
			return lerrs
		}
		for _, g := range groupsMap {
			groups = append(groups, g)
			for _, r := range g.Rules() {
				if ar, ok := r.(*rules.AlertingRule); ok {
					ar.SetRestored(true)
				}
			}
		}
	}
	slices.SortFunc(groups, func(a, b *rules.Group) int {
		oa, aok := order[a.Name()]
		ob, bok := order[b.Name()]
		switch {
		case aok && bok:
			return cmp.Compare(oa, ob)
		case aok:
			return -1
		case bok:
			return 1
		}
		return cmp.Or(cmp.Compare(slices.Index(ruleFiles, a.File()), slices.Index(ruleFiles, b.File())), cmp.Compare(a.Name(), b.Name()))
	})

	var errs []error
	for _, at := range tg.AlertRuleTests {
		if at.Alertname == "" {
			return []error{fmt.Errorf("an alert_rule_test at eval_time %v has no alertname", at.EvalTime)}
		}
	}
	byTime := map[model.Duration][]AlertTestCase{}
	var times []model.Duration
	for _, at := range tg.AlertRuleTests {
		if byTime[at.EvalTime] == nil {
			times = append(times, at.EvalTime)
		}
		byTime[at.EvalTime] = append(byTime[at.EvalTime], at)
	}
	slices.Sort(times)
	maxt := time.Duration(0)
	if len(times) > 0 {
		maxt = time.Duration(times[len(times)-1])
	}
	for _, pt := range tg.PromQLExprTests {
		maxt = max(maxt, time.Duration(pt.EvalTime))
	}
	mint := time.Unix(0, 0).UTC()
	cur := 0
	for ts := mint; !ts.After(mint.Add(maxt)); ts = ts.Add(evalInterval) {
		for _, g := range groups {
			g.Eval(ctx, ts)
			for _, r := range g.Rules() {
				if r.LastError() != nil {
					return append(errs, fmt.Errorf("rule %s at %s: %w", r.Name(), ts.Sub(mint), r.LastError()))
				}
			}
		}
		for cur < len(times) && ts.Sub(mint) <= time.Duration(times[cur]) && time.Duration(times[cur]) < ts.Add(evalInterval).Sub(mint) {
			for _, at := range byTime[times[cur]] {
				if err := at.check(groups, fuzzy); err != nil {
					errs = append(errs, err)
				}
			}
			cur++
		}
	}
	for _, pt := range tg.PromQLExprTests {
		if err := pt.check(ctx, engine, st, mint, ps, fuzzy); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// load appends the input series, expanded, one sample every interval
// from time 0.
func (tg *UnitTestGroup) load(st storage.AppendableV2, ps parser.Parser) error {
	app := st.AppenderV2(context.Background())
	step := time.Duration(tg.Interval).Milliseconds()
	for _, in := range tg.InputSeries {
		ls, vals, err := ps.ParseSeriesDesc(in.Series + " " + in.Values)
		if err != nil {
			_ = app.Rollback()
			return fmt.Errorf("input_series %s %q: %w", in.Series, in.Values, err)
		}
		var ref storage.SeriesRef
		for i, v := range vals {
			if v.Omitted {
				continue
			}
			if ref, err = app.Append(ref, ls, 0, int64(i)*step, v.Value, nil, v.Histogram, storage.AOptions{}); err != nil {
				_ = app.Rollback()
				return fmt.Errorf("input_series %s: %w", in.Series, err)
			}
		}
	}
	return app.Commit()
}

// needsLogs says whether the test has logs or LogQL rules to evaluate.
func (tg *UnitTestGroup) needsLogs(files map[string]*File) bool {
	if len(tg.InputLogs) > 0 {
		return true
	}
	for _, f := range files {
		if f.Groups[LogQL] != nil {
			return true
		}
	}
	return false
}

// loadLogs pushes the input logs through Horus' Loki push handler into
// ev: the lines of a step in the nanoseconds up to it (at it, 1 ns
// before, ...), so that an evaluation at the step counts them all.
func (tg *UnitTestGroup) loadLogs(ctx context.Context, ev *events.Store, logger *slog.Logger) error {
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	var streams []stream
	step := time.Duration(tg.Interval)
	for _, in := range tg.InputLogs {
		_, counts, err := parser.NewParser(parser.Options{}).ParseSeriesDesc("{} " + in.Values)
		if err != nil {
			return fmt.Errorf("input_logs %s %q: %w", in.Stream, in.Values, err)
		}
		ls, err := parser.NewParser(parser.Options{}).ParseMetric(in.Stream)
		if err != nil {
			return fmt.Errorf("input_logs stream %q: %w", in.Stream, err)
		}
		s := stream{Stream: ls.Map()}
		for i, c := range counts {
			if c.Omitted {
				continue
			}
			for j := range int(c.Value) {
				s.Values = append(s.Values, [2]string{strconv.FormatInt(int64(i)*int64(step)-int64(j), 10), in.Line})
			}
		}
		streams = append(streams, s)
	}
	body, err := json.Marshal(map[string]any{"streams": streams})
	if err != nil {
		return err
	}
	h := &loki.Handler{Sink: pipeline.NewLogs(ev, func(string) *redact.Redactor { return nil }, nil),
		Body:    ingest.BodyLimits{MaxBytes: int64(len(body)), MaxDecodedBytes: int64(len(body))},
		Metrics: ingest.NewMetrics(prometheus.NewRegistry()), Logger: logger}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/loki/api/v1/push", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		return fmt.Errorf("input_logs: %s", strings.TrimSpace(rec.Body.String()))
	}
	return nil
}

// alertSet is alerts' labels and annotations, sorted for comparison.
type alertSet []struct{ labels, annotations labels.Labels }

func (s alertSet) sort() {
	slices.SortFunc(s, func(a, b struct{ labels, annotations labels.Labels }) int {
		return cmp.Or(labels.Compare(a.labels, b.labels), labels.Compare(a.annotations, b.annotations))
	})
}

func (s alertSet) String() string {
	if len(s) == 0 {
		return "(none)"
	}
	var lines []string
	for _, a := range s {
		lines = append(lines, "labels: "+a.labels.String()+" annotations: "+a.annotations.String())
	}
	return "\n      " + strings.Join(lines, "\n      ")
}

// check compares the firing alerts of the test's alertname with those
// expected; the error names the alert and shows both.
func (at AlertTestCase) check(groups []*rules.Group, _ bool) error {
	var got alertSet
	for _, g := range groups {
		for _, r := range g.Rules() {
			ar, ok := r.(*rules.AlertingRule)
			if !ok || ar.Name() != at.Alertname {
				continue
			}
			for _, a := range ar.ActiveAlerts() {
				if a.State == rules.StateFiring {
					got = append(got, struct{ labels, annotations labels.Labels }{a.Labels.Copy(), a.Annotations.Copy()})
				}
			}
		}
	}
	var exp alertSet
	for _, e := range at.ExpAlerts {
		ls := map[string]string{}
		for k, v := range e.ExpLabels {
			ls[k] = v
		}
		ls[labels.AlertName] = at.Alertname
		exp = append(exp, struct{ labels, annotations labels.Labels }{labels.FromMap(ls), labels.FromMap(e.ExpAnnotations)})
	}
	got.sort()
	exp.sort()
	if slices.EqualFunc(got, exp, func(a, b struct{ labels, annotations labels.Labels }) bool {
		return labels.Equal(a.labels, b.labels) && labels.Equal(a.annotations, b.annotations)
	}) {
		return nil
	}
	return fmt.Errorf("alertname: %s, time: %s,\n    exp: %v\n    got: %v", at.Alertname, at.EvalTime, exp, got)
}

// check compares the samples of the test's expression with those
// expected.
func (pt PromQLTestCase) check(ctx context.Context, engine promql.QueryEngine, st storage.Queryable, mint time.Time, ps parser.Parser, fuzzy bool) error {
	q, err := engine.NewInstantQuery(ctx, st, nil, pt.Expr, mint.Add(time.Duration(pt.EvalTime)))
	if err != nil {
		return fmt.Errorf("expr: %q, time: %s: %w", pt.Expr, pt.EvalTime, err)
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return fmt.Errorf("expr: %q, time: %s: %w", pt.Expr, pt.EvalTime, res.Err)
	}
	type sample struct {
		labels labels.Labels
		value  float64
	}
	var got []sample
	switch v := res.Value.(type) {
	case promql.Vector:
		for _, s := range v {
			got = append(got, sample{s.Metric, s.F})
		}
	case promql.Scalar:
		got = append(got, sample{labels.EmptyLabels(), v.V})
	default:
		return fmt.Errorf("expr: %q, time: %s: the result is a %s, not a vector or scalar", pt.Expr, pt.EvalTime, res.Value.Type())
	}
	var exp []sample
	for _, s := range pt.ExpSamples {
		ls, err := ps.ParseMetric(s.Labels)
		if err != nil {
			return fmt.Errorf("expr: %q, time: %s: labels %q: %w", pt.Expr, pt.EvalTime, s.Labels, err)
		}
		exp = append(exp, sample{ls, s.Value})
	}
	bySeries := func(a, b sample) int { return labels.Compare(a.labels, b.labels) }
	slices.SortFunc(got, bySeries)
	slices.SortFunc(exp, bySeries)
	same := slices.EqualFunc(got, exp, func(a, b sample) bool {
		return labels.Equal(a.labels, b.labels) && (a.value == b.value || math.IsNaN(a.value) && math.IsNaN(b.value) ||
			fuzzy && (math.Nextafter(a.value, math.Inf(1)) == b.value || math.Nextafter(a.value, math.Inf(-1)) == b.value))
	})
	if same {
		return nil
	}
	str := func(ss []sample) string {
		var parts []string
		for _, s := range ss {
			parts = append(parts, fmt.Sprintf("%s %g", s.labels, s.value))
		}
		if len(parts) == 0 {
			return "(none)"
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Errorf("expr: %q, time: %s,\n    exp: %s\n    got: %s", pt.Expr, pt.EvalTime, str(exp), str(got))
}

// errNoFiles is the error of a command given no files.
var errNoFiles = errors.New("no files given")
