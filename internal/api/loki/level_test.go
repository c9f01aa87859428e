package loki

import (
	"sort"
	"strings"
	"testing"
	"time"
)

// TestParsedLevel: a parser that finds a level in a line of a stream
// pushed without a level label names it level, as Loki 3.7.6 does (its
// stream has no level: pkg/logql/log/parser.go adds duplicateSuffix only
// when BaseHas or structured metadata has the name), and the parsed value
// replaces Horus' own level label in the answer (categorized: it is in
// parsed, the stream has no level), as a parsed label replaces a stream
// label in Loki's LabelsBuilder.Set (pkg/logql/log/labels.go). Beside a
// pushed level label the field is level_extracted and the stream keeps
// its level. | json level="…" that finds nothing sets level="" only where
// Loki's stream lacks level. The answers are Loki's on the same pushes,
// except that a line no parser gave a level keeps Horus' level label
// (level="info" on the logfmt line; docs/loki.md, intended).
func TestParsedLevel(t *testing.T) {
	a := startAPI(t)
	t0 := minute()
	a.push(map[string]string{"app": "det"},
		line{at: t0.Add(time.Second), text: `level=info status=200`},
		line{at: t0.Add(2 * time.Second), text: `{"level":"WARNING","msg":"m"}`})
	a.push(map[string]string{"app": "det2", "level": "warn"},
		line{at: t0.Add(3 * time.Second), text: `{"level":"WARNING","msg":"x"}`},
		line{at: t0.Add(4 * time.Second), text: `level=debug msg=y`})
	cat := map[string]string{"X-Loki-Response-Encoding-Flags": "categorize-labels"}
	entries := func(q string, header map[string]string) []string {
		t.Helper()
		out, _ := a.entries(q, t0, header)
		sort.Strings(out)
		return out
	}
	const (
		det    = "map[app:det service_name:det]"
		det2   = "map[app:det2 level:warn service_name:det2]"
		jsonOK = `"{\"level\":\"WARNING\",\"msg\":\"m\"}"`
	)
	for _, tc := range []struct {
		q      string
		header map[string]string
		want   []string
	}{
		{`{app=~"det.*"} | json | drop __error_details__`, cat, []string{
			// Loki: the stream {app, service_name}; Horus keeps its level.
			`map[app:det level:info service_name:det] "level=info status=200",{"parsed":{"__error__":"JSONParserErr"},"structuredMetadata":{"detected_level":"info"}}`,
			det + ` ` + jsonOK + `,{"parsed":{"level":"WARNING","msg":"m"},"structuredMetadata":{"detected_level":"warn"}}`,
			det2 + ` "level=debug msg=y",{"parsed":{"__error__":"JSONParserErr"},"structuredMetadata":{"detected_level":"warn"}}`,
			det2 + ` "{\"level\":\"WARNING\",\"msg\":\"x\"}",{"parsed":{"level_extracted":"WARNING","msg":"x"},"structuredMetadata":{"detected_level":"warn"}}`,
		}},
		{`{app=~"det.*"} | json | level="WARNING"`, nil, []string{
			`map[app:det detected_level:warn level:WARNING msg:m service_name:det] ` + jsonOK,
		}},
		{`{app=~"det.*"} | logfmt | level="debug"`, nil, nil},
		{`{app=~"det.*"} | logfmt | level="info" | drop detected_level`, cat, []string{
			det + ` "level=info status=200",{"parsed":{"level":"info","status":"200"}}`,
		}},
		{`{app=~"det.*"} | json level="nope" | __error__="" | drop detected_level`, cat, []string{
			det + ` ` + jsonOK + `,{"parsed":{"level":""}}`,
			det2 + ` "{\"level\":\"WARNING\",\"msg\":\"x\"}",{}`,
		}},
	} {
		if got := entries(tc.q, tc.header); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s %v:\n got %s\nwant %s", tc.q, tc.header, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}
