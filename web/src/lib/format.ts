// Numbers as people read them, by unit.

export type Unit = 'seconds' | 'reqps' | 'ratio' | 'bytes' | 'cores' | 'short';

function trim(n: number, digits = 3): string {
  if (n === 0) return '0';
  const a = Math.abs(n);
  const d = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : digits;
  return parseFloat(n.toFixed(d)).toString();
}

export function formatSeconds(s: number): string {
  const a = Math.abs(s);
  if (a === 0) return '0';
  if (a < 1e-3) return `${trim(s * 1e6)} µs`;
  if (a < 1) return `${trim(s * 1e3)} ms`;
  if (a < 60) return `${trim(s)} s`;
  if (a < 3600) return `${trim(s / 60)} min`;
  return `${trim(s / 3600)} h`;
}

export function formatBytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = b;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${trim(v)} ${units[i]}`;
}

export function formatRate(r: number): string {
  if (r === 0) return '0/s';
  if (Math.abs(r) < 0.01) return `${trim(r * 60)}/min`;
  return `${trim(r)}/s`;
}

export function formatPercent(ratio: number): string {
  if (ratio === 0) return '0%';
  const p = ratio * 100;
  if (Math.abs(p) < 0.01) return '<0.01%';
  return `${trim(p, 2)}%`;
}

export function formatValue(v: number | null | undefined, unit: Unit): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  switch (unit) {
    case 'seconds':
      return formatSeconds(v);
    case 'reqps':
      return formatRate(v);
    case 'ratio':
      return formatPercent(v);
    case 'bytes':
      return formatBytes(v);
    case 'cores':
      return trim(v);
    default:
      return trim(v);
  }
}

/** "3m ago", "2h ago" from a time (ms) before now. */
export function formatAgo(t: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#ec4899', '#14b8a6', '#eab308', '#6366f1', '#84cc16'];

/** A stable colour for a name (service, status). */
export function colorFor(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return PALETTE[h % PALETTE.length];
}
