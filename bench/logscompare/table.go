package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// row is one line of the result table: a figure, each peer's value, the
// ratio of Horus to the reference peer and the goal for it.
type row struct {
	figure string
	values []string // one per column of the table's peers
	ratio  string
	goal   string
}

// writeTable prints rows as a Markdown table whose value columns are
// peers, followed by the ratio column named ratioName and the goal.
func writeTable(w io.Writer, peers []string, ratioName string, rows []row) {
	head := append(append([]string{"figure"}, peers...), ratioName, "goal")
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(head)))
	for _, r := range rows {
		cells := []string{r.figure}
		for i := range peers {
			v := ""
			if i < len(r.values) {
				v = r.values[i]
			}
			cells = append(cells, v)
		}
		cells = append(cells, r.ratio, r.goal)
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}

// ratio formats a/b as "0.54×", or "" when either is not positive.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// thousands formats n with a comma every three digits: 1,257.
func thousands(n int64) string {
	digits := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, digits = "-", digits[1:]
	}
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// kilo formats a rate as "28.5 k" above 10,000, else as a whole number.
func kilo(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1f k", v/1000)
	}
	return thousands(int64(v + 0.5))
}

// ms formats a duration in milliseconds: three significant digits below
// 10 ms, whole numbers above.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	if f < 10 {
		return fmt.Sprintf("%.2g ms", f)
	}
	return thousands(int64(f+0.5)) + " ms"
}

// median of ds (which it sorts); 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	if len(ds)%2 == 1 {
		return ds[len(ds)/2]
	}
	return (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
}
