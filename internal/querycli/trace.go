package querycli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

const traceUsage = `usage: horus trace [flags] ID

Prints a trace as a tree of its spans, children under their parent by
start time: the span's name, service, start (from the trace's first span),
duration, a bar placed and scaled on the trace's duration, and ✗ with the
status message on a span whose status is error. -o json prints the
API's answer (/api/traces/ID, OTLP JSON), -o csv a row per span.

Exit status: 0 success, 1 the trace is not found or the API failed, 2 usage.

flags:
`

// traceSpan is a span of a trace, placed in its tree.
type traceSpan struct {
	id, parent    string
	service, name string
	kind          string
	start, end    time.Time
	err           bool
	message       string
	children      []*traceSpan
	depth         int
	prefix        string // the tree's drawing before the name
}

// defaultBarWidth is the columns of a trace's bar.
const defaultBarWidth = 40

func runTrace(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cl client
	p := printer{stdout: stdout, stderr: stderr}
	fs := newFlagSet("trace")
	cl.register(fs)
	outputFlag(fs, &p, "output: table (a tree), json (the API's answer) or csv (a row per span)")
	fs.BoolVar(&p.utc, "utc", false, "print times in UTC (default: local time)")
	width := fs.Int("width", defaultBarWidth, "columns of the duration bar")
	pos, err := parseArgs(fs, args)
	if err == nil {
		err = checkOutput(p.format)
	}
	if err == nil {
		switch {
		case len(pos) != 1 || pos[0] == "":
			err = usagef("which trace? give one trace id")
		case *width < 1 || *width > 1000:
			err = usagef("--width %d: want 1 to 1000", *width)
		default:
			err = showTrace(ctx, &cl, &p, pos[0], *width)
		}
	}
	return exitFor("horus trace", err, stdout, stderr, fs, traceUsage)
}

func showTrace(ctx context.Context, cl *client, p *printer, id string, width int) error {
	path := "/api/traces/" + url.PathEscape(id)
	if p.format == outJSON {
		b, err := cl.get(ctx, path, nil, "application/json")
		if err != nil {
			return notFound(err, id)
		}
		_, err = p.stdout.Write(b)
		if err == nil && (len(b) == 0 || b[len(b)-1] != '\n') {
			_, err = io.WriteString(p.stdout, "\n")
		}
		return err
	}
	b, err := cl.get(ctx, path, nil, "application/protobuf")
	if err != nil {
		return notFound(err, id)
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
	if err != nil {
		return fmt.Errorf("decoding the trace: %w", err)
	}
	spans := buildTree(td)
	if len(spans) == 0 {
		return fmt.Errorf("trace %s not found", id)
	}
	return p.waterfall(spans, width)
}

// notFound says a 404 as a sentence with the id.
func notFound(err error, id string) error {
	if e := (*apiError)(nil); errors.As(err, &e) && e.status == http.StatusNotFound {
		return fmt.Errorf("trace %s not found", id)
	}
	return err
}

// buildTree places the spans of td under their parents, children by
// start time, and returns every span in the tree's order: the roots
// (spans without a parent in the trace) by start time, each followed by
// its descendants, then any spans whose parents make a loop.
func buildTree(td ptrace.Traces) (order []*traceSpan) {
	var roots []*traceSpan
	byID := map[string]*traceSpan{}
	var all []*traceSpan
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		service := ""
		if v, ok := rs.Resource().Attributes().Get("service.name"); ok {
			service = v.AsString()
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j).Spans()
			for k := 0; k < ss.Len(); k++ {
				sp := ss.At(k)
				s := &traceSpan{
					id: sp.SpanID().String(), service: service, name: sp.Name(), kind: sp.Kind().String(),
					start: sp.StartTimestamp().AsTime(), end: sp.EndTimestamp().AsTime(),
					err: sp.Status().Code() == ptrace.StatusCodeError, message: sp.Status().Message(),
				}
				if !sp.ParentSpanID().IsEmpty() {
					s.parent = sp.ParentSpanID().String()
				}
				if s.end.Before(s.start) {
					s.end = s.start
				}
				all = append(all, s)
				if _, dup := byID[s.id]; !dup {
					byID[s.id] = s
				}
			}
		}
	}
	byStart := func(ss []*traceSpan) {
		sort.SliceStable(ss, func(i, j int) bool {
			if !ss[i].start.Equal(ss[j].start) {
				return ss[i].start.Before(ss[j].start)
			}
			return ss[i].name < ss[j].name
		})
	}
	for _, s := range all {
		if parent, ok := byID[s.parent]; ok && s.parent != "" && parent != s {
			parent.children = append(parent.children, s)
		} else {
			roots = append(roots, s)
		}
	}
	byStart(roots)
	seen := map[*traceSpan]bool{}
	var walk func(s *traceSpan, depth int, indent string, last bool)
	walk = func(s *traceSpan, depth int, indent string, last bool) {
		if seen[s] {
			return
		}
		seen[s] = true
		s.depth = depth
		childIndent := ""
		if depth > 0 {
			branch, cont := "├─ ", "│  "
			if last {
				branch, cont = "└─ ", "   "
			}
			s.prefix = indent + branch
			childIndent = indent + cont
		}
		order = append(order, s)
		byStart(s.children)
		for i, ch := range s.children {
			walk(ch, depth+1, childIndent, i == len(s.children)-1)
		}
	}
	for _, r := range roots {
		walk(r, 0, "", true)
	}
	// Spans in a parent cycle are reached from no root: list them at the
	// top level.
	for _, s := range all {
		if !seen[s] {
			walk(s, 0, "", true)
		}
	}
	return order
}

// waterfall writes the trace: a summary line, then a row per span.
func (p *printer) waterfall(spans []*traceSpan, width int) error {
	first, last := spans[0].start, spans[0].end
	services := map[string]bool{}
	errs, top := 0, 0
	for _, s := range spans {
		if s.depth == 0 {
			top++
		}
		if s.start.Before(first) {
			first = s.start
		}
		if s.end.After(last) {
			last = s.end
		}
		services[s.service] = true
		if s.err {
			errs++
		}
	}
	total := last.Sub(first)
	if p.format == outCSV {
		header := []string{"depth", "span_id", "parent_span_id", "service", "name", "kind", "start", "offset_ms", "duration_ms", "status", "status_message"}
		rows := make([][]string, 0, len(spans))
		for _, s := range spans {
			status := "ok"
			if s.err {
				status = "error"
			}
			rows = append(rows, []string{strconv.Itoa(s.depth), s.id, s.parent, s.service, s.name, s.kind, csvTime(s.start),
				millis(s.start.Sub(first)), millis(s.end.Sub(s.start)), status, s.message})
		}
		return p.rows(header, rows)
	}
	summary := fmt.Sprintf("%s, %s, %s, started %s", plural(len(spans), "span"), plural(len(services), "service"), formatDuration(total), p.tableTime(first))
	if errs > 0 {
		summary += ", " + plural(errs, "error")
	}
	if top > 1 {
		summary += fmt.Sprintf(", %s (parent not in the trace) at the top level", plural(top-1, "more span"))
	}
	fmt.Fprintln(p.stdout, summary)
	rows := make([][]string, 0, len(spans))
	for _, s := range spans {
		name := s.prefix + s.name
		status := ""
		if s.err {
			name = s.prefix + "✗ " + s.name
			status = "error"
			if s.message != "" {
				status += ": " + s.message
			}
		}
		rows = append(rows, []string{name, s.service, formatDuration(s.start.Sub(first)), formatDuration(s.end.Sub(s.start)),
			bar(s.start.Sub(first), s.end.Sub(s.start), total, width), status})
	}
	return p.rows([]string{"SPAN", "SERVICE", "START", "DURATION", "TIMELINE", ""}, rows)
}

// bar draws a span from offset for dur on a line of width columns that is
// the trace's total duration; a span gets one column at least.
func bar(offset, dur, total time.Duration, width int) string {
	from, to := 0, width
	if total > 0 {
		from = int(math.Floor(float64(offset) / float64(total) * float64(width)))
		to = int(math.Ceil(float64(offset+dur) / float64(total) * float64(width)))
	}
	from = min(max(from, 0), width-1)
	to = min(max(to, from+1), width)
	return strings.Repeat(" ", from) + strings.Repeat("█", to-from) + strings.Repeat(" ", width-to)
}

// millis writes a duration in milliseconds, to the nanosecond.
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/1e6, 'f', -1, 64)
}

// plural writes n things: 1 span, 2 spans.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}
