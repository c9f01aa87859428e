// A small Node.js service instrumented with the OpenTelemetry JS SDK
// (@opentelemetry/sdk-node), configured the way a user configures it: by
// the OTEL_* environment variables (OTEL_SERVICE_NAME,
// OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, ...), plus the
// one thing no variable sets in the JS SDK: a View giving the request
// duration histogram bucket boundaries in seconds. node_test.go runs it
// against a real Horus and reads everything back.
//
// It handles N requests (argv[2], default 5): each is a server span
// "GET /orders/{id}" with a child span, records its duration in the
// http.server.request.duration histogram (seconds) and counts an order in
// orders.processed, and emits two log records inside the span, which the
// logs SDK stamps with the span's trace and span ids. It prints one JSON
// line per request, {"trace_id", "span_id", "duration_s"}, then shuts the
// SDK down, which flushes all three signals.
import { NodeSDK } from '@opentelemetry/sdk-node';
import { AggregationType } from '@opentelemetry/sdk-metrics';
import { trace, metrics, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';

// The OpenTelemetry semantic conventions' advice for http.server.request.duration
// (https://opentelemetry.io/docs/specs/semconv/http/http-metrics/): seconds.
const secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

const sdk = new NodeSDK({
  views: [{
    instrumentName: 'http.server.request.duration',
    aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: secondsBuckets } },
  }],
});
sdk.start();

const tracer = trace.getTracer('horus-node-test');
const meter = metrics.getMeter('horus-node-test');
const logger = logs.getLogger('horus-node-test');
const duration = meter.createHistogram('http.server.request.duration', { unit: 's', description: 'Duration of HTTP server requests.' });
const processed = meter.createCounter('orders.processed', { unit: '{order}', description: 'Orders processed.' });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const n = Number(process.argv[2] ?? 5);

for (let i = 0; i < n; i++) {
  const id = 1000 + i;
  await tracer.startActiveSpan('GET /orders/{id}', {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': 'GET', 'http.route': '/orders/{id}', 'order.id': id },
  }, async (span) => {
    const start = performance.now();
    logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: `loading order ${id}`, attributes: { 'order.id': id } });
    await tracer.startActiveSpan('SELECT orders', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql' } }, async (db) => {
      await sleep(20 + 10 * i);
      db.end();
    });
    const failed = i === n - 1;
    if (failed) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'payment declined' });
      logger.emit({ severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: `order ${id} failed: payment declined`, attributes: { 'order.id': id } });
    } else {
      logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: `order ${id} done`, attributes: { 'order.id': id } });
    }
    const seconds = (performance.now() - start) / 1000;
    const status = failed ? 500 : 200;
    span.setAttribute('http.response.status_code', status);
    duration.record(seconds, { 'http.request.method': 'GET', 'http.route': '/orders/{id}', 'http.response.status_code': status });
    processed.add(1, { outcome: failed ? 'failed' : 'ok' });
    const ctx = span.spanContext();
    console.log(JSON.stringify({ trace_id: ctx.traceId, span_id: ctx.spanId, duration_s: seconds }));
    span.end();
  });
}

await sdk.shutdown();
