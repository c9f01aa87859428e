package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	promconfig "github.com/prometheus/prometheus/config"
	otlptranslator "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/horus-obs/horus/internal/ingest"
)

// PromMetrics stores OTLP metrics in the metrics TSDB under Prometheus
// names, with Prometheus' own OTLP translator: the OpenTelemetry naming
// rules (unit and _total suffixes), job and instance from service.name,
// service.namespace and service.instance.id, the other resource attributes
// on target_info, exemplars with their trace and span ids. Every series
// passes the ingest guard, which files it under the tenant of the context.
//
// Delta temporality is refused with a message: Prometheus series are
// cumulative (send cumulative, or use the Collector's deltatocumulative
// processor).
type PromMetrics struct {
	guard  *ingest.Guard
	config func() promconfig.OTLPConfig
	// lookbackDelta sets how long target_info samples are repeated.
	lookbackDelta time.Duration
	logger        *slog.Logger
	pool          sync.Pool
}

// NewPromMetrics returns a consumer that appends through guard. config
// returns the translation settings (Prometheus' otlp: section).
func NewPromMetrics(guard *ingest.Guard, config func() promconfig.OTLPConfig, lookbackDelta time.Duration, logger *slog.Logger) *PromMetrics {
	return &PromMetrics{
		guard: guard, config: config, lookbackDelta: lookbackDelta, logger: logger,
		pool: sync.Pool{New: func() any { return otlptranslator.NewPrometheusConverter(nil) }},
	}
}

var _ MetricsConsumer = (*PromMetrics)(nil)

// ConsumeMetrics implements MetricsConsumer.
func (p *PromMetrics) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) (Partial, error) {
	var rej ingest.Rejections
	dropUnsupported(md, &rej)

	cfg := p.config()
	app := p.guard.Appender(ctx)
	conv := p.pool.Get().(*otlptranslator.PrometheusConverter)
	conv.Reset(app)
	defer func() {
		conv.Reset(nil)
		p.pool.Put(conv)
	}()
	_, err := conv.FromMetrics(ctx, md, otlptranslator.Settings{
		AddMetricSuffixes:                    cfg.TranslationStrategy.ShouldAddSuffixes(),
		AllowUTF8:                            !cfg.TranslationStrategy.ShouldEscape(),
		PromoteResourceAttributes:            otlptranslator.NewPromoteResourceAttributes(cfg),
		KeepIdentifyingResourceAttributes:    cfg.KeepIdentifyingResourceAttributes,
		ConvertHistogramsToNHCB:              cfg.ConvertHistogramsToNHCB,
		PromoteScopeMetadata:                 cfg.PromoteScopeMetadata,
		LookbackDelta:                        p.lookbackDelta,
		LabelNameUnderscoreSanitization:      cfg.LabelNameUnderscoreSanitization,
		LabelNamePreserveMultipleUnderscores: cfg.LabelNamePreserveMultipleUnderscores,
	})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			_ = app.Rollback()
			return Partial{}, err
		}
		if serr := app.StoreErr(); serr != nil {
			_ = app.Rollback()
			return Partial{}, fmt.Errorf("store OTLP metrics: %w", serr)
		}
		// The store is fine, so the translator refused part of the data
		// (an invalid histogram, a bad name...); what it appended stays.
		rej.Add(ingest.Errorf(ingest.ReasonMalformed, "%v", err))
	}
	if err := app.Commit(); err != nil {
		return Partial{}, fmt.Errorf("commit OTLP metrics: %w", err)
	}
	rej.Merge(app.Rejections())
	if rej.Count == 0 {
		return Partial{}, nil
	}
	// One OTLP data point becomes several samples (a histogram's buckets):
	// this counts refused samples; the receiver caps it at the batch's
	// data points.
	return Partial{
		Rejected: int64(rej.Count),
		Message:  rej.Err().Error(),
		ByReason: rej.ByReason,
	}, nil
}

// dropUnsupported removes metrics that cannot become Prometheus series
// (delta temporality, no name, no type), recording each of their data
// points as refused.
func dropUnsupported(md pmetric.Metrics, rej *ingest.Rejections) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sms.At(j).Metrics().RemoveIf(func(m pmetric.Metric) bool {
				var e *ingest.Error
				switch {
				case m.Name() == "":
					e = ingest.Errorf(ingest.ReasonMalformed, "a metric has no name")
				case m.Type() == pmetric.MetricTypeEmpty:
					e = ingest.Errorf(ingest.ReasonMalformed, "metric %q has no data (type unset)", m.Name())
				case isDelta(m):
					e = ingest.Errorf(ingest.ReasonDeltaTemporality, "metric %q has delta temporality; Horus stores cumulative series: configure the exporter for cumulative temporality", m.Name())
				default:
					return false
				}
				n := dataPoints(m)
				for k := 0; k < max(n, 1); k++ {
					rej.Add(e)
				}
				return true
			})
		}
	}
}

func isDelta(m pmetric.Metric) bool {
	switch m.Type() {
	case pmetric.MetricTypeSum:
		return m.Sum().AggregationTemporality() == pmetric.AggregationTemporalityDelta
	case pmetric.MetricTypeHistogram:
		return m.Histogram().AggregationTemporality() == pmetric.AggregationTemporalityDelta
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().AggregationTemporality() == pmetric.AggregationTemporalityDelta
	}
	return false
}

func dataPoints(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}
