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
	"github.com/horus-obs/horus/internal/store/events"
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
// Each time bucket (see volumeBuckets) keeps its largest limit groups
// (default 100), ties by name (the series' labels as {a="b"}, or the
// label name), as seriesvolume.MapToVolumeResponse cuts each bucket's
// answer.

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

// volumeBuckets are the time buckets of a volume answer, as Loki's
// NewVolumeMiddleware cuts a request with util.ForInterval(step, start,
// end, true) (pkg/querier/queryrange/volume.go, pkg/util/time.go): from
// start rounded down to a multiple of the step (whole milliseconds since
// the epoch), a bucket per step, the first from start, the last to end
// inclusive; each is stamped with its end, which for all but the last is
// a millisecond before the next bucket (SplitGap). step=60 from 13:00:25
// to 13:02:10 gives 13:00:59.999, 13:01:59.999 and 13:02:10. An instant
// volume is one bucket, stamped end.
type volumeBuckets struct {
	a0, step, end int64 // unix ns; step 0 for one bucket
	n             int
}

func newVolumeBuckets(start, end time.Time, step time.Duration) *volumeBuckets {
	b := &volumeBuckets{end: end.UnixNano(), n: 1}
	if b.step = step.Milliseconds() * int64(time.Millisecond); b.step > 0 {
		s := start.UnixNano()
		b.a0 = s - s%b.step
		b.n = max(1, int((b.end-b.a0+b.step-1)/b.step))
	}
	return b
}

// index is the bucket of a time in [start, end].
func (b *volumeBuckets) index(t int64) int {
	if b.step <= 0 {
		return 0
	}
	return int(min(max(0, (t-b.a0)/b.step), int64(b.n-1)))
}

// at is the time bucket k is stamped with.
func (b *volumeBuckets) at(k int) int64 {
	if k == b.n-1 {
		return b.end
	}
	return b.a0 + int64(k+1)*b.step - int64(time.Millisecond)
}

// roundToMilliseconds is Loki's util.RoundToMilliseconds (pkg/util/
// conv.go), which its query frontend applies to a volume or index stats
// request: start cut to the millisecond, end rounded up to the next one
// when it has nanoseconds past one (an end of 13:00:00.507612 counts and
// is stamped 13:00:00.508).
func roundToMilliseconds(start, end time.Time) (time.Time, time.Time) {
	s := start.UnixNano() / int64(time.Millisecond)
	e := end.UnixNano() / int64(time.Millisecond)
	if end.UnixNano()%int64(time.Millisecond) != 0 {
		e++
	}
	return time.UnixMilli(s), time.UnixMilli(e)
}

// volume answers index/volume (a vector at end) and index/volume_range
// (a point per bucket). As Loki, each bucket keeps its largest limit
// groups, a series is the points its group kept, the series are sorted
// by their first point, largest first, then by name, and the answer is
// a matrix only when a series has more than one point
// (queryrange.toPrometheusData).
func (a *API) volume(ranged bool) handlerFunc {
	return func(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
		start, end, err := a.bounds(r)
		if err != nil {
			return err
		}
		start, end = roundToMilliseconds(start, end)
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
		buckets := newVolumeBuckets(start, end, step)
		type vol struct {
			name  string
			ls    labels.Labels
			steps []int64 // bytes per bucket
			pts   []logql.Point
		}
		vols := map[string]*vol{}
		err = a.streamSteps(ctx, t, start, end, sel, true, true, buckets, func(ls labels.Labels, _, _ int64, steps []int64) {
			spec.groups(ls, func(name string, group labels.Labels) {
				if v, ok := vols[name]; ok {
					for j, n := range steps {
						v.steps[j] += n
					}
				} else {
					vols[name] = &vol{name: name, ls: group, steps: slices.Clone(steps)}
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
		for k := range buckets.n {
			var in []*vol
			for _, v := range list {
				if v.steps[k] > 0 {
					in = append(in, v)
				}
			}
			sort.Slice(in, func(i, j int) bool {
				if in[i].steps[k] != in[j].steps[k] {
					return in[i].steps[k] > in[j].steps[k]
				}
				return in[i].name < in[j].name
			})
			for _, v := range in[:min(limit, len(in))] {
				v.pts = append(v.pts, logql.Point{T: buckets.at(k), V: float64(v.steps[k])})
			}
		}
		list = slices.DeleteFunc(list, func(v *vol) bool { return len(v.pts) == 0 })
		sort.Slice(list, func(i, j int) bool {
			if list[i].pts[0].V != list[j].pts[0].V {
				return list[i].pts[0].V > list[j].pts[0].V
			}
			return list[i].name < list[j].name
		})
		res := &logql.Result{Type: "vector"}
		for _, v := range list {
			if len(v.pts) > 1 {
				res.Type = "matrix"
			}
		}
		for _, v := range list {
			if res.Type == "matrix" {
				res.Matrix = append(res.Matrix, logql.Series{Labels: v.ls, Points: v.pts})
			} else {
				res.Vector = append(res.Vector, logql.Sample{Labels: v.ls, Point: v.pts[0]})
			}
		}
		a.write(w, r, res)
		return nil
	}
}

// Loki counts a chunk's bytes (MemChunk.UncompressedSize, pkg/chunkenc):
// each line's text and 8 bytes per structured metadata pair (its head
// block's 4-byte symbol references), and once per chunk each distinct
// metadata name and value (its symbolizer). Every line has the pair
// detected_level, which Loki's distributor adds when the line lacks it
// (FieldDetector.extractLogLevel). chunkSymbols emulates a chunk per
// stream: a string counts in the first line of its stream that has it.
// A stream's set holds up to maxChunkSymbols strings; past that, a string
// not in it counts again (as one repeated in many chunks would).
const maxChunkSymbols = 1 << 16

// chunkSymbols are the metadata strings seen per stream (the stream's
// pushed labels, without Horus' own level), and, for a scan batch, where
// each was first seen, so that merge can count it only if no other batch
// had it.
type chunkSymbols struct {
	seen  map[string]map[string]struct{}
	first []symbolAt
}

// symbolAt is where a batch first saw a string: its size goes to *bytes
// and steps[step] unless another batch saw it first.
type symbolAt struct {
	stream, sym string
	bytes       *int64
	steps       []int64
	step        int
}

func newChunkSymbols() *chunkSymbols { return &chunkSymbols{seen: map[string]map[string]struct{}{}} }

// streamKey is the key of a stream's pushed labels: key (the labels'
// appendLabelsKey) less Horus' own level label when added is true.
func streamKey(key []byte, ls []events.Label, added bool) string {
	if !added {
		return string(key)
	}
	var b []byte
	for _, l := range ls {
		if l.Name != "level" {
			b = append(b, l.Name...)
			b = append(b, 0)
			b = append(b, l.Value...)
			b = append(b, 0)
		}
	}
	return string(b)
}

// line returns a line's metadata bytes but for its distinct strings,
// and records those it is the first of its stream in this batch to have.
func (c *chunkSymbols) line(stream string, e *events.Event, bytes *int64, steps []int64, step int) int64 {
	set := c.seen[stream]
	if set == nil {
		set = map[string]struct{}{}
		c.seen[stream] = set
	}
	pairs := int64(0)
	add := func(s string) {
		if _, ok := set[s]; !ok {
			set[s] = struct{}{}
			c.first = append(c.first, symbolAt{stream: stream, sym: s, bytes: bytes, steps: steps, step: step})
		}
	}
	hasLevel := false
	for _, at := range e.Attrs {
		pairs++
		add(at.Key)
		add(at.Value.String())
		hasLevel = hasLevel || at.Key == "detected_level"
	}
	if !e.TraceID.IsZero() {
		pairs++
		add("trace_id")
		add(e.TraceID.String())
	}
	if !e.SpanID.IsZero() {
		pairs++
		add("span_id")
		add(e.SpanID.String())
	}
	if !hasLevel {
		pairs++
		add("detected_level")
		add(e.Level())
	}
	return 8 * pairs
}

// merge counts the strings a batch saw first that no batch merged before
// had, in the aggregate where the batch saw them. Called under the
// scan's lock, before the batch's aggregates are merged.
func (c *chunkSymbols) merge(b *chunkSymbols) {
	for _, f := range b.first {
		set := c.seen[f.stream]
		if set == nil {
			set = map[string]struct{}{}
			c.seen[f.stream] = set
		}
		if _, ok := set[f.sym]; ok {
			continue
		}
		if len(set) < maxChunkSymbols {
			set[f.sym] = struct{}{}
		}
		*f.bytes += int64(len(f.sym))
		if f.steps != nil {
			f.steps[f.step] += int64(len(f.sym))
		}
	}
}
