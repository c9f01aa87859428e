package events_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/horus-obs/horus/internal/store/events"
)

// Change events have the logs' schema but a kind of their own: a log
// query of the tenant never reads them, in the head, after a restart
// (the WAL) or in blocks.
func TestChangeKindApartFromLogs(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, events.Options{})
	_, logs := generate(50, 7)
	appendAll(t, s, "a", events.KindLog, logs)
	res := events.Attrs{{Key: "service.name", Value: events.Str("checkout")}, {Key: "service.version", Value: events.Str("1.2.0")}}
	changes := []events.Event{
		{Time: t0.UnixNano(), Service: "checkout", Resource: res, Scope: "horus.changes", Body: "deploy 1.2.0",
			Attrs: events.Attrs{{Key: "change.kind", Value: events.Str("deploy")}}},
		{Time: t0.UnixNano() + 1e9, Service: "checkout", Resource: res, Scope: "horus.changes", Body: "flag on",
			Attrs: events.Attrs{{Key: "change.kind", Value: events.Str("feature_flag")}}},
	}
	appendAll(t, s, "a", events.KindChange, changes)

	check := func(stage string) {
		t.Helper()
		if got := selectAll(t, s, events.Query{Tenant: "a", Kind: events.KindLog}); len(got) != len(logs) {
			t.Fatalf("%s: %d logs, want %d (no change event)", stage, len(got), len(logs))
		}
		got := selectAll(t, s, events.Query{Tenant: "a", Kind: events.KindChange})
		if !reflect.DeepEqual(canon(got), canon(changes)) {
			t.Fatalf("%s: changes differ: %s", stage, firstDiff(got, changes))
		}
		got = selectAll(t, s, events.Query{Tenant: "a", Kind: events.KindChange, Newest: true, Limit: 1,
			Filters: []events.Filter{{Field: "attrs.change.kind", Op: events.Eq, Value: "deploy"}}})
		if len(got) != 1 || got[0].Body != "deploy 1.2.0" {
			t.Fatalf("%s: filtered changes %+v", stage, got)
		}
		if got := selectAll(t, s, events.Query{Tenant: "b", Kind: events.KindChange}); len(got) != 0 {
			t.Fatalf("%s: tenant a's changes visible to tenant b", stage)
		}
	}
	check("head")
	s = reopen(t, s, dir)
	check("after restart")
	s.Maintain(context.Background(), true)
	check("blocks")
	kinds := map[string]bool{}
	for _, ts := range s.Status().Tenants {
		kinds[ts.Kind] = ts.Blocks == 1
	}
	if !kinds["changes"] || !kinds["logs"] {
		t.Fatalf("status kinds %v, want a block each of logs and changes", kinds)
	}
}

func TestParseKindChanges(t *testing.T) {
	for _, k := range []events.Kind{events.KindLog, events.KindSpan, events.KindChange} {
		if got, err := events.ParseKind(k.String()); err != nil || got != k {
			t.Fatalf("ParseKind(%q) = %v, %v", k, got, err)
		}
	}
}
