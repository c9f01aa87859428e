// Package runbooks holds the runbooks of the alerts the demo shop ships
// (internal/demo/rules): one Markdown file per alert, named after it
// (CheckoutAvailabilitySLO.md), and README.md, their index. They are
// embedded in Horus, which serves them at /runbooks/<alert>: the alerts'
// runbook_url is '{{ $externalURL }}/runbooks/<alert>', a link that works
// in a notification wherever Horus runs.
package runbooks

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

//go:embed *.md
var files embed.FS

// Path is where Horus serves the runbooks: Path + "<alert>" is one
// runbook, Path alone the index.
const Path = "/runbooks/"

// index is the file Path serves.
const index = "README.md"

// Names lists the alerts that have a runbook, sorted.
func Names() []string {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(err) // the embedded directory always reads
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".md"); ok && e.Name() != index {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Read returns the runbook of an alert (README for the index).
func Read(alert string) ([]byte, bool) {
	if alert == "" || strings.ContainsAny(alert, "/\\.") {
		return nil, false
	}
	b, err := files.ReadFile(alert + ".md")
	return b, err == nil
}

// Query is a query a runbook gives: a fenced code block whose language is
// promql, logql or traceql.
type Query struct {
	Lang string // "promql", "logql" or "traceql"
	Text string // the block's text, without its fences
}

// fenced matches a code block in a query language (indented in a list too).
var fenced = regexp.MustCompile("(?ms)^[ \t]*```(promql|logql|traceql)\n(.*?)\n[ \t]*```")

// Queries returns the queries of an alert's runbook, in order; none for an
// alert without a runbook.
func Queries(alert string) []Query {
	b, ok := Read(alert)
	if !ok {
		return nil
	}
	var out []Query
	for _, m := range fenced.FindAllStringSubmatch(string(b), -1) {
		out = append(out, Query{Lang: m[1], Text: strings.TrimSpace(m[2])})
	}
	return out
}

// Handler serves GET and HEAD Path (the index) and Path<alert> (or
// <alert>.md): the runbook's Markdown as text/markdown, or as text/plain
// to a browser (a request that accepts text/html), which shows plain
// text where it would download text/markdown. An unknown alert is a 404
// that lists the runbooks there are.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "GET a runbook", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		name = strings.TrimSuffix(name, ".md")
		if name == "" {
			name = strings.TrimSuffix(index, ".md")
		}
		b, found := Read(name)
		if !found {
			http.Error(w, fmt.Sprintf("no runbook %q; there are runbooks for %s (index: %s)", name, strings.Join(Names(), ", "), Path),
				http.StatusNotFound)
			return
		}
		ctype := "text/markdown; charset=utf-8"
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			ctype = "text/plain; charset=utf-8"
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Vary", "Accept")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(b)
	})
}
