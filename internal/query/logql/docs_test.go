package logql

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocsLogQL parses the pipeline examples of docs/loki.md's LogQL
// section, and every operator with every literal of its label filter
// table, so that the docs cannot claim what the parser refuses.
func TestDocsLogQL(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/loki.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(doc)
	sec = sec[strings.Index(sec, "## LogQL"):]
	if i := strings.Index(sec[3:], "\n## "); i >= 0 {
		sec = sec[:i+3]
	}
	code := regexp.MustCompile("`([^`]+)`")
	n := 0
	for _, m := range code.FindAllStringSubmatch(sec, -1) {
		ex := m[1]
		if !strings.HasPrefix(ex, "| ") || strings.Contains(ex, "…") || strings.HasSuffix(ex, "=") {
			continue
		}
		n++
		if _, err := Parse(`{a="b"} ` + strings.ReplaceAll(ex, "\n", " ")); err != nil {
			t.Errorf("docs/loki.md: %s: %v", ex, err)
		}
	}
	if n < 10 {
		t.Errorf("found %d pipeline examples in docs/loki.md's LogQL section", n)
	}
	row := regexp.MustCompile("(?m)^ *\\| (`[^|]+`) \\| (`[^|]+`|same) \\|")
	var ops []string
	rows := row.FindAllStringSubmatch(sec, -1)
	if len(rows) < 5 {
		t.Fatalf("found %d rows in docs/loki.md's label filter table", len(rows))
	}
	for _, r := range rows {
		if r[2] != "same" {
			ops = nil
			for _, o := range code.FindAllStringSubmatch(r[2], -1) {
				ops = append(ops, o[1])
			}
		}
		for _, lit := range code.FindAllStringSubmatch(r[1], -1) {
			for _, op := range ops {
				q := `{a="b"} | x` + op + strings.ReplaceAll(lit[1], "…", "10.0.0.0/8")
				if _, err := Parse(q); err != nil {
					t.Errorf("docs/loki.md's label filter table: %s: %v", q, err)
				}
			}
		}
	}
}
