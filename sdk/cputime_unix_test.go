//go:build unix

package sdk_test

import (
	"syscall"
	"time"
)

// cpuTime is the process' user plus system CPU time so far: on a machine
// shared with other work, CPU time per operation varies far less than
// wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
