package prom

import "github.com/prometheus/prometheus/promql/parser"

// estimateDepth returns a lower bound of the depth of the syntax tree that
// Prometheus' parser builds for q, from q's tokens alone, in time linear in
// len(q). It stops early, returning more than stop, once the bound passes
// stop.
//
// It runs operator precedence (shunting-yard) over Prometheus' lexer with
// the grammar's precedences: a binary operator is one level above the
// deeper of its operands, a unary one above its operand (unless that is a
// number literal, which the parser negates in place), a parenthesis,
// function call or aggregation one above its deepest argument, a range or
// subquery one above its selector. It leaves out what is no node of the
// tree (label matchers, grouping labels, offsets, @ modifiers) and
// duration expressions (ranges, steps, offsets), which the parser reads in
// linear time and CheckTree counts after parsing. A query that does not
// parse gets some bound; the parser's error is what the caller sees.
func estimateDepth(q string, stop int) int {
	e := estimator{stop: stop}
	e.frames = append(e.frames, &estFrame{operand: true})
	lex := parser.Lex(q)
	var it parser.Item
	var prev parser.ItemType = parser.EOF
	for {
		lex.NextItem(&it)
		if it.Typ == parser.EOF || it.Typ == parser.ERROR {
			break
		}
		if it.Typ == parser.COMMENT {
			continue
		}
		if e.token(it.Typ, prev, lex) {
			return e.deepest
		}
		prev = it.Typ
	}
	for len(e.frames) > 1 {
		e.close()
	}
	e.note(e.frames[0].finish())
	return e.deepest
}

// estFrame is an open parenthesis (or the whole query) being read.
type estFrame struct {
	// skip frames hold no nodes: grouping labels, a range or subquery's
	// durations, an offset or @ argument.
	skip bool
	// bracket frames are ranges or subqueries: one level above the operand
	// they follow.
	bracket bool
	vals    []estVal
	ops     []estOp
	// operand says an operand comes next (a '-' or '+' is unary).
	operand bool
	// best is the deepest argument before a comma.
	best int
}

type estVal struct {
	depth int
	num   bool // a number literal, which a unary operator folds into
}

type estOp struct {
	prec  int
	unary bool
}

type estimator struct {
	frames  []*estFrame
	stop    int
	deepest int
	// groups counts the open frames that are not skip frames.
	groups int
	// mod is 1 after offset or @ (its argument follows), 2 after a name
	// in that argument (step(), start(), ...: its parenthesis follows).
	mod int
}

// unaryPrec is the precedence of unary operators: the grammar gives them
// MUL's (so -a*b is (-a)*b and -a^b is -(a^b)).
const unaryPrec = 5

// binaryPrec is the grammar's precedence of a binary operator, 0 for
// other tokens.
func binaryPrec(t parser.ItemType) int {
	switch t {
	case parser.LOR:
		return 1
	case parser.LAND, parser.LUNLESS:
		return 2
	case parser.EQLC, parser.GTE, parser.GTR, parser.LSS, parser.LTE, parser.NEQ, parser.TRIM_UPPER, parser.TRIM_LOWER:
		return 3
	case parser.ADD, parser.SUB:
		return 4
	case parser.MUL, parser.DIV, parser.MOD, parser.ATAN2:
		return 5
	case parser.POW:
		return 6
	}
	return 0
}

func (e *estimator) top() *estFrame { return e.frames[len(e.frames)-1] }

// note records a depth; it says whether the estimate passed stop.
func (e *estimator) note(d int) bool {
	e.deepest = max(e.deepest, d)
	return e.deepest > e.stop
}

func (e *estimator) push(skip, bracket bool) {
	e.frames = append(e.frames, &estFrame{skip: skip, bracket: bracket, operand: true})
	if !skip {
		e.groups++
	}
}

// token reads one token; prev is the token before it. It says whether the
// estimate passed stop.
func (e *estimator) token(t, prev parser.ItemType, lex *parser.Lexer) bool {
	f := e.top()
	switch t {
	case parser.LEFT_BRACE, parser.OPEN_HIST:
		// Label matchers: part of the selector, no nodes of their own.
		skipBraces(lex)
		if !f.skip {
			return e.operand(1, false)
		}
		return false
	case parser.LEFT_PAREN:
		switch {
		case f.skip:
			e.push(true, false)
		case e.mod == 1, e.mod == 2:
			e.mod = 0
			e.push(true, false)
		case isLabelList(prev):
			e.push(true, false)
		default:
			e.push(false, false)
			// Each open parenthesis is a level: a tree at least this deep.
			return e.note(e.groups)
		}
		return false
	case parser.LEFT_BRACKET:
		e.mod = 0
		e.push(true, true)
		return false
	case parser.RIGHT_PAREN, parser.RIGHT_BRACKET:
		if len(e.frames) > 1 {
			return e.close()
		}
		return false
	}
	if f.skip {
		return false
	}
	if e.mod > 0 {
		switch {
		case e.mod == 1 && (t == parser.ADD || t == parser.SUB):
			return false // the offset's sign
		case e.mod == 1 && (t == parser.NUMBER || t == parser.DURATION):
			e.mod = 0
			return false
		case e.mod == 1 && isName(t):
			e.mod = 2 // step(), start(), end(), min_of(...)
			return false
		}
		e.mod = 0
	}
	switch {
	case f.operand && isKeywordName(t):
		return e.operand(1, false) // a series named offset, by ...
	case t == parser.OFFSET || t == parser.AT:
		e.mod = 1
		return false
	case t == parser.COMMA:
		f.best = max(f.best, f.finish())
		f.vals, f.ops, f.operand = f.vals[:0], f.ops[:0], true
		return false
	case t == parser.NUMBER || t == parser.DURATION:
		return e.operand(1, true)
	case t == parser.STRING || isName(t) || t.IsAggregator():
		return e.operand(1, false)
	case binaryPrec(t) > 0:
		if f.operand {
			if t == parser.ADD || t == parser.SUB {
				f.ops = append(f.ops, estOp{prec: unaryPrec, unary: true})
			}
			return false // else a syntax error, which the parser reports
		}
		p := binaryPrec(t)
		f.reduce(p, t == parser.POW)
		f.ops = append(f.ops, estOp{prec: p})
		f.operand = true
	}
	// Modifiers (bool, on, ignoring, group_left, by, without, smoothed,
	// anchored ...) are no operands.
	return false
}

// operand adds an operand of depth d to the open frame: a new operand
// after an operator, or part of the one before it (a function's name and
// its arguments, a metric name and its braces).
func (e *estimator) operand(d int, num bool) bool {
	f := e.top()
	if f.operand || len(f.vals) == 0 {
		f.vals = append(f.vals, estVal{depth: d, num: num})
		f.operand = false
	} else {
		v := &f.vals[len(f.vals)-1]
		v.depth, v.num = max(v.depth, d), false
	}
	return e.note(d)
}

// close ends the innermost frame, at its closing parenthesis or bracket
// (or at the end of the query).
func (e *estimator) close() bool {
	f := e.top()
	e.frames = e.frames[:len(e.frames)-1]
	e.mod = 0
	switch {
	case f.bracket:
		// A range or subquery: one level above the operand before it.
		if p := e.top(); !p.skip && len(p.vals) > 0 {
			v := &p.vals[len(p.vals)-1]
			v.depth, v.num = v.depth+1, false
			return e.note(v.depth)
		}
	case !f.skip:
		e.groups--
		if !e.top().skip {
			return e.operand(f.finish()+1, false)
		}
	}
	return false
}

// reduce applies the operators that bind tighter than one of precedence
// p (or as tight, for a left-associative one).
func (f *estFrame) reduce(p int, right bool) {
	for len(f.ops) > 0 {
		o := f.ops[len(f.ops)-1]
		if o.prec < p || (o.prec == p && right) {
			return
		}
		f.ops = f.ops[:len(f.ops)-1]
		f.apply(o)
	}
}

func (f *estFrame) apply(o estOp) {
	n := len(f.vals)
	switch {
	case o.unary && n >= 1:
		if v := &f.vals[n-1]; !v.num {
			v.depth++
		}
	case !o.unary && n >= 2:
		l, r := f.vals[n-2], f.vals[n-1]
		f.vals = append(f.vals[:n-2], estVal{depth: max(l.depth, r.depth) + 1})
	}
}

// finish applies the frame's pending operators and returns the depth of
// its deepest argument.
func (f *estFrame) finish() int {
	f.reduce(0, false)
	d := f.best
	for _, v := range f.vals {
		d = max(d, v.depth)
	}
	return d
}

// skipBraces reads to the closing brace of a selector's label matchers.
func skipBraces(lex *parser.Lexer) {
	var it parser.Item
	for {
		lex.NextItem(&it)
		switch it.Typ {
		case parser.RIGHT_BRACE, parser.CLOSE_HIST, parser.EOF, parser.ERROR:
			return
		}
	}
}

// isLabelList says whether a parenthesis after t holds label names.
func isLabelList(t parser.ItemType) bool {
	switch t {
	case parser.BY, parser.WITHOUT, parser.ON, parser.IGNORING, parser.GROUP_LEFT, parser.GROUP_RIGHT,
		parser.FILL, parser.FILL_LEFT, parser.FILL_RIGHT:
		return true
	}
	return false
}

// isName says whether t names a series or a function.
func isName(t parser.ItemType) bool {
	switch t {
	case parser.IDENTIFIER, parser.METRIC_IDENTIFIER,
		parser.START, parser.END, parser.STEP, parser.RANGE, parser.MIN_OF, parser.MAX_OF:
		return true
	}
	return false
}

// isKeywordName says whether keyword t, where an operand is due, is the
// name of a series rather than a modifier (which follows its operand).
func isKeywordName(t parser.ItemType) bool {
	switch t {
	case parser.OFFSET, parser.SMOOTHED, parser.ANCHORED, parser.BY, parser.WITHOUT:
		return true
	}
	return false
}
