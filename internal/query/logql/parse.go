package logql

import (
	"fmt"
	"slices"

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
	if p.peek().kind == tLBrace {
		e, err = p.parseLogExpr()
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
	if binPrec[b.Op] == 3 && lLit && rLit && !b.ReturnBool {
		return p.errf(t, "comparisons between two numbers need bool")
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

var vectorOps = []string{"sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "sort", "sort_desc"}

// unwrapOps need an unwrap; the others (but rate) refuse one.
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
	if a.Op == "topk" || a.Op == "bottomk" {
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
		p.next()
		d, err := p.expect(tDuration, "a duration")
		if err != nil {
			return nil, err
		}
		r.Offset = d.dur
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
	case !needs && r.Op != "rate" && r.Unwrap != nil:
		return nil, p.errf(op, "%s does not take an unwrapped label", r.Op)
	case r.Grouping != nil && r.Unwrap == nil:
		return nil, p.errf(end, "by/without after %s is only allowed with unwrap; group with an aggregation: sum by (...) (%s(...))", r.Op, r.Op)
	case r.Grouping != nil && (r.Op == "rate" || r.Op == "rate_counter" || r.Op == "sum_over_time"):
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
		if v.kind == tIdent && v.text == "ip" {
			return nil, p.errf(v, "the ip() line filter is not supported")
		}
		if _, err := p.expect(tString, "a quoted string after "+op.text); err != nil {
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
		f.ids = f.ids || isID(v.text)
		if !p.isIdent("or") {
			return f, nil
		}
		// "or" chains values only when a string follows; else it is the
		// binary operator of an enclosing metric query.
		if p.toks[p.i+1].kind != tString {
			return f, nil
		}
		p.next()
	}
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
		for p.peek().kind == tIdent && p.toks[p.i+1].kind == tEq {
			name := p.next()
			p.next()
			v := p.next()
			ex := LabelExtraction{Label: name.text}
			switch v.kind {
			case tString:
				ex.Expr = v.text
			case tIdent:
				ex.Expr = v.text
			default:
				return nil, p.errf(v, "an expression string expected for %s", name.text)
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
			if _, err := p.expect(tEq, "="); err != nil {
				return nil, err
			}
			v := p.next()
			switch v.kind {
			case tIdent:
				lf.Items = append(lf.Items, LabelFormatItem{Dst: dst.text, Src: v.text, Rename: true})
			case tString:
				tmpl, err := NewTemplate(v.text)
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

// parseLabelFilterOr parses label filters joined by or, and, and commas.
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
	left, err := p.parseLabelFilterAtom()
	if err != nil {
		return nil, err
	}
	for {
		if p.isIdent("and") && p.labelFilterFollows(1) || p.peek().kind == tComma && p.labelFilterFollows(1) {
			p.next()
		} else if p.labelFilterFollows(0) && p.peek().kind == tIdent {
			// "a=1 b=2" is "and" too
		} else {
			return left, nil
		}
		right, err := p.parseLabelFilterAtom()
		if err != nil {
			return nil, err
		}
		left = &LabelBinary{"and", left, right}
	}
}

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
	v := p.next()
	c.Text = v.text
	switch op.kind {
	case tEq, tRe, tNRe:
		if v.kind != tString {
			if op.kind == tEq && (v.kind == tNumber || v.kind == tDuration || v.kind == tBytes) {
				return nil, p.errf(op, "use == to compare %s with a number", name.text)
			}
			return nil, p.errf(v, "a quoted string expected after %s%s", name.text, op.text)
		}
	case tNeq:
	case tEqEq, tGt, tGte, tLt, tLte:
		if v.kind == tString {
			return nil, p.errf(v, "%s compares numbers, durations or byte sizes; for text use = or !=", op.text)
		}
	default:
		return nil, p.errf(op, "a comparison expected after %s, got %s", name.text, op)
	}
	switch v.kind {
	case tString:
		c.Kind, c.Str = kindString, v.text
		mt := map[tokKind]labels.MatchType{tEq: labels.MatchEqual, tNeq: labels.MatchNotEqual, tRe: labels.MatchRegexp, tNRe: labels.MatchNotRegexp}[op.kind]
		m, err := labels.NewMatcher(mt, name.text, v.text)
		if err != nil {
			return nil, p.errf(v, "bad regular expression %q: %v", v.text, err)
		}
		c.match = m
	case tNumber:
		c.Kind, c.Num = kindNumber, v.num
	case tDuration:
		c.Kind, c.Num = kindDuration, v.num
	case tBytes:
		c.Kind, c.Num = kindBytes, v.num
	case tSub:
		n, err := p.expect(tNumber, "a number")
		if err != nil {
			return nil, err
		}
		c.Kind, c.Num, c.Text = kindNumber, -n.num, "-"+n.text
	default:
		return nil, p.errf(v, "a value expected after %s%s, got %s", name.text, op.text, v)
	}
	return c, nil
}
