package changes

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/horus-obs/horus/internal/store/events"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestCheck(t *testing.T) {
	good := Change{Kind: KindDeploy, Service: "checkout", Version: "1.2.0", Source: SourceAPI, Time: t0,
		Links: []Link{{Title: "run", URL: "https://ci.example.com/run/1"}}}
	if err := good.Check(t0); err != nil {
		t.Fatalf("good change refused: %v", err)
	}
	for _, tc := range []struct {
		mutate func(*Change)
		want   string
	}{
		{func(c *Change) { c.Kind = "" }, "kind is missing"},
		{func(c *Change) { c.Kind = "deploi" }, `kind "deploi" is unknown; want one of deploy, config, feature_flag, rollback, other`},
		{func(c *Change) { c.Service = " " }, "service is missing"},
		{func(c *Change) { c.Source = "cron" }, `source "cron" is unknown`},
		{func(c *Change) { c.Version = strings.Repeat("v", 300) }, "version is 300 bytes, more than the limit of 256"},
		{func(c *Change) { c.Author = "\xff" }, "author is not valid UTF-8"},
		{func(c *Change) { c.Links = []Link{{Title: "x", URL: "javascript:alert(1)"}} }, `links[0].url "javascript:alert(1)": want an absolute http:// or https:// URL`},
		{func(c *Change) { c.Links = []Link{{Title: "x"}} }, "links[0].url is missing"},
		{func(c *Change) { c.Links = make([]Link, 21) }, "links: 21 links, more than the limit of 20"},
		{func(c *Change) { c.Time = t0.Add(time.Hour) }, "more than 10m0s ahead of the server's clock"},
		{func(c *Change) { c.Time = time.Time{} }, "time is missing"},
	} {
		c := good
		c.Links = append([]Link(nil), good.Links...)
		tc.mutate(&c)
		err := c.Check(t0)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error containing %q", err, tc.want)
		}
	}
}

func TestEventRoundTrip(t *testing.T) {
	c := Change{Kind: KindRollback, Service: "payments", Instance: "payments-2", Version: "1.0.0", PreviousVersion: "1.0.1",
		Author: "ci", Description: "rolled back\nafter errors", Links: []Link{{Title: "pr", URL: "https://git.example.com/pr/7"}},
		Time: t0, Source: SourceCLI, Tenant: "team-a"}
	c.setID()
	e := c.event()
	if got := fromEvent("team-a", &e); !equalChange(got, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
	}
	d := c
	d.Description = "other"
	d.setID()
	if d.ID == c.ID || len(c.ID) != 16 {
		t.Fatalf("ids %q %q: want 16 hex digits, differing with the content", c.ID, d.ID)
	}
}

func equalChange(a, b Change) bool {
	return a.Time.Equal(b.Time) && reflect.DeepEqual(a.Links, b.Links) &&
		fmt.Sprintf("%q", []string{a.ID, a.Kind, a.Service, a.Instance, a.Version, a.PreviousVersion, a.Author, a.Description, a.Source, a.Tenant}) ==
			fmt.Sprintf("%q", []string{b.ID, b.Kind, b.Service, b.Instance, b.Version, b.PreviousVersion, b.Author, b.Description, b.Source, b.Tenant})
}

func TestVersionsObserve(t *testing.T) {
	v := newVersions()
	at := t0
	step := func(inst, version string) *Change {
		at = at.Add(10 * time.Minute)
		if v.known("t", "svc", inst, version) {
			return nil
		}
		return v.observe("t", "svc", inst, version, at)
	}
	if c := step("a", "1"); c != nil {
		t.Fatalf("first version seen made a change: %+v", c)
	}
	if c := step("b", "1"); c != nil {
		t.Fatalf("a second instance at the same version made a change: %+v", c)
	}
	c := step("a", "2")
	if c == nil || c.Version != "2" || c.PreviousVersion != "1" || c.Instance != "a" || c.Kind != KindDeploy || c.Source != SourceAuto {
		t.Fatalf("a new version: %+v", c)
	}
	if c := step("a", "2"); c != nil {
		t.Fatalf("the same version again: %+v", c)
	}
	if c := step("b", "2"); c != nil {
		t.Fatalf("the rest of a rolling deploy: %+v", c)
	}
	// A new instance (a new pod) with another version is a deploy.
	if c := step("c", "3"); c == nil || c.Version != "3" || c.PreviousVersion != "2" {
		t.Fatalf("a new instance at a new version: %+v", c)
	}
	// An old instance still at 2, seen for the first time since it was
	// forgotten, within flapWindow of the change: no change.
	at = at.Add(-9 * time.Minute)
	if c := step("d", "2"); c != nil {
		t.Fatalf("an old instance of a rolling deploy: %+v", c)
	}
	// A known instance going back to 2 is a rollback, however soon.
	at = at.Add(-9 * time.Minute)
	if c := step("c", "2"); c == nil || c.Version != "2" || c.PreviousVersion != "3" {
		t.Fatalf("a rollback: %+v", c)
	}
	// Long after, 3 again is a change.
	at = at.Add(time.Hour)
	if c := step("c", "3"); c == nil || c.Version != "3" || c.PreviousVersion != "2" {
		t.Fatalf("3 again: %+v", c)
	}
}

// Without service.instance.id, the old and new instances of a rolling
// deploy alternate under one key: one change, not one per switch.
func TestVersionsFlap(t *testing.T) {
	v := newVersions()
	at := t0
	n := 0
	for i := 0; i < 100; i++ {
		version := "1"
		if i >= 10 && i%2 == 0 {
			version = "2"
		}
		at = at.Add(time.Second)
		if c := v.observe("t", "svc", "", version, at); c != nil {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d changes while two versions alternated, want 1", n)
	}
}

func TestVersionsConcurrent(t *testing.T) {
	v := newVersions()
	v.observe("t", "svc", "", "1", t0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				if v.known("t", "svc", "", "2") {
					continue
				}
				if c := v.observe("t", "svc", "", "2", t0.Add(time.Hour)); c != nil {
					mu.Lock()
					n++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if n != 1 {
		t.Fatalf("%d changes from concurrent requests, want 1", n)
	}
}

// Recorded changes (the API's, or those read back at start) set the
// current version: telemetry that then shows it makes no change, and an
// older change does not undo a newer one.
func TestVersionsRecord(t *testing.T) {
	v := newVersions()
	v.record(&Change{Kind: KindDeploy, Tenant: "t", Service: "svc", Version: "2", PreviousVersion: "1", Time: t0})
	v.record(&Change{Kind: KindDeploy, Tenant: "t", Service: "svc", Version: "0", Time: t0.Add(-time.Hour)})
	v.record(&Change{Kind: KindConfig, Tenant: "t", Service: "svc", Version: "9", Time: t0.Add(time.Minute)})
	if c := v.observe("t", "svc", "pod-1", "2", t0.Add(time.Hour)); c != nil {
		t.Fatalf("the recorded version made a change: %+v", c)
	}
	if c := v.observe("t", "svc", "pod-2", "3", t0.Add(2*time.Hour)); c == nil || c.PreviousVersion != "2" {
		t.Fatalf("a new version after the recorded one: %+v", c)
	}
	if c := v.observe("u", "svc", "pod-1", "3", t0.Add(2*time.Hour)); c != nil {
		t.Fatalf("another tenant's first version made a change: %+v", c)
	}
}

func TestParseInput(t *testing.T) {
	c, err := parseInput([]byte(`{"kind":"deploy","service":"s","time":1767225600.5,"links":[{"title":"a","url":"https://x.example"}]}`))
	if err != nil || c.Source != SourceAPI || !c.Time.Equal(time.Unix(1767225600, 5e8)) || len(c.Links) != 1 {
		t.Fatalf("got %+v, %v", c, err)
	}
	if c, err := parseInput([]byte(`{"kind":"deploy","service":"s","time":"2026-01-01T00:00:00Z"}`)); err != nil || !c.Time.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("RFC 3339 time: %+v, %v", c, err)
	}
	for body, want := range map[string]string{
		`{"kind":"deploy","servise":"s"}`:         `unknown field "servise"; the fields are kind, service`,
		`{"kind":"deploy","service":"s"} {}`:      "want one JSON object",
		`[1]`:                                     "body: want a JSON object of a change",
		`{"service":"s","time":"yesterday"}`:      `time: "yesterday": want RFC 3339`,
		`{"service":"s","source":"auto"}`:         `source "auto" is Horus' own`,
		`{"service":"s","links":[{"href":"x"}]}`:  `unknown field "href"`,
		`{"service":"s","time":-5}`:               `"-5" is not a time`,
		`{"service":"s","version":1.2}`:           "body: want a JSON object of a change",
		`{"service":"s","description":"a","x":1}`: `unknown field "x"`,
	} {
		if _, err := parseInput([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", body, err, want)
		}
	}
}

func TestLinkFlag(t *testing.T) {
	var l links
	for _, v := range []string{"pipeline=https://ci.example.com/1", "https://ci.example.com/run?id=2"} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	want := links{{"pipeline", "https://ci.example.com/1"}, {"https://ci.example.com/run?id=2", "https://ci.example.com/run?id=2"}}
	if len(l) != 2 || l[0] != want[0] || l[1] != want[1] {
		t.Fatalf("got %+v, want %+v", l, want)
	}
}

// BenchmarkObserveEvents is the cost on the ingest path of a batch of
// 1000 spans of one resource whose version is known.
func BenchmarkObserveEvents(b *testing.B) {
	s := New(nil, nil, Options{})
	res := events.Attrs{{Key: "service.name", Value: events.Str("checkout")}, {Key: "telemetry.sdk.language", Value: events.Str("go")},
		{Key: "host.name", Value: events.Str("node-1")}, {Key: "service.instance.id", Value: events.Str("pod-1")},
		{Key: "service.version", Value: events.Str("1.0.0")}}
	evs := make([]events.Event, 1000)
	for i := range evs {
		evs[i] = events.Event{Service: "checkout", Resource: res}
	}
	s.ObserveEvents("default", evs)
	b.ReportAllocs()
	for b.Loop() {
		s.ObserveEvents("default", evs)
	}
}
