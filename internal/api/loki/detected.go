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
// of the newest lines of a log query (line_limit, default 1000) that are
// not stream labels, from structured metadata and from parsing each line
// as JSON or logfmt, with a type, the count of distinct values and the
// parsers that found them.

type detectedField struct {
	Label       string   `json:"label"`
	Type        string   `json:"type"`
	Cardinality int      `json:"cardinality"`
	Parsers     []string `json:"parsers"`
}

// fieldStats collects one field's values.
type fieldStats struct {
	values  map[string]struct{}
	typ     string // the type all values so far have, "" before any
	parsers map[string]bool
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
	lines := 1000
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
	add := func(stream labels.Labels, name, value, parser string) {
		if name == "" || strings.HasPrefix(name, "__") || stream.Has(name) {
			return
		}
		f := fields[name]
		if f == nil {
			f = &fieldStats{values: map[string]struct{}{}, parsers: map[string]bool{}}
			fields[name] = f
		}
		f.values[value] = struct{}{}
		f.typ = mergeType(f.typ, valueType(value))
		if parser != "" {
			f.parsers[parser] = true
		}
	}
	for _, s := range res.Streams {
		for _, e := range s.Entries {
			e.Metadata.Range(func(l labels.Label) { add(e.Stream, l.Name, l.Value, "") })
			e.Parsed.Range(func(l labels.Label) { add(e.Stream, l.Name, l.Value, "") })
			line := strings.TrimSpace(e.Line)
			if strings.HasPrefix(line, "{") {
				_ = logql.JSONFields(line, func(k, v string) { add(e.Stream, k, v, "json") })
			} else {
				_ = logql.Logfmt(line, false, false, func(k, v string) {
					if v != "" { // a bare word is not a field
						add(e.Stream, k, v, "logfmt")
					}
				})
			}
		}
	}
	return fields, nil
}

// valueType is the narrowest Loki field type of a value.
func valueType(v string) string {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return "int"
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return "float"
	}
	if _, err := strconv.ParseBool(v); err == nil && len(v) > 1 {
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
	fields, err := a.detect(ctx, t, r)
	if err != nil {
		return err
	}
	limit := 1000
	if v := r.FormValue("field_limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit <= 0 {
			return badf("invalid field_limit %q: want a positive integer", v)
		}
	}
	out := []detectedField{}
	for name, f := range fields {
		var parsers []string
		for p := range f.parsers {
			parsers = append(parsers, p)
		}
		sort.Strings(parsers)
		out = append(out, detectedField{Label: name, Type: f.typ, Cardinality: len(f.values), Parsers: parsers})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	if len(out) > limit {
		out = out[:limit]
	}
	// As Loki: a bare object, with the limit only when fields were found.
	resp := map[string]any{"fields": out}
	if len(out) > 0 {
		resp["limit"] = limit
	}
	writeJSON(w, resp)
	return nil
}

func (a *API) detectedFieldValues(ctx context.Context, t string, w http.ResponseWriter, r *http.Request) error {
	fields, err := a.detect(ctx, t, r)
	if err != nil {
		return err
	}
	values := []string{}
	if f := fields[r.PathValue("name")]; f != nil {
		for v := range f.values {
			values = append(values, v)
		}
	}
	sort.Strings(values)
	writeJSON(w, map[string]any{"values": values})
	return nil
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
