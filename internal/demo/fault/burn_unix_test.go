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
// on: it must reach 300 ms (an idle test process uses a few ms; the machine
// may be shared, so the burn is given up to 10 s of wall time to get
// there), and nearly stop growing once the burn ends.
func TestCPUBurnBurns(t *testing.T) {
	i := newTestInjector(t, "payments", "2", nil)
	mustAdd(t, i, `kind=cpu_burn service=payments id=burn`)
	start, c0 := time.Now(), cpuTime(t)
	for cpuTime(t)-c0 < 300*time.Millisecond {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("a one-core burn used %v of CPU in %v", cpuTime(t)-c0, time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	i.Remove("burn")
	i.burn.wait()
	start, c0 = time.Now(), cpuTime(t)
	time.Sleep(200 * time.Millisecond)
	if used := cpuTime(t) - c0; used > 100*time.Millisecond {
		t.Fatalf("after the burn ended the process used %v of CPU in %v", used, time.Since(start))
	}
}
