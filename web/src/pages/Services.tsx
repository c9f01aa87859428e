// Layer 1, the home page: every service with its RED numbers, SLO budget,
// alerts and newest change, worst on top; and the service graph.

import { alerts, changes, lokiLabelValues, serviceGraph, services, slos } from '../api/horus';
import { Panel } from '../components/Panel';
import { ServiceGraphView } from '../components/ServiceGraphView';
import { type Column, Table } from '../components/Table';
import { useApi, useApp } from '../lib/app';
import { formatAgo, formatPercent, formatRate, formatSeconds } from '../lib/format';
import { links } from '../lib/links';
import { joinServices, type ServiceRow, worstFirst } from '../lib/services';

export function ServicesPage() {
  const app = useApp();
  const { start, end } = app.range;
  const rows = useApi(
    async (o) => {
      // SLOs, alerts, changes and log-only services are extras: their failure
      // leaves the table (and says so), the stats' failure is the page's.
      const soft = <T,>(p: Promise<T>, def: T, errs: string[], what: string) =>
        p.catch((e: Error) => {
          if (o.signal?.aborted) throw e;
          errs.push(`${what}: ${e.message}`);
          return def;
        });
      const errs: string[] = [];
      const [st, logs, sl, al, ch] = await Promise.all([
        services(start, end, o),
        soft(lokiLabelValues('service_name', start, end, o), [], errs, 'log services'),
        soft(slos(end, o), [], errs, 'SLOs'),
        soft(alerts(o), [], errs, 'alerts'),
        soft(changes(start, end, o), [], errs, 'changes'),
      ]);
      return { rows: joinServices(st, logs, sl, al, ch), hasSLOs: sl.length > 0, errs };
    },
    [start, end],
  );
  const graph = useApi((o) => serviceGraph(start, end, o), [start, end]);
  const data = rows.data;
  const q = app.query;

  const columns: Column<ServiceRow>[] = [
    {
      key: 'name',
      label: 'Service',
      value: (r) => r.name,
      render: (r) => (
        <a href={links.service(r.name, q)} class="service-link">
          {r.name}
        </a>
      ),
    },
    { key: 'rate', label: 'Rate', numeric: true, value: (r) => r.rate, render: (r) => num(r.rate, formatRate), title: 'Requests per second (server spans)' },
    {
      key: 'errors',
      label: 'Errors',
      numeric: true,
      value: (r) => r.errorRatio,
      render: (r) => <span class={(r.errorRatio ?? 0) >= 0.01 ? 'bad' : ''}>{num(r.errorRatio, formatPercent)}</span>,
      title: 'Share of server spans with status error',
    },
    { key: 'p50', label: 'p50', numeric: true, value: (r) => r.p50, render: (r) => num(r.p50, formatSeconds) },
    { key: 'p90', label: 'p90', numeric: true, value: (r) => r.p90, render: (r) => num(r.p90, formatSeconds) },
    { key: 'p99', label: 'p99', numeric: true, value: (r) => r.p99, render: (r) => num(r.p99, formatSeconds) },
  ];
  if (data?.hasSLOs) {
    columns.push({
      key: 'budget',
      label: 'SLO budget',
      numeric: true,
      firstDir: 'asc',
      value: (r) => r.slo?.budgetLeft ?? null,
      title: 'Error budget left of the service\'s SLO with the least, and its current burn rate',
      render: (r) =>
        r.slo ? (
          <a
            href={links.slo(r.slo.id, q)}
            class={(r.slo.budgetLeft ?? 1) <= 0 ? 'bad' : ''}
            title={`${r.slo.name}: ${r.slo.budgetLeft != null ? formatPercent(r.slo.budgetLeft) : '–'} of the error budget left`}
          >
            {r.slo.budgetLeft != null && r.slo.budgetLeft <= 0 ? 'exhausted' : num(r.slo.budgetLeft, formatPercent)}
            {r.slo.burnRate != null && <span class="sub"> burn {r.slo.burnRate.toFixed(1)}×</span>}
          </a>
        ) : (
          '–'
        ),
    });
  }
  columns.push(
    {
      key: 'alerts',
      label: 'Alerts',
      numeric: true,
      value: (r) => r.firing.length * 1000 + r.pending.length,
      render: (r) =>
        r.firing.length || r.pending.length ? (
          <a href={links.alerts(q)} title={[...r.firing, ...r.pending].map((a) => `${a.labels.alertname} (${a.state})`).join('\n')}>
            {r.firing.length > 0 && <span class="badge badge-firing">{r.firing.length} firing</span>}
            {r.pending.length > 0 && <span class="badge badge-pending">{r.pending.length} pending</span>}
          </a>
        ) : (
          <span class="muted">none</span>
        ),
    },
    {
      key: 'change',
      label: 'Newest change',
      value: (r) => (r.change ? Date.parse(r.change.time) : null),
      numeric: true,
      render: (r) =>
        r.change ? (
          <a href={links.changes(q, r.name)} title={r.change.description ?? ''}>
            {r.change.kind}
            {r.change.version ? ` ${r.change.version}` : ''} <span class="sub">{formatAgo(Date.parse(r.change.time))}</span>
          </a>
        ) : (
          <span class="muted">–</span>
        ),
    },
    {
      key: 'signals',
      label: 'Seen in',
      value: (r) => r.signals.join(','),
      render: (r) => <span class="muted">{r.signals.join(', ')}</span>,
    },
  );

  return (
    <div class="page">
      <h1>Services</h1>
      <Panel
        title="Services, worst first"
        help="Every service seen in traces, logs or metrics over the range. Worst first: firing alerts, an SLO out of budget or burning, errors, then p99."
        loading={rows.loading}
        error={rows.error}
        empty={data && data.rows.length === 0 ? 'No service has sent traces, logs or metrics in this range.' : false}
        testid="services-panel"
      >
        {data && (
          <>
            {data.errs.length > 0 && <p class="warning">Partly shown — {data.errs.join('; ')}</p>}
            <Table
              label="Services"
              testid="services-table"
              columns={columns}
              rows={data.rows}
              rowKey={(r) => r.name}
              defaultSort="health"
              custom={{ health: worstFirst }}
            />
          </>
        )}
      </Panel>
      <Panel
        title="Service graph"
        help="Calls between services from trace spans: rate, error share and p99 on each edge. Red: 1% or more failed."
        loading={graph.loading}
        error={graph.error}
        empty={graph.data && graph.data.edges.length === 0 ? 'No calls between services in this range (the graph comes from client/server span pairs).' : false}
        testid="service-graph"
      >
        {graph.data && <ServiceGraphView graph={graph.data} href={(s) => links.service(s, q)} />}
      </Panel>
    </div>
  );
}

function num(v: number | null | undefined, f: (n: number) => string) {
  return v === null || v === undefined || Number.isNaN(v) ? <span class="muted">–</span> : f(v);
}
