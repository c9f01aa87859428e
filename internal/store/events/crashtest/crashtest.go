// Package crashtest drives kill -9 tests of the event store and its WAL:
// the test binary runs itself as a child that writes and acknowledges
// numbered items on stdout, and the parent kills it at random moments,
// collecting what was acknowledged, then checks it all survived.
package crashtest

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Rounds is the number of kills: HORUS_CRASH_ROUNDS if set (the longer
// runs from bench/), else def.
func Rounds(def int) int {
	if n, err := strconv.Atoi(os.Getenv("HORUS_CRASH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return def
}

// Kill runs this test binary as a child with env added, kills it after a
// random wait in [minWait, minWait+spread), and adds to acked the items it
// acknowledged: each stdout line n acknowledges n, n+1, ... n+per-1.
func Kill(t testing.TB, env []string, minWait, spread time.Duration, per int, acked map[int]bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				for j := 0; j < per; j++ {
					acked[n+j] = true
				}
			}
		}
	}()
	time.Sleep(minWait + time.Duration(rand.Int64N(int64(spread))))
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	<-done
}

// Acker is the child's side: it acknowledges items on stdout, one line
// each, from many goroutines.
type Acker struct {
	mu  sync.Mutex
	out *bufio.Writer
}

// NewAcker writes to stdout.
func NewAcker() *Acker { return &Acker{out: bufio.NewWriter(os.Stdout)} }

// Ack acknowledges item n (and, for the parent, the per-1 after it).
func (a *Acker) Ack(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintln(a.out, n)
	_ = a.out.Flush()
}
