export type SortDir = 'asc' | 'desc';

/** Sorts rows by value, nulls (and NaN) last whatever the direction; stable. */
export function sortRows<T>(rows: T[], value: (r: T) => number | string | null, dir: SortDir): T[] {
  const keyed = rows.map((r, i) => ({ r, i, v: value(r) }));
  const missing = (v: unknown) => v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v));
  keyed.sort((a, b) => {
    const am = missing(a.v);
    const bm = missing(b.v);
    if (am || bm) return am === bm ? a.i - b.i : am ? 1 : -1;
    let c: number;
    if (typeof a.v === 'number' && typeof b.v === 'number') c = a.v - b.v;
    else c = String(a.v).localeCompare(String(b.v));
    if (c === 0) return a.i - b.i;
    return dir === 'asc' ? c : -c;
  });
  return keyed.map((k) => k.r);
}
