package events_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/horus-obs/horus/internal/store/events"
)

func TestStreamLabels(t *testing.T) {
	e := events.Event{
		Service: "api",
		Resource: events.Attrs{
			{Key: "service.name", Value: events.Str("api")},
			{Key: "deployment.environment.name", Value: events.Str("prod")},
			{Key: "deployment.environment", Value: events.Str("staging")},
			{Key: "k8s.pod.name", Value: events.Str("api-7d9")},
			{Key: "3d-printer", Value: events.Str("x")},
			{Key: "shard", Value: events.Int(3)},
		},
		Severity: 17, SeverityText: "E",
	}
	want := []events.Label{{"_3d_printer", "x"}, {"env", "prod"}, {"k8s_pod_name", "api-7d9"}, {"level", "error"}, {"service_name", "api"}, {"shard", "3"}}
	if got := e.StreamLabels(nil); !reflect.DeepEqual(got, want) {
		t.Errorf("StreamLabels = %v, want %v", got, want)
	}
	for _, l := range want {
		if v, ok := e.StreamLabel(l.Name); !ok || v != l.Value {
			t.Errorf("StreamLabel(%q) = %q, %v; want %q", l.Name, v, ok, l.Value)
		}
	}
	for _, n := range []string{"service.name", "deployment_environment", "k8s.pod.name", "3d_printer", "nope"} {
		if v, ok := e.StreamLabel(n); ok {
			t.Errorf("StreamLabel(%q) = %q, want none", n, v)
		}
	}
	// A level stream label (a Loki push's) replaces the detected one.
	e.Resource = append(e.Resource, events.Attr{Key: "level", Value: events.Str("ERROR")})
	if v, _ := e.StreamLabel("level"); v != "ERROR" {
		t.Errorf("level label = %q, want the resource's ERROR", v)
	}
	if got := e.StreamLabels(nil); got[3] != (events.Label{"level", "ERROR"}) || len(got) != 6 {
		t.Errorf("StreamLabels with a level label = %v", got)
	}
}

func TestLevel(t *testing.T) {
	for _, c := range []struct {
		sev  int32
		text string
		want string
	}{
		{0, "", "unknown"}, {9, "whatever", "info"}, {0, "WARNING", "warn"}, {0, "Err", "error"},
		{0, "crit", "critical"}, {0, "verbose", "verbose"}, {21, "", "fatal"}, {3, "", "trace"},
	} {
		e := events.Event{Severity: c.sev, SeverityText: c.text}
		if got := e.Level(); got != c.want {
			t.Errorf("Level(%d, %q) = %q, want %q", c.sev, c.text, got, c.want)
		}
	}
}

// TestStreamLabelCache checks the cache against StreamLabels: resources
// shared and not, levels from the record and from the resource, and a
// service the resource does not name.
func TestStreamLabelCache(t *testing.T) {
	a := events.Attrs{{Key: "service.name", Value: events.Str("api")}, {Key: "host.name", Value: events.Str("h1")}}
	b := events.Attrs{{Key: "service.name", Value: events.Str("web")}, {Key: "level", Value: events.Str("debug")}}
	c := events.Attrs{{Key: "k8s.pod.name", Value: events.Str("p1")}}
	evs := []events.Event{
		{Resource: a, Service: "api", Severity: 9},
		{Resource: a, Service: "api", Severity: 17},
		{Resource: b, Service: "web", Severity: 17},
		{Resource: a[:1], Service: "api", SeverityText: "WARNING"}, // same first attribute, shorter
		{Resource: c, Service: "jobs"},
		{Resource: c, Service: "cron", Severity: 13},
		{Service: "bare", Severity: 21},
		{Resource: a, Service: "api", Severity: 5},
	}
	var cache events.StreamLabelCache
	for round := 0; round < 2; round++ {
		for i := range evs {
			got := cache.Labels(&evs[i])
			if want := evs[i].StreamLabels(nil); !slices.Equal(got, want) {
				t.Errorf("round %d, event %d: %v, want %v", round, i, got, want)
			}
		}
	}
}
