package events_test

import (
	"reflect"
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
