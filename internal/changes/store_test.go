package changes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/horus-obs/horus/internal/changes"
	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/store/events"
	"github.com/horus-obs/horus/internal/store/events/crashtest"
	"github.com/horus-obs/horus/internal/store/events/wal"
	"github.com/horus-obs/horus/internal/store/metrics"
)

const childEnv = "HORUS_CHANGES_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		childAdd(dir)
		return
	}
	os.Exit(m.Run())
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// stores are a change store over real event and metrics stores.
type stores struct {
	*changes.Store
	events  *events.Store
	metrics *metrics.Store
}

func openStores(dir string) (*stores, error) {
	ev, err := events.Open(filepath.Join(dir, "events"), discard, events.Options{WAL: wal.Options{Sync: wal.SyncInterval}})
	if err != nil {
		return nil, err
	}
	m, err := metrics.Open(filepath.Join(dir, "metrics"), discard, nil, metrics.Options{})
	if err != nil {
		_ = ev.Close()
		return nil, err
	}
	return &stores{Store: changes.New(ev, m, changes.Options{Logger: discard}), events: ev, metrics: m}, nil
}

func open(t *testing.T, dir string) *stores {
	t.Helper()
	s, err := openStores(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close() })
	return s
}

func (s *stores) close() {
	_ = s.events.Close()
	_ = s.metrics.Close()
}

// childAdd records deploys of versions start, start+1, ... acknowledging
// each on stdout once Add returned, until it is killed.
func childAdd(dir string) {
	s, err := openStores(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	start, _ := strconv.Atoi(os.Getenv("HORUS_CHANGES_CHILD_START"))
	ack := crashtest.NewAcker()
	for i := start; ; i++ {
		c := changes.Change{Kind: changes.KindDeploy, Service: "checkout", Version: strconv.Itoa(i), Source: changes.SourceCLI}
		if _, _, err := s.Add(context.Background(), c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ack.Ack(i)
	}
}

// Every change Add acknowledged survives kill -9 (the event store's WAL,
// the TSDB's WAL), and the versions read back at start make no change
// for the version last recorded.
func TestKill9(t *testing.T) {
	dir := t.TempDir()
	acked := map[int]bool{}
	for round := 0; round < crashtest.Rounds(3); round++ {
		env := []string{childEnv + "=" + dir, "HORUS_CHANGES_CHILD_START=" + strconv.Itoa(round*1_000_000)}
		crashtest.Kill(t, env, 400*time.Millisecond, 400*time.Millisecond, 1, acked)
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	s := open(t, dir)
	ctx := context.Background()
	list, err := s.List(ctx, changes.Query{Tenant: "default", Service: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, c := range list {
		stored[c.Version] = true
	}
	lost := 0
	for v := range acked {
		if !stored[strconv.Itoa(v)] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged changes lost after kill -9", lost, len(acked))
	}
	q, err := s.metrics.Querier(0, time.Now().Add(time.Minute).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close() }()
	set := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", changes.SeriesName))
	series := map[string]bool{}
	for set.Next() {
		series[set.At().Labels().Get("version")] = true
	}
	for v := range acked {
		if !series[strconv.Itoa(v)] {
			t.Fatalf("acknowledged change %d has no %s series after kill -9", v, changes.SeriesName)
		}
	}

	// list is newest first: its first version is the current one.
	if _, err := s.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	res := func(version string) []events.Event {
		return []events.Event{{Time: time.Now().UnixNano(), Service: "checkout", Resource: events.Attrs{
			{Key: "service.name", Value: events.Str("checkout")}, {Key: "service.version", Value: events.Str(version)}}}}
	}
	s.ObserveEvents("default", res(list[0].Version))
	s.ObserveEvents("default", res("next"))
	s.ObserveEvents("default", res("next"))
	after, err := s.List(ctx, changes.Query{Tenant: "default", Service: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(list)+1 || after[0].Version != "next" || after[0].PreviousVersion != list[0].Version || after[0].Source != changes.SourceAuto {
		t.Fatalf("after seeding, the stored version then a new one twice made %d changes (newest %+v), want one, from %s to next", len(after)-len(list), after[0], list[0].Version)
	}
	t.Logf("%d acknowledged changes, all stored, with their series", len(acked))
}

// A change older than the metrics store takes is stored, and its refused
// sample is a warning.
func TestPastChangeWarns(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	now := time.Now()
	if _, w, err := s.Add(ctx, changes.Change{Kind: changes.KindConfig, Service: "a", Source: changes.SourceAPI}); err != nil || len(w) != 0 {
		t.Fatalf("a change now: %v %v", w, err)
	}
	c, w, err := s.Add(ctx, changes.Change{Kind: changes.KindDeploy, Service: "a", Version: "1", Time: now.Add(-3 * time.Hour), Source: changes.SourceAPI})
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 1 || !strings.Contains(w[0], "older than the metrics store takes") {
		t.Fatalf("warnings %q, want the refused sample explained", w)
	}
	list, err := s.List(ctx, changes.Query{Tenant: "default", Start: now.Add(-4 * time.Hour), Kind: changes.KindDeploy})
	if err != nil || len(list) != 1 || list[0].ID != c.ID {
		t.Fatalf("the past change is not listed: %+v %v", list, err)
	}
}

// horus change add and ls against the API over HTTP.
func TestCLI(t *testing.T) {
	s := open(t, t.TempDir())
	srv := httptest.NewServer(s.Handler(ingest.BodyLimits{}, func(h http.Handler) http.Handler { return h }))
	defer srv.Close()
	ctx := context.Background()
	run := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := changes.Main(ctx, append(args, "--url", srv.URL, "--tenant", "team-a"), &out, &errb)
		return out.String(), errb.String(), err
	}
	out, _, err := run("add", "--service", "checkout", "--version", "1.2.0", "--author", "ci",
		"--link", "run=https://ci.example.com/runs/7", "--description", "release")
	if err != nil || !strings.Contains(out, "recorded: deploy of checkout 1.2.0") {
		t.Fatalf("add: %q %v", out, err)
	}
	if _, _, err := run("add", "--service", "cart", "--kind", "config", "--time", strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run("add", "--service", "cart", "--kind", "flag"); err == nil || !strings.Contains(err.Error(), `400 Bad Request: kind "flag" is unknown`) {
		t.Fatalf("a bad kind: %v", err)
	}
	if _, _, err := run("add", "--kind", "config"); err == nil || !strings.Contains(err.Error(), "--service is required") {
		t.Fatalf("no service: %v", err)
	}
	out, _, err = run("ls", "--json")
	var list []changes.Change
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 {
		t.Fatalf("ls --json: %q %v", out, err)
	}
	if c := list[0]; c.Service != "checkout" || c.Source != changes.SourceCLI || c.Tenant != "team-a" || len(c.Links) != 1 || c.Links[0].Title != "run" {
		t.Fatalf("newest: %+v", c)
	}
	out, _, err = run("ls", "--service", "cart", "--since", "1h")
	if err != nil || !strings.Contains(out, "TIME") || !strings.Contains(out, "config") || strings.Contains(out, "checkout") {
		t.Fatalf("ls --service cart: %q %v", out, err)
	}
	if out, _, _ := run("ls", "--since", "1s"); strings.Contains(out, "cart") {
		t.Fatalf("ls --since 1s lists a change of a minute ago: %q", out)
	}
}
