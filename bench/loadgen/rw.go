package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/prometheus/prompb"
)

// rwSender sends remote-write 1.0 requests of up to batch samples.
type rwSender struct {
	api   *remoteapi.API
	batch int
}

func newRWSender(url string, batch int) *rwSender {
	api, err := remoteapi.NewAPI(url, remoteapi.WithAPIPath("api/v1/write"),
		remoteapi.WithAPIBackoff(remoteapi.BackoffConfig{Min: 50 * time.Millisecond, Max: time.Second, MaxRetries: 3}))
	if err != nil {
		panic(err)
	}
	return &rwSender{api: api, batch: batch}
}

func (s *rwSender) send(ctx context.Context, ts []target, round int, tsMillis int64) (int, error) {
	req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, 0, s.batch)}
	sent := 0
	flush := func() error {
		if len(req.Timeseries) == 0 {
			return nil
		}
		if _, err := s.api.Write(ctx, remoteapi.WriteV1MessageType, req); err != nil {
			return fmt.Errorf("remote write: %w", err)
		}
		sent += len(req.Timeseries)
		req.Timeseries = req.Timeseries[:0]
		return nil
	}
	var err error
	for _, t := range ts {
		targetPoints(t, round, func(p point) {
			if err != nil {
				return
			}
			ls := make([]prompb.Label, 0, 3+len(p.labels)/2)
			ls = append(ls, prompb.Label{Name: "__name__", Value: p.name}, prompb.Label{Name: "job", Value: t.service}, prompb.Label{Name: "instance", Value: t.instance})
			for i := 0; i+1 < len(p.labels); i += 2 {
				ls = append(ls, prompb.Label{Name: p.labels[i], Value: p.labels[i+1]})
			}
			slices.SortFunc(ls, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
			req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: ls, Samples: []prompb.Sample{{Value: p.value, Timestamp: tsMillis}}})
			if len(req.Timeseries) >= s.batch {
				err = flush()
			}
		})
	}
	if err != nil {
		return sent, err
	}
	return sent, flush()
}
