// Log lines as the UI shows them: Loki's streams flattened to lines, newest
// or oldest first, with their level and trace and span ids found in the
// labels (structured metadata included) or in the line itself.

import type { LokiStream } from '../api/signals';

export interface LogLine {
  /** Unix ns as Loki sends it (a string: exact), and ms. */
  ns: string;
  time: number;
  line: string;
  labels: Record<string, string>;
  level: string;
  traceId: string;
  spanId: string;
  service: string;
  /** Unique within a result: the stream and the line's position. */
  key: string;
}

const LEVELS: Record<string, string> = {
  trace: 'debug',
  debug: 'debug',
  dbg: 'debug',
  info: 'info',
  information: 'info',
  notice: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  err: 'error',
  critical: 'error',
  crit: 'error',
  fatal: 'error',
  panic: 'error',
  emergency: 'error',
  alert: 'error',
};

/** The level of a line: the labels' level, detected_level or severity, else a level word in the line. */
export function levelOf(labels: Record<string, string>, line: string): string {
  for (const k of ['level', 'detected_level', 'severity', 'severity_text', 'lvl']) {
    const v = labels[k]?.toLowerCase();
    if (v && LEVELS[v]) return LEVELS[v];
  }
  const m = /\b(?:level|lvl|severity)[=:]"?(\w+)/i.exec(line) ?? /\b(ERROR|WARN(?:ING)?|INFO|DEBUG|FATAL|CRITICAL)\b/.exec(line);
  return (m && LEVELS[m[1].toLowerCase()]) || 'unknown';
}

const TRACE_RE = /\btrace_?id["=:\s]+"?([0-9a-fA-F]{16,32})\b/i;
const SPAN_RE = /\bspan_?id["=:\s]+"?([0-9a-fA-F]{16})\b/i;

export function traceIdOf(labels: Record<string, string>, line: string): string {
  const v = labels.trace_id ?? labels.traceID ?? labels.traceId ?? labels.traceid;
  if (v && /^[0-9a-fA-F]{16,32}$/.test(v)) return v.toLowerCase();
  return TRACE_RE.exec(line)?.[1].toLowerCase() ?? '';
}

function spanIdOf(labels: Record<string, string>, line: string): string {
  const v = labels.span_id ?? labels.spanID ?? labels.spanId ?? labels.spanid;
  if (v && /^[0-9a-fA-F]{16}$/.test(v)) return v.toLowerCase();
  return SPAN_RE.exec(line)?.[1].toLowerCase() ?? '';
}

function msOf(ns: string): number {
  return ns.length > 6 ? Number(ns.slice(0, -6)) + Number(ns.slice(-6)) / 1e6 : Number(ns) / 1e6;
}

/** Compares two Unix ns strings. */
export function cmpNs(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** The lines of Loki's streams, sorted (newest first unless forward). */
export function flattenStreams(streams: LokiStream[], forward = false): LogLine[] {
  const out: LogLine[] = [];
  streams.forEach((s, si) => {
    s.values.forEach(([ns, line, meta], i) => {
      const labels: Record<string, string> = { ...s.stream };
      if (meta && typeof meta === 'object') {
        for (const group of Object.values(meta)) {
          if (group && typeof group === 'object') Object.assign(labels, group as Record<string, string>);
        }
      }
      out.push({
        ns,
        time: msOf(ns),
        line,
        labels,
        level: levelOf(labels, line),
        traceId: traceIdOf(labels, line),
        spanId: spanIdOf(labels, line),
        service: labels.service_name ?? labels.service ?? labels.job ?? labels.app ?? '',
        key: `${si}:${i}:${ns}`,
      });
    });
  });
  out.sort((a, b) => (forward ? cmpNs(a.ns, b.ns) : cmpNs(b.ns, a.ns)) || a.key.localeCompare(b.key));
  return out;
}

export const LEVEL_COLORS: Record<string, string> = {
  error: '#dc2626',
  warn: '#d97706',
  info: '#2563eb',
  debug: '#6b7280',
  unknown: '#9ca3af',
};

/** The labels worth showing under an expanded line: all but the ones every line of a service has. */
export const NOISY_LABELS = new Set([
  'telemetry_sdk_name',
  'telemetry_sdk_language',
  'telemetry_sdk_version',
  'telemetry_distro_name',
  'telemetry_distro_version',
  'process_runtime_name',
  'process_runtime_version',
  'process_executable_name',
  'process_pid',
]);

/**
 * The LogQL of the lines around one: its stream's selector (the
 * stream's labels that are index labels: service_name and the like are
 * enough to find the neighbours) over a window around it.
 */
export function contextSelector(labels: Record<string, string>): string {
  const keys = ['service_name', 'service_instance_id', 'job', 'instance', 'namespace', 'pod', 'container'].filter((k) => labels[k]);
  if (!keys.length) return '{service_name=~".+"}';
  return `{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(', ')}}`;
}

/** The LogQL of a trace's lines, every service (docs/demo.md). */
export function traceLogsQuery(traceId: string): string {
  return `{service_name=~".+"} | trace_id=${JSON.stringify(traceId)}`;
}

/** Whether a LogQL query is a metric query (its result a matrix, not lines). */
export function isMetricLogQL(q: string): boolean {
  const t = q.trim();
  return !t.startsWith('{');
}
