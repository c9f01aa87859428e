// Package logql parses and evaluates LogQL, Grafana Loki's query
// language, over the event store: log queries (a stream selector and a
// pipeline of filters, parsers and formatters) and metric queries (range
// aggregations of log queries, vector aggregations, binary operations).
// Semantics follow Loki's documentation; see docs/loki.md for what
// differs.
package logql

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/regexp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// Expr is a parsed query: a *LogExpr or a SampleExpr.
type Expr interface {
	String() string
}

// SampleExpr is a metric query.
type SampleExpr interface {
	Expr
	sample()
}

// LogExpr is a log query: a stream selector and a pipeline.
type LogExpr struct {
	Matchers []*labels.Matcher
	Stages   []Stage
}

// Stage is a step of a pipeline.
type Stage interface {
	String() string
}

// LineFilter keeps lines that contain (|=), do not contain (!=), match
// (|~), do not match (!~) one of its values (or-chained), or match (|>)
// or not (!>) a pattern. With |= and !=, a value may be ip("pattern"):
// the line holds (or not) an address the pattern matches.
type LineFilter struct {
	Op     string
	Values []string
	IPs    []*IPMatcher // parallel to Values: non-nil for ip("...")
	res    []*regexp.Regexp
	pats   []*Pattern
	ids    bool // a value is a trace or span id (see matchRow)
}

// ParserStage extracts labels from the line: json, logfmt, regexp,
// pattern or unpack.
type ParserStage struct {
	Kind   string // json, logfmt, regexp, pattern, unpack
	Params []LabelExtraction
	Strict bool // logfmt --strict
	Keep   bool // logfmt --keep-empty
	Expr   string
	re     *regexp.Regexp
	names  []string
	pat    *Pattern
}

// LabelExtraction is a json or logfmt parameter: label="expression", or
// a bare name, short for name="name" (Loki's labelExtractionExpression).
type LabelExtraction struct {
	Label string
	Expr  string
	Bare  bool // written as a bare name
	json  *JSONExpr
}

// LabelFilterStage keeps lines whose labels pass a filter.
type LabelFilterStage struct {
	Filter LabelFilter
}

// LabelFilter is a predicate on labels: a comparison or and/or of two.
type LabelFilter interface {
	String() string
}

// LabelBinary is "a and b", "a or b" (a comma is "and").
type LabelBinary struct {
	Op          string // and, or
	Left, Right LabelFilter
}

// LabelCompare compares a label with a string (=, !=, =~, !~), a number,
// a duration or a byte size (= or ==, !=, >, >=, <, <=), or an ip()
// pattern (=, !=).
type LabelCompare struct {
	Name  string
	Op    string
	Kind  valueKind
	Str   string
	Num   float64 // numbers; durations in seconds; byte sizes
	Text  string  // the literal as written
	IP    *IPMatcher
	match *labels.Matcher
}

type valueKind uint8

const (
	kindString valueKind = iota
	kindNumber
	kindDuration
	kindBytes
	kindIP
)

// LineFormat replaces the line by a template's output.
type LineFormat struct {
	Template string
	tmpl     *Template
}

// LabelFormat renames labels (dst=src) or sets them from templates
// (dst="{{...}}").
type LabelFormat struct {
	Items []LabelFormatItem
}

// LabelFormatItem is one dst=src or dst="template".
type LabelFormatItem struct {
	Dst, Src string // Src is a label name when Rename, else a template
	Rename   bool
	tmpl     *Template
}

// DropKeep drops or keeps labels: by name, or by name and value.
type DropKeep struct {
	Keep  bool
	Items []DropKeepItem
}

// DropKeepItem is a label name, or a matcher on a label's value.
type DropKeepItem struct {
	Name    string
	Matcher *labels.Matcher // nil: by name alone
}

// DecolorizeStage strips ANSI colour codes from the line.
type DecolorizeStage struct{}

// Unwrap takes a label's value as the sample value of a range
// aggregation: as a number, or with duration() or bytes().
type Unwrap struct {
	Label   string
	Conv    string        // "", duration, duration_seconds, bytes
	Filters []LabelFilter // label filters after the unwrap
}

// RangeAgg is a range aggregation: rate, count_over_time...
type RangeAgg struct {
	Op       string
	Param    float64 // quantile_over_time's φ
	Log      *LogExpr
	Range    time.Duration
	Offset   time.Duration
	Unwrap   *Unwrap
	Grouping *Grouping // for aggregations of unwrapped values
}

// VectorAgg aggregates series: sum, avg, topk...
type VectorAgg struct {
	Op       string
	Param    float64 // topk and bottomk's k
	Grouping *Grouping
	Inner    SampleExpr
}

// Grouping is by (...) or without (...).
type Grouping struct {
	Without bool
	Labels  []string
}

// BinaryExpr is an arithmetic, comparison or set operation.
type BinaryExpr struct {
	Op          string
	Left, Right SampleExpr
	ReturnBool  bool
	Matching    *VectorMatching
}

// VectorMatching is on/ignoring with group_left/group_right.
type VectorMatching struct {
	On      bool
	Labels  []string
	Card    string // "", group_left, group_right
	Include []string
}

// Literal is a number.
type Literal struct{ Val float64 }

// VectorExpr is vector(x): one series without labels.
type VectorExpr struct{ Val float64 }

// LabelReplace is label_replace(expr, dst, replacement, src, regex).
type LabelReplace struct {
	Inner                     SampleExpr
	Dst, Replacement, Src, Re string
	re                        *regexp.Regexp
}

func (*RangeAgg) sample()     {}
func (*VectorAgg) sample()    {}
func (*BinaryExpr) sample()   {}
func (*Literal) sample()      {}
func (*VectorExpr) sample()   {}
func (*LabelReplace) sample() {}

// String renders the query the way Loki's format_query does, on one line.
func (e *LogExpr) String() string {
	var b strings.Builder
	b.WriteString("{")
	for i, m := range e.Matchers {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.Name + m.Type.String() + strconv.Quote(m.Value))
	}
	b.WriteString("}")
	for _, s := range e.Stages {
		b.WriteString(" " + s.String())
	}
	return b.String()
}

// String is LineFilterExpr.String: `|= "a" or "b"`; a negated filter's
// values (none of them is found, so each is a filter of its own, as
// Loki's parser makes them) as `!= "a" != "b"`.
func (f *LineFilter) String() string {
	q := make([]string, len(f.Values))
	for i, v := range f.Values {
		q[i] = strconv.Quote(v)
		if i < len(f.IPs) && f.IPs[i] != nil {
			q[i] = "ip(" + q[i] + ")"
		}
	}
	if f.Op[0] == '!' {
		return f.Op + " " + strings.Join(q, " "+f.Op+" ")
	}
	return f.Op + " " + strings.Join(q, " or ")
}

func (p *ParserStage) String() string {
	s := "| " + p.Kind
	if p.Strict {
		s += " --strict"
	}
	if p.Keep {
		s += " --keep-empty"
	}
	if p.Kind == "regexp" || p.Kind == "pattern" {
		return s + " " + strconv.Quote(p.Expr)
	}
	// JSONExpressionParserExpr and LogfmtExpressionParserExpr's String:
	// every parameter label="expression" (a bare name too), no blank
	// after a comma.
	for i, e := range p.Params {
		if i == 0 {
			s += " "
		} else {
			s += ","
		}
		s += e.Label + "=" + strconv.Quote(e.Expr)
	}
	return s
}

func (f *LabelFilterStage) String() string { return "| " + f.Filter.String() }

// String is BinaryLabelFilter.String (pkg/logql/log/label_filter.go):
// always in parentheses, "and" written as a comma: `a, b or c` (Loki's
// grouping: a and (b or c)) prints as `( a , ( b or c ) )`.
func (b *LabelBinary) String() string {
	op := " , "
	if b.Op == "or" {
		op = " or "
	}
	return "( " + b.Left.String() + op + b.Right.String() + " )"
}

// String is as Loki's label filters print: a string matcher as
// written; a number with strconv's shortest 'f' form, a duration as
// time.Duration writes it, a byte size as go-humanize's Bytes without
// the blank (HumanBytes; in bytes where that would round), each with `=`
// written `==` (NumericLabelFilter,
// DurationLabelFilter and BytesLabelFilter's String).
func (c *LabelCompare) String() string {
	op := c.Op
	if op == "=" && c.Kind != kindString && c.Kind != kindIP {
		op = "=="
	}
	switch c.Kind {
	case kindString:
		return c.Name + op + strconv.Quote(c.Str)
	case kindIP:
		return c.Name + op + "ip(" + strconv.Quote(c.IP.String()) + ")"
	case kindNumber:
		return c.Name + op + strconv.FormatFloat(c.Num, 'f', -1, 64)
	case kindDuration:
		return c.Name + op + time.Duration(math.Round(c.Num*1e9)).String()
	case kindBytes:
		// Loki's rounds (1234B prints as 1.2kB, 1200 bytes): Horus
		// keeps the exact count where Loki's form would lose it, so that
		// a printed query means what the parsed one meant.
		h := HumanBytes(uint64(c.Num))
		if n, err := ParseBytes(h); err != nil || n != c.Num {
			h = strconv.FormatUint(uint64(c.Num), 10) + "B"
		}
		return c.Name + op + h
	}
	return c.Name + op + c.Text
}

func (l *LineFormat) String() string { return "| line_format " + strconv.Quote(l.Template) }

func (l *LabelFormat) String() string {
	parts := make([]string, len(l.Items))
	for i, it := range l.Items {
		if it.Rename {
			parts[i] = it.Dst + "=" + it.Src
		} else {
			parts[i] = it.Dst + "=" + strconv.Quote(it.Src)
		}
	}
	return "| label_format " + strings.Join(parts, ",") // LabelFmtExpr.String
}

func (d *DropKeep) String() string {
	parts := make([]string, len(d.Items))
	for i, it := range d.Items {
		if it.Matcher != nil {
			parts[i] = it.Name + it.Matcher.Type.String() + strconv.Quote(it.Matcher.Value)
		} else {
			parts[i] = it.Name
		}
	}
	// DropLabelsExpr and KeepLabelsExpr's String: no blank after a comma.
	if d.Keep {
		return "| keep " + strings.Join(parts, ",")
	}
	return "| drop " + strings.Join(parts, ",")
}

func (DecolorizeStage) String() string { return "| decolorize" }

func (u *Unwrap) String() string {
	s := "| unwrap "
	if u.Conv != "" {
		s += u.Conv + "(" + u.Label + ")"
	} else {
		s += u.Label
	}
	for _, f := range u.Filters {
		s += " | " + f.String()
	}
	return s
}

// The metric expressions print as Loki's syntax package prints them
// (pkg/logql/syntax/ast.go, the String methods that format_query's
// Prettify uses for a query of up to 100 characters): no blank before a
// range or after a comma, `by (a,b)` right before the aggregation's
// parentheses, every binary operation in parentheses, vector's value
// with %f, a duration of offset as Go writes it.

// String is RangeAggregationExpr.String with LogRangeExpr.String:
// `op(param,{...} | unwrap x[5m] offset 1h0m0s) by (a)`.
func (r *RangeAgg) String() string {
	s := r.Op + "("
	if r.Op == "quantile_over_time" {
		s += strconv.FormatFloat(r.Param, 'f', -1, 64) + ","
	}
	s += r.Log.String()
	if r.Unwrap != nil {
		s += " " + r.Unwrap.String()
	}
	s += "[" + formatDuration(r.Range) + "]"
	if r.Offset != 0 {
		s += " offset " + r.Offset.String()
	}
	s += ")"
	if r.Grouping != nil {
		s += r.Grouping.String()
	}
	return s
}

// String is VectorAggregationExpr.String (formatVectorOperation):
// `op by (a,b)(param,inner)`, no grouping for `by ()`.
func (a *VectorAgg) String() string {
	s := a.Op
	if g := a.Grouping; g != nil && (g.Without || len(g.Labels) > 0) {
		s += g.String()
	}
	s += "("
	if a.Op == "topk" || a.Op == "bottomk" || a.Op == "approx_topk" {
		s += strconv.FormatFloat(a.Param, 'g', -1, 64) + ","
	}
	return s + a.Inner.String() + ")"
}

// String is Grouping.String: ` by (a,b)` or ` without (a,b)`, with its
// leading blank.
func (g *Grouping) String() string {
	if g.Without {
		return " without (" + strings.Join(g.Labels, ",") + ")"
	}
	return " by (" + strings.Join(g.Labels, ",") + ")"
}

// String is BinOpExpr.String: `(l op r)`, with `bool`, and
// `on (a) group_left (b)` after the operator; as Loki's, a matching
// without group_left or group_right leaves two blanks before r.
func (b *BinaryExpr) String() string {
	return "(" + b.Left.String() + " " + b.opString(",") + " " + b.Right.String() + ")"
}

// String is LiteralExpr.String: fmt.Sprint of the value.
func (l *Literal) String() string { return strconv.FormatFloat(l.Val, 'g', -1, 64) }

// String is VectorExpr.String: the value with %f, `vector(0.000000)`.
func (v *VectorExpr) String() string {
	return "vector(" + strconv.FormatFloat(v.Val, 'f', 6, 64) + ")"
}

// String is LabelReplaceExpr.String: the arguments quoted, no blanks.
func (l *LabelReplace) String() string {
	return "label_replace(" + l.Inner.String() + "," + strconv.Quote(l.Dst) + "," + strconv.Quote(l.Replacement) + "," +
		strconv.Quote(l.Src) + "," + strconv.Quote(l.Re) + ")"
}

func formatDuration(d time.Duration) string {
	return model.Duration(d).String()
}
