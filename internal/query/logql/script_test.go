package logql

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promparser "github.com/prometheus/prometheus/promql/parser"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/store/events"
)

// The script tests in testdata/*.txt, in the spirit of promqltest:
//
//	push {service_name="api", env="prod"}
//	  0s level=info msg="ok"
//	  10s meta{trace_id="4bf9...", user="u1"} level=error msg="timeout"
//
//	logs {service_name="api"} |= "timeout"
//	  {env="prod", level="error", service_name="api"} 10s level=error msg="timeout"
//
//	range 0s 60s 30s count_over_time({env="prod"}[1m])
//	  {env="prod", level="info", service_name="api"} 1 1 _
//
//	instant 60s sum(count_over_time({env="prod"}[1m]))
//	  {} 2
//
//	error {service_name="api"} | json | unknown
//	  unknown stage
//
// Lines are pushed with their stream labels (service_name is the
// service; level, if a label, is the level) at offsets from the base time,
// optionally with structured metadata; trace_id and span_id go to the id
// columns. A logs command lists every line the query returns, newest
// first ("logs forward" for oldest first, "logs limit=N" to cap), each with
// all its labels; a range command lists every series and its value at
// each step (_ for none), sorted by labels; instant lists a vector (or a
// scalar: "scalar v"). error names a part of the error.

var base = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no script tests: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

type cmd struct {
	line  int
	head  string
	lines []string
}

func readScript(t *testing.T, path string) []cmd {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var cmds []cmd
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if strings.HasPrefix(l, "  ") {
			if len(cmds) == 0 {
				t.Fatalf("%s:%d: indented line before a command", path, n)
			}
			cmds[len(cmds)-1].lines = append(cmds[len(cmds)-1].lines, strings.TrimSpace(l))
			continue
		}
		cmds = append(cmds, cmd{line: n, head: l})
	}
	return cmds
}

func runScript(t *testing.T, path string) {
	cmds := readScript(t, path)
	st, err := events.Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), events.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	eng := NewEngine(st, Options{})
	ctx := context.Background()
	for _, c := range cmds {
		where := fmt.Sprintf("%s:%d", filepath.Base(path), c.line)
		verb, rest, _ := strings.Cut(c.head, " ")
		switch verb {
		case "push":
			logs, err := parsePush(rest, c.lines)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if err := st.Append(ctx, "default", events.KindLog, logs); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		case "logs":
			p := Params{Tenant: "default", Start: base.Add(-time.Hour), End: base.Add(time.Hour), Limit: 1000}
			for {
				switch {
				case strings.HasPrefix(rest, "forward "):
					p.Forward, rest = true, strings.TrimPrefix(rest, "forward ")
					continue
				case strings.HasPrefix(rest, "limit="):
					n, q, _ := strings.Cut(strings.TrimPrefix(rest, "limit="), " ")
					p.Limit, _ = strconv.Atoi(n)
					rest = q
					continue
				}
				break
			}
			res := run1(t, where, eng, rest, p)
			if res == nil {
				continue
			}
			var got []string
			type ent struct {
				ls labels.Labels
				e  Entry
			}
			var all []ent
			for _, s := range res.Streams {
				for _, e := range s.Entries {
					all = append(all, ent{s.Labels, e})
				}
			}
			sort.SliceStable(all, func(i, j int) bool {
				if p.Forward {
					return all[i].e.T < all[j].e.T
				}
				return all[i].e.T > all[j].e.T
			})
			for _, x := range all {
				got = append(got, fmt.Sprintf("%s %s %s", x.ls, offset(x.e.T), x.e.Line))
			}
			compare(t, where, c.head, got, c.lines)
		case "range":
			f := strings.SplitN(rest, " ", 4)
			if len(f) != 4 {
				t.Fatalf("%s: range <start> <end> <step> <query>", where)
			}
			p := Params{Tenant: "default", Start: base.Add(dur(t, f[0])), End: base.Add(dur(t, f[1])), Step: dur(t, f[2])}
			res := run1(t, where, eng, f[3], p)
			if res == nil {
				continue
			}
			var got []string
			n := int(p.End.Sub(p.Start)/p.Step) + 1
			for _, s := range res.Matrix {
				vals := make([]string, n)
				for i := range vals {
					vals[i] = "_"
				}
				for _, pt := range s.Points {
					vals[(pt.T-p.Start.UnixNano())/int64(p.Step)] = fmtFloat(pt.V)
				}
				got = append(got, s.Labels.String()+" "+strings.Join(vals, " "))
			}
			compare(t, where, c.head, got, c.lines)
		case "instant":
			at, q, _ := strings.Cut(rest, " ")
			p := Params{Tenant: "default", Start: base.Add(dur(t, at)), End: base.Add(dur(t, at)), Instant: true}
			res := run1(t, where, eng, q, p)
			if res == nil {
				continue
			}
			var got []string
			if res.Type == "scalar" {
				got = append(got, "scalar "+fmtFloat(res.Scalar.V))
			}
			for _, s := range res.Vector {
				got = append(got, s.Labels.String()+" "+fmtFloat(s.V))
			}
			compare(t, where, c.head, got, c.lines)
		case "error":
			q, err := Parse(rest)
			if err == nil {
				p := Params{Tenant: "default", Start: base.Add(-time.Hour), End: base.Add(time.Hour), Step: time.Minute, Limit: 100}
				_, err = eng.Exec(ctx, q, p)
			}
			if err == nil {
				t.Errorf("%s: %s: no error, want one containing %q", where, rest, c.lines)
				continue
			}
			for _, want := range c.lines {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %s: error %q, want it to contain %q", where, rest, err, want)
				}
			}
		default:
			t.Fatalf("%s: unknown command %q", where, verb)
		}
	}
}

func run1(t *testing.T, where string, eng *Engine, q string, p Params) *Result {
	t.Helper()
	e, err := Parse(q)
	if err != nil {
		t.Errorf("%s: parse %s: %v", where, q, err)
		return nil
	}
	// The query prints as something that parses to the same.
	if e2, err := Parse(e.String()); err != nil || e2.String() != e.String() {
		t.Errorf("%s: %s prints as %s, which parses as %v (%v)", where, q, e.String(), e2, err)
	}
	res, err := eng.Exec(context.Background(), e, p)
	if err != nil {
		t.Errorf("%s: %s: %v", where, q, err)
		return nil
	}
	// Line counts grouped by the store answer as the general path does.
	if res.Type != "streams" {
		general := *eng
		general.noStreams = true
		res2, err := general.Exec(context.Background(), e, p)
		if err != nil || !reflect.DeepEqual(res.Matrix, res2.Matrix) || !reflect.DeepEqual(res.Vector, res2.Vector) || res.Scalar != res2.Scalar {
			t.Errorf("%s: %s: without the grouped count: %v %v, with: %v %v", where, q, res2, err, res.Matrix, res.Vector)
		}
	}
	return res
}

func compare(t *testing.T, where, head string, got, want []string) {
	t.Helper()
	norm := func(ls []string) []string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = strings.Join(strings.Fields(l), " ")
		}
		return out
	}
	g, w := norm(got), norm(want)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("%s: %s\ngot:\n  %s\nwant:\n  %s", where, head, strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func offset(ns int64) string { return time.Duration(ns - base.UnixNano()).String() }

func dur(t *testing.T, s string) time.Duration {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	d, err := time.ParseDuration(strings.TrimPrefix(s, "-"))
	if err != nil {
		t.Fatalf("bad duration %q", s)
	}
	if neg {
		return -d
	}
	return d
}

var scriptParser = promparser.NewParser(promparser.Options{})

// parsePush makes the events of a push command.
func parsePush(labelText string, lines []string) ([]events.Event, error) {
	ls, err := scriptParser.ParseMetric(labelText)
	if err != nil {
		return nil, fmt.Errorf("labels %s: %w", labelText, err)
	}
	var res events.Attrs
	service := "unknown_service"
	level := ""
	ls.Range(func(l labels.Label) {
		key := l.Name
		switch l.Name {
		case "service_name":
			key, service = "service.name", l.Value
		case "level":
			level = l.Value
		}
		res = append(res, events.Attr{Key: key, Value: events.Str(l.Value)})
	})
	if _, ok := res.Get("service.name"); !ok {
		res = append(res, events.Attr{Key: "service.name", Value: events.Str(service)})
	}
	var out []events.Event
	for _, l := range lines {
		off, text, _ := strings.Cut(l, " ")
		d, err := time.ParseDuration(off)
		if err != nil {
			return nil, fmt.Errorf("line %q: bad offset", l)
		}
		e := events.Event{Time: base.Add(d).UnixNano(), Service: service, Resource: res, SeverityText: level}
		if strings.HasPrefix(text, "meta{") {
			end := strings.Index(text, "} ")
			if end < 0 {
				end = len(text) - 1
			}
			md, err := scriptParser.ParseMetric(text[4 : end+1])
			if err != nil {
				return nil, fmt.Errorf("line %q: metadata: %w", l, err)
			}
			md.Range(func(m labels.Label) {
				switch m.Name {
				case "trace_id":
					e.TraceID, _ = events.ParseTraceID(m.Value)
				case "span_id":
					e.SpanID, _ = events.ParseSpanID(m.Value)
				default:
					e.Attrs = append(e.Attrs, events.Attr{Key: m.Name, Value: events.Str(m.Value)})
				}
			})
			text = strings.TrimPrefix(text[end+1:], " ")
		}
		e.Body = text
		if level == "" {
			e.SeverityText = ingest.DetectLevel(text) // as Loki push does
		}
		out = append(out, e)
	}
	return out, nil
}
