// Explore (/explore?mode=metrics|logs|traces&q=...): one page, three
// signals, the page's time range shared by all. Metrics: PromQL with
// autocomplete, the graph (exemplars and the comparison, GraphPanel) and a
// table of the values at the range's end. Logs: LogQL, the volume by level,
// the lines with level colours, expandable fields, their context and live
// tail, a trace_id linking to its trace; a metric LogQL query is graphed.
// Traces: TraceQL, a duration-over-time scatter (drag: that time and
// duration become the query) and the matching traces. Loaded on demand,
// with CodeMirror and the grammars.

import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { lokiPatterns, queryInstant } from '../api/horus';
import { isAbort } from '../api/client';
import { lokiLinesNs, lokiQueryRange, type LokiStream, tempoSearch, type TraceMeta } from '../api/signals';
import { GraphPanel } from '../components/GraphPanel';
import { Panel } from '../components/Panel';
import { QueryEditor } from '../components/QueryEditor';
import { TimeSeriesChart } from '../components/TimeSeriesChart';
import { RunStatus } from '../components/RunStatus';
import { type App, TrackLoads, useApi, useApp, useLoadTracker } from '../lib/app';
import { colorFor, formatSeconds, formatValue, type Unit } from '../lib/format';
import { links } from '../lib/links';
import {
  contextSelector,
  flattenStreams,
  isMetricLogQL,
  LEVEL_COLORS,
  type LogLine,
  NOISY_LABELS,
  traceLogsQuery,
} from '../lib/logs';
import { patternRows, sparkPoints } from '../lib/patterns';
import { advanceTail, prependTail, type TailCursor } from '../lib/tail';
import { patternQuery } from '../lib/queries';
import { formatAbsolute, grid } from '../lib/time';
import { patch } from '../lib/url';
import { nsToMs, padTraceId } from '../lib/trace';
import './signals.css';

type Mode = 'metrics' | 'logs' | 'traces';

const MODES: [Mode, string][] = [
  ['metrics', 'Metrics (PromQL)'],
  ['logs', 'Logs (LogQL)'],
  ['traces', 'Traces (TraceQL)'],
];

const EXAMPLES: Record<Mode, string[]> = {
  metrics: [
    'sum by (service) (rate(traces_spanmetrics_calls_total{span_kind="SPAN_KIND_SERVER"}[1m]))',
    'histogram_quantile(0.99, sum by (service, le) (rate(traces_spanmetrics_latency_bucket{span_kind="SPAN_KIND_SERVER"}[1m])))',
  ],
  logs: ['{service_name=~".+", level="error"}', 'sum by (service_name) (count_over_time({service_name=~".+"} |= "timeout" [1m]))'],
  traces: ['{ status = error }', '{ resource.service.name = "orders" && duration > 100ms }'],
};

const LANG = { metrics: 'promql', logs: 'logql', traces: 'traceql' } as const;

export default function ExplorePage() {
  const app = useApp();
  const mode = (['metrics', 'logs', 'traces'].includes(app.query.get('mode') ?? '') ? app.query.get('mode') : 'metrics') as Mode;
  const q = app.query.get('q') ?? '';
  const draft = useRef(q);
  useEffect(() => {
    draft.current = q;
  }, [q]);
  const tracker = useLoadTracker();
  // The same query again reloads it (after a cancel, say).
  const run = (v: string) => (v.trim() === q ? app.refresh() : app.setParams({ q: v.trim() || null }));
  return (
    <div class="page" data-testid="page-explore">
      <h1>Explore</h1>
      <div class="explore-bar">
        <nav class="segmented" aria-label="Signal">
          {MODES.map(([m, label]) => (
            <button
              type="button"
              key={m}
              aria-pressed={mode === m}
              class={mode === m ? 'active' : ''}
              onClick={() => app.setParams({ mode: m, q: null })}
            >
              {label}
            </button>
          ))}
        </nav>
        <span class="hint">Ctrl-Enter runs the query; it is kept in the URL with the time range.</span>
      </div>
      <section class="panel">
        <QueryEditor
          key={mode}
          language={LANG[mode]}
          value={q}
          placeholder={`${LANG[mode] === 'promql' ? 'PromQL' : LANG[mode] === 'logql' ? 'LogQL' : 'TraceQL'}, e.g. ${EXAMPLES[mode][0]}`}
          onChange={(v) => (draft.current = v)}
          onSubmit={run}
        />
        <div class="explore-bar">
          <button type="button" class="run" onClick={() => run(draft.current)} data-testid="run-query">
            Run query
          </button>
          <RunStatus tracker={tracker} onRerun={app.refresh} />
          <span class="hint">
            Examples:{' '}
            {EXAMPLES[mode].map((e, i) => (
              <span key={e}>
                {i > 0 && ' · '}
                <a href={links.explore(mode, e, app.query)}>
                  <code>{e.length > 70 ? `${e.slice(0, 67)}…` : e}</code>
                </a>
              </span>
            ))}
          </span>
        </div>
      </section>
      <TrackLoads tracker={tracker}>
      {!q ? (
        <p class="empty">Write a query, or pick an example.</p>
      ) : mode === 'metrics' ? (
        <MetricsResults q={q} />
      ) : mode === 'logs' ? (
        isMetricLogQL(q) ? (
          <GraphPanel title="Result" unit="short" queries={[{ expr: q, lang: 'logql' }]} testid="explore-graph" />
        ) : (
          <LogsResults q={q} />
        )
      ) : (
        <TracesResults q={q} />
      )}
      </TrackLoads>
    </div>
  );
}

function unitOf(q: string): Unit {
  if (/seconds|duration|latency|histogram_quantile/.test(q) && !/_total|_count\b/.test(q.replace(/_bucket/g, ''))) return 'seconds';
  if (/bytes/.test(q)) return 'bytes';
  if (/rate\(|irate\(/.test(q)) return 'reqps';
  return 'short';
}

function MetricsResults({ q }: { q: string }) {
  const app = useApp();
  const unit = unitOf(q);
  const stacked = app.query.get('graph') === 'stacked';
  const table = useApi((o) => queryInstant(q, app.aligned.end, o), [q, app.aligned.end]);
  const rows = useMemo(() => [...(table.data ?? [])].sort((a, b) => parseFloat(b.value[1]) - parseFloat(a.value[1])), [table.data]);
  return (
    <>
      <GraphPanel
        title="Graph"
        unit={unit}
        queries={[{ expr: q }]}
        exemplars={q}
        testid="explore-graph"
        stacked={stacked}
        actions={
          <Segmented
            label="Graph style"
            value={stacked ? 'stacked' : 'lines'}
            options={[
              ['lines', 'Lines'],
              ['stacked', 'Stacked'],
            ]}
            onChange={(v) => app.setParams({ graph: v === 'stacked' ? v : null }, true)}
            testid="graph-style"
          />
        }
      />
      <Panel
        title={`Table at ${new Date(app.aligned.end).toLocaleTimeString()}`}
        loading={table.loading}
        error={table.error}
        empty={table.data && rows.length === 0 && 'No series at the end of the range.'}
        testid="explore-table"
      >
        <table class="table">
          <thead>
            <tr>
              <th>series</th>
              <th class="num">value</th>
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, 500).map((r) => {
              const labels = Object.entries(r.metric)
                .map(([k, v]) => `${k}="${v}"`)
                .join(', ');
              return (
                <tr key={labels}>
                  <td>
                    <code>{`{${labels}}`}</code>
                  </td>
                  <td class="num">{formatValue(parseFloat(r.value[1]), unit)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {rows.length > 500 && <p class="sub">the first 500 of {rows.length} series</p>}
      </Panel>
    </>
  );
}

const LEVEL_ORDER = ['error', 'warn', 'info', 'debug', 'unknown'];

function LogsResults({ q }: { q: string }) {
  const app = useApp();
  const { aligned, step } = app;
  const [tail, setTail] = useState<LogLine[] | null>(null);
  const lines = useApi(
    (o) =>
      lokiQueryRange(q, aligned.start, aligned.end, o, { limit: 500 }).then((r) =>
        r.resultType === 'streams' ? flattenStreams(r.result) : [],
      ),
    [q, aligned.start, aligned.end],
  );
  const volumeQuery = `sum by (level) (count_over_time(${q} [${Math.max(1, Math.round(step / 1000))}s]))`;
  const volume = useApi(
    (o) => lokiQueryRange(volumeQuery, aligned.start, aligned.end, o, { step }),
    [volumeQuery, aligned.start, aligned.end, step],
  );
  const xs = useMemo(() => grid(aligned, step), [aligned.start, aligned.end, step]);
  const series = useMemo(() => {
    if (!volume.data || volume.data.resultType !== 'matrix') return [];
    return [...volume.data.result]
      .map((s) => {
        const level = normLevel(s.metric.level);
        const byT = new Map(s.values.map(([t, v]) => [Math.round(t * 1000), parseFloat(v)]));
        return { label: level, color: LEVEL_COLORS[level], values: xs.map((x) => byT.get(x) ?? 0) };
      })
      .sort((a, b) => LEVEL_ORDER.indexOf(a.label) - LEVEL_ORDER.indexOf(b.label));
  }, [volume.data, xs]);
  const shown = tail ?? lines.data ?? [];
  const view = app.query.get('view') === 'patterns' ? 'patterns' : 'lines';
  const viewSwitch = (
    <Segmented
      label="Lines or patterns"
      value={view}
      options={[
        ['lines', 'Lines'],
        ['patterns', 'Patterns'],
      ]}
      onChange={(v) => app.setParams({ view: v === 'patterns' ? v : null })}
      testid="logs-view"
    />
  );
  return (
    <>
      <Panel title="Volume by level" loading={volume.loading} error={volume.error} empty={volume.data && series.length === 0 && 'No lines.'} testid="logs-volume">
        {series.length > 0 && (
          <TimeSeriesChart
            xs={xs}
            series={series}
            unit="short"
            height={150}
            range={aligned}
            onZoom={(s, e) => app.setGlobal({ range: { from: formatAbsolute(s), to: formatAbsolute(e) }, refresh: '' })}
          />
        )}
      </Panel>
      {view === 'patterns' ? (
        <PatternsPanel q={q} app={app} xs={xs} actions={viewSwitch} />
      ) : (
      <Panel
        title={tail ? `Live: ${tail.length} lines` : `Lines${lines.data ? (lines.data.length >= 500 ? ' (the newest 500)' : ` (${lines.data.length})`) : ''}`}
        loading={!tail && lines.loading}
        error={lines.error}
        empty={!tail && lines.data && lines.data.length === 0 && 'No lines match in this range.'}
        testid="logs-lines"
        actions={
          <>
            {viewSwitch}
            <TailButton q={q} app={app} onLines={setTail} />
          </>
        }
      >
        <div class="log-scroll">
          <ul class="log-lines" data-testid="log-lines">
            {shown.map((l) => (
              <ExploreLine key={l.key} l={l} app={app} />
            ))}
          </ul>
        </div>
      </Panel>
      )}
    </>
  );
}

/** Buttons of which one is pressed (a choice kept in the URL by onChange). */
function Segmented(props: { label: string; value: string; options: [string, string][]; onChange: (v: string) => void; testid?: string }) {
  return (
    <nav class="segmented" aria-label={props.label} data-testid={props.testid}>
      {props.options.map(([v, text]) => (
        <button type="button" key={v} aria-pressed={props.value === v} class={props.value === v ? 'active' : ''} onClick={() => props.onChange(v)}>
          {text}
        </button>
      ))}
    </nav>
  );
}

/**
 * The query's log patterns (Loki's /loki/api/v1/patterns over the range,
 * counted per step of the page): each with its count and sparkline; a click
 * filters the lines to it with Loki's pattern filter `|> "<pattern>"`, as
 * Grafana's Logs Drilldown does.
 */
function PatternsPanel({ q, app, xs, actions }: { q: string; app: App; xs: number[]; actions: ComponentChildren }) {
  const { aligned, step } = app;
  const res = useApi((o) => lokiPatterns(q, aligned.start, aligned.end, o, step), [q, aligned.start, aligned.end, step]);
  const rows = useMemo(() => patternRows(res.data ?? [], aligned.start, step, xs.length), [res.data, aligned.start, step, xs.length]);
  const total = rows.reduce((a, r) => a + r.total, 0);
  return (
    <Panel
      title={`Patterns${res.data ? ` (${rows.length})` : ''}`}
      help="The templates of the query's newest lines (variable words as <_>), most frequent first; click one to see its lines"
      loading={res.loading}
      error={res.error}
      empty={res.data && rows.length === 0 && 'No lines match in this range.'}
      testid="logs-patterns"
      actions={actions}
    >
      <div class="log-scroll">
        <table class="table patterns-table" data-testid="patterns-list">
          <thead>
            <tr>
              <th class="num">lines</th>
              <th class="num">share</th>
              <th>over time</th>
              <th>pattern</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.pattern}>
                <td class="num">{r.total}</td>
                <td class="num">{total ? `${((r.total / total) * 100).toFixed(1)}%` : ''}</td>
                <td>
                  <svg class="spark" width={SPARK_W} height={SPARK_H} viewBox={`0 0 ${SPARK_W} ${SPARK_H}`} aria-hidden="true">
                    <polyline points={sparkPoints(r.counts, SPARK_W, SPARK_H - 2)} transform="translate(0 1)" />
                  </svg>
                </td>
                <td>
                  <a
                    href={patch(app.path, app.query, { q: patternQuery(q, r.pattern), view: null })}
                    title="Show the lines of this pattern"
                    data-testid="pattern-link"
                  >
                    <code>{r.pattern}</code>
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Panel>
  );
}

const SPARK_W = 140;
const SPARK_H = 24;

function normLevel(l: string | undefined): string {
  const v = (l ?? '').toLowerCase();
  if (['error', 'err', 'critical', 'fatal'].includes(v)) return 'error';
  if (['warn', 'warning'].includes(v)) return 'warn';
  if (['info', 'debug'].includes(v)) return v;
  return 'unknown';
}

const time = (ms: number) => {
  const d = new Date(ms);
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
};

function ExploreLine({ l, app, anchor }: { l: LogLine; app: App; anchor?: boolean }) {
  const [open, setOpen] = useState(false);
  const [context, setContext] = useState<LogLine[] | null | 'loading' | Error>(null);
  const showContext = async () => {
    setContext('loading');
    const sel = contextSelector(l.labels);
    try {
      const o = { tenant: app.global.tenant || undefined };
      const [before, after] = await Promise.all([
        lokiQueryRange(sel, l.time - 3600_000, l.time, o, { limit: 10, direction: 'backward' }),
        lokiQueryRange(sel, l.time + 0.001, l.time + 3600_000, o, { limit: 10, direction: 'forward' }),
      ]);
      const streams = (r: typeof before) => (r.resultType === 'streams' ? r.result : ([] as LokiStream[]));
      const all = flattenStreams([...streams(before), ...streams(after)], true).filter((x) => x.ns !== l.ns || x.line !== l.line);
      const i = all.findIndex((x) => x.time > l.time);
      all.splice(i < 0 ? all.length : i, 0, { ...l, key: 'anchor' });
      setContext(all);
    } catch (e) {
      setContext(e as Error);
    }
  };
  const fields = Object.entries(l.labels).filter(([k]) => !NOISY_LABELS.has(k));
  return (
    <li>
      <div class={`log-line expandable level-${l.level}${anchor ? ' anchor' : ''}`} onClick={() => setOpen(!open)} aria-expanded={open}>
        <span class="log-time">{time(l.time)}</span>
        <span class="log-level" style={{ color: LEVEL_COLORS[l.level] }}>
          {l.level}
        </span>
        {l.service && (
          <span class="log-svc" style={{ color: colorFor(l.service) }}>
            {l.service}
          </span>
        )}
        <span class="log-text">{l.line}</span>
        {l.traceId && (
          <a class="log-trace" href={links.trace(l.traceId, app.query, l.spanId || undefined)} onClick={(e) => e.stopPropagation()} data-testid="log-trace-link">
            trace ›
          </a>
        )}
      </div>
      {open && (
        <div class="log-fields">
          <div class="actions">
            {!anchor && (
              <button type="button" class="linkish" onClick={showContext}>
                show context
              </button>
            )}
            {l.traceId && <a href={links.explore('logs', traceLogsQuery(l.traceId), app.query)}>all lines of the trace</a>}
            {l.service && <a href={links.service(l.service, app.query)}>service {l.service}</a>}
          </div>
          <table class="attrs">
            <tbody>
              {fields.map(([k, v]) => (
                <tr key={k}>
                  <th>{k}</th>
                  <td>{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {context === 'loading' && <p class="sub">loading the lines around it…</p>}
          {context instanceof Error && <p class="error-inline">{context.message}</p>}
          {Array.isArray(context) && (
            <ul class="log-lines context" aria-label="Context">
              {context.map((c) => (
                <ExploreLine key={c.key} l={c} app={app} anchor={c.key === 'anchor'} />
              ))}
            </ul>
          )}
        </div>
      )}
    </li>
  );
}

/**
 * Live tail: new lines on top, the newest 500 kept. It polls Loki's
 * query_range every second with the tenant header (lib/tail.ts), as
 * Horus' /loki/api/v1/tail polls its store: a browser cannot put
 * X-Scope-OrgID on a WebSocket, and Horus takes the tenant from the
 * header alone, as Loki does.
 */
function TailButton({ q, app, onLines }: { q: string; app: App; onLines: (l: LogLine[] | null) => void }) {
  const [on, setOn] = useState(false);
  const [error, setError] = useState('');
  const tenant = app.global.tenant || undefined;
  useEffect(() => {
    if (!on) return;
    const ctl = new AbortController();
    let shown: LogLine[] = [];
    let cursor: TailCursor | null = null;
    let seq = 0;
    let timer = 0;
    onLines([]);
    setError('');
    const poll = async () => {
      const end = `${Date.now()}000000`;
      const first = cursor === null;
      try {
        const r = await lokiLinesNs(q, first ? `${Date.now() - 3600_000}000000` : cursor!.ns, end, TAIL_LIMIT,
          first ? 'backward' : 'forward', { signal: ctl.signal, tenant });
        const next = advanceTail(cursor, r.resultType === 'streams' ? flattenStreams(r.result) : [], end);
        cursor = next.cursor;
        if (next.fresh.length > 0) {
          shown = prependTail(shown, next.fresh.map((l) => ({ ...l, key: `t${seq++}` })), 500);
          onLines(shown);
        }
        // A full poll may have left lines behind: fetch them at once.
        timer = window.setTimeout(poll, !first && next.fresh.length >= TAIL_LIMIT ? 0 : 1000);
      } catch (err) {
        if (isAbort(err)) return;
        setError(err instanceof Error ? err.message : String(err));
        setOn(false);
      }
    };
    void poll();
    return () => {
      ctl.abort();
      window.clearTimeout(timer);
      onLines(null);
    };
  }, [on, q, tenant]);
  return (
    <>
      {error && (
        <span class="error-inline" role="alert" data-testid="live-tail-error">
          Live tail stopped: {error}
        </span>
      )}
      <button type="button" aria-pressed={on} class={on ? 'active' : ''} onClick={() => setOn(!on)} data-testid="live-tail">
        {on ? '■ Stop live' : '▶ Live tail'}
      </button>
    </>
  );
}

/** Lines per poll of the live tail (the first: the newest this many of the last hour). */
const TAIL_LIMIT = 100;

interface TraceRow {
  id: string;
  start: number;
  durationMs: number;
  service: string;
  name: string;
  spans: number;
  errors: number;
  services: string[];
}

function rowOf(t: TraceMeta): TraceRow {
  const stats = Object.entries(t.serviceStats ?? {});
  return {
    id: padTraceId(t.traceID),
    start: nsToMs(t.startTimeUnixNano),
    durationMs: t.durationMs ?? 0,
    service: t.rootServiceName ?? '',
    name: t.rootTraceName ?? '',
    spans: stats.reduce((a, [, s]) => a + s.spanCount, 0),
    errors: stats.reduce((a, [, s]) => a + (s.errorCount ?? 0), 0),
    services: stats.map(([n]) => n),
  };
}

function TracesResults({ q }: { q: string }) {
  const app = useApp();
  const { aligned } = app;
  const res = useApi((o) => tempoSearch(q, aligned.start, aligned.end, 200, o).then((ts) => ts.map(rowOf)), [q, aligned.start, aligned.end]);
  const rows = useMemo(() => [...(res.data ?? [])].sort((a, b) => b.start - a.start), [res.data]);
  const select = (t0: number, t1: number, d0: number, d1: number) => {
    const simple = /^\{[^{}]*\}$/.test(q.trim());
    const dur = `trace:duration >= ${Math.max(0, Math.floor(d0))}ms && trace:duration <= ${Math.ceil(d1)}ms`;
    app.setParams({
      from: formatAbsolute(t0),
      to: formatAbsolute(t1),
      refresh: null,
      q: simple ? `${q.trim().slice(0, -1).trim()}${q.trim() === '{}' || q.trim() === '{ }' ? '' : ' &&'} ${dur} }`.replace('{ &&', '{') : q,
    });
  };
  return (
    <>
      <Panel title="Duration over time" help="Each dot a trace (red: with errors); click one to open it, drag over dots to query that time and duration." loading={res.loading} error={res.error} empty={res.data && rows.length === 0 && 'No traces match in this range.'} testid="traces-scatter">
        {rows.length > 0 && <Scatter rows={rows} range={aligned} onOpen={(id) => app.navigate(links.trace(id, app.query))} onSelect={select} />}
      </Panel>
      {rows.length > 0 && (
        <Panel title={`Traces (${rows.length}${rows.length >= 200 ? ': the search limit, narrow the range or the query for more' : ''})`} testid="traces-table">
          <div class="log-scroll">
          <table class="table" data-testid="traces-list">
            <thead>
              <tr>
                <th>root service: name</th>
                <th>start</th>
                <th class="num">duration</th>
                <th class="num">spans</th>
                <th class="num">errors</th>
                <th>services</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id}>
                  <td>
                    <a href={links.trace(r.id, app.query)}>
                      <b style={{ color: colorFor(r.service) }}>{r.service}</b>: {r.name || r.id.slice(0, 16)}
                    </a>
                  </td>
                  <td>{time(r.start)}</td>
                  <td class="num">{formatSeconds(r.durationMs / 1000)}</td>
                  <td class="num">{r.spans || '–'}</td>
                  <td class={`num${r.errors ? ' err' : ''}`}>{r.errors}</td>
                  <td class="sub">{r.services.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        </Panel>
      )}
    </>
  );
}

function Scatter(props: {
  rows: TraceRow[];
  range: { start: number; end: number };
  onOpen: (id: string) => void;
  onSelect: (t0: number, t1: number, d0: number, d1: number) => void;
}) {
  const el = useRef<HTMLDivElement>(null);
  const ref = useRef(props);
  ref.current = props;
  useEffect(() => {
    const root = el.current!;
    const rows = [...props.rows].sort((a, b) => a.start - b.start);
    const xs = rows.map((r) => r.start / 1000);
    const ok = rows.map((r) => (r.errors ? null : r.durationMs / 1000));
    const bad = rows.map((r) => (r.errors ? r.durationMs / 1000 : null));
    const point = (fill: string, stroke: string) => ({ show: true, size: 7, fill, stroke, width: 1 });
    const u = new uPlot(
      {
        width: Math.max(300, root.clientWidth),
        height: 200,
        mode: 1,
        cursor: { drag: { x: true, y: true, setScale: false }, points: { show: false } },
        select: { show: true, left: 0, top: 0, width: 0, height: 0 },
        legend: { show: false },
        scales: { x: { time: true, range: [props.range.start / 1000, props.range.end / 1000] }, y: { range: (_u, _min, max) => [0, (max || 1) * 1.1] } },
        axes: [
          { stroke: '#6b7280', space: 95, grid: { stroke: '#e5e7eb', width: 1 } },
          { stroke: '#6b7280', size: 64, grid: { stroke: '#e5e7eb', width: 1 }, values: (_u, s) => s.map((v) => formatSeconds(v)) },
        ],
        series: [
          {},
          { label: 'ok', stroke: '#3b82f6', paths: () => null, points: point('rgba(59,130,246,0.55)', '#2563eb') },
          { label: 'errors', stroke: '#dc2626', paths: () => null, points: point('rgba(220,38,38,0.75)', '#991b1b') },
        ],
        hooks: {
          setSelect: [
            (u) => {
              const s = u.select;
              if (s.width < 5 && s.height < 5) return;
              const t0 = u.posToVal(s.left, 'x') * 1000;
              const t1 = u.posToVal(s.left + s.width, 'x') * 1000;
              const d1 = u.posToVal(s.top, 'y') * 1000;
              const d0 = u.posToVal(s.top + s.height, 'y') * 1000;
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              ref.current.onSelect(t0, t1, d0, d1);
            },
          ],
        },
      },
      [xs, ok, bad],
      root,
    );
    // A click (no drag) opens the nearest trace within 8 px.
    const over = u.over;
    let down: [number, number] | null = null;
    over.addEventListener('mousedown', (e) => (down = [e.clientX, e.clientY]));
    over.addEventListener('mouseup', (e) => {
      if (!down || Math.abs(e.clientX - down[0]) > 3 || Math.abs(e.clientY - down[1]) > 3) return;
      const r = over.getBoundingClientRect();
      const x = e.clientX - r.left;
      const y = e.clientY - r.top;
      let best = -1;
      let bd = 64;
      rows.forEach((row, i) => {
        const dx = u.valToPos(xs[i], 'x') - x;
        const dy = u.valToPos(row.durationMs / 1000, 'y') - y;
        const d = dx * dx + dy * dy;
        if (d < bd) {
          bd = d;
          best = i;
        }
      });
      if (best >= 0) ref.current.onOpen(rows[best].id);
    });
    over.style.cursor = 'crosshair';
    over.dataset.testid = 'scatter-plot';
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(300, root.clientWidth), height: 200 }));
    ro.observe(root);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, [props.rows, props.range.start, props.range.end]);
  return <div class="chart scatter" ref={el} />;
}
