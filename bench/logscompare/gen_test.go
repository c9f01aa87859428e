package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestGenerateDeterministic(t *testing.T) {
	o := genOptions{Lines: 20000, Seed: 7, End: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), Span: 2 * time.Hour}
	var a, b bytes.Buffer
	ta, err := generate(&a, o)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := generate(&b, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two runs with the same options wrote different bytes")
	}
	ja, _ := json.Marshal(ta)
	jb, _ := json.Marshal(tb)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("truths differ:\n%s\n%s", ja, jb)
	}
	o.Seed = 8
	var c bytes.Buffer
	if _, err := generate(&c, o); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("another seed wrote the same bytes")
	}
}

// TestGenerateTruth recounts the file the generator wrote and wants the
// answers it recorded.
func TestGenerateTruth(t *testing.T) {
	end := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	tr, err := generate(&buf, genOptions{Lines: 30000, Seed: 1, End: end, Span: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Lines != 30000 || tr.Bytes != int64(buf.Len()) {
		t.Fatalf("lines %d bytes %d, file %d bytes", tr.Lines, tr.Bytes, buf.Len())
	}
	var (
		n, traceN, orderN, errN int
		levels                  = map[string]int64{}
		services                = map[string]bool{}
		prev                    time.Time
	)
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var l shopFields
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v: %s", n+1, err, sc.Bytes())
		}
		if l.Time.Before(prev) || !l.Time.Before(end) || l.Time.Before(end.Add(-2*time.Hour)) {
			t.Fatalf("line %d: time %s after %s or outside the 2 h", n+1, l.Time, prev)
		}
		if len(l.TraceID) != 32 || len(l.SpanID) != 16 {
			t.Fatalf("line %d: ids %q %q", n+1, l.TraceID, l.SpanID)
		}
		prev = l.Time
		n++
		levels[l.Level]++
		services[l.Service] = true
		if l.TraceID == tr.TraceID {
			traceN++
		}
		if strings.Contains(l.Msg, tr.OrderID) {
			orderN++
		}
		if l.Level == "error" && l.Service == tr.ErrSvc {
			errN++
		}
	}
	if n != tr.Lines || traceN != tr.TraceN || orderN != tr.OrderN || errN != tr.ErrN {
		t.Fatalf("recounted lines %d trace %d order %d errors %d; truth %+v", n, traceN, orderN, errN, tr)
	}
	if traceN < 3 || orderN < 2 || errN == 0 || len(services) != 8 {
		t.Fatalf("trace %d lines, order %d lines, %d errors, %d services: the questions need more", traceN, orderN, errN, len(services))
	}
	for l, c := range levels {
		if tr.Levels[l] != c {
			t.Fatalf("level %s: %d, truth %d", l, c, tr.Levels[l])
		}
	}
	if avg := float64(tr.Bytes) / float64(tr.Lines); avg < 250 || avg > 350 {
		t.Fatalf("%.1f bytes a line, want about 300", avg)
	}
	if levels["info"] < 9*int64(n)/10 || levels["warn"] == 0 {
		t.Fatalf("levels %v: want mostly info, some warn and error", levels)
	}
}

func TestLineTime(t *testing.T) {
	start := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	if got := lineTime(start, 2*time.Hour, 1999999, 2000000); got != start.Add(2*time.Hour-3600*time.Microsecond).Truncate(time.Millisecond) {
		t.Fatalf("last of 2 M lines over 2 h at %s", got)
	}
	if got := lineTime(start, 2*time.Hour, 1000000, 2000000); got != start.Add(time.Hour) {
		t.Fatalf("middle line at %s", got)
	}
}

func TestCachedInput(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 30, 12, 0, 30, 0, time.UTC)
	p1, t1, err := cachedInput(dir, 1000, 1, time.Hour, 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	p2, t2, err := cachedInput(dir, 1000, 1, time.Hour, 24*time.Hour, now.Add(time.Hour))
	if err != nil || p2 != p1 || t2.TraceID != t1.TraceID {
		t.Fatalf("an hour later: %s %v, want the cached %s", p2, err, p1)
	}
	p3, _, err := cachedInput(dir, 1000, 1, time.Hour, 24*time.Hour, now.Add(25*time.Hour))
	if err != nil || p3 == p1 {
		t.Fatalf("a day later: %s %v, want a new file", p3, err)
	}
}
