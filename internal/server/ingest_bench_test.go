//go:build linux

package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/horus-obs/horus/bench/eventgen"
)

// BenchmarkHTTPIngestJSONLines is issue 18's end-to-end figure in one
// process: a whole Horus on 127.0.0.1 with its default configuration
// (redaction on, WAL fsync every second), two senders posting batches of
// 10,000 JSON lines of bench/eventgen's shop (~330 B a line, trace and span
// ids on each) to /api/v1/logs/jsonl, then POST /flush, so that writing the
// head as a block is counted too. One op is one batch; every line is
// distinct (a repeated batch would be dropped as duplicates, which costs
// less than storing it).
//
// It reports lines per CPU-second of the whole process (getrusage: user +
// system), which includes the senders' side of the HTTP exchange (the
// bodies are made before the clock starts), and MB of peak RSS.
//
//	go test -run '^$' -bench HTTPIngestJSONLines -benchtime 40x ./internal/server/
func BenchmarkHTTPIngestJSONLines(b *testing.B) {
	const batchLines = 10_000
	g := eventgen.New(18, time.Now().Add(-time.Hour), time.Millisecond)
	bodies := make([][]byte, b.N)
	var raw int
	var pending []byte
	for i := range bodies {
		var body bytes.Buffer
		for n := 0; n < batchLines; n++ {
			if len(pending) == 0 {
				for _, l := range g.Next().Logs {
					pending = append(append(pending, eventgen.JSONLine(&l)...), '\n')
				}
			}
			end := bytes.IndexByte(pending, '\n') + 1
			body.Write(pending[:end])
			pending = pending[end:]
		}
		bodies[i] = body.Bytes()
		raw += body.Len()
	}
	ts := startServer(b, "")
	url := ts.URL() + "/api/v1/logs/jsonl?env=prod"
	client := &http.Client{Timeout: time.Minute}
	post := func(url string, body []byte) error {
		resp, err := client.Post(url, "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			return err
		}
		msg, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s: %d %s", url, resp.StatusCode, msg)
		}
		return nil
	}
	cpu0 := cpuTime(b)
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(bodies)); i = next.Add(1) - 1 {
				if err := post(url, bodies[i]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if err := post(ts.URL()+"/flush", nil); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	lines := float64(b.N * batchLines)
	b.ReportMetric(lines/cpu.Seconds(), "lines/CPU-s")
	b.ReportMetric(float64(raw)/lines, "B/line")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB") // Maxrss is in KiB on Linux
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
