// Package ingesttest gives ingest tests a real metrics store: a Prometheus
// TSDB in a temporary directory, behind the ingest guard.
package ingesttest

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/prometheus/tsdb"

	"github.com/horus-obs/horus/internal/ingest"
)

// Limits are generous limits for tests that are not about limits.
var Limits = ingest.Limits{MaxLabelsPerSeries: 32, MaxLabelNameLength: 128, MaxLabelValueLength: 256}

// OpenTSDB opens a TSDB in a temporary directory, closed at the end of
// the test.
func OpenTSDB(t testing.TB) *tsdb.DB {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Guard returns a guard over a new TSDB with Limits.
func Guard(t testing.TB) (*ingest.Guard, *tsdb.DB) {
	t.Helper()
	db := OpenTSDB(t)
	return &ingest.Guard{Next: db, Limits: Limits}, db
}
