// The queries of the service pages, over Horus' span metrics (Tempo's
// names: traces_spanmetrics_*) and the SDK's metrics (job = the service).

import type { MatrixSeries } from '../api/types';
import type { AlertBand } from '../components/TimeSeriesChart';

/** A PromQL (and LogQL, TraceQL) double-quoted string literal. */
export function promString(s: string): string {
  return JSON.stringify(s);
}

const SERVER = 'span_kind=~"SPAN_KIND_SERVER|SPAN_KIND_CONSUMER"';

export function serviceQueries(svc: string, w: string) {
  const sel = `service=${promString(svc)}, ${SERVER}`;
  const job = `job=${promString(svc)}`;
  return {
    latency: (q: number) =>
      `histogram_quantile(${q}, sum by (le) (rate(traces_spanmetrics_latency_bucket{${sel}}[${w}])))`,
    exemplars: `traces_spanmetrics_latency_bucket{${sel}}`,
    traffic: `sum(rate(traces_spanmetrics_calls_total{${sel}}[${w}]))`,
    spanErrors: `sum(rate(traces_spanmetrics_calls_total{${sel}, status_code="STATUS_CODE_ERROR"}[${w}]))`,
    httpErrors: `sum by (status) (rate(http_requests_total{${job}, status=~"5.."}[${w}]))`,
    pool: `max by (instance, db_name) (go_sql_in_use_connections{${job}} / (go_sql_max_open_connections{${job}} > 0))`,
    cpu: `sum by (instance) (rate(process_cpu_seconds_total{${job}}[${w}]))`,
    memory: `sum by (instance) (process_resident_memory_bytes{${job}})`,
  };
}

/** Per route (server span name), over the whole window w, at its end. */
export function routeQueries(svc: string, w: string) {
  const sel = `service=${promString(svc)}, ${SERVER}`;
  return {
    rate: `sum by (span_name) (rate(traces_spanmetrics_calls_total{${sel}}[${w}]))`,
    errors: `sum by (span_name) (rate(traces_spanmetrics_calls_total{${sel}, status_code="STATUS_CODE_ERROR"}[${w}]))`,
    latency: (q: number) =>
      `histogram_quantile(${q}, sum by (span_name, le) (rate(traces_spanmetrics_latency_bucket{${sel}}[${w}])))`,
  };
}

/** The LogQL selector of a service's lines; its error lines with errorsOnly. */
export function logSelector(svc: string, errorsOnly = false): string {
  return errorsOnly
    ? `{service_name=${promString(svc)}, level=~"error|critical|fatal"}`
    : `{service_name=${promString(svc)}}`;
}

/** The lines of one pattern (Loki's pattern match filter `|>`). */
export function patternQuery(sel: string, pattern: string): string {
  return `${sel} |> ${promString(pattern)}`;
}

/**
 * The alert state bands of ALERTS series sampled every step: each run of
 * consecutive samples is a band from its first sample to one step after
 * its last.
 */
export function bandsOf(series: MatrixSeries[], step: number): AlertBand[] {
  const out: AlertBand[] = [];
  for (const s of series) {
    const state = s.metric.alertstate === 'firing' ? 'firing' : 'pending';
    const title = `${s.metric.alertname ?? 'alert'} ${state}`;
    let begin: number | null = null;
    let last = 0;
    for (const [t] of s.values) {
      const ms = t * 1000;
      if (begin !== null && ms - last > step * 1.5) {
        out.push({ start: begin, end: last + step, state, title });
        begin = null;
      }
      if (begin === null) begin = ms;
      last = ms;
    }
    if (begin !== null) out.push({ start: begin, end: last + step, state, title });
  }
  return out.sort((a, b) => a.start - b.start);
}
