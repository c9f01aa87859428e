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

func (e *JSONError) Error() string {
	return fmt.Sprintf("%s at byte %d", e.Msg, e.Offset)
}

// Walk reads the first JSON value of b (text after it is not read) and
// reports its objects, arrays and scalars to v. It does not recurse, so
// any depth costs the same stack; maxDepth > 0 refuses objects and arrays
// nested deeper than that with a *JSONError (the top value is depth 1).
// It checks only the structure (strings terminated, brackets matched,
// nothing cut short); it accepts a superset of JSON. It returns the offset
// just past the value, and v's error or a *JSONError.
func Walk(b []byte, maxDepth int, v Visitor) (int, error) {
	var (
		sbuf      [32]bool
		stack     = sbuf[:0] // true: array
		kbuf      [64]byte
		key       []byte
		haveKey   bool // key is the name of the member whose value is next
		expectKey bool // in an object, where a member name may stand
	)
	inObject := func() bool { return len(stack) > 0 && !stack[len(stack)-1] }
	memberKey := func() []byte {
		if haveKey && inObject() {
			return key
		}
		return nil
	}
	i := 0
	for i < len(b) {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r', ':':
			i++
		case ',':
			expectKey = inObject()
			haveKey = false
			i++
		case '"':
			end, esc := stringEnd(b, i+1)
			if end < 0 {
				return i, &JSONError{Offset: i, Msg: "unterminated string"}
			}
			if expectKey && inObject() {
				key, haveKey, expectKey = b[i+1:end-1], true, false
				if esc {
					// A bad escape keeps the name as written.
					if k, err := jsonparser.Unescape(key, kbuf[:]); err == nil {
						key = k
					}
				}
				i = end
				continue
			}
			if err := v.Scalar(memberKey(), b[i:end]); err != nil {
				return i, err
			}
			haveKey = false
			i = end
			if len(stack) == 0 {
				return i, nil
			}
		case '{', '[':
			if maxDepth > 0 && len(stack) >= maxDepth {
				return i, &JSONError{Offset: i, Depth: maxDepth, Msg: fmt.Sprintf("JSON nested more than %d levels deep", maxDepth)}
			}
			if err := v.Open(memberKey(), c == '[', i); err != nil {
				return i, err
			}
			stack = append(stack, c == '[')
			haveKey, expectKey = false, c == '{'
			i++
		case '}', ']':
			if len(stack) == 0 || stack[len(stack)-1] != (c == ']') {
				return i, &JSONError{Offset: i, Msg: fmt.Sprintf("unexpected %q", c)}
			}
			stack = stack[:len(stack)-1]
			i++
			if err := v.Close(i); err != nil {
				return i, err
			}
			haveKey, expectKey = false, false
			if len(stack) == 0 {
				return i, nil
			}
		default:
			j := i + 1
			for j < len(b) && !isDelim(b[j]) {
				j++
			}
			if err := v.Scalar(memberKey(), b[i:j]); err != nil {
				return i, err
			}
			haveKey = false
			i = j
			if len(stack) == 0 {
				return i, nil
			}
		}
	}
	if len(stack) > 0 {
		return i, &JSONError{Offset: i, Msg: "unexpected end of JSON"}
	}
	return i, nil
}

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
