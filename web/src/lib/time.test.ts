import { describe, expect, it } from 'vitest';
import {
  alignRange,
  alignShifted,
  compareOffset,
  formatAbsolute,
  formatDuration,
  grid,
  isRelative,
  parseDuration,
  parseTime,
  rateWindow,
  resolveRange,
  stepFor,
} from './time';

const NOW = Date.parse('2026-03-01T12:00:00Z');

describe('durations', () => {
  it('parses Prometheus durations', () => {
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('')).toBeNull();
    expect(parseDuration('5x')).toBeNull();
    expect(parseDuration('m5')).toBeNull();
  });
  it('formats them back', () => {
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(172_800_000)).toBe('2d');
    expect(formatDuration(250)).toBe('250ms');
    for (const d of ['5m', '1h30m', '7d', '1d2h3m4s']) expect(formatDuration(parseDuration(d)!)).toBe(d);
  });
});

describe('times and ranges', () => {
  it('resolves relative, RFC 3339 and Unix millisecond times', () => {
    expect(parseTime('now', NOW)).toBe(NOW);
    expect(parseTime('now-1h', NOW)).toBe(NOW - 3_600_000);
    expect(parseTime('2026-03-01T11:00:00Z', NOW)).toBe(NOW - 3_600_000);
    expect(parseTime(String(NOW), NOW)).toBe(NOW);
    expect(parseTime('yesterday', NOW)).toBeNull();
    expect(parseTime('now-', NOW)).toBeNull();
  });
  it('falls back to the last hour for a range that does not parse or is empty', () => {
    expect(resolveRange({ from: 'now-6h', to: 'now' }, NOW)).toEqual({ start: NOW - 6 * 3_600_000, end: NOW });
    expect(resolveRange({ from: 'bad', to: 'now' }, NOW)).toEqual({ start: NOW - 3_600_000, end: NOW });
    expect(resolveRange({ from: 'now', to: 'now-1h' }, NOW)).toEqual({ start: NOW - 3_600_000, end: NOW });
  });
  it('knows a relative range', () => {
    expect(isRelative({ from: 'now-1h', to: 'now' })).toBe(true);
    expect(isRelative({ from: '2026-03-01T11:00:00Z', to: 'now' })).toBe(false);
  });
  it('writes absolute times as RFC 3339 that read back', () => {
    expect(formatAbsolute(NOW)).toBe('2026-03-01T12:00:00Z');
    expect(formatAbsolute(NOW + 5)).toBe('2026-03-01T12:00:00.005Z');
    expect(parseTime(formatAbsolute(NOW + 5), 0)).toBe(NOW + 5);
  });
});

describe('steps', () => {
  it('picks a round step for about 240 points', () => {
    expect(stepFor({ start: NOW - 3_600_000, end: NOW })).toBe(15_000);
    expect(stepFor({ start: NOW - 300_000, end: NOW })).toBe(2_000);
    expect(stepFor({ start: NOW - 7 * 86_400_000, end: NOW })).toBe(3_600_000);
  });
  it('aligns a range to the step', () => {
    const r = alignRange({ start: NOW - 3_600_000 + 7_000, end: NOW + 7_000 }, 15_000);
    expect(r.start % 15_000).toBe(0);
    expect(r.end % 15_000).toBe(0);
    expect(r.end).toBe(NOW);
  });
  it('rates over at least a minute and two steps', () => {
    expect(rateWindow(15_000)).toBe('1m');
    expect(rateWindow(3_600_000)).toBe('2h');
  });
});

describe('time comparison', () => {
  const r = { start: NOW - 3_600_000, end: NOW };
  it('looks back the range, a day or a week', () => {
    expect(compareOffset('prev', r)).toBe(3_600_000);
    expect(compareOffset('1d', r)).toBe(86_400_000);
    expect(compareOffset('1w', r)).toBe(604_800_000);
    expect(compareOffset('', r)).toBe(0);
  });
  it('moves the shifted samples onto the main grid', () => {
    const step = 60_000;
    const xs = grid(r, step);
    expect(xs.length).toBe(61);
    const off = compareOffset('1d', r);
    // The comparison query's samples, a day earlier, one per step, valued by index.
    const samples: [number, number][] = xs.map((x, i) => [x - off, i]);
    const out = alignShifted(xs, step, samples, off);
    expect(out).toEqual(xs.map((_, i) => i));
  });
  it('leaves gaps as null and drops samples outside the grid or off it', () => {
    const step = 60_000;
    const xs = grid(r, step);
    const off = 3_600_000;
    const samples: [number, number][] = [
      [xs[0] - off, 1], // first point
      [xs[10] - off + 20_000, 2], // a third of a step late: still point 10
      [xs[20] - off + 31_000, 3], // more than half a step late: point 21
      [xs[0] - off - step, 4], // before the range
      [xs[60] - off + step, 5], // after it
    ];
    const out = alignShifted(xs, step, samples, off);
    expect(out[0]).toBe(1);
    expect(out[10]).toBe(2);
    expect(out[20]).toBeNull();
    expect(out[21]).toBe(3);
    expect(out.filter((v) => v !== null).length).toBe(3);
  });
});
