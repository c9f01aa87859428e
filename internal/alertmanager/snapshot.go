package alertmanager

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/horus-obs/horus/internal/fsutil"
)

// maintenance is the maintenance of silences or of the notification log:
// garbage collection, then a snapshot written crash-safely (a temporary
// file synced, renamed over the snapshot, the directory synced), so that
// a crash leaves the snapshot before or the one after, never a torn one.
// It returns the snapshot's size.
func (am *Alertmanager) maintenance(name string, gc func() (int, error), snapshot func(io.Writer) (int64, error)) func() (int64, error) {
	return func() (int64, error) {
		if _, err := gc(); err != nil {
			return 0, err
		}
		return am.writeSnapshot(name, snapshot)
	}
}

func (am *Alertmanager) writeSnapshot(name string, snapshot func(io.Writer) (int64, error)) (int64, error) {
	mu := am.snap[name]
	mu.Lock()
	defer mu.Unlock()
	var buf bytes.Buffer
	n, err := snapshot(&buf)
	if err != nil {
		return 0, fmt.Errorf("snapshot %s: %w", name, err)
	}
	path := am.path(name)
	tmp := path + ".tmp"
	if err := fsutil.WriteFileSync(tmp, buf.Bytes()); err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("snapshot %s: %w", name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("snapshot %s: %w", name, err)
	}
	if err := fsutil.SyncDir(am.o.DataDir); err != nil {
		return 0, fmt.Errorf("snapshot %s: %w", name, err)
	}
	return n, nil
}

// snapshotSilences writes the silences now: after each change through
// the API, before the change is acknowledged.
func (am *Alertmanager) snapshotSilences() error {
	_, err := am.writeSnapshot(silencesFile, am.silences.Snapshot)
	return err
}
