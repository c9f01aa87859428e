package loki

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/query/logql"
)

// Log volume, as Loki's /index/volume and /index/volume_range answer it
// and Grafana's log-volume histogram, Logs Drilldown and logcli volume
// read it: bytes of log lines of the streams a selector matches, summed
// by a set of labels (aggregateBy=series, the default) or by label name
// (aggregateBy=labels).
//
// The grouping is Loki's (pkg/util/series_volume.go,
// PrepareLabelsAndMatchers, and the ingester's instance.getVolume):
//   - series, without targetLabels: by the label names of the selector's
//     matchers ({env=~".+"} gives a series per env value); the selector
//     {} (seriesvolume.MatchAny) by every label, a series per stream;
//   - series, with targetLabels: by those labels;
//   - labels: a series per label name a stream has (only the target
//     labels, with targetLabels), its metric {"<name>": ""}
//     (queryrange.toPrometheusData);
//   - a target label the selector has no matcher for must be present: Loki
//     adds target=~".+" to the matchers.
//
// Series are sorted by bytes, largest first, then by name (the series'
// labels as {a="b"}, or the label name), and cut at limit (default 100),
// as seriesvolume.MapToVolumeResponse does.

// volumeSpec is what one volume request sums by.
type volumeSpec struct {
	byLabels bool     // aggregateBy=labels
	targets  []string // targetLabels, nil for none
	by       []string // the matchers' label names (series without targets)
	all      bool     // the selector is {}: every label
	required []string // targets without a matcher: a stream must have them
}

// parseVolume reads a volume request's query, targetLabels and
// aggregateBy; it returns the selectors to scan (none for {}).
func parseVolume(r *http.Request) (spec volumeSpec, sel []string, err error) {
	switch v := r.FormValue("aggregateBy"); v {
	case "", "series":
	case "labels":
		spec.byLabels = true
	default:
		return spec, nil, badf("invalid aggregation option %q: series or labels", v)
	}
	if v := r.FormValue("targetLabels"); v != "" {
		spec.targets = strings.Split(v, ",")
	}
	q := r.FormValue("query")
	var names []string
	if q == "" || q == "{}" {
		spec.all = true
	} else {
		e, err := logql.Parse(q)
		if err != nil {
			return spec, nil, err
		}
		le, ok := e.(*logql.LogExpr)
		if !ok {
			return spec, nil, badf("%q is not a stream selector", q)
		}
		for _, m := range le.Matchers {
			if !slices.Contains(names, m.Name) {
				names = append(names, m.Name)
			}
		}
		sel = []string{q}
	}
	for _, t := range spec.targets {
		if !slices.Contains(names, t) {
			spec.required = append(spec.required, t)
		}
	}
	if len(spec.targets) > 0 {
		spec.all = false
	}
	spec.by = names
	return spec, sel, nil
}

// groups calls add with each group a stream's bytes go to: its name
// (the sort key) and its labels.
func (s *volumeSpec) groups(ls labels.Labels, add func(name string, group labels.Labels)) {
	for _, t := range s.required {
		if ls.Get(t) == "" {
			return
		}
	}
	if s.byLabels {
		ls.Range(func(l labels.Label) {
			if len(s.targets) == 0 || slices.Contains(s.targets, l.Name) {
				add(l.Name, labels.FromStrings(l.Name, ""))
			}
		})
		return
	}
	switch {
	case len(s.targets) > 0:
		ls = labels.NewBuilder(ls).Keep(s.targets...).Labels()
	case !s.all:
		ls = labels.NewBuilder(ls).Keep(s.by...).Labels()
	}
	add(ls.String(), ls)
}

// volume answers index/volume (a vector at end) and index/volume_range
// (a matrix, a point per step).
func (a *API) volume(ranged bool) handlerFunc {
	return func(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
		start, end, err := a.bounds(r)
		if err != nil {
			return err
		}
		limit := 100
		if v := r.FormValue("limit"); v != "" {
			if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
				return badf("invalid limit %q: want a positive integer", v)
			}
			if limit == 0 {
				limit = 100 // as Loki's loghttp.volumeLimit
			}
		}
		spec, sel, err := parseVolume(r)
		if err != nil {
			return err
		}
		var step time.Duration
		if ranged {
			if step, err = rangeStep(r, start, end); err != nil {
				return err
			}
			if end.Sub(start)/step > 11000 {
				return badf("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
			}
		}
		type vol struct {
			name  string
			ls    labels.Labels
			bytes int64
			steps []int64
		}
		vols := map[string]*vol{}
		err = a.streamSteps(ctx, t, start, end, sel, true, step, func(ls labels.Labels, _, b int64, steps []int64) {
			spec.groups(ls, func(name string, group labels.Labels) {
				if v, ok := vols[name]; ok {
					v.bytes += b
					for j, n := range steps {
						v.steps[j] += n
					}
				} else {
					vols[name] = &vol{name, group, b, slices.Clone(steps)}
				}
			})
		})
		if err != nil {
			return err
		}
		list := make([]*vol, 0, len(vols))
		for _, v := range vols {
			list = append(list, v)
		}
		sort.Slice(list, func(i, j int) bool {
			if list[i].bytes != list[j].bytes {
				return list[i].bytes > list[j].bytes
			}
			return list[i].name < list[j].name
		})
		list = list[:min(limit, len(list))]
		res := &logql.Result{Type: "vector"}
		if ranged {
			res.Type = "matrix"
		}
		at := end.UnixNano()
		for _, v := range list {
			if ranged {
				// A point per step with bytes in its window, as Loki's
				// sum by (...) (bytes_over_time({...}[step])) answers it.
				var pts []logql.Point
				for j, n := range v.steps {
					if n > 0 {
						pts = append(pts, logql.Point{T: start.UnixNano() + int64(j)*int64(step), V: float64(n)})
					}
				}
				res.Matrix = append(res.Matrix, logql.Series{Labels: v.ls, Points: pts})
			} else {
				res.Vector = append(res.Vector, logql.Sample{Labels: v.ls, Point: logql.Point{T: at, V: float64(v.bytes)}})
			}
		}
		a.write(w, r, res)
		return nil
	}
}
