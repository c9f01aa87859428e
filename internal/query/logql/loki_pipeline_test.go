package logql

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// TestLokiPipeline runs the log queries of testdata/loki_pipeline.golden
// on its lines and wants what Grafana Loki's own code (v3.7.6,
// pkg/logql/syntax and pkg/logql/log) did with them, or the "horus" line
// where Horus differs on purpose; and it wants Horus to parse the queries
// of its parse directives when Loki does, and to refuse those Loki
// refuses. The loki lines were recorded by running Loki's code on the
// file outside this repository (Loki is AGPL: no program that builds it
// is kept here). The file is a list of directives, one a line ('#'
// starts a comment):
//
//	stream {job="a"}          the stream labels of the lines that follow
//	meta {user="u1"}          their structured metadata ({} for none)
//	query {job="a"} | json    a log query; Loki parsed it and built its pipeline
//	in `{"a":1}`              a line (a Go string literal) through that pipeline
//	loki true `...` {...}     what Loki did with it: kept (true) or dropped
//	                          (false), the line after, all its labels; or
//	                          "loki error" when Loki refused the query
//	parse sum(rate({a="b"}[1m]))  a query of any kind Loki parsed ("loki ok")
//	                          or refused ("loki error")
//	horus ...                 where Horus differs on purpose, what it does
//	                          instead (the comment above says why)
func TestLokiPipeline(t *testing.T) {
	const path = "testdata/loki_pipeline.golden"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var (
		stream, meta labels.Labels
		query        string
		expr         *LogExpr
		perr         error
		in           string
		inLine       int
		want         string
		wantLine     int
		n            int
		parseOnly    bool // the query of a parse directive: only whether it parses
	)
	check := func() {
		if wantLine == 0 {
			return
		}
		if parseOnly {
			got := "ok"
			if _, err := Parse(query); err != nil {
				got = "error"
			}
			if got != want {
				t.Errorf("%s:%d: parse %s: got %s, want %s", path, inLine, query, got, want)
			}
			wantLine = 0
			return
		}
		got := pipelineResult(expr, perr, stream, meta, in)
		if got != want {
			t.Errorf("%s:%d: %s on %s:\n got %s\nwant %s", path, inLine, query, quoteLine(in), got, want)
		}
		wantLine = 0
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		verb, rest, _ := strings.Cut(line, " ")
		switch verb {
		case "", "#":
			continue
		case "stream", "meta":
			check()
			ls, err := scriptParser.ParseMetric(rest)
			if strings.TrimSpace(rest) == "{}" {
				ls, err = labels.EmptyLabels(), nil
			}
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			if verb == "stream" {
				stream = ls
			} else {
				meta = ls
			}
		case "parse":
			check()
			query, parseOnly, inLine = rest, true, n
		case "query":
			check()
			query, parseOnly = rest, false
			expr, perr = nil, nil
			var e Expr
			if e, perr = Parse(rest); perr == nil {
				var ok bool
				if expr, ok = e.(*LogExpr); !ok {
					t.Fatalf("%s:%d: not a log query", path, n)
				}
			}
		case "in":
			check()
			if in, err = strconv.Unquote(rest); err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			inLine = n
		case "loki":
			want, wantLine = rest, n
		case "horus":
			want, wantLine = rest, n // overrides the loki line before it
		default:
			t.Fatalf("%s:%d: unknown directive %q", path, n, verb)
		}
	}
	check()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// pipelineResult is what Horus' pipeline does with one line, written as
// the golden file's loki lines are.
func pipelineResult(e *LogExpr, perr error, stream, meta labels.Labels, line string) string {
	if perr != nil {
		return "error"
	}
	r := &row{line: line}
	stream.Range(func(l labels.Label) { r.lbls = append(r.lbls, label{l.Name, l.Value, catStream}) })
	meta.Range(func(l labels.Label) { r.lbls = append(r.lbls, label{l.Name, l.Value, catMetadata}) })
	if !run(e.Stages, r) {
		return "false"
	}
	return fmt.Sprintf("true %s %s", quoteLine(r.line), r.labels(catStream, catMetadata, catParsed))
}

func quoteLine(s string) string {
	if strconv.CanBackquote(s) && !strings.ContainsAny(s, "\n\r\t") {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}
