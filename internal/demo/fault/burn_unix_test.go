//go:build unix

package fault

import (
	"syscall"
	"testing"
	"time"
)

func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPUBurnBurns measures the process's CPU time while a one-core burn is
// on: it must grow by a good part of the wall time (the machine may be
// shared, so the bound is loose), and nearly stop growing once it ends.
func TestCPUBurnBurns(t *testing.T) {
	i := newTestInjector(t, "payments", "2", nil)
	mustAdd(t, i, `kind=cpu_burn service=payments id=burn`)
	start, c0 := time.Now(), cpuTime(t)
	time.Sleep(400 * time.Millisecond)
	wall, used := time.Since(start), cpuTime(t)-c0
	if used < wall/4 {
		t.Fatalf("a one-core burn used %v of CPU in %v", used, wall)
	}
	i.Remove("burn")
	i.burn.wait()
	start, c0 = time.Now(), cpuTime(t)
	time.Sleep(200 * time.Millisecond)
	if used := cpuTime(t) - c0; used > 100*time.Millisecond {
		t.Fatalf("after the burn ended the process used %v of CPU in %v", used, time.Since(start))
	}
}
