import { describe, expect, it } from 'vitest';
import type { Alert, ServiceStats } from '../api/types';
import { thin } from '../components/TimeSeriesChart';
import { layers, layout } from './graphLayout';
import { bandsOf, patternQuery, promString, serviceQueries } from './queries';
import { joinServices, worstFirst } from './services';
import { sortRows } from './sort';

const stats = (name: string, errorRatio: number, p99: number): ServiceStats => ({
  name,
  signals: ['traces'],
  rate: 1,
  errorRatio,
  p50: p99 / 4,
  p90: p99 / 2,
  p99,
});
const alert = (service: string, state: Alert['state'], severity = 'critical'): Alert => ({
  labels: { alertname: 'HighErrors', service, severity },
  annotations: {},
  state,
});

describe('services, worst first', () => {
  it('orders by firing alerts, then errors, then p99', () => {
    const rows = joinServices(
      [stats('a', 0, 0.1), stats('b', 0.05, 0.1), stats('c', 0, 2), stats('d', 0, 0.1)],
      ['logs-only'],
      [],
      [alert('d', 'firing'), alert('c', 'pending')],
      [],
    );
    expect(rows.sort(worstFirst).map((r) => r.name)).toEqual(['d', 'b', 'c', 'a', 'logs-only']);
  });
  it('joins log-only services, SLOs, alerts by service or job label, and the newest change', () => {
    const rows = joinServices(
      [stats('a', 0, 0.1)],
      ['a', 'l'],
      [
        { id: 's1', service: 'a', name: 'avail', objective: 99.9, window: '30d', sli: 0.99, errorBudget: { remaining: 0.5, remainingPercent: 50, currentBurnRate: 2 }, burnRates: [], alerts: [] },
        { id: 's2', service: 'a', name: 'latency', objective: 99, window: '30d', sli: 0.99, errorBudget: { remaining: 0.2, remainingPercent: 20, currentBurnRate: 1 }, burnRates: [], alerts: [] },
      ],
      [{ labels: { alertname: 'X', job: 'l' }, annotations: {}, state: 'firing' }],
      [
        { id: '1', kind: 'deploy', service: 'a', time: '2026-03-01T10:00:00Z', source: 'api', version: '1.0' },
        { id: '2', kind: 'deploy', service: 'a', time: '2026-03-01T11:00:00Z', source: 'api', version: '1.1' },
      ],
    );
    const a = rows.find((r) => r.name === 'a')!;
    expect(a.signals).toEqual(['traces', 'logs']);
    expect(a.slo?.id).toBe('s2');
    expect(a.change?.version).toBe('1.1');
    expect(rows.find((r) => r.name === 'l')!.firing.length).toBe(1);
  });
});

describe('sortRows', () => {
  it('sorts numbers and strings, nulls last both ways, stably', () => {
    const rows = [{ v: 2 }, { v: null }, { v: 10 }, { v: 2 }];
    expect(sortRows(rows, (r) => r.v, 'asc').map((r) => r.v)).toEqual([2, 2, 10, null]);
    expect(sortRows(rows, (r) => r.v, 'desc').map((r) => r.v)).toEqual([10, 2, 2, null]);
    expect(sortRows([{ v: 'b' }, { v: 'a' }], (r) => r.v, 'asc').map((r) => r.v)).toEqual(['a', 'b']);
  });
});

describe('graph layout', () => {
  const edges = [
    { source: 'user', target: 'gw' },
    { source: 'gw', target: 'orders' },
    { source: 'gw', target: 'payments' },
    { source: 'orders', target: 'products' },
    { source: 'payments', target: 'bank' },
    { source: 'gw', target: 'products' }, // a shortcut: products stays after orders
  ];
  const nodes = ['bank', 'gw', 'orders', 'payments', 'products', 'user'];
  it('puts each node one column right of its furthest caller', () => {
    const l = layers({ nodes, edges });
    expect(Object.fromEntries(l)).toEqual({ user: 0, gw: 1, orders: 2, payments: 2, products: 3, bank: 3 });
  });
  it('survives cycles and places every node once, without overlaps', () => {
    const cyc = [...edges, { source: 'products', target: 'gw' }, { source: 'x', target: 'x' }];
    const l = layout({ nodes: [...nodes, 'x'], edges: cyc });
    expect(l.nodes.size).toBe(7);
    const spots = new Set([...l.nodes.values()].map((p) => `${p.x},${p.y}`));
    expect(spots.size).toBe(7);
    expect(l.width).toBeGreaterThan(0);
  });
});

describe('queries', () => {
  it('quote names safely', () => {
    expect(promString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(serviceQueries('pay"ments', '1m').traffic).toContain('service="pay\\"ments"');
    expect(patternQuery('{service_name="a"}', 'timeout calling <_> after <_>')).toBe(
      '{service_name="a"} |> "timeout calling <_> after <_>"',
    );
  });
  it('turn ALERTS samples into bands, split at gaps', () => {
    const step = 15_000;
    const t0 = 1_700_000_000;
    const values: [number, string][] = [0, 15, 30, 90, 105].map((d) => [t0 + d, '1']);
    const bands = bandsOf([{ metric: { alertname: 'A', alertstate: 'firing' }, values }], step);
    expect(bands).toEqual([
      { start: t0 * 1000, end: (t0 + 45) * 1000, state: 'firing', title: 'A firing' },
      { start: (t0 + 90) * 1000, end: (t0 + 120) * 1000, state: 'firing', title: 'A firing' },
    ]);
  });
});

describe('exemplar thinning', () => {
  it('keeps at most n, the slowest of each slot', () => {
    const ex = Array.from({ length: 1000 }, (_, i) => ({ time: i, value: i % 7, traceId: `t${i}`, title: '' }));
    const out = thin(ex, 50);
    expect(out.length).toBeLessThanOrEqual(50);
    expect(out.every((e) => e.value === 6 || e.value >= 5)).toBe(true);
  });
});
