package metrics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/horus-obs/horus/internal/tenant"
)

// openTenancyDB opens a TSDB with exemplars in a temporary directory.
func openTenancyDB(tb testing.TB) *tsdb.DB {
	tb.Helper()
	opts := tsdb.DefaultOptions()
	opts.EnableExemplarStorage = true
	opts.MaxExemplars = 1000
	db, err := tsdb.Open(tb.TempDir(), nil, nil, opts, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// appendTenants writes up{job} = 1 at t (ms) for the default tenant
// (job="d") and tenants a and b (job="a", "b", with the tenant label as
// the guard puts it on), each with an exemplar.
func appendTenants(t *testing.T, db *tsdb.DB, ts int64) {
	t.Helper()
	app := db.AppenderV2(context.Background())
	for _, org := range []string{tenant.Default, "a", "b"} {
		job := org
		if org == tenant.Default {
			job = "d"
		}
		ls := labels.FromStrings("__name__", "up", "job", job, "only_"+job, "x")
		if org != tenant.Default {
			ls = labels.NewBuilder(ls).Set(tenant.Label, org).Labels()
		}
		ex := []exemplar.Exemplar{{Labels: labels.FromStrings("trace_id", job), Value: 1, Ts: ts, HasTs: true}}
		if _, err := app.Append(0, ls, 0, ts, 1, nil, nil, storage.AOptions{Exemplars: ex}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

func ctxOf(org string) context.Context { return tenant.WithContext(context.Background(), org) }

func selectAll(t *testing.T, q storage.Querier, ctx context.Context, ms ...*labels.Matcher) []string {
	t.Helper()
	set := q.Select(ctx, true, nil, ms...)
	var out []string
	for set.Next() {
		out = append(out, set.At().Labels().String())
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTenancyReadsOneTenant(t *testing.T) {
	db := openTenancyDB(t)
	appendTenants(t, db, 1000)
	tn := NewTenancy(db)
	q, err := tn.Querier(0, 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close() }()
	up := labels.MustNewMatcher(labels.MatchEqual, "__name__", "up")
	eq := func(n, v string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchEqual, n, v) }
	re := func(n, v string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchRegexp, n, v) }
	for _, c := range []struct {
		org  string
		ms   []*labels.Matcher
		want []string
	}{
		{tenant.Default, []*labels.Matcher{up}, []string{`{__name__="up", job="d", only_d="x"}`}},
		{"a", []*labels.Matcher{up}, []string{`{__name__="up", job="a", only_a="x"}`}},
		{"b", []*labels.Matcher{up}, []string{`{__name__="up", job="b", only_b="x"}`}},
		{"a", []*labels.Matcher{up, eq(tenant.Label, "b")}, nil},
		{"a", []*labels.Matcher{up, eq(tenant.Label, "a")}, nil}, // the label does not exist for the tenant
		{"a", []*labels.Matcher{up, eq(tenant.Label, "")}, []string{`{__name__="up", job="a", only_a="x"}`}},
		{"a", []*labels.Matcher{re(tenant.Label, ".+")}, nil},
		{tenant.Default, []*labels.Matcher{re(tenant.Label, ".+")}, nil},
		{tenant.Default, []*labels.Matcher{up, eq("job", "a")}, nil},
		{"a", []*labels.Matcher{re("job", ".+")}, []string{`{__name__="up", job="a", only_a="x"}`}},
	} {
		if got := selectAll(t, q, ctxOf(c.org), c.ms...); !slices.Equal(got, c.want) {
			t.Errorf("tenant %s, %v: got %v, want %v", c.org, c.ms, got, c.want)
		}
	}

	for _, c := range []struct {
		org           string
		ms            []*labels.Matcher
		names, names2 []string
	}{
		{tenant.Default, nil, []string{"__name__", "job", "only_d"}, []string{"d"}},
		{tenant.Default, []*labels.Matcher{up}, []string{"__name__", "job", "only_d"}, []string{"d"}},
		{"a", nil, []string{"__name__", "job", "only_a"}, []string{"a"}},
		{"b", []*labels.Matcher{up}, []string{"__name__", "job", "only_b"}, []string{"b"}},
		{"a", []*labels.Matcher{eq(tenant.Label, "b")}, nil, nil},
	} {
		names, _, err := q.LabelNames(ctxOf(c.org), nil, c.ms...)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names, c.names) {
			t.Errorf("tenant %s: label names %v, want %v", c.org, names, c.names)
		}
		vals, _, err := q.LabelValues(ctxOf(c.org), "job", nil, c.ms...)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(vals, c.names2) {
			t.Errorf("tenant %s: job values %v, want %v", c.org, vals, c.names2)
		}
		if vals, _, _ := q.LabelValues(ctxOf(c.org), tenant.Label, nil, c.ms...); len(vals) != 0 {
			t.Errorf("tenant %s: values of the tenant label %v", c.org, vals)
		}
	}
	// A limit counts the tenant's names, not the tenant label.
	names, _, err := q.LabelNames(ctxOf("a"), &storage.LabelHints{Limit: 2})
	if err != nil || !slices.Equal(names, []string{"__name__", "job"}) {
		t.Errorf("limited label names %v, %v", names, err)
	}

	// Without a tenant in the context, nothing is read.
	if set := q.Select(context.Background(), false, nil, up); set.Next() || !errors.Is(set.Err(), ErrNoTenant) {
		t.Errorf("select without a tenant: %v", set.Err())
	}
	if _, _, err := q.LabelNames(context.Background(), nil); !errors.Is(err, ErrNoTenant) {
		t.Errorf("label names without a tenant: %v", err)
	}
	if _, err := tn.ExemplarQuerier(context.Background()); !errors.Is(err, ErrNoTenant) {
		t.Errorf("exemplars without a tenant: %v", err)
	}

	for org, job := range map[string]string{tenant.Default: "d", "a": "a"} {
		eq, err := tn.ExemplarQuerier(ctxOf(org))
		if err != nil {
			t.Fatal(err)
		}
		res, err := eq.Select(0, 2000, []*labels.Matcher{up}, []*labels.Matcher{up, labels.MustNewMatcher(labels.MatchEqual, tenant.Label, "b")})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].SeriesLabels.Get("job") != job || res[0].SeriesLabels.Has(tenant.Label) || res[0].Exemplars[0].Labels.Get("trace_id") != job {
			t.Errorf("tenant %s: exemplars %v", org, res)
		}
	}

	cq, err := tn.ChunkQuerier(0, 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cq.Close() }()
	cs := cq.Select(ctxOf("b"), false, nil, up)
	n := 0
	for cs.Next() {
		n++
		if ls := cs.At().Labels(); ls.Get("job") != "b" || ls.Has(tenant.Label) {
			t.Errorf("chunk series %s", ls)
		}
	}
	if n != 1 || cs.Err() != nil {
		t.Errorf("%d chunk series, %v", n, cs.Err())
	}

	st, chunks, err := tn.HeadStats(ctxOf("a"), 0, 2000, "__name__", 10)
	if err != nil {
		t.Fatal(err)
	}
	if st.NumSeries != 1 || chunks != 1 || st.IndexPostingStats.NumLabelPairs != 3 {
		t.Errorf("head stats of a: %d series, %d chunks, %d pairs", st.NumSeries, chunks, st.IndexPostingStats.NumLabelPairs)
	}
	for _, s := range st.IndexPostingStats.LabelValuePairsStats {
		if strings.Contains(s.Name, tenant.Label) || strings.HasSuffix(s.Name, "=b") {
			t.Errorf("head stats of a show %s", s.Name)
		}
	}
	if multi, err := tn.HasTenants(ctxOf(tenant.Default), 0, 2000); err != nil || !multi {
		t.Errorf("HasTenants = %v, %v", multi, err)
	}
}

// TestTenancyPromQL checks the PromQL that touches labels from tenant a:
// the tenant label can be neither seen nor matched.
func TestTenancyPromQL(t *testing.T) {
	db := openTenancyDB(t)
	now := time.Now()
	appendTenants(t, db, now.UnixMilli())
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	tn := NewTenancy(db)
	for q, want := range map[string]string{
		`count by (__tenant__) (up)`:                                   `{} => 1`,
		`count without (job, only_a) (up)`:                             `{} => 1`,
		`up{__tenant__="b"}`:                                           ``,
		`up{__tenant__=~".+"}`:                                         ``,
		`up{__tenant__!=""}`:                                           ``,
		`{__name__=~".+", __tenant__=~"a|b"}`:                          ``,
		`label_replace(up, "t", "$1", "__tenant__", "(.*)")`:           `{__name__="up", job="a", only_a="x"} => 1`,
		`sum by (job) ({__name__="up"})`:                               `{job="a"} => 1`,
		`absent(up{job="b"})`:                                          `{job="b"} => 1`,
		`group by (__tenant__, job) ({job=~".+"})`:                     `{job="a"} => 1`,
		`count(up) + count(up{__tenant__=""})`:                         `{} => 2`,
		`count_values("v", up) or on() vector(0)`:                      `{v="1"} => 1`,
		`up unless on (__tenant__) label_replace(up, "x", "", "", "")`: ``,
	} {
		qry, err := engine.NewInstantQuery(ctxOf("a"), tn, nil, q, now)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		res := qry.Exec(ctxOf("a"))
		if res.Err != nil {
			t.Fatalf("%s: %v", q, res.Err)
		}
		vec, _ := res.Vector()
		var got []string
		for _, s := range vec {
			got = append(got, fmt.Sprintf("%s => %g", s.Metric, s.F))
		}
		slices.Sort(got)
		if strings.Join(got, "; ") != want {
			t.Errorf("%s from tenant a: %q, want %q", q, strings.Join(got, "; "), want)
		}
		qry.Close()
	}
}

// BenchmarkRangeQuery measures a PromQL range query over the store
// directly and through Tenancy: as the default tenant alone, as the
// default tenant beside another tenant of as many series, and as that
// other tenant.
func BenchmarkRangeQuery(b *testing.B) {
	const series, step = 2000, 15 * time.Second
	end := time.Now().Truncate(time.Minute)
	start := end.Add(-time.Hour)
	fill := func(b *testing.B, db *tsdb.DB, orgs ...string) {
		for t := start.Add(-5 * time.Minute); !t.After(end); t = t.Add(step) {
			app := db.AppenderV2(context.Background())
			for _, org := range orgs {
				for i := range series {
					ls := labels.FromStrings("__name__", "http_requests_total", "job", fmt.Sprintf("job%d", i%10), "instance", fmt.Sprintf("i%d", i))
					if org != tenant.Default {
						ls = labels.NewBuilder(ls).Set(tenant.Label, org).Labels()
					}
					if _, err := app.Append(0, ls, 0, t.UnixMilli(), float64(t.Unix()), nil, nil, storage.AOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	single, multi := openTenancyDB(b), openTenancyDB(b)
	fill(b, single, tenant.Default)
	fill(b, multi, tenant.Default, "other")
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 5e7, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	const q = `sum by (job) (rate(http_requests_total[5m]))`
	for _, c := range []struct {
		name string
		st   storage.Queryable
		org  string
	}{
		{"store", single, tenant.Default},
		{"tenancy/default-alone", NewTenancy(single), tenant.Default},
		{"store-with-other-tenant", multi, tenant.Default},
		{"tenancy/default-beside-other", NewTenancy(multi), tenant.Default},
		{"tenancy/other", NewTenancy(multi), "other"},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := ctxOf(c.org)
			b.ReportAllocs()
			for b.Loop() {
				qry, err := engine.NewRangeQuery(ctx, c.st, nil, q, start, end, step)
				if err != nil {
					b.Fatal(err)
				}
				res := qry.Exec(ctx)
				if res.Err != nil {
					b.Fatal(res.Err)
				}
				if m, _ := res.Matrix(); len(m) != 10 {
					b.Fatalf("%d series", len(m))
				}
				qry.Close()
			}
		})
	}
}
