package logql

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

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
	// extracted are the names parsed labels were set under in this
	// pipeline run, kept when drop or keep removes the label (Loki's
	// ParserHint.Extracted): a later parser does not set them again.
	extracted []string
	// addedLevel: the stream label level is Horus' own (the line's
	// level, the stream pushed without one), a label Loki's stream
	// lacks (events.StreamLabelCache.LevelAdded).
	addedLevel bool
}

func (r *row) get(name string) (string, bool) {
	for i := len(r.lbls) - 1; i >= 0; i-- {
		if r.lbls[i].name == name {
			return r.lbls[i].value, true
		}
	}
	return "", false
}

// set sets a label, recording a parsed one's name in extracted.
func (r *row) set(name, value string, cat uint8) {
	if cat == catParsed && !slices.Contains(r.extracted, name) {
		r.extracted = append(r.extracted, name)
	}
	r.setLabel(name, value, cat)
}

func (r *row) setLabel(name, value string, cat uint8) {
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

// parsedName is the name a parser gives the label of key: key, or
// key_extracted when a stream label or structured metadata has the name
// (Loki's BaseHas and HasInCategory(StructuredMetadataLabel), pkg/logql/
// log/parser.go). Horus' own level label does not count: Loki's stream
// has no level, so its parsers name the field level, and the parsed
// value replaces Horus' in the answer, as a parsed label replaces a
// stream label in Loki's LabelsBuilder.Set (pkg/logql/log/labels.go).
func (r *row) parsedName(key string) string {
	if i := r.index(key); i >= 0 && r.lbls[i].cat != catParsed && !r.added(i) {
		return key + "_extracted"
	}
	return key
}

// index is the position of the label name in lbls, -1 if none.
func (r *row) index(name string) int {
	for i := range r.lbls {
		if r.lbls[i].name == name {
			return i
		}
	}
	return -1
}

// added reports whether lbls[i] is Horus' own level label, one Loki's
// stream would not have.
func (r *row) added(i int) bool {
	return r.addedLevel && r.lbls[i].cat == catStream && r.lbls[i].name == "level"
}

// hasAddedLevel reports whether the row still has Horus' own level
// label (no parser or label_format replaced it).
func (r *row) hasAddedLevel() bool {
	i := r.index("level")
	return i >= 0 && r.added(i)
}

// lacks reports whether Loki's labels builder would lack the name: the
// row has no such label, or only Horus' own level (Loki's lbs.Get).
func (r *row) lacks(name string) bool {
	i := r.index(name)
	return i < 0 || r.added(i)
}

// hasParsed reports whether a parsed label was set under the name in
// this pipeline run, even if dropped since.
func (r *row) hasParsed(name string) bool {
	return slices.Contains(r.extracted, name)
}

// setParsed adds a label a parser (json, logfmt, regexp, pattern,
// unpack) extracted from the line, under the name sanitizeKey makes of
// key (none if empty) and parsedName. The first value wins: a label that
// a parser or label_format of this pipeline has already set (even if
// dropped since), or an earlier occurrence of the key in the line, is
// kept (Loki's
// ParserHint.Extracted, which LabelsBuilder.Set records for every parsed
// label; first-wins for repeated keys since grafana/loki#19568).
func (r *row) setParsed(key, value string) {
	key = sanitizeKey(key)
	if key == "" {
		return
	}
	name := r.parsedName(key)
	if r.hasParsed(name) {
		return
	}
	r.extracted = append(r.extracted, name)
	r.setLabel(name, value, catParsed)
}

// sanitizeKey is Loki's sanitizeLabelKey(key, true) (pkg/logql/log/
// util.go): blanks trimmed, a leading digit prefixed with '_', every
// rune outside [A-Za-z0-9_] made '_'.
func sanitizeKey(key string) string {
	if events.IsLabelName(key) {
		return key
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return ""
	}
	var b strings.Builder
	if isDigit(key[0]) {
		b.WriteByte('_')
	}
	for _, c := range key {
		if c < utf8.RuneSelf && isLabelByte(byte(c)) {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// setParserError marks the row with a parser's error, replacing an
// earlier one as Loki's parsers do (addErrLabel); the details are
// replaced only when given.
func (r *row) setParserError(kind, details string) {
	r.set(errorLabel, kind, catParsed)
	if details != "" {
		r.set(errorDetails, details, catParsed)
	}
}

// setFilterError marks the row with a label filter's error unless it has
// one already ("Don't overwrite what might be a more useful error",
// Loki's label_filter.go).
func (r *row) setFilterError(details string) {
	if _, ok := r.get(errorLabel); ok {
		return
	}
	r.setParserError(errLabelFilt, details)
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
	r.lbls, r.extracted = r.lbls[:0], r.extracted[:0]
	for _, l := range r.streams.Labels(e) {
		r.lbls = append(r.lbls, label{l.Name, l.Value, catStream})
	}
	r.addedLevel = r.streams.LevelAdded()
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
				r.setParserError(errTemplate, err.Error())
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
		for i, v := range f.Values {
			if i < len(f.IPs) && f.IPs[i] != nil {
				found = f.IPs[i].Match(line)
			} else {
				found = strings.Contains(line, v)
			}
			if found {
				break
			}
		}
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
	return f.Op == "|=" && len(f.Values) == 1 && f.Values[0] != "" && !f.ids && f.IPs == nil
}

// idPushable reports whether the filter is one |= needle that is a trace
// or span id, which the event store applies as matchRow does (in the
// line or the id columns: events.IDOrContains), pruning row groups by
// their trace-id Bloom filters and body trigrams.
func (f *LineFilter) idPushable() bool {
	return f.Op == "|=" && len(f.Values) == 1 && f.ids && f.IPs == nil
}

// storeFilter is the event-store filter that applies a pushable or
// idPushable line filter.
func (f *LineFilter) storeFilter() (events.Filter, bool) {
	switch {
	case f.pushable():
		return events.Filter{Field: "body", Op: events.Contains, Value: f.Values[0]}, true
	case f.idPushable():
		return events.Filter{Field: "body", Op: events.IDOrContains, Value: f.Values[0]}, true
	}
	return events.Filter{}, false
}

// parse runs a parser stage on the row as Loki's parsers do
// (pkg/logql/log/parser.go): labels are set with setParsed, errors with
// setParserError.
func (s *ParserStage) parse(r *row) {
	switch s.Kind {
	case "json":
		if len(s.Params) > 0 {
			s.parseJSONParams(r)
			return
		}
		if err := JSONFields(r.line, r.setParsed); err != nil {
			r.setParserError(errJSON, err.Error())
		}
	case "logfmt":
		if len(s.Params) > 0 {
			s.parseLogfmtParams(r)
			return
		}
		if err := Logfmt(r.line, s.Strict, s.Keep, r.setParsed); err != nil {
			r.setParserError(errLogfmt, err.Error())
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
		if r.line == "" {
			return
		}
		entry, fields, err := Unpack(r.line)
		if err != nil {
			r.setParserError(errJSON, err.Error())
			return
		}
		if fields == nil {
			return // not packed: the line and labels stay as they are
		}
		for i := 0; i < len(fields); i += 2 {
			r.setParsed(fields[i], fields[i+1])
		}
		r.line = entry
	}
}

// parseJSONParams is `| json label="expr", ...` (Loki's
// JSONExpressionParser): nothing on an empty line; JSONParserErr without
// details on a line that does not start with '{', '[' or '"'; else each
// label gets its expression's value, its first occurrence when a key
// repeats ("" for null), replacing a label an earlier stage parsed, and
// "" when the expression is missing and no label has the name.
func (s *ParserStage) parseJSONParams(r *row) {
	if r.line == "" {
		return
	}
	if err := ValidateJSONLine(r.line); err != nil {
		r.setParserError(errJSON, "")
		return
	}
	if err := jsonTopLevelKey(r.line); err != nil {
		r.setParserError(errJSON, err.Error())
	}
	for _, p := range s.Params {
		v, ok, err := p.json.extract(r.line)
		if err != nil {
			r.setParserError(errJSON, err.Error())
		}
		if !ok {
			if r.lacks(p.Label) {
				r.set(p.Label, "", catParsed)
			}
			continue
		}
		r.set(r.parsedName(p.Label), v, catParsed)
	}
}

// parseLogfmtParams is `| logfmt label="key", ...` (Loki's
// LogfmtExpressionParser): each label that is not a stream label or
// structured metadata is first set to "", then gets the value of the
// first pair whose key (sanitized) is its expression, under parsedName.
// Loki's own code lets a later repeat of the key win here; Horus keeps
// the first, as every other parser does (grafana/loki#19568).
func (s *ParserStage) parseLogfmtParams(r *row) {
	for _, p := range s.Params {
		if r.parsedName(p.Label) == p.Label {
			r.set(p.Label, "", catParsed)
		}
	}
	var done uint64 // the parameters set, by index (the first 64)
	err := Logfmt(r.line, s.Strict, s.Keep, func(k, v string) {
		k = sanitizeKey(k)
		for i, p := range s.Params {
			if p.Expr != k || i < 64 && done&(1<<i) != 0 {
				continue
			}
			if i < 64 {
				done |= 1 << i
			}
			r.set(r.parsedName(p.Label), v, catParsed)
		}
	})
	if err != nil {
		r.setParserError(errLogfmt, err.Error())
	}
}

// evalLabelFilter evaluates a label filter as Loki's label filters do
// (pkg/logql/log/label_filter.go, ip.go): "or" skips its right side when
// the left passes, "and" evaluates both (either may mark the row with an
// error); a string matcher compares a missing label as ""; a numeric,
// duration or byte-size comparison drops a line without the label and
// keeps, marked LabelFilterErr, one whose value does not convert; ip()
// drops a line without the label and keeps every line already marked
// with an error.
func evalLabelFilter(f LabelFilter, r *row) bool {
	switch f := f.(type) {
	case *LabelBinary:
		l := evalLabelFilter(f.Left, r)
		if f.Op == "or" && l {
			return true
		}
		rt := evalLabelFilter(f.Right, r)
		if f.Op == "and" {
			return l && rt
		}
		return rt
	case *LabelCompare:
		v, ok := r.get(f.Name)
		switch f.Kind {
		case kindString:
			return f.match.Matches(v)
		case kindIP:
			if _, bad := r.get(errorLabel); bad {
				return true
			}
			return ok && f.IP.Match(v) == (f.Op == "=")
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
			r.setFilterError(err.Error())
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

// apply runs label_format as Loki's LabelsFormatter does: in order, a
// rename dst=src sets dst to src's value and removes src (nothing when
// src is missing); a template sets dst to its output, or on an error
// marks the row TemplateFormatErr and leaves dst as it was. Templates
// see the labels as they were when the stage's first template ran.
func (l *LabelFormat) apply(r *row) {
	var snap *row // the labels the templates see, once a template ran
	for i, it := range l.Items {
		if it.Rename {
			if v, ok := r.get(it.Src); ok {
				r.set(it.Dst, v, catParsed)
				r.del(it.Src)
			}
			continue
		}
		if snap == nil {
			snap = r
			if i < len(l.Items)-1 { // later items must not change what templates see
				snap = &row{line: r.line, ts: r.ts, lbls: slices.Clone(r.lbls)}
			}
		}
		out, err := it.tmpl.Execute(r.line, r.ts, snap.get, snap.all)
		if err != nil {
			r.setParserError(errTemplate, err.Error())
			continue
		}
		if len(out) > maxLabelBytes {
			out = out[:maxLabelBytes]
		}
		r.set(it.Dst, out, catParsed)
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
