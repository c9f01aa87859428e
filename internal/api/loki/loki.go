// Package loki serves Loki's HTTP query API over the event store, as
// Grafana's Loki data source and logcli use it: LogQL queries (instant and
// range), label names and values, series, index stats and volume,
// format_query and build info.
//
// Responses are Loki's JSON (streams, matrix, vector, scalar; times of
// lines as nanosecond strings, of samples as float seconds); errors are
// 4xx/5xx with a plain-text body, as Loki answers.
package loki

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/buildinfo"
	"github.com/horus-obs/horus/internal/httpx"
	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/store/events"
)

// Options configure the API.
type Options struct {
	// Timeout bounds one request's work.
	Timeout time.Duration
	// MaxLimit caps the lines one query returns.
	MaxLimit int
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	// TailInterval is how often a tail polls for new lines (default 1 s).
	TailInterval time.Duration
}

// API is the Loki HTTP API.
type API struct {
	store  logql.Store
	engine *logql.Engine
	logger *slog.Logger
	opts   Options
}

// New returns the API over store.
func New(store logql.Store, logger *slog.Logger, opts Options) *API {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.MaxLimit <= 0 {
		opts.MaxLimit = 5000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TailInterval <= 0 {
		opts.TailInterval = time.Second
	}
	return &API{store: store, engine: logql.NewEngine(store, logql.Options{MaxEntries: opts.MaxLimit}), logger: logger, opts: opts}
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	for _, route := range []struct {
		path string
		h    handlerFunc
	}{
		{"/loki/api/v1/query", a.query},
		{"/loki/api/v1/query_range", a.queryRange},
		{"/loki/api/v1/labels", a.labelNames},
		{"/loki/api/v1/label/{name}/values", a.labelValues},
		{"/loki/api/v1/series", a.series},
		{"/loki/api/v1/index/stats", a.indexStats},
		{"/loki/api/v1/index/volume", a.volume(false)},
		{"/loki/api/v1/index/volume_range", a.volume(true)},
		{"/loki/api/v1/format_query", a.formatQuery},
		{"/loki/api/v1/detected_fields", a.detectedFields},
		{"/loki/api/v1/detected_field/{name}/values", a.detectedFieldValues},
		{"/loki/api/v1/detected_labels", a.detectedLabels},
		{"/loki/api/v1/patterns", a.patterns},
	} {
		mux.HandleFunc("GET "+route.path, a.handle(route.h))
		mux.HandleFunc("POST "+route.path, a.handle(route.h))
	}
	mux.HandleFunc("GET /loki/api/v1/tail", a.tail)
	mux.HandleFunc("GET /loki/api/v1/status/buildinfo", func(w http.ResponseWriter, _ *http.Request) {
		bi := buildinfo.Get()
		writeJSON(w, map[string]string{"version": bi.Version, "revision": bi.Revision, "branch": bi.Branch,
			"buildUser": "", "buildDate": bi.BuildDate, "goVersion": bi.GoVersion})
	})
}

func badf(format string, args ...any) error { return httpx.Badf(format, args...) }

type handlerFunc = httpx.TenantFunc

// handle parses the form (series reads match[] from it) and answers
// errors as Loki does: 400 text for bad requests, parse errors and queries
// over a limit or with pipeline errors, 500 text otherwise.
func (a *API) handle(h handlerFunc) http.HandlerFunc {
	return httpx.Handle("Loki API", a.opts.Timeout, a.logger, clientError, func(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			return badf("bad form: %v", err)
		}
		return h(ctx, t, w, r)
	})
}

func clientError(err error) bool {
	var perr *logql.ParseError
	return errors.As(err, &perr) || errors.Is(err, logql.ErrLimit) || errors.Is(err, logql.ErrPipeline)
}

// writeJSON writes v as a 200 JSON answer, encoded first (httpx.WriteJSON).
func writeJSON(w http.ResponseWriter, v any) {
	httpx.WriteJSON(w, "application/json; charset=utf-8", v)
}

// parseTime reads a time as Loki does: float seconds with a '.', an
// integer of at most 10 digits as seconds, a longer one as nanoseconds,
// or RFC 3339.
func parseTime(name, v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if strings.Contains(v, ".") {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			s, frac := math.Modf(f)
			return time.Unix(int64(s), int64(frac*1e9)), nil
		}
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if len(v) <= 10 {
			return time.Unix(n, 0), nil
		}
		return time.Unix(0, n), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badf("invalid %s %q: want unix seconds, unix nanoseconds or RFC 3339", name, v)
	}
	return t, nil
}

// parseStep reads a step: a duration (15s, 1m) or float seconds.
func parseStep(v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return d, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && !math.IsInf(f, 0) {
		return time.Duration(f * float64(time.Second)), nil
	}
	return 0, badf("invalid step %q: want a duration such as 15s or float seconds", v)
}

// rangeStep reads a range query's step: by default (end - start) / 250,
// at least 1 s, as Loki's.
func rangeStep(r *http.Request, start, end time.Time) (time.Duration, error) {
	step := time.Duration(math.Max(math.Floor(end.Sub(start).Seconds()/250), 1)) * time.Second
	if s := r.FormValue("step"); s != "" {
		var err error
		if step, err = parseStep(s); err != nil {
			return 0, err
		}
	}
	if step <= 0 {
		return 0, badf("zero or negative query resolution step widths are not accepted. Try a positive integer")
	}
	return step, nil
}

// alignToStep aligns a metric range query to its step as Loki's query
// frontend does before the querier evaluates it, so that the points sit
// on multiples of the step since the Unix epoch whatever the start
// (Grafana's refreshes do not move them): the step is whole milliseconds
// (LokiRequest.Step), start is rounded down and end up to a multiple of
// it (pkg/querier/queryrange/splitters.go, metricQuerySplitter.
// alignStartEnd, which every metric range query passes through with the
// default split_queries_by_interval of 1h). The querier then evaluates
// at start + k*step up to end inclusive. A step under a millisecond is
// left as it is.
func alignToStep(start, end time.Time, step time.Duration) (time.Time, time.Time, time.Duration) {
	stepNs := step.Milliseconds() * int64(time.Millisecond)
	if stepNs <= 0 {
		return start, end, step
	}
	s, e := start.UnixNano(), end.UnixNano()
	s -= s % stepNs
	if m := e % stepNs; m != 0 {
		e += stepNs - m
	}
	return time.Unix(0, s), time.Unix(0, e), time.Duration(stepNs)
}

// bounds reads start, end and since: by default the last hour.
func (a *API) bounds(r *http.Request) (start, end time.Time, err error) {
	now := a.opts.Now()
	if end, err = parseTime("end", r.FormValue("end"), now); err != nil {
		return
	}
	def := end.Add(-time.Hour)
	if s := r.FormValue("since"); s != "" {
		d, err2 := parseStep(s)
		if err2 != nil {
			return start, end, badf("invalid since %q", s)
		}
		def = end.Add(-d)
	}
	if start, err = parseTime("start", r.FormValue("start"), def); err != nil {
		return
	}
	if end.Before(start) {
		err = badf("end timestamp must not be before or equal to start time")
	}
	return
}

func (a *API) limit(r *http.Request) (int, error) {
	v := r.FormValue("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, badf("invalid limit %q: want a positive integer", v)
	}
	if n > a.opts.MaxLimit {
		return 0, badf("max entries limit per query exceeded, limit > max_entries_limit (%d > %d)", n, a.opts.MaxLimit)
	}
	return n, nil
}

func direction(r *http.Request) (forward bool, err error) {
	switch strings.ToLower(r.FormValue("direction")) {
	case "", "backward":
		return false, nil
	case "forward":
		return true, nil
	}
	return false, badf("invalid direction %q: forward or backward", r.FormValue("direction"))
}

func (a *API) query(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
	q, err := logql.Parse(r.FormValue("query"))
	if err != nil {
		return err
	}
	if _, ok := q.(*logql.LogExpr); ok {
		return badf("log queries are not supported as an instant query type, please change your query to a range query type")
	}
	at, err := parseTime("time", r.FormValue("time"), a.opts.Now())
	if err != nil {
		return err
	}
	// Loki evaluates at whole milliseconds (its queries' times are
	// Prometheus' model.Time), so the answer's instant and the windows
	// are those of the millisecond: now, by default, cut to it.
	at = at.Truncate(time.Millisecond)
	res, err := a.engine.Exec(ctx, q, logql.Params{Tenant: t, Start: at, End: at, Instant: true})
	if err != nil {
		return err
	}
	a.write(w, r, res)
	return nil
}

func (a *API) queryRange(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
	q, err := logql.Parse(r.FormValue("query"))
	if err != nil {
		return err
	}
	start, end, err := a.bounds(r)
	if err != nil {
		return err
	}
	limit, err := a.limit(r)
	if err != nil {
		return err
	}
	forward, err := direction(r)
	if err != nil {
		return err
	}
	step, err := rangeStep(r, start, end)
	if err != nil {
		return err
	}
	if end.Sub(start)/step > 11000 {
		return badf("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
	}
	if _, logs := q.(*logql.LogExpr); !logs {
		start, end, step = alignToStep(start, end, step)
	}
	res, err := a.engine.Exec(ctx, q, logql.Params{Tenant: t, Start: start, End: end, Step: step, Limit: limit, Forward: forward})
	if err != nil {
		return err
	}
	a.write(w, r, res)
	return nil
}

// write answers a query result in Loki's JSON. A streams answer lists
// the request's encoding flags, as Loki's encodeData does.
func (a *API) write(w http.ResponseWriter, r *http.Request, res *logql.Result) {
	flags := encodingFlags(r)
	data := map[string]any{"resultType": res.Type, "stats": stats(res)}
	switch res.Type {
	case "streams":
		cat := slices.Contains(flags, flagCategorizeLabels)
		if len(flags) > 0 {
			data["encodingFlags"] = flags
		}
		out := []jsonStream{}
		for _, s := range groupStreams(res.Streams, cat) {
			out = append(out, encodeStream(s, cat))
		}
		data["result"] = out
	case "matrix":
		out := make([]map[string]any, len(res.Matrix))
		for i, s := range res.Matrix {
			vals := make([][]any, len(s.Points))
			for j, p := range s.Points {
				vals[j] = samplePair(p)
			}
			out[i] = map[string]any{"metric": labelMap(s.Labels), "values": vals}
		}
		data["result"] = out
	case "vector":
		out := make([]map[string]any, len(res.Vector))
		for i, s := range res.Vector {
			out[i] = map[string]any{"metric": labelMap(s.Labels), "value": samplePair(s.Point)}
		}
		data["result"] = out
	case "scalar":
		data["result"] = samplePair(res.Scalar)
	}
	writeJSON(w, map[string]any{"status": "success", "data": data})
}

// flagCategorizeLabels is the encoding flag with which a client asks for
// stream labels, structured metadata and parsed labels apart (Loki's
// httpreq.FlagCategorizeLabels; Grafana sends it).
const flagCategorizeLabels = "categorize-labels"

// encodingFlags reads the X-Loki-Response-Encoding-Flags header as Loki's
// httpreq.ParseEncodingFlags does: names separated by commas, taken as
// they are (no blanks trimmed), here in order and without repeats; nil
// without the header.
func encodingFlags(r *http.Request) []string {
	v := r.Header.Get("X-Loki-Response-Encoding-Flags")
	if v == "" {
		return nil
	}
	var flags []string
	for _, f := range strings.Split(v, ",") {
		if !slices.Contains(flags, f) {
			flags = append(flags, f)
		}
	}
	return flags
}

// jsonStream is one stream of a log answer: its labels and its lines,
// each ["<unix ns>", "line"] or, categorized, ["<unix ns>", "line",
// {categories}].
type jsonStream struct {
	Stream map[string]string `json:"stream"`
	Values [][]any           `json:"values"`
}

// groupStreams returns the streams of a log answer as they are sent:
// as they are, or, categorized, regrouped by their stream labels alone
// (the labels of each entry's Stream), entries in the order met, as
// Loki's iter.NewCategorizeLabelsIterator regroups them.
func groupStreams(streams []logql.Stream, categorize bool) []logql.Stream {
	if !categorize {
		return streams
	}
	var out []logql.Stream
	byKey := map[string]int{}
	for _, s := range streams {
		for _, e := range s.Entries {
			k := e.Stream.String()
			i, ok := byKey[k]
			if !ok {
				i = len(out)
				byKey[k] = i
				out = append(out, logql.Stream{Labels: e.Stream})
			}
			out[i].Entries = append(out[i].Entries, e)
		}
	}
	return out
}

// encodeStream is a stream in Loki's JSON (pkg/util/marshal/query.go,
// encodeStream): categorized, every line has a third element,
// {"structuredMetadata": {...}, "parsed": {...}}, each key only when it
// has labels, so {} for a line with neither.
func encodeStream(s logql.Stream, categorize bool) jsonStream {
	vals := make([][]any, len(s.Entries))
	for i, e := range s.Entries {
		vals[i] = []any{strconv.FormatInt(e.T, 10), e.Line}
		if categorize {
			cats := map[string]any{}
			if e.Metadata.Len() > 0 {
				cats["structuredMetadata"] = labelMap(e.Metadata)
			}
			if e.Parsed.Len() > 0 {
				cats["parsed"] = labelMap(e.Parsed)
			}
			vals[i] = append(vals[i], cats)
		}
	}
	return jsonStream{Stream: labelMap(s.Labels), Values: vals}
}

// samplePair writes a point as Loki does: its time as Prometheus'
// model.Time marshals, whole milliseconds over 1e3 in the shortest form
// (1796035465.123, not the 1796035465.1230001 of nanoseconds over 1e9).
func samplePair(p logql.Point) []any {
	return []any{json.Number(strconv.FormatFloat(float64(p.T/1e6)/1e3, 'f', -1, 64)), formatValue(p.V)}
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func labelMap(ls labels.Labels) map[string]string {
	m := make(map[string]string, ls.Len())
	ls.Range(func(l labels.Label) { m[l.Name] = l.Value })
	return m
}

func stats(res *logql.Result) map[string]any {
	secs := res.Stats.ExecTime.Seconds()
	perSec := func(n int64) int64 {
		if secs <= 0 {
			return 0
		}
		return int64(float64(n) / secs)
	}
	entries := 0
	for _, s := range res.Streams {
		entries += len(s.Entries)
	}
	return map[string]any{"summary": map[string]any{
		"bytesProcessedPerSecond": perSec(res.Stats.Bytes), "linesProcessedPerSecond": perSec(res.Stats.Lines),
		"totalBytesProcessed": res.Stats.Bytes, "totalLinesProcessed": res.Stats.Lines,
		"execTime": secs, "queueTime": 0, "totalEntriesReturned": entries, "splits": 1, "shards": 1,
	}}
}

// streams scans the stream label sets of the logs in a range that match
// the selectors (any, when there are none), calling fn once per distinct
// set with its line count and bytes.
func (a *API) streams(ctx context.Context, t string, start, end time.Time, selectors []string, withBody bool,
	fn func(ls labels.Labels, lines, bytes int64)) error {
	return a.streamSteps(ctx, t, start, end, selectors, withBody, false, nil, func(ls labels.Labels, lines, bytes int64, _ []int64) {
		fn(ls, lines, bytes)
	})
}

// streamSteps is streams with, when buckets is not nil, each stream's
// line bytes per time bucket as well: steps[k] holds the bytes of the
// lines in bucket k (see volumeBuckets).
//
// With chunkBytes, a line's bytes are as Loki's chunks count them
// (chunkSymbols, volume.go): its text and its structured metadata.
func (a *API) streamSteps(ctx context.Context, t string, start, end time.Time, selectors []string, withBody, chunkBytes bool,
	buckets *volumeBuckets, fn func(ls labels.Labels, lines, bytes int64, steps []int64)) error {
	nsteps := 0
	if buckets != nil {
		nsteps = buckets.n
	}
	exprs, err := logSelectors(selectors)
	if err != nil {
		return err
	}
	type agg struct {
		ls           labels.Labels
		lines, bytes int64
		steps        []int64
	}
	all := map[string]*agg{}
	for _, le := range exprs {
		q := events.Query{Tenant: t, Kind: events.KindLog, Start: start.UnixNano(), End: end.UnixNano() + 1,
			Fields: []string{"time", "resource", "service_name", "level"}}
		if withBody {
			q.Fields = append(q.Fields, "body")
		}
		if chunkBytes {
			q.Fields = append(q.Fields, "attrs", "trace_id", "span_id")
		}
		if le != nil {
			q.Filters = logql.StreamFilters(le)
		}
		var mu sync.Mutex
		symbols := newChunkSymbols()
		_, err := a.store.ScanConcurrent(ctx, q, func(evs []events.Event) error {
			var streams events.StreamLabelCache
			var key []byte
			local := map[string]*agg{}
			var syms *chunkSymbols
			if chunkBytes {
				syms = newChunkSymbols()
			}
			for i := range evs {
				buf := streams.Labels(&evs[i])
				key = appendLabelsKey(key[:0], buf)
				g, ok := local[string(key)] // no allocation
				if !ok {
					g = &agg{ls: promLabels(buf)}
					if nsteps > 0 {
						g.steps = make([]int64, nsteps)
					}
					local[string(key)] = g
				}
				g.lines++
				n := int64(len(evs[i].Body))
				step := 0
				if nsteps > 0 {
					step = buckets.index(evs[i].Time)
				}
				if syms != nil {
					n += syms.line(streamKey(key, buf, streams.LevelAdded()), &evs[i], &g.bytes, g.steps, step)
				}
				g.bytes += n
				if nsteps > 0 {
					g.steps[step] += n
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if syms != nil {
				symbols.merge(syms)
			}
			for k, g := range local {
				if d, ok := all[k]; ok {
					d.lines += g.lines
					d.bytes += g.bytes
					for j, v := range g.steps {
						d.steps[j] += v
					}
				} else {
					all[k] = g
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(all)) {
		fn(all[k].ls, all[k].lines, all[k].bytes, all[k].steps)
	}
	return nil
}

// appendLabelsKey appends a key of sorted labels to dst.
func appendLabelsKey(dst []byte, ls []events.Label) []byte {
	for _, l := range ls {
		dst = append(dst, l.Name...)
		dst = append(dst, 0)
		dst = append(dst, l.Value...)
		dst = append(dst, 0)
	}
	return dst
}

func (a *API) selectors(r *http.Request) []string {
	var sel []string
	if q := r.FormValue("query"); q != "" {
		sel = append(sel, q)
	}
	return sel
}

// labelResponse is a labels or label values answer as Loki's
// loghttp.LabelResponse encodes it (pkg/loghttp/labels.go, written by
// pkg/util/marshal.WriteLabelResponseJSON): data is omitempty, so no
// names or values is {"status":"success"}.
type labelResponse struct {
	Status string   `json:"status"`
	Data   []string `json:"data,omitempty"`
}

func (a *API) labelNames(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
	start, end, err := a.bounds(r)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	err = a.streamSets(ctx, t, start, end, a.selectors(r), func(ls labels.Labels) {
		ls.Range(func(l labels.Label) { names[l.Name] = true })
	})
	if err != nil {
		return err
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	writeJSON(w, labelResponse{Status: "success", Data: out})
	return nil
}

func (a *API) labelValues(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	start, end, err := a.bounds(r)
	if err != nil {
		return err
	}
	vals := map[string]bool{}
	err = a.streamSets(ctx, t, start, end, a.selectors(r), func(ls labels.Labels) {
		if v := ls.Get(name); v != "" {
			vals[v] = true
		}
	})
	if err != nil {
		return err
	}
	out := make([]string, 0, len(vals))
	for v := range vals {
		out = append(out, v)
	}
	sort.Strings(out)
	writeJSON(w, labelResponse{Status: "success", Data: out})
	return nil
}

func (a *API) series(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
	start, end, err := a.bounds(r)
	if err != nil {
		return err
	}
	sel := r.Form["match[]"]
	if len(sel) == 0 {
		sel = r.Form["match"]
	}
	if len(sel) == 0 {
		return badf("at least one match[] selector is required")
	}
	out := []map[string]string{}
	err = a.streamSets(ctx, t, start, end, sel, func(ls labels.Labels) {
		out = append(out, labelMap(ls))
	})
	if err != nil {
		return err
	}
	writeJSON(w, map[string]any{"status": "success", "data": out})
	return nil
}

func (a *API) indexStats(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
	start, end, err := a.bounds(r)
	if err != nil {
		return err
	}
	var streams, entries, bytes int64
	err = a.streams(ctx, t, start, end, a.selectors(r), true, func(_ labels.Labels, lines, b int64) {
		streams++
		entries += lines
		bytes += b
	})
	if err != nil {
		return err
	}
	writeJSON(w, map[string]int64{"streams": streams, "chunks": streams, "entries": entries, "bytes": bytes})
	return nil
}

func (a *API) formatQuery(_ context.Context, _ string, w http.ResponseWriter, r *http.Request) error {
	q, err := logql.Parse(r.FormValue("query"))
	if err != nil {
		return err
	}
	writeJSON(w, map[string]string{"status": "success", "data": logql.Prettify(q)})
	return nil
}
