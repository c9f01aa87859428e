// The logic of the Alerts, Alert and SLO pages: the alert fingerprint of
// notifications' horus_url (as internal/ruler.Fingerprint computes it),
// grouping and ordering alerts, a rule's query language, an alert
// condition split into its series and threshold.

import type { Alert, Labels, PostableSilence, RuleGroup } from '../api/types';

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

/**
 * Alertmanager's fingerprint of a label set (Prometheus' common/model
 * LabelSet.Fingerprint: FNV-1a 64 over the names in byte order, each name
 * and value followed by the byte 0xff), as 16 hex digits. Horus' ruler
 * names an alert by it in horus_url, over the alert's labels with the
 * external labels it lacks.
 */
export function fingerprint(labels: Labels, external: Labels = {}): string {
  const all: Labels = { ...external, ...labels };
  const names = Object.keys(all).sort(byteOrder);
  const enc = new TextEncoder();
  let h = FNV_OFFSET;
  const add = (b: number) => {
    h ^= BigInt(b);
    h = (h * FNV_PRIME) & MASK;
  };
  for (const n of names) {
    for (const b of enc.encode(n)) add(b);
    add(0xff);
    for (const b of enc.encode(all[n])) add(b);
    add(0xff);
  }
  return h.toString(16).padStart(16, '0');
}

function byteOrder(a: string, b: string): number {
  // Label names are ASCII ([a-zA-Z_][a-zA-Z0-9_]*): UTF-16 order is byte order.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The service an alert is about (internal/ruler.ServiceLabels). */
export function serviceOf(labels: Labels): string | undefined {
  return labels.service || labels.service_name || labels.job || undefined;
}

const SEVERITY_RANK: Record<string, number> = { critical: 0, page: 0, error: 1, warning: 2, ticket: 3, info: 4 };

export function severityRank(s: string | undefined): number {
  return SEVERITY_RANK[s ?? ''] ?? 3;
}

/** The alerts' labels that are not the name (for a compact display). */
export function otherLabels(labels: Labels): [string, string][] {
  return Object.entries(labels)
    .filter(([k]) => k !== 'alertname')
    .sort(([a], [b]) => byteOrder(a, b));
}

export interface AlertGroup<A extends Alert = Alert> {
  name: string;
  severity: string;
  firing: number;
  pending: number;
  alerts: A[];
}

/**
 * Alerts grouped by alert name: firing before pending, then by severity,
 * then the longest active first; each group's alerts firing first, then
 * oldest first.
 */
export function groupAlerts<A extends Alert>(alerts: A[]): AlertGroup<A>[] {
  const by = new Map<string, AlertGroup<A>>();
  for (const a of alerts) {
    if (a.state !== 'firing' && a.state !== 'pending') continue;
    const name = a.labels.alertname ?? '(unnamed)';
    let g = by.get(name);
    if (!g) {
      g = { name, severity: a.labels.severity ?? '', firing: 0, pending: 0, alerts: [] };
      by.set(name, g);
    }
    g.alerts.push(a);
    if (a.state === 'firing') g.firing++;
    else g.pending++;
    if (severityRank(a.labels.severity) < severityRank(g.severity)) g.severity = a.labels.severity ?? '';
  }
  const since = (a: Alert) => (a.activeAt ? Date.parse(a.activeAt) : Infinity);
  const oldest = (g: AlertGroup<A>) => Math.min(...g.alerts.map(since));
  for (const g of by.values()) {
    g.alerts.sort((a, b) => (a.state === b.state ? since(a) - since(b) : a.state === 'firing' ? -1 : 1));
  }
  return [...by.values()].sort(
    (a, b) =>
      (b.firing > 0 ? 1 : 0) - (a.firing > 0 ? 1 : 0) ||
      severityRank(a.severity) - severityRank(b.severity) ||
      oldest(a) - oldest(b) ||
      a.name.localeCompare(b.name),
  );
}

export type QueryLang = 'promql' | 'logql' | 'traceql';

/**
 * A rule's query language. The rules API does not say it (it is the
 * setting that names the file, or the group label horus_query_language,
 * docs/alerting.md), so it is read from the query: a TraceQL metrics query
 * is a spanset `{...}` piped into a function; LogQL has a line filter or a
 * pipeline stage after a stream selector, or a range aggregation over a
 * bare stream selector (`count_over_time({app="x"}[5m])`, which PromQL
 * writes with a metric name); anything else is PromQL.
 */
export function ruleLanguage(query: string): QueryLang {
  const q = query.trim();
  if (/^\{[^}]*\}\s*\|\s*(rate|count_over_time|quantile_over_time|histogram_over_time|min_over_time|max_over_time|avg_over_time|sum_over_time|compare)\s*\(/.test(q)) {
    return 'traceql';
  }
  if (/\}\s*(\|=|!=|\|~|!~|\|>|!>)/.test(q)) return 'logql';
  if (/\}\s*\|\s*(json|logfmt|pattern|regexp|unpack|line_format|label_format|unwrap|drop|keep|decolorize|[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~|>|<))/.test(q)) {
    return 'logql';
  }
  if (/\b(count_over_time|rate|bytes_rate|bytes_over_time|absent_over_time)\s*\(\s*\{(?![^}]*__name__)/.test(q)) return 'logql';
  return 'promql';
}

export interface Condition {
  /** The series the condition compares (the whole query without a threshold). */
  series: string;
  op?: string;
  threshold?: number;
}

/**
 * Splits an alert condition `expr > 0.05` into the series and the
 * threshold; a query without a trailing comparison with a number is all
 * series.
 */
export function splitCondition(query: string): Condition {
  const m = /^([\s\S]*?\S)\s*(>=|<=|==|!=|>|<)\s*(?:bool\s+)?(-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*$/i.exec(query.trim());
  if (!m) return { series: query.trim() };
  let series = m[1];
  // `(a) > 1` or `a > (1)`: keep the left side whole.
  if (depth(series) !== 0) return { series: query.trim() };
  series = unwrap(series);
  return { series, op: m[2], threshold: parseFloat(m[3]) };
}

function depth(s: string): number {
  let d = 0;
  for (const c of s) {
    if (c === '(') d++;
    else if (c === ')') d--;
  }
  return d;
}

function unwrap(s: string): string {
  let t = s.trim();
  while (t.startsWith('(') && t.endsWith(')') && balancedInside(t.slice(1, -1))) t = t.slice(1, -1).trim();
  return t;
}

function balancedInside(s: string): boolean {
  let d = 0;
  for (const c of s) {
    if (c === '(') d++;
    else if (c === ')') {
      d--;
      if (d < 0) return false;
    }
  }
  return d === 0;
}

/** Whether a series' labels agree with the alert's (each label it has, the alert has too, with the same value). */
export function seriesOfAlert(series: Labels, alert: Labels): boolean {
  return Object.entries(series).every(([k, v]) => k === '__name__' || alert[k] === undefined || alert[k] === v);
}

export interface RuleRow {
  group: string;
  file: string;
  interval: number;
  name: string;
  type: 'alerting' | 'recording';
  query: string;
  state?: string;
  health: string;
  lastError?: string;
  lastEvaluation?: string;
  evaluationTime?: number;
  duration?: number;
  labels: Labels;
  active: number;
}

/** The rules of the rule groups, one row each. */
export function ruleRows(groups: RuleGroup[]): RuleRow[] {
  const out: RuleRow[] = [];
  for (const g of groups) {
    for (const r of g.rules) {
      out.push({
        group: g.name,
        file: g.file,
        interval: g.interval,
        name: r.name,
        type: r.type,
        query: r.query,
        state: r.state,
        health: r.health,
        lastError: r.lastError || undefined,
        lastEvaluation: r.lastEvaluation,
        evaluationTime: r.evaluationTime,
        duration: r.duration,
        labels: r.labels ?? {},
        active: r.alerts?.length ?? 0,
      });
    }
  }
  return out;
}

/**
 * The id of the SLO an alert belongs to: Sloth's sloth_id label on SLO
 * alerts, else the SLO whose alert names match.
 */
export function sloIdOf(labels: Labels): string | undefined {
  return labels.sloth_id || undefined;
}

/** One period an alert fired, from the ALERTS series. */
export interface FiringPeriod {
  /** The alert's labels (the series' without __name__ and alertstate). */
  labels: Labels;
  /** The first sample firing (ms). */
  start: number;
  /** One step after the last sample firing (ms): the alert resolved between its last sample and then. */
  end: number;
  /** False when it still fired at the range's end (its last sample within 1.5 steps of it). */
  resolved: boolean;
}

/**
 * The firing periods of Prometheus' ALERTS{alertstate="firing"} series
 * sampled every step (ms) by query_range up to end (ms): each run of
 * samples no more than 1.5 steps apart is one period (the same runs as the
 * graphs' alert bands); newest end first.
 */
export function firingPeriods(series: { metric: Labels; values: [number, string][] }[], step: number, end: number): FiringPeriod[] {
  const out: FiringPeriod[] = [];
  for (const s of series) {
    const labels: Labels = { ...s.metric };
    delete labels.__name__;
    delete labels.alertstate;
    let begin: number | null = null;
    let last = 0;
    const flush = () => {
      if (begin !== null) out.push({ labels, start: begin, end: last + step, resolved: end - last > step * 1.5 });
    };
    for (const [t] of s.values) {
      const ms = t * 1000;
      if (begin !== null && ms - last > step * 1.5) {
        flush();
        begin = null;
      }
      if (begin === null) begin = ms;
      last = ms;
    }
    flush();
  }
  return out.sort((a, b) => b.end - a.end || a.start - b.start);
}

/** The durations the alert page offers for a silence, in minutes. */
export const SILENCE_DURATIONS: [number, string][] = [
  [30, '30 minutes'],
  [60, '1 hour'],
  [120, '2 hours'],
  [240, '4 hours'],
  [1440, '1 day'],
  [10080, '1 week'],
];

/**
 * The silence of one alert: an equality matcher per label (the labels the
 * Alertmanager has, external ones included; __name__ and alertstate left
 * out), from now (ms) for minutes. Throws when the author or the comment
 * is blank, as Alertmanager requires both.
 */
export function silenceOf(labels: Labels, minutes: number, createdBy: string, comment: string, now: number): PostableSilence {
  if (!createdBy.trim()) throw new Error('a silence needs its author');
  if (!comment.trim()) throw new Error('a silence needs a comment: why it is silenced');
  if (!(minutes > 0)) throw new Error('a silence needs a duration');
  const matchers = Object.entries(labels)
    .filter(([k]) => k !== '__name__' && k !== 'alertstate')
    .sort(([a], [b]) => byteOrder(a, b))
    .map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }));
  return {
    matchers,
    startsAt: new Date(now).toISOString(),
    endsAt: new Date(now + minutes * 60_000).toISOString(),
    createdBy: createdBy.trim(),
    comment: comment.trim(),
  };
}

/** An alert no longer active, found in the ALERTS series of a range. */
export interface PastAlert {
  /** Its labels (the series' without __name__ and alertstate). */
  labels: Labels;
  /** Its firing periods in the range, newest first, each with when it became pending. */
  periods: (FiringPeriod & { pendingAt?: number })[];
}

/**
 * The alert of fingerprint fp among Prometheus' ALERTS series of a range
 * (any alertstate; query_range at step ms up to end ms): its labels,
 * taken with or without the external labels as fingerprint takes them,
 * and its firing periods (firingPeriods). forState are the
 * ALERTS_FOR_STATE series of the same range, whose value is the time
 * (Unix seconds) the alert became active: each period's pendingAt is
 * that value at its first firing sample. Undefined when no series has fp.
 */
export function pastAlert(
  series: { metric: Labels; values: [number, string][] }[],
  forState: { metric: Labels; values: [number, string][] }[],
  fp: string,
  external: Labels,
  step: number,
  end: number,
): PastAlert | undefined {
  const strip = (m: Labels) => {
    const l: Labels = { ...m };
    delete l.__name__;
    delete l.alertstate;
    return l;
  };
  const mine = series.filter((s) => {
    const l = strip(s.metric);
    return fingerprint(l, external) === fp || fingerprint(l) === fp;
  });
  if (mine.length === 0) return undefined;
  const labels = strip(mine[0].metric);
  const key = fingerprint(labels);
  const state = forState.find((s) => fingerprint(strip(s.metric)) === key);
  const periods = firingPeriods(
    mine.filter((s) => s.metric.alertstate === 'firing'),
    step,
    end,
  ).map((p) => {
    const at = state?.values.find(([t]) => t * 1000 >= p.start);
    const v = at ? parseFloat(at[1]) * 1000 : NaN;
    return { ...p, pendingAt: Number.isFinite(v) && v <= p.start ? v : undefined };
  });
  return { labels, periods };
}

/**
 * An annotation template of a rule filled in for an alert no longer
 * active, as far as the browser can: {{ $labels.x }}, {{ .Labels.x }} and
 * {{ index $labels "x" }} by the alert's labels; {{ $externalURL }} and
 * {{ .ExternalURL }} by "" (so a runbook URL becomes a path on the Horus
 * that serves this page); anything else ({{ $value }}, functions) by "…".
 * Prometheus' template language: prometheus/template/template.go.
 */
export function fillTemplate(t: string, labels: Labels): string {
  return t.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_, expr: string) => {
    const m = /^(?:\$labels|\.Labels)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr) ?? /^index\s+(?:\$labels|\.Labels)\s+"([^"]*)"$/.exec(expr);
    if (m) return labels[m[1]] ?? '';
    if (/^(?:\$externalURL|\.ExternalURL)$/.test(expr)) return '';
    return '…';
  });
}
