package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/tenant"
)

// tenantMeta records the metadata set per tenant.
type tenantMeta map[string]string

func (m tenantMeta) Set(t, family string, _ metadata.Metadata) { m[t] = family }

// TestGuardTenant appends as the default tenant and as another: the
// other's series get the tenant label, with their exemplars and metadata
// filed under the tenant, and a series sent with the label is refused.
func TestGuardTenant(t *testing.T) {
	opts := tsdb.DefaultOptions()
	opts.EnableExemplarStorage, opts.MaxExemplars = true, 100
	db, err := tsdb.Open(t.TempDir(), nil, nil, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	meta := tenantMeta{}
	g := &ingest.Guard{Next: db, Metadata: meta, Limits: ingest.Limits{MaxLabelsPerSeries: 4, MaxLabelNameLength: 16, MaxLabelValueLength: 16}}
	now := time.Now().UnixMilli()
	ls := labels.FromStrings("__name__", "m", "a", "1", "b", "2", "c", "3") // at the labels limit: the tenant label does not count
	for _, org := range []string{"", tenant.Default, "team-a"} {
		ctx := context.Background()
		if org != "" {
			ctx = tenant.WithContext(ctx, org)
		}
		app := g.Appender(ctx)
		ex := []exemplar.Exemplar{{Labels: labels.FromStrings("trace_id", "t-"+org), Value: 1, Ts: now, HasTs: true}}
		opts := storage.AOptions{Metadata: metadata.Metadata{Type: "gauge", Help: "h"}, Exemplars: ex}
		if _, err := app.Append(0, ls, 0, now, 1, nil, nil, opts); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(0, labels.FromStrings("__name__", "evil", tenant.Label, "team-b"), 0, now, 1, nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		if rej := app.Rejections(); rej.Count != 1 || rej.ByReason[ingest.ReasonReservedLabel] != 1 {
			t.Errorf("tenant %q: rejections %+v, want one reserved_label", org, rej)
		}
	}
	if meta[tenant.Default] != "m" || meta["team-a"] != "m" || len(meta) != 2 {
		t.Errorf("metadata set for %v", meta)
	}

	q, err := db.Querier(0, now+1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close() }()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	var got []string
	for ss.Next() {
		got = append(got, ss.At().Labels().String())
	}
	want := []string{`{__name__="m", __tenant__="team-a", a="1", b="2", c="3"}`, `{__name__="m", a="1", b="2", c="3"}`}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("stored %v, want %v", got, want)
	}
	eq, err := db.ExemplarQuerier(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, err := eq.Select(0, now+1, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, tenant.Label, "team-a")})
	if err != nil || len(res) != 1 || res[0].Exemplars[0].Labels.Get("trace_id") != "t-team-a" {
		t.Errorf("exemplars of team-a: %v, %v", res, err)
	}
}
