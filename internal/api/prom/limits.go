package prom

import (
	"fmt"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/features"
)

// The default PromQL limits. The length matches LogQL's and TraceQL's
// (logql.MaxQueryLength, traceql.MaxQueryLength); VictoriaMetrics refuses
// past 16 KiB by default, Mimir and Thanos set no limit. The depth matches
// LogQL's and TraceQL's nesting limits; in PromQL a chain of n binary
// operators (a or b or ...) is n levels deep. Prometheus' parser, its AST
// printers and the JSON encoding of /api/v1/parse_query all take time or
// memory that grows with the square of the depth or worse (a 10,000-term
// 1 + 1 + ... used gigabytes to encode), so the depth is what keeps them
// small; the node count bounds the rest of the work on one query.
const (
	// MaxQueryLength is the default bound on a query's text, in bytes
	// (64 KiB).
	MaxQueryLength = 64 << 10
	// MaxQueryDepth is the default bound on the levels of a query's syntax
	// tree: the root is level 1, and each operator, function call,
	// aggregation, parenthesis, range or subquery adds one around its
	// operands.
	MaxQueryDepth = 200
	// MaxQueryNodes is the default bound on the nodes of a query's syntax
	// tree: selectors, literals, operators, function calls, aggregations,
	// parentheses, ranges, subqueries and duration expressions.
	MaxQueryNodes = 10_000
)

// Limits bound the PromQL that the API and the engine accept. A zero field
// takes its default (MaxQueryLength, MaxQueryDepth, MaxQueryNodes).
type Limits struct {
	// MaxLength bounds a query's text in bytes; for the match[] selectors
	// of /series, /labels and /label/<name>/values it bounds all of a
	// request's selectors together.
	MaxLength int
	// MaxDepth bounds the levels of a query's syntax tree.
	MaxDepth int
	// MaxNodes bounds the nodes of a query's syntax tree.
	MaxNodes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxLength <= 0 {
		l.MaxLength = MaxQueryLength
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = MaxQueryDepth
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = MaxQueryNodes
	}
	return l
}

// LimitError is a query refused by Limits. Its message names the limit;
// Prometheus' API answers it as 400 bad_data.
type LimitError struct {
	// Limit is "length", "depth" or "nodes".
	Limit string
	// Max is the limit's value, in bytes, levels or nodes.
	Max int
	// Value is the query's length in bytes for "length"; 0 for "depth" and
	// "nodes", which stop counting at the limit.
	Value int
	// What names the text: "query" or "match[] selectors".
	What string
}

// Error says which limit the query passed and the limit's value, in the
// words of LogQL's and TraceQL's errors ("query is N bytes, more than the
// limit of M", "query nests deeper than M levels", "query has more than M
// nodes").
func (e *LimitError) Error() string {
	switch e.Limit {
	case "length":
		if e.What == "query" {
			return fmt.Sprintf("query is %d bytes, more than the limit of %d", e.Value, e.Max)
		}
		return fmt.Sprintf("%s are %d bytes together, more than the limit of %d", e.What, e.Value, e.Max)
	case "depth":
		return fmt.Sprintf("%s nests deeper than %d levels", e.What, e.Max)
	default:
		return fmt.Sprintf("%s has more than %d nodes", e.What, e.Max)
	}
}

// NewParser returns Prometheus' PromQL parser (default options) with l
// enforced on every query and selector it parses: the text's length first,
// then, before parsing, a lower bound of the syntax tree's depth read from
// the tokens (Prometheus' parser takes time that grows with the square of
// the depth, so a deep query must be refused before it is parsed), and
// after parsing the tree's exact depth and node count. Errors are
// *LimitError. The API and the engine both parse with it.
func NewParser(l Limits) parser.Parser {
	return &limitedParser{p: parser.NewParser(parser.Options{}), l: l.withDefaults()}
}

type limitedParser struct {
	p parser.Parser
	l Limits
}

func (lp *limitedParser) ParseExpr(input string) (parser.Expr, error) {
	if err := lp.l.CheckText(input); err != nil {
		return nil, err
	}
	e, err := lp.p.ParseExpr(input)
	if err != nil {
		return e, err
	}
	if err := lp.l.CheckTree(e); err != nil {
		return nil, err
	}
	return e, nil
}

func (lp *limitedParser) ParseMetric(input string) (labels.Labels, error) {
	if err := lp.l.checkLength(len(input), "query"); err != nil {
		return labels.EmptyLabels(), err
	}
	return lp.p.ParseMetric(input)
}

func (lp *limitedParser) ParseMetricSelector(input string) ([]*labels.Matcher, error) {
	if err := lp.l.checkLength(len(input), "query"); err != nil {
		return nil, err
	}
	return lp.p.ParseMetricSelector(input)
}

func (lp *limitedParser) ParseMetricSelectors(matchers []string) ([][]*labels.Matcher, error) {
	n := 0
	for _, m := range matchers {
		n += len(m)
	}
	if err := lp.l.checkLength(n, "match[] selectors"); err != nil {
		return nil, err
	}
	return lp.p.ParseMetricSelectors(matchers)
}

func (lp *limitedParser) ParseSeriesDesc(input string) (labels.Labels, []parser.SequenceValue, error) {
	if err := lp.l.checkLength(len(input), "query"); err != nil {
		return labels.EmptyLabels(), nil, err
	}
	return lp.p.ParseSeriesDesc(input)
}

func (lp *limitedParser) RegisterFeatures(r features.Collector) { lp.p.RegisterFeatures(r) }

func (l Limits) checkLength(n int, what string) error {
	if n > l.withDefaults().MaxLength {
		return &LimitError{Limit: "length", Max: l.withDefaults().MaxLength, Value: n, What: what}
	}
	return nil
}

// CheckText refuses, before it is parsed, a query longer than MaxLength or
// whose syntax tree would be deeper than MaxDepth. It reads the query once
// with Prometheus' lexer, in time linear in its length; the depth it
// computes is never more than the parsed tree's (see estimateDepth), so it
// refuses no query that CheckTree would accept. Errors are *LimitError.
func (l Limits) CheckText(q string) error {
	l = l.withDefaults()
	if err := l.checkLength(len(q), "query"); err != nil {
		return err
	}
	if estimateDepth(q, l.MaxDepth) > l.MaxDepth {
		return &LimitError{Limit: "depth", Max: l.MaxDepth, What: "query"}
	}
	return nil
}

// CheckTree refuses a parsed query deeper than MaxDepth levels or with
// more than MaxNodes nodes, counting duration expressions (the ranges,
// steps and offsets of Prometheus 3) as nodes too. It stops at the first
// limit passed, so it takes time linear in the smaller of the tree and the
// limits. Errors are *LimitError.
func (l Limits) CheckTree(e parser.Node) error {
	l = l.withDefaults()
	nodes := 0
	var walk func(n parser.Node, depth int) error
	walk = func(n parser.Node, depth int) error {
		if depth > l.MaxDepth {
			return &LimitError{Limit: "depth", Max: l.MaxDepth, What: "query"}
		}
		if nodes++; nodes > l.MaxNodes {
			return &LimitError{Limit: "nodes", Max: l.MaxNodes, What: "query"}
		}
		for _, c := range children(n, true) {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if e == nil {
		return nil
	}
	return walk(e, 1)
}

// children lists n's operands; with durations, also the duration
// expressions of ranges, steps and offsets, which parser.Children leaves
// out (and panics on).
func children(n parser.Node, durations bool) []parser.Node {
	var out []parser.Node
	add := func(c parser.Node) {
		out = append(out, c)
	}
	addDur := func(d *parser.DurationExpr) {
		if d != nil && durations {
			out = append(out, d)
		}
	}
	switch n := n.(type) {
	case *parser.AggregateExpr:
		if n.Expr != nil {
			add(n.Expr)
		}
		if n.Param != nil {
			add(n.Param)
		}
	case *parser.BinaryExpr:
		add(n.LHS)
		add(n.RHS)
	case *parser.Call:
		for _, a := range n.Args {
			add(a)
		}
	case *parser.SubqueryExpr:
		add(n.Expr)
		addDur(n.RangeExpr)
		addDur(n.StepExpr)
		addDur(n.OriginalOffsetExpr)
	case *parser.ParenExpr:
		add(n.Expr)
	case *parser.UnaryExpr:
		add(n.Expr)
	case *parser.MatrixSelector:
		add(n.VectorSelector)
		addDur(n.RangeExpr)
	case *parser.VectorSelector:
		addDur(n.OriginalOffsetExpr)
	case *parser.StepInvariantExpr:
		add(n.Expr)
	case *parser.DurationExpr:
		if n.LHS != nil {
			add(n.LHS)
		}
		if n.RHS != nil {
			add(n.RHS)
		}
	case parser.Expressions:
		for _, a := range n {
			add(a)
		}
	case *parser.EvalStmt:
		add(n.Expr)
	}
	return out
}

// MaxFormatWork bounds, in bytes, the text that Prometheus' pretty printer
// may build for one /api/v1/format_query request (64 MiB). The printer
// prints each node's subtree again at every level above it to decide
// where to break lines, so its work grows with the square of the depth
// times the length: within the other limits a 64 KiB chain 199 levels
// deep had it build 535 MB in 3.3 s. Queries of a few KiB never come near
// the bound.
const MaxFormatWork = 64 << 20

// formatWork estimates the bytes Prometheus' pretty printer builds for e:
// each node's own text, copied once into its own string and once into the
// string of each node above it, for each of those levels, so about
// depth²/2 times.
func formatWork(e parser.Node) int64 {
	var total int64
	var walk func(n parser.Node, depth int64)
	walk = func(n parser.Node, depth int64) {
		own := int64(8) // an operator, parentheses, a modifier
		switch n := n.(type) {
		case *parser.VectorSelector, *parser.NumberLiteral, *parser.StringLiteral:
			pr := n.PositionRange()
			own = int64(pr.End - pr.Start)
		case *parser.Call:
			own = int64(len(n.Func.Name)) + 2
		}
		total += own * depth * (depth + 1) / 2
		for _, c := range children(n, true) {
			walk(c, depth+1)
		}
	}
	if e != nil {
		walk(e, 1)
	}
	return total
}
