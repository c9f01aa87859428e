package loki

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/query/logql"
)

// Detected fields, as Grafana's Logs Drilldown asks for them: the fields
// of the newest lines of a log query (line_limit, default 100 as Loki's
// pkg/loghttp/params.go lineLimit reads it with defaultQueryLimit), as
// Loki's query frontend finds them (pkg/querier/queryrange/
// detected_fields.go, parseDetectedFields): every structured metadata
// label, the labels the query's own parsers set, and what parsing each
// line as JSON, or else as logfmt, finds (logql.DetectFields: a name a
// pushed stream label has gets "_extracted", level_extracted beside a
// pushed stream label level; Horus' own level label, which Loki's stream
// lacks, does not count, so a level field is level as in Loki), each with a type, the count of distinct values, the
// parsers that found it and, for JSON, the path of its key (jsonPath).

// The defaults of Loki's detected fields request (pkg/loghttp/params.go):
// lineLimit reads line_limit with defaultQueryLimit, detectedFieldsLimit
// reads limit, or else field_limit, with defaultLimit.
const (
	defaultLineLimit  = 100
	defaultFieldLimit = 1000
)

// detectedFieldsResponse is a detected_fields or detected_field values
// answer as Loki's logproto.DetectedFieldsResponse encodes it (pkg/logproto/
// logproto.proto, every member omitempty): an empty list is left out, and
// limit is set only when something was found (NewDetectedFieldsHandler,
// pkg/querier/queryrange/detected_fields.go), so nothing found is {}.
type detectedFieldsResponse struct {
	Fields []detectedField `json:"fields,omitempty"`
	Limit  int             `json:"limit,omitempty"`
	Values []string        `json:"values,omitempty"`
}

// fieldLimit is a detected fields request's limit: limit, or else
// field_limit, a positive integer (default 1000).
func fieldLimit(r *http.Request) (int, error) {
	v := r.FormValue("limit")
	if v == "" {
		v = r.FormValue("field_limit")
	}
	if v == "" {
		return defaultFieldLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, badf("invalid limit %q: want a positive integer", v)
	}
	return n, nil
}

// detectedField is one field of a detected_fields answer, as Loki's
// logproto.DetectedField encodes it (parsers null for structured
// metadata, jsonPath left out when empty).
type detectedField struct {
	Label       string   `json:"label"`
	Type        string   `json:"type"`
	Cardinality int      `json:"cardinality"`
	Parsers     []string `json:"parsers"`
	JSONPath    []string `json:"jsonPath,omitempty"`
}

// fieldStats collects one field's values.
type fieldStats struct {
	values   map[string]struct{}
	shown    map[string]struct{} // the values as detected_field/<name>/values lists them
	typ      string              // the type all values so far have, "" before any
	parsers  map[string]bool
	jsonPath []string // its path in the last line read that was parsed as JSON
}

// detect reads the lines of a log query and collects their fields.
func (a *API) detect(ctx context.Context, t string, r *http.Request) (map[string]*fieldStats, error) {
	q, err := logql.Parse(r.FormValue("query"))
	if err != nil {
		return nil, err
	}
	le, ok := q.(*logql.LogExpr)
	if !ok {
		return nil, badf("detected fields need a log query, not a metric query")
	}
	start, end, err := a.bounds(r)
	if err != nil {
		return nil, err
	}
	lines := defaultLineLimit
	if v := r.FormValue("line_limit"); v != "" {
		if lines, err = strconv.Atoi(v); err != nil || lines <= 0 {
			return nil, badf("invalid line_limit %q: want a positive integer", v)
		}
	}
	lines = min(lines, a.opts.MaxLimit)
	res, err := a.engine.Exec(ctx, le, logql.Params{Tenant: t, Start: start, End: end, Limit: lines})
	if err != nil {
		return nil, err
	}
	fields := map[string]*fieldStats{}
	add := func(name, value, parser string, parsed bool) *fieldStats {
		f := fields[name]
		if f == nil {
			f = &fieldStats{values: map[string]struct{}{}, shown: map[string]struct{}{}, parsers: map[string]bool{}}
			fields[name] = f
		}
		f.values[value] = struct{}{}
		if parsed {
			// Loki's parseDetectedFieldValues lists parsed byte sizes
			// as go-humanize writes them, to be pasted into a query.
			f.shown[shownBytes(value)] = struct{}{}
		} else {
			f.shown[value] = struct{}{}
		}
		f.typ = mergeType(f.typ, valueType(value))
		if parser != "" {
			f.parsers[parser] = true
		}
		return f
	}
	// As Loki, a line parsed as JSON sets the path of each of its fields
	// (none for a field the query's parsers set that JSON does not
	// have), so the last such line read sets it.
	for _, s := range res.Streams {
		for _, e := range s.Entries {
			e.Metadata.Range(func(l labels.Label) { add(l.Name, l.Value, "", false) })
			// Horus' own level label is not one of Loki's stream
			// labels: a level field is level there, not level_extracted.
			isStream := func(n string) bool { return e.Stream.Has(n) && (n != "level" || !e.AddedLevel) }
			parser, found := logql.DetectFields(e.Line, isStream)
			e.Parsed.Range(func(l labels.Label) {
				if !strings.HasPrefix(l.Name, "__") {
					if f := add(l.Name, l.Value, parser, true); parser == "json" {
						f.jsonPath = nil
					}
				}
			})
			for _, d := range found {
				if f := add(d.Name, d.Value, parser, true); parser == "json" {
					f.jsonPath = d.Path
				}
			}
		}
	}
	return fields, nil
}

// shownBytes is a byte size (a value that go-humanize parses and that
// ends with a unit) as go-humanize v1.0.1's Bytes writes it, without the
// blank ("2KB" is "2.0kB"), as Loki's parseDetectedFieldValues lists it
// (allowedBytesUnits); any other value as it is.
func shownBytes(v string) string {
	lower := strings.ToLower(v)
	unit := false
	for _, u := range []string{"b", "k", "m", "g", "t", "p", "e", "ki", "mi", "gi", "ti", "pi", "ei"} {
		unit = unit || strings.HasSuffix(lower, u)
	}
	n, err := logql.ParseBytes(v)
	if !unit || err != nil {
		return v
	}
	return logql.HumanBytes(uint64(n))
}

// valueType is the narrowest Loki field type of a value, tried in
// Loki's order (determineType, pkg/querier/queryrange/detected_fields.go):
// int, float, boolean (strconv.ParseBool, so "t" and "F" too), duration,
// bytes, else string.
func valueType(v string) string {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return "int"
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return "float"
	}
	if _, err := strconv.ParseBool(v); err == nil {
		return "boolean"
	}
	if _, err := logql.ParseDuration(v); err == nil {
		return "duration"
	}
	if _, err := logql.ParseBytes(v); err == nil {
		return "bytes"
	}
	return "string"
}

// mergeType is the type of values of types a and b: int and float make
// float, other mixes string.
func mergeType(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case a == "int" && b == "float" || a == "float" && b == "int":
		return "float"
	}
	return "string"
}

func (a *API) detectedFields(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
	limit, err := fieldLimit(r)
	if err != nil {
		return err
	}
	fields, err := a.detect(ctx, t, r)
	if err != nil {
		return err
	}
	var out []detectedField
	for name, f := range fields {
		var parsers []string
		for p := range f.parsers {
			parsers = append(parsers, p)
		}
		sort.Strings(parsers)
		out = append(out, detectedField{Label: name, Type: f.typ, Cardinality: len(f.values), Parsers: parsers, JSONPath: f.jsonPath})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	if len(out) > limit {
		out = out[:limit]
	}
	writeDetected(w, detectedFieldsResponse{Fields: out}, limit)
	return nil
}

// detectedFieldValues lists the values of one detected field, at most
// limit of them (Loki's parseDetectedFieldValues stops at limit values).
func (a *API) detectedFieldValues(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
	limit, err := fieldLimit(r)
	if err != nil {
		return err
	}
	fields, err := a.detect(ctx, t, r)
	if err != nil {
		return err
	}
	var values []string
	if f := fields[r.PathValue("name")]; f != nil {
		for v := range f.shown {
			values = append(values, v)
		}
	}
	sort.Strings(values)
	if len(values) > limit {
		values = values[:limit]
	}
	writeDetected(w, detectedFieldsResponse{Values: values}, limit)
	return nil
}

// writeDetected writes resp with its limit when it has fields or values.
func writeDetected(w http.ResponseWriter, resp detectedFieldsResponse, limit int) {
	if len(resp.Fields) > 0 || len(resp.Values) > 0 {
		resp.Limit = limit
	}
	writeJSON(w, resp)
}

// detectedLabels lists the stream labels of the streams a selector
// matches, with their cardinality.
func (a *API) detectedLabels(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
	start, end, err := a.bounds(r)
	if err != nil {
		return err
	}
	values := map[string]map[string]struct{}{}
	err = a.streams(ctx, t, start, end, a.selectors(r), false, func(ls labels.Labels, _, _ int64) {
		ls.Range(func(l labels.Label) {
			if values[l.Name] == nil {
				values[l.Name] = map[string]struct{}{}
			}
			values[l.Name][l.Value] = struct{}{}
		})
	})
	if err != nil {
		return err
	}
	type detectedLabel struct {
		Label       string `json:"label"`
		Cardinality int    `json:"cardinality"`
	}
	out := []detectedLabel{}
	for name, vs := range values {
		out = append(out, detectedLabel{name, len(vs)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	writeJSON(w, map[string]any{"detectedLabels": out})
	return nil
}
