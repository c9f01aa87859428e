package traceql

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
	tComma
	tPipe
	tNot  // !
	tAnd  // &&
	tOr   // ||
	tEq   // =
	tNeq  // !=
	tLt   // <
	tLte  // <=
	tGt   // >
	tGte  // >=
	tRe   // =~
	tNRe  // !~ (also "not sibling" between spansets)
	tAdd  // +
	tSub  // -
	tMul  // *
	tDiv  // /
	tMod  // %
	tPow  // ^
	tDesc // >>
	tAnc  // <<
	tSibl // ~
	tNotChild
	tNotParent
	tNotDesc
	tNotAnc
	tUnionChild  // &>
	tUnionParent // &<
	tUnionDesc   // &>>
	tUnionAnc    // &<<
	tUnionSibl   // &~
	tString
	tInt
	tFloat
	tDuration
	tIdent     // keywords, intrinsics, function names
	tAttribute // .x, span.x, resource.x ...
	tScoped    // span:name, trace:id ...
)

var tokNames = map[tokKind]string{
	tEOF: "end of query", tLBrace: "{", tRBrace: "}", tLParen: "(", tRParen: ")", tComma: ",", tPipe: "|",
	tNot: "!", tAnd: "&&", tOr: "||", tEq: "=", tNeq: "!=", tLt: "<", tLte: "<=", tGt: ">", tGte: ">=",
	tRe: "=~", tNRe: "!~", tAdd: "+", tSub: "-", tMul: "*", tDiv: "/", tMod: "%", tPow: "^",
	tDesc: ">>", tAnc: "<<", tSibl: "~", tNotChild: "!>", tNotParent: "!<", tNotDesc: "!>>", tNotAnc: "!<<",
	tUnionChild: "&>", tUnionParent: "&<", tUnionDesc: "&>>", tUnionAnc: "&<<", tUnionSibl: "&~",
	tString: "string", tInt: "integer", tFloat: "number", tDuration: "duration", tIdent: "identifier",
	tAttribute: "attribute", tScoped: "intrinsic",
}

func (k tokKind) String() string { return tokNames[k] }

type token struct {
	kind tokKind
	pos  int    // byte offset
	text string // source text; for strings the unquoted value
	// attributes: scope and name
	scope string
	name  string
	i     int64
	f     float64
}

// operators, longest first.
var operators = []struct {
	s string
	k tokKind
}{
	{"!>>", tNotDesc}, {"!<<", tNotAnc}, {"&>>", tUnionDesc}, {"&<<", tUnionAnc},
	{"&&", tAnd}, {"||", tOr}, {"!=", tNeq}, {"<=", tLte}, {">=", tGte}, {"=~", tRe}, {"!~", tNRe},
	{">>", tDesc}, {"<<", tAnc}, {"!>", tNotChild}, {"!<", tNotParent},
	{"&>", tUnionChild}, {"&<", tUnionParent}, {"&~", tUnionSibl},
	{"{", tLBrace}, {"}", tRBrace}, {"(", tLParen}, {")", tRParen}, {",", tComma}, {"|", tPipe},
	{"!", tNot}, {"=", tEq}, {"<", tLt}, {">", tGt}, {"+", tAdd}, {"-", tSub}, {"*", tMul},
	{"/", tDiv}, {"%", tMod}, {"^", tPow}, {"~", tSibl},
}

// attribute scopes written scope.name
var attrScopes = map[string]bool{"span": true, "resource": true, "event": true, "link": true, "instrumentation": true, "parent": true}

// intrinsic scopes written scope:name
var intrinsicScopes = map[string]bool{"span": true, "trace": true, "event": true, "link": true, "instrumentation": true}

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
			if !unicode.IsSpace(r) {
				break
			}
			i += n
		}
		if i >= len(q) {
			toks = append(toks, token{kind: tEOF, pos: i})
			return toks, nil
		}
		t, n, err := lexOne(q, i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		i += n
	}
}

func isAttrRune(r rune) bool {
	if unicode.IsSpace(r) {
		return false
	}
	switch r {
	case utf8.RuneError, '{', '}', '(', ')', '=', '~', '!', '<', '>', '&', '|', '^', ',':
		return false
	}
	return true
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentByte(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// lexAttrName reads an attribute name from q[i:]: runs of attribute runes
// and quoted parts ("with spaces"). It returns the name and its length.
func lexAttrName(q string, i int) (string, int, error) {
	var b strings.Builder
	j := i
	for j < len(q) {
		if q[j] == '"' {
			k := j + 1
			for ; k < len(q) && q[k] != '"'; k++ {
				if q[k] == '\\' {
					if k+1 >= len(q) || q[k+1] != '\\' && q[k+1] != '"' {
						return "", 0, &ParseError{k, `invalid escape in quoted attribute name (only \\ and \")`}
					}
					k++
					b.WriteByte(q[k])
					continue
				}
				b.WriteByte(q[k])
			}
			if k >= len(q) {
				return "", 0, &ParseError{j, "unterminated quoted attribute name"}
			}
			j = k + 1
			continue
		}
		r, n := utf8.DecodeRuneInString(q[j:])
		if !isAttrRune(r) {
			break
		}
		b.WriteString(q[j : j+n])
		j += n
	}
	if b.Len() == 0 {
		return "", 0, &ParseError{i, "attribute name expected"}
	}
	return b.String(), j - i, nil
}

func lexOne(q string, i int) (token, int, error) {
	c := q[i]
	switch {
	case c == '.' && i+1 < len(q) && (q[i+1] < '0' || q[i+1] > '9'):
		name, n, err := lexAttrName(q, i+1)
		if err != nil {
			return token{}, 0, err
		}
		return token{kind: tAttribute, pos: i, text: q[i : i+1+n], name: name}, 1 + n, nil
	case c == '"' || c == '`':
		return lexString(q, i)
	case c >= '0' && c <= '9' || c == '.':
		return lexNumber(q, i)
	case isIdentStart(c):
		j := i
		for j < len(q) && isIdentByte(q[j]) {
			j++
		}
		word := q[i:j]
		if j < len(q) && q[j] == '.' && attrScopes[word] {
			name, n, err := lexAttrName(q, j+1)
			if err != nil {
				return token{}, 0, err
			}
			return token{kind: tAttribute, pos: i, text: q[i : j+1+n], scope: word, name: name}, j + 1 + n - i, nil
		}
		if j < len(q) && q[j] == ':' && intrinsicScopes[word] {
			k := j + 1
			for k < len(q) && isIdentByte(q[k]) {
				k++
			}
			if k == j+1 {
				return token{}, 0, &ParseError{j + 1, fmt.Sprintf("intrinsic name expected after %q", word+":")}
			}
			return token{kind: tScoped, pos: i, text: q[i:k], scope: word, name: q[j+1 : k]}, k - i, nil
		}
		return token{kind: tIdent, pos: i, text: word}, j - i, nil
	}
	for _, op := range operators {
		if strings.HasPrefix(q[i:], op.s) {
			return token{kind: op.k, pos: i, text: op.s}, len(op.s), nil
		}
	}
	r, _ := utf8.DecodeRuneInString(q[i:])
	return token{}, 0, &ParseError{i, fmt.Sprintf("unexpected character %q", r)}
}

func lexString(q string, i int) (token, int, error) {
	quote := q[i]
	j := i + 1
	for j < len(q) && q[j] != quote {
		if q[j] == '\\' && quote == '"' {
			j++
		}
		j++
	}
	if j >= len(q) {
		return token{}, 0, &ParseError{i, "unterminated string"}
	}
	raw := q[i : j+1]
	var s string
	if quote == '`' {
		s = raw[1 : len(raw)-1]
	} else {
		var err error
		if s, err = strconv.Unquote(raw); err != nil {
			return token{}, 0, &ParseError{i, fmt.Sprintf("invalid string %s: %v", raw, err)}
		}
	}
	return token{kind: tString, pos: i, text: s}, j + 1 - i, nil
}

func isDurationUnit(c byte) bool {
	switch c {
	case 'n', 's', 'u', 'm', 'h', 'd', 'w', 'y':
		return true
	}
	return false
}

func lexNumber(q string, i int) (token, int, error) {
	j := i
	for j < len(q) && (q[j] >= '0' && q[j] <= '9' || q[j] == '.' || q[j] == '_') {
		j++
	}
	// An exponent: 1e6, 2.5E-3.
	if j < len(q) && (q[j] == 'e' || q[j] == 'E') {
		k := j + 1
		if k < len(q) && (q[k] == '+' || q[k] == '-') {
			k++
		}
		if k < len(q) && q[k] >= '0' && q[k] <= '9' {
			for k < len(q) && q[k] >= '0' && q[k] <= '9' {
				k++
			}
			j = k
		}
	}
	// A duration: digits and units, repeated (1h30m, 1.5s, 100µs).
	k := j
	for k < len(q) {
		if isDurationUnit(q[k]) || q[k] >= '0' && q[k] <= '9' || q[k] == '.' {
			k++
			continue
		}
		if strings.HasPrefix(q[k:], "µ") {
			k += len("µ")
			continue
		}
		break
	}
	if k > j {
		text := q[i:k]
		d, err := parseDuration(text)
		if err != nil {
			return token{}, 0, &ParseError{i, fmt.Sprintf("invalid duration %q", text)}
		}
		return token{kind: tDuration, pos: i, text: text, i: int64(d)}, k - i, nil
	}
	text := q[i:j]
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return token{kind: tInt, pos: i, text: text, i: n, f: float64(n)}, j - i, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return token{}, 0, &ParseError{i, fmt.Sprintf("invalid number %q", text)}
	}
	return token{kind: tFloat, pos: i, text: text, f: f}, j - i, nil
}

// parseDuration reads Prometheus durations (1d, 1w, 1y, 1h30m) and Go's
// (1.5s, 100us, 100µs, 10ns).
func parseDuration(s string) (time.Duration, error) {
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return time.ParseDuration(s)
}
