package traceql

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
)

// The script tests in testdata/*.txt, in the spirit of promqltest:
//
//	trace t1
//	  span a service=frontend name="GET /" kind=server dur=100ms
//	  span b parent=a service=db start=10ms status=error span.db.system="postgres"
//
//	eval { status = error }
//	  t1: b
//
//	eval { } | by(resource.service.name)
//	  t1: a [resource.service.name="frontend"]
//	  t1: b [resource.service.name="db"]
//
//	error { status = }
//	  unexpected end of query
//
//	metrics 100ms { } | rate() by (resource.service.name)
//	  {resource.service.name="db"} 0 10 0 0 0
//
// A metrics command evaluates a metrics query with Metrics over the
// traces stored in a real event store, from the base time to 4 steps
// after it, which Tempo's alignment makes 5 intervals (t - step, t]
// stamped t = base, base + step ... base + 4 steps; each line is a
// series: its labels, then a value per interval (_ for none).
//
// A span line names the span, then sets fields: service, name, kind,
// status, msg (status message), start and dur (offsets from the trace's
// base time), parent (a span of the same trace, or "missing"), event (adds an event),
// link (adds a link: trace:span), and attributes span.k, resource.k and
// event.k (on the last event) with typed values: "text", 42, 1.5, true,
// and arrays as JSON: ["a","b"], [1,2].
// An eval lists every spanset of every matching trace, each line
// "trace: spans [by() and aggregate values]"; traces not listed must not
// match. An error names a part of the parse error.

type scriptTrace struct {
	name  string
	spans []events.Event
	names []string
}

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no script tests: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

var base = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixNano()

func runScript(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var traces []*scriptTrace
	var store *events.Store
	for n := 0; n < len(lines); n++ {
		line := lines[n]
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		where := fmt.Sprintf("%s:%d", filepath.Base(path), n+1)
		// The indented lines under this one.
		var body []string
		for n+1 < len(lines) && strings.HasPrefix(lines[n+1], "  ") {
			n++
			if b := strings.TrimSpace(lines[n]); b != "" && !strings.HasPrefix(b, "#") {
				body = append(body, b)
			}
		}
		cmd, arg, _ := strings.Cut(trimmed, " ")
		switch cmd {
		case "trace":
			traces = append(traces, loadTrace(t, where, arg, len(traces), body))
		case "eval":
			q, err := Parse(arg)
			if err != nil {
				t.Errorf("%s: %s: %v", where, arg, err)
				continue
			}
			if r, err := Parse(q.String()); err != nil || r.String() != q.String() {
				t.Errorf("%s: %s prints as %s, which parses as %v (err %v)", where, arg, q, r, err)
			}
			sets := append(pushdownSets(q.Root), Pushdown(q))
			for _, push := range sets {
				for i := range push {
					if err := push[i].Compile(); err != nil {
						t.Fatalf("%s: pushdown %+v: %v", where, push[i], err)
					}
				}
			}
			var got []string
			for _, st := range traces {
				tr := NewTrace(st.spans)
				matched := q.Eval(tr)
				for _, ss := range matched {
					got = append(got, formatSpanset(st, ss))
				}
				// A matched trace has, for each pushed-down filter set, a
				// span it accepts, or the first pass would miss it.
				for _, push := range sets {
					if len(matched) > 0 && !slices.ContainsFunc(st.spans, func(e events.Event) bool {
						for i := range push {
							if !push[i].Match(&e) {
								return false
							}
						}
						return true
					}) {
						t.Errorf("%s: %s: the pushdown %v rules out trace %s, which matches", where, arg, push, st.name)
					}
				}
			}
			slices.Sort(got)
			want := slices.Clone(body)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s\n got:\n  %s\nwant:\n  %s", where, arg, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		case "metrics":
			if store == nil {
				store = storeOf(t, traces)
			}
			stepText, qs, _ := strings.Cut(arg, " ")
			step := int64(mustDuration(t, stepText))
			q, err := Parse(qs)
			if err != nil {
				t.Errorf("%s: %s: %v", where, qs, err)
				continue
			}
			series, _, err := Metrics(context.Background(), store, MetricsRequest{Tenant: "default", Query: q, Start: base, End: base + 4*step, Step: step, Exemplars: 10})
			if err != nil {
				t.Errorf("%s: %s: %v", where, qs, err)
				continue
			}
			var got []string
			for _, s := range series {
				got = append(got, formatSeries(s))
			}
			if !slices.Equal(got, body) {
				t.Errorf("%s: %s\n got:\n  %s\nwant:\n  %s", where, qs, strings.Join(got, "\n  "), strings.Join(body, "\n  "))
			}
		case "error":
			_, err := Parse(arg)
			if err == nil {
				t.Errorf("%s: %s parsed, want an error", where, arg)
				continue
			}
			for _, b := range body {
				if !strings.Contains(err.Error(), b) {
					t.Errorf("%s: %s: error %q does not contain %q", where, arg, err, b)
				}
			}
		default:
			t.Fatalf("%s: unknown command %q", where, cmd)
		}
	}
}

// storeOf puts the traces into a new event store.
func storeOf(t *testing.T, traces []*scriptTrace) *events.Store {
	st, err := events.Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for _, tr := range traces {
		if err := st.Append(context.Background(), "default", events.KindSpan, tr.spans); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func formatSeries(s Series) string {
	var kv []string
	for _, l := range s.Labels {
		kv = append(kv, l.Key+"="+l.Value.Literal())
	}
	out := "{" + strings.Join(kv, ", ") + "}"
	for _, v := range s.Samples {
		if math.IsNaN(v) {
			out += " _"
		} else {
			out += " " + strconv.FormatFloat(v, 'g', 4, 64)
		}
	}
	return out
}

func formatSpanset(st *scriptTrace, ss Spanset) string {
	names := make([]string, len(ss.Spans))
	for i, s := range ss.Spans {
		names[i] = st.names[s]
	}
	slices.Sort(names)
	out := st.name + ": " + strings.Join(names, " ")
	if len(ss.Attrs) > 0 {
		var kv []string
		for _, a := range ss.Attrs {
			kv = append(kv, a.Key+"="+a.Value.Literal())
		}
		out += " [" + strings.Join(kv, " ") + "]"
	}
	return out
}

func loadTrace(t *testing.T, where, name string, n int, body []string) *scriptTrace {
	st := &scriptTrace{name: name}
	tid := events.TraceID{0xaa, byte(n + 1)}
	ids := map[string]events.SpanID{}
	parents := map[int]string{}
	for i, line := range body {
		fields := splitFields(line)
		if len(fields) < 2 || fields[0] != "span" {
			t.Fatalf("%s: want span <name> key=value...: %q", where, line)
		}
		e := events.Event{TraceID: tid, SpanID: events.SpanID{0xbb, byte(n + 1), byte(i + 1)}, Time: base, Duration: int64(time.Millisecond)}
		ids[fields[1]] = e.SpanID
		st.names = append(st.names, fields[1])
		for _, kv := range fields[2:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("%s: %q is not key=value", where, kv)
			}
			switch {
			case k == "service":
				e.Service = unquote(v)
				e.Resource = append(e.Resource, events.Attr{Key: "service.name", Value: events.Str(e.Service)})
			case k == "name":
				e.Name = unquote(v)
			case k == "msg":
				e.StatusMessage = unquote(v)
			case k == "kind":
				e.SpanKind = int32(slices.Index(kindNames[:], v))
			case k == "status":
				e.StatusCode = int32(slices.Index(statusNames[:], v))
			case k == "start":
				e.Time = base + int64(mustDuration(t, v))
			case k == "dur":
				e.Duration = int64(mustDuration(t, v))
			case k == "parent" && v == "missing":
				e.ParentSpanID = events.SpanID{0xee} // a parent not (yet) received
			case k == "parent":
				parents[i] = v
			case k == "event":
				e.Events = append(e.Events, events.SpanEvent{Time: e.Time, Name: unquote(v)})
			case k == "link":
				tr, sp, _ := strings.Cut(v, ":")
				e.Links = append(e.Links, events.SpanLink{TraceID: events.TraceID{0xaa, tr[len(tr)-1] - '0'}, SpanID: events.SpanID{0xcc, sp[0]}})
			case strings.HasPrefix(k, "span."):
				e.Attrs = append(e.Attrs, events.Attr{Key: k[5:], Value: typed(v)})
			case strings.HasPrefix(k, "resource."):
				e.Resource = append(e.Resource, events.Attr{Key: k[9:], Value: typed(v)})
			case strings.HasPrefix(k, "event."):
				last := &e.Events[len(e.Events)-1]
				last.Attrs = append(last.Attrs, events.Attr{Key: k[6:], Value: typed(v)})
			case strings.HasPrefix(k, "link."):
				last := &e.Links[len(e.Links)-1]
				last.Attrs = append(last.Attrs, events.Attr{Key: k[5:], Value: typed(v)})
			default:
				t.Fatalf("%s: unknown span field %q", where, k)
			}
		}
		st.spans = append(st.spans, e)
	}
	for i, p := range parents {
		id, ok := ids[p]
		if !ok {
			t.Fatalf("%s: parent %q of span %s is not in trace %s", where, p, st.names[i], name)
		}
		st.spans[i].ParentSpanID = id
	}
	return st
}

// splitFields splits on spaces outside double quotes.
func splitFields(s string) []string {
	var out []string
	var cur strings.Builder
	inQ := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQ && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQ = !inQ
			cur.WriteByte(c)
		case c == ' ' && !inQ:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func unquote(v string) string {
	if s, err := strconv.Unquote(v); err == nil {
		return s
	}
	return v
}

func typed(v string) events.Value {
	if strings.HasPrefix(v, "[") {
		return events.Value{Type: events.TypeArray, Str: v} // as OTLP ingest keeps arrays: JSON
	}
	if s, err := strconv.Unquote(v); err == nil {
		return events.Str(s)
	}
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return events.Int(i)
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return events.Float(f)
	}
	if b, err := strconv.ParseBool(v); err == nil {
		return events.Bool(b)
	}
	return events.Str(v)
}

func mustDuration(t *testing.T, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}

// FuzzParse: any input parses or fails with a ParseError, never panics,
// and what parses prints as a query that parses to the same print.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{ .foo = "bar" && span.x > 3 || resource.service.name =~ "a.*" }`,
		`{ status = error } >> { kind = client } | count() > 1`,
		`({ name = "a" } | by(.x)) && { } | select(span.y) | coalesce()`,
		`{ duration > 1.5s && traceDuration < 1h } ~ { !(.a != nil) } | avg(duration) >= 10ms`,
		`{ span."with space" = -3.5e2 } &>> { event:name = "x" } | quantile_over_time(duration, .5, .99) by (resource.service.name)`,
		`{ trace:id = "ab" && span:id != "cd" } !< { 1 + 2 * 3 ^ 2 % 4 > 0 }`,
		`{ "000F01" = trace:id || link:spanID != "0" || span:parentID = "xyz" } !~ { rootServiceName != "" }`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("%q: error %T %v is not a ParseError", s, err, err)
			}
			return
		}
		printed := q.String()
		r, err := Parse(printed)
		if err != nil {
			t.Fatalf("%q prints as %q, which does not parse: %v", s, printed, err)
		}
		if r.String() != printed {
			t.Fatalf("%q prints as %q, which prints as %q", s, printed, r.String())
		}
	})
}
