package events

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
)

// Op is a filter's comparison.
type Op uint8

// The comparisons. Eq, Neq, Re and NotRe compare text; Lt, Le, Gt and Ge
// compare numbers when both sides read as numbers, else text. Contains is a
// case-sensitive substring match; Token matches a whole token of the
// text (runs of letters, digits and '_'), ignoring ASCII case: the
// full-text search the body's token index answers. Exists and NotExists
// test presence. In matches any of a comma-separated list of values
// (trace ids, typically: the Bloom filters prune by each). IDOrContains,
// on body, matches a body containing the value, or an event whose trace
// id (for 32 hex digits) or span id (16) the value spells in either
// case: a line filter for an id, which ingest may have moved out of the
// line into its column (LogQL's |= "<trace id>", Grafana's trace to
// logs); a row group is read only if its trace-id Bloom filter or its
// body trigrams may hold the value.
//
// A field that is absent reads as empty text: Neq and NotRe match it, as in
// Prometheus and Loki label matching. Query languages whose semantics
// differ (TraceQL) add an Exists filter.
const (
	Eq Op = iota + 1
	Neq
	Re
	NotRe
	Lt
	Le
	Gt
	Ge
	Contains
	Token
	Exists
	NotExists
	In
	IDOrContains
)

var opNames = map[Op]string{Eq: "=", Neq: "!=", Re: "=~", NotRe: "!~", Lt: "<", Le: "<=", Gt: ">", Ge: ">=",
	Contains: "contains", Token: "token", Exists: "exists", NotExists: "not exists", In: "in",
	IDOrContains: "contains or id"}

func (o Op) String() string { return opNames[o] }

// Filter is a predicate on one field. Fields are the columns by name
// (time, service_name, trace_id, span_id, parent_span_id, body,
// severity_text, severity_number, level, flags, name, kind, duration,
// status_code, status_message, trace_state, scope_name, scope_version),
// attributes as attrs.<key> or resource.<key>, a log's stream labels as
// stream.<name>, or a bare attribute key, looked up in attrs then resource.
type Filter struct {
	Field string
	Op    Op
	Value string

	num    float64
	isNum  bool
	re     *labels.FastRegexMatcher
	get    func(*Event) (Value, bool)
	fields fieldSet // the columns it reads
	lowerV string
	set    map[string]bool   // In
	fast   func(*Event) bool // replaces the generic comparison where set
	ids    *idNeedle         // IDOrContains
}

// idNeedle is an IDOrContains filter's value as an id, and the hashes of
// its trigrams for the body's filter.
type idNeedle struct {
	isTrace bool // tid is set, else sid
	tid     TraceID
	sid     SpanID
	grams   []uint64
}

// Compile checks the filter and prepares it. Select compiles its filters;
// callers that evaluate filters themselves call it once.
func (f *Filter) Compile() error {
	if _, ok := opNames[f.Op]; !ok {
		return fmt.Errorf("filter on %q: unknown operator %d", f.Field, f.Op)
	}
	if f.Field == "" {
		return fmt.Errorf("filter without a field")
	}
	fd := lookupField(f.Field)
	f.get, f.fields = fd.get, fd.set
	f.fast = fastMatcher(f.Field, f.Op, f.Value)
	switch f.Op {
	case Re, NotRe:
		// Prometheus' matcher: anchored as ^(?s:...)$, with its shortcuts
		// (.+ is "not empty", literal alternations a set, prefixes and
		// suffixes string tests) ahead of the regexp engine.
		re, err := labels.NewFastRegexMatcher(f.Value)
		if err != nil {
			return fmt.Errorf("filter on %q: bad regular expression %q: %w", f.Field, f.Value, err)
		}
		f.re = re
	case Lt, Le, Gt, Ge:
		if v, err := strconv.ParseFloat(f.Value, 64); err == nil {
			f.num, f.isNum = v, true
		}
	case In:
		f.set = map[string]bool{}
		for _, v := range strings.Split(f.Value, ",") {
			f.set[v] = true
		}
	case IDOrContains:
		if f.Field != "body" {
			return fmt.Errorf("filter on %q: %s applies to body", f.Field, f.Op)
		}
		n := &idNeedle{}
		for i := 0; i+3 <= len(f.Value); i++ {
			n.grams = append(n.grams, hashGram(gramAt(f.Value, i)))
		}
		v := strings.ToLower(f.Value)
		if id, err := ParseTraceID(v); err == nil && len(v) == 32 && !id.IsZero() {
			n.tid, n.isTrace = id, true
		} else if sid, err := ParseSpanID(v); err == nil && len(v) == 16 && !sid.IsZero() {
			n.sid = sid
		} else {
			n = nil // not an id: a substring
		}
		f.ids = n
		if n != nil {
			f.fields |= fTraceID | fSpanID // the id columns too
		}
		f.fast = func(e *Event) bool {
			if n != nil && (n.isTrace && e.TraceID == n.tid || !n.isTrace && e.SpanID == n.sid) {
				return true
			}
			return strings.Contains(e.Body, f.Value)
		}
	case Token:
		f.lowerV = strings.ToLower(f.Value)
		for i := 0; i < len(f.lowerV); i++ {
			if !isTokenByte(f.lowerV[i]) {
				return fmt.Errorf("filter on %q: %q is not one token (letters, digits and '_' only)", f.Field, f.Value)
			}
		}
		if f.lowerV == "" {
			return fmt.Errorf("filter on %q: empty token", f.Field)
		}
	}
	return nil
}

// Match evaluates a compiled filter.
func (f *Filter) Match(e *Event) bool {
	if f.fast != nil {
		return f.fast(e)
	}
	v, ok := f.get(e)
	switch f.Op {
	case Exists:
		return ok
	case NotExists:
		return !ok
	case Eq:
		return v.String() == f.Value
	case Neq:
		return v.String() != f.Value
	case Re:
		return f.re.MatchString(v.String())
	case NotRe:
		return !f.re.MatchString(v.String())
	case Contains:
		return strings.Contains(v.String(), f.Value)
	case Token:
		return hasToken(v.String(), f.lowerV)
	case In:
		return ok && f.set[v.String()]
	}
	if !ok {
		return false
	}
	var c int
	if n, isNum := v.Number(); isNum && f.isNum {
		if math.IsNaN(n) || math.IsNaN(f.num) {
			return false // NaN is neither below nor above anything
		}
		c = cmp.Compare(n, f.num)
	} else {
		c = strings.Compare(v.String(), f.Value)
	}
	switch f.Op {
	case Lt:
		return c < 0
	case Le:
		return c <= 0
	case Gt:
		return c > 0
	case Ge:
		return c >= 0
	}
	return false
}

// hasToken reports whether s has the token tok (lower case) as a whole
// token, ignoring ASCII case.
func hasToken(s, tok string) bool {
	for i := 0; i+len(tok) <= len(s); {
		j := indexFold(s[i:], tok)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(tok)
		if (j == 0 || !isTokenByte(s[j-1])) && (end == len(s) || !isTokenByte(s[end])) {
			return true
		}
		i = j + 1
	}
	return false
}

// indexFold finds lower-case ASCII needle in s ignoring ASCII case.
func indexFold(s, needle string) int {
	if needle == "" {
		return 0
	}
	first := needle[0]
	upper := first
	if 'a' <= first && first <= 'z' {
		upper = first - ('a' - 'A')
	}
	for i := 0; i+len(needle) <= len(s); i++ {
		c := s[i]
		if c != first && c != upper {
			continue
		}
		k := 1
		for ; k < len(needle); k++ {
			c := s[i+k]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != needle[k] {
				break
			}
		}
		if k == len(needle) {
			return i
		}
	}
	return -1
}

func strv(s string) (Value, bool) { return Str(s), s != "" }

// field is a column of events by name: the columns a block scan reads for
// it, and its value, the same in the head and in blocks.
type field struct {
	set fieldSet
	get func(*Event) (Value, bool)
}

func timeValue(e *Event) (Value, bool) { return Int(e.Time), true }

func serviceValue(e *Event) (Value, bool) { return strv(e.Service) }

var fields = map[string]field{
	"time":            {fTime, timeValue},
	"start_time":      {fTime, timeValue},
	"service_name":    {fService, serviceValue},
	"service.name":    {fService, serviceValue},
	"trace_id":        {fTraceID, func(e *Event) (Value, bool) { return Str(e.TraceID.String()), !e.TraceID.IsZero() }},
	"span_id":         {fSpanID, func(e *Event) (Value, bool) { return Str(e.SpanID.String()), !e.SpanID.IsZero() }},
	"parent_span_id":  {fParent, func(e *Event) (Value, bool) { return Str(e.ParentSpanID.String()), !e.ParentSpanID.IsZero() }},
	"body":            {fBody, func(e *Event) (Value, bool) { return strv(e.Body) }},
	"severity_text":   {fSevText, func(e *Event) (Value, bool) { return strv(e.SeverityText) }},
	"severity_number": {fSeverity, func(e *Event) (Value, bool) { return Int(int64(e.Severity)), e.Severity != 0 }},
	"level":           {fSevText | fSeverity, func(e *Event) (Value, bool) { return Str(e.Level()), true }},
	"flags":           {fFlags, func(e *Event) (Value, bool) { return Int(int64(e.Flags)), e.Flags != 0 }},
	"name":            {fName, func(e *Event) (Value, bool) { return strv(e.Name) }},
	"kind":            {fKind, func(e *Event) (Value, bool) { return Int(int64(e.SpanKind)), true }},
	"duration":        {fDuration, func(e *Event) (Value, bool) { return Int(e.Duration), true }},
	"status_code":     {fStatus, func(e *Event) (Value, bool) { return Int(int64(e.StatusCode)), true }},
	"status_message":  {fStatusMsg, func(e *Event) (Value, bool) { return strv(e.StatusMessage) }},
	"trace_state":     {fTraceState, func(e *Event) (Value, bool) { return strv(e.TraceState) }},
	"scope_name":      {fScope, func(e *Event) (Value, bool) { return strv(e.Scope) }},
	"scope_version":   {fScope, func(e *Event) (Value, bool) { return strv(e.ScopeVer) }},
}

// lookupField resolves a field name: a column, attrs.<key>,
// resource.<key>, a log's stream label as stream.<name> (see StreamLabel),
// or a bare key looked up in attrs then resource.
func lookupField(name string) field {
	if f, ok := fields[name]; ok {
		return f
	}
	if k, ok := strings.CutPrefix(name, "attrs."); ok {
		return field{fAttrs, func(e *Event) (Value, bool) { return e.Attrs.Get(k) }}
	}
	if k, ok := strings.CutPrefix(name, "resource."); ok {
		return field{fResource, func(e *Event) (Value, bool) { return e.Resource.Get(k) }}
	}
	if k, ok := strings.CutPrefix(name, "stream."); ok {
		set := fResource
		switch k {
		case "service_name":
			set |= fService
		case "level":
			set |= fSevText | fSeverity
		}
		return field{set, func(e *Event) (Value, bool) {
			v, ok := e.StreamLabel(k)
			return Str(v), ok
		}}
	}
	return field{fAttrs | fResource, func(e *Event) (Value, bool) { return e.Attr(name) }}
}

// Query selects events of one tenant and kind.
type Query struct {
	Tenant     string
	Kind       Kind
	Start, End int64    // unix ns; events with Start <= time < End. Zero End: no upper bound.
	Filters    []Filter // all must match
	// Limit caps the events returned by Select (0: no limit). The events
	// kept are the newest if Newest is set, else the oldest, and they come
	// in that order. Scan and ScanConcurrent, for callers that keep the
	// Limit best events they are given, pass on at most Limit events of
	// each unit and skip the units holding none better than the Limit
	// best passed on so far.
	Limit  int
	Newest bool
	// Fields, if set, are the fields the caller needs (names as for
	// filters; attrs and resource whole by "attrs" and "resource"); others
	// may be left zero. Aggregations set them so blocks read a few columns.
	Fields []string
	// Cutoff, if set, is called by scans before each unit (a row group or
	// a head): when it returns ok, units whose events are all older than
	// t (with Newest; newer without) are skipped. ScanConcurrent then
	// scans in that order. For callers that keep the newest or oldest N
	// events and know the Nth.
	Cutoff func() (t int64, ok bool)
	// InPlace says the scan's callback neither modifies the events it is
	// given nor keeps the slice past its return (it may keep their
	// strings, which never change): a head's matching events are then
	// passed where they are, in runs, not copied out first.
	InPlace bool
}

// filterFields is what the filters read.
func (q *Query) filterFields() fieldSet {
	set := fTime
	for _, f := range q.Filters {
		set |= lookupField(f.Field).set
		if f.Op == IDOrContains && (f.get == nil || f.ids != nil) {
			// An id's columns too; a compiled needle that is not an id
			// (f.ids nil) reads the body alone.
			set |= fTraceID | fSpanID
		}
	}
	return set
}

// outFields is what the caller wants back.
func (q *Query) outFields() fieldSet {
	if q.Fields == nil {
		return fAll
	}
	set := fTime
	for _, f := range q.Fields {
		switch f {
		case "attrs":
			set |= fAttrs
		case "resource":
			set |= fResource
		case "events", "links":
			set |= fNested
		default:
			set |= lookupField(f).set
		}
	}
	return set
}

func (q *Query) inRange(t int64) bool {
	return t >= q.Start && (q.End == 0 || t < q.End)
}

func (q *Query) overlaps(minT, maxT int64) bool {
	return maxT >= q.Start && (q.End == 0 || minT < q.End)
}

func (q *Query) match(e *Event) bool {
	return q.inRange(e.Time) && q.matchFilters(e)
}

// matchFilters reports whether e passes every filter (not the time range).
func (q *Query) matchFilters(e *Event) bool {
	for i := range q.Filters {
		if !q.Filters[i].Match(e) {
			return false
		}
	}
	return true
}

func (q *Query) compile() error {
	if !q.Kind.valid() {
		return fmt.Errorf("query: unknown kind %d", q.Kind)
	}
	if q.End != 0 && q.End < q.Start {
		return fmt.Errorf("query: end %d before start %d", q.End, q.Start)
	}
	for i := range q.Filters {
		if err := q.Filters[i].Compile(); err != nil {
			return err
		}
	}
	return nil
}

// traceIDs returns the trace ids the query is restricted to by trace_id
// equality filters, for the Bloom filters.
func (q *Query) traceIDs() []TraceID {
	for _, f := range q.Filters {
		if f.Field == "trace_id" && (f.Op == Eq || f.Op == In) {
			var ids []TraceID
			for _, v := range strings.Split(f.Value, ",") {
				if id, err := ParseTraceID(v); err == nil {
					ids = append(ids, id)
				}
			}
			if ids == nil {
				return []TraceID{} // matches nothing
			}
			return ids
		}
	}
	return nil
}

// bodyTokens returns the tokens the query requires in the body.
func (q *Query) bodyTokens() []string {
	var toks []string
	for _, f := range q.Filters {
		if f.Field == "body" && f.Op == Token {
			toks = append(toks, f.lowerV)
		}
	}
	return toks
}

// bodyGrams returns the keys of the trigrams the query requires in the
// body: those of its substring filters.
func (q *Query) bodyGrams() []uint64 {
	var hs []uint64
	for _, f := range q.Filters {
		if f.Field == "body" && f.Op == Contains {
			for i := 0; i+3 <= len(f.Value); i++ {
				hs = append(hs, hashGram(gramAt(f.Value, i)))
			}
		}
	}
	return hs
}

// mayMatch reports whether a row group with this index may hold matches.
// ids, toks, grams and sf are the query's traceIDs, bodyTokens, bodyGrams
// and streamFilters.
func (q *Query) mayMatch(ix *rowGroupIndex, ids []TraceID, toks []string, grams []uint64, sf []int) bool {
	if !q.streamMayMatch(ix, sf) {
		return false
	}
	if ids != nil {
		if len(ids) == 0 {
			return false
		}
		found := false
		for _, id := range ids {
			if ix.traces.hasHash(hashBytes(id[:])) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, t := range toks {
		if !ix.tokens.hasHash(hashString(t)) {
			return false
		}
	}
	if ix.grams {
		for _, h := range grams {
			if !ix.tokens.hasHash(h) {
				return false
			}
		}
	}
	for i := range q.Filters {
		if f := &q.Filters[i]; f.Op == IDOrContains && !f.bodyMayHold(ix) && !f.idMayBeIn(ix) {
			return false
		}
	}
	return true
}

// bodyMayHold reports whether the bodies of a row group with this index
// may contain an IDOrContains filter's value.
func (f *Filter) bodyMayHold(ix *rowGroupIndex) bool {
	if !ix.grams {
		return true
	}
	for _, h := range f.ids.gramsOrNil() {
		if !ix.tokens.hasHash(h) {
			return false
		}
	}
	return true
}

// idMayBeIn reports whether a row group with this index may hold an
// event with an IDOrContains filter's id: span ids have no filter.
func (f *Filter) idMayBeIn(ix *rowGroupIndex) bool {
	switch {
	case f.ids == nil:
		return false
	case f.ids.isTrace:
		return ix.traces.hasHash(hashBytes(f.ids.tid[:]))
	}
	return true
}

func (n *idNeedle) gramsOrNil() []uint64 {
	if n == nil {
		return nil
	}
	return n.grams
}

// forRowGroup returns q for a row group with this index: an IDOrContains
// filter whose value the row group's bodies cannot contain becomes an
// equality on the id column, so the bodies are not read.
func (q *Query) forRowGroup(ix *rowGroupIndex) *Query {
	var fs []Filter
	for i := range q.Filters {
		f := &q.Filters[i]
		if f.Op != IDOrContains || f.ids == nil || f.bodyMayHold(ix) {
			continue
		}
		if fs == nil {
			fs = slices.Clone(q.Filters)
		}
		id := Filter{Field: "span_id", Op: Eq, Value: f.ids.sid.String()}
		if f.ids.isTrace {
			id = Filter{Field: "trace_id", Op: Eq, Value: f.ids.tid.String()}
		}
		if err := id.Compile(); err != nil {
			return q
		}
		fs[i] = id
	}
	if fs == nil {
		return q
	}
	c := *q
	c.Filters = fs
	return &c
}

// fastMatcher compares ids as bytes and plain string columns without
// making a Value, for the filters that are in every trace and stream lookup.
func fastMatcher(field string, op Op, val string) func(*Event) bool {
	if op == In && field == "trace_id" {
		set := map[TraceID]bool{}
		for _, v := range strings.Split(val, ",") {
			if id, err := ParseTraceID(v); err == nil {
				set[id] = true
			}
		}
		return func(e *Event) bool { return set[e.TraceID] }
	}
	if op != Eq && op != Neq {
		return nil
	}
	var m func(*Event) bool
	switch field {
	case "trace_id":
		id, err := ParseTraceID(val)
		if err != nil {
			m = func(*Event) bool { return false }
		} else {
			m = func(e *Event) bool { return e.TraceID == id }
		}
	case "span_id":
		id, err := ParseSpanID(val)
		if err != nil {
			m = func(*Event) bool { return false }
		} else {
			m = func(e *Event) bool { return e.SpanID == id }
		}
	case "service_name", "service.name":
		m = func(e *Event) bool { return e.Service == val }
	case "name":
		m = func(e *Event) bool { return e.Name == val }
	case "severity_text":
		m = func(e *Event) bool { return e.SeverityText == val }
	default:
		return nil
	}
	if op == Neq {
		return func(e *Event) bool { return !m(e) }
	}
	return m
}
