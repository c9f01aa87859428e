// Time ranges as the URL holds them ("now-1h", "now", an RFC 3339 time or
// Unix milliseconds), their resolution to milliseconds, query steps, and the
// alignment of a time comparison (the same range shifted back) onto the
// main series' timestamps.

/** A range as written in the URL: `from`/`to` are "now", "now-<duration>" or absolute. */
export interface RawRange {
  from: string;
  to: string;
}

/** A resolved range, in Unix milliseconds. */
export interface Range {
  start: number;
  end: number;
}

export const DEFAULT_RANGE: RawRange = { from: 'now-1h', to: 'now' };

/** The relative ranges the picker offers. */
export const RELATIVE_RANGES = ['5m', '15m', '30m', '1h', '3h', '6h', '12h', '24h', '2d', '7d'] as const;

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** Parses a Prometheus-style duration ("90s", "1h30m", "7d") into milliseconds; null if it is not one. */
export function parseDuration(s: string): number | null {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
  let total = 0;
  let pos = 0;
  if (!s) return null;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return null;
    total += parseFloat(m[1]) * UNITS[m[2]];
    pos = re.lastIndex;
  }
  return total;
}

/** Formats milliseconds as the shortest Prometheus duration ("1h30m", "2d", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let out = '';
  let rest = Math.round(ms / 1000);
  for (const [unit, secs] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / secs);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * secs;
    }
  }
  return out;
}

/** Resolves one end of a range; null when it does not parse. */
export function parseTime(s: string, now: number): number | null {
  if (s === 'now') return now;
  if (s.startsWith('now-')) {
    const d = parseDuration(s.slice(4));
    return d === null ? null : now - d;
  }
  if (/^\d{10,16}$/.test(s)) return parseInt(s, 10); // Unix milliseconds
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const t = Date.parse(s);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

/** Resolves a raw range at `now`; a range that does not parse, or is empty, is the default. */
export function resolveRange(r: RawRange, now: number): Range {
  const start = parseTime(r.from, now);
  const end = parseTime(r.to, now);
  if (start === null || end === null || end <= start) {
    return { start: now - 3_600_000, end: now };
  }
  return { start, end };
}

/** Whether the range moves with the clock (auto-refresh makes sense). */
export function isRelative(r: RawRange): boolean {
  return r.to === 'now' && r.from.startsWith('now-');
}

/** Writes an absolute time for the URL: RFC 3339 in UTC, seconds precision unless it has milliseconds. */
export function formatAbsolute(ms: number): string {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? iso.replace('.000Z', 'Z') : iso;
}

/** The label of a raw range ("Last 1h", or the two times). */
export function describeRange(r: RawRange): string {
  if (isRelative(r)) return `Last ${r.from.slice(4)}`;
  return `${r.from} → ${r.to}`;
}

const NICE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map(
  (s) => s * 1000,
);

/** A query step (ms) giving about `points` points over the range, rounded up to a round step. */
export function stepFor(r: Range, points = 240): number {
  const raw = (r.end - r.start) / points;
  for (const s of NICE_STEPS) if (s >= raw) return s;
  return Math.ceil(raw / 86_400_000) * 86_400_000;
}

/**
 * The range of a query_range with step: start and end rounded down to the
 * step, so that refreshes land on the same grid and successive answers
 * agree.
 */
export function alignRange(r: Range, step: number): Range {
  return { start: Math.floor(r.start / step) * step, end: Math.floor(r.end / step) * step };
}

/** The window of rate() for a step: at least a minute and two steps (span metrics flush every 15 s, scrapes every 5 s). */
export function rateWindow(step: number): string {
  return formatDuration(Math.max(60_000, 2 * step));
}

/** A time comparison: the same range, shifted back. */
export type Compare = '' | 'prev' | '1d' | '1w';

export const COMPARES: { value: Compare; label: string }[] = [
  { value: '', label: 'No comparison' },
  { value: 'prev', label: 'Previous period' },
  { value: '1d', label: '1 day ago' },
  { value: '1w', label: '1 week ago' },
];

/** How far back a comparison looks (ms); 0 for none. */
export function compareOffset(c: Compare, r: Range): number {
  switch (c) {
    case 'prev':
      return r.end - r.start;
    case '1d':
      return 86_400_000;
    case '1w':
      return 7 * 86_400_000;
    default:
      return 0;
  }
}

export function compareLabel(c: Compare): string {
  return COMPARES.find((x) => x.value === c)?.label.toLowerCase() ?? '';
}

/**
 * Aligns the samples of a comparison query (times in the shifted range,
 * ms) onto the main grid `xs` (ms, regular with `step`): each sample
 * moved forward by `offset` lands on the nearest grid point within half a
 * step; points without one are null.
 */
export function alignShifted(
  xs: number[],
  step: number,
  samples: [number, number][],
  offset: number,
): (number | null)[] {
  const out: (number | null)[] = new Array(xs.length).fill(null);
  if (xs.length === 0) return out;
  const x0 = xs[0];
  for (const [t, v] of samples) {
    const i = Math.round((t + offset - x0) / step);
    if (i < 0 || i >= xs.length) continue;
    if (Math.abs(t + offset - xs[i]) > step / 2) continue;
    out[i] = v;
  }
  return out;
}

/** The grid of a range query: start, start+step, ..., end. */
export function grid(r: Range, step: number): number[] {
  const xs: number[] = [];
  for (let t = r.start; t <= r.end; t += step) xs.push(t);
  return xs;
}
