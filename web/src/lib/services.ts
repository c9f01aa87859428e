// The rows of the Services page: what /api/v1/services measured, joined
// with the SLOs, the firing alerts and the newest change of each service,
// and the order that puts the worst on top.

import type { Alert, Change, ServiceStats, SLOStatus } from '../api/types';

export interface ServiceRow extends ServiceStats {
  /** The SLO with the least budget left, if any. */
  slo?: { id: string; name: string; budgetLeft: number | null; burnRate: number | null };
  firing: Alert[];
  pending: Alert[];
  change?: Change;
}

/** The service an alert is about: its service label, else its job. */
export function alertService(a: Alert): string | undefined {
  return a.labels.service || a.labels.service_name || a.labels.job;
}

export function joinServices(
  stats: ServiceStats[],
  logServices: string[],
  slos: SLOStatus[],
  alerts: Alert[],
  changes: Change[],
): ServiceRow[] {
  const rows = new Map<string, ServiceRow>();
  const row = (name: string): ServiceRow => {
    let r = rows.get(name);
    if (!r) {
      r = { name, signals: [], rate: null, errorRatio: null, p50: null, p90: null, p99: null, firing: [], pending: [] };
      rows.set(name, r);
    }
    return r;
  };
  for (const s of stats) Object.assign(row(s.name), s, { signals: [...s.signals] });
  for (const n of logServices) {
    const r = row(n);
    if (!r.signals.includes('logs')) r.signals.push('logs');
  }
  for (const s of slos) {
    const r = rows.get(s.service);
    if (!r) continue;
    const left = s.errorBudget.remaining;
    if (!r.slo || (left ?? Infinity) < (r.slo.budgetLeft ?? Infinity)) {
      r.slo = { id: s.id, name: s.name, budgetLeft: left, burnRate: s.errorBudget.currentBurnRate };
    }
  }
  for (const a of alerts) {
    const svc = alertService(a);
    const r = svc ? rows.get(svc) : undefined;
    if (!r) continue;
    if (a.state === 'firing') r.firing.push(a);
    else if (a.state === 'pending') r.pending.push(a);
  }
  for (const c of changes) {
    const r = rows.get(c.service);
    if (r && (!r.change || Date.parse(c.time) > Date.parse(r.change.time))) r.change = c;
  }
  return [...rows.values()];
}

const SEVERITY: Record<string, number> = { critical: 3, page: 3, error: 2, warning: 1, ticket: 1 };

/**
 * How bad a service looks, higher is worse: firing alerts (by severity)
 * first, then an SLO burning its budget, then the error ratio, then p99.
 */
export function badness(r: ServiceRow): number[] {
  const sev = Math.max(0, ...r.firing.map((a) => SEVERITY[a.labels.severity ?? ''] ?? 1));
  const burn = r.slo?.burnRate ?? 0;
  const budgetGone = r.slo?.budgetLeft != null && r.slo.budgetLeft <= 0 ? 1 : 0;
  return [r.firing.length ? 1 + sev : 0, budgetGone, burn > 1 ? burn : 0, r.errorRatio ?? 0, r.p99 ?? 0];
}

/** Compares for "worst first": a before b when a is worse. */
export function worstFirst(a: ServiceRow, b: ServiceRow): number {
  const x = badness(a);
  const y = badness(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return y[i] - x[i];
  return a.name.localeCompare(b.name);
}
