// Layer 2, one service: the four golden signals over time (each with the
// comparison, change markers and alert bands), its routes (RED, sortable),
// its callers and callees, and its recent error log patterns.

import { useMemo } from 'preact/hooks';
import { changes, lokiPatterns, queryInstant, queryRange, serviceGraph } from '../api/horus';
import type { GraphEdge } from '../api/types';
import { GraphPanel } from '../components/GraphPanel';
import { Panel } from '../components/Panel';
import { type Column, Table } from '../components/Table';
import type { AlertBand, ChangeMarker } from '../components/TimeSeriesChart';
import { useApi, useApp } from '../lib/app';
import { formatPercent, formatRate, formatSeconds } from '../lib/format';
import { links } from '../lib/links';
import { bandsOf, logSelector, patternQuery, promString, routeQueries, serviceQueries } from '../lib/queries';
import { formatDuration, rateWindow } from '../lib/time';

export function ServicePage({ name }: { name: string }) {
  const app = useApp();
  const svc = decodeURIComponent(name);
  const q = app.query;
  const { start, end } = app.range;
  const w = rateWindow(app.step);
  const sq = useMemo(() => serviceQueries(svc, w), [svc, w]);

  const ch = useApi((o) => changes(start, end, o, svc), [svc, start, end]);
  const alertRes = useApi(
    (o) =>
      queryRange(
        `ALERTS{service=${promString(svc)}} or ALERTS{job=${promString(svc)}}`,
        app.aligned.start,
        app.aligned.end,
        app.step,
        o,
      ),
    [svc, app.aligned.start, app.aligned.end, app.step],
  );
  const markers: ChangeMarker[] = useMemo(
    () =>
      (ch.data ?? []).map((c) => ({
        time: Date.parse(c.time),
        title: `${c.kind}${c.version ? ` ${c.version}` : ''}${c.previousVersion ? ` (from ${c.previousVersion})` : ''}${c.instance ? ` on ${c.instance}` : ''}${c.author ? ` by ${c.author}` : ''} at ${new Date(c.time).toLocaleString()}${c.description ? `: ${c.description}` : ''}`,
        href: links.changes(q, svc),
      })),
    [ch.data],
  );
  const bands: AlertBand[] = useMemo(() => bandsOf(alertRes.data ?? [], app.step), [alertRes.data, app.step]);
  const firingNow = bands.filter((b) => b.state === 'firing' && b.end >= app.aligned.end - app.step);

  const common = { markers, bands };
  return (
    <div class="page">
      <div class="page-title">
        <h1>
          <a href={links.services(q)} class="crumb">
            Services
          </a>{' '}
          / {svc}
        </h1>
        <nav class="jump" aria-label="Explore this service">
          <a href={links.explore('traces', `{resource.service.name=${promString(svc)}}`, q)}>Traces</a>
          <a href={links.explore('logs', logSelector(svc), q)}>Logs</a>
          <a href={links.explore('metrics', sq.traffic, q)}>Metrics</a>
          <a href={links.changes(q, svc)}>Changes</a>
        </nav>
      </div>
      {firingNow.length > 0 && (
        <p class="banner banner-firing" role="status">
          Firing: {[...new Set(firingNow.map((b) => b.title))].join(', ')} — <a href={links.alerts(q)}>alerts</a>
        </p>
      )}
      {ch.error && <p class="warning">Change markers unavailable: {ch.error.message}</p>}
      <div class="grid2">
        <GraphPanel
          title="Latency"
          help="p50, p90 and p99 of the service's server spans; dots are exemplars (click: the trace)"
          unit="seconds"
          testid="graph-latency"
          queries={[
            { expr: sq.latency(0.5), legend: () => 'p50', color: '#10b981' },
            { expr: sq.latency(0.9), legend: () => 'p90', color: '#3b82f6' },
            { expr: sq.latency(0.99), legend: () => 'p99', color: '#8b5cf6' },
          ]}
          exemplars={sq.exemplars}
          empty="No server spans of this service in this range."
          investigate={{ service: svc, signal: 'latency' }}
          {...common}
        />
        <GraphPanel
          title="Traffic"
          help="Requests per second (server spans)"
          unit="reqps"
          testid="graph-traffic"
          queries={[{ expr: sq.traffic, legend: () => 'requests', color: '#3b82f6' }]}
          empty="No server spans of this service in this range."
          {...common}
        />
        <GraphPanel
          title="Errors"
          help="Failed requests per second: server spans with status error, and 5xx answers by HTTP status where the service exports http_requests_total"
          unit="reqps"
          testid="graph-errors"
          queries={[
            { expr: sq.spanErrors, legend: () => 'span status error', color: '#ef4444' },
            { expr: sq.httpErrors, legend: (m) => `HTTP ${m.status ?? '?'}` },
          ]}
          empty="No errors in this range."
          investigate={{ service: svc, signal: 'errors' }}
          {...common}
        />
        <GraphPanel
          title="Saturation: database pool"
          help="Connections in use over the pool's maximum, per instance and database (go_sql_* from the SDK's OpenDB)"
          unit="ratio"
          testid="graph-saturation"
          queries={[{ expr: sq.pool, legend: (m) => `${m.instance ?? ''} ${m.db_name ?? ''}`.trim() }]}
          empty="No database pool metrics (go_sql_*) for this service."
          {...common}
        />
        <GraphPanel
          title="CPU"
          help="CPU cores used, per instance (process_cpu_seconds_total)"
          unit="cores"
          testid="graph-cpu"
          queries={[{ expr: sq.cpu, legend: (m) => m.instance ?? svc }]}
          empty="No process metrics for this service."
          {...common}
        />
        <GraphPanel
          title="Memory"
          help="Resident memory per instance (process_resident_memory_bytes)"
          unit="bytes"
          testid="graph-memory"
          queries={[{ expr: sq.memory, legend: (m) => m.instance ?? svc }]}
          empty="No process metrics for this service."
          {...common}
        />
      </div>
      <RoutesPanel svc={svc} />
      <div class="grid2">
        <DependenciesPanel svc={svc} />
        <PatternsPanel svc={svc} />
      </div>
    </div>
  );
}

interface RouteRow {
  route: string;
  rate: number | null;
  errorRatio: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

function RoutesPanel({ svc }: { svc: string }) {
  const app = useApp();
  const q = app.query;
  const { start, end } = app.range;
  const window = formatDuration(Math.max(60_000, end - start));
  const res = useApi(
    async (o) => {
      const rq = routeQueries(svc, window);
      const [rate, errs, p50, p90, p99] = await Promise.all(
        [rq.rate, rq.errors, rq.latency(0.5), rq.latency(0.9), rq.latency(0.99)].map((x) => queryInstant(x, end, o)),
      );
      const rows = new Map<string, RouteRow>();
      const get = (r: string) => {
        let x = rows.get(r);
        if (!x) rows.set(r, (x = { route: r, rate: null, errorRatio: null, p50: null, p90: null, p99: null }));
        return x;
      };
      const val = (v: string) => {
        const f = parseFloat(v);
        return Number.isNaN(f) ? null : f;
      };
      for (const s of rate) get(s.metric.span_name ?? '').rate = val(s.value[1]);
      for (const s of errs) {
        const r = get(s.metric.span_name ?? '');
        const e = val(s.value[1]);
        r.errorRatio = r.rate && e !== null ? e / r.rate : 0;
      }
      for (const [k, vec] of [['p50', p50], ['p90', p90], ['p99', p99]] as const) {
        for (const s of vec) get(s.metric.span_name ?? '')[k] = val(s.value[1]);
      }
      for (const r of rows.values()) if (r.errorRatio === null && r.rate !== null) r.errorRatio = 0;
      return [...rows.values()];
    },
    [svc, start, end],
  );
  const columns: Column<RouteRow>[] = [
    {
      key: 'route',
      label: 'Route / operation',
      value: (r) => r.route,
      render: (r) => (
        <a
          href={links.explore('traces', `{resource.service.name=${promString(svc)} && name=${promString(r.route)}}`, q)}
          title="Its traces in Explore"
        >
          {r.route || '(no name)'}
        </a>
      ),
    },
    { key: 'rate', label: 'Rate', numeric: true, value: (r) => r.rate, render: (r) => fmt(r.rate, formatRate) },
    {
      key: 'errors',
      label: 'Errors',
      numeric: true,
      value: (r) => r.errorRatio,
      render: (r) => <span class={(r.errorRatio ?? 0) >= 0.01 ? 'bad' : ''}>{fmt(r.errorRatio, formatPercent)}</span>,
    },
    { key: 'p50', label: 'p50', numeric: true, value: (r) => r.p50, render: (r) => fmt(r.p50, formatSeconds) },
    { key: 'p90', label: 'p90', numeric: true, value: (r) => r.p90, render: (r) => fmt(r.p90, formatSeconds) },
    { key: 'p99', label: 'p99', numeric: true, value: (r) => r.p99, render: (r) => fmt(r.p99, formatSeconds) },
  ];
  return (
    <Panel
      title="Routes"
      help={`Rate, errors and latency of each route (server span name) over the range (${window})`}
      loading={res.loading}
      error={res.error}
      empty={res.data && res.data.length === 0 ? 'No server spans of this service in this range.' : false}
      testid="routes"
    >
      {res.data && (
        <Table label="Routes" testid="routes-table" columns={columns} rows={res.data} rowKey={(r) => r.route} defaultSort="rate" defaultDir="desc" />
      )}
    </Panel>
  );
}

function DependenciesPanel({ svc }: { svc: string }) {
  const app = useApp();
  const q = app.query;
  const { start, end } = app.range;
  const res = useApi((o) => serviceGraph(start, end, o), [start, end]);
  const g = res.data;
  const services = new Set((g?.nodes ?? []).filter((n) => n.type === 'service').map((n) => n.id));
  const callers = (g?.edges ?? []).filter((e) => e.target === svc);
  const callees = (g?.edges ?? []).filter((e) => e.source === svc);
  const row = (e: GraphEdge, other: string) => (
    <tr key={`${e.source}>${e.target}`}>
      <td>
        {services.has(other) ? <a href={links.service(other, q)}>{other}</a> : <span title={e.connectionType}>{other}</span>}
      </td>
      <td class="num">{formatRate(e.rate)}</td>
      <td class={`num ${e.errorRate >= 0.01 ? 'bad' : ''}`}>{formatPercent(e.errorRate)}</td>
      <td class="num">{e.p99Seconds != null ? formatSeconds(e.p99Seconds) : '–'}</td>
    </tr>
  );
  const table = (title: string, edges: GraphEdge[], other: (e: GraphEdge) => string, testid: string) => (
    <table class="table" aria-label={title} data-testid={testid}>
      <thead>
        <tr>
          <th>{title}</th>
          <th class="num">Rate</th>
          <th class="num">Errors</th>
          <th class="num">p99</th>
        </tr>
      </thead>
      <tbody>
        {edges.length ? (
          edges.map((e) => row(e, other(e)))
        ) : (
          <tr>
            <td colSpan={4} class="muted">
              none
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
  return (
    <Panel
      title="Dependencies"
      help="Callers and callees from the service graph (client/server span pairs) over the range"
      loading={res.loading}
      error={res.error}
      testid="dependencies"
    >
      {g && (
        <div class="deps">
          {table('Callers', callers, (e) => e.source, 'callers')}
          {table('Callees', callees, (e) => e.target, 'callees')}
        </div>
      )}
    </Panel>
  );
}

function PatternsPanel({ svc }: { svc: string }) {
  const app = useApp();
  const q = app.query;
  const { start, end } = app.range;
  const sel = logSelector(svc, true);
  const res = useApi((o) => lokiPatterns(sel, start, end, o), [sel, start, end]);
  const rows = (res.data ?? [])
    .map((p) => ({ pattern: p.pattern, count: p.samples.reduce((a, s) => a + Number(s[1]), 0) }))
    .sort((a, b) => b.count - a.count)
    .slice(0, 10);
  return (
    <Panel
      title="Error log patterns"
      help="The templates of the service's recent error lines (variable words as <_>), most frequent first"
      loading={res.loading}
      error={res.error}
      empty={res.data && rows.length === 0 ? 'No error logs in this range.' : false}
      testid="patterns"
      actions={<a href={links.explore('logs', sel, q)}>All error logs →</a>}
    >
      <ul class="patterns">
        {rows.map((r) => (
          <li key={r.pattern}>
            <span class="count">{r.count}</span>
            <a href={links.explore('logs', patternQuery(sel, r.pattern), q)} title="These lines in Explore">
              <code>{r.pattern}</code>
            </a>
          </li>
        ))}
      </ul>
    </Panel>
  );
}

function fmt(v: number | null, f: (n: number) => string) {
  return v === null ? <span class="muted">–</span> : f(v);
}
