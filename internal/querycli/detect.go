package querycli

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/horus-obs/horus/internal/api/prom"
	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/query/traceql"
)

// Lang is a query language.
type Lang string

// The languages `horus query` speaks.
const (
	PromQL  Lang = "promql"
	LogQL   Lang = "logql"
	TraceQL Lang = "traceql"
)

// parseLang reads a language name as given on the command line.
func parseLang(s string) (Lang, bool) {
	switch l := Lang(strings.ToLower(s)); l {
	case PromQL, LogQL, TraceQL:
		return l, true
	}
	return "", false
}

// promParser is the PromQL parser Horus' API and ruler use.
var promParser = prom.NewParser(prom.Limits{})

// traceqlShape matches a spanset filter that only TraceQL writes: braces
// that are empty, or whose first field is a scoped attribute (.x, span.x,
// resource.x...), a scoped intrinsic (span:name, trace:id...), or an
// intrinsic compared with something other than a quoted string
// (duration > 1s, status = error, kind = server).
var traceqlShape = regexp.MustCompile(`\{\s*(?:\}|\.|(?:span|resource|event|link|instrumentation|parent)\.|(?:span|trace|event|link|instrumentation):|(?:name|status|statusMessage|duration|kind|rootName|rootServiceName|traceDuration|nestedSetParent|nestedSetLeft|nestedSetRight)\s*(?:=~|!~|!=|<=|>=|=|<|>)\s*[^\s"'` + "`" + `])`)

// lineFilterShape matches a stream selector followed by a line filter
// (|= |~ |> != !~ !>), which only LogQL writes, even when the query does
// not parse.
var lineFilterShape = regexp.MustCompile(`\}\s*(?:\|[=~>]|![=~>]\s*["` + "`" + `])`)

// pipeShape matches a selector followed by a pipe: a LogQL pipeline
// unless the braces are shaped as TraceQL's.
var pipeShape = regexp.MustCompile(`\}\s*\|`)

// Detect says which language q is written in, by these rules, in order:
//
//  1. Only one of the three parsers accepts q: that language.
//  2. TraceQL accepts it and its first spanset is shaped as only TraceQL
//     writes one (traceqlShape: { }, { .x }, { span.x }, { resource.x },
//     { duration > 1s }, { status = error }).
//  3. LogQL accepts it and it reads logs: a stream selector with a
//     pipeline ({app="x"} |= "error", {app="x"} | json), or a metric query
//     over stream selectors (rate({app="x"}[5m])) none of which names a
//     metric (__name__).
//  4. PromQL accepts it: PromQL. So {job="x"}, valid in all three
//     languages, is PromQL; `horus query logql` or `traceql` forces the
//     others.
//  5. Otherwise (no parser accepts it) the language it looks most like,
//     so that the error comes from that language's parser: LogQL if a
//     selector is followed by a line filter (|= |~ != !~), else TraceQL
//     if shaped as rule 2 says, else LogQL if a selector is followed by a
//     pipe, else PromQL.
func Detect(q string) Lang {
	lq, lerr := logql.Parse(q)
	_, terr := traceql.Parse(q)
	_, perr := promParser.ParseExpr(q)
	ok := map[Lang]bool{PromQL: perr == nil, LogQL: lerr == nil, TraceQL: terr == nil}
	n := 0
	var only Lang
	for _, l := range []Lang{PromQL, LogQL, TraceQL} {
		if ok[l] {
			n++
			only = l
		}
	}
	switch {
	case n == 1:
		return only
	case ok[TraceQL] && traceqlShape.MatchString(q):
		return TraceQL
	case ok[LogQL] && readsLogs(lq):
		return LogQL
	case ok[PromQL]:
		return PromQL
	case n > 1: // LogQL and TraceQL, not PromQL
		if ok[LogQL] {
			return LogQL
		}
		return TraceQL
	case lineFilterShape.MatchString(q):
		return LogQL
	case traceqlShape.MatchString(q):
		return TraceQL
	case pipeShape.MatchString(q):
		return LogQL
	}
	return PromQL
}

// readsLogs says whether a parsed LogQL query is shaped as only a log
// query is: a selector with a pipeline, or a metric query over selectors,
// none with a __name__ matcher.
func readsLogs(e logql.Expr) bool {
	if le, ok := e.(*logql.LogExpr); ok {
		return len(le.Stages) > 0 && !namesMetric(le)
	}
	found, metric := false, false
	_ = walkLogQL(e, func(le *logql.LogExpr) {
		found = true
		metric = metric || namesMetric(le)
	})
	return found && !metric
}

func namesMetric(le *logql.LogExpr) bool {
	for _, m := range le.Matchers {
		if m.Name == "__name__" {
			return true
		}
	}
	return false
}

// walkLogQL calls f on every stream selector of e, and fails on a node it
// does not know.
func walkLogQL(e logql.Expr, f func(*logql.LogExpr)) error {
	switch x := e.(type) {
	case *logql.LogExpr:
		f(x)
	case *logql.RangeAgg:
		f(x.Log)
	case *logql.VectorAgg:
		return walkLogQL(x.Inner, f)
	case *logql.BinaryExpr:
		if err := walkLogQL(x.Left, f); err != nil {
			return err
		}
		return walkLogQL(x.Right, f)
	case *logql.LabelReplace:
		return walkLogQL(x.Inner, f)
	case *logql.Literal, *logql.VectorExpr:
	default:
		return fmt.Errorf("LogQL expression %T not known to horus query", e)
	}
	return nil
}

// isTraceQLMetrics says whether q, a TraceQL query, ends in a metrics
// function (rate(), quantile_over_time()...).
func isTraceQLMetrics(q string) bool {
	tq, err := traceql.Parse(q)
	return err == nil && tq.Metrics != nil
}

// isLogQLMetric says whether q, a LogQL query, is a metric query; a
// query that does not parse is taken as a log query (the API says what
// is wrong with it).
func isLogQLMetric(q string) bool {
	e, err := logql.Parse(q)
	if err != nil {
		return false
	}
	_, log := e.(*logql.LogExpr)
	return !log
}
