// Command lokidiff records what Grafana Loki's own LogQL code does with
// the log queries and lines of a golden file, so that Horus' engine is
// checked against Loki itself rather than against expectations written
// by hand (TestLokiPipeline in the logql package reads the file).
//
// It is a module of its own so that Loki and its dependencies stay out
// of Horus' go.mod: run it when the file's queries or inputs change, or
// to move to a newer Loki (go get github.com/grafana/loki/v3@vX, with
// the replace lines of that release's go.mod):
//
//	cd internal/query/logql/lokidiff && go run . ../testdata/loki_pipeline.golden
//
// The file is a list of directives, one a line ('#' starts a comment):
//
//	stream {job="a"}          the stream labels of the lines that follow
//	meta {user="u1"}          their structured metadata ({} for none)
//	query {job="a"} | json    a log query; Loki parses it and builds its pipeline
//	in `{"a":1}`              a line (a Go string literal) through that pipeline
//	loki true `...` {...}     what Loki did with it: kept (true) or dropped
//	                          (false), the line after, all its labels; or
//	                          "loki error" when Loki refuses the query
//	parse sum(rate({a="b"}[1m]))  a query of any kind Loki parses ("loki ok")
//	                          or refuses ("loki error")
//	horus ...                 where Horus differs on purpose, what it does
//	                          instead (the comment above says why)
//
// lokidiff rewrites every loki line and leaves the rest as it is.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/grafana/loki/v3/pkg/logql/log"
	"github.com/grafana/loki/v3/pkg/logql/syntax"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: lokidiff <golden file>")
		os.Exit(2)
	}
	if err := rewrite(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "lokidiff:", err)
		os.Exit(1)
	}
}

func rewrite(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var out []string
	stream, meta := labels.FromStrings("job", "a"), labels.EmptyLabels()
	var pipe log.Pipeline
	var perr error
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		verb, rest, _ := strings.Cut(line, " ")
		switch verb {
		case "loki":
			continue // made anew after its "in"
		case "stream", "meta":
			ls, err := parseLabels(rest)
			if err != nil {
				return fmt.Errorf("%s:%d: %v", path, n, err)
			}
			if verb == "stream" {
				stream = ls
			} else {
				meta = ls
			}
		case "query":
			pipe, perr = nil, nil
			expr, err := syntax.ParseLogSelector(rest, true)
			if err == nil {
				pipe, err = expr.Pipeline()
			}
			perr = err
		case "parse":
			out = append(out, line)
			if err := parseAndBuild(rest); err != nil {
				out = append(out, "loki error")
			} else {
				out = append(out, "loki ok")
			}
			continue
		case "in":
			in, err := strconv.Unquote(rest)
			if err != nil {
				return fmt.Errorf("%s:%d: %v", path, n, err)
			}
			out = append(out, line)
			if perr != nil {
				out = append(out, "loki error")
				continue
			}
			if pipe == nil {
				return fmt.Errorf("%s:%d: in before a query", path, n)
			}
			l, res, ok := pipe.ForStream(stream).ProcessString(0, in, meta)
			if !ok {
				out = append(out, "loki false")
				continue
			}
			out = append(out, fmt.Sprintf("loki true %s %s", Quote(l), res.Labels().String()))
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644)
}

// parseAndBuild parses a query as Loki's query frontend does and builds
// what its evaluation needs, the pipeline of a log query and the sample
// extractors of a metric query, where Loki refuses what its parser lets
// through (a bad regular expression or template, a named capture in a
// pattern line filter...).
func parseAndBuild(q string) error {
	expr, err := syntax.ParseExpr(q)
	if err != nil {
		return err
	}
	if l, ok := expr.(syntax.LogSelectorExpr); ok {
		_, err = l.Pipeline()
		return err
	}
	expr.Walk(func(e syntax.Expr) bool {
		switch e := e.(type) {
		case *syntax.RangeAggregationExpr:
			if _, xerr := e.Extractors(); xerr != nil && err == nil {
				err = xerr
			}
		case *syntax.LiteralExpr:
			if _, verr := e.Value(); verr != nil && err == nil {
				err = verr
			}
		}
		return true
	})
	return err
}

// parseLabels reads {a="b", ...}.
func parseLabels(s string) (labels.Labels, error) {
	if strings.TrimSpace(s) == "{}" {
		return labels.EmptyLabels(), nil
	}
	ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(s)
	if err != nil {
		return labels.EmptyLabels(), err
	}
	b := labels.NewScratchBuilder(len(ms))
	for _, m := range ms {
		b.Add(m.Name, m.Value)
	}
	b.Sort()
	return b.Labels(), nil
}

// Quote is a raw string literal when it can be, else a quoted one.
func Quote(s string) string {
	if strconv.CanBackquote(s) && !strings.ContainsAny(s, "\n\r\t") {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}
