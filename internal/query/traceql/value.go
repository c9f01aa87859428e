package traceql

import (
	"cmp"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/buger/jsonparser"
)

// Type is the type of a TraceQL value.
type Type uint8

// The types.
const (
	TNil Type = iota
	TStr
	TInt
	TFloat
	TBool
	TDuration
	TStatus
	TKind
	// TArray is an array attribute of two or more strings, numbers or
	// bools: S is its JSON, Elements its elements.
	TArray
	// tAny is the type of an attribute before evaluation: any.
	tAny
)

var typeNames = [...]string{TNil: "nil", TStr: "string", TInt: "int", TFloat: "float", TBool: "bool",
	TDuration: "duration", TStatus: "status", TKind: "kind", TArray: "array", tAny: "attribute"}

func (t Type) String() string { return typeNames[t] }

func (t Type) numeric() bool { return t == TInt || t == TFloat }

// number reports whether t compares as a number: ints, floats and
// durations (in ns) compare with each other, as in Tempo.
func (t Type) number() bool { return t == TInt || t == TFloat || t == TDuration }

// Value is a TraceQL value. Int, duration (ns), status and kind (their
// OTLP numbers) and bool (0 or 1) use I; float uses F; string uses S; an
// array has its JSON in S and its elements in elems.
type Value struct {
	T     Type
	S     string
	I     int64
	F     float64
	elems *[]Value
}

// Elements returns the elements of an array value, nil for other values.
func (v Value) Elements() []Value {
	if v.T != TArray || v.elems == nil {
		return nil
	}
	return *v.elems
}

// Status values, as OTLP numbers them.
var statusNames = [...]string{"unset", "ok", "error"}

// Kind values, as OTLP numbers them.
var kindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}

var keywords = map[string]Value{
	"true": {T: TBool, I: 1}, "false": {T: TBool}, "nil": {},
	"unset": {T: TStatus, I: 0}, "ok": {T: TStatus, I: 1}, "error": {T: TStatus, I: 2},
	"unspecified": {T: TKind, I: 0}, "internal": {T: TKind, I: 1}, "server": {T: TKind, I: 2},
	"client": {T: TKind, I: 3}, "producer": {T: TKind, I: 4}, "consumer": {T: TKind, I: 5},
	"minInt": {T: TInt, I: math.MinInt64}, "maxInt": {T: TInt, I: math.MaxInt64},
}

// StrV makes a string value.
func StrV(s string) Value { return Value{T: TStr, S: s} }

// IntV makes an int value.
func IntV(i int64) Value { return Value{T: TInt, I: i} }

// FloatV makes a float value.
func FloatV(f float64) Value { return Value{T: TFloat, F: f} }

// BoolV makes a bool value.
func BoolV(b bool) Value {
	if b {
		return Value{T: TBool, I: 1}
	}
	return Value{T: TBool}
}

// DurationV makes a duration value.
func DurationV(ns int64) Value { return Value{T: TDuration, I: ns} }

// Text renders the value as Tempo does in search results and tag values:
// status and kind by name, durations as Go durations, nil as "nil".
func (v Value) Text() string {
	switch v.T {
	case TNil:
		return "nil"
	case TStr, TArray:
		return v.S
	case TInt:
		return strconv.FormatInt(v.I, 10)
	case TFloat:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case TBool:
		return strconv.FormatBool(v.I != 0)
	case TDuration:
		return time.Duration(v.I).String()
	case TStatus:
		if v.I >= 0 && int(v.I) < len(statusNames) {
			return statusNames[v.I]
		}
	case TKind:
		if v.I >= 0 && int(v.I) < len(kindNames) {
			return kindNames[v.I]
		}
	}
	return strconv.FormatInt(v.I, 10)
}

// Literal renders the value as TraceQL source.
func (v Value) Literal() string {
	if v.T == TStr {
		return strconv.Quote(v.S)
	}
	return v.Text()
}

// source renders the value as TraceQL source that reads back as the same
// value: Literal, with whole floats as floats (2.0, -0.0) and the
// smallest int as minInt (its digits would read as minus an int too
// large).
func (v Value) source() string {
	switch {
	case v.T == TInt && v.I == math.MinInt64:
		return "minInt"
	case v.T == TFloat:
		if s := v.Text(); !strings.ContainsAny(s, ".eEIN") {
			return s + ".0"
		}
	}
	return v.Literal()
}

func (v Value) float() float64 {
	if v.T == TFloat {
		return v.F
	}
	return float64(v.I)
}

// truthy is how a value reads as a condition: only true is true.
func (v Value) truthy() bool { return v.T == TBool && v.I != 0 }

// compare applies a comparison operator as Tempo does on two scalars. A
// nil value (a missing attribute) compares false with everything; ints,
// floats and durations (as ns) compare as numbers; other values of
// different types never compare true, and an operator a type does not
// have is false: bools, status and kind have = and != only. (= nil and
// != nil are presence tests, arrays compare element by element: both
// are done by the caller.)
func compare(op Op, a, b Value) bool {
	if a.T == TNil || b.T == TNil || !typeHas(op, a.T) || !typeHas(op, b.T) {
		return false
	}
	var c int
	switch {
	case a.T.number() && b.T.number():
		if a.T != TFloat && b.T != TFloat {
			c = cmp.Compare(a.I, b.I)
		} else {
			x, y := a.float(), b.float()
			if math.IsNaN(x) || math.IsNaN(y) {
				return op == OpNeq
			}
			c = cmp.Compare(x, y)
		}
	case a.T != b.T:
		return false
	case a.T == TStr:
		c = cmp.Compare(a.S, b.S)
	default:
		c = cmp.Compare(a.I, b.I)
	}
	switch op {
	case OpEq:
		return c == 0
	case OpNeq:
		return c != 0
	case OpLt:
		return c < 0
	case OpLte:
		return c <= 0
	case OpGt:
		return c > 0
	case OpGte:
		return c >= 0
	}
	return false
}

// typeHas reports whether values of type t take operator op, by Tempo's
// rules (pkg/traceql/enum_operators.go, binaryTypeValid): numbers take
// arithmetic and every comparison, strings every comparison and the
// regular-expression matches, bools && || = !=, nil, status and kind
// = and != only. An attribute (tAny) and an array (element by element)
// take what their values take.
func typeHas(op Op, t Type) bool {
	switch t {
	case tAny, TArray:
		return true
	case TBool:
		return op == OpAnd || op == OpOr || op == OpEq || op == OpNeq || op == OpNot
	case TInt, TFloat, TDuration:
		return op >= OpEq && op <= OpGte || op >= OpAdd && op <= OpNeg
	case TStr:
		return op >= OpEq && op <= OpNRe
	}
	return op == OpEq || op == OpNeq
}

// compareElems applies a comparison with an array on one side, as Tempo
// documents it (docs/sources/tempo/traceql/construct-traceql-queries.md,
// "Find traces with arrays"): = =~ < <= > >= hold if they hold for any
// element; != and !~ only if they hold for every element, that is if no
// element is equal (matches). match is the comparison on one element.
func compareElems(op Op, elems []Value, match func(Value) bool) bool {
	all := op == OpNeq || op == OpNRe
	for _, e := range elems {
		if match(e) != all {
			return !all
		}
	}
	return all && len(elems) > 0
}

// decodeArray reads an array attribute's JSON as Tempo stores arrays
// (vParquet4): two or more strings, numbers or bools of one kind are an
// array; one element is that element; an empty array, or one that mixes
// kinds or holds arrays, maps or nulls, is nil (not queryable). Numbers
// are ints when whole and in range (JSON does not tell a double 2.0 from
// an int 2; the two compare equal anyway). Strings without escapes share
// the JSON text's memory.
func decodeArray(js string) Value {
	trimmed := strings.TrimLeft(js, " \t\r\n")
	if trimmed == "" || trimmed[0] != '[' {
		return Value{}
	}
	data := unsafe.Slice(unsafe.StringData(js), len(js)) // read only
	elems := make([]Value, 0, strings.Count(js, ",")+1)
	kind := jsonparser.Unknown
	ok := true
	_, err := jsonparser.ArrayEach(data, func(raw []byte, t jsonparser.ValueType, _ int, err error) {
		if !ok || err != nil || kind != jsonparser.Unknown && t != kind {
			ok = false
			return
		}
		kind = t
		switch t {
		case jsonparser.String:
			if len(raw) == 0 {
				elems = append(elems, StrV(""))
			} else if strings.IndexByte(unsafe.String(&raw[0], len(raw)), '\\') < 0 {
				elems = append(elems, StrV(unsafe.String(&raw[0], len(raw))))
			} else if str, err := jsonparser.ParseString(raw); err == nil {
				elems = append(elems, StrV(str))
			} else {
				ok = false
			}
		case jsonparser.Number:
			num := unsafe.String(&raw[0], len(raw))
			if i, err := strconv.ParseInt(num, 10, 64); err == nil {
				elems = append(elems, IntV(i))
			} else if f, err := strconv.ParseFloat(num, 64); err == nil {
				elems = append(elems, FloatV(f))
			} else {
				ok = false
			}
		case jsonparser.Boolean:
			elems = append(elems, BoolV(raw[0] == 't'))
		default:
			ok = false
		}
	})
	switch {
	case err != nil || !ok || len(elems) == 0:
		return Value{}
	case len(elems) == 1:
		return elems[0]
	}
	return Value{T: TArray, S: js, elems: &elems}
}

// arith applies an arithmetic operator to numbers and durations; anything
// else gives nil.
func arith(op Op, a, b Value) Value {
	num := func(t Type) bool { return t.numeric() || t == TDuration }
	if !num(a.T) || !num(b.T) {
		return Value{}
	}
	resT := TFloat
	switch {
	case a.T == TDuration || b.T == TDuration:
		resT = TDuration
	case a.T == TInt && b.T == TInt && op != OpDiv && op != OpPow:
		resT = TInt
	}
	if resT == TInt {
		x, y := a.I, b.I
		switch op {
		case OpAdd:
			return IntV(x + y)
		case OpSub:
			return IntV(x - y)
		case OpMul:
			return IntV(x * y)
		case OpMod:
			if y == 0 {
				return Value{}
			}
			return IntV(x % y)
		}
	}
	x, y := a.float(), b.float()
	var r float64
	switch op {
	case OpAdd:
		r = x + y
	case OpSub:
		r = x - y
	case OpMul:
		r = x * y
	case OpDiv:
		if y == 0 {
			return Value{}
		}
		r = x / y
	case OpMod:
		if y == 0 {
			return Value{}
		}
		r = math.Mod(x, y)
	case OpPow:
		r = math.Pow(x, y)
	}
	if resT == TDuration {
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return Value{}
		}
		return DurationV(int64(r))
	}
	return FloatV(r)
}
