package logql

import (
	"os"
	"strings"
	"testing"
)

// TestPrettify checks Prettify against Loki 3.7.6's format_query answers
// to the same queries (testdata/prettify.golden, written from a running
// Loki): each case's query is parsed and prettified, and must print as
// Loki printed it.
func TestPrettify(t *testing.T) {
	b, err := os.ReadFile("testdata/prettify.golden")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range strings.Split(string(b), "\nquery: ")[1:] {
		q, want, _ := strings.Cut(block, "\n")
		want = strings.TrimRight(want, "\n")
		e, err := Parse(q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if got := Prettify(e); got != want {
			t.Errorf("%s:\n got\n%s\nwant\n%s", q, got, want)
		}
		n++
	}
	if n < 15 {
		t.Errorf("%d cases, want the golden file's", n)
	}
}

// FuzzPrettify: any query that parses prettifies without a panic, and
// what it prints parses again.
func FuzzPrettify(f *testing.F) {
	f.Add(`sum by (a) (rate({a="b"} |= "x" != "y" | json | unwrap d | __error__="" [5m] offset 1h)) / on (a) group_left (b) vector(1)`)
	f.Add(`label_replace(topk(3, count_over_time({a="b"} | decolorize | logfmt [1m])), "d", "$1", "s", "(.*)")`)
	f.Fuzz(func(t *testing.T, q string) {
		e, err := Parse(q)
		if err != nil {
			return
		}
		s := Prettify(e)
		if _, err := Parse(s); err != nil {
			t.Errorf("%q prettified to %q, which does not parse: %v", q, s, err)
		}
	})
}

// TestBytesFilterString: a byte size prints as Loki prints it
// (go-humanize, 2KiB is 2.0kB) where that keeps its value, else in bytes
// (Loki's 1.2kB for 1234B would mean 1200, its 2.0kB for 2KiB 2000).
func TestBytesFilterString(t *testing.T) {
	for in, want := range map[string]string{
		`{a="b"} | s > 2KiB`:  `{a="b"} | s>2048B`, // Loki: 2.0kB
		`{a="b"} | s = 1.5MB`: `{a="b"} | s==1.5MB`,
		`{a="b"} | s < 9B`:    `{a="b"} | s<9B`,
		`{a="b"} | s > 1234B`: `{a="b"} | s>1234B`,
		`{a="b"} | s > 2KB`:   `{a="b"} | s>2.0kB`,
	} {
		e, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.String(); got != want {
			t.Errorf("%s prints as %s, want %s", in, got, want)
		}
	}
}
