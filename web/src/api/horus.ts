// Typed calls of the APIs the pages read. Times are Unix milliseconds in,
// seconds on the wire (Prometheus' and Loki's accept fractional seconds).

import { getJSON, type RequestOptions, sendJSON } from './client';
import type {
  Alert,
  AMAlert,
  Change,
  ExemplarSeries,
  Investigation,
  MatrixSeries,
  Pattern,
  PostableSilence,
  RuleGroup,
  ServiceGraph,
  ServiceStats,
  Silence,
  SLOStatus,
  VectorSample,
} from './types';

const sec = (ms: number) => (ms / 1000).toFixed(3);

export function queryRange(query: string, start: number, end: number, step: number, o: RequestOptions) {
  return getJSON<{ resultType: string; result: MatrixSeries[] }>(
    '/api/v1/query_range',
    { query, start: sec(start), end: sec(end), step: `${step / 1000}` },
    o,
  ).then((d) => d.result);
}

export function queryInstant(query: string, time: number, o: RequestOptions) {
  return getJSON<{ resultType: string; result: VectorSample[] }>('/api/v1/query', { query, time: sec(time) }, o).then(
    (d) => d.result,
  );
}

export function queryExemplars(query: string, start: number, end: number, o: RequestOptions) {
  return getJSON<ExemplarSeries[] | null>('/api/v1/query_exemplars', { query, start: sec(start), end: sec(end) }, o).then(
    (d) => d ?? [],
  );
}

export function labelValues(name: string, start: number, end: number, o: RequestOptions, match?: string) {
  return getJSON<string[] | null>(
    `/api/v1/label/${encodeURIComponent(name)}/values`,
    { start: sec(start), end: sec(end), 'match[]': match ? [match] : undefined },
    o,
  ).then((d) => d ?? []);
}

export function lokiLabelValues(name: string, start: number, end: number, o: RequestOptions) {
  return getJSON<string[] | null>(
    `/loki/api/v1/label/${encodeURIComponent(name)}/values`,
    { start: `${Math.floor(start * 1e6)}`, end: `${Math.floor(end * 1e6)}` },
    o,
  ).then((d) => d ?? []);
}

/** Loki's patterns of a log query over a range, counted per step (ms; the API's default without it). */
export function lokiPatterns(query: string, start: number, end: number, o: RequestOptions, step?: number) {
  return getJSON<Pattern[] | null>(
    '/loki/api/v1/patterns',
    { query, start: `${Math.floor(start * 1e6)}`, end: `${Math.floor(end * 1e6)}`, step: step ? `${step / 1000}` : undefined },
    o,
  ).then((d) => d ?? []);
}

export function services(start: number, end: number, o: RequestOptions) {
  return getJSON<{ services: ServiceStats[] }>('/api/v1/services', { start: sec(start), end: sec(end) }, o).then(
    (d) => d.services,
  );
}

export function serviceGraph(start: number, end: number, o: RequestOptions) {
  return getJSON<ServiceGraph>('/api/v1/service-graph', { start: sec(start), end: sec(end) }, o);
}

export function slos(time: number, o: RequestOptions) {
  return getJSON<SLOStatus[] | null>('/api/v1/slos', { time: sec(time) }, o).then((d) => d ?? []);
}

export function alerts(o: RequestOptions) {
  return getJSON<{ alerts: Alert[] }>('/api/v1/alerts', {}, o).then((d) => d.alerts ?? []);
}

export function changes(start: number, end: number, o: RequestOptions, service?: string) {
  return getJSON<Change[] | null>(
    '/api/v1/changes',
    { start: sec(start), end: sec(end), service, limit: 500 },
    o,
  ).then((d) => d ?? []);
}

/** The tenants that have metric series; the default tenant is always one. */
export function tenants(o: RequestOptions) {
  return getJSON<string[] | null>('/api/v1/label/__tenant__/values', {}, o).then((d) => d ?? []);
}

export function slo(id: string, time: number, o: RequestOptions) {
  return getJSON<SLOStatus>(`/api/v1/slos/${encodeURIComponent(id)}`, { time: sec(time) }, o);
}

export function rules(o: RequestOptions) {
  return getJSON<{ groups: RuleGroup[] | null }>('/api/v1/rules', {}, o).then((d) => d.groups ?? []);
}

/** The embedded Alertmanager's alerts (active, silenced and inhibited ones too). */
export function amAlerts(o: RequestOptions) {
  return getJSON<AMAlert[] | null>('/alertmanager/api/v2/alerts', {}, o).then((d) => d ?? []);
}

export function silences(o: RequestOptions) {
  return getJSON<Silence[] | null>('/alertmanager/api/v2/silences', {}, o).then((d) => d ?? []);
}

/** Creates a silence in the embedded Alertmanager (POST /api/v2/silences, Alertmanager's postableSilence); its id. */
export function createSilence(s: PostableSilence, o: RequestOptions) {
  return sendJSON<{ silenceID: string }>('POST', '/alertmanager/api/v2/silences', s, o).then((d) => d.silenceID);
}

/** Expires a silence (DELETE /api/v2/silence/{id}). */
export function expireSilence(id: string, o: RequestOptions) {
  return sendJSON<null>('DELETE', `/alertmanager/api/v2/silence/${encodeURIComponent(id)}`, undefined, o);
}

/** A LogQL metric query over a range (Loki's query_range: the same matrix as Prometheus'). */
export function lokiQueryRange(query: string, start: number, end: number, step: number, o: RequestOptions) {
  return getJSON<{ resultType: string; result: MatrixSeries[] }>(
    '/loki/api/v1/query_range',
    { query, start: `${Math.floor(start * 1e6)}`, end: `${Math.floor(end * 1e6)}`, step: `${step / 1000}` },
    o,
  ).then((d) => (d.resultType === 'matrix' ? d.result : []));
}

/** GET /api/v1/investigate with the page's parameters (docs/investigate.md). */
export function investigate(params: Record<string, string>, o: RequestOptions) {
  return getJSON<Investigation>('/api/v1/investigate', params, o);
}
