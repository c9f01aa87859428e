package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
)

func apiClient(url string) (promv1.API, error) {
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return nil, err
	}
	return promv1.NewAPI(c), nil
}

func sortJoin(s []string) string {
	sort.Strings(s)
	return "[" + strings.Join(s, ", ") + "]"
}

// TestKill9DuringRemoteWrite kills Horus with SIGKILL while writers are
// remote-writing into it, at a random moment, several times over one data
// directory, and checks after each restart that every acknowledged batch
// is stored whole. HORUS_CRASH_ROUNDS sets the rounds (default 3;
// bench/faults.sh runs 50).
func TestKill9DuringRemoteWrite(t *testing.T) {
	rounds := 3
	if s := os.Getenv("HORUS_CRASH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	dir := filepath.Join(t.TempDir(), "data")
	const samplesPerBatch = 20
	acked := map[string]bool{} // batch id -> acknowledged
	base := time.Now().Add(-5 * time.Minute).UnixMilli()
	var batchSeq int

	for round := 0; round < rounds; round++ {
		h := startHorus(t, dir)
		// Everything acknowledged before must have survived the last kill.
		verifyAcked(t, h, acked, samplesPerBatch)

		client, err := remoteapi.NewAPI("http://"+h.addr, remoteapi.WithAPIPath("api/v1/write"),
			remoteapi.WithAPIBackoff(remoteapi.BackoffConfig{Min: time.Millisecond, Max: time.Millisecond, MaxRetries: 0}))
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					mu.Lock()
					batchSeq++
					id := fmt.Sprintf("r%d-b%d", round, batchSeq)
					mu.Unlock()
					req := &prompb.WriteRequest{}
					for s := 0; s < 4; s++ {
						ts := prompb.TimeSeries{Labels: []prompb.Label{
							{Name: "__name__", Value: "crash_test"}, {Name: "batch", Value: id}, {Name: "part", Value: strconv.Itoa(s)},
						}}
						for i := 0; i < samplesPerBatch/4; i++ {
							// Each batch is its own series: the same few
							// timestamps in all, so that no number of rounds
							// pushes them past the verifying query's time.
							ts.Samples = append(ts.Samples, prompb.Sample{Value: float64(i), Timestamp: base + int64(i)})
						}
						req.Timeseries = append(req.Timeseries, ts)
					}
					if _, err := client.Write(ctx, remoteapi.WriteV1MessageType, req); err != nil {
						return // the server is gone
					}
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(100+rand.IntN(600)) * time.Millisecond)
		h.kill() // SIGKILL, no chance to flush
		cancel()
		wg.Wait()
		t.Logf("round %d: %d batches acknowledged so far", round, len(acked))
	}
	h := startHorus(t, dir)
	verifyAcked(t, h, acked, samplesPerBatch)
	h.stop(t)
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged; the test proved nothing")
	}
}

func verifyAcked(t *testing.T, h *horus, acked map[string]bool, per int) {
	t.Helper()
	if len(acked) == 0 {
		return
	}
	v, _, _, err := h.api.Query(ctxT(t, 30*time.Second), `sum by (batch) (count_over_time(crash_test[1h]))`, time.Now())
	if err != nil {
		t.Fatalf("query after restart: %v", err)
	}
	got := map[string]int{}
	for _, s := range v.(model.Vector) {
		got[string(s.Metric["batch"])] = int(s.Value)
	}
	missing := 0
	for id := range acked {
		if got[id] != per {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged batch %s has %d of %d samples after kill -9", id, got[id], per)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged batches incomplete after kill -9", missing, len(acked))
	}
}
