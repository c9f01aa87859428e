package loki

import (
	"context"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestStreamSets: label names, label values and series (answered from
// the store's streams, streamSets) list the same streams as the log lines
// of query_range, for lines in blocks and in the head, within the range
// and the selector: one stream per app, level and structured-metadata-free
// label set, none outside the range.
func TestStreamSets(t *testing.T) {
	a, store := startAPIStore(t)

	t0 := minute()
	a.push(map[string]string{"app": "web", "env": "prod"}, line{at: t0.Add(time.Second), text: "level=error boom", md: map[string]string{"pod": "p1"}})
	a.push(map[string]string{"app": "web", "env": "dev"}, line{at: t0.Add(2 * time.Second), text: "ok"})
	a.push(map[string]string{"app": "db", "env": "prod"}, line{at: t0.Add(5 * time.Minute), text: "late"}) // out of the range below
	if err := store.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.push(map[string]string{"app": "api", "env": "prod"}, line{at: t0.Add(3 * time.Second), text: "in the head"})

	rng := url.Values{"start": {unix(t0)}, "end": {unix(t0.Add(time.Minute))}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range rng {
			v[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	// The oracle: the streams of query_range's lines, by their stream
	// labels (categorized: without structured metadata).
	linesStreams := func(q string) []string {
		var r queryResponse
		a.getJSON("/loki/api/v1/query_range", with("query", q, "limit", "1000"), map[string]string{"X-Loki-Response-Encoding-Flags": "categorize-labels"}, &r)
		var out []string
		for _, s := range r.Data.Result {
			b, _ := json.Marshal(s.Stream)
			out = append(out, string(b))
		}
		sort.Strings(out)
		return out
	}
	series := func(q string) []string {
		var r struct{ Data []map[string]string }
		a.getJSON("/loki/api/v1/series", with("match[]", q), nil, &r)
		var out []string
		for _, s := range r.Data {
			b, _ := json.Marshal(s)
			out = append(out, string(b))
		}
		sort.Strings(out)
		return out
	}
	for _, q := range []string{`{env=~".+"}`, `{env="prod"}`, `{app="web"} |= "boom"`} {
		got, want := series(q), linesStreams(strings.Split(q, " |=")[0])
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("series %s:\n got %s\nwant %s", q, got, want)
		}
	}
	values := func(path string, kv ...string) string {
		var r labelResponse
		a.getJSON(path, with(kv...), nil, &r)
		return strings.Join(r.Data, ",")
	}
	for _, tc := range []struct{ path, query, want string }{
		{"/loki/api/v1/label/app/values", "", "api,web"},
		{"/loki/api/v1/label/env/values", `{app="web"}`, "dev,prod"},
		{"/loki/api/v1/label/service_name/values", "", "api,web"},
		{"/loki/api/v1/labels", `{app="api"}`, "app,env,level,service_name"},
	} {
		var kv []string
		if tc.query != "" {
			kv = []string{"query", tc.query}
		}
		if got := values(tc.path, kv...); got != tc.want {
			t.Errorf("%s %s: got %s, want %s", tc.path, tc.query, got, tc.want)
		}
	}
}
