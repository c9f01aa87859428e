package logql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tLBrace
	tRBrace
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
	tPipe     // |
	tPipeEq   // |=
	tPipeRe   // |~
	tPipeLike // |> (pattern line filter)
	tNeq      // != (a line filter after a log selector, else a comparison)
	tNRe      // !~
	tNotLike  // !>
	tEq       // =
	tEqEq     // ==
	tRe       // =~
	tLt
	tLte
	tGt
	tGte
	tAdd
	tSub
	tMul
	tDiv
	tMod
	tPow
	tString
	tNumber
	tDuration
	tBytes
	tIdent
)

var tokNames = map[tokKind]string{
	tEOF: "end of query", tLBrace: "{", tRBrace: "}", tLParen: "(", tRParen: ")", tLBrack: "[", tRBrack: "]",
	tComma: ",", tPipe: "|", tPipeEq: "|=", tPipeRe: "|~", tPipeLike: "|>", tNeq: "!=", tNRe: "!~", tNotLike: "!>",
	tEq: "=", tEqEq: "==", tRe: "=~", tLt: "<", tLte: "<=", tGt: ">", tGte: ">=",
	tAdd: "+", tSub: "-", tMul: "*", tDiv: "/", tMod: "%", tPow: "^",
	tString: "string", tNumber: "number", tDuration: "duration", tBytes: "bytes", tIdent: "identifier",
}

func (k tokKind) String() string { return tokNames[k] }

type token struct {
	kind tokKind
	pos  int
	text string  // source text; a string's unquoted value
	num  float64 // numbers; durations in seconds; bytes
	dur  time.Duration
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return strconv.Quote(t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

var operators = []struct {
	s string
	k tokKind
}{
	{"|=", tPipeEq}, {"|~", tPipeRe}, {"|>", tPipeLike}, {"!=", tNeq}, {"!~", tNRe}, {"!>", tNotLike},
	{"==", tEqEq}, {"=~", tRe}, {"<=", tLte}, {">=", tGte},
	{"{", tLBrace}, {"}", tRBrace}, {"(", tLParen}, {")", tRParen}, {"[", tLBrack}, {"]", tRBrack},
	{",", tComma}, {"|", tPipe}, {"=", tEq}, {"<", tLt}, {">", tGt},
	{"+", tAdd}, {"-", tSub}, {"*", tMul}, {"/", tDiv}, {"%", tMod}, {"^", tPow},
}

// ParseError is a syntax or semantic error at a position of the query.
type ParseError struct {
	Pos int // byte offset
	Msg string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("parse error at position %d: %s", e.Pos+1, e.Msg)
}

func lex(q string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(q) {
			r, n := utf8.DecodeRuneInString(q[i:])
			if r == '#' { // a comment runs to the end of the line
				for i < len(q) && q[i] != '\n' {
					i++
				}
				continue
			}
			if !unicode.IsSpace(r) {
				break
			}
			i += n
		}
		if i >= len(q) {
			return append(toks, token{kind: tEOF, pos: i}), nil
		}
		t, n, err := lexOne(q, i)
		if err != nil {
			return nil, err
		}
		t.pos = i
		toks = append(toks, t)
		i += n
	}
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isIdentByte(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func lexOne(q string, i int) (token, int, error) {
	c := q[i]
	switch {
	case c == '"' || c == '`':
		s, n, err := lexString(q, i)
		return token{kind: tString, text: s}, n, err
	case isDigit(c) || c == '.' && i+1 < len(q) && isDigit(q[i+1]):
		return lexNumber(q, i)
	case isIdentStart(c):
		j := i
		for j < len(q) && isIdentByte(q[j]) {
			j++
		}
		return token{kind: tIdent, text: keyword(q, q[i:j], j)}, j - i, nil
	}
	for _, op := range operators {
		if strings.HasPrefix(q[i:], op.s) {
			return token{kind: op.k, text: op.s}, len(op.s), nil
		}
	}
	r, _ := utf8.DecodeRuneInString(q[i:])
	return token{}, 0, &ParseError{i, fmt.Sprintf("unexpected character %q", r)}
}

// Loki's lexer (pkg/logql/syntax/lex.go) reads keywords in any case:
// lokiKeywords always (they cannot be label names there), lokiFunctions
// when a '(' follows, or by/without and then '(' (isFunction).
var (
	lokiKeywords = map[string]bool{
		"by": true, "without": true, "bool": true, "offset": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true, "or": true, "and": true, "unless": true,
		"json": true, "regexp": true, "logfmt": true, "unpack": true, "pattern": true,
		"label_format": true, "line_format": true, "decolorize": true, "drop": true, "keep": true,
		"unwrap": true,
	}
	lokiFunctions = map[string]bool{
		"rate": true, "rate_counter": true, "count_over_time": true, "bytes_rate": true,
		"bytes_over_time": true, "avg_over_time": true, "sum_over_time": true, "min_over_time": true,
		"max_over_time": true, "stdvar_over_time": true, "stddev_over_time": true,
		"quantile_over_time": true, "first_over_time": true, "last_over_time": true,
		"absent_over_time": true, "vector": true, "sum": true, "avg": true, "max": true, "min": true,
		"count": true, "stddev": true, "stdvar": true, "bottomk": true, "topk": true, "sort": true,
		"sort_desc": true, "approx_topk": true, "label_replace": true, "bytes": true, "duration": true,
		"duration_seconds": true, "ip": true,
	}
)

// keyword returns an identifier as the parser compares it: a keyword
// written in upper or mixed case in lower case, as Loki reads it; any
// other identifier (a label name) as written. end is where it ends in q.
func keyword(q, ident string, end int) string {
	l := strings.ToLower(ident)
	if l != ident && (lokiKeywords[l] || lokiFunctions[l] && isCall(q, end)) {
		return l
	}
	return ident
}

// isCall reports whether q at i continues a function call: blanks and
// '(', or by or without, blanks and '('.
func isCall(q string, i int) bool {
	i = skipBlanks(q, i)
	if i < len(q) && q[i] == '(' {
		return true
	}
	j := i
	for j < len(q) && isIdentByte(q[j]) {
		j++
	}
	if w := strings.ToLower(q[i:j]); w != "by" && w != "without" {
		return false
	}
	j = skipBlanks(q, j)
	return j < len(q) && q[j] == '('
}

func skipBlanks(q string, i int) int {
	for i < len(q) {
		r, n := utf8.DecodeRuneInString(q[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}

// lexString reads a double-quoted string (Go escapes) or a back-quoted raw
// string.
func lexString(q string, i int) (string, int, error) {
	quote := q[i]
	j := i + 1
	for j < len(q) && q[j] != quote {
		if q[j] == '\\' && quote == '"' {
			j++
		}
		j++
	}
	if j >= len(q) {
		return "", 0, &ParseError{i, "unterminated string"}
	}
	if quote == '`' {
		return q[i+1 : j], j + 1 - i, nil
	}
	s, err := strconv.Unquote(q[i : j+1])
	if err != nil {
		return "", 0, &ParseError{i, fmt.Sprintf("invalid string %s: %v", q[i:j+1], err)}
	}
	return s, j + 1 - i, nil
}

// lexNumber reads a number, a duration (5m, 1h30m, 250ms, 1µs) or a byte
// size (20MB, 1.5KiB) as Loki's lexer does: a number, then the longest
// run of digits, '.' and duration units (n u µ m s h d w y) if it makes
// a duration, else the longest run of digits, '.' and byte-size letters
// (B i k K M G T P) if it makes a byte size, else the number alone.
func lexNumber(q string, i int) (token, int, error) {
	j := i
	for j < len(q) && (isDigit(q[j]) || q[j] == '.' || q[j] == '_') {
		j++
	}
	if j < len(q) && (q[j] == 'e' || q[j] == 'E') && j+1 < len(q) && (isDigit(q[j+1]) || (q[j+1] == '-' || q[j+1] == '+') && j+2 < len(q) && isDigit(q[j+2])) {
		j += 2
		for j < len(q) && isDigit(q[j]) {
			j++
		}
	}
	if strings.HasPrefix(q[i:], "0x") || strings.HasPrefix(q[i:], "0X") {
		j = i + 2
		for j < len(q) && strings.IndexByte("0123456789abcdefABCDEF", q[j]) >= 0 {
			j++
		}
	}
	if k := unitEnd(q, j, "numsshdwy", true); k > j {
		if d, err := parseDuration(q[i:k]); err == nil {
			return token{kind: tDuration, text: q[i:k], dur: d, num: d.Seconds()}, k - i, nil
		}
	}
	if k := unitEnd(q, j, "BikKMGTP", false); k > j {
		if b, err := ParseBytes(q[i:k]); err == nil {
			return token{kind: tBytes, text: q[i:k], num: b}, k - i, nil
		}
	}
	text := q[i:j]
	f, err := strconv.ParseFloat(strings.ReplaceAll(text, "_", ""), 64)
	if err != nil {
		if n, err2 := strconv.ParseInt(text, 0, 64); err2 == nil {
			return token{kind: tNumber, text: text, num: float64(n)}, j - i, nil
		}
		return token{}, 0, &ParseError{i, fmt.Sprintf("bad number %q", text)}
	}
	return token{kind: tNumber, text: text, num: f}, j - i, nil
}

// unitEnd returns where the run of digits, '.' and the bytes of units
// (and µ, when micro) starting at j ends.
func unitEnd(q string, j int, units string, micro bool) int {
	for j < len(q) {
		switch {
		case isDigit(q[j]) || q[j] == '.' || strings.IndexByte(units, q[j]) >= 0:
			j++
		case micro && strings.HasPrefix(q[j:], "µ"):
			j += len("µ")
		default:
			return j
		}
	}
	return j
}

// parseDuration reads a duration as Prometheus does (1d, 1w, 1y too) or as
// Go does (1.5s, 1h30m).
func parseDuration(s string) (time.Duration, error) {
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return time.ParseDuration(s)
}
