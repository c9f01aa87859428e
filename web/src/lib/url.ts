// The URL is the UI's state: every page reads its time range, tenant,
// comparison and selections from the query string, and every link carries
// the global ones, so a copied URL shows the same view. docs/ui.md lists the
// scheme; links.ts builds the links other code should use.

import { type Compare, DEFAULT_RANGE, type RawRange } from './time';

/** State shared by every page. */
export interface GlobalState {
  range: RawRange;
  /** Auto-refresh interval ("10s", "1m"...) or "" for off. */
  refresh: string;
  /** The X-Scope-OrgID to read as; "" is the default tenant. */
  tenant: string;
  compare: Compare;
}

export const REFRESH_INTERVALS = ['', '10s', '30s', '1m', '5m'] as const;

const COMPARE_VALUES: Compare[] = ['', 'prev', '1d', '1w'];

/** The parameters every page keeps when a link is followed. */
export const GLOBAL_KEYS = ['from', 'to', 'refresh', 'tenant', 'compare'] as const;

export function readGlobal(q: URLSearchParams): GlobalState {
  const from = q.get('from') || DEFAULT_RANGE.from;
  const to = q.get('to') || DEFAULT_RANGE.to;
  const refresh = q.get('refresh') ?? '';
  const compare = (q.get('compare') ?? '') as Compare;
  return {
    range: { from, to },
    refresh: (REFRESH_INTERVALS as readonly string[]).includes(refresh) ? refresh : '',
    tenant: q.get('tenant') ?? '',
    compare: COMPARE_VALUES.includes(compare) ? compare : '',
  };
}

/** Writes the global state into q, leaving out what is the default. */
export function writeGlobal(q: URLSearchParams, s: GlobalState): URLSearchParams {
  const set = (k: string, v: string, def: string) => (v && v !== def ? q.set(k, v) : q.delete(k));
  set('from', s.range.from, DEFAULT_RANGE.from);
  set('to', s.range.to, DEFAULT_RANGE.to);
  set('refresh', s.refresh, '');
  set('tenant', s.tenant, '');
  set('compare', s.compare, '');
  return q;
}

/**
 * Builds the URL of `path` with `params` (null or "" removes a key), keeping
 * the global parameters of `current` unless `params` sets them.
 */
export function href(
  path: string,
  params: Record<string, string | number | null | undefined> = {},
  current?: URLSearchParams,
): string {
  const q = new URLSearchParams();
  if (current) {
    for (const k of GLOBAL_KEYS) {
      const v = current.get(k);
      if (v) q.set(k, v);
    }
  }
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') q.delete(k);
    else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Returns the current URL (path + query) with `params` changed. */
export function patch(path: string, current: URLSearchParams, params: Record<string, string | null | undefined>): string {
  const q = new URLSearchParams(current);
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
