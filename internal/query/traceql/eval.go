package traceql

import (
	"slices"
	"strings"
	"unsafe"

	"github.com/horus-obs/horus/internal/store/events"
)

// Trace is the spans of one trace with the structure TraceQL evaluates on.
type Trace struct {
	ID    events.TraceID
	Spans []events.Event
	// parent[i] is the index of span i's parent, -1 if it has none in the
	// trace.
	parent []int
	// Root is the index of the root span (no parent id), -1 if missing.
	Root       int
	Start, End int64 // unix ns: first start, last end
	// nested is the nested-set numbering (left, right, parent's left) of
	// each span, made on first use.
	nested [][3]int64
	// children counts each span's children, made on first use.
	children []int32
	// arrays are the array attributes decoded so far, by their JSON's
	// address: each is decoded once per trace, however many conditions
	// read it.
	arrays map[textKey]Value
}

type textKey struct {
	p *byte
	n int
}

// array decodes an array attribute's JSON (see decodeArray), once.
func (t *Trace) array(js string) Value {
	k := textKey{unsafe.StringData(js), len(js)}
	if v, ok := t.arrays[k]; ok {
		return v
	}
	v := decodeArray(js)
	if t.arrays == nil {
		t.arrays = map[textKey]Value{}
	}
	t.arrays[k] = v
	return v
}

// NewTrace indexes the spans of one trace.
func NewTrace(spans []events.Event) *Trace {
	t := &Trace{Spans: spans, parent: make([]int, len(spans)), Root: -1}
	byID := make(map[events.SpanID]int, len(spans))
	for i := range spans {
		byID[spans[i].SpanID] = i
		if i == 0 || spans[i].Time < t.Start {
			t.Start = spans[i].Time
		}
		if end := spans[i].End(); end > t.End {
			t.End = end
		}
	}
	if len(spans) > 0 {
		t.ID = spans[0].TraceID
	}
	for i := range spans {
		t.parent[i] = -1
		if spans[i].ParentSpanID.IsZero() {
			if t.Root < 0 {
				t.Root = i
			}
			continue
		}
		if p, ok := byID[spans[i].ParentSpanID]; ok && p != i {
			t.parent[i] = p
		}
	}
	return t
}

// nestedSet returns span i's nested-set numbers as Tempo defines them
// (tempodb/encoding/vparquet4/nested_set_model.go,
// assignNestedSetModelBoundsAndServiceStats): parent's left, left,
// right; numbered depth first from each root span (no parent id) in
// turn, a root's parent being -1. Spans not under a root have zeros:
// Tempo's structural operators relate no such span.
func (t *Trace) nestedSet(i int) [3]int64 {
	if t.nested == nil {
		t.nested = make([][3]int64, len(t.Spans))
		// The children of span p are kids[first[p]:first[p+1]], in span
		// order.
		first := make([]int32, len(t.Spans)+1)
		for _, p := range t.parent {
			if p >= 0 {
				first[p+1]++
			}
		}
		for p := range t.Spans {
			first[p+1] += first[p]
		}
		kids := make([]int32, first[len(t.Spans)])
		next := slices.Clone(first[:len(t.Spans)])
		for c, p := range t.parent {
			if p >= 0 {
				kids[next[p]] = int32(c)
				next[p]++
			}
		}
		n := int64(0)
		var walk func(s int, parentLeft int64)
		walk = func(s int, parentLeft int64) {
			n++
			left := n
			t.nested[s] = [3]int64{parentLeft, left, 0} // marks s visited: a parent cycle ends here
			for _, c := range kids[first[s]:first[s+1]] {
				if t.nested[c][1] == 0 {
					walk(int(c), left)
				}
			}
			n++
			t.nested[s][2] = n
		}
		for r := range t.Spans {
			if t.Spans[r].ParentSpanID.IsZero() && t.nested[r][1] == 0 {
				walk(r, -1)
			}
		}
	}
	return t.nested[i]
}

// connected reports whether span i is under a root span of the trace:
// the spans Tempo's structural operators may relate.
func (t *Trace) connected(i int) bool { return t.nestedSet(i)[1] != 0 }

// Parent is the index of span i's parent in the trace, -1 if it has none
// there.
func (t *Trace) Parent(i int) int { return t.parent[i] }

// childCount is the number of span i's children in the trace.
func (t *Trace) childCount(i int) int {
	if t.children == nil {
		t.children = make([]int32, len(t.Spans))
		for _, p := range t.parent {
			if p >= 0 {
				t.children[p]++
			}
		}
	}
	return int(t.children[i])
}

// RootService is the service of the root span, or Tempo's placeholder.
func (t *Trace) RootService() string {
	if t.Root < 0 {
		return "<root span not yet received>"
	}
	return t.Spans[t.Root].Service
}

// RootName is the name of the root span, or "".
func (t *Trace) RootName() string {
	if t.Root < 0 {
		return ""
	}
	return t.Spans[t.Root].Name
}

// Spanset is a set of spans of one trace (indexes into Trace.Spans,
// ascending) with the values by() and aggregates attached to it.
type Spanset struct {
	Spans []int
	Attrs []KV
}

// KV is a named value.
type KV struct {
	Key   string
	Value Value
}

// Eval evaluates the spanset part of the query on a trace: the non-empty
// spansets it selects.
func (q *Query) Eval(t *Trace) []Spanset { return evalSet(q.Root, t) }

func evalSet(e SetExpr, t *Trace) []Spanset {
	switch x := e.(type) {
	case *Filter:
		s := filterSpans(x.Cond, t, nil)
		if len(s) == 0 {
			return nil
		}
		return []Spanset{{Spans: s}}
	case *SetOp:
		l := flatten(evalSet(x.L, t))
		if len(l) == 0 && x.Op != OpOr && !x.Op.negated() {
			return nil // negated operators keep the right side: nothing relates to it
		}
		r := flatten(evalSet(x.R, t))
		out := combine(x.Op, l, r, t)
		if len(out) == 0 {
			return nil
		}
		return []Spanset{{Spans: out}}
	case *Pipeline:
		sets := evalSet(x.Source, t)
		for _, st := range x.Stages {
			if len(sets) == 0 {
				return nil
			}
			sets = evalStage(st, sets, t)
		}
		return sets
	}
	return nil
}

func (o Op) negated() bool { return o >= OpNotChild && o <= OpNotSibling }

// filterSpans returns the spans among from (all when nil) for which cond
// holds.
func filterSpans(cond Expr, t *Trace, from []int) []int {
	var out []int
	check := func(i int) {
		if cond == nil || eval(cond, t, i, -1).truthy() {
			out = append(out, i)
		}
	}
	if from == nil {
		for i := range t.Spans {
			check(i)
		}
	} else {
		for _, i := range from {
			check(i)
		}
	}
	return out
}

// flatten merges spansets into one sorted set of spans.
func flatten(sets []Spanset) []int {
	switch len(sets) {
	case 0:
		return nil
	case 1:
		return sets[0].Spans
	}
	var all []int
	for _, s := range sets {
		all = append(all, s.Spans...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

func union(a, b []int) []int {
	out := append(append([]int(nil), a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// combine applies a spanset operator. Structural operators return spans of
// the right side (the left side too for the union forms &>, &< ...), as
// Tempo's engine does (pkg/traceql/ast_execute.go, SpansetOperation, and
// the nested-set relations of tempodb/encoding/vparquet4/block_traceql.go,
// ChildOf, DescendantOf, SiblingOf): only spans under a root span are
// related (see nestedSet), and a negated operator (!>, !>>, !<, !<<, !~)
// keeps the right-side spans no left-side span relates to, every one of
// them when the left side matches nothing.
func combine(op Op, l, r []int, t *Trace) []int {
	switch op {
	case OpAnd:
		if len(l) == 0 || len(r) == 0 {
			return nil
		}
		return union(l, r)
	case OpOr:
		return union(l, r)
	}
	rel, lrel := relations(op, l, r, t)
	if rel == nil {
		return nil
	}
	var out []int
	for _, b := range r {
		if rel(b) != op.negated() {
			out = append(out, b)
		}
	}
	if op >= OpUnionChild {
		if len(out) == 0 {
			return nil
		}
		for _, a := range l {
			if lrel(a) {
				out = append(out, a)
			}
		}
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out
}

// relations returns, for a structural operator, rel(b): whether right
// span b stands in the relation to some left span, and lrel(a): whether
// left span a does to some right span (for the union forms). Spans not
// under a root relate to nothing.
func relations(op Op, l, r []int, t *Trace) (rel, lrel func(int) bool) {
	n := len(t.Spans)
	// in(s) is the connected spans of s, as a set.
	in := func(s []int) []bool {
		m := make([]bool, n)
		for _, i := range s {
			m[i] = t.connected(i)
		}
		return m
	}
	// parentsOf(s) is the parents of the connected spans of s.
	parentsOf := func(s []int) []bool {
		m := make([]bool, n)
		for _, i := range s {
			if p := t.parent[i]; p >= 0 && t.connected(i) {
				m[p] = true
			}
		}
		return m
	}
	switch op {
	case OpChild, OpNotChild, OpUnionChild:
		inL, parents := in(l), parentsOf(r)
		rel = func(b int) bool { p := t.parent[b]; return p >= 0 && inL[p] && t.connected(b) }
		lrel = func(a int) bool { return parents[a] }
	case OpParent, OpNotParent, OpUnionParent:
		parents, inR := parentsOf(l), in(r)
		rel = func(b int) bool { return parents[b] }
		lrel = func(a int) bool { p := t.parent[a]; return p >= 0 && inR[p] && t.connected(a) }
	case OpDesc, OpNotDesc, OpUnionDesc:
		inL, anc := in(l), t.ancestorsOf(r)
		rel = func(b int) bool { return t.connected(b) && t.hasAncestorIn(b, inL) }
		lrel = func(a int) bool { return anc[a] }
	case OpAnc, OpNotAnc, OpUnionAnc:
		anc, inR := t.ancestorsOf(l), in(r)
		rel = func(b int) bool { return anc[b] }
		lrel = func(a int) bool { return t.connected(a) && t.hasAncestorIn(a, inR) }
	case OpSibling, OpNotSibling, OpUnionSibling:
		// Siblings share their nested-set parent: for spans under a root,
		// their parent, or none for the roots themselves (-1 in Tempo, so
		// two roots of one trace are siblings). A span is not its own
		// sibling. count(s)[p+1] is how many connected spans of s have
		// parent p.
		count := func(s []int) []int32 {
			c := make([]int32, n+1)
			for _, i := range s {
				if t.connected(i) {
					c[t.parent[i]+1]++
				}
			}
			return c
		}
		inL, inR, cl, cr := in(l), in(r), count(l), count(r)
		sibling := func(i int, c []int32, self []bool) bool {
			if !t.connected(i) {
				return false
			}
			k := c[t.parent[i]+1]
			if self[i] {
				k--
			}
			return k > 0
		}
		rel = func(b int) bool { return sibling(b, cl, inL) }
		lrel = func(a int) bool { return sibling(a, cr, inR) }
	}
	return rel, lrel
}

// hasAncestorIn walks up from span i; a broken trace with a parent cycle
// ends after len(spans) steps.
func (t *Trace) hasAncestorIn(i int, set []bool) bool {
	for n, p := 0, t.parent[i]; p >= 0 && n < len(t.Spans); n, p = n+1, t.parent[p] {
		if set[p] {
			return true
		}
	}
	return false
}

// ancestorsOf is the ancestors of the connected spans of s.
func (t *Trace) ancestorsOf(s []int) []bool {
	anc := make([]bool, len(t.Spans))
	for _, i := range s {
		if !t.connected(i) {
			continue
		}
		for n, p := 0, t.parent[i]; p >= 0 && n < len(t.Spans) && !anc[p]; n, p = n+1, t.parent[p] {
			anc[p] = true
		}
	}
	return anc
}

func evalStage(st Stage, sets []Spanset, t *Trace) []Spanset {
	var out []Spanset
	switch x := st.(type) {
	case *FilterStage:
		for _, s := range sets {
			if spans := filterSpans(x.Cond, t, s.Spans); len(spans) > 0 {
				out = append(out, Spanset{Spans: spans, Attrs: s.Attrs})
			}
		}
	case *AggFilter:
		for _, s := range sets {
			v := aggregate(&x.Agg, s.Spans, t)
			if compare(x.Op, v, x.Value) {
				s.Attrs = append(slices.Clip(s.Attrs), KV{x.Agg.String(), v})
				out = append(out, s)
			}
		}
	case *By:
		for _, s := range sets {
			groups := map[string]int{}
			for _, i := range s.Spans {
				vals := make([]KV, len(x.Fields))
				var key strings.Builder
				for f, e := range x.Fields {
					v := eval(e, t, i, -1)
					vals[f] = KV{e.String(), v}
					key.WriteString(v.T.String() + ":" + v.Text() + "\x00")
				}
				g, ok := groups[key.String()]
				if !ok {
					g = len(out)
					groups[key.String()] = g
					out = append(out, Spanset{Attrs: append(slices.Clip(s.Attrs), vals...)})
				}
				out[g].Spans = append(out[g].Spans, i)
			}
		}
	case *Select:
		return sets // the fields are added when spans are rendered
	case *Coalesce:
		return []Spanset{{Spans: flatten(sets)}}
	}
	return out
}

func aggregate(a *Aggregate, spans []int, t *Trace) Value {
	if a.Func == "count" {
		return IntV(int64(len(spans)))
	}
	var acc Value
	n := 0
	for _, i := range spans {
		v := eval(a.Field, t, i, -1)
		if !v.T.numeric() && v.T != TDuration {
			continue
		}
		if n == 0 {
			acc = v
			if a.Func == "avg" && v.T == TInt {
				acc = FloatV(float64(v.I))
			}
			n++
			continue
		}
		n++
		switch a.Func {
		case "sum", "avg":
			acc = arith(OpAdd, acc, v)
		case "min":
			if compare(OpLt, v, acc) {
				acc = v
			}
		case "max":
			if compare(OpGt, v, acc) {
				acc = v
			}
		}
	}
	if n == 0 {
		return Value{}
	}
	if a.Func == "avg" {
		return arith(OpDiv, acc, IntV(int64(n)))
	}
	return acc
}

// eval evaluates a field expression on span i; elem is the index of the
// event or link that event./link. fields read (-1: none).
func eval(e Expr, t *Trace, i, elem int) Value {
	switch x := e.(type) {
	case *Static:
		return x.V
	case *Attribute:
		return lookup(x, t, i, elem)
	case *Unary:
		v := eval(x.X, t, i, elem)
		if x.Op == OpNot {
			return BoolV(!v.truthy())
		}
		return arith(OpSub, IntV(0), v)
	case *Binary:
		switch {
		case x.Op == OpAnd:
			return BoolV(eval(x.L, t, i, elem).truthy() && eval(x.R, t, i, elem).truthy())
		case x.Op == OpOr:
			return BoolV(eval(x.L, t, i, elem).truthy() || eval(x.R, t, i, elem).truthy())
		case x.Op.comparison():
			// A comparison on event or link fields holds if it holds for
			// any event (link) of the span.
			if elem < 0 {
				if n := elems(x, &t.Spans[i]); n >= 0 {
					for k := 0; k < n; k++ {
						if cmpBinary(x, t, i, k) {
							return BoolV(true)
						}
					}
					return BoolV(false)
				}
			}
			return BoolV(cmpBinary(x, t, i, elem))
		}
		return arith(x.Op, eval(x.L, t, i, elem), eval(x.R, t, i, elem))
	}
	return Value{}
}

func isNilLiteral(e Expr) bool {
	s, ok := e.(*Static)
	return ok && s.V.T == TNil
}

func cmpBinary(x *Binary, t *Trace, i, elem int) bool {
	if x.Op == OpEq || x.Op == OpNeq {
		// = nil and != nil test presence.
		var other Expr
		switch {
		case isNilLiteral(x.R):
			other = x.L
		case isNilLiteral(x.L):
			other = x.R
		}
		if other != nil {
			return (eval(other, t, i, elem).T == TNil) == (x.Op == OpEq)
		}
	}
	l := eval(x.L, t, i, elem)
	if x.re != nil {
		match := func(v Value) bool { return v.T == TStr && x.re.MatchString(v.S) == (x.Op == OpRe) }
		if l.T == TArray {
			return compareElems(x.Op, l.Elements(), match)
		}
		return match(l)
	}
	r := eval(x.R, t, i, elem)
	switch {
	case l.T == TArray && r.T == TArray:
		return false // Tempo: "array operators must consist of a scalar and an array operand"
	case l.T == TArray:
		return compareElems(x.Op, l.Elements(), func(v Value) bool { return compare(x.Op, v, r) })
	case r.T == TArray:
		return compareElems(x.Op, r.Elements(), func(v Value) bool { return compare(x.Op, l, v) })
	}
	return compare(x.Op, l, r)
}

// elems returns the number of events (links) of span e when x reads event
// (link) fields, else -1.
func elems(x Expr, e *events.Event) int {
	switch elemScope(x) {
	case "event":
		return len(e.Events)
	case "link":
		return len(e.Links)
	}
	return -1
}

func elemScope(e Expr) string {
	switch x := e.(type) {
	case *Attribute:
		switch {
		case x.Intrinsic == IEventName || x.Intrinsic == IEventTimeSinceStart || x.Intrinsic == INone && x.Scope == "event":
			return "event"
		case x.Intrinsic == ILinkTraceID || x.Intrinsic == ILinkSpanID || x.Intrinsic == INone && x.Scope == "link":
			return "link"
		}
	case *Binary:
		if s := elemScope(x.L); s != "" {
			return s
		}
		return elemScope(x.R)
	case *Unary:
		return elemScope(x.X)
	}
	return ""
}

func lookup(a *Attribute, t *Trace, i, elem int) Value {
	e := &t.Spans[i]
	switch a.Intrinsic {
	case INone:
	case IName:
		return StrV(e.Name)
	case IStatus:
		return Value{T: TStatus, I: int64(e.StatusCode)}
	case IStatusMessage:
		return StrV(e.StatusMessage)
	case IDuration:
		return DurationV(e.Duration)
	case IKind:
		return Value{T: TKind, I: int64(e.SpanKind)}
	case ISpanID:
		return StrV(e.SpanID.String())
	case IParentID:
		if e.ParentSpanID.IsZero() {
			return Value{}
		}
		return StrV(e.ParentSpanID.String())
	case IRootName:
		return StrV(t.RootName())
	case IRootService:
		// A trace whose root span was never received has "" as its root
		// service and name, as Tempo stores them (vparquet4 schema.go,
		// traceToParquet: RootServiceName and RootSpanName are ""
		// without a root span): != "x", !~ "x" and = "" match it.
		if t.Root < 0 {
			return StrV("")
		}
		return StrV(t.Spans[t.Root].Service)
	case ITraceDuration:
		return DurationV(t.End - t.Start)
	case ITraceID:
		return StrV(traceIDText(e.TraceID))
	case IEventName:
		if elem >= 0 && elem < len(e.Events) {
			return StrV(e.Events[elem].Name)
		}
		return Value{}
	case ILinkTraceID:
		if elem >= 0 && elem < len(e.Links) {
			return StrV(traceIDText(e.Links[elem].TraceID))
		}
		return Value{}
	case ILinkSpanID:
		if elem >= 0 && elem < len(e.Links) {
			return StrV(e.Links[elem].SpanID.String())
		}
		return Value{}
	case INestedSetParent, INestedSetLeft, INestedSetRight:
		return IntV(t.nestedSet(i)[a.Intrinsic-INestedSetParent])
	case IChildCount:
		return IntV(int64(t.childCount(i)))
	case IEventTimeSinceStart:
		if elem >= 0 && elem < len(e.Events) {
			return DurationV(e.Events[elem].Time - e.Time)
		}
		return Value{}
	case IScopeName:
		return StrV(e.Scope)
	case IScopeVersion:
		return StrV(e.ScopeVer)
	}
	var v events.Value
	var ok bool
	switch a.Scope {
	case "span":
		v, ok = e.Attrs.Get(a.Name)
	case "resource":
		v, ok = e.Resource.Get(a.Name)
	case "":
		v, ok = e.Attr(a.Name)
	case "event":
		if elem >= 0 && elem < len(e.Events) {
			v, ok = e.Events[elem].Attrs.Get(a.Name)
		}
	case "link":
		if elem >= 0 && elem < len(e.Links) {
			v, ok = e.Links[elem].Attrs.Get(a.Name)
		}
	case "parent":
		if p := t.parent[i]; p >= 0 {
			v, ok = t.Spans[p].Attr(a.Name)
		}
	}
	if !ok {
		return Value{}
	}
	if v.Type == events.TypeArray {
		return t.array(v.Str)
	}
	return FromEvent(v)
}

// traceIDText is a trace id as Tempo renders trace:id and link:traceID
// (pkg/util/traceid.go, TraceIDToHexString): lowercase hex without its
// leading zeros. Span ids keep their 16 digits (SpanIDToHexString).
func traceIDText(id events.TraceID) string { return strings.TrimLeft(id.String(), "0") }

// FromEvent converts a stored attribute value. An array is decoded (see
// decodeArray); a map stays its JSON text.
func FromEvent(v events.Value) Value {
	switch v.Type {
	case events.TypeArray:
		return decodeArray(v.Str)
	case events.TypeStr, events.TypeMap:
		return StrV(v.Str)
	case events.TypeInt:
		return IntV(v.Int)
	case events.TypeFloat:
		return FloatV(v.Float)
	case events.TypeBool:
		return BoolV(v.Int != 0)
	case events.TypeBytes:
		return StrV(v.String())
	}
	return Value{}
}

// FieldValues evaluates a field on span i of t: one value, or one per
// event (link) when it reads event (link) fields.
func FieldValues(e Expr, t *Trace, i int) []Value {
	n := elems(e, &t.Spans[i])
	if n < 0 {
		return []Value{eval(e, t, i, -1)}
	}
	out := make([]Value, n)
	for k := range out {
		out[k] = eval(e, t, i, k)
	}
	return out
}
