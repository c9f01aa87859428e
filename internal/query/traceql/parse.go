package traceql

import (
	"fmt"
	"strings"

	"github.com/grafana/regexp"
)

// MaxQueryLength bounds the text of a query: Tempo's default
// max_query_expression_size_bytes (query_frontend).
const MaxQueryLength = 128 << 10

// maxDepth bounds nesting, so that hostile queries cannot exhaust the stack.
const maxDepth = 200

// Parse parses a TraceQL query.
func Parse(q string) (*Query, error) {
	if len(q) > MaxQueryLength {
		return nil, &ParseError{0, fmt.Sprintf("TraceQL expression exceeds the configured maximum size of %d bytes, reduce the query expression size (it is %d bytes)", MaxQueryLength, len(q))}
	}
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, metrics, err := p.pipeline(true)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "end of query")
	}
	return &Query{Root: root, Metrics: metrics}, nil
}

// ParseExpr parses a field expression alone (a tag name for tag values:
// span.http.method, .foo, name, status).
func ParseExpr(s string) (Expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "end of expression")
	}
	return e, nil
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) accept(k tokKind) bool {
	if p.toks[p.i].kind == k {
		p.i++
		return true
	}
	return false
}

func (p *parser) expect(k tokKind) (token, error) {
	t := p.next()
	if t.kind != k {
		return t, p.unexpected(t, k.String())
	}
	return t, nil
}

func (p *parser) unexpected(t token, want string) error {
	got := t.kind.String()
	if t.text != "" && t.kind != tEOF {
		got = fmt.Sprintf("%q", t.text)
	}
	return &ParseError{t.pos, fmt.Sprintf("unexpected %s, expected %s", got, want)}
}

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > maxDepth {
		return &ParseError{t.pos, fmt.Sprintf("query nests deeper than %d levels", maxDepth)}
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

var metricsFuncs = map[string]bool{
	"rate": true, "count_over_time": true, "min_over_time": true, "max_over_time": true, "avg_over_time": true,
	"sum_over_time": true, "quantile_over_time": true, "histogram_over_time": true,
}

var aggregates = map[string]bool{"count": true, "avg": true, "min": true, "max": true, "sum": true}

// pipeline parses a spanset expression and its stages; a metrics function
// may end it only at the top.
func (p *parser) pipeline(top bool) (SetExpr, *MetricsFunc, error) {
	src, err := p.setOr()
	if err != nil {
		return nil, nil, err
	}
	var stages []Stage
	for p.accept(tPipe) {
		t := p.peek()
		if t.kind == tIdent && metricsFuncs[t.text] {
			if !top {
				return nil, nil, &ParseError{t.pos, fmt.Sprintf("metrics function %s() must end the query", t.text)}
			}
			m, err := p.metricsFunc()
			if err != nil {
				return nil, nil, err
			}
			if t := p.peek(); t.kind != tEOF {
				return nil, nil, p.unexpected(t, "end of query after "+m.Func+"()")
			}
			return wrap(src, stages), m, nil
		}
		s, err := p.stage()
		if err != nil {
			return nil, nil, err
		}
		stages = append(stages, s)
	}
	return wrap(src, stages), nil, nil
}

func wrap(src SetExpr, stages []Stage) SetExpr {
	if len(stages) == 0 {
		return src
	}
	return &Pipeline{Source: src, Stages: stages}
}

func (p *parser) setOr() (SetExpr, error) {
	l, err := p.setAnd()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		p.next()
		r, err := p.setAnd()
		if err != nil {
			return nil, err
		}
		l = &SetOp{Op: OpOr, L: l, R: r}
	}
	return l, nil
}

func (p *parser) setAnd() (SetExpr, error) {
	l, err := p.setStruct()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tAnd {
		p.next()
		r, err := p.setStruct()
		if err != nil {
			return nil, err
		}
		l = &SetOp{Op: OpAnd, L: l, R: r}
	}
	return l, nil
}

var structuralOps = map[tokKind]Op{
	tGt: OpChild, tLt: OpParent, tDesc: OpDesc, tAnc: OpAnc, tSibl: OpSibling,
	tNotChild: OpNotChild, tNotParent: OpNotParent, tNotDesc: OpNotDesc, tNotAnc: OpNotAnc, tNRe: OpNotSibling,
	tUnionChild: OpUnionChild, tUnionParent: OpUnionParent, tUnionDesc: OpUnionDesc, tUnionAnc: OpUnionAnc, tUnionSibl: OpUnionSibling,
}

func (p *parser) setStruct() (SetExpr, error) {
	l, err := p.setPrimary()
	if err != nil {
		return nil, err
	}
	for {
		op, ok := structuralOps[p.peek().kind]
		if !ok {
			return l, nil
		}
		p.next()
		r, err := p.setPrimary()
		if err != nil {
			return nil, err
		}
		l = &SetOp{Op: op, L: l, R: r}
	}
}

func (p *parser) setPrimary() (SetExpr, error) {
	t := p.next()
	if err := p.enter(t); err != nil {
		return nil, err
	}
	defer p.leave()
	switch t.kind {
	case tLBrace:
		return p.filterBody(t)
	case tLParen:
		inner, _, err := p.pipeline(false)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return inner, nil
	}
	return nil, p.unexpected(t, "a spanset filter { ... } or (")
}

// filterBody parses the inside of { } after the brace.
func (p *parser) filterBody(open token) (*Filter, error) {
	if p.accept(tRBrace) {
		return &Filter{}, nil
	}
	cond, err := p.expr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tRBrace); err != nil {
		return nil, err
	}
	if err := checkCondition(cond, open.pos); err != nil {
		return nil, err
	}
	return &Filter{Cond: cond}, nil
}

// checkCondition refuses filters that cannot be true or false: { 1 + 2 }
// (Tempo: "span filter field expressions must resolve to a boolean").
func checkCondition(e Expr, pos int) error {
	if t := impliedType(e); t == TBool || t == tAny {
		return nil
	}
	return &ParseError{pos, fmt.Sprintf("spanset filter %s is not a condition (want a comparison, &&, || or !)", e)}
}

// impliedType is the type of an expression known before evaluation, as
// Tempo infers it (pkg/traceql/ast.go, impliedType): a literal's, an
// intrinsic's, bool for comparisons and && || !, an arithmetic
// operation's left operand's (its right one's when the left is an
// attribute); tAny for an attribute, whose type is known per span only.
func impliedType(e Expr) Type {
	switch x := e.(type) {
	case *Static:
		return x.V.T
	case *Attribute:
		return intrinsicTypes[x.Intrinsic]
	case *Unary:
		if x.Op == OpNot {
			return TBool
		}
		return impliedType(x.X)
	case *Binary:
		if x.Op.comparison() || x.Op == OpAnd || x.Op == OpOr {
			return TBool
		}
		if t := impliedType(x.L); t != tAny {
			return t
		}
		return impliedType(x.R)
	}
	return tAny
}

// intrinsicTypes are the intrinsics' types, as Tempo's documentation
// lists them ("Intrinsic fields"); an attribute (INone) is tAny.
var intrinsicTypes = [...]Type{
	INone: tAny, IName: TStr, IStatus: TStatus, IStatusMessage: TStr, IDuration: TDuration, IKind: TKind,
	ISpanID: TStr, IParentID: TStr, IRootName: TStr, IRootService: TStr, ITraceDuration: TDuration,
	ITraceID: TStr, IEventName: TStr, ILinkTraceID: TStr, ILinkSpanID: TStr, IScopeName: TStr,
	IScopeVersion: TStr, INestedSetParent: TInt, INestedSetLeft: TInt, INestedSetRight: TInt,
	IChildCount: TInt, IEventTimeSinceStart: TDuration,
}

// sameKind reports whether values of these types may meet in one
// operation, by Tempo's rule (enum_statics.go, isMatchingOperand): the
// same type, two numbers (ints, floats, durations), nil with anything,
// or an attribute.
func sameKind(a, b Type) bool {
	return a == b || a == tAny || b == tAny || a == TNil || b == TNil || a.number() && b.number()
}

// typeCheck refuses an operation on operands whose types Tempo refuses
// before evaluating anything (ast_validate.go), with Tempo's words:
// status = 2, duration = "1s", name > 3, true > false, .a + "x".
func typeCheck(b *Binary, pos int) error {
	lt, rt := impliedType(b.L), impliedType(b.R)
	if !sameKind(lt, rt) {
		return &ParseError{pos, fmt.Sprintf("binary operations must operate on the same type: %s (%s %s %s)", b, lt, b.Op, rt)}
	}
	if !typeHas(b.Op, lt) || !typeHas(b.Op, rt) {
		return &ParseError{pos, fmt.Sprintf("illegal operation for the given types: %s (%s has no %s)", b, pick(typeHas(b.Op, lt), rt, lt), b.Op)}
	}
	if b.Op == OpEq && (isNilLiteral(b.L) || isNilLiteral(b.R)) {
		other := b.L
		if isNilLiteral(b.L) {
			other = b.R
		}
		if a, ok := other.(*Attribute); ok && (a.Intrinsic != INone || a.Scope == "resource" && a.Name == "service.name") {
			what := "intrinsics cannot be nil"
			if a.Intrinsic == INone {
				what = "resource.service.name cannot be nil"
			}
			return &ParseError{pos, fmt.Sprintf("%s = nil is not valid because %s", a, what)}
		}
	}
	return nil
}

func pick[T any](first bool, a, b T) T {
	if first {
		return a
	}
	return b
}

func (p *parser) stage() (Stage, error) {
	t := p.next()
	switch {
	case t.kind == tLBrace:
		f, err := p.filterBody(t)
		if err != nil {
			return nil, err
		}
		return &FilterStage{*f}, nil
	case t.kind == tIdent && aggregates[t.text]:
		agg, err := p.aggregate(t)
		if err != nil {
			return nil, err
		}
		opTok := p.next()
		op, ok := comparisonOps[opTok.kind]
		if !ok || op == OpRe || op == OpNRe {
			return nil, p.unexpected(opTok, "a comparison after "+agg.String())
		}
		v, err := p.staticValue()
		if err != nil {
			return nil, err
		}
		return &AggFilter{Agg: *agg, Op: op, Value: v}, nil
	case t.kind == tIdent && (t.text == "by" || t.text == "select"):
		fields, err := p.fieldList()
		if err != nil {
			return nil, err
		}
		if len(fields) == 0 {
			return nil, &ParseError{t.pos, t.text + "() needs at least one field"}
		}
		if t.text == "by" {
			return &By{Fields: fields}, nil
		}
		return &Select{Fields: fields}, nil
	case t.kind == tIdent && t.text == "coalesce":
		if _, err := p.expect(tLParen); err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return &Coalesce{}, nil
	}
	return nil, p.unexpected(t, "a pipeline stage ({ ... }, count(), avg(), min(), max(), sum(), by(), select(), coalesce() or a metrics function)")
}

func (p *parser) aggregate(fn token) (*Aggregate, error) {
	if _, err := p.expect(tLParen); err != nil {
		return nil, err
	}
	a := &Aggregate{Func: fn.text}
	if fn.text == "count" {
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return a, nil
	}
	f, err := p.expr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen); err != nil {
		return nil, err
	}
	if t := impliedType(f); t != tAny && !t.number() {
		return nil, &ParseError{fn.pos, fmt.Sprintf("aggregate field expressions must resolve to a number type: %s(%s) reads a %s", fn.text, f, t)}
	}
	a.Field = f
	return a, nil
}

// staticValue reads a literal, with an optional minus sign.
func (p *parser) staticValue() (Value, error) {
	neg := p.accept(tSub)
	t := p.next()
	var v Value
	switch t.kind {
	case tInt:
		v = IntV(t.i)
	case tFloat:
		v = FloatV(t.f)
	case tDuration:
		v = DurationV(t.i)
	default:
		return v, p.unexpected(t, "a number or duration")
	}
	if neg {
		v.I, v.F = -v.I, -v.F
	}
	return v, nil
}

// fieldList parses ( expr, expr ... ).
func (p *parser) fieldList() ([]Expr, error) {
	if _, err := p.expect(tLParen); err != nil {
		return nil, err
	}
	var out []Expr
	if p.accept(tRParen) {
		return out, nil
	}
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if p.accept(tRParen) {
			return out, nil
		}
		if _, err := p.expect(tComma); err != nil {
			return nil, err
		}
	}
}

func (p *parser) metricsFunc() (*MetricsFunc, error) {
	fn := p.next()
	m := &MetricsFunc{Func: fn.text}
	args, err := p.fieldList()
	if err != nil {
		return nil, err
	}
	switch fn.text {
	case "rate", "count_over_time":
		if len(args) != 0 {
			return nil, &ParseError{fn.pos, fn.text + "() takes no arguments"}
		}
	case "quantile_over_time":
		if len(args) < 2 {
			return nil, &ParseError{fn.pos, "quantile_over_time() needs a field and at least one quantile: quantile_over_time(duration, .5, .99)"}
		}
		m.Field = args[0]
		for _, a := range args[1:] {
			s, ok := a.(*Static)
			if !ok || !s.V.T.numeric() || s.V.float() < 0 || s.V.float() > 1 {
				return nil, &ParseError{fn.pos, fmt.Sprintf("quantile_over_time(): quantile %s is not a number between 0 and 1", a)}
			}
			m.Quantiles = append(m.Quantiles, s.V.float())
		}
	default:
		if len(args) != 1 {
			return nil, &ParseError{fn.pos, fn.text + "() takes one field: " + fn.text + "(duration)"}
		}
		m.Field = args[0]
	}
	if t := p.peek(); t.kind == tIdent && t.text == "by" {
		p.next()
		by, err := p.fieldList()
		if err != nil {
			return nil, err
		}
		m.By = by
	}
	return m, nil
}

// Field expressions, by increasing precedence: ||, &&, comparisons,
// + -, * / %, ^ (right-associative), unary ! and -.

func (p *parser) expr() (Expr, error) {
	t := p.peek()
	if err := p.enter(t); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.or()
}

func (p *parser) or() (Expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); p.accept(tOr); t = p.peek() {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		if l, err = binary(OpOr, l, r, t.pos); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (p *parser) and() (Expr, error) {
	l, err := p.comparison()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); p.accept(tAnd); t = p.peek() {
		r, err := p.comparison()
		if err != nil {
			return nil, err
		}
		if l, err = binary(OpAnd, l, r, t.pos); err != nil {
			return nil, err
		}
	}
	return l, nil
}

var comparisonOps = map[tokKind]Op{tEq: OpEq, tNeq: OpNeq, tLt: OpLt, tLte: OpLte, tGt: OpGt, tGte: OpGte, tRe: OpRe, tNRe: OpNRe}

func (p *parser) comparison() (Expr, error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		op, ok := comparisonOps[t.kind]
		if !ok {
			return l, nil
		}
		p.next()
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		b := &Binary{Op: op, L: l, R: r}
		if op == OpRe || op == OpNRe {
			s, ok := r.(*Static)
			if !ok || s.V.T != TStr {
				return nil, &ParseError{t.pos, fmt.Sprintf("%s needs a string regular expression on its right, got %s", op, r)}
			}
			re, err := regexp.Compile("^(?s:" + s.V.S + ")$")
			if err != nil {
				return nil, &ParseError{t.pos, fmt.Sprintf("bad regular expression %q: %v", s.V.S, err)}
			}
			b.re = re
		}
		if err := typeCheck(b, t.pos); err != nil {
			return nil, err
		}
		normalizeID(b)
		l = b
	}
}

// idDigits are the hex digits of the id intrinsics.
var idDigits = map[Intrinsic]int{ITraceID: 32, ILinkTraceID: 32, ISpanID: 16, IParentID: 16, ILinkSpanID: 16}

// normalizeID makes the literal of an id comparison (trace:id = "...",
// span:id != "...", link:traceID ...) the id's text as the evaluator
// renders it, lowercase hex: a trace id without leading zeros, a span
// id left-padded to 16 digits, as Tempo renders them (pkg/util/traceid.go,
// TraceIDToHexString, SpanIDToHexString) and compares them as bytes after
// reading the literal as hex with its leading zeros optional
// (tempodb/encoding/vparquet4/block_traceql.go, createBytesPredicate;
// HexStringToTraceID). So an id printed without its leading zeros, as
// search results print trace ids, finds its trace, and so does the full
// id. A literal that is not hex, or too long, is left as written.
func normalizeID(b *Binary) {
	if b.Op != OpEq && b.Op != OpNeq {
		return
	}
	a, ok := b.L.(*Attribute)
	s, sok := b.R.(*Static)
	if !ok || !sok {
		a, ok = b.R.(*Attribute)
		s, sok = b.L.(*Static)
	}
	n := 0
	if ok {
		n = idDigits[a.Intrinsic]
	}
	if n == 0 || !sok || s.V.T != TStr || s.V.S == "" {
		return
	}
	id := strings.ToLower(strings.TrimLeft(s.V.S, "0"))
	if len(id) > n || strings.ContainsFunc(id, func(r rune) bool { return (r < '0' || r > '9') && (r < 'a' || r > 'f') }) {
		return
	}
	if n == 32 {
		s.V = StrV(id)
		return
	}
	s.V = StrV(strings.Repeat("0", n-len(id)) + id)
}

// binary makes l op r, type-checked.
func binary(op Op, l, r Expr, pos int) (Expr, error) {
	b := &Binary{Op: op, L: l, R: r}
	if err := typeCheck(b, pos); err != nil {
		return nil, err
	}
	return b, nil
}

func (p *parser) additive() (Expr, error) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for {
		var op Op
		t := p.peek()
		switch t.kind {
		case tAdd:
			op = OpAdd
		case tSub:
			op = OpSub
		default:
			return l, nil
		}
		p.next()
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		if l, err = binary(op, l, r, t.pos); err != nil {
			return nil, err
		}
	}
}

func (p *parser) multiplicative() (Expr, error) {
	l, err := p.power()
	if err != nil {
		return nil, err
	}
	for {
		var op Op
		t := p.peek()
		switch t.kind {
		case tMul:
			op = OpMul
		case tDiv:
			op = OpDiv
		case tMod:
			op = OpMod
		default:
			return l, nil
		}
		p.next()
		r, err := p.power()
		if err != nil {
			return nil, err
		}
		if l, err = binary(op, l, r, t.pos); err != nil {
			return nil, err
		}
	}
}

func (p *parser) power() (Expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tPow {
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		r, err := p.power()
		if err != nil {
			return nil, err
		}
		return binary(OpPow, l, r, t.pos)
	}
	return l, nil
}

func (p *parser) unary() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tNot, tSub:
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		op := OpNeg
		if t.kind == tNot {
			op = OpNot
		}
		if xt := impliedType(x); !typeHas(op, xt) {
			return nil, &ParseError{t.pos, fmt.Sprintf("illegal operation for the given type: %s%s (%s has no unary %s)", op, x, xt, op)}
		}
		if t.kind == tNot {
			return &Unary{Op: OpNot, X: x}, nil
		}
		// Fold negative literals.
		if s, ok := x.(*Static); ok && (s.V.T.numeric() || s.V.T == TDuration) {
			v := s.V
			v.I, v.F = -v.I, -v.F
			return &Static{V: v}, nil
		}
		return &Unary{Op: OpNeg, X: x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (Expr, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return e, nil
	case tString:
		return &Static{V: StrV(t.text)}, nil
	case tInt:
		return &Static{V: IntV(t.i)}, nil
	case tFloat:
		return &Static{V: FloatV(t.f)}, nil
	case tDuration:
		return &Static{V: DurationV(t.i)}, nil
	case tIdent:
		if v, ok := keywords[t.text]; ok {
			return &Static{V: v}, nil
		}
		if in, ok := unscopedIntrinsics[t.text]; ok {
			return &Attribute{Name: t.text, Intrinsic: in}, nil
		}
		return nil, &ParseError{t.pos, fmt.Sprintf("unknown identifier %q: attributes start with '.', span., resource., event. or link.", t.text)}
	case tScoped:
		in, ok := scopedIntrinsics[t.text]
		if !ok {
			return nil, &ParseError{t.pos, fmt.Sprintf("unknown intrinsic %q", t.text)}
		}
		return &Attribute{Scope: t.scope, Name: t.name, Intrinsic: in}, nil
	case tAttribute:
		return &Attribute{Scope: t.scope, Name: t.name}, nil
	}
	return nil, p.unexpected(t, "a field, attribute or value")
}
