package main

import (
	"strings"
	"testing"
	"time"
)

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	writeTable(&b, []string{"Horus", "VictoriaLogs", "Loki"}, []row{
		numRow("ingest", []float64{28512, 51100, 20000}, kilo, "≥ 1.5×"),
		numRow("RSS, MB", []float64{1257, 276, 0}, func(f float64) string { return thousands(int64(f)) }, "≤ 1×"),
		{figure: "query", values: []string{ms(1500 * time.Microsecond), ms(12345 * time.Millisecond)}, ratios: []string{ratio(0, 1)}},
	})
	want := `| figure | Horus | VictoriaLogs | Loki | Horus / VL | Horus / Loki | goal |
|---|---|---|---|---|---|---|
| ingest | 28.5 k | 51.1 k | 20.0 k | 0.56× | 1.43× | ≥ 1.5× |
| RSS, MB | 1,257 | 276 | 0 | 4.55× |  | ≤ 1× |
| query | 1.5 ms | 12,345 ms |  |  |  |  |
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []time.Duration
		want time.Duration
	}{{nil, 0}, {[]time.Duration{3, 1, 2}, 2}, {[]time.Duration{4, 1, 3, 2}, 2}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
