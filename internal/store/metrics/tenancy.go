package metrics

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/index"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/horus-obs/horus/internal/tenant"
)

// Metrics tenancy. All tenants share one TSDB; the series of every
// tenant other than tenant.Default carry the reserved label tenant.Label
// (__tenant__) with the tenant's name, put on at ingest, and the default
// tenant's series carry no such label. Tenancy reads the store as the
// tenant of the request context (tenant.WithContext) sees it: every
// selection gets the matcher __tenant__="<tenant>" (__tenant__="" for
// the default tenant, which matches the series without the label), and
// the label is taken off every series and label-name list returned. To a
// tenant the label does not exist: a matcher on it is evaluated against
// the empty value (so {__tenant__="B"} selects nothing and
// {__tenant__=""} everything of the tenant's), and grouping or
// label_replace on it see no value.

// ErrNoTenant is the error of a read through Tenancy whose context names
// no tenant: a request path that does not set one is a bug, and it reads
// nothing rather than every tenant's series.
var ErrNoTenant = errors.New("metrics read without a tenant in its context")

// TenancyStore is what Tenancy reads.
type TenancyStore interface {
	storage.SampleAndChunkQueryable
	storage.ExemplarQueryable
}

// Tenancy is a TenancyStore as the tenant of each read's context sees it
// (see ErrNoTenant). Querier's and ChunkQuerier's methods take the tenant
// from the context they are given; ExemplarQuerier from its own.
type Tenancy struct {
	st TenancyStore
}

// NewTenancy returns st read per tenant.
func NewTenancy(st TenancyStore) *Tenancy { return &Tenancy{st: st} }

var (
	_ storage.SampleAndChunkQueryable = (*Tenancy)(nil)
	_ storage.ExemplarQueryable       = (*Tenancy)(nil)
)

// defaultMatcher selects the default tenant's series: those without the
// label.
var defaultMatcher = labels.MustNewMatcher(labels.MatchEqual, tenant.Label, "")

// tenantMatcher selects the series of org.
func tenantMatcher(org string) *labels.Matcher {
	if org == tenant.Default {
		return defaultMatcher
	}
	return labels.MustNewMatcher(labels.MatchEqual, tenant.Label, org)
}

// scope returns ms limited to the series of org, without the caller's
// matchers on the tenant label, which the tenant's series lack: ok is
// false when one of them cannot match the empty value (no series of the
// tenant can match). ms is not modified.
func scope(org string, ms []*labels.Matcher) (_ []*labels.Matcher, ok bool) {
	out := make([]*labels.Matcher, 0, len(ms)+1)
	for _, m := range ms {
		if m.Name == tenant.Label {
			if !m.Matches("") {
				return nil, false
			}
			continue
		}
		out = append(out, m)
	}
	return append(out, tenantMatcher(org)), true
}

// orgOf returns the tenant of ctx.
func orgOf(ctx context.Context) (string, error) {
	org, ok := tenant.FromContext(ctx)
	if !ok {
		return "", ErrNoTenant
	}
	return org, nil
}

// strip returns ls without the tenant label.
func strip(ls labels.Labels) labels.Labels {
	return ls.DropReserved(func(n string) bool { return n == tenant.Label })
}

// Querier implements storage.Queryable.
func (t *Tenancy) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := t.st.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &tenantQuerier{labelQuerier{q}, q}, nil
}

// ChunkQuerier implements storage.ChunkQueryable.
func (t *Tenancy) ChunkQuerier(mint, maxt int64) (storage.ChunkQuerier, error) {
	q, err := t.st.ChunkQuerier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &tenantChunkQuerier{labelQuerier{q}, q}, nil
}

// ExemplarQuerier implements storage.ExemplarQueryable, for the tenant
// of ctx.
func (t *Tenancy) ExemplarQuerier(ctx context.Context) (storage.ExemplarQuerier, error) {
	org, err := orgOf(ctx)
	if err != nil {
		return nil, err
	}
	q, err := t.st.ExemplarQuerier(ctx)
	if err != nil {
		return nil, err
	}
	return tenantExemplars{q, org}, nil
}

// HasTenants reports whether series of tenants other than the default
// one are stored between mint and maxt (possibly a little beyond).
func (t *Tenancy) HasTenants(ctx context.Context, mint, maxt int64) (bool, error) {
	q, err := t.st.Querier(mint, maxt)
	if err != nil {
		return false, err
	}
	defer func() { _ = q.Close() }()
	vals, _, err := q.LabelValues(ctx, tenant.Label, nil)
	return len(vals) > 0, err
}

// HeadStats returns the cardinality statistics Prometheus' TSDB status
// page shows of the head (tsdb.Head.Stats), counted over the series of
// the tenant of ctx with data between mint and maxt (the head's time
// range), and the number of their chunks.
func (t *Tenancy) HeadStats(ctx context.Context, mint, maxt int64, statsByLabelName string, limit int) (*tsdb.Stats, int64, error) {
	org, err := orgOf(ctx)
	if err != nil {
		return nil, 0, err
	}
	q, err := t.st.ChunkQuerier(mint, maxt)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = q.Close() }()
	set := q.Select(ctx, false, nil, tenantMatcher(org))
	type pair struct{ name, value string }
	pairs := map[pair]uint64{}
	st := &tsdb.Stats{MinTime: mint, MaxTime: maxt}
	var chunks int64
	for set.Next() {
		s := set.At()
		st.NumSeries++
		strip(s.Labels()).Range(func(l labels.Label) { pairs[pair{l.Name, l.Value}]++ })
		ci := s.Iterator(nil)
		for ci.Next() {
			chunks++
		}
		if err := ci.Err(); err != nil {
			return nil, 0, err
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
	}
	if err := set.Err(); err != nil {
		return nil, 0, err
	}
	var metrics, pairStats []index.Stat
	values, size := map[string]uint64{}, map[string]uint64{}
	for p, n := range pairs {
		if p.name == statsByLabelName {
			metrics = append(metrics, index.Stat{Name: p.value, Count: n})
		}
		pairStats = append(pairStats, index.Stat{Name: p.name + "=" + p.value, Count: n})
		values[p.name]++
		size[p.name] += labels.SizeOfLabels(p.name, p.value, n)
	}
	st.IndexPostingStats = &index.PostingsStats{
		CardinalityMetricsStats: top(metrics, limit),
		CardinalityLabelStats:   topOf(values, limit),
		LabelValueStats:         topOf(size, limit),
		LabelValuePairsStats:    top(pairStats, limit),
		NumLabelPairs:           len(pairs),
	}
	return st, chunks, nil
}

// top returns the limit largest of stats, largest first.
func top(stats []index.Stat, limit int) []index.Stat {
	slices.SortFunc(stats, func(a, b index.Stat) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	return stats[:min(limit, len(stats))]
}

func topOf(m map[string]uint64, limit int) []index.Stat {
	stats := make([]index.Stat, 0, len(m))
	for name, n := range m {
		stats = append(stats, index.Stat{Name: name, Count: n})
	}
	return top(stats, limit)
}

// labelQuerier is the label part of a tenant's querier.
type labelQuerier struct {
	storage.LabelQuerier
}

// LabelValues implements storage.LabelQuerier.
func (q labelQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	org, err := orgOf(ctx)
	if err != nil {
		return nil, nil, err
	}
	scoped, ok := scope(org, ms)
	if name == tenant.Label || !ok {
		return nil, nil, nil
	}
	if org == tenant.Default && len(ms) == 0 {
		// Without matchers the index answers at once, while a matcher
		// makes it look at every series: skip ours when no tenant other
		// than the default one has series here. Checked after the values
		// are read too, as a tenant's first series may come meanwhile.
		if multi, err := q.multiTenant(ctx); err == nil && !multi {
			vals, ws, err := q.LabelQuerier.LabelValues(ctx, name, hints)
			if err != nil {
				return nil, ws, err
			}
			if multi, err := q.multiTenant(ctx); err == nil && !multi {
				return vals, ws, nil
			}
		}
	}
	return q.LabelQuerier.LabelValues(ctx, name, hints, scoped...)
}

// multiTenant reports whether a series of a tenant other than the
// default one is in reach of the querier.
func (q labelQuerier) multiTenant(ctx context.Context) (bool, error) {
	vals, _, err := q.LabelQuerier.LabelValues(ctx, tenant.Label, nil)
	return len(vals) > 0, err
}

// LabelNames implements storage.LabelQuerier.
func (q labelQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	org, err := orgOf(ctx)
	if err != nil {
		return nil, nil, err
	}
	scoped, ok := scope(org, ms)
	if !ok {
		return nil, nil, nil
	}
	limit := 0
	if hints != nil && hints.Limit > 0 {
		limit = hints.Limit
	}
	if org == tenant.Default && len(ms) == 0 {
		// As in LabelValues: the index's own list, unless it shows that
		// other tenants have series here. Whole, so that a limit does
		// not cut the tenant label off it.
		names, ws, err := q.LabelQuerier.LabelNames(ctx, nil)
		if err != nil {
			return nil, ws, err
		}
		if !slices.Contains(names, tenant.Label) {
			return limited(names, limit), ws, nil
		}
	}
	if limit > 0 {
		// The tenant label may take a place in the list: ask for one more.
		h := *hints
		h.Limit++
		hints = &h
	}
	names, ws, err := q.LabelQuerier.LabelNames(ctx, hints, scoped...)
	if err != nil {
		return nil, ws, err
	}
	return limited(slices.DeleteFunc(names, func(n string) bool { return n == tenant.Label }), limit), ws, nil
}

// limited cuts names to limit (0: no limit).
func limited(names []string, limit int) []string {
	if limit > 0 && len(names) > limit {
		return names[:limit]
	}
	return names
}

// tenantQuerier is a storage.Querier of the tenant of each call's context.
type tenantQuerier struct {
	labelQuerier
	q storage.Querier
}

// Select implements storage.Querier.
func (q *tenantQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	org, scoped, err := selection(ctx, ms)
	switch {
	case err != nil:
		return storage.ErrSeriesSet(err)
	case scoped == nil:
		return storage.EmptySeriesSet()
	}
	set := q.q.Select(ctx, sortSeries, hints, scoped...)
	if org == tenant.Default {
		return set // the matcher kept out every series with the label
	}
	return &strippedSet[storage.Series]{set, func(s storage.Series, ls labels.Labels) storage.Series { return strippedSeries{s, ls} }}
}

// tenantChunkQuerier is a storage.ChunkQuerier of the tenant of each
// call's context.
type tenantChunkQuerier struct {
	labelQuerier
	q storage.ChunkQuerier
}

// Select implements storage.ChunkQuerier.
func (q *tenantChunkQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.ChunkSeriesSet {
	org, scoped, err := selection(ctx, ms)
	switch {
	case err != nil:
		return storage.ErrChunkSeriesSet(err)
	case scoped == nil:
		return storage.EmptyChunkSeriesSet()
	}
	set := q.q.Select(ctx, sortSeries, hints, scoped...)
	if org == tenant.Default {
		return set
	}
	return &strippedSet[storage.ChunkSeries]{set, func(s storage.ChunkSeries, ls labels.Labels) storage.ChunkSeries { return strippedChunkSeries{s, ls} }}
}

// selection returns the tenant of ctx and the matchers of a selection of
// its series (see scope): nil when none can match.
func selection(ctx context.Context, ms []*labels.Matcher) (string, []*labels.Matcher, error) {
	org, err := orgOf(ctx)
	if err != nil {
		return "", nil, err
	}
	scoped, _ := scope(org, ms)
	return org, scoped, nil
}

// seriesSet is a storage.SeriesSet (S storage.Series) or a
// storage.ChunkSeriesSet (S storage.ChunkSeries).
type seriesSet[S storage.Labels] interface {
	Next() bool
	At() S
	Err() error
	Warnings() annotations.Annotations
}

// strippedSet is a tenant's series set without the tenant label, which
// every series of the set has: taking it off each keeps their order.
type strippedSet[S storage.Labels] struct {
	seriesSet[S]
	relabel func(S, labels.Labels) S
}

// At implements storage.SeriesSet and storage.ChunkSeriesSet.
func (s *strippedSet[S]) At() S {
	sr := s.seriesSet.At()
	return s.relabel(sr, strip(sr.Labels()))
}

type strippedSeries struct {
	storage.Series
	lbls labels.Labels
}

// Labels implements storage.Series.
func (s strippedSeries) Labels() labels.Labels { return s.lbls }

type strippedChunkSeries struct {
	storage.ChunkSeries
	lbls labels.Labels
}

// Labels implements storage.ChunkSeries.
func (s strippedChunkSeries) Labels() labels.Labels { return s.lbls }

// tenantExemplars is the storage.ExemplarQuerier of one tenant.
type tenantExemplars struct {
	q   storage.ExemplarQuerier
	org string
}

// Select implements storage.ExemplarQuerier.
func (e tenantExemplars) Select(start, end int64, matchers ...[]*labels.Matcher) ([]exemplar.QueryResult, error) {
	sets := make([][]*labels.Matcher, 0, len(matchers))
	for _, ms := range matchers {
		if scoped, ok := scope(e.org, ms); ok {
			sets = append(sets, scoped)
		}
	}
	if len(sets) == 0 {
		return []exemplar.QueryResult{}, nil
	}
	res, err := e.q.Select(start, end, sets...)
	if err != nil || e.org == tenant.Default {
		return res, err
	}
	for i := range res {
		res[i].SeriesLabels = strip(res[i].SeriesLabels)
	}
	return res, nil
}
