package traceql

import (
	"cmp"
	"math"
	"strconv"
	"time"
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
)

var typeNames = [...]string{TNil: "nil", TStr: "string", TInt: "int", TFloat: "float", TBool: "bool",
	TDuration: "duration", TStatus: "status", TKind: "kind"}

func (t Type) String() string { return typeNames[t] }

func (t Type) numeric() bool { return t == TInt || t == TFloat }

// Value is a TraceQL value. Int, duration (ns), status and kind (their
// OTLP numbers) and bool (0 or 1) use I; float uses F; string uses S.
type Value struct {
	T Type
	S string
	I int64
	F float64
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
	case TStr:
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

func (v Value) float() float64 {
	if v.T == TFloat {
		return v.F
	}
	return float64(v.I)
}

// truthy is how a value reads as a condition: only true is true.
func (v Value) truthy() bool { return v.T == TBool && v.I != 0 }

// compare applies a comparison operator. A nil value (a missing
// attribute) compares false with everything; values of different types
// never compare true, except ints with floats. (= nil and != nil are
// presence tests, done by the caller.)
func compare(op Op, a, b Value) bool {
	if a.T == TNil || b.T == TNil {
		return false
	}
	var c int
	switch {
	case a.T.numeric() && b.T.numeric():
		if a.T == TInt && b.T == TInt {
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
	case a.T == TFloat:
		c = cmp.Compare(a.F, b.F)
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
