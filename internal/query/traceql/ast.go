// Package traceql is Horus' TraceQL: its own lexer and parser (fuzzed),
// the syntax tree, and an evaluator that runs a query on one trace at a
// time, as Tempo defines the language: spanset filters on intrinsics and
// scoped attributes, spanset and structural operators, and pipelines with
// aggregates, by(), select() and coalesce(). Search finds the traces a
// query selects in the event store.
package traceql

import (
	"strconv"
	"strings"

	"github.com/grafana/regexp"
)

// Op is an operator of field or spanset expressions.
type Op uint8

// The operators.
const (
	OpNone Op = iota
	OpAnd
	OpOr
	OpNot
	OpEq
	OpNeq
	OpLt
	OpLte
	OpGt
	OpGte
	OpRe
	OpNRe
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpMod
	OpPow
	OpNeg
	// Spanset operators.
	OpChild
	OpParent
	OpDesc
	OpAnc
	OpSibling
	OpNotChild
	OpNotParent
	OpNotDesc
	OpNotAnc
	OpNotSibling
	OpUnionChild
	OpUnionParent
	OpUnionDesc
	OpUnionAnc
	OpUnionSibling
)

var opStrings = [...]string{
	OpAnd: "&&", OpOr: "||", OpNot: "!", OpEq: "=", OpNeq: "!=", OpLt: "<", OpLte: "<=", OpGt: ">", OpGte: ">=",
	OpRe: "=~", OpNRe: "!~", OpAdd: "+", OpSub: "-", OpMul: "*", OpDiv: "/", OpMod: "%", OpPow: "^", OpNeg: "-",
	OpChild: ">", OpParent: "<", OpDesc: ">>", OpAnc: "<<", OpSibling: "~",
	OpNotChild: "!>", OpNotParent: "!<", OpNotDesc: "!>>", OpNotAnc: "!<<", OpNotSibling: "!~",
	OpUnionChild: "&>", OpUnionParent: "&<", OpUnionDesc: "&>>", OpUnionAnc: "&<<", OpUnionSibling: "&~",
}

func (o Op) String() string { return opStrings[o] }

func (o Op) comparison() bool { return o >= OpEq && o <= OpNRe }

// Expr is a field expression: evaluated on one span, it gives a Value.
type Expr interface {
	String() string
}

// Binary is L Op R.
type Binary struct {
	Op   Op
	L, R Expr
	re   *regexp.Regexp // =~ and !~, anchored
}

// Unary is Op X (! or -).
type Unary struct {
	Op Op
	X  Expr
}

// Static is a literal.
type Static struct{ V Value }

// Attribute is a span, resource, event, link or unscoped attribute, or an
// intrinsic field.
type Attribute struct {
	Scope     string // "", span, resource, event, link, instrumentation, parent
	Name      string
	Intrinsic Intrinsic // set for intrinsics; Scope and Name then only name it
}

func (b *Binary) String() string {
	return "(" + b.L.String() + " " + b.Op.String() + " " + b.R.String() + ")"
}

func (u *Unary) String() string { return u.Op.String() + u.X.String() }

func (s *Static) String() string { return s.V.source() }

func (a *Attribute) String() string {
	if a.Intrinsic != 0 {
		return a.Intrinsic.String()
	}
	name := a.Name
	if name == "" || name[0] >= '0' && name[0] <= '9' || strings.ContainsFunc(name, func(r rune) bool { return !isAttrRune(r) || r == '"' }) {
		name = quoteAttr(name)
	}
	if a.Scope == "" {
		return "." + name
	}
	return a.Scope + "." + name
}

// Intrinsic is a built-in field of spans and traces.
type Intrinsic uint8

// The intrinsics.
const (
	INone Intrinsic = iota
	IName
	IStatus
	IStatusMessage
	IDuration
	IKind
	ISpanID
	IParentID
	IRootName
	IRootService
	ITraceDuration
	ITraceID
	IEventName
	ILinkTraceID
	ILinkSpanID
	IScopeName
	IScopeVersion
	INestedSetParent
	INestedSetLeft
	INestedSetRight
	IChildCount
	IEventTimeSinceStart
)

var intrinsicNames = [...]string{
	IName: "name", IStatus: "status", IStatusMessage: "statusMessage", IDuration: "duration", IKind: "kind",
	ISpanID: "span:id", IParentID: "span:parentID", IRootName: "rootName", IRootService: "rootServiceName",
	ITraceDuration: "traceDuration", ITraceID: "trace:id", IEventName: "event:name", ILinkTraceID: "link:traceID",
	ILinkSpanID: "link:spanID", IScopeName: "instrumentation:name", IScopeVersion: "instrumentation:version",
	INestedSetParent: "nestedSetParent", INestedSetLeft: "nestedSetLeft", INestedSetRight: "nestedSetRight",
	IChildCount: "span:childCount", IEventTimeSinceStart: "event:timeSinceStart",
}

func (i Intrinsic) String() string { return intrinsicNames[i] }

// unscopedIntrinsics are written bare.
var unscopedIntrinsics = map[string]Intrinsic{
	"name": IName, "status": IStatus, "statusMessage": IStatusMessage, "duration": IDuration, "kind": IKind,
	"rootName": IRootName, "rootServiceName": IRootService, "traceDuration": ITraceDuration,
	"nestedSetParent": INestedSetParent, "nestedSetLeft": INestedSetLeft, "nestedSetRight": INestedSetRight,
}

// scopedIntrinsics are written scope:name.
var scopedIntrinsics = map[string]Intrinsic{
	"span:name": IName, "span:status": IStatus, "span:statusMessage": IStatusMessage, "span:duration": IDuration,
	"span:kind": IKind, "span:id": ISpanID, "span:parentID": IParentID,
	"trace:rootName": IRootName, "trace:rootService": IRootService, "trace:duration": ITraceDuration, "trace:id": ITraceID,
	"span:childCount": IChildCount, "event:name": IEventName, "event:timeSinceStart": IEventTimeSinceStart,
	"link:traceID": ILinkTraceID, "link:spanID": ILinkSpanID,
	"instrumentation:name": IScopeName, "instrumentation:version": IScopeVersion,
}

// SetExpr is a spanset expression: evaluated on a trace, it gives spansets.
type SetExpr interface {
	String() string
	setExpr()
}

// Filter is { Cond }: the spans of a trace for which Cond is true.
type Filter struct {
	Cond Expr // nil: every span
}

// SetOp combines two spanset expressions.
type SetOp struct {
	Op   Op
	L, R SetExpr
}

// Pipeline is a spanset expression followed by stages.
type Pipeline struct {
	Source SetExpr
	Stages []Stage
}

func (*Filter) setExpr()   {}
func (*SetOp) setExpr()    {}
func (*Pipeline) setExpr() {}

func (f *Filter) String() string {
	if f.Cond == nil {
		return "{ }"
	}
	return "{ " + f.Cond.String() + " }"
}

func (s *SetOp) String() string {
	return "(" + s.L.String() + " " + s.Op.String() + " " + s.R.String() + ")"
}

// quoteAttr quotes an attribute name the way the lexer reads it back:
// only backslash and double quote are escaped.
func quoteAttr(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func (p *Pipeline) String() string {
	var b strings.Builder
	b.WriteString("(" + p.Source.String())
	for _, s := range p.Stages {
		b.WriteString(" | " + s.String())
	}
	b.WriteString(")")
	return b.String()
}

// Stage is a pipeline stage.
type Stage interface{ String() string }

// Aggregate is count(), avg(x), min(x), max(x) or sum(x).
type Aggregate struct {
	Func  string
	Field Expr // nil for count
}

func (a *Aggregate) String() string {
	if a.Field == nil {
		return a.Func + "()"
	}
	return a.Func + "(" + a.Field.String() + ")"
}

// AggFilter keeps the spansets whose aggregate compares true: count() > 2.
type AggFilter struct {
	Agg   Aggregate
	Op    Op
	Value Value
}

func (a *AggFilter) String() string {
	return a.Agg.String() + " " + a.Op.String() + " " + a.Value.source()
}

// FilterStage filters the spans of each spanset: | { cond }.
type FilterStage struct{ Filter }

// By splits each spanset by the values of fields.
type By struct{ Fields []Expr }

// Select adds fields to the spans returned.
type Select struct{ Fields []Expr }

// Coalesce merges the spansets of a trace into one.
type Coalesce struct{}

func exprList(es []Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

func (b *By) String() string     { return "by(" + exprList(b.Fields) + ")" }
func (s *Select) String() string { return "select(" + exprList(s.Fields) + ")" }
func (*Coalesce) String() string { return "coalesce()" }

// MetricsFunc is the final stage of a metrics query: rate(),
// count_over_time(), quantile_over_time(duration, .5, .99),
// histogram_over_time(duration), min/max/avg/sum_over_time(field), with
// an optional by(...).
type MetricsFunc struct {
	Func      string
	Field     Expr
	Quantiles []float64
	By        []Expr
}

func (m *MetricsFunc) String() string {
	var args []string
	if m.Field != nil {
		args = append(args, m.Field.String())
	}
	for _, q := range m.Quantiles {
		args = append(args, strconv.FormatFloat(q, 'g', -1, 64))
	}
	s := m.Func + "(" + strings.Join(args, ", ") + ")"
	if len(m.By) > 0 {
		s += " by (" + exprList(m.By) + ")"
	}
	return s
}

// Query is a parsed TraceQL query.
type Query struct {
	Root    SetExpr
	Metrics *MetricsFunc // set for a metrics query
}

func (q *Query) String() string {
	if q.Metrics != nil {
		return q.Root.String() + " | " + q.Metrics.String()
	}
	return q.Root.String()
}
