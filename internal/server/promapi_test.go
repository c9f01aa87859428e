package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// TestPromAPIEndpoints calls every Prometheus API endpoint a Grafana
// Prometheus data source or promtool uses, by GET and by POST form, and
// checks Prometheus' envelope and error types.
func TestPromAPIEndpoints(t *testing.T) {
	ts := startServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now().Truncate(time.Second)
	ms := now.UnixMilli()
	c := rwClient(t, ts)
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: series("api_requests_total", "job", "api", "route", "/a"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms - 60000}, {Value: 4, Timestamp: ms}}},
		{Labels: series("api_requests_total", "job", "api", "route", "/b"), Samples: []prompb.Sample{{Value: 2, Timestamp: ms}}},
		{Labels: series("api_requests_total", "job", "api", "route", "/a"), Exemplars: []prompb.Exemplar{{Labels: []prompb.Label{{Name: "trace_id", Value: "t1"}}, Value: 1, Timestamp: ms}}},
	}, Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "api_requests_total", Help: "Requests served."}}}
	if _, err := c.Write(ctx, remoteapi.WriteV1MessageType, req); err != nil {
		t.Fatal(err)
	}
	// A native histogram, by remote write 2.0.
	h := &histogram.Histogram{Count: 5, Sum: 12, Schema: 0, ZeroThreshold: 0.001,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{2, 1}, ZeroCount: 0}
	v2 := &writev2.Request{Symbols: []string{"", "__name__", "api_latency_seconds", "job", "api"}, Timeseries: []writev2.TimeSeries{{
		LabelsRefs: []uint32{1, 2, 3, 4},
		Histograms: []writev2.Histogram{writev2.FromIntHistogram(0, ms, h)},
		Metadata:   writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_HISTOGRAM},
	}}}
	if _, err := c.Write(ctx, remoteapi.WriteV2MessageType, v2); err != nil {
		t.Fatal(err)
	}

	start, end := url.QueryEscape(now.Add(-5*time.Minute).Format(time.RFC3339)), url.QueryEscape(now.Format(time.RFC3339))
	at := url.QueryEscape(now.Format(time.RFC3339))
	cases := []struct {
		path, params string
		code         int
		contains     string
	}{
		{"/api/v1/query", "query=sum(api_requests_total)&time=" + at, 200, `"value":[`},
		{"/api/v1/query", "query=histogram_count(api_latency_seconds)&time=" + at, 200, `"5"`},
		{"/api/v1/query_range", "query=rate(api_requests_total[2m])&start=" + start + "&end=" + end + "&step=15", 200, `"resultType":"matrix"`},
		{"/api/v1/series", "match[]=api_requests_total&start=" + start + "&end=" + end, 200, `"route":"/b"`},
		{"/api/v1/labels", "", 200, `"route"`},
		{"/api/v1/label/route/values", "", 200, `["/a","/b"]`},
		{"/api/v1/label/job/values", "match[]=api_latency_seconds", 200, `["api"]`},
		{"/api/v1/metadata", "", 200, `"api_requests_total":[{"type":"counter","unit":"","help":"Requests served."}]`},
		{"/api/v1/metadata", "metric=api_latency_seconds", 200, `{"api_latency_seconds":[{"type":"histogram","unit":"","help":""}]}`},
		{"/api/v1/metadata", "limit=x", 400, `"errorType":"bad_data"`},
		{"/api/v1/query_exemplars", "query=api_requests_total&start=" + start + "&end=" + end, 200, `"trace_id":"t1"`},
		{"/api/v1/targets", "", 200, `"activeTargets":[]`},
		{"/api/v1/rules", "", 200, `"groups":[]`},
		{"/api/v1/alerts", "", 200, `"alerts":[]`},
		{"/api/v1/status/buildinfo", "", 200, `"version":`},
		{"/api/v1/status/config", "", 200, `scrape_interval`},
		{"/api/v1/status/tsdb", "", 200, `"headStats"`},
		{"/api/v1/status/runtimeinfo", "", 200, `"storageRetention":"15d"`},
		{"/api/v1/status/flags", "", 200, `"data-dir"`},
		{"/api/v1/format_query", "query=sum(rate(x[5m]))by(job)", 200, `"sum by (job) (rate(x[5m]))"`},
		{"/api/v1/parse_query", "query=up", 200, `"type":"vectorSelector"`},
		// Errors keep Prometheus' types and status codes.
		{"/api/v1/query", "query=sum(", 400, `"errorType":"bad_data"`},
		{"/api/v1/query_range", "query=up&start=10&end=1&step=1", 400, `"errorType":"bad_data"`},
		{"/api/v1/query_range", "query=up&start=0&end=100000000&step=1", 400, `exceeded maximum resolution`},
		{"/api/v1/query", "query=up&time=notatime", 400, `"errorType":"bad_data"`},
		{"/api/v1/series", "", 400, `no match[] parameter provided`},
		{"/api/v1/nonexistent", "", 404, ``},
	}
	for _, c := range cases {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			if method == http.MethodPost && (strings.HasPrefix(c.path, "/api/v1/status") || strings.Contains(c.path, "/label/") ||
				c.path == "/api/v1/targets" || c.path == "/api/v1/metadata" || c.path == "/api/v1/rules" || c.path == "/api/v1/alerts" || c.path == "/api/v1/nonexistent") {
				continue // GET-only in Prometheus too
			}
			var resp *http.Response
			var err error
			if method == http.MethodGet {
				resp, err = http.Get(ts.URL() + c.path + "?" + c.params)
			} else {
				resp, err = http.Post(ts.URL()+c.path, "application/x-www-form-urlencoded", strings.NewReader(c.params))
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != c.code || !strings.Contains(string(body), c.contains) {
				t.Errorf("%s %s?%s: %d %s; want %d containing %s", method, c.path, c.params, resp.StatusCode, truncateBody(body), c.code, c.contains)
				continue
			}
			if c.code != 404 {
				var env struct{ Status string }
				if err := json.Unmarshal(body, &env); err != nil || (env.Status != "success" && env.Status != "error") {
					t.Errorf("%s %s: not a Prometheus envelope: %s", method, c.path, truncateBody(body))
				}
			}
		}
	}
	if got := ts.selfMetric(t, "horus_query_rejected_total", map[string]string{"reason": "bad_data"}); got < 4 {
		t.Errorf("horus_query_rejected_total{reason=bad_data} = %v, want the refused queries counted", got)
	}
}

func truncateBody(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
