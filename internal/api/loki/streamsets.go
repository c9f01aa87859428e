package loki

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/store/events"
)

// streamSets calls fn with the labels of each stream that has log lines
// between start and end (inclusive) and matches one of selectors (LogQL
// log queries; their stream selectors count, line filters and stages do
// not; no selector: every stream), in the order of their labels. It is
// streams for the callers that need no line counts or bytes (label names
// and values, series): the store answers from the stream lists of its
// blocks' row groups where a row group lies wholly in the range, and
// groups the other lines by stream (Store.Streams), so that the Services
// page's /loki/api/v1/label/service_name/values over a day of 7.5 M lines
// reads metadata, not a column per line (docs/benchmarks.md, "The
// Services and Service pages over 10 M spans").
func (a *API) streamSets(ctx context.Context, t string, start, end time.Time, selectors []string, fn func(ls labels.Labels)) error {
	exprs, err := logSelectors(selectors)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	all := map[string]labels.Labels{}
	for _, le := range exprs {
		q := events.Query{Tenant: t, Kind: events.KindLog, Start: start.UnixNano(), End: end.UnixNano() + 1}
		if le != nil {
			q.Filters = logql.StreamFilters(le)
		}
		_, err := a.store.Streams(ctx, q, func(streams []events.Event) error {
			var cache events.StreamLabelCache
			var key []byte
			mu.Lock()
			defer mu.Unlock()
			for i := range streams {
				buf := cache.Labels(&streams[i])
				key = appendLabelsKey(key[:0], buf)
				if _, ok := all[string(key)]; ok { // no allocation
					continue
				}
				all[string(key)] = promLabels(buf)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(all)) {
		fn(all[k])
	}
	return nil
}

// promLabels are a stream's labels (sorted, as StreamLabelCache makes
// them) as Prometheus labels.
func promLabels(ls []events.Label) labels.Labels {
	b := labels.NewScratchBuilder(len(ls))
	for _, l := range ls {
		b.Add(l.Name, l.Value)
	}
	return b.Labels()
}

// logSelectors parses the selectors of a request (LogQL log queries);
// none is one nil expression: every stream.
func logSelectors(selectors []string) ([]*logql.LogExpr, error) {
	var exprs []*logql.LogExpr
	for _, s := range selectors {
		e, err := logql.Parse(s)
		if err != nil {
			return nil, err
		}
		le, ok := e.(*logql.LogExpr)
		if !ok {
			return nil, badf("%q is not a stream selector", s)
		}
		exprs = append(exprs, le)
	}
	if len(exprs) == 0 {
		exprs = append(exprs, nil)
	}
	return exprs, nil
}
