package logql

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/grafana/regexp"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/store/events"
)

// MaxQueryLength bounds a query's text.
const MaxQueryLength = 64 << 10

// Parse parses a LogQL query.
func Parse(q string) (Expr, error) {
	if len(q) > MaxQueryLength {
		return nil, &ParseError{0, fmt.Sprintf("query is %d bytes, more than the limit of %d", len(q), MaxQueryLength)}
	}
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.parseTop()
	if err != nil {
		return nil, err
	}
	return e, nil
}

// ParseSample parses a metric query.
func ParseSample(q string) (SampleExpr, error) {
	e, err := Parse(q)
	if err != nil {
		return nil, err
	}
	s, ok := e.(SampleExpr)
	if !ok {
		return nil, &ParseError{0, "a metric query is needed here, not a log query"}
	}
	return s, nil
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

func (p *parser) errf(t token, format string, args ...any) error {
	return &ParseError{t.pos, fmt.Sprintf(format, args...)}
}

func (p *parser) expect(k tokKind, what string) (token, error) {
	t := p.next()
	if t.kind != k {
		return t, p.errf(t, "%s expected, got %s", what, t)
	}
	return t, nil
}

func (p *parser) isIdent(name string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == name
}

func (p *parser) parseTop() (Expr, error) {
	var e Expr
	var err error
	parens := 0
	for p.toks[p.i+parens].kind == tLParen {
		parens++
	}
	if p.toks[p.i+parens].kind == tLBrace {
		// A log query, maybe in parentheses (Loki's logExpr).
		p.i += parens
		var l *LogExpr
		l, err = p.parseLogExpr()
		for ; err == nil && parens > 0; parens-- {
			_, err = p.expect(tRParen, ")")
		}
		if err == nil {
			for _, s := range l.Stages {
				if _, ok := s.(*Unwrap); ok {
					return nil, p.errf(p.toks[0], "unwrap is only allowed in a range aggregation: sum_over_time({...} | unwrap <label> [5m])")
				}
			}
		}
		e = l
		if err == nil && p.peek().kind != tEOF {
			t := p.peek()
			if t.kind == tLBrack {
				return nil, p.errf(t, "a range [..] is only allowed inside a range aggregation such as count_over_time(...)")
			}
			return nil, p.errf(t, "unexpected %s after the log query", t)
		}
	} else {
		e, err = p.parseBinary(0)
		if err == nil && p.peek().kind != tEOF {
			return nil, p.errf(p.peek(), "unexpected %s", p.peek())
		}
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Binary operator precedence, lowest first, as in PromQL.
var binPrec = map[string]int{
	"or": 1, "and": 2, "unless": 2,
	"==": 3, "!=": 3, ">": 3, ">=": 3, "<": 3, "<=": 3,
	"+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "^": 6,
}

func (p *parser) binOp() (string, bool) {
	t := p.peek()
	switch t.kind {
	case tEqEq, tNeq, tGt, tGte, tLt, tLte, tAdd, tSub, tMul, tDiv, tMod, tPow:
		return t.text, true
	case tIdent:
		switch t.text {
		case "or", "and", "unless":
			return t.text, true
		}
	}
	return "", false
}

func (p *parser) parseBinary(minPrec int) (SampleExpr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 200 {
		return nil, p.errf(p.peek(), "query nested too deeply")
	}
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		op, ok := p.binOp()
		if !ok || binPrec[op] < minPrec {
			return left, nil
		}
		opTok := p.next()
		b := &BinaryExpr{Op: op, Left: left}
		if p.isIdent("bool") {
			if binPrec[op] != 3 {
				return nil, p.errf(p.peek(), "bool is only allowed after a comparison")
			}
			p.next()
			b.ReturnBool = true
		}
		if p.isIdent("on") || p.isIdent("ignoring") {
			m := &VectorMatching{On: p.next().text == "on"}
			if m.Labels, err = p.parseLabelList(); err != nil {
				return nil, err
			}
			if p.isIdent("group_left") || p.isIdent("group_right") {
				m.Card = p.next().text
				if p.peek().kind == tLParen {
					if m.Include, err = p.parseLabelList(); err != nil {
						return nil, err
					}
				}
			}
			b.Matching = m
		}
		next := binPrec[op] + 1
		if op == "^" { // right-associative
			next = binPrec[op]
		}
		if b.Right, err = p.parseBinary(next); err != nil {
			return nil, err
		}
		if err := checkBinary(b, opTok, p); err != nil {
			return nil, err
		}
		left = b
	}
}

func checkBinary(b *BinaryExpr, t token, p *parser) error {
	_, lLit := b.Left.(*Literal)
	_, rLit := b.Right.(*Literal)
	switch b.Op {
	case "and", "or", "unless":
		if lLit || rLit {
			return p.errf(t, "set operator %s is not allowed between a number and a query", b.Op)
		}
	}
	if binPrec[b.Op] == 3 && lLit && rLit {
		// Loki compares two numbers as with bool: 1 or 0.
		b.ReturnBool = true
	}
	if b.Matching != nil && (lLit || rLit) {
		return p.errf(t, "vector matching (on, ignoring) is only allowed between two queries")
	}
	return nil
}

func (p *parser) parseUnary() (SampleExpr, error) {
	t := p.peek()
	switch t.kind {
	case tSub, tAdd:
		p.next()
		e, err := p.parseBinary(binPrec["^"]) // unary minus binds tighter than * but not ^
		if err != nil {
			return nil, err
		}
		if t.kind == tAdd {
			return e, nil
		}
		if l, ok := e.(*Literal); ok {
			return &Literal{-l.Val}, nil
		}
		return &BinaryExpr{Op: "*", Left: &Literal{-1}, Right: e}, nil
	case tNumber:
		p.next()
		return &Literal{t.num}, nil
	case tLParen:
		p.next()
		e, err := p.parseBinary(0)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return e, nil
	case tLBrace:
		return nil, p.errf(t, "a log query cannot be used here; wrap it in a range aggregation such as count_over_time(%s[1m])", "{...}")
	case tIdent:
		return p.parseCall()
	}
	return nil, p.errf(t, "unexpected %s", t)
}

var rangeOps = []string{"rate", "rate_counter", "count_over_time", "bytes_rate", "bytes_over_time", "sum_over_time",
	"avg_over_time", "min_over_time", "max_over_time", "stddev_over_time", "stdvar_over_time", "quantile_over_time",
	"first_over_time", "last_over_time", "absent_over_time"}

var vectorOps = []string{"sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "approx_topk", "sort", "sort_desc"}

// unwrapOps need an unwrap; the others but rate and absent_over_time
// refuse one (Loki's RangeAggregationExpr.validate, pkg/logql/syntax/
// ast.go, allows an unwrap with these, rate and absent_over_time).
var unwrapOps = []string{"rate_counter", "sum_over_time", "avg_over_time", "min_over_time", "max_over_time",
	"stddev_over_time", "stdvar_over_time", "quantile_over_time", "first_over_time", "last_over_time"}

func (p *parser) parseCall() (SampleExpr, error) {
	t := p.next()
	switch {
	case slices.Contains(rangeOps, t.text):
		return p.parseRangeAgg(t)
	case slices.Contains(vectorOps, t.text):
		return p.parseVectorAgg(t)
	case t.text == "vector":
		if _, err := p.expect(tLParen, "("); err != nil {
			return nil, err
		}
		n, err := p.parseNumber()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return &VectorExpr{n}, nil
	case t.text == "label_replace":
		return p.parseLabelReplace()
	}
	return nil, p.errf(t, "unknown function %q", t.text)
}

func (p *parser) parseNumber() (float64, error) {
	neg := false
	if p.peek().kind == tSub {
		p.next()
		neg = true
	}
	t, err := p.expect(tNumber, "a number")
	if err != nil {
		return 0, err
	}
	if neg {
		return -t.num, nil
	}
	return t.num, nil
}

func (p *parser) parseLabelReplace() (SampleExpr, error) {
	if _, err := p.expect(tLParen, "("); err != nil {
		return nil, err
	}
	inner, err := p.parseBinary(0)
	if err != nil {
		return nil, err
	}
	var args [4]string
	for i := range args {
		if _, err := p.expect(tComma, ","); err != nil {
			return nil, err
		}
		t, err := p.expect(tString, "a string")
		if err != nil {
			return nil, err
		}
		args[i] = t.text
	}
	end, err := p.expect(tRParen, ")")
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile("^(?s:" + args[3] + ")$")
	if err != nil {
		return nil, p.errf(end, "label_replace: bad regular expression %q: %v", args[3], err)
	}
	if !events.IsLabelName(args[0]) {
		return nil, p.errf(end, "label_replace: invalid label name %q", args[0])
	}
	return &LabelReplace{Inner: inner, Dst: args[0], Replacement: args[1], Src: args[2], Re: args[3], re: re}, nil
}

func (p *parser) parseGrouping() (*Grouping, error) {
	if !p.isIdent("by") && !p.isIdent("without") {
		return nil, nil
	}
	g := &Grouping{Without: p.next().text == "without"}
	var err error
	g.Labels, err = p.parseLabelList()
	return g, err
}

func (p *parser) parseLabelList() ([]string, error) {
	if _, err := p.expect(tLParen, "("); err != nil {
		return nil, err
	}
	var ls []string
	for p.peek().kind != tRParen {
		t, err := p.expect(tIdent, "a label name")
		if err != nil {
			return nil, err
		}
		ls = append(ls, t.text)
		if p.peek().kind != tComma {
			break
		}
		p.next()
		if p.peek().kind == tRParen {
			return nil, p.errf(p.peek(), "a label name expected after ,")
		}
	}
	if _, err := p.expect(tRParen, ")"); err != nil {
		return nil, err
	}
	return ls, nil
}

func (p *parser) parseVectorAgg(op token) (SampleExpr, error) {
	a := &VectorAgg{Op: op.text}
	var err error
	if a.Grouping, err = p.parseGrouping(); err != nil {
		return nil, err
	}
	if _, err := p.expect(tLParen, "("); err != nil {
		return nil, err
	}
	if a.Op == "topk" || a.Op == "bottomk" || a.Op == "approx_topk" {
		t, err := p.expect(tNumber, "the k of "+a.Op)
		if err != nil {
			return nil, err
		}
		if t.num < 1 || t.num != float64(int64(t.num)) {
			return nil, p.errf(t, "%s: k must be a positive integer, got %s", a.Op, t.text)
		}
		a.Param = t.num
		if _, err := p.expect(tComma, ","); err != nil {
			return nil, err
		}
	}
	if a.Inner, err = p.parseBinary(0); err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen, ")"); err != nil {
		return nil, err
	}
	if a.Grouping == nil {
		if a.Grouping, err = p.parseGrouping(); err != nil {
			return nil, err
		}
	}
	if (a.Op == "sort" || a.Op == "sort_desc") && a.Grouping != nil {
		return nil, p.errf(op, "%s does not take by or without", a.Op)
	}
	if a.Op == "approx_topk" && a.Grouping != nil {
		return nil, p.errf(op, "grouping not allowed for approx_topk aggregation; group with an inner sum by")
	}
	return a, nil
}

func (p *parser) parseRangeAgg(op token) (SampleExpr, error) {
	r := &RangeAgg{Op: op.text}
	if _, err := p.expect(tLParen, "("); err != nil {
		return nil, err
	}
	if r.Op == "quantile_over_time" {
		n, err := p.parseNumber()
		if err != nil {
			return nil, err
		}
		r.Param = n
		if _, err := p.expect(tComma, ","); err != nil {
			return nil, err
		}
	}
	// {sel} stages [range] or {sel} [range] stages, with unwrap among the
	// stages; a parenthesised log query may stand for {sel} stages.
	paren := false
	if p.peek().kind == tLParen {
		p.next()
		paren = true
	}
	log, err := p.parseLogExpr()
	if err != nil {
		return nil, err
	}
	r.Log = log
	if paren {
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
	}
	if p.peek().kind != tLBrack {
		return nil, p.errf(p.peek(), "a range such as [5m] expected after the log query of %s", r.Op)
	}
	p.next()
	d, err := p.expect(tDuration, "a duration")
	if err != nil {
		return nil, err
	}
	if d.dur <= 0 {
		return nil, p.errf(d, "the range must be positive")
	}
	r.Range = d.dur
	if _, err := p.expect(tRBrack, "]"); err != nil {
		return nil, err
	}
	// Loki's logRangeExpr: the offset comes right after the range, the
	// stages (if none came before it) after both.
	if p.isIdent("offset") {
		p.next()
		d, err := p.expect(tDuration, "a duration")
		if err != nil {
			return nil, err
		}
		r.Offset = d.dur
	}
	if p.peek().kind == tPipe || p.peek().kind == tPipeEq || p.peek().kind == tPipeRe || p.peek().kind == tNeq ||
		p.peek().kind == tNRe || p.peek().kind == tPipeLike || p.peek().kind == tNotLike {
		if len(log.Stages) > 0 {
			return nil, p.errf(p.peek(), "stages both before and after the range")
		}
		if err := p.parseStages(log); err != nil {
			return nil, err
		}
	}
	if p.isIdent("offset") {
		return nil, p.errf(p.peek(), "offset goes right after the range: %s(... [5m] offset 1h | ...)", r.Op)
	}
	// The unwrap, if any, is the last stage.
	if n := len(log.Stages); n > 0 {
		if u, ok := log.Stages[n-1].(*Unwrap); ok {
			r.Unwrap = u
			log.Stages = log.Stages[:n-1]
		}
	}
	for _, s := range log.Stages {
		if _, ok := s.(*Unwrap); ok {
			return nil, p.errf(op, "unwrap must be the last stage of the log query")
		}
	}
	end, err := p.expect(tRParen, ")")
	if err != nil {
		return nil, err
	}
	if r.Grouping, err = p.parseGrouping(); err != nil {
		return nil, err
	}
	needs := slices.Contains(unwrapOps, r.Op)
	switch {
	case needs && r.Unwrap == nil:
		return nil, p.errf(op, "%s needs an unwrapped label: %s({...} | unwrap <label> [5m])", r.Op, r.Op)
	case !needs && r.Op != "rate" && r.Op != "absent_over_time" && r.Unwrap != nil:
		return nil, p.errf(op, "%s does not take an unwrapped label", r.Op)
	case r.Grouping != nil && r.Unwrap == nil:
		return nil, p.errf(end, "by/without after %s is only allowed with unwrap; group with an aggregation: sum by (...) (%s(...))", r.Op, r.Op)
	case r.Grouping != nil && (r.Op == "rate" || r.Op == "rate_counter" || r.Op == "sum_over_time" || r.Op == "absent_over_time"):
		return nil, p.errf(end, "%s does not take by or without; group with an aggregation", r.Op)
	}
	if r.Op == "quantile_over_time" && !(r.Param >= 0 && r.Param <= 1) {
		return nil, p.errf(op, "quantile_over_time: φ must be between 0 and 1, got %v", r.Param)
	}
	return r, nil
}

func (p *parser) parseLogExpr() (*LogExpr, error) {
	ms, err := p.parseSelector()
	if err != nil {
		return nil, err
	}
	e := &LogExpr{Matchers: ms}
	return e, p.parseStages(e)
}

func (p *parser) parseSelector() ([]*labels.Matcher, error) {
	open, err := p.expect(tLBrace, "{")
	if err != nil {
		return nil, err
	}
	var ms []*labels.Matcher
	for p.peek().kind != tRBrace {
		m, err := p.parseMatcher()
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		if p.peek().kind != tComma {
			break
		}
		p.next()
		if p.peek().kind == tRBrace {
			return nil, p.errf(p.peek(), "a matcher expected after ,")
		}
	}
	if _, err := p.expect(tRBrace, "}"); err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, p.errf(open, "a stream selector needs at least one matcher: {service_name=\"api\"}")
	}
	empty := true
	for _, m := range ms {
		if !m.Matches("") {
			empty = false
		}
	}
	if empty {
		return nil, p.errf(open, "a stream selector needs at least one matcher that does not match the empty value")
	}
	return ms, nil
}

func (p *parser) parseMatcher() (*labels.Matcher, error) {
	name, err := p.expect(tIdent, "a label name")
	if err != nil {
		return nil, err
	}
	op := p.next()
	var mt labels.MatchType
	switch op.kind {
	case tEq:
		mt = labels.MatchEqual
	case tNeq:
		mt = labels.MatchNotEqual
	case tRe:
		mt = labels.MatchRegexp
	case tNRe:
		mt = labels.MatchNotRegexp
	default:
		return nil, p.errf(op, "a matcher operator (=, !=, =~, !~) expected, got %s", op)
	}
	v, err := p.expect(tString, "a quoted value")
	if err != nil {
		return nil, err
	}
	m, err := labels.NewMatcher(mt, name.text, v.text)
	if err != nil {
		return nil, p.errf(v, "bad regular expression %q: %v", v.text, err)
	}
	return m, nil
}

func (p *parser) parseStages(e *LogExpr) error {
	for {
		t := p.peek()
		switch t.kind {
		case tPipeEq, tNeq, tPipeRe, tNRe, tPipeLike, tNotLike:
			p.next()
			f, err := p.parseLineFilter(t)
			if err != nil {
				return err
			}
			e.Stages = append(e.Stages, f)
		case tPipe:
			p.next()
			s, err := p.parseStage()
			if err != nil {
				return err
			}
			if len(e.Stages) > 0 {
				if _, ok := e.Stages[len(e.Stages)-1].(*Unwrap); ok {
					// Label filters after unwrap belong to it.
					lf, ok := s.(*LabelFilterStage)
					if !ok {
						return p.errf(t, "only label filters may follow unwrap")
					}
					u := e.Stages[len(e.Stages)-1].(*Unwrap)
					u.Filters = append(u.Filters, lf.Filter)
					continue
				}
			}
			e.Stages = append(e.Stages, s)
		default:
			return nil
		}
	}
}

func (p *parser) parseLineFilter(op token) (*LineFilter, error) {
	f := &LineFilter{Op: op.text}
	for {
		v := p.peek()
		var ip *IPMatcher
		if p.ipCallFollows() {
			// Loki's filterOp: |= ip("...") and != ip("..."), also in an
			// or chain (pkg/logql/syntax/syntax.y, lineFilter and
			// orFilter; NewIPLineFilter refuses the other operators).
			if op.kind != tPipeEq && op.kind != tNeq {
				return nil, p.errf(v, "ip() only goes with |= and != (ip: invalid operation)")
			}
			var err error
			if ip, v, err = p.parseIPCall(); err != nil {
				return nil, err
			}
		} else if _, err := p.expect(tString, "a quoted string or ip(\"...\") after "+op.text); err != nil {
			return nil, err
		}
		switch op.kind {
		case tPipeRe, tNRe:
			re, err := regexp.Compile(v.text)
			if err != nil {
				return nil, p.errf(v, "bad regular expression %q: %v", v.text, err)
			}
			f.res = append(f.res, re)
		case tPipeLike, tNotLike:
			pat, err := CompileLinePattern(v.text)
			if err != nil {
				return nil, p.errf(v, "bad pattern %q: %v", v.text, err)
			}
			f.pats = append(f.pats, pat)
		}
		f.Values = append(f.Values, v.text)
		f.IPs = append(f.IPs, ip)
		f.ids = f.ids || ip == nil && isID(v.text)
		if !p.isIdent("or") {
			break
		}
		// "or" chains values only when a string or ip(...) follows; else
		// it is the binary operator of an enclosing metric query.
		p.next()
		if p.peek().kind != tString && !p.ipCallFollows() {
			p.i--
			break
		}
	}
	if !slices.ContainsFunc(f.IPs, func(m *IPMatcher) bool { return m != nil }) {
		f.IPs = nil
	}
	return f, nil
}

// extractionFollows reports whether the identifier here is a json or
// logfmt parameter: followed by =, a comma, or what ends a stage.
func (p *parser) extractionFollows() bool {
	switch p.toks[p.i+1].kind {
	case tEq, tComma, tEOF, tPipe, tPipeEq, tPipeRe, tPipeLike, tNeq, tNRe, tNotLike, tRParen, tLBrack:
		return true
	}
	return false
}

// ipCallFollows reports whether ip( comes next.
func (p *parser) ipCallFollows() bool {
	return p.isIdent("ip") && p.toks[p.i+1].kind == tLParen
}

// parseIPCall parses ip("pattern"), returning the matcher and the
// pattern's token.
func (p *parser) parseIPCall() (*IPMatcher, token, error) {
	p.next()
	p.next()
	v, err := p.expect(tString, "a quoted address, CIDR or range in ip()")
	if err != nil {
		return nil, v, err
	}
	if _, err := p.expect(tRParen, ")"); err != nil {
		return nil, v, err
	}
	m, err := ParseIPMatcher(v.text)
	if err != nil {
		return nil, v, p.errf(v, "%v (an address, a CIDR such as \"10.0.0.0/8\" or a range such as \"10.0.0.1-10.0.0.9\")", err)
	}
	return m, v, nil
}

func (p *parser) parseStage() (Stage, error) {
	t := p.peek()
	if t.kind == tLParen {
		f, err := p.parseLabelFilterOr()
		if err != nil {
			return nil, err
		}
		return &LabelFilterStage{f}, nil
	}
	if t.kind != tIdent {
		return nil, p.errf(t, "a stage (json, logfmt, regexp, pattern, unpack, line_format, label_format, drop, keep, decolorize, unwrap) or a label filter expected after |, got %s", t)
	}
	// A label filter starts with a label name followed by an operator.
	nk := p.toks[p.i+1].kind
	if nk == tEq || nk == tNeq || nk == tRe || nk == tNRe || nk == tEqEq || nk == tGt || nk == tGte || nk == tLt || nk == tLte {
		f, err := p.parseLabelFilterOr()
		if err != nil {
			return nil, err
		}
		return &LabelFilterStage{f}, nil
	}
	p.next()
	switch t.text {
	case "json", "logfmt":
		s := &ParserStage{Kind: t.text}
		for p.peek().kind == tSub && t.text == "logfmt" {
			// --strict, --keep-empty
			p.next()
			if _, err := p.expect(tSub, "--"); err != nil {
				return nil, err
			}
			f, err := p.expect(tIdent, "a flag")
			if err != nil {
				return nil, err
			}
			switch f.text {
			case "strict":
				s.Strict = true
			case "keep":
				if _, err := p.expect(tSub, "-empty"); err != nil {
					return nil, err
				}
				if _, err := p.expect(tIdent, "empty"); err != nil {
					return nil, err
				}
				s.Keep = true
			default:
				return nil, p.errf(f, "unknown logfmt flag --%s (--strict, --keep-empty)", f.text)
			}
		}
		// Loki's labelExtractionExpressionList: label="expression" or a
		// bare label, short for label="label", comma-separated
		// (pkg/logql/syntax/syntax.y).
		for p.peek().kind == tIdent && p.extractionFollows() {
			name := p.next()
			ex := LabelExtraction{Label: name.text, Expr: name.text, Bare: true}
			v := name
			if p.peek().kind == tEq {
				p.next()
				v = p.next()
				if v.kind != tString {
					return nil, p.errf(v, "a quoted expression expected after %s= (%s=%q)", name.text, name.text, v.text)
				}
				ex.Expr, ex.Bare = v.text, false
			}
			if s.Kind == "json" {
				je, err := ParseJSONExpr(ex.Expr)
				if err != nil {
					return nil, p.errf(v, "json expression %q: %v", ex.Expr, err)
				}
				ex.json = je
			}
			s.Params = append(s.Params, ex)
			if p.peek().kind != tComma {
				break
			}
			p.next()
			if p.peek().kind != tIdent {
				return nil, p.errf(p.peek(), "a label name expected after , in %s", t.text)
			}
		}
		return s, nil
	case "unpack":
		return &ParserStage{Kind: "unpack"}, nil
	case "regexp":
		v, err := p.expect(tString, "a regular expression")
		if err != nil {
			return nil, err
		}
		re, err := regexp.Compile(v.text)
		if err != nil {
			return nil, p.errf(v, "bad regular expression %q: %v", v.text, err)
		}
		var names []string
		for _, n := range re.SubexpNames() {
			if n != "" {
				if slices.Contains(names, n) { // Loki's NewRegexpParser
					return nil, p.errf(v, "duplicate extracted label name '%s'", n)
				}
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return nil, p.errf(v, "the regexp parser needs at least one named group: (?P<name>...)")
		}
		return &ParserStage{Kind: "regexp", Expr: v.text, re: re, names: re.SubexpNames()}, nil
	case "pattern":
		v, err := p.expect(tString, "a pattern")
		if err != nil {
			return nil, err
		}
		pat, err := CompilePattern(v.text)
		if err != nil {
			return nil, p.errf(v, "bad pattern %q: %v", v.text, err)
		}
		return &ParserStage{Kind: "pattern", Expr: v.text, pat: pat}, nil
	case "line_format":
		v, err := p.expect(tString, "a template")
		if err != nil {
			return nil, err
		}
		tmpl, err := NewTemplate(v.text)
		if err != nil {
			return nil, p.errf(v, "line_format: %v", err)
		}
		return &LineFormat{Template: v.text, tmpl: tmpl}, nil
	case "label_format":
		lf := &LabelFormat{}
		for {
			dst, err := p.expect(tIdent, "a label name")
			if err != nil {
				return nil, err
			}
			// Loki's log/fmt.go validate: a label once a stage, and
			// never __error__.
			if dst.text == errorLabel {
				return nil, p.errf(dst, "label_format: %s cannot be formatted", dst.text)
			}
			if slices.ContainsFunc(lf.Items, func(it LabelFormatItem) bool { return it.Dst == dst.text }) {
				return nil, p.errf(dst, "label_format: multiple label name '%s' not allowed in a single format operation", dst.text)
			}
			if _, err := p.expect(tEq, "="); err != nil {
				return nil, err
			}
			v := p.next()
			switch v.kind {
			case tIdent:
				lf.Items = append(lf.Items, LabelFormatItem{Dst: dst.text, Src: v.text, Rename: true})
			case tString:
				tmpl, err := NewLabelTemplate(v.text)
				if err != nil {
					return nil, p.errf(v, "label_format %s: %v", dst.text, err)
				}
				lf.Items = append(lf.Items, LabelFormatItem{Dst: dst.text, Src: v.text, tmpl: tmpl})
			default:
				return nil, p.errf(v, "a label name or a template string expected, got %s", v)
			}
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
		return lf, nil
	case "drop", "keep":
		d := &DropKeep{Keep: t.text == "keep"}
		for {
			name, err := p.expect(tIdent, "a label name")
			if err != nil {
				return nil, err
			}
			it := DropKeepItem{Name: name.text}
			if k := p.peek().kind; k == tEq || k == tNeq || k == tRe || k == tNRe {
				p.i--
				if it.Matcher, err = p.parseMatcher(); err != nil {
					return nil, err
				}
			}
			d.Items = append(d.Items, it)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
		return d, nil
	case "decolorize":
		return DecolorizeStage{}, nil
	case "unwrap":
		u := &Unwrap{}
		name, err := p.expect(tIdent, "a label name")
		if err != nil {
			return nil, err
		}
		if p.peek().kind == tLParen {
			switch name.text {
			case "duration", "duration_seconds", "bytes":
			default:
				return nil, p.errf(name, "unwrap: unknown conversion %s() (duration, duration_seconds, bytes)", name.text)
			}
			u.Conv = name.text
			p.next()
			if name, err = p.expect(tIdent, "a label name"); err != nil {
				return nil, err
			}
			if _, err := p.expect(tRParen, ")"); err != nil {
				return nil, err
			}
		}
		u.Label = name.text
		return u, nil
	}
	return nil, p.errf(t, "unknown stage %q", t.text)
}

// parseLabelFilterOr parses label filters joined by or, and, commas and
// blanks, grouped as Loki's yacc grammar groups them
// (pkg/logql/syntax/syntax.y, labelFilter): "and" binds tighter than
// "or", both left to right, while a comma or a blank between two filters
// has no precedence, so the filter after it takes all the rest:
// `a, b or c` is a and (b or c), `a or b, c` is a or (b and c) (Loki's
// parser_test.go: `foo="bar" buzz!="blip", blop=~"boop" or fuzz==5`).
func (p *parser) parseLabelFilterOr() (LabelFilter, error) {
	left, err := p.parseLabelFilterAnd()
	if err != nil {
		return nil, err
	}
	for p.isIdent("or") && p.labelFilterFollows(1) {
		p.next()
		right, err := p.parseLabelFilterAnd()
		if err != nil {
			return nil, err
		}
		left = &LabelBinary{"or", left, right}
	}
	return left, nil
}

// labelFilterFollows reports whether the token at offset k from here
// starts a label filter: a name and an operator, or a parenthesis.
func (p *parser) labelFilterFollows(k int) bool {
	if p.i+k+1 >= len(p.toks) {
		return false
	}
	t, n := p.toks[p.i+k], p.toks[p.i+k+1]
	if t.kind == tLParen {
		return true
	}
	if t.kind != tIdent {
		return false
	}
	switch n.kind {
	case tEq, tNeq, tRe, tNRe, tEqEq, tGt, tGte, tLt, tLte:
		return true
	}
	return false
}

func (p *parser) parseLabelFilterAnd() (LabelFilter, error) {
	left, err := p.parseLabelFilterSeq()
	if err != nil {
		return nil, err
	}
	for p.isIdent("and") && p.labelFilterFollows(1) {
		p.next()
		right, err := p.parseLabelFilterSeq()
		if err != nil {
			return nil, err
		}
		left = &LabelBinary{"and", left, right}
	}
	return left, nil
}

// parseLabelFilterSeq parses a filter and, after a comma or a blank, all
// the filters that follow, joined by "and".
func (p *parser) parseLabelFilterSeq() (LabelFilter, error) {
	left, err := p.parseLabelFilterAtom()
	if err != nil {
		return nil, err
	}
	switch {
	case p.peek().kind == tComma && p.labelFilterFollows(1):
		p.next()
	case p.labelFilterFollows(0) && p.peek().kind == tIdent:
		// "a=1 b=2" is "and" too
	default:
		return left, nil
	}
	right, err := p.parseLabelFilterOr()
	if err != nil {
		return nil, err
	}
	return &LabelBinary{"and", left, right}, nil
}

// parseLabelFilterAtom parses a parenthesised filter or a comparison, as
// Loki's grammar has them (pkg/logql/syntax/syntax.y): a string matcher
// (=, !=, =~, !~ "text"), ip() (= or !=), and numbers (an optional + or -
// and digits), durations (-5s, 1h30m) and byte sizes (5KB, 1.5KiB) with
// any of ==, =, !=, >, >=, <, <=; = with a number is numeric equality,
// as ==.
func (p *parser) parseLabelFilterAtom() (LabelFilter, error) {
	if p.peek().kind == tLParen {
		p.next()
		f, err := p.parseLabelFilterOr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, ")"); err != nil {
			return nil, err
		}
		return f, nil
	}
	name, err := p.expect(tIdent, "a label name")
	if err != nil {
		return nil, err
	}
	op := p.next()
	c := &LabelCompare{Name: name.text, Op: op.text}
	switch op.kind {
	case tEq, tNeq, tRe, tNRe, tEqEq, tGt, tGte, tLt, tLte:
	default:
		return nil, p.errf(op, "a comparison expected after %s, got %s", name.text, op)
	}
	if p.ipCallFollows() {
		if op.kind != tEq && op.kind != tNeq {
			return nil, p.errf(p.peek(), "ip() only goes with = and != (%s%s ip(...))", name.text, op.text)
		}
		ip, v, err := p.parseIPCall()
		if err != nil {
			return nil, err
		}
		c.Kind, c.IP, c.Text = kindIP, ip, v.text
		return c, nil
	}
	v := p.next()
	c.Text = v.text
	switch v.kind {
	case tString:
		switch op.kind {
		case tEqEq, tGt, tGte, tLt, tLte:
			return nil, p.errf(v, "%s compares numbers, durations or byte sizes; for text use = or !=", op.text)
		}
		c.Kind, c.Str = kindString, v.text
		mt := map[tokKind]labels.MatchType{tEq: labels.MatchEqual, tNeq: labels.MatchNotEqual, tRe: labels.MatchRegexp, tNRe: labels.MatchNotRegexp}[op.kind]
		m, err := labels.NewMatcher(mt, name.text, v.text)
		if err != nil {
			return nil, p.errf(v, "bad regular expression %q: %v", v.text, err)
		}
		c.match = m
		return c, nil
	case tNumber:
		c.Kind, c.Num = kindNumber, v.num
		if err := checkFloatLiteral(v); err != nil {
			return nil, p.errf(v, "%v", err)
		}
	case tDuration:
		c.Kind, c.Num = kindDuration, v.num
	case tBytes:
		c.Kind, c.Num = kindBytes, v.num
	case tSub, tAdd:
		// A signed number; Loki's lexer also reads -5s as one negative
		// duration (but not "- 5s", nor signed byte sizes).
		n := p.next()
		switch {
		case n.kind == tNumber:
			if err := checkFloatLiteral(n); err != nil {
				return nil, p.errf(n, "%v", err)
			}
			c.Kind, c.Num = kindNumber, n.num
		case n.kind == tDuration && v.kind == tSub && n.pos == v.pos+1:
			c.Kind, c.Num = kindDuration, n.num
		default:
			return nil, p.errf(n, "a number expected after %s%s%s, got %s", name.text, op.text, v.text, n)
		}
		if v.kind == tSub {
			c.Num = -c.Num
		}
		c.Text = v.text + n.text
	default:
		return nil, p.errf(v, "a value expected after %s%s, got %s", name.text, op.text, v)
	}
	if op.kind == tRe || op.kind == tNRe {
		return nil, p.errf(v, "%s matches text: a quoted regular expression expected after %s%s", op.text, name.text, op.text)
	}
	return c, nil
}

// checkFloatLiteral refuses a label filter's number that Go's
// strconv.ParseFloat does not read, such as 0x10 or 0o17, as Loki does
// (grafana/loki#24039: a parse error, where Loki 3.7 compared with 0).
func checkFloatLiteral(t token) error {
	if _, err := strconv.ParseFloat(t.text, 64); err != nil {
		return fmt.Errorf("unable to parse literal as a float: %w", err)
	}
	return nil
}
