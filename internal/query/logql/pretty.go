package logql

import (
	"math"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
)

// MaxCharsPerLine is the length over which Prettify breaks an expression
// over lines: Loki's syntax.MaxCharsPerLine.
const MaxCharsPerLine = 100

// Prettify writes a query as Loki's format_query does (syntax.Prettify,
// pkg/logql/syntax/prettier.go): an expression whose String is at most
// MaxCharsPerLine characters stays on one line; a longer one is broken
// over lines, each level of nesting indented by two blanks:
//
//   - a log query: the selector, then each stage on a line of its own one
//     level deeper (a run of line filters is one stage, on one line while
//     it fits, else each filter from the first that does not on a line of
//     its own); `| decolorize` is not indented, as in Loki;
//   - a range aggregation: `op(`, its parameter, the log range one level
//     deeper (`| unwrap` and its filters on lines of their own, then
//     ` [5m]` and ` offset 1h` as model.Duration writes them), `)`, and
//     ` by (a, b)`;
//   - a vector aggregation: `op by (a, b)(`, its parameter and argument
//     one level deeper, separated by `,`, then `)`;
//   - a binary operation, without its parentheses: the left side one
//     level deeper, the operator (`bool`, `on (a, b) group_left (c)`),
//     the right side one level deeper;
//   - label_replace: its five arguments one level deeper.
//
// Where Loki's printer loses part of a query (the other values of an
// `or` chain of a line filter split from the filters before it), Horus
// keeps them.
func Prettify(e Expr) string { return pretty(e, 0) }

func indent(level int) string { return strings.Repeat("  ", level) }

func needSplit(s string) bool { return len(s) > MaxCharsPerLine }

func pretty(e Expr, level int) string {
	s := e.String()
	if !needSplit(s) {
		return indent(level) + s
	}
	switch e := e.(type) {
	case *LogExpr:
		return e.pretty(level)
	case *RangeAgg:
		return e.pretty(level)
	case *VectorAgg:
		return e.pretty(level)
	case *BinaryExpr:
		return pretty(e.Left, level+1) + "\n" + indent(level) + e.opString(", ") + "\n" + pretty(e.Right, level+1)
	case *LabelReplace:
		return indent(level) + "label_replace(\n" + strings.Join([]string{
			pretty(e.Inner, level+1),
			indent(level+1) + strconv.Quote(e.Dst),
			indent(level+1) + strconv.Quote(e.Replacement),
			indent(level+1) + strconv.Quote(e.Src),
			indent(level+1) + strconv.Quote(e.Re),
		}, ",\n") + "\n" + indent(level) + ")"
	}
	return indent(level) + s
}

// pretty is PipelineExpr.Pretty: the selector, then the stages one level
// deeper, a run of line filters being one stage (Loki's parser nests
// them in one LineFilterExpr).
func (e *LogExpr) pretty(level int) string {
	if len(e.Stages) == 0 {
		return indent(level) + e.String()
	}
	lines := []string{indent(level) + (&LogExpr{Matchers: e.Matchers}).String()}
	for i := 0; i < len(e.Stages); i++ {
		if _, ok := e.Stages[i].(*LineFilter); !ok {
			lines = append(lines, prettyStage(e.Stages[i], level+1))
			continue
		}
		j := i
		for j < len(e.Stages) {
			if _, ok := e.Stages[j].(*LineFilter); !ok {
				break
			}
			j++
		}
		lines = append(lines, prettyFilters(e.Stages[i:j], level+1))
		i = j - 1
	}
	return strings.Join(lines, "\n")
}

func prettyStage(s Stage, level int) string {
	if _, ok := s.(DecolorizeStage); ok {
		return s.String() // DecolorizeExpr.Pretty does not indent
	}
	return indent(level) + s.String()
}

// prettyFilters is LineFilterExpr.Pretty over a run of line filters: on
// one line while they fit, else the filters before the last (the same
// way) and the last on a line of its own, at the same level.
func prettyFilters(fs []Stage, level int) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.String()
	}
	if s := strings.Join(parts, " "); len(fs) == 1 || !needSplit(s) {
		return indent(level) + s
	}
	return prettyFilters(fs[:len(fs)-1], level) + "\n" + indent(level) + parts[len(parts)-1]
}

// pretty is RangeAggregationExpr.Pretty with LogRangeExpr.Pretty.
func (r *RangeAgg) pretty(level int) string {
	s := indent(level) + r.Op + "(\n"
	if r.Op == "quantile_over_time" {
		s += indent(level+1) + strconv.FormatFloat(r.Param, 'g', -1, 64) + ",\n"
	}
	s += pretty(r.Log, level+1)
	if u := r.Unwrap; u != nil {
		s += "\n" + indent(level+2) + "| unwrap "
		if u.Conv != "" {
			s += u.Conv + "(" + u.Label + ")"
		} else {
			s += u.Label
		}
		for _, f := range u.Filters {
			s += "\n" + indent(level+2) + "| " + f.String()
		}
	}
	s += " [" + formatDuration(r.Range) + "]"
	if r.Offset != 0 {
		s += " offset " + model.Duration(r.Offset).String()
	}
	s += "\n" + indent(level) + ")"
	if r.Grouping != nil {
		s += r.Grouping.pretty()
	}
	return s
}

// pretty is VectorAggregationExpr.Pretty: the grouping before the
// parentheses, the parameter (topk and bottomk always, others when not
// 0) and the argument one level deeper.
func (a *VectorAgg) pretty(level int) string {
	s := indent(level) + a.Op
	if a.Grouping != nil {
		s += a.Grouping.pretty()
	}
	var args []string
	if a.Op == "topk" || a.Op == "bottomk" || a.Param != 0 {
		args = append(args, indent(level+1)+strconv.FormatFloat(a.Param, 'g', -1, 64))
	}
	args = append(args, pretty(a.Inner, level+1))
	return s + "(\n" + strings.Join(args, ",\n") + "\n" + indent(level) + ")"
}

// pretty is Grouping.Pretty: ` by (a, b)`, ` without (a, b)`, ` without`
// for `without ()`, nothing for `by ()`.
func (g *Grouping) pretty() string {
	s := ""
	if g.Without {
		s = " without"
	} else if len(g.Labels) > 0 {
		s = " by"
	}
	if len(g.Labels) > 0 {
		s += " (" + strings.Join(g.Labels, ", ") + ")"
	}
	return s
}

// opString is the operator with `bool` and its vector matching, label
// lists joined by sep: String's form (sep ","), or formatBinaryOp's
// (sep ", "), which writes the matching only when it names labels.
func (b *BinaryExpr) opString(sep string) string {
	op := b.Op
	if b.ReturnBool {
		op += " bool"
	}
	m := b.Matching
	if m == nil || (sep == ", " && len(m.Labels) == 0) || (!m.On && len(m.Labels) == 0 && m.Card == "") {
		return op
	}
	group := m.Card
	if len(m.Include) > 0 {
		group += " (" + strings.Join(m.Include, sep) + ")"
	}
	on := "on"
	if !m.On {
		on = "ignoring"
	}
	return op + " " + on + " (" + strings.Join(m.Labels, sep) + ") " + group
}

// HumanBytes writes a byte count as go-humanize v1.0.1's Bytes does
// (SI units, one decimal under 10), without its blank, as Loki prints a
// byte-size label filter (BytesLabelFilter.String) and lists a parsed
// byte size in detected_field values: 2048 is "2.0kB", 1500000 "1.5MB",
// 9 "9B".
func HumanBytes(n uint64) string {
	if n < 10 {
		return strconv.FormatUint(n, 10) + "B"
	}
	e := math.Floor(math.Log(float64(n)) / math.Log(1000))
	val := math.Floor(float64(n)/math.Pow(1000, e)*10+0.5) / 10
	prec := 0
	if val < 10 {
		prec = 1
	}
	return strconv.FormatFloat(val, 'f', prec, 64) + []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}[int(e)]
}
