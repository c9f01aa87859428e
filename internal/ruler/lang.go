package ruler

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"go.yaml.in/yaml/v3"

	"github.com/horus-obs/horus/internal/query/logql"
	"github.com/horus-obs/horus/internal/query/traceql"
)

// Lang is the query language of a rule group.
type Lang string

// The languages a rule's expr may be written in.
const (
	PromQL  Lang = "promql"
	LogQL   Lang = "logql"
	TraceQL Lang = "traceql"
)

// Langs are the languages, in the order their rule managers run.
var Langs = []Lang{PromQL, LogQL, TraceQL}

// LangLabel is the group label that sets a group's language in any rule
// file (rule_files, logql_rule_files or traceql_rule_files): promql,
// logql or traceql. It is taken off the group before evaluation, so it is
// on no series or alert.
const LangLabel = "horus_query_language"

// foreignExpr is a LogQL or TraceQL query carried through Prometheus'
// rule manager as a parser.Expr, as Loki's ruler carries LogQL: the rule
// keeps it and hands its text back to the manager's query function.
type foreignExpr struct {
	lang  Lang
	query string
}

func (e *foreignExpr) String() string    { return e.query }
func (e *foreignExpr) Pretty(int) string { return e.query }
func (e *foreignExpr) PositionRange() posrange.PositionRange {
	return posrange.PositionRange{End: posrange.Pos(len(e.query))}
}
func (*foreignExpr) Type() parser.ValueType { return parser.ValueTypeVector }
func (*foreignExpr) PromQLExpr()            {}

// parseLogQL checks that q is a LogQL metric query.
func parseLogQL(q string) (parser.Expr, error) {
	if _, err := logql.ParseSample(q); err != nil {
		return nil, fmt.Errorf("LogQL: %w", err)
	}
	return &foreignExpr{LogQL, q}, nil
}

// parseTraceQL checks that q is a TraceQL metrics query.
func parseTraceQL(q string) (parser.Expr, error) {
	tq, err := traceql.Parse(q)
	if err != nil {
		return nil, fmt.Errorf("TraceQL: %w", err)
	}
	if tq.Metrics == nil {
		return nil, errors.New("TraceQL: not a metrics query; end it with a metrics function, as in { status = error } | rate() by (resource.service.name)")
	}
	return &foreignExpr{TraceQL, q}, nil
}

// Parsers parse a rule's expr in each language.
type Parsers struct {
	// PromQL is Horus' PromQL parser (its limits).
	PromQL parser.Parser
}

func (p Parsers) parse(lang Lang, q string) (parser.Expr, error) {
	switch lang {
	case LogQL:
		return parseLogQL(q)
	case TraceQL:
		return parseTraceQL(q)
	}
	return p.PromQL.ParseExpr(q)
}

// File is a rule file parsed: its groups by language, each without the
// language label.
type File struct {
	Name   string
	Groups map[Lang]*rulefmt.RuleGroups
	// Lines are the line of each group and rule, for findings: by group
	// name, the group's line, then each rule's (its alert: or record:).
	Lines map[string][]int
}

// ParseFile reads and parses a rule file whose groups are in language def
// unless their LangLabel says otherwise. Errors carry the file name and
// the line and column, as rulefmt's.
func ParseFile(name string, def Lang, ps Parsers, logger *slog.Logger) (*File, []error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, []error{err}
	}
	f, errs := Parse(b, def, ps, logger)
	if f != nil {
		f.Name = name
	}
	for i, e := range errs {
		errs[i] = fmt.Errorf("%s: %w", name, e)
	}
	return f, errs
}

// shape is what Parse reads of a file before rulefmt does: each group's
// language and each rule's expression, with their lines.
type shape struct {
	Groups []struct {
		Name   yaml.Node         `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
		Rules  []struct {
			Alert  yaml.Node `yaml:"alert"`
			Record yaml.Node `yaml:"record"`
			Expr   yaml.Node `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// Parse parses rule file content (see ParseFile).
func Parse(b []byte, def Lang, ps Parsers, logger *slog.Logger) (*File, []error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var sh shape
	if err := yaml.Unmarshal(b, &sh); err != nil {
		// rulefmt says it with the line.
		_, errs := rulefmt.Parse(b, false, model.UTF8Validation, ps.PromQL, logger)
		if len(errs) == 0 {
			errs = []error{err}
		}
		return nil, errs
	}
	var errs []error
	// exprLangs: the languages each expression text is written in (the
	// same text may stand in groups of two languages).
	exprLangs := map[string][]Lang{}
	groupLang := make([]Lang, len(sh.Groups))
	lines := map[string][]int{}
	for i, g := range sh.Groups {
		lang := def
		if v, ok := g.Labels[LangLabel]; ok {
			lang = Lang(strings.ToLower(v))
			if !slices.Contains(Langs, lang) {
				errs = append(errs, fmt.Errorf("%d:%d: group %q: label %s is %q; it must be promql, logql or traceql", g.Name.Line, g.Name.Column, g.Name.Value, LangLabel, v))
				lang = def
			}
		}
		groupLang[i] = lang
		ls := []int{g.Name.Line}
		for _, r := range g.Rules {
			exprLangs[r.Expr.Value] = append(exprLangs[r.Expr.Value], lang)
			line := r.Expr.Line
			for _, n := range []yaml.Node{r.Alert, r.Record} {
				if n.Line > 0 {
					line = n.Line
					break
				}
			}
			ls = append(ls, line)
		}
		lines[g.Name.Value] = ls
	}
	rgs, rerrs := rulefmt.Parse(b, false, model.UTF8Validation, langParser{ps.PromQL, ps, exprLangs}, logger)
	errs = append(errs, rerrs...)
	if len(errs) > 0 {
		return nil, errs
	}
	f := &File{Groups: map[Lang]*rulefmt.RuleGroups{}, Lines: lines}
	for i, g := range rgs.Groups {
		if i >= len(groupLang) {
			break
		}
		if _, ok := g.Labels[LangLabel]; ok {
			g.Labels = maps(g.Labels, LangLabel)
		}
		lang := groupLang[i]
		if f.Groups[lang] == nil {
			f.Groups[lang] = &rulefmt.RuleGroups{}
		}
		f.Groups[lang].Groups = append(f.Groups[lang].Groups, g)
	}
	return f, nil
}

// maps returns m without key, nil when nothing is left.
func maps(m map[string]string, key string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// langParser is the parser rulefmt validates expressions with: each in
// the language of its group (any of them, for a text that stands in
// groups of two languages). The rest of parser.Parser is PromQL's.
type langParser struct {
	parser.Parser
	ps        Parsers
	exprLangs map[string][]Lang
}

func (p langParser) ParseExpr(q string) (parser.Expr, error) {
	langs := p.exprLangs[q]
	if len(langs) == 0 {
		langs = []Lang{PromQL}
	}
	var first error
	for _, l := range langs {
		e, err := p.ps.parse(l, q)
		if err == nil {
			return e, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}
