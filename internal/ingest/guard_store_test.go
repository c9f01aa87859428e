package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/ingesttest"
)

// TestGuardPartialBatch appends a batch mixing good and bad samples to a
// real TSDB: the good ones are stored, the bad ones recorded by reason.
func TestGuardPartialBatch(t *testing.T) {
	db := ingesttest.OpenTSDB(t)
	g := &ingest.Guard{Next: db, Limits: ingest.Limits{MaxLabelsPerSeries: 4, MaxLabelNameLength: 16, MaxLabelValueLength: 16}}
	app := g.Appender(context.Background())
	now := time.Now().UnixMilli()
	good := labels.FromStrings("__name__", "good", "job", "a")
	appendOK := func(ls labels.Labels, ts int64) {
		t.Helper()
		if _, err := app.Append(0, ls, 0, ts, 1, nil, nil, storage.AOptions{}); err != nil {
			t.Fatalf("append %s: %v", ls, err)
		}
	}
	appendOK(good, now)
	appendOK(good, now) // same timestamp, same value: Prometheus accepts it as a no-op
	appendOK(labels.FromStrings("job", "nameless"), now)
	appendOK(labels.FromStrings("__name__", "future"), now+int64(time.Hour/time.Millisecond))
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	app = g.Appender(context.Background())
	appendOK(good, now-1000) // out of order now that `now` is committed
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	rej := app.Rejections()
	if rej.Count != 1 || rej.ByReason[ingest.ReasonOutOfOrder] != 1 {
		t.Errorf("second batch rejections = %+v, want one out_of_order", rej)
	}

	q, err := db.Querier(0, now+1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close() }()
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	n := 0
	for ss.Next() {
		n++
		if !labels.Equal(ss.At().Labels(), good) {
			t.Errorf("unexpected series stored: %s", ss.At().Labels())
		}
	}
	if n != 1 {
		t.Errorf("%d series stored, want 1", n)
	}
}

// A batch whose first series has an empty label set is refused for that
// series alone (a 4xx reason, not a store failure), and the valid series
// after it are stored: the remote-write receiver compliance suite's
// TestSingleMetric/*/empty_metric (MUST). Labels that skip the guard's
// checks (AppendValidated) and that the TSDB refuses as invalid are
// rejections too, never store errors.
func TestGuardEmptyLabelsFirst(t *testing.T) {
	db := ingesttest.OpenTSDB(t)
	g := &ingest.Guard{Next: db, Limits: ingest.Limits{MaxLabelsPerSeries: 4, MaxLabelNameLength: 16, MaxLabelValueLength: 16}}
	app := g.Appender(context.Background())
	now := time.Now().UnixMilli()
	for _, ls := range []labels.Labels{labels.EmptyLabels(), labels.FromStrings("__name__", "")} {
		if _, err := app.Append(0, ls, 0, now, 1, nil, nil, storage.AOptions{}); err != nil {
			t.Fatalf("append %s: %v, want a rejection", ls, err)
		}
		if _, err := app.AppendValidated(0, ls, 0, now, 1, nil, nil, storage.AOptions{}); err != nil {
			t.Fatalf("append validated %s: %v, want a rejection", ls, err)
		}
	}
	if _, err := app.Append(0, labels.FromStrings("__name__", "good"), 0, now, 1, nil, nil, storage.AOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if app.StoreErr() != nil || app.Appended != 1 || app.Rejections().Count != 4 {
		t.Fatalf("store error %v, appended %d, rejections %+v; want nil, 1, 4", app.StoreErr(), app.Appended, app.Rejections())
	}
	for r := range app.Rejections().ByReason {
		if ingest.StatusOf(&ingest.Error{Reason: r}) != 400 {
			t.Errorf("reason %s is not a 400", r)
		}
	}
}
