// Stacked series for uPlot, as uPlot's own stacking demo does it
// (leeoniya/uPlot demos/stack.js, function stack; Prometheus 3's UI uses the
// same in web/ui/mantine-ui): each series is drawn at the running sum of
// the series before it in its group, and a band between it and the series
// below fills only the area it adds.

/** A series' values at the x positions; null where it has no sample. */
export type Values = (number | null)[];

/** uPlot's band: fill between series[0] (above) and series[1] (below), uPlot indices (0 is x). */
export interface StackBand {
  series: [number, number];
}

/**
 * Stacks series by group: a series is added to the running sum of the
 * series before it with the same group (null counts as 0, so a gap draws
 * at the sum below it); a null group leaves the series as it is. bands
 * pairs each stacked series with the next one of its group, in uPlot's
 * indices (series i is index i+1).
 */
export function stack(series: Values[], group: (i: number) => string | null): { values: Values[]; bands: StackBand[] } {
  const sums = new Map<string, number[]>();
  const values = series.map((vs, i) => {
    const g = group(i);
    if (g === null) return vs;
    let acc = sums.get(g);
    if (!acc) sums.set(g, (acc = vs.map(() => 0)));
    const a = acc;
    return vs.map((v, j) => (a[j] += v ?? 0));
  });
  const bands: StackBand[] = [];
  series.forEach((_, i) => {
    const g = group(i);
    if (g === null) return;
    const next = series.findIndex((__, j) => j > i && group(j) === g);
    if (next >= 0) bands.push({ series: [next + 1, i + 1] });
  });
  return { values, bands };
}
