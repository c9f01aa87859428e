package ingest

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

var testLimits = Limits{MaxLabelsPerSeries: 4, MaxLabelNameLength: 16, MaxLabelValueLength: 16}

func TestCheckLabels(t *testing.T) {
	cases := []struct {
		ls     labels.Labels
		reason Reason
	}{
		{labels.FromStrings("__name__", "up", "job", "a"), ""},
		{labels.FromStrings("__name__", "http.requests", "service.name", "ü"), ""}, // UTF-8 names are valid in Prometheus 3
		{labels.FromStrings("__name__", "m", "a", "1", "b", "2", "c", "3", "d", "4"), ReasonTooManyLabels},
		{labels.FromStrings("__name__", "m", strings.Repeat("n", 17), "1"), ReasonLabelNameTooLong},
		{labels.FromStrings("__name__", "m", "user", strings.Repeat("v", 17)), ReasonLabelValueTooLong},
		{labels.FromStrings("job", "a"), ReasonMissingName},
		{labels.FromStrings("__name__", "m", "path", "\xc3\x28"), ReasonInvalidLabels},
		{labels.FromStrings("__name__", "m", "\xc3\x28", "x"), ReasonInvalidLabels},
		{labels.New(labels.Label{Name: "__name__", Value: "m"}, labels.Label{Name: "a", Value: "1"}, labels.Label{Name: "a", Value: "2"}), ReasonDuplicateLabel},
	}
	for _, c := range cases {
		err := testLimits.CheckLabels(c.ls)
		var got Reason
		if err != nil {
			got = err.Reason
		}
		if got != c.reason {
			t.Errorf("%s: reason %q (%v), want %q", c.ls, got, err, c.reason)
		}
	}
}

func openTSDB(t testing.TB) *tsdb.DB {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestGuardPartialBatch appends a batch mixing good and bad samples to a
// real TSDB: the good ones are stored, the bad ones recorded by reason.
func TestGuardPartialBatch(t *testing.T) {
	db := openTSDB(t)
	g := &Guard{Next: db, Limits: testLimits}
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
	if rej.Count != 1 || rej.ByReason[ReasonOutOfOrder] != 1 {
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

func TestRejectionsErr(t *testing.T) {
	var r Rejections
	if r.Err() != nil {
		t.Fatal("empty rejections must be nil")
	}
	for i := 0; i < 8; i++ {
		r.Add(Errorf(ReasonTooManyLabels, "series %d", i))
	}
	r.Add(Errorf(ReasonOutOfOrder, "late"))
	err := r.Err()
	if ReasonOf(err) != ReasonTooManyLabels || !strings.HasPrefix(err.Error(), "too_many_labels: 9 item(s) rejected") {
		t.Errorf("err = %v", err)
	}
	if len(r.Messages) != maxMessages {
		t.Errorf("%d messages kept, want %d", len(r.Messages), maxMessages)
	}
}
