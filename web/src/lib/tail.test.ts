import { describe, expect, it } from 'vitest';
import type { LogLine } from './logs';
import { advanceTail, prependTail } from './tail';

const line = (ns: string, text: string, labels: Record<string, string> = { app: 'a' }): LogLine => ({
  ns,
  time: Number(ns) / 1e6,
  line: text,
  labels,
  level: 'info',
  traceId: '',
  spanId: '',
  service: '',
  key: `k${ns}${text}`,
});

describe('advanceTail', () => {
  it('gives every line of the first poll, oldest first, and stands at the newest', () => {
    const r = advanceTail(null, [line('300', 'c'), line('100', 'a'), line('200', 'b')], '1000');
    expect(r.fresh.map((l) => l.line)).toEqual(['a', 'b', 'c']);
    expect(r.cursor.ns).toBe('300');
    expect(r.cursor.atNs.size).toBe(1);
  });
  it('stands at the poll end when nothing came yet', () => {
    const r = advanceTail(null, [], '1000');
    expect(r).toEqual({ fresh: [], cursor: { ns: '1000', atNs: new Set() } });
    expect(advanceTail(r.cursor, [], '2000').cursor.ns).toBe('1000');
  });
  it('drops the lines already given at the cursor, keeps a late one of the same nanosecond', () => {
    const first = advanceTail(null, [line('300', 'c')], '1000');
    // The next poll starts at 300 inclusive: c again, d at the same ns (arrived late), e later.
    const next = advanceTail(first.cursor, [line('300', 'c'), line('300', 'd'), line('400', 'e')], '2000');
    expect(next.fresh.map((l) => l.line)).toEqual(['d', 'e']);
    expect(next.cursor.ns).toBe('400');
    const same = advanceTail(first.cursor, [line('300', 'c'), line('300', 'd')], '2000');
    expect(same.fresh.map((l) => l.line)).toEqual(['d']);
    // Both c and d are now given at 300.
    expect(advanceTail(same.cursor, [line('300', 'c'), line('300', 'd')], '3000').fresh).toEqual([]);
  });
  it('tells lines apart by their labels, compares times longer than a double exactly', () => {
    const first = advanceTail(null, [line('1764500000000000001', 'x', { app: 'a' })], '1764500000000000002');
    const next = advanceTail(first.cursor, [line('1764500000000000001', 'x', { app: 'b' }), line('1764500000000000001', 'x', { app: 'a' })], '1764500000000000009');
    expect(next.fresh.map((l) => l.labels.app)).toEqual(['b']);
    expect(advanceTail(next.cursor, [line('999999999999999999', 'old')], '1764500000000000010').fresh).toEqual([]);
  });
});

describe('prependTail', () => {
  it('puts the fresh lines newest first on top and keeps max', () => {
    const shown = [line('2', 'b'), line('1', 'a')];
    expect(prependTail(shown, [line('3', 'c'), line('4', 'd')], 3).map((l) => l.line)).toEqual(['d', 'c', 'b']);
  });
});
