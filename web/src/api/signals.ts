// The Loki and Tempo calls of Explore and the Trace page. Times are Unix
// milliseconds in; Loki takes nanoseconds, Tempo's search seconds.

import { getJSON, type RequestOptions } from './client';
import type { MatrixSeries } from './types';

const ns = (ms: number) => `${Math.floor(ms)}000000`;

/** A Loki stream's lines: [ns, line] (and structured metadata, when asked for categorized labels). */
export interface LokiStream {
  stream: Record<string, string>;
  values: [string, string, Record<string, unknown>?][];
}

export type LokiResult =
  | { resultType: 'streams'; result: LokiStream[] }
  | { resultType: 'matrix'; result: MatrixSeries[] }
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: [number, string] }[] };

export function lokiQueryRange(
  query: string,
  start: number,
  end: number,
  o: RequestOptions,
  extra: { limit?: number; direction?: 'forward' | 'backward'; step?: number } = {},
) {
  return getJSON<LokiResult>(
    '/loki/api/v1/query_range',
    {
      query,
      start: ns(start),
      end: ns(end),
      limit: extra.limit ?? 1000,
      direction: extra.direction ?? 'backward',
      step: extra.step ? `${extra.step / 1000}` : undefined,
    },
    o,
  );
}

/**
 * A log query's lines between two exact Unix ns times (strings, as Loki
 * sends them): a poll of the live tail (lib/tail.ts), whose cursor is a
 * line's own nanosecond.
 */
export function lokiLinesNs(query: string, startNs: string, endNs: string, limit: number, direction: 'forward' | 'backward', o: RequestOptions) {
  return getJSON<LokiResult>('/loki/api/v1/query_range', { query, start: startNs, end: endNs, limit, direction }, o);
}

/** The Tempo API's trace by id (OTLP JSON, v1: 404 when not found). */
export function traceById(id: string, o: RequestOptions) {
  return getJSON<unknown>(`/api/traces/${encodeURIComponent(id)}`, {}, o);
}

export interface TraceMeta {
  traceID: string;
  rootServiceName?: string;
  rootTraceName?: string;
  startTimeUnixNano?: string;
  durationMs?: number;
  spanSet?: { matched?: number; spans?: { spanID: string; name?: string; durationNanos?: string }[] };
  serviceStats?: Record<string, { spanCount: number; errorCount?: number }>;
}

export function tempoSearch(q: string, start: number, end: number, limit: number, o: RequestOptions) {
  return getJSON<{ traces: TraceMeta[] | null }>(
    '/api/search',
    { q, start: Math.floor(start / 1000), end: Math.ceil(end / 1000), limit, spss: 3 },
    o,
  ).then((d) => d.traces ?? []);
}
