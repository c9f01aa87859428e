// Log patterns (Loki's /loki/api/v1/patterns, docs/loki.md) as Explore
// shows them: each template with its count per step over the page's range,
// the most frequent first, and the sparkline of those counts.

import type { Pattern } from '../api/types';

/** A pattern with its counts on the page's grid. */
export interface PatternRow {
  pattern: string;
  /** Lines over the range. */
  total: number;
  /** Lines per step, one per grid point (start + i*step, ms). */
  counts: number[];
}

/**
 * The rows of the patterns API's answer on a grid of n points from start
 * (ms) every step (ms): a sample [unix seconds, count] adds to the point
 * at or before it (samples outside the grid count in total only), most
 * lines first, ties by pattern.
 */
export function patternRows(ps: Pattern[], start: number, step: number, n: number): PatternRow[] {
  return ps
    .map((p) => {
      const counts = new Array<number>(n).fill(0);
      let total = 0;
      for (const [t, c] of p.samples) {
        const v = Number(c);
        total += v;
        const i = Math.floor((t * 1000 - start) / step);
        if (i >= 0 && i < n) counts[i] += v;
      }
      return { pattern: p.pattern, total, counts };
    })
    .sort((a, b) => b.total - a.total || a.pattern.localeCompare(b.pattern));
}

/**
 * The points of an SVG polyline drawing counts in a width × height box
 * (y down, 0 at the bottom, the largest count at the top; one point per
 * count, spread over the width).
 */
export function sparkPoints(counts: number[], width: number, height: number): string {
  if (counts.length === 0) return '';
  const max = Math.max(1, ...counts);
  const dx = counts.length > 1 ? width / (counts.length - 1) : 0;
  return counts.map((c, i) => `${round(i * dx)},${round(height - (c / max) * height)}`).join(' ');
}

const round = (v: number) => Math.round(v * 10) / 10;
