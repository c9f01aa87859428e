package events_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/horus-obs/horus/internal/store/events"
)

// streamIndexStore is a store of 6,000 logs in blocks of 500-row row
// groups, the first 1,500 (by time) of service "early": so some row
// groups hold that service and some do not.
func streamIndexStore(t *testing.T, dir string) (*events.Store, []events.Event) {
	t.Helper()
	s := open(t, dir, events.Options{RowGroupRows: 500})
	_, logs := generate(6000, 11)
	logs = logs[:6000]
	for i := range logs[:1500] {
		logs[i].Service = "early"
	}
	appendAll(t, s, "a", events.KindLog, logs[:3000])
	s.Maintain(context.Background(), true)
	appendAll(t, s, "a", events.KindLog, logs[3000:])
	s.Maintain(context.Background(), true)
	return s, logs
}

// TestStreamIndexPrunes checks that a query on stream fields skips the
// row groups whose stream lists (index.bin) rule it out, and still finds
// every matching line.
func TestStreamIndexPrunes(t *testing.T) {
	s, logs := streamIndexStore(t, t.TempDir())
	ctx := context.Background()
	for _, tc := range []struct {
		filters []events.Filter
		want    func(*events.Event) bool
		allSkip bool
	}{
		{[]events.Filter{{Field: "service_name", Op: events.Eq, Value: "early"}},
			func(e *events.Event) bool { return e.Service == "early" }, false},
		{[]events.Filter{{Field: "stream.service_name", Op: events.Eq, Value: "early"}, {Field: "level", Op: events.Eq, Value: "error"}},
			func(e *events.Event) bool { return e.Service == "early" && e.Level() == "error" }, false},
		{[]events.Filter{{Field: "service_name", Op: events.Eq, Value: "nosuch"}},
			func(*events.Event) bool { return false }, true},
		{[]events.Filter{{Field: "level", Op: events.Eq, Value: "critical"}},
			func(e *events.Event) bool { return e.Level() == "critical" }, true},
	} {
		want := 0
		for i := range logs {
			if tc.want(&logs[i]) {
				want++
			}
		}
		evs, st, err := s.Select(ctx, events.Query{Tenant: "a", Kind: events.KindLog, Filters: tc.filters})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != want {
			t.Errorf("%v: %d lines, want %d", tc.filters, len(evs), want)
		}
		if st.Skipped == 0 || tc.allSkip && st.Skipped != st.Units {
			t.Errorf("%v: %d of %d row groups skipped", tc.filters, st.Skipped, st.Units)
		}
	}
}

// TestStreams checks Store.Streams against ScanStreams: the same streams
// for each query, answered from the stream lists for the row groups wholly
// in range when the filters read streams only, from the rows otherwise
// (a range that cuts row groups, a body filter).
func TestStreams(t *testing.T) {
	s, logs := streamIndexStore(t, t.TempDir())
	ctx := context.Background()
	for _, tc := range []struct {
		q         events.Query
		fromIndex bool
	}{
		{events.Query{}, true},
		{events.Query{Filters: []events.Filter{{Field: "stream.service_name", Op: events.Re, Value: "early|orders"}}}, true},
		{events.Query{Start: logs[1000].Time, End: logs[1200].Time}, false},
		{events.Query{Start: logs[1000].Time, End: logs[5000].Time}, true},
		{events.Query{Filters: []events.Filter{{Field: "body", Op: events.Contains, Value: "order"}}}, false},
	} {
		tc.q.Tenant, tc.q.Kind = "a", events.KindLog
		want := streamSet(t, s, tc.q)
		got := map[string]bool{}
		var mu sync.Mutex
		st, err := s.Streams(ctx, tc.q, func(sts []events.Event) error {
			mu.Lock()
			defer mu.Unlock()
			for i := range sts {
				got[fmt.Sprint(sts[i].StreamLabels(nil))] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || !maps.Equal(got, want) {
			t.Errorf("%+v: %d streams, want %d", tc.q, len(got), len(want))
		}
		if tc.fromIndex != (st.FromIndex > 0) {
			t.Errorf("%+v: %d of %d row groups from the index", tc.q, st.FromIndex, st.Units)
		}
	}
	if _, err := s.Streams(ctx, events.Query{Tenant: "a", Kind: events.KindSpan}, func([]events.Event) error { return nil }); err == nil {
		t.Error("Streams over spans: no error")
	}
}

// streamSet is the streams ScanStreams finds for q.
func streamSet(t *testing.T, s *events.Store, q events.Query) map[string]bool {
	t.Helper()
	var mu sync.Mutex
	out := map[string]bool{}
	if _, err := s.ScanStreams(context.Background(), q, func(sts []events.StreamTimes) error {
		mu.Lock()
		defer mu.Unlock()
		for i := range sts {
			if len(sts[i].Times) > 0 {
				out[fmt.Sprint(sts[i].Stream.StreamLabels(nil))] = true
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStreamIndexOlderVersions rewrites the blocks' index.bin in the two
// earlier layouts (HORUSIX2: no stream list; HORUSIX1: nor trigrams):
// such row groups are never skipped by stream and never answered from an
// index, and every answer stays the same.
func TestStreamIndexOlderVersions(t *testing.T) {
	for _, magic := range []string{"HORUSIX2", "HORUSIX1"} {
		t.Run(magic, func(t *testing.T) {
			dir := t.TempDir()
			s, logs := streamIndexStore(t, dir)
			_ = s.Close()
			ixs, _ := filepath.Glob(filepath.Join(dir, "blocks", "a", "logs", "*", "index.bin"))
			if len(ixs) == 0 {
				t.Fatal("no index.bin")
			}
			for _, p := range ixs {
				downgradeIndex(t, p, magic)
			}
			s = open(t, dir, events.Options{RowGroupRows: 500})
			ctx := context.Background()
			evs, st, err := s.Select(ctx, events.Query{Tenant: "a", Kind: events.KindLog,
				Filters: []events.Filter{{Field: "service_name", Op: events.Eq, Value: "early"}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1500 || st.Skipped != 0 {
				t.Errorf("%d lines (want 1500), %d of %d row groups skipped", len(evs), st.Skipped, st.Units)
			}
			q := events.Query{Tenant: "a", Kind: events.KindLog, Start: logs[0].Time}
			want := streamSet(t, s, q)
			var n atomic.Int64 // calls may overlap
			st, err = s.Streams(ctx, q, func(sts []events.Event) error { n.Add(int64(len(sts))); return nil })
			if err != nil || st.FromIndex != 0 || n.Load() < int64(len(want)) || len(want) == 0 {
				t.Errorf("Streams: %d streams for %d, %d row groups from the index, %v", n.Load(), len(want), st.FromIndex, err)
			}
		})
	}
}

// downgradeIndex rewrites an index.bin of version 3 in the layout of an
// older magic: each section's payload without the token filter's length
// and the stream list, its checksum recomputed.
func downgradeIndex(t *testing.T, path, magic string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:8]) != "HORUSIX3" {
		t.Fatalf("%s: magic %q", path, b[:8])
	}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	out := []byte(magic)
	for p := b[8:]; len(p) > 0; {
		n := binary.LittleEndian.Uint32(p)
		sec := p[8 : 8+n]
		p = p[8+n:]
		tl := binary.LittleEndian.Uint32(sec)
		kl := binary.LittleEndian.Uint32(sec[4+tl:])
		payload := append([]byte{}, sec[:4+tl]...)
		payload = append(payload, sec[8+tl:8+tl+kl]...)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(payload)))
		out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(payload, castagnoli))
		out = append(out, payload...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
