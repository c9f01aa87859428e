package logql

import (
	"slices"
	"strconv"
	"strings"

	"github.com/grafana/regexp"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/store/events"
)

// Label categories, as Loki's categorize-labels encoding names them.
const (
	catStream = iota
	catMetadata
	catParsed
)

// Errors a pipeline sets in __error__, as Loki's.
const (
	errJSON       = "JSONParserErr"
	errLogfmt     = "LogfmtParserErr"
	errLabelFilt  = "LabelFilterErr"
	errSample     = "SampleExtractionErr"
	errTemplate   = "TemplateFormatErr"
	errorLabel    = "__error__"
	errorDetails  = "__error_details__"
	maxLabelBytes = 64 << 10
)

type label struct {
	name, value string
	cat         uint8
}

// row is one log line going through a pipeline: its line and labels.
type row struct {
	line    string
	ts      int64
	traceID events.TraceID // the line's trace and span id columns
	spanID  events.SpanID
	lbls    []label
	streams events.StreamLabelCache
}

func (r *row) get(name string) (string, bool) {
	for i := len(r.lbls) - 1; i >= 0; i-- {
		if r.lbls[i].name == name {
			return r.lbls[i].value, true
		}
	}
	return "", false
}

func (r *row) set(name, value string, cat uint8) {
	for i := range r.lbls {
		if r.lbls[i].name == name {
			r.lbls[i].value, r.lbls[i].cat = value, cat
			return
		}
	}
	r.lbls = append(r.lbls, label{name, value, cat})
}

func (r *row) del(name string) {
	for i := range r.lbls {
		if r.lbls[i].name == name {
			r.lbls = append(r.lbls[:i], r.lbls[i+1:]...)
			return
		}
	}
}

// setParsed adds a label extracted from the line. A name a stream label
// or structured metadata already has gets the suffix _extracted, as in
// Loki; an earlier parsed label is overwritten.
func (r *row) setParsed(name, value string) {
	name = events.SanitizeLabelName(name)
	for i := range r.lbls {
		if r.lbls[i].name == name {
			if r.lbls[i].cat == catParsed {
				r.lbls[i].value = value
				return
			}
			name += "_extracted"
			break
		}
	}
	r.set(name, value, catParsed)
}

func (r *row) setError(kind, details string) {
	if _, ok := r.get(errorLabel); ok {
		return // the first error stays
	}
	r.set(errorLabel, kind, catParsed)
	if details != "" {
		r.set(errorDetails, details, catParsed)
	}
}

// detectedLevel is the structured metadata Loki 3 gives every line
// (limits_config discover_log_levels, on by default): the line's level as
// trace, debug, info, warn, error, critical, fatal or unknown. Horus
// derives it from the severity as the level stream label is (see
// events.Event.Level); a detected_level the line's metadata has wins.
const detectedLevel = "detected_level"

// load fills the row from an event: the line, the stream labels, and if
// metadata, the structured metadata (attributes, trace_id, span_id).
func (r *row) load(e *events.Event, metadata bool) {
	r.line, r.ts = e.Body, e.Time
	r.traceID, r.spanID = e.TraceID, e.SpanID
	r.lbls = r.lbls[:0]
	for _, l := range r.streams.Labels(e) {
		r.lbls = append(r.lbls, label{l.Name, l.Value, catStream})
	}
	if !metadata {
		return
	}
	for _, a := range e.Attrs {
		n := events.SanitizeLabelName(a.Key)
		if _, dup := r.get(n); !dup {
			r.lbls = append(r.lbls, label{n, a.Value.String(), catMetadata})
		}
	}
	if _, ok := r.get(detectedLevel); !ok {
		r.lbls = append(r.lbls, label{detectedLevel, e.Level(), catMetadata})
	}
	if !e.TraceID.IsZero() {
		r.set("trace_id", e.TraceID.String(), catMetadata)
	}
	if !e.SpanID.IsZero() {
		r.set("span_id", e.SpanID.String(), catMetadata)
	}
}

// labels returns the row's labels of the given categories, sorted.
func (r *row) labels(cats ...uint8) labels.Labels {
	b := labels.NewScratchBuilder(len(r.lbls))
	for _, l := range r.lbls {
		for _, c := range cats {
			if l.cat == c {
				b.Add(l.name, l.value)
				break
			}
		}
	}
	b.Sort()
	return b.Labels()
}

// run passes the row through the stages; false drops it.
func run(stages []Stage, r *row) bool {
	for _, s := range stages {
		switch s := s.(type) {
		case *LineFilter:
			if !s.matchRow(r) {
				return false
			}
		case *ParserStage:
			s.parse(r)
		case *LabelFilterStage:
			if !evalLabelFilter(s.Filter, r) {
				return false
			}
		case *LineFormat:
			out, err := s.tmpl.Execute(r.line, r.ts, r.get, r.all)
			if err != nil {
				r.setError(errTemplate, err.Error())
				continue
			}
			r.line = out
		case *LabelFormat:
			s.apply(r)
		case *DropKeep:
			s.apply(r)
		case DecolorizeStage:
			r.line = DecolorizeLine(r.line)
		}
	}
	return true
}

func (r *row) all() map[string]string {
	m := make(map[string]string, len(r.lbls))
	for _, l := range r.lbls {
		m[l.name] = l.value
	}
	return m
}

// match reports whether the line passes the filter: for |=, |~ and |>,
// whether any of its values (joined by "or") is found; for !=, !~ and !>,
// whether none is.
func (f *LineFilter) match(line string) bool {
	var found bool
	switch f.Op {
	case "|=", "!=":
		found = slices.ContainsFunc(f.Values, func(v string) bool { return strings.Contains(line, v) })
	case "|~", "!~":
		found = slices.ContainsFunc(f.res, func(re *regexp.Regexp) bool { return re.MatchString(line) })
	case "|>", "!>":
		found = slices.ContainsFunc(f.pats, func(p *Pattern) bool { return p.Matches(line) })
	default:
		return false
	}
	return found == (f.Op[0] == '|')
}

// matchRow is match on a row's line, where a |= or != needle that is a
// trace id (32 hex digits) or span id (16) also matches the row's id
// columns: Grafana's default trace-to-logs query is
// {service_name="x"} |= "<trace id>", and ingest moves an id out of a
// JSON line into its column, while OTLP logs carry it only there.
func (f *LineFilter) matchRow(r *row) bool {
	if f.ids && (f.Op == "|=" || f.Op == "!=") && (!r.traceID.IsZero() || !r.spanID.IsZero()) {
		for _, v := range f.Values {
			if idEquals(v, r.traceID[:]) || idEquals(v, r.spanID[:]) {
				return f.Op == "|="
			}
		}
	}
	return f.match(r.line)
}

// idEquals reports whether hex (either case) spells id, a non-zero id.
func idEquals(hex string, id []byte) bool {
	if len(hex) != 2*len(id) {
		return false
	}
	zero := true
	for i, b := range id {
		if hexVal(hex[2*i]) != int(b>>4) || hexVal(hex[2*i+1]) != int(b&15) {
			return false
		}
		zero = zero && b == 0
	}
	return !zero
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// isID reports whether s looks like a trace id or span id: 32 or 16 hex
// digits.
func isID(s string) bool {
	if len(s) != 32 && len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if hexVal(s[i]) < 0 {
			return false
		}
	}
	return true
}

// pushable reports whether the event store can apply the filter itself:
// one non-empty substring that must be in the line (and not an id, which
// may be in the id columns instead: see matchRow).
func (f *LineFilter) pushable() bool {
	return f.Op == "|=" && len(f.Values) == 1 && f.Values[0] != "" && !f.ids
}

func (s *ParserStage) parse(r *row) {
	switch s.Kind {
	case "json":
		if len(s.Params) > 0 {
			if err := ValidateJSONLine(r.line); err != nil {
				r.setError(errJSON, err.Error())
				return
			}
			for _, p := range s.Params {
				if v, ok := p.json.Extract(r.line); ok {
					r.setParsed(p.Label, v)
				} else {
					r.setParsed(p.Label, "")
				}
			}
			return
		}
		if err := JSONFields(r.line, r.setParsed); err != nil {
			r.setError(errJSON, err.Error())
		}
	case "logfmt":
		if len(s.Params) > 0 {
			want := make(map[string]string, len(s.Params))
			for _, p := range s.Params {
				want[p.Expr] = p.Label
			}
			err := Logfmt(r.line, s.Strict, s.Keep, func(k, v string) {
				if l, ok := want[k]; ok {
					r.setParsed(l, v)
				}
			})
			if err != nil {
				r.setError(errLogfmt, err.Error())
			}
			return
		}
		if err := Logfmt(r.line, s.Strict, s.Keep, r.setParsed); err != nil {
			r.setError(errLogfmt, err.Error())
		}
	case "regexp":
		m := s.re.FindStringSubmatch(r.line)
		if m == nil {
			return
		}
		for i, n := range s.names {
			if n != "" {
				r.setParsed(n, m[i])
			}
		}
	case "pattern":
		s.pat.Match(r.line, func(n, v string) { r.setParsed(n, v) })
	case "unpack":
		entry := ""
		err := JSONFields(r.line, func(k, v string) {
			if k == "_entry" {
				entry = v
				return
			}
			r.setParsed(k, v)
		})
		if err != nil {
			r.setError(errJSON, err.Error())
			return
		}
		if entry != "" {
			r.line = entry
		}
	}
}

func evalLabelFilter(f LabelFilter, r *row) bool {
	switch f := f.(type) {
	case *LabelBinary:
		if f.Op == "and" {
			return evalLabelFilter(f.Left, r) && evalLabelFilter(f.Right, r)
		}
		return evalLabelFilter(f.Left, r) || evalLabelFilter(f.Right, r)
	case *LabelCompare:
		v, ok := r.get(f.Name)
		if f.Kind == kindString {
			return f.match.Matches(v)
		}
		if !ok {
			return false
		}
		var n float64
		var err error
		switch f.Kind {
		case kindNumber:
			n, err = strconv.ParseFloat(v, 64)
		case kindDuration:
			n, err = ParseDuration(v)
		case kindBytes:
			n, err = ParseBytes(v)
		}
		if err != nil {
			// Loki keeps the line and marks it.
			r.setError(errLabelFilt, err.Error())
			return true
		}
		switch f.Op {
		case "==", "=":
			return n == f.Num
		case "!=":
			return n != f.Num
		case ">":
			return n > f.Num
		case ">=":
			return n >= f.Num
		case "<":
			return n < f.Num
		case "<=":
			return n <= f.Num
		}
	}
	return false
}

func (l *LabelFormat) apply(r *row) {
	// Templates see the labels as they were before this stage.
	vals := make([]string, len(l.Items))
	for i, it := range l.Items {
		if it.Rename {
			vals[i], _ = r.get(it.Src)
			continue
		}
		out, err := it.tmpl.Execute(r.line, r.ts, r.get, r.all)
		if err != nil {
			r.setError(errTemplate, err.Error())
			continue
		}
		vals[i] = out
	}
	for i, it := range l.Items {
		if it.Rename {
			r.del(it.Src)
		}
		if len(vals[i]) > maxLabelBytes {
			vals[i] = vals[i][:maxLabelBytes]
		}
		r.set(it.Dst, vals[i], catParsed)
	}
}

func (d *DropKeep) apply(r *row) {
	keep := r.lbls[:0]
	for _, l := range r.lbls {
		hit := false
		for _, it := range d.Items {
			if it.Name == l.name && (it.Matcher == nil || it.Matcher.Matches(l.value)) {
				hit = true
				break
			}
		}
		if hit == d.Keep {
			keep = append(keep, l)
		}
	}
	r.lbls = keep
}
