package querycli

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The output formats (-o).
const (
	outTable = "table"
	outJSON  = "json"
	outCSV   = "csv"
)

// printer writes results as a table or CSV.
type printer struct {
	format string
	utc    bool
	stdout io.Writer
	stderr io.Writer
}

// tableTime is a time in a table: local (or UTC with --utc), to the
// millisecond.
func (p *printer) tableTime(t time.Time) string {
	if p.utc {
		t = t.UTC()
	} else {
		t = t.Local()
	}
	return t.Format("2006-01-02 15:04:05.000")
}

// csvTime is a time in CSV: RFC 3339 in UTC, to the nanosecond.
func csvTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// rows writes a header and rows, aligned (table) or as CSV.
func (p *printer) rows(header []string, rows [][]string) error {
	if p.format == outCSV {
		w := csv.NewWriter(p.stdout)
		_ = w.Write(header)
		_ = w.WriteAll(rows)
		return w.Error()
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			if i > 0 {
				_, _ = tw.Write([]byte{'\t'})
			}
			_, _ = tw.Write([]byte(cellText(c)))
		}
		_, _ = tw.Write([]byte{'\n'})
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Cells are padded to their column; the last of a line need not be.
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(p.stdout, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// cellText keeps a table cell on one line and in one column.
var cellText = strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace

// series is one series of a metric result: its labels, in the API's
// order, and its points.
type series struct {
	labels map[string]string
	points []point
}

// point is one value of a series at a time, as the API wrote it.
type point struct {
	t time.Time
	v string
}

// labelNames are the names of the labels of ss, __name__ first, then
// sorted.
func labelNames(ss []series) []string {
	seen := map[string]bool{}
	var names []string
	for _, s := range ss {
		for k := range s.labels {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == "__name__") != (names[j] == "__name__") {
			return names[i] == "__name__"
		}
		return names[i] < names[j]
	})
	return names
}

// metrics writes a metric result: a row per point, a column per label
// name, then the time (in a table, only for a range query) and the
// value. An empty result writes the header in CSV, and "no data" to
// stderr in a table.
func (p *printer) metrics(ss []series, rangeQuery bool) error {
	names := labelNames(ss)
	withTime := rangeQuery || p.format == outCSV
	header := append([]string(nil), names...)
	timeCol, valueCol := "TIME", "VALUE"
	if p.format == outCSV {
		timeCol, valueCol = "time", "value"
	}
	if withTime {
		header = append(header, timeCol)
	}
	header = append(header, valueCol)
	if len(ss) == 0 && p.format != outCSV {
		fmt.Fprintln(p.stderr, "no data")
		return nil
	}
	var rows [][]string
	for _, s := range ss {
		for _, pt := range s.points {
			r := make([]string, 0, len(header))
			for _, n := range names {
				r = append(r, s.labels[n])
			}
			if withTime {
				t := p.tableTime(pt.t)
				if p.format == outCSV {
					t = csvTime(pt.t)
				}
				r = append(r, t)
			}
			rows = append(rows, append(r, pt.v))
		}
	}
	return p.rows(header, rows)
}

// logLine is one line of a log result.
type logLine struct {
	t      time.Time
	stream int // index of its stream
	line   string
}

// logs writes log lines, in the order given. A table has the time, the
// labels of the line's stream that not every stream shares (their
// column left out when none) and the line; the labels every stream
// shares go to stderr, once, as logcli prints them. CSV has a column
// per label.
func (p *printer) logs(streams []map[string]string, lines []logLine) error {
	if p.format == outCSV {
		all := make([]series, len(streams))
		for i, s := range streams {
			all[i].labels = s
		}
		names := labelNames(all)
		header := append(append([]string{"time"}, names...), "line")
		rows := make([][]string, 0, len(lines))
		for _, l := range lines {
			r := []string{csvTime(l.t)}
			for _, n := range names {
				r = append(r, streams[l.stream][n])
			}
			rows = append(rows, append(r, l.line))
		}
		return p.rows(header, rows)
	}
	if len(lines) == 0 {
		fmt.Fprintln(p.stderr, "no lines")
		return nil
	}
	common := commonLabels(streams)
	if len(common) > 0 {
		fmt.Fprintln(p.stderr, "common labels:", labelText(common, nil))
	}
	withLabels := false
	for _, s := range streams {
		withLabels = withLabels || len(s) > len(common)
	}
	header := []string{"TIME", "LINE"}
	if withLabels {
		header = []string{"TIME", "LABELS", "LINE"}
	}
	rows := make([][]string, 0, len(lines))
	for _, l := range lines {
		r := []string{p.tableTime(l.t)}
		if withLabels {
			r = append(r, labelText(streams[l.stream], common))
		}
		rows = append(rows, append(r, l.line))
	}
	return p.rows(header, rows)
}

// commonLabels are the labels every stream has with the same value.
func commonLabels(streams []map[string]string) map[string]string {
	if len(streams) == 0 {
		return nil
	}
	common := map[string]string{}
	for k, v := range streams[0] {
		common[k] = v
	}
	for _, s := range streams[1:] {
		for k, v := range common {
			if w, ok := s[k]; !ok || w != v {
				delete(common, k)
			}
		}
	}
	return common
}

// labelText writes labels as a selector, {a="1", b="2"}, sorted, without
// those in skip.
func labelText(ls, skip map[string]string) string {
	names := make([]string, 0, len(ls))
	for k := range ls {
		if _, ok := skip[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + strconv.Quote(ls[k]))
	}
	b.WriteByte('}')
	return b.String()
}
