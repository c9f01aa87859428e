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
// ratios of Horus (the first peer) to each other peer, and the goal
// for the ratio.
type row struct {
	figure string
	values []string // one per peer
	ratios []string // one per peer after the first
	goal   string
}

// numRow makes a row of numbers, each formatted by format, with the
// ratios of the first to each of the others.
func numRow(figure string, vals []float64, format func(float64) string, goal string) row {
	r := row{figure: figure, goal: goal}
	for i, v := range vals {
		r.values = append(r.values, format(v))
		if i > 0 {
			r.ratios = append(r.ratios, ratio(vals[0], v))
		}
	}
	return r
}

// writeTable prints rows as a Markdown table: a column per peer, a ratio
// column "Horus / <peer>" per peer after the first (VictoriaLogs is VL),
// and the goal.
func writeTable(w io.Writer, peers []string, rows []row) {
	head := append([]string{"figure"}, peers...)
	for _, p := range peers[1:] {
		if p == "VictoriaLogs" {
			p = "VL"
		}
		head = append(head, peers[0]+" / "+p)
	}
	head = append(head, "goal")
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(head)))
	for _, r := range rows {
		cells := []string{r.figure}
		for i := range peers {
			cells = append(cells, at(r.values, i))
		}
		for i := range peers[1:] {
			cells = append(cells, at(r.ratios, i))
		}
		cells = append(cells, r.goal)
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
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
