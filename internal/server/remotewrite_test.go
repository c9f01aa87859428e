package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/horus-obs/horus/internal/config"
)

func series(name string, lbls ...string) []prompb.Label {
	ls := []prompb.Label{{Name: "__name__", Value: name}}
	for i := 0; i+1 < len(lbls); i += 2 {
		ls = append(ls, prompb.Label{Name: lbls[i], Value: lbls[i+1]})
	}
	return ls
}

func rwClient(t *testing.T, ts *testServer) *remoteapi.API {
	t.Helper()
	c, err := remoteapi.NewAPI(ts.URL(), remoteapi.WithAPIPath("api/v1/write"),
		remoteapi.WithAPIBackoff(remoteapi.BackoffConfig{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond, MaxRetries: 1}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRemoteWrite writes with client_golang's remote-write client (the
// protocol implementation Prometheus' own sender uses) in both protocol
// versions and reads back with PromQL.
func TestRemoteWrite(t *testing.T) {
	ts := startServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := rwClient(t, ts)
	now := time.Now().Truncate(time.Second)
	ms := now.UnixMilli()

	v1 := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: series("rw1_requests_total", "job", "api", "code", "200"), Samples: []prompb.Sample{{Value: 1, Timestamp: ms - 30000}, {Value: 7, Timestamp: ms}}},
		{Labels: series("rw1_requests_total", "job", "api", "code", "200"), Exemplars: []prompb.Exemplar{{Labels: []prompb.Label{{Name: "trace_id", Value: "abc"}}, Value: 1, Timestamp: ms}}},
	}}
	if _, err := c.Write(ctx, remoteapi.WriteV1MessageType, v1); err != nil {
		t.Fatalf("write v1: %v", err)
	}
	syms := []string{"", "__name__", "rw2_temperature_celsius", "job", "sensor", "HELP text"}
	v2 := &writev2.Request{Symbols: syms, Timeseries: []writev2.TimeSeries{{
		LabelsRefs: []uint32{1, 2, 3, 4},
		Samples:    []writev2.Sample{{Value: 21.5, Timestamp: ms}},
		Metadata:   writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_GAUGE, HelpRef: 5},
	}}}
	stats, err := c.Write(ctx, remoteapi.WriteV2MessageType, v2)
	if err != nil {
		t.Fatalf("write v2: %v", err)
	}
	if stats.Samples != 1 {
		t.Errorf("v2 written samples header = %d, want 1", stats.Samples)
	}

	check := map[string]float64{
		`rw1_requests_total{job="api",code="200"}`:           7,
		`rw2_temperature_celsius{job="sensor"}`:              21.5,
		`count({__name__=~"rw[12]_.*"})`:                     2,
		`rw1_requests_total offset 30s`:                      1,
		`sum by (job) (rw1_requests_total) + on() vector(1)`: 8,
	}
	for q, want := range check {
		vec := ts.query(t, q, now)
		if len(vec) != 1 || float64(vec[0].Value) != want {
			t.Errorf("%s = %v, want one sample of %v", q, vec, want)
		}
	}
	exs, err := ts.api.QueryExemplars(ctx, `rw1_requests_total`, now.Add(-time.Minute), now.Add(time.Minute))
	if err != nil || len(exs) != 1 || len(exs[0].Exemplars) != 1 || exs[0].Exemplars[0].Labels["trace_id"] != "abc" {
		t.Errorf("exemplars = %v, %v; want one with trace_id abc", exs, err)
	}
}

// TestRemoteWriteBadInput sends what a broken or hostile client might, and
// expects a 4xx that names the problem, with the valid part of a batch
// written and each refusal counted by reason.
func TestRemoteWriteBadInput(t *testing.T) {
	ts := startServer(t, "", func(c *config.Config) {
		c.Limits.MaxLabelsPerSeries = 5
		c.Limits.MaxLabelValueLength = 32
		c.Limits.MaxRequestBodyBytes = 64 << 10
	})
	now := time.Now().UnixMilli()
	encode := func(req *prompb.WriteRequest) []byte {
		b, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return snappy.Encode(nil, b)
	}
	one := func(ls []prompb.Label, ts int64) *prompb.WriteRequest {
		return &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
			{Labels: series("good_metric", "job", "ok"), Samples: []prompb.Sample{{Value: 1, Timestamp: now}}},
			{Labels: ls, Samples: []prompb.Sample{{Value: 1, Timestamp: ts}}},
		}}
	}
	big := make([]byte, 200<<10)
	cases := []struct {
		name     string
		body     []byte
		header   map[string]string
		code     int
		contains string
		reason   string
	}{
		{"not snappy", []byte("hello"), nil, 400, "snappy", "malformed"},
		{"not protobuf", snappy.Encode(nil, []byte{0xff, 0xff, 0xff, 0xff}), nil, 400, "decode remote write 1.0 protobuf", "malformed"},
		{"too large", big, nil, 413, "larger than the limit", "body_too_large"},
		{"gzip encoding", []byte("x"), map[string]string{"Content-Encoding": "gzip"}, 415, "only snappy", "unsupported_media_type"},
		{"wrong content type", []byte("x"), map[string]string{"Content-Type": "text/plain"}, 415, "application/x-protobuf", "unsupported_media_type"},
		{"unknown proto", []byte("x"), map[string]string{"Content-Type": "application/x-protobuf;proto=foo.Bar"}, 415, "foo.Bar", "unsupported_media_type"},
		{"too many labels", encode(one(series("m", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"), now)), nil, 400, "6 labels, more than the limit of 5", "too_many_labels"},
		{"long label value", encode(one(series("m", "user", strings.Repeat("x", 40)), now)), nil, 400, "more than the limit of 32", "label_value_too_long"},
		{"invalid utf8", encode(one(series("m", "path", "\xff\xfe"), now)), nil, 400, "not valid UTF-8", "invalid_labels"},
		{"no metric name", encode(one([]prompb.Label{{Name: "job", Value: "x"}}, now)), nil, 400, "no metric name", "missing_metric_name"},
		{"duplicate label", encode(one([]prompb.Label{{Name: "__name__", Value: "m"}, {Name: "a", Value: "1"}, {Name: "a", Value: "2"}}, now)), nil, 400, `label "a" more than once`, "duplicate_label_name"},
		{"far future", encode(one(series("m", "job", "x"), now+int64(time.Hour/time.Millisecond))), nil, 400, "in the future", "too_far_in_future"},
		{"too old", encode(one(series("m2", "job", "x"), now-int64(30*24*time.Hour/time.Millisecond))), nil, 400, "out of bounds", "too_old"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := ts.selfMetric(t, "horus_ingest_rejected_total", map[string]string{"reason": c.reason, "protocol": "remote_write"})
			hdr := map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0"}
			for k, v := range c.header {
				hdr[k] = v
			}
			expectPost(t, ts.URL()+"/api/v1/write", c.body, hdr, c.code, c.contains)
			after := ts.selfMetric(t, "horus_ingest_rejected_total", map[string]string{"reason": c.reason, "protocol": "remote_write"})
			if after != before+1 {
				t.Errorf("horus_ingest_rejected_total{reason=%q} went %v -> %v, want +1", c.reason, before, after)
			}
		})
	}
	// The valid series of the partly bad batches were written.
	if vec := ts.query(t, `good_metric`, time.Now()); len(vec) != 1 {
		t.Errorf("good_metric: %v, want the valid part of partly bad batches written", vec)
	}
	// The server is still fine.
	if vec := ts.query(t, `vector(1)`, time.Now()); len(vec) != 1 {
		t.Errorf("server unhealthy after bad input")
	}
}

// TestOTLPHTTPBadInput checks the OTLP/HTTP answers to bad requests: a
// google.rpc.Status body in the request's encoding and a 4xx.
func TestOTLPHTTPBadInput(t *testing.T) {
	ts := startServer(t, "", func(c *config.Config) { c.Limits.MaxRequestBodyBytes = 64 << 10 })
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Bytes()
	}
	deltaJSON := `{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeMetrics":[{"metrics":[
	  {"name":"ok.gauge","gauge":{"dataPoints":[{"asDouble":1,"timeUnixNano":"%d"}]}},
	  {"name":"delta.sum","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"asInt":"3","timeUnixNano":"%d"}]}}]}]}]}`
	now := time.Now().UnixNano()
	cases := []struct {
		name, ctype, enc string
		body             []byte
		code             int
		contains         string
	}{
		{"bad json", "application/json", "", []byte("{bad"), 400, "decode OTLP metrics"},
		{"bad protobuf", "application/x-protobuf", "", []byte{0xff, 0xff, 0xff}, 400, "decode OTLP metrics"},
		{"bad gzip", "application/json", "gzip", []byte("not gzip"), 400, "gzip"},
		{"unknown content type", "text/plain", "", []byte("x"), 415, "Content-Type"},
		{"unknown encoding", "application/json", "br", []byte("x"), 415, "Content-Encoding"},
		{"too large", "application/json", "", make([]byte, 100<<10), 413, "limit"},
		{"gzip bomb", "application/json", "gzip", gz(make([]byte, 300<<20)), 413, "limit"},
		{"delta temporality is a partial success", "application/json", "", []byte(fmt.Sprintf(deltaJSON, now, now)), 200, `"rejectedDataPoints":"1"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{"Content-Type": c.ctype}
			if c.enc != "" {
				hdr["Content-Encoding"] = c.enc
			}
			expectPost(t, "http://"+ts.Addrs().OTLPHTTP+"/v1/metrics", c.body, hdr, c.code, c.contains)
		})
	}
	if vec := ts.query(t, `ok_gauge{job="svc"}`, time.Now()); len(vec) != 1 {
		t.Errorf("ok_gauge: %v; the valid part of a partial success must be stored", vec)
	}
}

// expectPost posts body with the headers and expects the status code and
// a response body containing want.
func expectPost(t *testing.T, url string, body []byte, header map[string]string, code int, want string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != code || !strings.Contains(string(got), want) {
		t.Errorf("got %d %q, want %d containing %q", resp.StatusCode, truncateBody(got), code, want)
	}
}
