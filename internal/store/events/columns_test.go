package events

import (
	"math/rand/v2"
	"reflect"
	"slices"
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
		if len(l.codes) != n {
			t.Fatalf("%s: %d codes", c.name, len(l.codes))
		}
		whole, err := readLeafAt(rg, nil, c.name) // as strings
		if err != nil {
			t.Fatal(err)
		}
		for i, code := range l.codes {
			if l.dict[code] != whole.str[i] || full.leafs[bitIndex(c.f)].strAt(i) != whole.str[i] {
				t.Fatalf("%s row %d: %q, want %q", c.name, i, l.dict[code], whole.str[i])
			}
		}
		if small := len(l.dict) < 10; small != c.dict {
			t.Errorf("%s: %d distinct values", c.name, len(l.dict))
		}
	}
}

// TestPickRepeated checks the block-skipping walk of a map column's
// levels against a walk value by value, on rows of 0 to 40 values and
// wanted rows of every density.
func TestPickRepeated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		const maxDef = 2
		var rep, def []byte
		rows := 1 + rng.IntN(3000)
		for range rows {
			n := rng.IntN(41)
			if n == 0 || rng.IntN(10) == 0 {
				rep, def = append(rep, 0), append(def, byte(rng.IntN(maxDef))) // an empty or null map
				continue
			}
			for k := range n {
				rep, def = append(rep, byte(min(k, 1))), append(def, maxDef)
			}
		}
		var local []int32
		density := []int{1, 2, 50, 1000}[iter%4]
		for i := range int32(rows) {
			if rng.IntN(density) == 0 {
				local = append(local, i)
			}
		}
		// The reference: value by value.
		var wantTake, wantOff []int32
		row, v, nv, keep, l := int32(-1), int32(0), int32(0), false, local
		for j := range rep {
			if rep[j] == 0 {
				row++
				keep = len(l) > 0 && l[0] == row
				if keep {
					l = l[1:]
					wantOff = append(wantOff, nv)
				}
			}
			if def[j] == maxDef {
				if keep {
					wantTake = append(wantTake, v)
					nv++
				}
				v++
			}
		}
		r := leafReader{leaf: &leaf{}, maxDef: maxDef, repeated: true}
		got := r.pickRepeated(nil, rep, def, local)
		if !slices.Equal(got, wantTake) || !slices.Equal(r.rowOff, wantOff) || r.nv != nv {
			t.Fatalf("iteration %d (%d rows, %d wanted): take %d values, offsets %d, nv %d; want %d, %d, %d",
				iter, rows, len(local), len(got), len(r.rowOff), r.nv, len(wantTake), len(wantOff), nv)
		}
	}
}
