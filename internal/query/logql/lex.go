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
		return token{kind: tIdent, text: q[i:j]}, j - i, nil
	}
	for _, op := range operators {
		if strings.HasPrefix(q[i:], op.s) {
			return token{kind: op.k, text: op.s}, len(op.s), nil
		}
	}
	r, _ := utf8.DecodeRuneInString(q[i:])
	return token{}, 0, &ParseError{i, fmt.Sprintf("unexpected character %q", r)}
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

// lexNumber reads a number, a duration (5m, 1h30m, 250ms) or a byte size
// (20MB, 1.5KiB).
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
	k := j
	for k < len(q) && (isIdentByte(q[k]) || q[k] == '.') {
		k++
	}
	text := q[i:k]
	if k == j {
		f, err := strconv.ParseFloat(strings.ReplaceAll(text, "_", ""), 64)
		if err != nil {
			if n, err2 := strconv.ParseInt(text, 0, 64); err2 == nil {
				return token{kind: tNumber, text: text, num: float64(n)}, k - i, nil
			}
			return token{}, 0, &ParseError{i, fmt.Sprintf("bad number %q", text)}
		}
		return token{kind: tNumber, text: text, num: f}, k - i, nil
	}
	if d, err := parseDuration(text); err == nil {
		return token{kind: tDuration, text: text, dur: d, num: d.Seconds()}, k - i, nil
	}
	if b, err := ParseBytes(text); err == nil {
		return token{kind: tBytes, text: text, num: b}, k - i, nil
	}
	return token{}, 0, &ParseError{i, fmt.Sprintf("bad number, duration or byte size %q", text)}
}

// parseDuration reads a duration as Prometheus does (1d, 1w, 1y too) or as
// Go does (1.5s, 1h30m).
func parseDuration(s string) (time.Duration, error) {
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return time.ParseDuration(s)
}
