package metrics

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

func appendOne(s *Store, name string, t int64) error {
	app := s.AppenderV2(context.Background())
	if _, err := app.Append(0, labels.FromStrings("__name__", name), 0, t, 1, nil, nil, storage.AOptions{}); err != nil {
		_ = app.Rollback()
		return err
	}
	return app.Commit()
}

// stored returns the names of the series with samples, joined.
func stored(t *testing.T, s *Store) string {
	t.Helper()
	q, err := s.Querier(0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close() }()
	var names []string
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	for ss.Next() {
		if ss.At().Iterator(nil).Next() != 0 {
			names = append(names, ss.At().Labels().Get("__name__"))
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(names, ",")
}

// TestReopenAfterFailedWrite: after a failed WAL write the store refuses
// writes, also an appender opened before the failure, with ErrStorage
// and no path; queries go on; reopening brings writes back, with what was
// stored, and registers the TSDB's metrics again without a clash.
func TestReopenAfterFailedWrite(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	s, err := openStore(dir, slog.New(slog.DiscardHandler), reg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if err := appendOne(s, "before", 1000); err != nil {
		t.Fatal(err)
	}
	open := s.AppenderV2(context.Background())
	if _, err := open.Append(0, labels.FromStrings("__name__", "open_across"), 0, 1000, 1, nil, nil, storage.AOptions{}); err != nil {
		t.Fatal(err)
	}

	walErr := fmt.Errorf("write to WAL: log series: %w",
		&fs.PathError{Op: "write", Path: filepath.Join(dir, "wal", "00000000"), Err: syscall.ENOSPC})
	s.failed(walErr)

	for name, err := range map[string]error{
		"AppenderV2":              appendOne(s, "during", 1000),
		"Appender":                s.Appender(context.Background()).Commit(),
		"opened before, Commit()": open.Commit(),
	} {
		if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "no space left on device") || strings.Contains(err.Error(), dir) {
			t.Errorf("%s while writes are refused: %v; want ErrStorage, the reason, no path", name, err)
		}
	}
	if got := stored(t, s); got != "before" {
		t.Fatalf("queries while writes are refused: %v", got)
	}

	if err := s.reopen(); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("metrics after the reopen: %v", err)
	}
	if err := appendOne(s, "after", 2000); err != nil {
		t.Fatalf("write after the reopen: %v", err)
	}
	if got := stored(t, s); got != "after,before" {
		t.Fatalf("after the reopen: %v", got)
	}
}

// TestRefusedWhileReopening: while a reopen waits for the TSDB's uses to
// end, new ones fail at once, with ErrStorage.
func TestRefusedWhileReopening(t *testing.T) {
	s, err := openStore(t.TempDir(), slog.New(slog.DiscardHandler), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	s.draining.Store(true)
	_, qerr := s.Querier(0, 1)
	aerr := appendOne(s, "x", 1)
	s.draining.Store(false)
	for _, err := range []error{qerr, aerr} {
		if !errors.Is(err, ErrStorage) {
			t.Errorf("while reopening: %v, want ErrStorage", err)
		}
	}
	if err := appendOne(s, "x", 1); err != nil {
		t.Fatal(err)
	}
}

// TestStorageErrorWording: what clients see of a failure to write names
// no file.
func TestStorageErrorWording(t *testing.T) {
	s := &Store{dir: "/srv/horus/metrics"}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("write to WAL: log samples: %w", &fs.PathError{Op: "write", Path: "/srv/horus/metrics/wal/00000003", Err: syscall.ENOSPC}),
			"storage error: no space left on device"},
		{fmt.Errorf("rename /srv/horus/metrics/x: nope"), "storage error: rename metrics/x: nope"},
	} {
		err := s.storageError(tc.err)
		if err.Error() != tc.want || !errors.Is(err, ErrStorage) || !errors.Is(err, tc.err) {
			t.Errorf("%v: got %q, want %q wrapping ErrStorage and the cause", tc.err, err, tc.want)
		}
	}
}
