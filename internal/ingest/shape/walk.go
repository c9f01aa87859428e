package shape

import (
	"fmt"

	"github.com/buger/jsonparser"
)

// Visitor receives what Walk finds in a JSON document, in order.
// Returning an error stops the walk with that error.
type Visitor interface {
	// Open is called where an object (array false) or an array starts.
	// key is the member name it stands under, unescaped when its escapes
	// are valid (valid until the next call); nil for an array element or
	// the top value. off is the
	// offset of its '{' or '['.
	Open(key []byte, array bool, off int) error
	// Close is called where the object or array opened last ends; end is
	// the offset just past its '}' or ']'.
	Close(end int) error
	// Scalar is called for a string, number, true, false or null. key is
	// as for Open; value is the raw text (a string with its quotes and
	// escapes, a number or literal as written, not validated).
	Scalar(key, value []byte) error
}

// JSONError is a document Walk cannot read: one that is cut short, has an
// unterminated string, a bracket that closes what it did not open, or
// that nests deeper than the walk's limit (Depth).
type JSONError struct {
	// Offset is the byte offset of the problem.
	Offset int
	// Depth is the nesting limit passed when the document passed it, 0
	// for a syntax error.
	Depth int
	// Msg says what is wrong.
	Msg string
}

// Error says what is wrong and where: "unexpected ']' at byte 12".
func (e *JSONError) Error() string {
	return fmt.Sprintf("%s at byte %d", e.Msg, e.Offset)
}

// Walk reads the first JSON value of b (text after it is not read) and
// reports its objects, arrays and scalars to v. It does not recurse, so
// any depth costs the same stack; maxDepth > 0 refuses objects and arrays
// nested deeper than that with a *JSONError (the top value is depth 1).
// It checks the structure (strings terminated, brackets matched, names,
// colons and commas where they belong; a comma before a closing bracket
// is let through, as jsonparser does) but not the text of numbers and
// literals: it accepts every JSON document and a few more. It returns the
// offset just past the value, and v's error or a *JSONError.
func Walk(b []byte, maxDepth int, v Visitor) (int, error) {
	var (
		sbuf  [32]bool
		stack = sbuf[:0] // true: array
		kbuf  []byte     // unescaped names, allocated on the first
		key   []byte     // the name of the member whose value is next
		want  = wantValue
	)
	unexpected := func(i int, what string) error {
		return &JSONError{Offset: i, Msg: "unexpected " + what}
	}
	// afterValue moves past a value: to the end of the walk at the top.
	afterValue := func() bool {
		want, key = wantComma, nil
		return len(stack) == 0
	}
	i := 0
	for i < len(b) {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case ':':
			if want != wantColon {
				return i, unexpected(i, "':'")
			}
			want = wantValue
			i++
		case ',':
			if want != wantComma {
				return i, unexpected(i, "','")
			}
			want = wantValue
			if !stack[len(stack)-1] {
				want = wantKey
			}
			i++
		case '"':
			end, esc := stringEnd(b, i+1)
			if end < 0 {
				return i, &JSONError{Offset: i, Msg: "unterminated string"}
			}
			switch want {
			case wantKey, wantKeyOrClose:
				key, want = b[i+1:end-1], wantColon
				if esc {
					// A bad escape keeps the name as written.
					if k, err := jsonparser.Unescape(key, kbuf[:cap(kbuf)]); err == nil {
						key, kbuf = k, k[:0]
					}
				}
				i = end
				continue
			case wantValue, wantValueOrClose:
			default:
				return i, unexpected(i, "string")
			}
			if err := v.Scalar(key, b[i:end]); err != nil {
				return i, err
			}
			i = end
			if afterValue() {
				return i, nil
			}
		case '{', '[':
			if want != wantValue && want != wantValueOrClose {
				return i, unexpected(i, fmt.Sprintf("%q", c))
			}
			if maxDepth > 0 && len(stack) >= maxDepth {
				return i, &JSONError{Offset: i, Depth: maxDepth, Msg: fmt.Sprintf("JSON nested more than %d levels deep", maxDepth)}
			}
			if err := v.Open(key, c == '[', i); err != nil {
				return i, err
			}
			stack = append(stack, c == '[')
			key, want = nil, wantKeyOrClose
			if c == '[' {
				want = wantValueOrClose
			}
			i++
		case '}', ']':
			array := c == ']'
			if len(stack) == 0 || stack[len(stack)-1] != array {
				return i, unexpected(i, fmt.Sprintf("%q", c))
			}
			switch {
			case want == wantComma, want == wantKeyOrClose && !array, want == wantValueOrClose && array:
			case want == wantKey && !array, want == wantValue && array: // a comma before it
			default:
				return i, unexpected(i, fmt.Sprintf("%q", c))
			}
			stack = stack[:len(stack)-1]
			i++
			if err := v.Close(i); err != nil {
				return i, err
			}
			if afterValue() {
				return i, nil
			}
		default:
			if want != wantValue && want != wantValueOrClose {
				return i, unexpected(i, fmt.Sprintf("%q", c))
			}
			j := i + 1
			for j < len(b) && !isDelim(b[j]) {
				j++
			}
			if err := v.Scalar(key, b[i:j]); err != nil {
				return i, err
			}
			i = j
			if afterValue() {
				return i, nil
			}
		}
	}
	if len(stack) > 0 || want != wantValue {
		return i, &JSONError{Offset: i, Msg: "unexpected end of JSON"}
	}
	return i, nil
}

// What Walk expects next.
const (
	wantValue = iota
	wantValueOrClose
	wantKey
	wantKeyOrClose
	wantColon
	wantComma
)

// isDelim tells the bytes that end a number or literal.
func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', ']', '}', '"', '{', '[':
		return true
	}
	return false
}

// stringEnd returns the offset just past the closing quote of the string
// whose contents start at i (-1 if it is not terminated), and whether it
// has a backslash.
func stringEnd(b []byte, i int) (int, bool) {
	esc := false
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i + 1, esc
		case '\\':
			esc = true
			i++
		}
	}
	return -1, esc
}
