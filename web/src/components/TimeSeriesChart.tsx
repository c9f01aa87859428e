// The time-series chart every graph of the UI uses, on uPlot: lines (and a
// dashed line per series for the time comparison), exemplar dots that link
// to their trace, change markers, alert state bands, and zoom by dragging.
// Exemplars and change markers are links and flags in the DOM over the
// canvas, so they can be focused with the keyboard and hovered for details.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatValue, type Unit } from '../lib/format';
import { stack } from '../lib/stack';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** A comparison series: drawn dashed and thinner. */
  comparison?: boolean;
}

export interface ChangeMarker {
  time: number; // ms
  title: string;
  href?: string;
}

export interface AlertBand {
  start: number; // ms
  end: number;
  state: 'firing' | 'pending';
  title: string;
}

export interface Exemplar {
  time: number; // ms
  value: number;
  traceId: string;
  title: string;
}

export interface ChartProps {
  xs: number[]; // ms
  series: ChartSeries[];
  unit: Unit;
  height?: number;
  markers?: ChangeMarker[];
  bands?: AlertBand[];
  exemplars?: Exemplar[];
  /** The link of an exemplar's trace. */
  traceHref?: (traceId: string) => string;
  onZoom?: (start: number, end: number) => void;
  /** The x range to show (ms); the data's otherwise. */
  range?: { start: number; end: number };
  /**
   * Stacked areas instead of lines: each series on top of the ones before
   * it (the comparison series stacked among themselves, as dashed lines);
   * the legend shows each series' own value. Exemplars are not drawn.
   */
  stacked?: boolean;
}

const MAX_EXEMPLARS = 150;

export function TimeSeriesChart(props: ChartProps) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;

  useEffect(() => {
    const root = el.current!;
    const p = props;
    const width = Math.max(200, root.clientWidth);
    const overlay = document.createElement('div');
    overlay.className = 'chart-overlay';

    const stacked = p.stacked
      ? stack(
          p.series.map((s) => s.values),
          (i) => (p.series[i].comparison ? 'comparison' : 'main'),
        )
      : null;
    const raw = (si: number, idx: number) => p.series[si - 1]?.values[idx] ?? null;
    const opts: uPlot.Options = {
      width,
      height: p.height ?? 200,
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      legend: { live: true },
      scales: {
        x: { time: true, ...(p.range ? { range: [p.range.start / 1000, p.range.end / 1000] } : {}) },
        y: { range: (_u, min, max) => [Math.min(0, min ?? 0), max && max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: '#6b7280', space: 95, grid: { stroke: '#e5e7eb', width: 1 }, ticks: { stroke: '#e5e7eb' } },
        {
          stroke: '#6b7280',
          size: (_u, values) => axisSize(values),
          grid: { stroke: '#e5e7eb', width: 1 },
          ticks: { stroke: '#e5e7eb' },
          values: (_u, splits) => splits.map((v) => formatValue(v, p.unit)),
        },
      ],
      series: [
        { value: (_u, v) => (v == null ? '' : new Date(v * 1000).toLocaleString()) },
        ...p.series.map((s) => ({
          label: s.label,
          stroke: s.comparison ? fade(s.color) : s.color,
          width: s.comparison ? 1.25 : 1.75,
          dash: s.comparison ? [5, 4] : undefined,
          fill: stacked && !s.comparison ? `${s.color}55` : undefined,
          spanGaps: false,
          points: { show: false },
          // Off the plot, the legend shows each series' last value (its own, not the stacked sum).
          value: (u: uPlot, v: number | null, si: number, idx: number | null) =>
            formatValue(
              idx == null ? lastValue(stacked ? p.series[si - 1].values : (u.data[si] as (number | null)[])) : stacked ? raw(si, idx) : v,
              p.unit,
            ),
        })),
      ],
      bands: stacked?.bands.filter((b) => !p.series[b.series[1] - 1].comparison),
      hooks: {
        drawClear: [(u) => drawBands(u, propsRef.current.bands ?? [])],
        draw: [(u) => drawOverlay(u, overlay, propsRef.current.stacked ? { ...propsRef.current, exemplars: [] } : propsRef.current)],
        setSelect: [
          (u) => {
            const sel = u.select;
            if (sel.width > 4 && propsRef.current.onZoom) {
              const a = u.posToVal(sel.left, 'x');
              const b = u.posToVal(sel.left + sel.width, 'x');
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              propsRef.current.onZoom(Math.round(a * 1000), Math.round(b * 1000));
            }
          },
        ],
      },
    };
    const data: uPlot.AlignedData = [p.xs.map((x) => x / 1000), ...(stacked ? stacked.values : p.series.map((s) => s.values))];
    const u = new uPlot(opts, data, root);
    u.over.appendChild(overlay);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, root.clientWidth);
      if (Math.abs(w - u.width) > 2) u.setSize({ width: w, height: u.height });
    });
    ro.observe(root);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [props.xs, props.series, props.unit, props.markers, props.bands, props.exemplars, props.height, props.stacked]);

  return <div class="chart" ref={el} />;
}

function axisSize(values: string[] | null): number {
  const longest = Math.max(3, ...(values ?? []).map((v) => (v ?? '').length));
  return 24 + longest * 7.5;
}

function lastValue(vs: (number | null)[] | undefined): number | null {
  for (let i = (vs?.length ?? 0) - 1; i >= 0; i--) if (vs![i] != null) return vs![i];
  return null;
}

function fade(color: string): string {
  return color.length === 7 ? `${color}99` : color;
}

function drawBands(u: uPlot, bands: AlertBand[]) {
  const ctx = u.ctx;
  const { top, height } = u.bbox;
  ctx.save();
  for (const b of bands) {
    const x0 = Math.max(u.bbox.left, u.valToPos(b.start / 1000, 'x', true));
    const x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(b.end / 1000, 'x', true));
    if (x1 <= x0) continue;
    ctx.fillStyle = b.state === 'firing' ? 'rgba(239, 68, 68, 0.12)' : 'rgba(245, 158, 11, 0.12)';
    ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
  }
  ctx.restore();
}

/** Draws the change markers' lines and places the flags, exemplar links and band titles over the plot. */
function drawOverlay(u: uPlot, overlay: HTMLDivElement, p: ChartProps) {
  const ctx = u.ctx;
  const { top, height, left, width } = u.bbox;
  const [xmin, xmax] = [u.scales.x.min ?? 0, u.scales.x.max ?? 0];
  overlay.replaceChildren();
  ctx.save();
  ctx.strokeStyle = '#7c3aed';
  ctx.lineWidth = Math.max(1, devicePixelRatio);
  ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
  for (const m of p.markers ?? []) {
    const t = m.time / 1000;
    if (t < xmin || t > xmax) continue;
    const x = Math.round(u.valToPos(t, 'x', true));
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    const flag = document.createElement(m.href ? 'a' : 'span');
    flag.className = 'change-flag';
    flag.title = m.title;
    flag.setAttribute('aria-label', `change: ${m.title}`);
    if (m.href) (flag as HTMLAnchorElement).href = m.href;
    flag.style.left = `${u.valToPos(t, 'x')}px`;
    flag.textContent = '◆';
    overlay.appendChild(flag);
  }
  ctx.restore();
  for (const b of p.bands ?? []) {
    const x0 = Math.max(0, u.valToPos(b.start / 1000, 'x'));
    const x1 = Math.min(width / devicePixelRatio, u.valToPos(b.end / 1000, 'x'));
    if (x1 <= x0) continue;
    const s = document.createElement('span');
    s.className = `alert-band alert-band-${b.state}`;
    s.title = b.title;
    s.style.left = `${x0}px`;
    s.style.width = `${x1 - x0}px`;
    overlay.appendChild(s);
  }
  const ex = thin(p.exemplars ?? [], MAX_EXEMPLARS);
  const ymin = u.scales.y.min ?? 0;
  const ymax = u.scales.y.max ?? 0;
  for (const e of ex) {
    const t = e.time / 1000;
    if (t < xmin || t > xmax || e.value < ymin || e.value > ymax) continue;
    const a = document.createElement('a');
    a.className = 'exemplar';
    a.href = p.traceHref ? p.traceHref(e.traceId) : `/trace/${e.traceId}`;
    a.title = e.title;
    a.setAttribute('aria-label', `exemplar trace ${e.traceId}: ${e.title}`);
    a.dataset.traceId = e.traceId;
    a.style.left = `${u.valToPos(t, 'x')}px`;
    a.style.top = `${u.valToPos(e.value, 'y')}px`;
    overlay.appendChild(a);
  }
  void left;
}

/** At most n exemplars, keeping the slowest of each time slot so the outliers stay. */
export function thin(ex: Exemplar[], n: number): Exemplar[] {
  if (ex.length <= n) return ex;
  const sorted = [...ex].sort((a, b) => a.time - b.time);
  const t0 = sorted[0].time;
  const span = sorted[sorted.length - 1].time - t0 || 1;
  const slots = new Map<number, Exemplar>();
  for (const e of sorted) {
    const k = Math.min(n - 1, Math.floor(((e.time - t0) / span) * n));
    const cur = slots.get(k);
    if (!cur || e.value > cur.value) slots.set(k, e);
  }
  return [...slots.values()];
}
