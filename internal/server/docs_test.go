package server

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDocsRedactionExamples pushes each example line of docs/loki.md's
// redaction table to a running Horus and checks that what it stores is
// what the table says, so the docs and the code cannot drift apart (they
// had: the docs showed e-mails as <redacted>@example.com, Horus stores
// ***@example.com).
func TestDocsRedactionExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/loki.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	section = section[strings.Index(section, "## Redaction"):]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	row := regexp.MustCompile("(?m)^\\| `(\\w+)` \\|[^\\n]*\\| `([^`]+)` \\| `([^`]+)` \\|$")
	rows := row.FindAllStringSubmatch(section, -1)
	if len(rows) < 6 {
		t.Fatalf("found %d example rows in docs/loki.md's redaction table, want one per built-in detector (6)", len(rows))
	}
	ts := startServer(t, "")
	now := time.Now()
	for i, r := range rows {
		detector, in, want := r[1], r[2], r[3]
		body, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{
			"stream": map[string]string{"job": "docs", "detector": detector},
			"values": [][]string{{strconv.FormatInt(now.Add(time.Duration(i)*time.Millisecond).UnixNano(), 10), in}},
		}}})
		expectPost(t, ts.URL()+"/loki/api/v1/push", body, map[string]string{"Content-Type": "application/json"}, http.StatusNoContent, "")
		res := lokiRange(t, ts, `{job="docs", detector="`+detector+`"}`, nil)
		if len(res.Data.Result) != 1 || len(res.Data.Result[0].Values) != 1 {
			t.Errorf("%s: %+v, want one line", detector, res.Data.Result)
			continue
		}
		if got := res.Data.Result[0].Values[0][1]; got != want {
			t.Errorf("%s: %q is stored as %q; docs/loki.md says %q", detector, in, got, want)
		}
	}
}
