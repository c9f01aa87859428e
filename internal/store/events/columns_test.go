package events

import (
	"reflect"
	"strconv"
	"testing"
	"time"
)

// TestReadColumnsAtAndCodes: reading some rows of a row group
// (readColumnsAt, pages by the offset index) gives those rows of a whole
// read, for every field; readCodes gives a whole read's strings, from the
// Parquet dictionary (resource, service_name) or numbered by value
// (body, which is not dictionary-encoded).
func TestReadColumnsAtAndCodes(t *testing.T) {
	dir := t.TempDir()
	w, err := newBlockWriter(dir, "t", KindLog, 1<<20, 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	const n = 30000 // bodies over several 1 MiB pages
	for i := range n {
		svc := "svc" + strconv.Itoa(i%3)
		e := Event{Time: base + int64(i)*1e6, Service: svc,
			Body:     "line " + strconv.Itoa(i) + " with enough text to fill pages of a megabyte quickly, i.e. around a hundred bytes",
			Severity: int32(5 + 4*(i%4)), SeverityText: []string{"DEBUG", "INFO", "WARN", "ERROR"}[i%4],
			Resource: Attrs{{Key: "service.name", Value: Str(svc)}},
			Attrs:    Attrs{{Key: "n", Value: Int(int64(i))}}}
		if i%5 == 0 {
			e.Attrs = append(e.Attrs, Attr{Key: "u", Value: Str("user" + strconv.Itoa(i))}, Attr{Key: "f", Value: Float(float64(i) / 2)})
		}
		e.TraceID[0], e.SpanID[1] = byte(i/7), byte(i)
		if err := w.add(&e); err != nil {
			t.Fatal(err)
		}
	}
	meta, err := w.finish()
	if err != nil {
		t.Fatal(err)
	}
	b, err := openBlock(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.close() }()
	if len(meta.RowGroups) != 1 {
		t.Fatalf("%d row groups", len(meta.RowGroups))
	}
	rg := b.pf.RowGroups()[0]
	full, err := readColumns(rg, KindLog, fAll)
	if err != nil {
		t.Fatal(err)
	}
	for _, rows := range [][]int32{{0}, {n - 1}, {3, 4, 5, 9000, 9001, 17000, 29998}, {12345}} {
		part, err := readColumnsAt(rg, KindLog, fAll, rows)
		if err != nil {
			t.Fatal(err)
		}
		for k, i := range rows {
			var want, got Event
			full.fill(&want, int(i))
			part.fill(&got, k)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("row %d:\n got %+v\nwant %+v", i, got, want)
			}
		}
	}
	for _, c := range []struct {
		name string
		f    fieldSet
		dict bool
	}{{"resource", fResource, true}, {"service_name", fService, true}, {"body", fBody, false}} {
		l, err := readCodes(rg, c.name)
		if err != nil {
			t.Fatal(err)
		}
		strs := full.leafs[bitIndex(c.f)].str
		if len(l.codes) != n {
			t.Fatalf("%s: %d codes", c.name, len(l.codes))
		}
		for i, code := range l.codes {
			if l.dict[code] != strs[i] {
				t.Fatalf("%s row %d: %q, want %q", c.name, i, l.dict[code], strs[i])
			}
		}
		if small := len(l.dict) < 10; small != c.dict {
			t.Errorf("%s: %d distinct values", c.name, len(l.dict))
		}
	}
}
