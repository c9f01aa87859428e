package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// otlpSender sends the same series as OTLP/HTTP protobuf: one
// ResourceMetrics per target, whose Prometheus translation gives the same
// names and labels as the remote-write series (plus target_info).
type otlpSender struct {
	url    string
	client *http.Client
	start  pcommon.Timestamp
}

func newOTLPSender(url string) *otlpSender {
	return &otlpSender{url: url + "/otlp/v1/metrics", client: &http.Client{Timeout: time.Minute},
		start: pcommon.NewTimestampFromTime(time.Now().Add(-48 * time.Hour))}
}

func (s *otlpSender) send(ctx context.Context, ts []target, round int, tsMillis int64) (int, error) {
	md := pmetric.NewMetrics()
	now := pcommon.Timestamp(tsMillis * int64(time.Millisecond))
	samples := 0
	for _, t := range ts {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", t.service)
		rm.Resource().Attributes().PutStr("service.instance.id", t.instance)
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		reqs := ms.AppendEmpty()
		reqs.SetName("http.requests")
		sum := reqs.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		hist := ms.AppendEmpty()
		hist.SetName("http.request.duration")
		hist.SetUnit("s")
		h := hist.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		cpu := ms.AppendEmpty()
		cpu.SetName("node.cpu.seconds")
		cs := cpu.SetEmptySum()
		cs.SetIsMonotonic(true)
		cs.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		g := ms.AppendEmpty()
		g.SetName("app.gauge")
		gg := g.SetEmptyGauge()

		var bucketCounts []uint64
		var prev float64
		targetPoints(t, round, func(p point) {
			var dp pmetric.NumberDataPoint
			switch p.name {
			case "http_requests_total":
				dp = sum.DataPoints().AppendEmpty()
				samples++
			case "node_cpu_seconds_total":
				dp = cs.DataPoints().AppendEmpty()
				samples++
			case "app_gauge":
				dp = gg.DataPoints().AppendEmpty()
				samples++
			case "http_request_duration_seconds_bucket":
				bucketCounts = append(bucketCounts, uint64(p.value-prev))
				prev = p.value
				return
			case "http_request_duration_seconds_sum":
				hp := h.DataPoints().AppendEmpty()
				hp.SetStartTimestamp(s.start)
				hp.SetTimestamp(now)
				hp.SetSum(p.value)
				hp.ExplicitBounds().FromRaw(bounds[:])
				hp.BucketCounts().FromRaw(bucketCounts)
				var c uint64
				for _, b := range bucketCounts {
					c += b
				}
				hp.SetCount(c)
				putAttrs(hp.Attributes(), p.labels)
				bucketCounts, prev = nil, 0
				samples += buckets + 2
				return
			default:
				return
			}
			dp.SetStartTimestamp(s.start)
			dp.SetTimestamp(now)
			dp.SetDoubleValue(p.value)
			putAttrs(dp.Attributes(), p.labels)
		})
	}
	body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("OTLP: %d %s", resp.StatusCode, b)
	}
	return samples, nil
}

func putAttrs(m pcommon.Map, kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] != "le" {
			m.PutStr(kv[i], kv[i+1])
		}
	}
}
