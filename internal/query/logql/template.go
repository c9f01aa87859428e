package logql

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"time"
	"unicode"

	"github.com/grafana/regexp"
)

// ErrTemplateLimit is returned by Template.Execute when an execution would
// exceed its work budget; see Template.
var ErrTemplateLimit = errors.New("template execution limit exceeded")

const (
	// templateBudget is the work one execution may do, counted in bytes
	// scanned or produced by functions and written to the output.
	templateBudget = 16 << 20
	// templateStepCost is charged per range iteration and template call.
	templateStepCost = 64
	// templateMatchCost is charged per regexp match.
	templateMatchCost = 32
	// templateTick is the function injected at the start of every range
	// body and defined template to charge templateStepCost.
	templateTick = "__horus_tick__"
	// templateCacheSize bounds the per-instance regexp and time zone caches.
	templateCacheSize = 32
)

// errDivideByZero is div and mod's error, as text/template reports the
// panic of sprig's in Loki.
var errDivideByZero = errors.New("runtime error: integer divide by zero")

// Template is a compiled line_format or label_format template: Go
// text/template with missingkey=zero, the labels as fields (`{{.status}}`;
// a missing label is ""), the functions `__line__` (the log line) and
// `__timestamp__` (its time), and the function set Loki documents:
//
//   - strings: lower upper title trunc substr trim trimAll trimPrefix
//     trimSuffix replace repeat indent nindent alignLeft alignRight
//     b64enc b64dec urlencode urldecode printf default, and the deprecated
//     ToLower ToUpper Replace Trim TrimLeft TrimRight TrimPrefix TrimSuffix
//     TrimSpace;
//   - tests: contains hasPrefix hasSuffix (and the builtins eq, and, or...);
//   - regexps: regexReplaceAll regexReplaceAllLiteral count;
//   - numbers: int float64 add sub mul div mod addf subf mulf divf max min
//     maxf minf ceil floor round, and the converters bytes, duration and
//     duration_seconds (to bytes and seconds, as the unwraps);
//   - time: now date toDate toDateInZone unixEpoch unixEpochMillis
//     unixEpochNanos unixToTime;
//   - fromJson.
//
// The sprig functions keep sprig's argument order (`replace old new src`)
// and conversions (`int "0x10"` is 16, a string that does not parse is 0).
// trunc and substr count runes, as Loki's versions do.
//
// An execution may do 16 MiB of work, counted as bytes scanned or produced
// by functions and bytes written, plus 64 per range iteration or template
// call and 32 per regexp match; beyond that it stops with ErrTemplateLimit,
// so a hostile template cannot hang or exhaust memory. `printf` rejects
// '*' widths.
//
// A Template is safe for concurrent use.
type Template struct {
	name      string // line or label
	text      string
	simpleKey string   // the template is exactly {{.simpleKey}}
	fields    []string // labels read as .name
	usesDot   bool     // the template reads the label map as a whole
	pool      sync.Pool
}

// NewTemplate parses a line_format template.
func NewTemplate(text string) (*Template, error) { return newTemplate("line", text) }

// NewLabelTemplate parses a label_format template. It differs from a
// line_format one only by its name in error messages ("template:
// label:1:10: ..."), as in Loki.
func NewLabelTemplate(text string) (*Template, error) { return newTemplate("label", text) }

func newTemplate(name, text string) (*Template, error) {
	t := &Template{name: name, text: text}
	inst, err := t.newInstance()
	if err != nil {
		return nil, err
	}
	t.analyze(inst.tmpl)
	t.pool.New = func() any {
		inst, err := t.newInstance()
		if err != nil {
			panic(err) // parsed once already: cannot happen
		}
		return inst
	}
	t.pool.Put(inst)
	return t, nil
}

// String returns the template text.
func (t *Template) String() string { return t.text }

// Execute runs the template for one log line with timestamp ts (Unix
// nanoseconds). labels looks up one label; all returns every label and is
// called only when the template uses the label map as a whole (`{{.}}`,
// `{{range $k, $v := .}}`, `$`); it is not modified. Errors are execution
// errors (the caller sets __error__="TemplateFormatErr") and
// ErrTemplateLimit.
func (t *Template) Execute(line string, ts int64, labels func(name string) (string, bool), all func() map[string]string) (string, error) {
	if t.simpleKey != "" {
		v, _ := labels(t.simpleKey)
		return v, nil
	}
	inst := t.pool.Get().(*templateInstance)
	defer t.pool.Put(inst)
	st := &inst.state
	st.line, st.ts, st.budget = line, ts, templateBudget
	inst.out.buf = inst.out.buf[:0]

	var data map[string]string
	if t.usesDot {
		data = all()
	} else {
		for _, f := range t.fields {
			if v, ok := labels(f); ok {
				inst.data[f] = v
			}
		}
		data = inst.data
	}
	err := inst.tmpl.Execute(&inst.out, data)
	st.line = ""
	clear(inst.data)
	if err != nil {
		if cap(inst.out.buf) > 1<<20 {
			inst.out.buf = nil
		}
		if errors.Is(err, ErrTemplateLimit) {
			err = ErrTemplateLimit // not text/template's context of the injected tick
		}
		return "", err
	}
	out := string(inst.out.buf)
	if cap(inst.out.buf) > 1<<20 {
		inst.out.buf = nil
	}
	return out, nil
}

// templateInstance is one parsed copy of a Template with the state its
// functions are bound to; the pool hands each execution its own.
type templateInstance struct {
	tmpl  *template.Template
	state templateState
	out   templateWriter
	data  map[string]string
}

func (t *Template) newInstance() (*templateInstance, error) {
	inst := &templateInstance{data: make(map[string]string)}
	inst.out.st = &inst.state
	funcs := inst.state.funcs()
	tm, err := template.New(t.name).Option("missingkey=zero").Funcs(funcs).Parse(t.text)
	if err != nil {
		return nil, fmt.Errorf("invalid template: %w", err)
	}
	tick, err := template.New("tick").Funcs(funcs).Parse("{{" + templateTick + "}}")
	if err != nil {
		return nil, err
	}
	tickNode := tick.Root.Nodes[0]
	for _, sub := range tm.Templates() {
		if sub.Tree == nil || sub.Root == nil {
			continue
		}
		injectTicks(sub.Root, tickNode)
		if sub.Name() != tm.Name() {
			sub.Root.Nodes = append([]parse.Node{tickNode}, sub.Root.Nodes...)
		}
	}
	inst.tmpl = tm
	return inst, nil
}

// injectTicks puts tick at the start of every range body under list.
func injectTicks(list *parse.ListNode, tick parse.Node) {
	if list == nil {
		return
	}
	for _, n := range list.Nodes {
		switch n := n.(type) {
		case *parse.RangeNode:
			injectTicks(n.List, tick)
			injectTicks(n.ElseList, tick)
			if n.List != nil {
				n.List.Nodes = append([]parse.Node{tick}, n.List.Nodes...)
			}
		case *parse.IfNode:
			injectTicks(n.List, tick)
			injectTicks(n.ElseList, tick)
		case *parse.WithNode:
			injectTicks(n.List, tick)
			injectTicks(n.ElseList, tick)
		case *parse.ListNode:
			injectTicks(n, tick)
		}
	}
}

// analyze finds the labels the template reads, whether it needs them all,
// and Loki's `{{.key}}` fast path.
func (t *Template) analyze(tm *template.Template) {
	seen := map[string]bool{}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case nil:
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		case *parse.DotNode:
			t.usesDot = true
		case *parse.VariableNode:
			if n.Ident[0] == "$" {
				t.usesDot = true
			}
		case *parse.FieldNode:
			if !seen[n.Ident[0]] {
				seen[n.Ident[0]] = true
				t.fields = append(t.fields, n.Ident[0])
			}
		}
	}
	subs := tm.Templates()
	for _, sub := range subs {
		if sub.Tree != nil {
			walk(sub.Root)
		}
	}
	if len(subs) != 1 || tm.Tree == nil || len(tm.Root.Nodes) != 1 {
		return
	}
	if a, ok := tm.Root.Nodes[0].(*parse.ActionNode); ok && len(a.Pipe.Decl) == 0 && len(a.Pipe.Cmds) == 1 && len(a.Pipe.Cmds[0].Args) == 1 {
		if f, ok := a.Pipe.Cmds[0].Args[0].(*parse.FieldNode); ok && len(f.Ident) == 1 {
			t.simpleKey = f.Ident[0]
		}
	}
}

// templateWriter collects the output, charging it to the budget.
type templateWriter struct {
	buf []byte
	st  *templateState
}

func (w *templateWriter) Write(p []byte) (int, error) {
	if err := w.st.charge(len(p)); err != nil {
		return 0, err
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// templateState is what one execution's functions see.
type templateState struct {
	line   string
	ts     int64
	budget int

	regexps map[string]*regexp.Regexp
	zones   map[string]*time.Location
}

func (st *templateState) charge(n int) error {
	if n < 0 || n > st.budget {
		st.budget = -1
		return ErrTemplateLimit
	}
	st.budget -= n
	return nil
}

// chargeProduct charges a*b, guarding against overflow.
func (st *templateState) chargeProduct(a, b int) error {
	if a < 0 || b < 0 || (b != 0 && a > st.budget/b) {
		st.budget = -1
		return ErrTemplateLimit
	}
	return st.charge(a * b)
}

func (st *templateState) funcs() template.FuncMap {
	return template.FuncMap{
		"__line__":      func() string { return st.line },
		"__timestamp__": func() time.Time { return time.Unix(0, st.ts) },
		templateTick:    func() (string, error) { return "", st.charge(templateStepCost) },

		// Loki's deprecated Go-style names.
		"ToLower":    st.str1(strings.ToLower),
		"ToUpper":    st.str1(strings.ToUpper),
		"Replace":    st.replace,
		"Trim":       st.str2(strings.Trim),
		"TrimLeft":   st.str2(strings.TrimLeft),
		"TrimRight":  st.str2(strings.TrimRight),
		"TrimPrefix": st.str2(strings.TrimPrefix),
		"TrimSuffix": st.str2(strings.TrimSuffix),
		"TrimSpace":  st.str1(strings.TrimSpace),

		// Strings.
		"lower":      st.str1(strings.ToLower),
		"upper":      st.str1(strings.ToUpper),
		"title":      st.str1(titleCase),
		"trim":       st.str1(strings.TrimSpace),
		"trimAll":    st.str2(func(cut, s string) string { return strings.Trim(s, cut) }),
		"trimPrefix": st.str2(func(p, s string) string { return strings.TrimPrefix(s, p) }),
		"trimSuffix": st.str2(func(p, s string) string { return strings.TrimSuffix(s, p) }),
		"replace": func(old, repl, src string) (string, error) {
			return st.replace(src, old, repl, -1)
		},
		"trunc":      st.trunc,
		"substr":     st.substr,
		"repeat":     st.repeat,
		"indent":     func(n int, s string) (string, error) { return st.indent(n, s, "") },
		"nindent":    func(n int, s string) (string, error) { return st.indent(n, s, "\n") },
		"alignLeft":  func(n int, s string) (string, error) { return st.align(n, s, true) },
		"alignRight": func(n int, s string) (string, error) { return st.align(n, s, false) },
		"b64enc":     st.str1(func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }),
		"b64dec":     st.str1(b64dec),
		"urlencode":  st.str1(url.QueryEscape),
		"urldecode":  st.urldecode,
		"printf":     st.printf,
		"print":      st.print(fmt.Sprint),
		"println":    st.print(fmt.Sprintln),
		"html":       st.print(template.HTMLEscaper),
		"js":         st.print(template.JSEscaper),
		"urlquery":   st.print(template.URLQueryEscaper),
		"default":    tmplDefault,
		"fromJson":   st.fromJSON,

		// Tests.
		"contains":  st.test(func(sub, s string) bool { return strings.Contains(s, sub) }),
		"hasPrefix": st.test(func(p, s string) bool { return strings.HasPrefix(s, p) }),
		"hasSuffix": st.test(func(p, s string) bool { return strings.HasSuffix(s, p) }),

		// Regular expressions.
		"regexReplaceAll": func(re, s, repl string) (string, error) {
			return st.regexReplace(re, s, repl, false)
		},
		"regexReplaceAllLiteral": func(re, s, repl string) (string, error) {
			return st.regexReplace(re, s, repl, true)
		},
		"count": st.count,

		// Numbers.
		"int":     func(v any) int { return int(tmplInt64(v)) },
		"float64": tmplFloat64,
		"add": func(vs ...any) int64 {
			var a int64
			for _, v := range vs {
				a += tmplInt64(v)
			}
			return a
		},
		"sub": func(a, b any) int64 { return tmplInt64(a) - tmplInt64(b) },
		"mul": func(a any, vs ...any) int64 {
			p := tmplInt64(a)
			for _, v := range vs {
				p *= tmplInt64(v)
			}
			return p
		},
		"div": func(a, b any) (int64, error) {
			d := tmplInt64(b)
			if d == 0 {
				return 0, errDivideByZero
			}
			return tmplInt64(a) / d, nil
		},
		"mod": func(a, b any) (int64, error) {
			d := tmplInt64(b)
			if d == 0 {
				return 0, errDivideByZero
			}
			return tmplInt64(a) % d, nil
		},
		"addf": func(vs ...any) (float64, error) { return decimalOp(0.0, vs, '+') },
		"subf": func(a any, vs ...any) (float64, error) { return decimalOp(a, vs, '-') },
		"mulf": func(a any, vs ...any) (float64, error) { return decimalOp(a, vs, '*') },
		"divf": func(a any, vs ...any) (float64, error) { return decimalOp(a, vs, '/') },
		"max": func(a any, vs ...any) int64 {
			m := tmplInt64(a)
			for _, v := range vs {
				m = max(m, tmplInt64(v))
			}
			return m
		},
		"min": func(a any, vs ...any) int64 {
			m := tmplInt64(a)
			for _, v := range vs {
				m = min(m, tmplInt64(v))
			}
			return m
		},
		"maxf": func(a any, vs ...any) float64 {
			m := tmplFloat64(a)
			for _, v := range vs {
				m = math.Max(m, tmplFloat64(v))
			}
			return m
		},
		"minf": func(a any, vs ...any) float64 {
			m := tmplFloat64(a)
			for _, v := range vs {
				m = math.Min(m, tmplFloat64(v))
			}
			return m
		},
		"ceil":             func(a any) float64 { return math.Ceil(tmplFloat64(a)) },
		"floor":            func(a any) float64 { return math.Floor(tmplFloat64(a)) },
		"round":            tmplRound,
		"bytes":            ParseBytes,
		"duration":         ParseDuration,
		"duration_seconds": ParseDuration,

		// Time.
		"now":             time.Now,
		"date":            st.date,
		"toDate":          func(layout, s string) time.Time { t, _ := time.ParseInLocation(layout, s, time.Local); return t },
		"toDateInZone":    st.toDateInZone,
		"unixEpoch":       func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) },
		"unixEpochMillis": func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) },
		"unixEpochNanos":  func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) },
		"unixToTime":      unixToTime,
	}
}

// str1 wraps a string function whose output is at most a few times its
// input, charging both.
func (st *templateState) str1(f func(string) string) func(string) (string, error) {
	return func(s string) (string, error) {
		if err := st.charge(len(s)); err != nil {
			return "", err
		}
		out := f(s)
		return out, st.charge(len(out))
	}
}

func (st *templateState) str2(f func(a, b string) string) func(a, b string) (string, error) {
	return func(a, b string) (string, error) {
		if err := st.charge(len(a) + len(b)); err != nil {
			return "", err
		}
		out := f(a, b)
		return out, st.charge(len(out))
	}
}

func (st *templateState) test(f func(a, b string) bool) func(a, b string) (bool, error) {
	return func(a, b string) (bool, error) {
		if err := st.charge(len(a) + len(b)); err != nil {
			return false, err
		}
		return f(a, b), nil
	}
}

// print wraps fmt-style functions: the arguments are charged before, the
// output after.
func (st *templateState) print(f func(...any) string) func(...any) (string, error) {
	return func(args ...any) (string, error) {
		if err := st.charge(argsSize(args)); err != nil {
			return "", err
		}
		out := f(args...)
		return out, st.charge(len(out))
	}
}

func argsSize(args []any) int {
	n := 0
	for _, a := range args {
		if s, ok := a.(string); ok {
			n += len(s)
		} else {
			n += 32
		}
	}
	return n
}

// replace is strings.Replace with its output size charged first.
func (st *templateState) replace(s, old, repl string, n int) (string, error) {
	if err := st.charge(len(s)); err != nil {
		return "", err
	}
	c := strings.Count(s, old)
	if n >= 0 && n < c {
		c = n
	}
	if grow := len(repl) - len(old); grow > 0 {
		if err := st.chargeProduct(c, grow); err != nil {
			return "", err
		}
	}
	if err := st.charge(len(s)); err != nil {
		return "", err
	}
	return strings.Replace(s, old, repl, n), nil
}

func (st *templateState) repeat(n int, s string) (string, error) {
	if n < 0 {
		return "", errors.New("repeat: negative count")
	}
	if err := st.chargeProduct(n, len(s)); err != nil {
		return "", err
	}
	return strings.Repeat(s, n), nil
}

// indent is sprig's indent: pad every line of s with n spaces.
func (st *templateState) indent(n int, s, lead string) (string, error) {
	if n < 0 {
		return "", errors.New("indent: negative count")
	}
	if err := st.chargeProduct(n, strings.Count(s, "\n")+1); err != nil {
		return "", err
	}
	if err := st.charge(len(s)); err != nil {
		return "", err
	}
	pad := strings.Repeat(" ", n)
	return lead + pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
}

// align is Loki's alignLeft and alignRight: pad with spaces or cut to n
// runes, keeping the left or the right end.
func (st *templateState) align(n int, s string, left bool) (string, error) {
	if err := st.charge(max(n, 0) + len(s)); err != nil {
		return "", err
	}
	runes := []rune(s)
	if n < 0 || n == len(runes) {
		return s, nil
	}
	if pad := n - len(runes); pad > 0 {
		if left {
			return s + strings.Repeat(" ", pad), nil
		}
		return strings.Repeat(" ", pad) + s, nil
	}
	if left {
		return string(runes[:n]), nil
	}
	return string(runes[len(runes)-n:]), nil
}

// trunc is Loki's rune-based trunc: the first c runes, or the last -c.
func (st *templateState) trunc(c int, s string) (string, error) {
	if err := st.charge(len(s)); err != nil {
		return "", err
	}
	runes := []rune(s)
	l := len(runes)
	if c < 0 && l+c > 0 {
		return string(runes[l+c:]), nil
	}
	if c >= 0 && l > c {
		return string(runes[:c]), nil
	}
	return s, nil
}

// substr is Loki's rune-based substring: start < 0 means from the
// beginning, end < 0 or past the end means to the end.
func (st *templateState) substr(start, end int, s string) (string, error) {
	if err := st.charge(len(s)); err != nil {
		return "", err
	}
	runes := []rune(s)
	l := len(runes)
	end = min(end, l)
	start = min(start, l)
	switch {
	case start < 0 && end < 0:
		return "", nil
	case start < 0:
		return string(runes[:end]), nil
	case end < 0:
		return string(runes[start:]), nil
	case start > end:
		return "", nil
	}
	return string(runes[start:end]), nil
}

func b64dec(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return err.Error() // sprig's behaviour
	}
	return string(b)
}

func (st *templateState) urldecode(s string) (string, error) {
	if err := st.charge(2 * len(s)); err != nil {
		return "", err
	}
	return url.QueryUnescape(s)
}

// printf is fmt.Sprintf with the output bounded before formatting: widths
// and precisions (at most 1e6 each in fmt) are summed from the format.
func (st *templateState) printf(format string, args ...any) (string, error) {
	bound, err := printfBound(format)
	if err != nil {
		return "", err
	}
	bound += 3 * argsSize(args)
	if err := st.charge(bound); err != nil {
		return "", err
	}
	out := fmt.Sprintf(format, args...)
	return out, st.charge(max(len(out)-bound, 0))
}

func printfBound(format string) (int, error) {
	const fmtMaxWidth = 1e6 // fmt prints %!(BADWIDTH) past this
	n := len(format)
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("+-# 0", format[i]) >= 0 {
			i++
		}
		for part := 0; part < 2; part++ {
			if i < len(format) && format[i] == '[' {
				for i < len(format) && format[i] != ']' {
					i++
				}
				i++
			}
			if i < len(format) && format[i] == '*' {
				return 0, errors.New("printf: '*' width and precision are not supported")
			}
			w := 0
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				if w <= fmtMaxWidth {
					w = w*10 + int(format[i]-'0')
				}
				i++
			}
			if w <= fmtMaxWidth {
				n += w
			}
			if part == 1 || i >= len(format) || format[i] != '.' {
				break
			}
			i++
		}
	}
	return n, nil
}

func (st *templateState) fromJSON(s string) (any, error) {
	if err := st.chargeProduct(len(s), 8); err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return jsonNothing(nil), nil
	}
	return v, nil
}

// jsonNothing is fromJson's result for input that is not JSON: it prints
// as "" (Loki's documented result) and ranges over nothing (what sprig's
// nil gives).
type jsonNothing map[string]any

func (jsonNothing) String() string { return "" }

func (st *templateState) compileRegexp(expr string) (*regexp.Regexp, error) {
	if re, ok := st.regexps[expr]; ok {
		return re, nil
	}
	if err := st.chargeProduct(len(expr), 64); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	if st.regexps == nil {
		st.regexps = make(map[string]*regexp.Regexp)
	}
	if len(st.regexps) < templateCacheSize {
		st.regexps[expr] = re
	}
	return re, nil
}

// regexReplace is regexp's ReplaceAllString or ReplaceAllLiteralString. A
// first pass bounds the output: each match costs the replacement plus, for
// every '$' in it, the match length (a group is never longer).
func (st *templateState) regexReplace(expr, s, repl string, literal bool) (string, error) {
	re, err := st.compileRegexp(expr)
	if err != nil {
		return "", err
	}
	if err := st.charge(len(s)); err != nil {
		return "", err
	}
	dollars := 0
	if !literal {
		dollars = strings.Count(repl, "$")
	}
	var cerr error
	re.ReplaceAllStringFunc(s, func(m string) string {
		if cerr == nil {
			cerr = st.charge(len(repl) + templateMatchCost)
			if cerr == nil && dollars > 0 {
				cerr = st.chargeProduct(dollars, len(m))
			}
		}
		return ""
	})
	if cerr != nil {
		return "", cerr
	}
	if literal {
		return re.ReplaceAllLiteralString(s, repl), nil
	}
	return re.ReplaceAllString(s, repl), nil
}

// count returns the number of matches of expr in s.
func (st *templateState) count(expr, s string) (int, error) {
	re, err := st.compileRegexp(expr)
	if err != nil {
		return 0, err
	}
	if err := st.charge(len(s)); err != nil {
		return 0, err
	}
	n := 0
	var cerr error
	re.ReplaceAllStringFunc(s, func(string) string {
		n++
		if cerr == nil {
			cerr = st.charge(templateMatchCost)
		}
		return ""
	})
	return n, cerr
}

// date is sprig's date: format a time, or Unix seconds given as an
// integer, in the server's zone; anything else formats the current time.
func (st *templateState) date(layout string, v any) (string, error) {
	if err := st.chargeProduct(len(layout), 4); err != nil {
		return "", err
	}
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case *time.Time:
		t = *v
	case int64:
		t = time.Unix(v, 0)
	case int:
		t = time.Unix(int64(v), 0)
	case int32:
		t = time.Unix(int64(v), 0)
	default:
		t = time.Now()
	}
	out := t.In(time.Local).Format(layout)
	return out, st.charge(len(out))
}

// toDateInZone parses s in the named zone (UTC when unknown); a string
// that does not parse gives the zero time, as in Loki.
func (st *templateState) toDateInZone(layout, zone, s string) time.Time {
	loc, ok := st.zones[zone]
	if !ok {
		var err error
		if loc, err = time.LoadLocation(zone); err != nil {
			loc = time.UTC
		}
		if st.zones == nil {
			st.zones = make(map[string]*time.Location)
		}
		if len(st.zones) < templateCacheSize {
			st.zones[zone] = loc
		}
	}
	t, _ := time.ParseInLocation(layout, s, loc)
	return t
}

// unixToTime is Loki's: the number of digits tells the unit (5 days, 10
// seconds, 13 milliseconds, 16 microseconds, 19 nanoseconds).
func unixToTime(epoch string) (time.Time, error) {
	i, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("unable to parse time '%v': %w", epoch, err)
	}
	switch len(epoch) {
	case 5:
		return time.Unix(i*86400, 0), nil
	case 10:
		return time.Unix(i, 0), nil
	case 13:
		return time.Unix(0, i*1e6), nil
	case 16:
		return time.Unix(0, i*1e3), nil
	case 19:
		return time.Unix(0, i), nil
	}
	return time.Time{}, fmt.Errorf("unable to parse time '%v': unknown length", epoch)
}

// titleCase is strings.Title: the first letter of every word upper-cased.
func titleCase(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		sep := titleSeparator(prev)
		prev = r
		if sep {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}

func titleSeparator(r rune) bool {
	if r <= 0x7f {
		return !isLabelByte(byte(r))
	}
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return false
	}
	return unicode.IsSpace(r)
}

// tmplDefault is sprig's default: given[0] unless it is missing or empty.
func tmplDefault(d any, given ...any) any {
	if len(given) == 0 || tmplEmpty(given[0]) {
		return d
	}
	return given[0]
}

func tmplEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case int:
		return v == 0
	case int64:
		return v == 0
	case float64:
		return v == 0
	case time.Time:
		return false
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Array, reflect.Slice, reflect.Map, reflect.String:
		return r.Len() == 0
	case reflect.Bool:
		return !r.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return r.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return r.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return r.Float() == 0
	case reflect.Complex64, reflect.Complex128:
		return r.Complex() == 0
	case reflect.Struct:
		return false
	}
	return r.IsNil()
}

// tmplInt64 converts like spf13/cast's ToInt64, which sprig uses: strings
// are parsed with base prefixes ("0x1f", "0o17", "017" octal) after
// dropping a zero fraction ("3.0"); what does not convert is 0.
func tmplInt64(v any) int64 {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int64:
		return v
	case int32:
		return int64(v)
	case int16:
		return int64(v)
	case int8:
		return int64(v)
	case uint:
		return int64(v)
	case uint64:
		return int64(v)
	case uint32:
		return int64(v)
	case uint16:
		return int64(v)
	case uint8:
		return int64(v)
	case float64:
		return int64(v)
	case float32:
		return int64(v)
	case string:
		n, err := strconv.ParseInt(trimZeroDecimal(v), 0, 0)
		if err != nil {
			return 0
		}
		return n
	case json.Number:
		return tmplInt64(string(v))
	case bool:
		if v {
			return 1
		}
	}
	return 0
}

func trimZeroDecimal(s string) string {
	foundZero := false
	for i := len(s); i > 0; i-- {
		switch s[i-1] {
		case '.':
			if foundZero {
				return s[:i-1]
			}
		case '0':
			foundZero = true
		default:
			return s
		}
	}
	return s
}

// tmplFloat64 converts like spf13/cast's ToFloat64; what does not convert
// is 0.
func tmplFloat64(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case int32:
		return float64(v)
	case int16:
		return float64(v)
	case int8:
		return float64(v)
	case uint:
		return float64(v)
	case uint64:
		return float64(v)
	case uint32:
		return float64(v)
	case uint16:
		return float64(v)
	case uint8:
		return float64(v)
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0
		}
		return f
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return 0
		}
		return f
	case bool:
		if v {
			return 1
		}
	}
	return 0
}

// tmplRound is sprig's round: to p decimals, rounding up from roundOn
// (default .5).
func tmplRound(a any, p int, roundOn ...float64) float64 {
	on := .5
	if len(roundOn) > 0 {
		on = roundOn[0]
	}
	pow := math.Pow(10, float64(p))
	digit := pow * tmplFloat64(a)
	_, frac := math.Modf(digit)
	if frac >= on {
		return math.Ceil(digit) / pow
	}
	return math.Floor(digit) / pow
}

// decimalOp folds vs into a with decimal arithmetic, as sprig's addf, subf,
// mulf and divf do (shopspring/decimal): each operand is taken at its
// shortest decimal form, and quotients are rounded to 16 decimals.
func decimalOp(a any, vs []any, op byte) (float64, error) {
	acc, err := decimalOf(a)
	if err != nil {
		return 0, err
	}
	for _, v := range vs {
		x, err := decimalOf(v)
		if err != nil {
			return 0, err
		}
		switch op {
		case '+':
			acc.Add(acc, x)
		case '-':
			acc.Sub(acc, x)
		case '*':
			acc.Mul(acc, x)
		case '/':
			if x.Sign() == 0 {
				return 0, errors.New("decimal division by zero")
			}
			acc = roundDecimal(acc.Quo(acc, x), 16)
		}
	}
	f, _ := acc.Float64()
	return f, nil
}

func decimalOf(v any) (*big.Rat, error) {
	f := tmplFloat64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("cannot use %v in decimal arithmetic", f)
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok {
		return nil, fmt.Errorf("cannot use %v in decimal arithmetic", f)
	}
	return r, nil
}

// roundDecimal rounds r to places decimals, halves away from zero.
func roundDecimal(r *big.Rat, places int) *big.Rat {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	num := new(big.Int).Mul(r.Num(), scale)
	q, m := new(big.Int).QuoRem(num, r.Denom(), new(big.Int))
	if m.Sign() != 0 && new(big.Int).Abs(new(big.Int).Lsh(m, 1)).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(int64(r.Sign())))
	}
	return new(big.Rat).SetFrac(q, scale)
}
