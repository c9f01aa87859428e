package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TestDiskFullAllSignals fills the data disk (a small tmpfs) while remote
// write, OTLP metrics, OTLP traces and JSON lines arrive together, lets
// twenty rounds of remote writes fail, frees the space, has more of each
// acknowledged, among them the retries of failed remote writes (as
// Prometheus retries them), then kills Horus with SIGKILL. After the
// restart every acknowledged series, span and log line must be there,
// each span and line once. While the disk is full, a refusal must say so
// and must not show the server's data path. It needs root (mount); CI
// runs as root.
func TestDiskFullAllSignals(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	// Cleanups run last-registered first: Horus is killed before this.
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	dir := filepath.Join(mnt, "data")
	h := startHorus(t, dir)
	c := &diskFullClient{t: t, base: "http://" + h.addr, dataPath: mnt, batches: map[string]int{}, traces: map[string]int{}, shown: map[string]bool{}}

	// Some of everything before the disk fills.
	for range 2 {
		c.mustAck("before the disk filled", c.remoteWrite(c.newBatch()), c.otlpMetrics(), c.spans(), c.lines())
	}

	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	c.full = true
	var failed []*prompb.WriteRequest
	failures := map[string]int{}
	for round := 0; len(failed) < 20; round++ {
		if round == 100 {
			t.Fatalf("the full disk failed only %d of 100 remote writes", len(failed))
		}
		req := c.newBatch()
		if !c.remoteWrite(req).ok {
			failed = append(failed, req)
			failures["remote write"]++
		}
		if !c.otlpMetrics().ok {
			failures["OTLP metrics"]++
		}
		if !c.spans().ok {
			failures["OTLP traces"]++
		}
		if !c.lines().ok {
			failures["JSON lines"]++
		}
	}
	t.Logf("disk full: failed %v", failures)
	if failures["OTLP metrics"] == 0 || failures["OTLP traces"] == 0 || failures["JSON lines"] == 0 {
		t.Errorf("on a full disk every span and log line was acknowledged: %v", failures)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	c.full = false
	// Space is back: ten batches of new series, the retries of the last
	// failed ones, spans and lines are all acknowledged (a client retries
	// a 5xx, so a store that needs a moment to recover may refuse first).
	for range 10 {
		c.mustAck("after freeing space", c.retry(c.newBatch()))
	}
	for _, req := range failed[len(failed)-5:] {
		c.mustAck("retrying a failed batch", c.retry(req))
	}
	for range 5 {
		c.mustAck("after freeing space", c.otlpMetrics(), c.spans(), c.lines())
	}

	h.kill()
	h = startHorus(t, dir)
	c.base = "http://" + h.addr
	c.verify(h)
	h.stop(t)
}

// fill writes path until the file system has no space left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// diskFullClient writes the three signals over HTTP and keeps what was
// acknowledged.
type diskFullClient struct {
	t        *testing.T
	base     string
	dataPath string // must not appear in any answer
	full     bool   // the disk is full: a refusal must say so

	shown map[string]bool // the signals whose first refusal was logged

	seq     int
	batches map[string]int // acknowledged remote-write batch -> series
	points  []string       // acknowledged OTLP gauge points, by their req label
	traces  map[string]int // acknowledged trace id (hex) -> spans
	lineIDs []string       // acknowledged log lines
}

// result is the answer to one write.
type result struct {
	what string
	ok   bool
	code int
	body string
}

const seriesPerBatch = 500

// newBatch is a remote-write request of seriesPerBatch new series, one
// sample each. A random label per series makes the WAL's series record
// larger than one 32 KiB WAL page, as a real batch of new series often is.
func (c *diskFullClient) newBatch() *prompb.WriteRequest {
	c.seq++
	id := fmt.Sprintf("b%d", c.seq)
	now := time.Now().UnixMilli()
	req := &prompb.WriteRequest{}
	for i := range seriesPerBatch {
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
			Labels: []prompb.Label{
				{Name: "__name__", Value: "diskfull_test"}, {Name: "batch", Value: id},
				{Name: "pad", Value: randHex(24)}, {Name: "series", Value: strconv.Itoa(i)},
			},
			Samples: []prompb.Sample{{Value: float64(i), Timestamp: now}},
		})
	}
	return req
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *diskFullClient) remoteWrite(req *prompb.WriteRequest) result {
	b, err := req.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	return c.post("remote write", "/api/v1/write", snappy.Encode(nil, b), map[string]string{
		"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
	}, func() { c.batches[req.Timeseries[0].Labels[1].Value] = len(req.Timeseries) })
}

// retry resends a remote write while it is refused with a 5xx, for up to
// 20 seconds.
func (c *diskFullClient) retry(req *prompb.WriteRequest) result {
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := c.remoteWrite(req)
		if r.ok || r.code < 500 || time.Now().After(deadline) {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// otlpMetrics sends one gauge point of a new series over OTLP/HTTP.
func (c *diskFullClient) otlpMetrics() result {
	c.seq++
	id := fmt.Sprintf("m%d", c.seq)
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "diskfull")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("diskfull_otlp")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.Attributes().PutStr("req", id)
	dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	dp.SetDoubleValue(1)
	b, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		c.t.Fatal(err)
	}
	return c.post("OTLP metrics", "/otlp/v1/metrics", b, map[string]string{"Content-Type": "application/x-protobuf"},
		func() { c.points = append(c.points, id) })
}

// spans sends one trace of five spans over OTLP/HTTP.
func (c *diskFullClient) spans() result {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "diskfull")
	ss := rs.ScopeSpans().AppendEmpty()
	var tid pcommon.TraceID
	_, _ = rand.Read(tid[:])
	now := time.Now()
	for i := range 5 {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid)
		var sid pcommon.SpanID
		_, _ = rand.Read(sid[:])
		sp.SetSpanID(sid)
		sp.SetName("op" + strconv.Itoa(i))
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Duration(i+1) * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	}
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		c.t.Fatal(err)
	}
	return c.post("OTLP traces", "/otlp/v1/traces", b, map[string]string{"Content-Type": "application/x-protobuf"},
		func() { c.traces[hex.EncodeToString(tid[:])] = 5 })
}

// lines sends ten JSON lines.
func (c *diskFullClient) lines() result {
	c.seq++
	var body bytes.Buffer
	var ids []string
	ts := time.Now().Format(time.RFC3339Nano)
	for i := range 10 {
		id := fmt.Sprintf("l%d-%d", c.seq, i)
		ids = append(ids, id)
		fmt.Fprintf(&body, `{"ts":%q,"level":"info","msg":"diskfull line %s","service":"diskfull"}`+"\n", ts, id)
	}
	return c.post("JSON lines", "/api/v1/logs/jsonl", body.Bytes(), map[string]string{"Content-Type": "application/x-ndjson"},
		func() { c.lineIDs = append(c.lineIDs, ids...) })
}

// post sends one write and calls ack if it is acknowledged. A refusal
// must not show the data path.
func (c *diskFullClient) post(what, path string, body []byte, header map[string]string, ack func()) result {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	r := result{what: what, ok: resp.StatusCode/100 == 2, code: resp.StatusCode, body: string(b)}
	if !r.ok && c.full && !c.shown[what] {
		c.shown[what] = true
		c.t.Logf("on the full disk, %s answered %d %q", what, r.code, r.body)
	}
	if !r.ok {
		if strings.Contains(r.body, c.dataPath) {
			c.t.Errorf("%s refused with the server's data path in the answer: %d %s", what, r.code, r.body)
		} else if c.full && r.code >= 500 && !strings.Contains(r.body, "no space left on device") {
			c.t.Errorf("%s refused on a full disk without saying why: %d %s", what, r.code, r.body)
		}
	}
	if r.ok {
		ack()
	}
	return r
}

func (c *diskFullClient) mustAck(when string, rs ...result) {
	c.t.Helper()
	for _, r := range rs {
		if !r.ok {
			c.t.Fatalf("%s: %s refused: %d %s", when, r.what, r.code, r.body)
		}
	}
}

// countBy counts the series of metric now, by the value of label.
func countBy(t *testing.T, h *horus, label, metric string) map[string]int {
	t.Helper()
	v, _, _, err := h.api.Query(ctxT(t, 30*time.Second), fmt.Sprintf("count by (%s) (%s)", label, metric), time.Now())
	if err != nil {
		t.Fatalf("query after restart: %v", err)
	}
	got := map[string]int{}
	for _, s := range v.(model.Vector) {
		got[string(s.Metric[model.LabelName(label)])] = int(s.Value)
	}
	return got
}

// verify checks that everything acknowledged is stored, spans and lines
// once each.
func (c *diskFullClient) verify(h *horus) {
	t := c.t
	t.Helper()
	got := countBy(t, h, "batch", "diskfull_test")
	lost := 0
	for id, n := range c.batches {
		if got[id] != n {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged batch %s: %d of %d series after the restart", id, got[id], n)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged remote-write batches incomplete after the restart", lost, len(c.batches))
	}
	got = countBy(t, h, "req", "diskfull_otlp")
	for _, id := range c.points {
		if got[id] != 1 {
			t.Errorf("acknowledged OTLP gauge point %s: %d series after the restart", id, got[id])
		}
	}

	for id, n := range c.traces {
		req, _ := http.NewRequest(http.MethodGet, c.base+"/api/traces/"+id, nil)
		req.Header.Set("Accept", "application/protobuf")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("acknowledged trace %s: %d %s", id, resp.StatusCode, b)
			continue
		}
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		if err != nil {
			t.Fatalf("trace %s: %v", id, err)
		}
		if td.SpanCount() != n {
			t.Errorf("acknowledged trace %s: %d spans after the restart, want %d", id, td.SpanCount(), n)
		}
	}

	now := time.Now()
	q := url.Values{
		"query": {`{service_name="diskfull"}`}, "limit": {"5000"},
		"start": {now.Add(-time.Hour).Format(time.RFC3339Nano)}, "end": {now.Add(time.Minute).Format(time.RFC3339Nano)},
	}
	resp, err := http.Get(c.base + "/loki/api/v1/query_range?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("log query after restart: %d %s", resp.StatusCode, b)
	}
	var lr struct {
		Data struct {
			Result []struct {
				Values [][2]string `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &lr); err != nil {
		t.Fatalf("log query: %v: %s", err, b)
	}
	seen := map[string]int{}
	for _, s := range lr.Data.Result {
		for _, v := range s.Values {
			seen[strings.TrimPrefix(v[1], "diskfull line ")]++
		}
	}
	for _, id := range c.lineIDs {
		if seen[id] != 1 {
			t.Errorf("acknowledged log line %s is there %d times after the restart", id, seen[id])
		}
	}
	t.Logf("after the restart: %d remote-write batches, %d OTLP points, %d traces, %d log lines acknowledged and checked",
		len(c.batches), len(c.points), len(c.traces), len(c.lineIDs))
}
