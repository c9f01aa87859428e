//go:build unix

package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// dataDirLock holds an exclusive lock on <data_dir>/horus.lock for as
// long as the server runs, so that a second Horus on the same directory
// stops at once with an error saying so (and which process holds it),
// before any store opens and logs about lock files of its own.
type dataDirLock struct{ f *os.File }

// lockDataDir takes the lock, or fails naming the holder's pid.
func lockDataDir(dir string) (*dataDirLock, error) {
	path := filepath.Join(dir, "horus.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil && strings.TrimSpace(string(b)) != "" {
			holder = " (pid " + strings.TrimSpace(string(b)) + ")"
		}
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another Horus%s: stop it, or give this one another --data-dir", dir, holder)
		}
		return nil, fmt.Errorf("data directory %s: lock %s: %w", dir, path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataDirLock{f}, nil
}

// release drops the lock; the file stays (removing it would race with a
// new holder).
func (l *dataDirLock) release() {
	if l != nil && l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
}
