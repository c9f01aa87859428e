package main

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// normalize decodes a JSON answer of path and removes what must differ
// between two stores of the same data, so that the rest can be compared:
//
//   - query and query_range: data.stats (timings and bytes read); the
//     streams of a log query, the series of a matrix or vector sorted by
//     their labels (Loki leaves their order unspecified: "Result
//     ordering", docs/sources/query/metric_queries.md), unless sorted
//     is true (sort and sort_desc in an instant query); sample values as
//     numbers;
//   - series, detected_fields, detected_labels, detected_field values,
//     patterns: the lists sorted (their order is unspecified);
//   - index/stats: chunks (Horus stores no chunks);
//   - index/volume and volume_range: as a vector and a matrix.
//
// An answer that is not JSON is returned as its text.
func normalize(path string, body []byte, sorted bool) any {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return strings.TrimSpace(string(body))
	}
	m, _ := v.(map[string]any)
	if m == nil {
		return v
	}
	switch {
	case strings.HasSuffix(path, "/query"), strings.HasSuffix(path, "/query_range"),
		strings.HasSuffix(path, "/index/volume"), strings.HasSuffix(path, "/index/volume_range"):
		if data, ok := m["data"].(map[string]any); ok {
			delete(data, "stats")
			normalizeResult(data, sorted)
		}
	case strings.HasSuffix(path, "/series"):
		sortList(m["data"], "")
	case strings.HasSuffix(path, "/index/stats"):
		delete(m, "chunks")
	case strings.HasSuffix(path, "/detected_fields"):
		sortList(m["fields"], "label")
	case strings.HasSuffix(path, "/detected_labels"):
		sortList(m["detectedLabels"], "label")
	case strings.Contains(path, "/detected_field/"):
		sortList(m["values"], "")
	case strings.HasSuffix(path, "/patterns"):
		sortList(m["data"], "pattern")
	}
	return m
}

// normalizeResult sorts a query answer's result and makes its values
// numbers.
func normalizeResult(data map[string]any, sorted bool) {
	res, _ := data["result"].([]any)
	switch data["resultType"] {
	case "streams":
		sortList(res, "stream")
	case "matrix":
		for _, s := range res {
			if sm, ok := s.(map[string]any); ok {
				if vals, ok := sm["values"].([]any); ok {
					for _, p := range vals {
						numberPoint(p)
					}
				}
			}
		}
		sortList(res, "metric")
	case "vector":
		for _, s := range res {
			if sm, ok := s.(map[string]any); ok {
				numberPoint(sm["value"])
			}
		}
		if !sorted {
			sortList(res, "metric")
		}
	case "scalar":
		numberPoint(data["result"])
	}
}

// numberPoint makes a [ts, "value"] pair's value a number.
func numberPoint(p any) {
	pair, ok := p.([]any)
	if !ok || len(pair) != 2 {
		return
	}
	if s, ok := pair[1].(string); ok {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			pair[1] = f
		}
	}
}

// sortList sorts a JSON list in place by the canonical JSON of each
// element's key member (the whole element when key is "").
func sortList(v any, key string) {
	list, ok := v.([]any)
	if !ok {
		return
	}
	keys := make(map[int]string, len(list))
	idx := make([]int, len(list))
	for i, e := range list {
		idx[i] = i
		k := e
		if m, ok := e.(map[string]any); ok && key != "" {
			k = m[key]
		}
		b, _ := json.Marshal(k)
		keys[i] = string(b)
	}
	sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
	cp := append([]any(nil), list...)
	for i, j := range idx {
		list[i] = cp[j]
	}
}

// diff appends to out the differences between a (Loki's) and b (Horus')
// under path, numbers equal within a relative 1e-9 (times, the first
// member of a pair, to the millisecond); it stops after max.
func diff(path string, a, b any, out *[]string, max int) {
	if len(*out) >= max {
		return
	}
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: loki %s, horus %s", path, short(a), short(b)))
			return
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			x, inA := av[k]
			y, inB := bv[k]
			switch {
			case !inA:
				*out = append(*out, fmt.Sprintf("%s.%s: only horus: %s", path, k, short(y)))
			case !inB:
				*out = append(*out, fmt.Sprintf("%s.%s: only loki: %s", path, k, short(x)))
			default:
				diff(path+"."+k, x, y, out, max)
			}
			if len(*out) >= max {
				return
			}
		}
	case []any:
		bv, ok := b.([]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: loki %s, horus %s", path, short(a), short(b)))
			return
		}
		if len(av) != len(bv) {
			*out = append(*out, fmt.Sprintf("%s: loki %d elements, horus %d", path, len(av), len(bv)))
		}
		for i := 0; i < min(len(av), len(bv)); i++ {
			diff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i], out, max)
			if len(*out) >= max {
				return
			}
		}
	case float64:
		// A pair's first member is a time: equal to the millisecond, not
		// within a relative 1e-9 (which is 1.8 s of a unix time).
		bv, ok := b.(float64)
		if !ok || !closeEnough(av, bv) || (strings.HasSuffix(path, "[0]") && math.Abs(av-bv) >= 5e-4) {
			*out = append(*out, fmt.Sprintf("%s: loki %s, horus %s", path, short(a), short(b)))
		}
	default:
		if !equalJSON(a, b) {
			*out = append(*out, fmt.Sprintf("%s: loki %s, horus %s", path, short(a), short(b)))
		}
	}
}

func closeEnough(a, b float64) bool {
	if a == b || (math.IsNaN(a) && math.IsNaN(b)) {
		return true
	}
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// short is v's JSON cut to 160 bytes.
func short(v any) string {
	if v == nil {
		return "absent"
	}
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// stepHint returns the kind id step-alignment when the differences of
// two matrices are only their instants: every series has the same labels and, at the instants both
// have, the same values (Loki aligns a range query's start and end to its
// step, issue 21). It returns "" otherwise.
func stepHint(a, b any) string {
	ra, ta := matrixOf(a)
	rb, tb := matrixOf(b)
	if ta != "matrix" || tb != "matrix" || len(ra) != len(rb) || len(ra) == 0 {
		return ""
	}
	shifted := false
	for i := range ra {
		if !equalJSON(ra[i]["metric"], rb[i]["metric"]) {
			return ""
		}
		pa, pb := points(ra[i]), points(rb[i])
		for t, v := range pa {
			if w, ok := pb[t]; ok && !closeEnough(v, w) {
				return ""
			}
		}
		if len(pa) != len(pb) {
			shifted = true
		}
		for t := range pa {
			if _, ok := pb[t]; !ok {
				shifted = true
			}
		}
	}
	if !shifted {
		return ""
	}
	return "step-alignment"
}

func matrixOf(v any) ([]map[string]any, string) {
	m, _ := v.(map[string]any)
	data, _ := m["data"].(map[string]any)
	typ, _ := data["resultType"].(string)
	res, _ := data["result"].([]any)
	out := make([]map[string]any, 0, len(res))
	for _, s := range res {
		sm, _ := s.(map[string]any)
		out = append(out, sm)
	}
	return out, typ
}

func points(s map[string]any) map[float64]float64 {
	out := map[float64]float64{}
	vals, _ := s["values"].([]any)
	for _, p := range vals {
		pair, _ := p.([]any)
		if len(pair) != 2 {
			continue
		}
		t, _ := pair[0].(float64)
		v, _ := pair[1].(float64)
		out[t] = v
	}
	return out
}

// kinds are the kinds of difference seen in the harness' runs, each
// recognised in a case's difference lines by a regular expression; a case
// can show several. The explanations file (intended.txt) says by id which
// are intended and which are known bugs (docs/loki.md gives the reasons).
var kinds = []struct {
	id, name string
	re       *regexp.Regexp
}{
	{"level-label", "horus adds the stream label level", regexp.MustCompile(`\.(stream|metric)\.level: only horus`)},
	{"level-extracted", "horus renames a parsed label that clashes with its level label or trace_id metadata to *_extracted",
		regexp.MustCompile(`\.stream\.(level|trace_id)_extracted: only horus`)},
	{"trace-id-column", "horus also finds a trace id in the trace_id column (|= \"<trace id>\")", regexp.MustCompile(`\.stream\.trace_id: only horus`)},
	{"instant-ms", "the instant of an instant query: loki cuts it to the millisecond, horus keeps more", regexp.MustCompile(`\.value\[0\]: loki \d+(\.\d{1,3})?, horus \d+\.\d{4,}$`)},
	{"metadata-in-series", "loki puts structured metadata in metric series", regexp.MustCompile(`\.metric\.(trace_id|span_id|user_id|card_brand|detected_level): only loki`)},
	// Found by stepHint, not in the lines.
	{"step-alignment", "only the instants differ (step alignment)", nil},
}

// kindByID is the index of the kind with the id in kinds, -1 if none.
func kindByID(id string) int {
	for i, k := range kinds {
		if k.id == id {
			return i
		}
	}
	return -1
}

// classify returns the ids of the kinds of difference the lines show.
func classify(lines []string) []string {
	var out []string
	for _, k := range kinds {
		for _, l := range lines {
			if k.re != nil && k.re.MatchString(l) {
				out = append(out, k.id)
				break
			}
		}
	}
	return out
}

// kindName is the name of the kind with the id.
func kindName(id string) string {
	if i := kindByID(id); i >= 0 {
		return kinds[i].name
	}
	return id
}

// ignoreLabels removes the label names in names, and each name with
// _extracted, from an answer's label sets (the streams of a log query,
// merging those left equal; the series of a metric query; /series; the
// names of /labels and /detected_labels), so that the differences a known
// one causes everywhere (Horus' level stream label) do not hide the
// others. forward says the order of a merged stream's entries.
func ignoreLabels(v any, names []string, forward bool) {
	if len(names) == 0 {
		return
	}
	drop := map[string]bool{}
	for _, n := range names {
		drop[n], drop[n+"_extracted"] = true, true
	}
	strip := func(x any) {
		if m, ok := x.(map[string]any); ok {
			for k := range m {
				if drop[k] {
					delete(m, k)
				}
			}
		}
	}
	m, _ := v.(map[string]any)
	if m == nil {
		return
	}
	if list, ok := m["detectedLabels"].([]any); ok {
		m["detectedLabels"] = filterList(list, func(e any) bool {
			em, _ := e.(map[string]any)
			name, _ := em["label"].(string)
			return !drop[name]
		})
	}
	switch data := m["data"].(type) {
	case []any:
		// Names (/labels) and label sets (/series): the names go, and a
		// label set left equal to another is listed once.
		out := data[:0]
		seen := map[string]bool{}
		for _, e := range data {
			if s, ok := e.(string); ok && drop[s] {
				continue
			}
			strip(e)
			key, _ := json.Marshal(e)
			if seen[string(key)] {
				continue
			}
			seen[string(key)] = true
			out = append(out, e)
		}
		sortList(out, "")
		m["data"] = out
	case map[string]any:
		res, _ := data["result"].([]any)
		if data["resultType"] != "streams" {
			for _, s := range res {
				if sm, ok := s.(map[string]any); ok {
					strip(sm["metric"])
				}
			}
			return
		}
		merged := map[string]map[string]any{}
		var out []any
		for _, s := range res {
			sm, _ := s.(map[string]any)
			if sm == nil {
				continue
			}
			strip(sm["stream"])
			key, _ := json.Marshal(sm["stream"])
			if prev, ok := merged[string(key)]; ok {
				pv, _ := prev["values"].([]any)
				sv, _ := sm["values"].([]any)
				all := append(pv, sv...)
				sort.SliceStable(all, func(i, j int) bool {
					ti, tj := entryTime(all[i]), entryTime(all[j])
					if forward {
						return ti < tj
					}
					return ti > tj
				})
				prev["values"] = all
				continue
			}
			merged[string(key)] = sm
			out = append(out, sm)
		}
		data["result"] = out
		sortList(out, "stream")
	}
}

func filterList(list []any, keep func(any) bool) []any {
	out := list[:0]
	for _, e := range list {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// entryTime is a log entry's time: its first element, unix ns as text.
func entryTime(e any) int64 {
	p, _ := e.([]any)
	if len(p) == 0 {
		return 0
	}
	s, _ := p[0].(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
