// SLOs: every SLO with its error budget left, burn rate per window and
// alert state (GET /api/v1/slos); one SLO (/slos/<id>): the SLI and the
// error budget over the range from the Sloth-named recording rules, the
// burn per window, and its alerts with their conditions.

import { useMemo } from 'preact/hooks';
import { alerts, amAlerts, slo, slos } from '../api/horus';
import type { SLOStatus } from '../api/types';
import { GraphPanel } from '../components/GraphPanel';
import { Panel } from '../components/Panel';
import { type Column, Table } from '../components/Table';
import { fingerprint } from '../lib/alerts';
import { useApi, useApp } from '../lib/app';
import { formatPercent } from '../lib/format';
import { links } from '../lib/links';
import { promString } from '../lib/queries';
import { formatDuration } from '../lib/time';
import './alerting.css';

function Budget({ s }: { s: SLOStatus }) {
  const left = s.errorBudget.remaining;
  if (left === null) return <span class="muted">no data</span>;
  const pct = Math.max(0, Math.min(1, left));
  return (
    <span class="budget" title={`${formatPercent(left)} of the error budget (${formatPercent(1 - s.objective / 100)} of events over ${s.window}) left`}>
      <span class={`budget-bar ${pct < 0.25 ? 'low' : ''}`}>
        <span style={{ width: `${pct * 100}%` }} />
      </span>
      <span class={left <= 0 ? 'bad' : ''}>{left <= 0 ? 'exhausted' : formatPercent(left)}</span>
    </span>
  );
}

function burnClass(b: number | null): string {
  if (b === null) return '';
  return b >= 6 ? 'burn-hot' : b > 1 ? 'burn-warm' : '';
}

function fmtBurn(b: number | null | undefined): string {
  if (b === null || b === undefined) return '–';
  if (b === 0) return '0×';
  return b >= 10 ? `${Math.round(b)}×` : `${b.toFixed(b >= 1 ? 1 : 2)}×`;
}

function Burns({ s }: { s: SLOStatus }) {
  return (
    <span class="burns">
      {s.burnRates.map((b) => (
        <span key={b.window} class={`burn ${burnClass(b.burnRate)}`} title={`error ratio over ${b.window}: ${b.errorRatio != null ? formatPercent(b.errorRatio) : '–'}`}>
          {b.window} {fmtBurn(b.burnRate)}
        </span>
      ))}
    </span>
  );
}

function alertState(s: SLOStatus): string {
  if (s.alerts.some((a) => a.state === 'firing')) return 'firing';
  if (s.alerts.some((a) => a.state === 'pending')) return 'pending';
  return s.alerts.length ? 'ok' : 'none';
}

function AlertStates({ s }: { s: SLOStatus }) {
  if (!s.alerts.length) return <span class="muted">no alerts</span>;
  return (
    <>
      {s.alerts.map((a) => (
        <span
          key={`${a.name}-${a.type}`}
          class={`badge badge-${a.state === 'firing' ? 'firing' : a.state === 'pending' ? 'pending' : 'ok'}`}
          title={`${a.name} (${a.type ?? a.severity}): ${a.state}`}
        >
          {a.type ?? a.severity} {a.state}
        </span>
      ))}
    </>
  );
}

export function SLOsPage() {
  const app = useApp();
  const q = app.query;
  const res = useApi((o) => slos(app.range.end, o), [app.range.end]);
  const rank = (s: SLOStatus) => ({ firing: 0, pending: 1, ok: 2, none: 3 })[alertState(s)] ?? 3;
  const columns: Column<SLOStatus>[] = [
    {
      key: 'name',
      label: 'SLO',
      value: (s) => s.id,
      render: (s) => (
        <>
          <a href={links.slo(s.id, q)} class="slo-link">
            {s.name}
          </a>
          {s.description && <div class="sub">{s.description}</div>}
        </>
      ),
    },
    { key: 'service', label: 'Service', value: (s) => s.service, render: (s) => <a href={links.service(s.service, q)}>{s.service}</a> },
    { key: 'objective', label: 'Objective', numeric: true, value: (s) => s.objective, render: (s) => `${s.objective}% / ${s.window}` },
    { key: 'sli', label: 'SLI', numeric: true, value: (s) => s.sli, render: (s) => (s.sli == null ? '–' : formatPercent(s.sli)), title: 'Share of good events over the SLO window' },
    { key: 'budget', label: 'Budget left', numeric: true, firstDir: 'asc', value: (s) => s.errorBudget.remaining, render: (s) => <Budget s={s} /> },
    {
      key: 'burn',
      label: 'Burn rate per window',
      numeric: true,
      value: (s) => s.errorBudget.currentBurnRate,
      render: (s) => <Burns s={s} />,
      title: 'Error ratio over each window divided by the error budget: 1× spends the budget exactly over the SLO window',
    },
    { key: 'alerts', label: 'Alerts', value: (s) => rank(s), render: (s) => <AlertStates s={s} /> },
  ];
  const worst = (a: SLOStatus, b: SLOStatus) =>
    rank(a) - rank(b) || (a.errorBudget.remaining ?? 2) - (b.errorBudget.remaining ?? 2) || a.id.localeCompare(b.id);
  return (
    <div class="page" data-testid="page-slos">
      <h1>SLOs</h1>
      <Panel
        title="Service level objectives, worst first"
        help="Every SLO of the slo_files, as GET /api/v1/slos reads them from their recording rules at the end of the range: alerting first, then the least budget left"
        loading={res.loading}
        error={res.error}
        empty={res.data && res.data.length === 0 ? 'No SLOs are defined (slo_files in the configuration; docs/slo.md).' : false}
        testid="slos-panel"
      >
        {res.data && (
          <Table label="SLOs" testid="slos-table" columns={columns} rows={res.data} rowKey={(s) => s.id} defaultSort="health" custom={{ health: worst }} />
        )}
      </Panel>
    </div>
  );
}

export function SLOPage({ id }: { id: string }) {
  const app = useApp();
  const q = app.query;
  const sloId = decodeURIComponent(id);
  const res = useApi((o) => slo(sloId, app.range.end, o), [sloId, app.range.end]);
  const active = useApi(
    async (o) => {
      const [prom, am] = await Promise.all([alerts(o), amAlerts(o).catch(() => [])]);
      return prom
        .filter((a) => a.labels.sloth_id === sloId && a.state !== 'inactive')
        .map((a) => ({ ...a, fingerprint: am.find((m) => Object.entries(a.labels).every(([k, v]) => m.labels[k] === v))?.fingerprint ?? fingerprint(a.labels) }));
    },
    [sloId],
  );
  const s = res.data;
  const sel = `sloth_id=${promString(sloId)}`;
  const windows = useMemo(() => (s ? s.burnRates.map((b) => b.window).filter((w) => w !== s.window) : ['5m', '1h', '6h']), [s]);
  const budgetRatio = s?.errorBudget.ratio ?? (s ? 1 - s.objective / 100 : undefined);

  if (res.error && !s) {
    return (
      <div class="page" data-testid="page-slo">
        <h1>
          <a href={links.slos(q)} class="crumb">
            SLOs
          </a>{' '}
          / {sloId}
        </h1>
        <Panel title="SLO" error={res.error} />
      </div>
    );
  }
  return (
    <div class="page" data-testid="page-slo">
      <div class="page-title">
        <h1>
          <a href={links.slos(q)} class="crumb">
            SLOs
          </a>{' '}
          / {s ? `${s.service} ${s.name}` : sloId}
        </h1>
        {s && (
          <nav class="jump" aria-label="From this SLO">
            <a href={links.service(s.service, q)}>Service {s.service}</a>
            <a href={links.explore('metrics', `slo:sli_error:ratio_rate5m{${sel}}`, q)}>Explore</a>
            <a href={links.alerts(q, 'rules')}>Rules</a>
          </nav>
        )}
      </div>
      {s && (
        <>
          {s.description && <p class="muted">{s.description}</p>}
          <div class="stats" data-testid="slo-stats">
            <div class="stat">
              <div class="label">Objective</div>
              <div class="value">{s.objective}%</div>
              <div class="sub">over {s.window}</div>
            </div>
            <div class="stat">
              <div class="label">SLI over {s.window}</div>
              <div class={`value ${s.sli != null && s.sli * 100 < s.objective ? 'bad' : ''}`}>{s.sli == null ? '–' : formatPercent(s.sli)}</div>
              <div class="sub">error ratio {s.errorRatio != null ? formatPercent(s.errorRatio) : '–'}</div>
            </div>
            <div class="stat">
              <div class="label">Error budget left</div>
              <div class="value">
                <Budget s={s} />
              </div>
              <div class="sub">
                {s.errorBudget.exhaustedInSeconds != null
                  ? s.errorBudget.exhaustedInSeconds === 0
                    ? 'spent'
                    : `gone in ${formatDuration(s.errorBudget.exhaustedInSeconds * 1000)} at this rate`
                  : 'not burning'}
              </div>
            </div>
            <div class="stat">
              <div class="label">Burn rate now (5m)</div>
              <div class={`value ${burnClass(s.errorBudget.currentBurnRate) === 'burn-hot' ? 'bad' : ''}`}>{fmtBurn(s.errorBudget.currentBurnRate)}</div>
              <div class="sub">1× spends the budget over {s.window}</div>
            </div>
          </div>
        </>
      )}
      <div class="grid2">
        <GraphPanel
          title="SLI error ratio per window"
          help="slo:sli_error:ratio_rate<window>: the share of bad events over each window; the dashed red line is the error budget (1 − objective)"
          unit="ratio"
          testid="graph-sli"
          queries={[
            ...windows.slice(0, 4).map((w, i) => ({
              expr: `max(slo:sli_error:ratio_rate${w}{${sel}})`,
              legend: () => `error ratio ${w}`,
              color: ['#f59e0b', '#3b82f6', '#8b5cf6', '#10b981'][i],
            })),
            ...(budgetRatio !== undefined ? [{ expr: String(budgetRatio), legend: () => 'budget', color: '#dc2626' }] : []),
          ]}
          empty="No SLI series for this SLO in this range (its recording rules write them every evaluation)."
        />
        <GraphPanel
          title="Error budget left"
          help="slo:period_error_budget_remaining:ratio: 1 − the error ratio over the SLO window / the budget; below 0 once overspent"
          unit="ratio"
          testid="graph-budget"
          queries={[{ expr: `min(slo:period_error_budget_remaining:ratio{${sel}})`, legend: () => 'budget left', color: '#10b981' }]}
          empty="No error budget series for this SLO in this range."
        />
      </div>
      <GraphPanel
        title="Burn rate"
        help="slo:current_burn_rate:ratio (the 5m error ratio / budget) and slo:period_burn_rate:ratio (the SLO window's)"
        unit="short"
        testid="graph-burn"
        queries={[
          { expr: `max(slo:current_burn_rate:ratio{${sel}})`, legend: () => 'burn rate (5m)', color: '#ef4444' },
          { expr: `max(slo:period_burn_rate:ratio{${sel}})`, legend: () => `burn rate (${s?.window ?? 'window'})`, color: '#8b5cf6' },
        ]}
        empty="No burn rate series for this SLO in this range."
      />
      {s && (
        <div class="grid2">
          <Panel title="Burn per window" help="Error ratio and burn rate over each alert window and the SLO window, at the end of the range" testid="slo-burns">
            <table class="table">
              <thead>
                <tr>
                  <th>Window</th>
                  <th class="num">Error ratio</th>
                  <th class="num">Burn rate</th>
                  <th class="num">Budget spent at this rate in 1h</th>
                </tr>
              </thead>
              <tbody>
                {s.burnRates.map((b) => (
                  <tr key={b.window}>
                    <td>{b.window}</td>
                    <td class="num">{b.errorRatio != null ? formatPercent(b.errorRatio) : '–'}</td>
                    <td class="num">
                      <span class={`burn ${burnClass(b.burnRate)}`}>{fmtBurn(b.burnRate)}</span>
                    </td>
                    <td class="num">{b.burnRate != null ? formatPercent(b.burnRate / (windowHours(s.window) || 720)) : '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Panel>
          <Panel title="Alerts of this SLO" help="The page and ticket alerts the SLO generates (multiwindow, multi-burn-rate), their conditions and state" testid="slo-alerts">
            {s.alerts.length === 0 ? (
              <p class="empty">This SLO has no alerts.</p>
            ) : (
              <ul class="change-list">
                {s.alerts.map((a) => {
                  const act = (active.data ?? []).filter((x) => x.labels.alertname === a.name && (x.labels.sloth_severity ?? '') === (a.type ?? ''));
                  return (
                    <li key={`${a.name}-${a.type}`}>
                      <span class={`badge badge-${a.state === 'firing' ? 'firing' : a.state === 'pending' ? 'pending' : 'ok'}`}>{a.state}</span>{' '}
                      {act.length ? (
                        act.map((x) => (
                          <a key={x.fingerprint} href={links.alert(x.fingerprint, q)} class="alert-link">
                            {a.name}
                          </a>
                        ))
                      ) : (
                        <strong>{a.name}</strong>
                      )}{' '}
                      <span class="sub">
                        {a.type} · {a.severity}
                      </span>
                      <div class="sub">
                        {(a.conditions ?? []).map((c, i) => (
                          <span key={i} class={`burn ${c.met ? 'burn-hot' : ''}`} title={`error ratio above ${formatPercent(c.threshold)} over both ${c.shortWindow} and ${c.longWindow}`}>
                            {c.factor}× over {c.longWindow} and {c.shortWindow} {c.met ? '(met)' : ''}
                          </span>
                        ))}
                      </div>
                    </li>
                  );
                })}
              </ul>
            )}
          </Panel>
        </div>
      )}
    </div>
  );
}

function windowHours(w: string): number {
  const m = /^(\d+)([dhw])$/.exec(w);
  if (!m) return 0;
  const n = parseInt(m[1], 10);
  return m[2] === 'h' ? n : m[2] === 'd' ? n * 24 : n * 168;
}
