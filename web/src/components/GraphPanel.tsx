// A graph of one or more PromQL queries over the page's range, with the
// comparison the URL asks for, exemplars, change markers and alert bands.

import type { ComponentChildren } from 'preact';
import { useMemo } from 'preact/hooks';
import { lokiQueryRange, queryExemplars, queryRange } from '../api/horus';
import type { Labels, MatrixSeries } from '../api/types';
import { useApi, useApp } from '../lib/app';
import { colorFor, PALETTE, type Unit } from '../lib/format';
import { links } from '../lib/links';
import { alignShifted, compareLabel, compareOffset, formatAbsolute, grid } from '../lib/time';
import { Panel } from './Panel';
import { type AlertBand, type ChangeMarker, type ChartSeries, type Exemplar, TimeSeriesChart } from './TimeSeriesChart';

export interface QuerySpec {
  expr: string;
  /** The legend of a series; the query's label set by default. */
  legend?: (m: Labels) => string;
  /** A fixed colour; by legend otherwise. */
  color?: string;
  /** The query's language: PromQL (default) or a LogQL metric query (Loki's query_range). */
  lang?: 'promql' | 'logql';
  /** Keeps only the series it accepts (e.g. the one of an alert). */
  filter?: (m: Labels) => boolean;
}

export interface GraphPanelProps {
  title: string;
  help?: string;
  unit: Unit;
  queries: QuerySpec[];
  /** A query whose exemplars (with a trace_id) are drawn as dots. */
  exemplars?: string;
  markers?: ChangeMarker[];
  bands?: AlertBand[];
  empty?: string;
  testid?: string;
  /**
   * The investigation of what this graph shows (GET /api/v1/investigate's
   * parameters without the window, e.g. {service, signal: 'errors'}): the
   * panel links to it over the range shown, which a drag on the graph
   * narrows to the region selected.
   */
  investigate?: Record<string, string>;
  /** Stacked areas instead of lines (TimeSeriesChart's stacked). */
  stacked?: boolean;
  /** More controls in the panel's header, before Investigate. */
  actions?: ComponentChildren;
}

interface Loaded {
  xs: number[];
  series: ChartSeries[];
  exemplars: Exemplar[];
  /** A comparison was asked for and has no data. */
  noComparison: boolean;
}

export function GraphPanel(p: GraphPanelProps) {
  const app = useApp();
  const { aligned, step, global } = app;
  const offset = compareOffset(global.compare, aligned);
  const key = p.queries.map((q) => `${q.lang ?? ''}${q.expr}`).join('\n');
  const res = useApi(
    async (o): Promise<Loaded> => {
      const xs = grid(aligned, step);
      const run = (q: QuerySpec, start: number, end: number) =>
        (q.lang === 'logql' ? lokiQueryRange : queryRange)(q.expr, start, end, step, o).then((r) =>
          q.filter ? r.filter((s) => q.filter!(s.metric)) : r,
        );
      const main = p.queries.map((q) => run(q, aligned.start, aligned.end));
      const cmp = offset ? p.queries.map((q) => run(q, aligned.start - offset, aligned.end - offset)) : [];
      const ex = p.exemplars ? queryExemplars(p.exemplars, aligned.start, aligned.end, o) : Promise.resolve([]);
      const [m, c, e] = await Promise.all([Promise.all(main), Promise.all(cmp), ex]);
      const series: ChartSeries[] = [];
      let n = 0;
      m.forEach((result, qi) => {
        for (const s of sorted(result)) {
          const label = legendOf(p.queries[qi], s.metric);
          const color = p.queries[qi].color ?? PALETTE[n % PALETTE.length];
          series.push({ label, color, values: alignShifted(xs, step, samples(s), 0) });
          n++;
        }
      });
      c.forEach((result, qi) => {
        for (const s of sorted(result)) {
          const label = legendOf(p.queries[qi], s.metric);
          const main = series.find((x) => x.label === label);
          series.push({
            label: `${label} (${compareLabel(global.compare)})`,
            color: main?.color ?? colorFor(label),
            values: alignShifted(xs, step, samples(s), offset),
            comparison: true,
          });
        }
      });
      const exemplars: Exemplar[] = [];
      for (const s of e) {
        for (const x of s.exemplars) {
          const id = x.labels.trace_id ?? x.labels.traceID ?? x.labels.traceId;
          if (!id) continue;
          const v = parseFloat(x.value);
          exemplars.push({
            time: x.timestamp * 1000,
            value: v,
            traceId: id,
            title: `trace ${id.slice(0, 12)}… at ${new Date(x.timestamp * 1000).toLocaleTimeString()}`,
          });
        }
      }
      return { xs, series, exemplars, noComparison: offset > 0 && c.every((r) => r.length === 0) };
    },
    [key, aligned.start, aligned.end, step, offset, p.exemplars],
  );
  const data = res.data;
  const exemplars = useMemo(() => data?.exemplars ?? [], [data]);
  const zoom = (start: number, end: number) =>
    app.setGlobal({ range: { from: formatAbsolute(start), to: formatAbsolute(end) }, refresh: '' });
  const empty = data && data.series.filter((s) => !s.comparison).length === 0 ? (p.empty ?? 'No data in this range.') : false;
  return (
    <Panel
      title={p.title}
      help={p.help}
      loading={res.loading}
      error={res.error}
      empty={empty}
      testid={p.testid}
      actions={
        <>
          {data?.noComparison && !empty && <span class="muted">no data {compareLabel(global.compare)}</span>}
          {p.actions}
          {p.investigate && (
            <a
              class="investigate-link"
              data-testid="graph-investigate"
              title="Investigate this range: what differs in the bad requests, where, the logs, the changes"
              href={links.investigate(
                { ...p.investigate, start: new Date(aligned.start).toISOString(), end: new Date(aligned.end).toISOString() },
                app.query,
              )}
            >
              Investigate
            </a>
          )}
        </>
      }
    >
      {data ? (
        <TimeSeriesChart
          xs={data.xs}
          series={data.series}
          unit={p.unit}
          markers={p.markers}
          bands={p.bands}
          exemplars={exemplars}
          traceHref={(id) => links.trace(id, app.query)}
          onZoom={zoom}
          range={aligned}
          stacked={p.stacked}
        />
      ) : (
        <div class="chart-placeholder" />
      )}
    </Panel>
  );
}

function samples(s: MatrixSeries): [number, number][] {
  return s.values.map(([t, v]) => [t * 1000, parseFloat(v)]);
}

function legendOf(q: QuerySpec, m: Labels): string {
  if (q.legend) return q.legend(m);
  const parts = Object.entries(m)
    .filter(([k]) => k !== '__name__')
    .map(([k, v]) => `${k}="${v}"`);
  return parts.length ? `{${parts.join(', ')}}` : q.expr;
}

function sorted(r: MatrixSeries[]): MatrixSeries[] {
  return [...r].sort((a, b) => JSON.stringify(a.metric).localeCompare(JSON.stringify(b.metric)));
}
