//go:build !unix

package server

// dataDirLock is not taken where flock(2) does not exist; the metrics
// store's own lock still refuses a second process.
type dataDirLock struct{}

func lockDataDir(string) (*dataDirLock, error) { return &dataDirLock{}, nil }

func (l *dataDirLock) release() {}
