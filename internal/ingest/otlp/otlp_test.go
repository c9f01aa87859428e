package otlp

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/horus-obs/horus/internal/ingest"
	"github.com/horus-obs/horus/internal/ingest/ingesttest"
)

func newMux(t testing.TB) *http.ServeMux {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	guard, _ := ingesttest.Guard(t)
	pm := NewPromMetrics(guard, func() promconfig.OTLPConfig { return promconfig.DefaultOTLPConfig }, 5*time.Minute, logger)
	r := New(Consumers{Metrics: pm}, ingest.NewMetrics(nil), logger, Options{Body: ingest.BodyLimits{MaxBytes: 1 << 20, MaxDecodedBytes: 4 << 20}})
	mux := http.NewServeMux()
	r.RegisterHTTP(mux, "")
	return mux
}

func sampleMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "svc")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("requests")
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := s.DataPoints().AppendEmpty()
	dp.SetIntValue(3)
	dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	h := rm.ScopeMetrics().At(0).Metrics().AppendEmpty()
	h.SetName("latency")
	eh := h.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	edp := eh.DataPoints().AppendEmpty()
	edp.SetCount(2)
	edp.SetSum(3)
	edp.SetScale(2)
	edp.Positive().BucketCounts().FromRaw([]uint64{1, 1})
	edp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	return md
}

// FuzzOTLPMetricsHTTP feeds arbitrary bodies as OTLP protobuf and JSON:
// every answer must be a success (maybe partial) or a 4xx, never a 5xx or
// a panic.
func FuzzOTLPMetricsHTTP(f *testing.F) {
	fuzzHTTP(f, newMux(f), "/v1/metrics", pmetricotlp.NewExportRequestFromMetrics(sampleMetrics()))
}

// TestPromNames checks the OpenTelemetry → Prometheus naming rules on
// every OTLP metric type, summaries included, in a real TSDB.
func TestPromNames(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	guard, db := ingesttest.Guard(t)
	pm := NewPromMetrics(guard, func() promconfig.OTLPConfig { return promconfig.DefaultOTLPConfig }, 5*time.Minute, logger)

	md := sampleMetrics()
	rm := md.ResourceMetrics().At(0)
	rm.Resource().Attributes().PutStr("service.instance.id", "i-1")
	rm.Resource().Attributes().PutStr("host.name", "h-1") // a non-identifying attribute makes target_info
	ms := rm.ScopeMetrics().At(0).Metrics()
	now := pcommon.NewTimestampFromTime(time.Now())
	size := ms.AppendEmpty()
	size.SetName("transfer.size")
	size.SetUnit("By")
	ss := size.SetEmptySum()
	ss.SetIsMonotonic(true)
	ss.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	sdp := ss.DataPoints().AppendEmpty()
	sdp.SetIntValue(1024)
	sdp.SetTimestamp(now)
	util := ms.AppendEmpty()
	util.SetName("cpu.utilization")
	util.SetUnit("1")
	gdp := util.SetEmptyGauge().DataPoints().AppendEmpty()
	gdp.SetDoubleValue(0.5)
	gdp.SetTimestamp(now)
	sum := ms.AppendEmpty()
	sum.SetName("rpc.duration")
	sum.SetUnit("ms")
	qdp := sum.SetEmptySummary().DataPoints().AppendEmpty()
	qdp.SetCount(4)
	qdp.SetSum(10)
	qdp.SetTimestamp(now)
	q := qdp.QuantileValues().AppendEmpty()
	q.SetQuantile(0.5)
	q.SetValue(2)

	p, err := pm.ConsumeMetrics(t.Context(), md)
	if err != nil || p.Rejected != 0 {
		t.Fatalf("consume: %+v, %v", p, err)
	}
	qr, err := db.Querier(0, time.Now().Add(time.Minute).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = qr.Close() }()
	set := qr.Select(t.Context(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "job", "svc"))
	got := map[string]bool{}
	for set.Next() {
		got[set.At().Labels().Get("__name__")+"{"+set.At().Labels().Get("quantile")+"}"] = true
	}
	for _, name := range []string{
		"requests_total{}", "latency{}", "transfer_size_bytes_total{}", "cpu_utilization_ratio{}",
		"rpc_duration_milliseconds{0.5}", "rpc_duration_milliseconds_sum{}", "rpc_duration_milliseconds_count{}", "target_info{}",
	} {
		if !got[name] {
			t.Errorf("series %s missing; got %v", name, got)
		}
	}
}
