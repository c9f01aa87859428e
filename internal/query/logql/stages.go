package logql

// Text-processing primitives behind LogQL's pipeline stages: the logfmt,
// json and pattern parsers, the pattern line filter, decolorize, and the
// bytes and duration conversions. They follow Grafana Loki's
// pkg/logql/log implementation; where Loki has a bug and its documentation
// says otherwise, the documentation wins and the doc comment says so.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/buger/jsonparser"
	"github.com/grafana/regexp"

	"github.com/horus-obs/horus/internal/ingest/shape"
	"github.com/horus-obs/horus/internal/store/events"
)

// LogfmtSyntaxError is the error Logfmt returns in strict mode. Its message
// is Loki's, which ends up in __error_details__.
type LogfmtSyntaxError struct {
	Msg string // what is wrong, e.g. `unexpected '='`
	Pos int    // 1-based byte offset in the line
}

func (e *LogfmtSyntaxError) Error() string {
	return fmt.Sprintf("logfmt syntax error at pos %d : %s", e.Pos, e.Msg)
}

// Logfmt calls emit for every key=value pair of a logfmt line, as Loki's
// `| logfmt` does (its fork of go-logfmt's decoder):
//
//   - `key=value`, `key="quoted \"value\""` (JSON-style escapes) and bare
//     `key` (empty value) are pairs; pairs are separated by bytes <= ' '.
//   - A pair with an empty value (bare key, `key=`, `key=""`) is dropped
//     unless keepEmpty is set (`--keep-empty`).
//   - Malformed pairs (`=value`, `foo=bar=buzz`, `fo"o=bar`, an unterminated
//     or badly escaped quote, a key with invalid UTF-8) are skipped and
//     parsing continues; with strict (`--strict`) parsing stops at the first
//     one and its *LogfmtSyntaxError is returned, after the pairs before it
//     were emitted.
//   - Invalid UTF-8 and U+FFFD in values become spaces, as Prometheus
//     rejects them.
//
// Keys are emitted raw; the caller sanitizes them into label names. Keys and
// values alias line unless they had to be unescaped or repaired.
func Logfmt(line string, strict, keepEmpty bool, emit func(key, value string)) error {
	d := logfmtDecoder{line: line}
	for d.pos < len(line) {
		if !d.scan() {
			if strict {
				break
			}
			continue
		}
		val := d.value
		if strings.ContainsRune(val, utf8.RuneError) {
			val = strings.Map(invalidUTF8ToSpace, val)
		}
		if !keepEmpty && val == "" {
			continue
		}
		emit(d.key, val)
	}
	if strict && d.errMsg != "" {
		return d.err()
	}
	return nil
}

func invalidUTF8ToSpace(r rune) rune {
	if r == utf8.RuneError {
		return ' '
	}
	return r
}

// logfmtDecoder scans one line. Errors are recorded without allocating and
// turned into an error value only when strict mode returns one.
type logfmtDecoder struct {
	line       string
	pos        int
	key, value string

	errMsg  string // "" when no error
	errByte byte   // for errMsg == "unexpected"
	errPos  int
}

func (d *logfmtDecoder) err() error {
	msg := d.errMsg
	if msg == "unexpected" {
		msg = fmt.Sprintf("unexpected %q", d.errByte)
	}
	return &LogfmtSyntaxError{Msg: msg, Pos: d.errPos + 1}
}

func (d *logfmtDecoder) fail(msg string) {
	d.errMsg, d.errPos = msg, d.pos
}

func (d *logfmtDecoder) unexpected(c byte) {
	d.errMsg, d.errByte, d.errPos = "unexpected", c, d.pos
}

// scan advances to the next pair and reports whether one was found; false
// means end of line or a malformed pair (recorded with fail).
func (d *logfmtDecoder) scan() bool {
	d.key, d.value = "", ""
	line := d.line

	// Skip the separators before the key.
	for d.pos < len(line) && line[d.pos] <= ' ' {
		d.pos++
	}
	if d.pos >= len(line) {
		return false
	}

	// Key.
	start, multibyte := d.pos, false
	for ; d.pos < len(line); d.pos++ {
		c := line[d.pos]
		switch {
		case c == '=':
			if d.pos == start {
				d.unexpected(c)
				return d.skipValue()
			}
			d.key = line[start:d.pos]
			if multibyte && strings.ContainsRune(d.key, utf8.RuneError) {
				d.fail("invalid key")
				return d.skipValue()
			}
			return d.scanValue()
		case c == '"':
			d.unexpected(c)
			return d.skipValue()
		case c <= ' ':
			d.key = line[start:d.pos]
			if multibyte && strings.ContainsRune(d.key, utf8.RuneError) {
				d.fail("invalid key")
				return false
			}
			return true
		case c >= utf8.RuneSelf:
			multibyte = true
		}
	}
	d.key = line[start:]
	if multibyte && strings.ContainsRune(d.key, utf8.RuneError) {
		d.fail("invalid key")
		return false
	}
	return true
}

// scanValue reads the value after the '=' at d.pos.
func (d *logfmtDecoder) scanValue() bool {
	line := d.line
	d.pos++
	if d.pos >= len(line) || line[d.pos] <= ' ' {
		return true
	}
	if line[d.pos] == '"' {
		return d.scanQuoted()
	}
	start := d.pos
	for ; d.pos < len(line); d.pos++ {
		c := line[d.pos]
		switch {
		case c == '=' || c == '"':
			d.unexpected(c)
			return d.skipValue()
		case c <= ' ':
			d.value = line[start:d.pos]
			return true
		}
	}
	d.value = line[start:]
	return true
}

// skipValue moves past the rest of a malformed pair.
func (d *logfmtDecoder) skipValue() bool {
	for d.pos < len(d.line) && d.line[d.pos] > ' ' {
		d.pos++
	}
	return false
}

func (d *logfmtDecoder) scanQuoted() bool {
	line := d.line
	start := d.pos // the opening quote
	hasEsc, esc := false, false
	for i := start + 1; i < len(line); i++ {
		c := line[i]
		switch {
		case esc:
			esc = false
		case c == '\\':
			hasEsc, esc = true, true
		case c == '"':
			d.pos = i + 1
			if !hasEsc {
				d.value = line[start+1 : i]
				return true
			}
			v, ok := logfmtUnquote(line[start+1 : i])
			if !ok {
				d.fail("invalid quoted value")
				return false
			}
			d.value = v
			return true
		}
	}
	d.pos = len(line)
	d.fail("unterminated quoted value")
	return false
}

// logfmtUnquote undoes JSON-style escapes (plus \'), as go-logfmt does;
// invalid UTF-8 becomes U+FFFD.
func logfmtUnquote(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			if r >= len(s) {
				return "", false
			}
			switch s[r] {
			case '"', '\\', '/', '\'':
				b = append(b, s[r])
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := logfmtU4(s[r-1:])
				if rr < 0 {
					return "", false
				}
				r += 5 // past the four hex digits
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, logfmtU4(s[r:])); dec != utf8.RuneError {
						r += 6
						b = utf8.AppendRune(b, dec)
						continue
					}
					rr = utf8.RuneError
				}
				b = utf8.AppendRune(b, rr)
				continue
			default:
				return "", false
			}
			r++
		case c == '"':
			return "", false
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRuneInString(s[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	return string(b), true
}

// logfmtU4 decodes the `\uXXXX` at the start of s, or returns -1.
func logfmtU4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	n, err := strconv.ParseUint(s[2:6], 16, 32)
	if err != nil {
		return -1
	}
	return rune(n)
}

// Errors of the json and unpack parsers; the caller sets
// __error__="JSONParserErr" and uses the message as __error_details__.
// Their texts are those of the JSON scanner Loki uses
// (github.com/grafana/jsonparser), so that the same lines get the same
// labels; the situations each names are jsonparser's ObjectEach's.
var (
	// ErrJSONObject: the line (after blanks) does not start with '{', a
	// member does not start with a quote, the text after a value is not
	// ',' or '}', or a nested object is not closed.
	ErrJSONObject = errors.New("Value looks like object, but can't find closing '}' symbol") //nolint:staticcheck // jsonparser's text
	// ErrJSONMalformed: the object or a key is cut short, or a key has
	// no ':'.
	ErrJSONMalformed = errors.New("Malformed JSON error") //nolint:staticcheck // jsonparser's text
	// ErrJSONString: a string value is not closed.
	ErrJSONString = errors.New("Value is string, but can't find closing '\"' symbol") //nolint:staticcheck // jsonparser's text
	// ErrJSONArray: an array value is not closed, or the line ends after
	// a value or a comma (jsonparser says "array" there too).
	ErrJSONArray = errors.New("Value is array, but can't find closing ']' symbol") //nolint:staticcheck // jsonparser's text
	// ErrJSONValue: a value is not a string, number, object, array,
	// true, false or null.
	ErrJSONValue = errors.New("Unknown value type") //nolint:staticcheck // jsonparser's text
	// ErrJSONEscape: a key has an invalid escape sequence.
	ErrJSONEscape = errors.New("Encountered an invalid escape sequence in a string") //nolint:staticcheck // jsonparser's text
	// ErrJSONNotObject: `| unpack` on a line that does not start with
	// '{' (Loki's errUnexpectedJSONObject, jsoniter.ObjectValue being 6);
	// also ValidateJSONLine's error.
	ErrJSONNotObject = errors.New("expecting json object(6), but it is not")
	// ErrJSONTooDeep means objects nest deeper than shape.MaxDepth, the
	// depth Horus' ingest takes JSON to; the fields before are emitted.
	// Loki has no such limit.
	ErrJSONTooDeep = fmt.Errorf("json objects nested more than %d levels deep", shape.MaxDepth)
)

// JSONFields calls emit for every field of the JSON object in line, as
// Loki's `| json` without parameters does:
//
//   - nested objects are flattened with '_' between the parts
//     (`{"a":{"b":1}}` gives a_b="1");
//   - keys are sanitized as Loki does it (each part trimmed, bytes outside
//     [A-Za-z0-9_] become '_', a leading digit gets a '_' prefix, a part
//     that trims to "" is left out), so the emitted key is already a
//     valid label name, and a key that sanitizes to "" is skipped;
//   - strings are unescaped (a bad escape gives ""; invalid UTF-8 and U+FFFD
//     become spaces), numbers are their text, booleans "true"/"false";
//   - arrays and nulls are skipped: Loki documents "Arrays are skipped" and
//     sets no label for null.
//
// Fields before a syntax error are emitted before the error is returned
// (a nested object that is not closed is an error before its fields, as
// jsonparser finds its end first); the errors are ErrJSONObject,
// ErrJSONMalformed, ErrJSONString, ErrJSONArray, ErrJSONValue and
// ErrJSONEscape where jsonparser returns them. Objects nested deeper than
// shape.MaxDepth are ErrJSONTooDeep (the flattened keys, one part a
// level, and the work per line stay small). Like Loki, the scan is
// lenient: text after the closing brace is ignored, a trailing comma is
// accepted and number tokens are not validated. Keys and values alias
// line when they need no unescaping or sanitizing.
func JSONFields(line string, emit func(key, value string)) error {
	return jsonWalk(line, emit, nil)
}

// JSONFieldPaths is JSONFields that also gives each field's JSON path,
// as Loki's JSONParser records it for detected fields (captureJSONPath):
// the keys from the line's object down to the field, unescaped but not
// sanitized, a part that trims to "" kept (`{"error":{"code":1}}` gives
// error_code with ["error", "code"]). path is only valid during the call.
func JSONFieldPaths(line string, emit func(key string, path []string, value string)) error {
	var tr jsonPathTracker
	return jsonWalk(line, func(k, v string) {
		emit(k, append(tr.objs, tr.key), v)
	}, &tr)
}

// jsonPathTracker follows the keys of the objects jsonWalk is in.
type jsonPathTracker struct {
	objs []string // the keys of the enclosing objects below the line's
	key  string   // the key of the field being emitted
}

// jsonWalk is JSONFields, following the keys in tr when it is not nil.
func jsonWalk(line string, emit func(key, value string), tr *jsonPathTracker) error {
	var (
		pbuf   [128]byte
		prefix = pbuf[:0] // sanitized key path of the current object
		sbuf   [16]int
		stack  = sbuf[:0] // prefix lengths of the enclosing objects
		kbuf   [64]byte
		key    []byte
		rawKey string
		i      int
	)
	i = jsonSkipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return ErrJSONObject
	}
	i++

objectStart:
	i = jsonSkipSpace(line, i)
	if i >= len(line) {
		return ErrJSONMalformed
	}

member:
	switch line[i] {
	case '}':
		goto objectEnd
	case '"':
	default:
		return ErrJSONObject
	}
	{
		end, esc := jsonStringEnd(line, i+1)
		if end < 0 {
			return ErrJSONMalformed
		}
		rawKey = line[i+1 : end-1]
		key = bytesOf(rawKey)
		if esc {
			k, err := jsonparser.Unescape(key, kbuf[:])
			if err != nil {
				return ErrJSONEscape
			}
			key = k
		}
		i = jsonSkipSpace(line, end)
		if i >= len(line) || line[i] != ':' {
			return ErrJSONMalformed
		}
		i = jsonSkipSpace(line, i+1)
		if i >= len(line) {
			return ErrJSONMalformed
		}
	}
	switch c := line[i]; c {
	case '"':
		end, esc := jsonStringEnd(line, i+1)
		if end < 0 {
			return ErrJSONString
		}
		if tr != nil {
			tr.key = string(key)
		}
		jsonEmitLeaf(emit, prefix, rawKey, key, jsonStringValue(line[i+1:end-1], esc))
		i = end
	case '{':
		if jsonBlockEnd(line[i:], '{', '}') < 0 {
			return ErrJSONObject
		}
		if len(stack)+1 >= shape.MaxDepth { // the line's object is a level
			return ErrJSONTooDeep
		}
		stack = append(stack, len(prefix))
		if tr != nil {
			tr.objs = append(tr.objs, string(key))
		}
		if part := trimJSONKey(key); len(part) > 0 {
			if len(prefix) != 0 {
				prefix = append(prefix, '_')
			}
			prefix = appendSanitizedKey(prefix, part)
		}
		i++
		goto objectStart
	case '[':
		n := jsonBlockEnd(line[i:], '[', ']')
		if n < 0 {
			return ErrJSONArray
		}
		i += n
	default:
		n := jsonTokenEnd(line[i:])
		tok := line[i : i+n]
		switch {
		case c == 't' || c == 'f':
			if tok != "true" && tok != "false" {
				return ErrJSONValue
			}
			if tr != nil {
				tr.key = string(key)
			}
			jsonEmitLeaf(emit, prefix, rawKey, key, tok)
		case c == 'n' || c == 'u':
			if tok != "null" {
				return ErrJSONValue
			}
		case c == '-' || (c >= '0' && c <= '9'):
			if tr != nil {
				tr.key = string(key)
			}
			jsonEmitLeaf(emit, prefix, rawKey, key, jsonValidUTF8(tok)) // lenient: may be garbage
		default:
			return ErrJSONValue
		}
		i += n
	}

afterValue:
	i = jsonSkipSpace(line, i)
	if i >= len(line) {
		return ErrJSONArray
	}
	switch line[i] {
	case '}':
		goto objectEnd
	case ',':
		i = jsonSkipSpace(line, i+1)
		if i >= len(line) {
			return ErrJSONArray
		}
		goto member // jsonparser accepts a trailing comma
	default:
		return ErrJSONObject
	}

objectEnd:
	if len(stack) == 0 {
		return nil
	}
	prefix = prefix[:stack[len(stack)-1]]
	stack = stack[:len(stack)-1]
	if tr != nil {
		tr.objs = tr.objs[:len(tr.objs)-1]
	}
	i++
	goto afterValue
}

// Unpack reads a line packed by Promtail's pack stage, as Loki's `|
// unpack` does (pkg/logql/log/parser.go, UnpackParser): the line must
// start with '{' (else ErrJSONNotObject); its top-level string members
// are the labels (keys as written, values unescaped, other members
// ignored, nested objects not flattened) and the `_entry` member the
// original line. A line without `_entry` is not packed: fields is nil
// and the caller keeps the line and its labels as they are. Errors are
// jsonparser's (see ErrJSONObject), with nothing set. Repeated keys keep
// their first value.
func Unpack(line string) (entry string, fields []string, err error) {
	if line == "" || line[0] != '{' {
		return "", nil, ErrJSONNotObject
	}
	packed := false
	var kbuf [64]byte
	i := jsonSkipSpace(line, 1)
	if i >= len(line) {
		return "", nil, ErrJSONMalformed
	}
	for {
		switch line[i] {
		case '}':
			if !packed {
				fields = nil
			}
			return entry, fields, nil
		case '"':
		default:
			return "", nil, ErrJSONObject
		}
		end, esc := jsonStringEnd(line, i+1)
		if end < 0 {
			return "", nil, ErrJSONMalformed
		}
		k := line[i+1 : end-1]
		if esc {
			u, err := jsonparser.Unescape(bytesOf(k), kbuf[:])
			if err != nil {
				return "", nil, ErrJSONEscape
			}
			k = string(u)
		}
		i = jsonSkipSpace(line, end)
		if i >= len(line) || line[i] != ':' {
			return "", nil, ErrJSONMalformed
		}
		i = jsonSkipSpace(line, i+1)
		if i >= len(line) {
			return "", nil, ErrJSONMalformed
		}
		switch c := line[i]; c {
		case '"':
			end, esc := jsonStringEnd(line, i+1)
			if end < 0 {
				return "", nil, ErrJSONString
			}
			raw := line[i+1 : end-1]
			if k == "_entry" {
				if !packed {
					entry = raw
					if esc {
						var buf [64]byte
						u, err := jsonparser.Unescape(bytesOf(raw), buf[:])
						if err != nil {
							return "", nil, ErrJSONEscape
						}
						entry = string(u)
					}
				}
				packed = true
			} else {
				fields = append(fields, k, jsonStringValue(raw, esc))
			}
			i = end
		default: // ignored, but checked as jsonparser's Get does
			if i, err = jsonValueEnd(line, i); err != nil {
				return "", nil, err
			}
		}
		i = jsonSkipSpace(line, i)
		if i >= len(line) {
			return "", nil, ErrJSONArray
		}
		switch line[i] {
		case '}':
			continue
		case ',':
			i = jsonSkipSpace(line, i+1)
			if i >= len(line) {
				return "", nil, ErrJSONArray
			}
		default:
			return "", nil, ErrJSONObject
		}
	}
}

// jsonEmitLeaf emits one flattened field. rawKey is the key as written in
// the line, key the unescaped one (they differ only when it had escapes).
func jsonEmitLeaf(emit func(string, string), prefix []byte, rawKey string, key []byte, value string) {
	if len(prefix) == 0 {
		if events.IsLabelName(rawKey) { // so it has no escapes either
			emit(rawKey, value)
			return
		}
		var buf [64]byte
		k := appendSanitizedKey(buf[:0], key)
		if len(k) == 0 {
			return
		}
		emit(string(k), value)
		return
	}
	part := sanitizeKeyPart(key)
	if len(part) == 0 { // Loki leaves out a part that trims to ""
		emit(string(prefix), value)
		return
	}
	var buf [128]byte
	k := append(append(append(buf[:0], prefix...), '_'), part...)
	emit(string(k), value)
}

// sanitizeKeyPart sanitizes a nested key part without the digit prefix; it
// returns key itself when nothing changes.
func sanitizeKeyPart(key []byte) []byte {
	key = trimJSONKey(key)
	for _, c := range key {
		if !isLabelByte(c) {
			return appendSanitizedRunes(nil, key)
		}
	}
	return key
}

// appendSanitizedKey is Loki's appendSanitized: trims spaces, prefixes '_'
// when to is empty and key starts with a digit, and replaces every rune
// outside [A-Za-z0-9_] with '_'.
func appendSanitizedKey(to, key []byte) []byte {
	key = trimJSONKey(key)
	if len(key) == 0 {
		return to
	}
	if len(to) == 0 && key[0] >= '0' && key[0] <= '9' {
		to = append(to, '_')
	}
	return appendSanitizedRunes(to, key)
}

func appendSanitizedRunes(to, key []byte) []byte {
	for len(key) > 0 {
		c := key[0]
		if c < utf8.RuneSelf {
			if !isLabelByte(c) {
				c = '_'
			}
			to = append(to, c)
			key = key[1:]
			continue
		}
		_, size := utf8.DecodeRune(key)
		to = append(to, '_')
		key = key[size:]
	}
	return to
}

func trimJSONKey(key []byte) []byte {
	return bytes.TrimSpace(key)
}

func isLabelByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// jsonStringValue unescapes the contents of a JSON string as Loki does.
func jsonStringValue(raw string, escaped bool) string {
	v := raw
	if escaped {
		var buf [64]byte
		u, err := jsonparser.Unescape(bytesOf(raw), buf[:])
		if err != nil {
			return ""
		}
		v = string(u)
	}
	if strings.ContainsRune(v, utf8.RuneError) {
		v = strings.Map(invalidUTF8ToSpace, v)
	}
	return v
}

func jsonSkipSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

// jsonStringEnd returns the index just past the closing quote of the string
// whose contents start at i (-1 if unterminated) and whether it contains a
// backslash.
func jsonStringEnd(s string, i int) (int, bool) {
	escaped := false
	for {
		j := strings.IndexByte(s[i:], '"')
		if j < 0 {
			return -1, escaped
		}
		q := i + j
		if !escaped && strings.IndexByte(s[i:q], '\\') >= 0 {
			escaped = true
		}
		n := 0
		for k := q - 1; k >= 0 && s[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, escaped
		}
		i = q + 1
	}
}

// jsonBlockEnd returns the length of the array or object at the start of
// s, counting only openSym and closeSym and skipping strings, as jsonparser
// does.
func jsonBlockEnd(s string, openSym, closeSym byte) int {
	level := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			end, _ := jsonStringEnd(s, i+1)
			if end < 0 {
				return -1
			}
			i = end - 1
		case openSym:
			level++
		case closeSym:
			level--
			if level == 0 {
				return i + 1
			}
		}
	}
	return -1
}

func jsonTokenEnd(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\n', '\r', '\t', ',', '}', ']':
			return i
		}
	}
	return len(s)
}

// bytesOf views s as bytes without copying; the result must not be written.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// JSONExpr is a compiled json parameter expression of `| json label="expr"`:
// field access (`a.b`, `a["b"]`) and array access (`list[0]`) in any
// combination (`my.list[0]["field"]`).
type JSONExpr struct {
	text string
	path []jsonStep
}

// jsonStep is one access: an object key, or an array index when index >= 0.
type jsonStep struct {
	key   string
	index int
}

// ParseJSONExpr compiles a json parameter expression with Loki's grammar:
// a field name ([A-Za-z_][A-Za-z0-9_]*), `["key"]` or `[index]`, followed
// by any number of `.field`, `["key"]` and `[index]`; blanks between
// tokens are ignored. Keys in brackets have no escapes.
func ParseJSONExpr(expr string) (*JSONExpr, error) {
	e := &JSONExpr{text: expr}
	i := 0
	skip := func() {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n') {
			i++
		}
	}
	ident := func() (string, bool) {
		skip()
		start := i
		if i >= len(expr) || !isLabelByte(expr[i]) || (expr[i] >= '0' && expr[i] <= '9') {
			return "", false
		}
		for i < len(expr) && isLabelByte(expr[i]) {
			i++
		}
		return expr[start:i], true
	}
	for first := true; ; first = false {
		skip()
		if i >= len(expr) {
			if first {
				return nil, fmt.Errorf("empty json expression")
			}
			return e, nil
		}
		switch c := expr[i]; {
		case c == '[':
			i++
			skip()
			if i >= len(expr) {
				return nil, fmt.Errorf("json expression %q: unterminated '['", expr)
			}
			if expr[i] == '"' {
				end := strings.IndexByte(expr[i+1:], '"')
				if end < 0 {
					return nil, fmt.Errorf("json expression %q: unterminated string", expr)
				}
				e.path = append(e.path, jsonStep{key: expr[i+1 : i+1+end], index: -1})
				i += end + 2
			} else {
				start := i
				for i < len(expr) && expr[i] >= '0' && expr[i] <= '9' {
					i++
				}
				if i == start {
					return nil, fmt.Errorf("json expression %q: unexpected char %q", expr, expr[i])
				}
				if i < len(expr) && expr[i] == '.' {
					return nil, fmt.Errorf("json expression %q: cannot use float as array index", expr)
				}
				n, err := strconv.Atoi(expr[start:i])
				if err != nil {
					return nil, fmt.Errorf("json expression %q: %w", expr, err)
				}
				e.path = append(e.path, jsonStep{index: n})
			}
			skip()
			if i >= len(expr) || expr[i] != ']' {
				return nil, fmt.Errorf("json expression %q: expected ']'", expr)
			}
			i++
		case c == '.' && !first:
			i++
			f, ok := ident()
			if !ok {
				return nil, fmt.Errorf("json expression %q: expected a field name after '.'", expr)
			}
			e.path = append(e.path, jsonStep{key: f, index: -1})
		case first:
			f, ok := ident()
			if !ok {
				return nil, fmt.Errorf("json expression %q: unexpected char %q", expr, c)
			}
			e.path = append(e.path, jsonStep{key: f, index: -1})
		default:
			return nil, fmt.Errorf("json expression %q: unexpected char %q", expr, c)
		}
	}
}

// String returns the expression as written.
func (e *JSONExpr) String() string { return e.text }

// Extract returns the value at the expression in a JSON line and whether it
// exists. Strings are unescaped (invalid UTF-8 and U+FFFD become spaces),
// numbers and booleans are their text, null is "", and objects and arrays
// are their raw JSON text (Loki's documented `"server_list" =>
// ["129.0.1.1","10.2.1.3"]`), all with invalid UTF-8 replaced by spaces. A missing path, an empty line, a line that
// is not JSON and a malformed value give ok=false; Loki then sets the label
// to "" and, for lines rejected by ValidateJSONLine, __error__. When a key
// repeats, its first occurrence is used.
func (e *JSONExpr) Extract(line string) (string, bool) {
	v, ok, _ := e.extract(line)
	return v, ok
}

// extract is Extract that also returns the error jsonparser's Get gives
// on a malformed value at the path (Loki's json parser then marks the
// line JSONParserErr): ErrJSONMalformed when the line ends before it,
// ErrJSONString, ErrJSONObject, ErrJSONArray or ErrJSONValue.
func (e *JSONExpr) extract(line string) (string, bool, error) {
	if ValidateJSONLine(line) != nil {
		return "", false, nil
	}
	i := jsonSkipSpace(line, 0)
	for _, step := range e.path {
		var ok bool
		if step.index >= 0 {
			i, ok = jsonIndex(line, i, step.index)
		} else {
			i, ok = jsonMember(line, i, step.key)
		}
		if !ok {
			return "", false, nil
		}
	}
	if i >= len(line) {
		return "", false, ErrJSONMalformed
	}
	switch c := line[i]; c {
	case '"':
		end, esc := jsonStringEnd(line, i+1)
		if end < 0 {
			return "", false, ErrJSONString
		}
		return jsonStringValue(line[i+1:end-1], esc), true, nil
	case '{':
		n := jsonBlockEnd(line[i:], '{', '}')
		if n < 0 {
			return "", false, ErrJSONObject
		}
		return jsonValidUTF8(line[i : i+n]), true, nil
	case '[':
		// Loki unescapes an array's text as if it were a string.
		n := jsonBlockEnd(line[i:], '[', ']')
		if n < 0 {
			return "", false, ErrJSONArray
		}
		raw := line[i : i+n]
		return jsonStringValue(raw, strings.IndexByte(raw, '\\') >= 0), true, nil
	default:
		tok := line[i : i+jsonTokenEnd(line[i:])]
		switch {
		case tok == "null":
			return "", true, nil
		case tok == "true" || tok == "false" || c == '-' || (c >= '0' && c <= '9'):
			return jsonValidUTF8(tok), true, nil
		}
		return "", false, ErrJSONValue
	}
}

// jsonValidUTF8 replaces invalid UTF-8 and U+FFFD with spaces, as Loki does
// for string values.
func jsonValidUTF8(s string) string {
	if strings.ContainsRune(s, utf8.RuneError) {
		return strings.Map(invalidUTF8ToSpace, s)
	}
	return s
}

// jsonMember returns the offset of the value of key in the object at i.
func jsonMember(s string, i int, key string) (int, bool) {
	if i >= len(s) || s[i] != '{' {
		return 0, false
	}
	i = jsonSkipSpace(s, i+1)
	for i < len(s) && s[i] == '"' {
		end, esc := jsonStringEnd(s, i+1)
		if end < 0 {
			return 0, false
		}
		k := s[i+1 : end-1]
		match := k == key
		if esc {
			var buf [64]byte
			u, err := jsonparser.Unescape(bytesOf(k), buf[:])
			match = err == nil && string(u) == key
		}
		i = jsonSkipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return 0, false
		}
		i = jsonSkipSpace(s, i+1)
		if match {
			return i, true
		}
		var ok bool
		if i, ok = jsonNext(s, i); !ok {
			return 0, false
		}
	}
	return 0, false
}

// jsonIndex returns the offset of element n of the array at i.
func jsonIndex(s string, i, n int) (int, bool) {
	if i >= len(s) || s[i] != '[' {
		return 0, false
	}
	i = jsonSkipSpace(s, i+1)
	for k := 0; i < len(s) && s[i] != ']'; k++ {
		if k == n {
			return i, true
		}
		var ok bool
		if i, ok = jsonNext(s, i); !ok {
			return 0, false
		}
	}
	return 0, false
}

// jsonNext skips the value at i and the comma after it, returning the
// offset of the next member or element; false at the end of the container
// or on malformed input.
func jsonNext(s string, i int) (int, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch c := s[i]; c {
	case '"':
		end, _ := jsonStringEnd(s, i+1)
		if end < 0 {
			return 0, false
		}
		i = end
	case '{', '[':
		n := jsonBlockEnd(s[i:], c, c+2)
		if n < 0 {
			return 0, false
		}
		i += n
	default:
		n := jsonTokenEnd(s[i:])
		if n == 0 {
			return 0, false
		}
		i += n
	}
	i = jsonSkipSpace(s, i)
	if i >= len(s) || s[i] != ',' {
		return 0, false // the closing bracket or garbage: no next
	}
	return jsonSkipSpace(s, i+1), true
}

// jsonValueEnd returns the offset just past the value at i (not a
// string), or jsonparser's error for it: ErrJSONObject or ErrJSONArray
// for an object or array that is not closed, ErrJSONValue for a token
// that is not true, false, null or number-like.
func jsonValueEnd(s string, i int) (int, error) {
	switch c := s[i]; c {
	case '{', '[':
		n := jsonBlockEnd(s[i:], c, c+2) // '{'+2 is '}', '['+2 is ']'
		switch {
		case n >= 0:
			return i + n, nil
		case c == '{':
			return 0, ErrJSONObject
		}
		return 0, ErrJSONArray
	default:
		n := jsonTokenEnd(s[i:])
		tok := s[i : i+n]
		switch {
		case c == 't' || c == 'f':
			if tok != "true" && tok != "false" {
				return 0, ErrJSONValue
			}
		case c == 'n' || c == 'u':
			if tok != "null" {
				return 0, ErrJSONValue
			}
		case c != '-' && (c < '0' || c > '9'):
			return 0, ErrJSONValue
		}
		return i + n, nil
	}
}

// jsonTopLevelKey returns ErrJSONMalformed for a line that starts with a
// string followed by ':', a key outside any object, where the scan of
// Loki's `| json label="expr"` (jsonparser.EachKey) reports "Malformed
// JSON error".
func jsonTopLevelKey(line string) error {
	if line == "" || line[0] != '"' {
		return nil
	}
	end, _ := jsonStringEnd(line, 1)
	if end < 0 {
		return nil
	}
	if i := jsonSkipSpace(line, end); i < len(line) && line[i] == ':' {
		return ErrJSONMalformed
	}
	return nil
}

// ValidateJSONLine returns ErrJSONNotObject when `| json label="expr"`
// would mark the line with JSONParserErr: Loki checks only that a non-empty
// line starts with '"', '{' or '['.
func ValidateJSONLine(line string) error {
	if line == "" {
		return nil
	}
	switch line[0] {
	case '"', '{', '[':
		return nil
	}
	return ErrJSONNotObject
}

// JSONPath compiles expr and extracts it from line; see ParseJSONExpr and
// JSONExpr.Extract. The error is a bad expression or ValidateJSONLine's.
func JSONPath(line, expr string) (string, bool, error) {
	e, err := ParseJSONExpr(expr)
	if err != nil {
		return "", false, err
	}
	if err := ValidateJSONLine(line); err != nil {
		return "", false, err
	}
	v, ok := e.Extract(line)
	return v, ok, nil
}

// Errors of CompilePattern and CompileLinePattern.
var (
	// ErrPatternNoCapture means a `| pattern` expression has no named capture.
	ErrPatternNoCapture = errors.New("at least one capture is required")
	// ErrPatternCaptureNotAllowed means a pattern line filter has a named capture.
	ErrPatternCaptureNotAllowed = errors.New("named captures are not allowed")
	// ErrPatternInvalid means two captures are adjacent or a name repeats.
	ErrPatternInvalid = errors.New("invalid expression")
)

// Pattern is a compiled LogQL pattern: literals and captures (`<name>`, or
// `<_>` which captures nothing), never two captures in a row.
type Pattern struct {
	nodes []patternNode
	names []string
}

type patternNode struct {
	text    string // the literal, or the capture name
	capture bool
}

// CompilePattern compiles the expression of `| pattern "..."`. A capture is
// `<` [A-Za-z_][A-Za-z0-9_]* `>`; any other text, including a `<` that does
// not start one, is literal. The expression needs at least one named
// capture, no two adjacent captures and no repeated name.
func CompilePattern(p string) (*Pattern, error) {
	pt, err := parsePattern(p)
	if err != nil {
		return nil, err
	}
	if len(pt.names) == 0 {
		return nil, ErrPatternNoCapture
	}
	seen := make(map[string]struct{}, len(pt.names))
	for _, n := range pt.names {
		if _, dup := seen[n]; dup {
			return nil, fmt.Errorf("duplicate capture name (%s): %w", n, ErrPatternInvalid)
		}
		seen[n] = struct{}{}
	}
	return pt, nil
}

// CompileLinePattern compiles the pattern of the `|> "..."` and `!> "..."`
// line filters: only `<_>` captures are allowed, never two in a row; the
// empty pattern matches only the empty line.
func CompileLinePattern(p string) (*Pattern, error) {
	pt, err := parsePattern(p)
	if err != nil {
		return nil, err
	}
	if len(pt.names) > 0 {
		return nil, ErrPatternCaptureNotAllowed
	}
	return pt, nil
}

func parsePattern(p string) (*Pattern, error) {
	pt := &Pattern{}
	lit := 0 // start of the pending literal
	for i := 0; i < len(p); {
		n := patternCaptureLen(p[i:])
		if n == 0 {
			i++
			continue
		}
		if lit < i {
			pt.nodes = append(pt.nodes, patternNode{text: p[lit:i]})
		}
		name := p[i+1 : i+n-1]
		if k := len(pt.nodes); k > 0 && pt.nodes[k-1].capture {
			return nil, fmt.Errorf("found consecutive capture '<%s><%s>': %w", pt.nodes[k-1].text, name, ErrPatternInvalid)
		}
		pt.nodes = append(pt.nodes, patternNode{text: name, capture: true})
		if name != "_" {
			pt.names = append(pt.names, name)
		}
		i += n
		lit = i
	}
	if lit < len(p) {
		pt.nodes = append(pt.nodes, patternNode{text: p[lit:]})
	}
	return pt, nil
}

// patternCaptureLen returns the length of the capture at the start of s,
// or 0.
func patternCaptureLen(s string) int {
	if len(s) < 3 || s[0] != '<' || s[1] != '_' && (s[1]|0x20 < 'a' || s[1]|0x20 > 'z') {
		return 0
	}
	for i := 2; i < len(s); i++ {
		if s[i] == '>' {
			return i + 1
		}
		if !isLabelByte(s[i]) {
			return 0
		}
	}
	return 0
}

// Names returns the named captures in order.
func (p *Pattern) Names() []string { return p.names }

// Match runs the pattern parser on line and emits the named captures, as
// Loki does: a leading literal must start the line (else nothing is
// emitted); each capture extends to the first occurrence of the literal
// after it; when that literal is missing the capture takes the rest of the
// line and matching stops; text after a final literal is ignored. Values
// alias line and may be empty. Match reports whether every literal was
// found; an empty line matches nothing.
func (p *Pattern) Match(line string, emit func(name, value string)) bool {
	if line == "" || len(p.nodes) == 0 {
		return false
	}
	nodes, in := p.nodes, line
	if !nodes[0].capture {
		if !strings.HasPrefix(in, nodes[0].text) {
			return false
		}
		in, nodes = in[len(nodes[0].text):], nodes[1:]
	}
	for len(nodes) > 0 {
		c := nodes[0]
		if len(nodes) == 1 {
			if c.text != "_" {
				emit(c.text, in)
			}
			return true
		}
		lit := nodes[1].text
		nodes = nodes[2:]
		i := strings.Index(in, lit)
		if i < 0 {
			if c.text != "_" {
				emit(c.text, in)
			}
			return false
		}
		if c.text != "_" {
			emit(c.text, in[:i])
		}
		in = in[i+len(lit):]
	}
	return true
}

// Matches reports whether line matches the pattern as a whole, the test of
// the `|>` and `!>` line filters, as Loki's pattern.Matcher.Test does:
// literals are found left to right at their first occurrence, captures
// must not be empty, and the line must end with the final literal unless
// the pattern ends with a capture. A leading literal may be anywhere in
// the line: unlike the pattern parser, which its documentation says is
// anchored at the start, Loki's filter is not ("err <_>" matches
// "an err here"; checked in testdata/loki_pipeline.golden).
func (p *Pattern) Matches(line string) bool {
	if line == "" || len(p.nodes) == 0 {
		return line == "" && len(p.nodes) == 0
	}
	off := 0
	for i, n := range p.nodes {
		if n.capture {
			continue
		}
		j := strings.Index(line[off:], n.text)
		if j < 0 || (i != 0 && j == 0) {
			return false
		}
		off += j + len(n.text)
	}
	return p.nodes[len(p.nodes)-1].capture == (off != len(line))
}

// ansiRegex is Loki's decolorize expression (from acarl005/stripansi).
var ansiRegex = regexp.MustCompile("[\u001B\u009B][[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\u0007)|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))")

// DecolorizeLine removes ANSI escape sequences from s, as `| decolorize`
// does. Lines without ESC or U+009B are returned as they are.
func DecolorizeLine(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 && !strings.Contains(s, "\u009b") {
		return s
	}
	return ansiRegex.ReplaceAllString(s, "")
}

// bytesUnits are go-humanize's ParseBytes units, lower-cased.
var bytesUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "ti": 1 << 40, "tib": 1 << 40,
	"p": 1e15, "pb": 1e15, "pi": 1 << 50, "pib": 1 << 50,
	"e": 1e18, "eb": 1e18, "ei": 1 << 60, "eib": 1 << 60,
}

// ParseBytes parses a byte size as Loki's bytes() unwrap and bytes label
// filters do (go-humanize's ParseBytes): digits with an optional fraction
// and ',' separators, then an optional case-insensitive unit after optional
// blanks: "42", "5KB"=5000, "5KiB"=5120, "1.5 MB", "10b", "1,000k". SI
// units (k, kB, M...) are powers of 1000, IEC units (Ki, KiB...) powers of
// 1024. The result is truncated to whole bytes; negative sizes are errors.
func ParseBytes(s string) (float64, error) {
	n := 0
	comma := false
	for n < len(s) && (s[n] >= '0' && s[n] <= '9' || s[n] == '.' || s[n] == ',') {
		comma = comma || s[n] == ','
		n++
	}
	num := s[:n]
	if comma {
		num = strings.ReplaceAll(num, ",", "")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, err // go-humanize's error, as Loki's __error_details__
	}
	unit := strings.ToLower(strings.TrimSpace(s[n:]))
	m, ok := bytesUnits[unit]
	if !ok {
		return 0, fmt.Errorf("unhandled size name: %v", unit)
	}
	f *= m
	if f >= math.MaxUint64 {
		return 0, fmt.Errorf("too large: %v", s)
	}
	return float64(uint64(f)), nil
}

// ParseDuration parses a duration into seconds, as Loki's duration() and
// duration_seconds() unwraps and duration label filters do: with Go's
// time.ParseDuration ("1m30s", "250ms", "1.5h", "-2us"). A plain number
// other than "0" has no unit and is an error in Loki too.
func ParseDuration(s string) (float64, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return d.Seconds(), nil
}
