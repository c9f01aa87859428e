// Alerts: the firing and pending alerts grouped by rule (severity, summary,
// runbook, since when, each linking to its page) and the rules with their
// state, health and last evaluation. One alert (/alerts/<fingerprint>, the
// page notifications' horus_url names): its labels and annotations, its
// runbook, its series over time with exemplars and the alert's bands, its
// service's recent changes, its silences, and the way to investigate it.

import { useMemo, useState } from 'preact/hooks';
import { alerts, amAlerts, changes, createSilence, expireSilence, queryRange, rules, silences } from '../api/horus';
import type { Alert, AMAlert, Labels, Silence } from '../api/types';
import { GraphPanel, type QuerySpec } from '../components/GraphPanel';
import { Panel } from '../components/Panel';
import type { ChangeMarker } from '../components/TimeSeriesChart';
import {
  fillTemplate,
  fingerprint,
  firingPeriods,
  groupAlerts,
  otherLabels,
  type PastAlert,
  pastAlert,
  ruleLanguage,
  ruleRows,
  seriesOfAlert,
  serviceOf,
  SILENCE_DURATIONS,
  silenceOf,
  splitCondition,
} from '../lib/alerts';
import { type Loaded, useApi, useApp } from '../lib/app';
import { formatAgo } from '../lib/format';
import { links } from '../lib/links';
import { bandsOf, promString } from '../lib/queries';
import { formatAbsolute, formatDuration } from '../lib/time';
import './alerting.css';

/** The alerts with their fingerprints as horus_url has them. */
interface Known {
  alerts: (Alert & { fingerprint: string; am?: AMAlert })[];
  /** Labels the Alertmanager's alerts have that the ruler's lack: the external labels. */
  external: Labels;
}

/** Joins the ruler's alerts with the Alertmanager's, which carry the fingerprint notifications use. */
function joinAlerts(prom: Alert[], am: AMAlert[]): Known {
  const match = (a: Alert) => am.find((m) => Object.entries(a.labels).every(([k, v]) => m.labels[k] === v));
  let external: Labels = {};
  for (const a of prom) {
    const m = match(a);
    if (m) {
      external = Object.fromEntries(Object.entries(m.labels).filter(([k]) => !(k in a.labels)));
      break;
    }
  }
  return {
    external,
    alerts: prom.map((a) => {
      const m = match(a);
      return { ...a, am: m, fingerprint: m?.fingerprint ?? fingerprint(a.labels, external) };
    }),
  };
}

async function loadKnown(o: { signal?: AbortSignal; tenant?: string }): Promise<Known & { amError?: string }> {
  const [prom, am] = await Promise.all([
    alerts(o),
    amAlerts(o).catch((e: Error) => {
      if (o.signal?.aborted) throw e;
      return e;
    }),
  ]);
  if (am instanceof Error) return { ...joinAlerts(prom, []), amError: am.message };
  return joinAlerts(prom, am);
}

function since(activeAt?: string): string {
  if (!activeAt) return '';
  return formatDuration(Math.max(0, Date.now() - Date.parse(activeAt)));
}

function StateBadge({ state }: { state: string }) {
  return <span class={`badge badge-${state === 'firing' ? 'firing' : state === 'pending' ? 'pending' : 'ok'}`}>{state}</span>;
}

/** A time as the alert pages print it: month, day and time of day to the second. */
const fmtTime = (t: number) => new Date(t).toLocaleString([], { hour12: false, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

function Severity({ s }: { s?: string }) {
  if (!s) return null;
  return <span class={`sev sev-${s}`}>{s}</span>;
}

/**
 * The alerts that fired in the range (ALERTS{alertstate="firing"} through
 * query_range at the page's step): each firing period with its start, end
 * and duration, resolved first, newest first; each links to its alert page
 * over the period (an hour before it to 15 minutes after).
 */
function HistoryPanel({ external }: { external: Labels }) {
  const app = useApp();
  const { aligned, step } = app;
  const res = useApi((o) => queryRange('ALERTS{alertstate="firing"}', aligned.start, aligned.end, step, o), [aligned.start, aligned.end, step]);
  const rows = useMemo(() => {
    const ps = firingPeriods(res.data ?? [], step, aligned.end);
    return [...ps.filter((p) => p.resolved), ...ps.filter((p) => !p.resolved)];
  }, [res.data, step, aligned.end]);
  const resolved = rows.filter((r) => r.resolved).length;
  return (
    <Panel
      title={res.data ? `${resolved} resolved, ${rows.length - resolved} still firing` : 'History'}
      help="Every period an alert fired in the range, from the ALERTS series (firing state), sampled at the graphs' step: an end is the step after its last firing sample."
      loading={res.loading}
      error={res.error}
      empty={res.data && rows.length === 0 && 'No alert fired in this range.'}
      testid="alerts-history"
    >
      <div class="table-scroll">
      <table class="table history-table" data-testid="history-list">
        <thead>
          <tr>
            <th>alert</th>
            <th>labels</th>
            <th>started</th>
            <th>ended</th>
            <th class="num">fired for</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const fp = fingerprint(r.labels, external);
            const around = links.alert(fp, app.query, { from: formatAbsolute(r.start - 3600_000), to: formatAbsolute(r.end + 900_000) });
            return (
              <tr key={`${fp}-${r.start}`} data-testid="history-row" data-resolved={r.resolved ? 'true' : 'false'}>
                <td>
                  <Severity s={r.labels.severity} />{' '}
                  <a href={around} title="The alert's page over this period">
                    {r.labels.alertname}
                  </a>
                </td>
                <td class="sub">
                  {otherLabels(r.labels)
                    .filter(([k]) => k !== 'severity')
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ')}
                </td>
                <td title={r.start <= aligned.start ? 'already firing when the range begins' : undefined}>
                  {r.start <= aligned.start ? '≤ ' : ''}
                  {fmtTime(r.start)}
                </td>
                <td>{r.resolved ? fmtTime(r.end) : <span class="badge badge-firing">still firing</span>}</td>
                <td class="num">
                  {r.start <= aligned.start ? '≥ ' : ''}
                  {formatDuration(r.end - r.start)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      </div>
    </Panel>
  );
}

export function AlertsPage() {
  const app = useApp();
  const q = app.query;
  const tab = q.get('tab') === 'rules' ? 'rules' : q.get('tab') === 'history' ? 'history' : 'alerts';
  const known = useApi((o) => loadKnown(o), []);
  const groups = useMemo(() => groupAlerts(known.data?.alerts ?? []), [known.data]);
  const firing = known.data?.alerts.filter((a) => a.state === 'firing').length ?? 0;
  const pending = known.data?.alerts.filter((a) => a.state === 'pending').length ?? 0;

  return (
    <div class="page" data-testid="page-alerts">
      <div class="page-title">
        <h1>Alerts</h1>
        <div class="segmented tabs" role="tablist" aria-label="Alerts or rules">
          <button type="button" role="tab" aria-selected={tab === 'alerts'} aria-pressed={tab === 'alerts'} onClick={() => app.setParams({ tab: null })}>
            Firing and pending{known.data ? ` (${firing + pending})` : ''}
          </button>
          <button type="button" role="tab" aria-selected={tab === 'rules'} aria-pressed={tab === 'rules'} onClick={() => app.setParams({ tab: 'rules' })}>
            Rules
          </button>
          <button type="button" role="tab" aria-selected={tab === 'history'} aria-pressed={tab === 'history'} onClick={() => app.setParams({ tab: 'history' })} data-testid="tab-history">
            History
          </button>
        </div>
      </div>
      {tab === 'history' ? (
        <HistoryPanel external={known.data?.external ?? {}} />
      ) : tab === 'alerts' ? (
        <Panel
          title={known.data ? `${firing} firing, ${pending} pending` : 'Alerts'}
          help="Alerts of every rule (PromQL, LogQL and TraceQL) that are pending or firing now, grouped by rule: firing first, then by severity."
          loading={known.loading}
          error={known.error}
          empty={known.data && groups.length === 0 ? 'No alert is firing or pending. The rules are in the Rules tab.' : false}
          testid="alerts-panel"
        >
          {known.data?.amError && <p class="warning">Alertmanager unavailable (silences not shown): {known.data.amError}</p>}
          {groups.map((g) => (
            <section class="alert-group" key={g.name} data-testid="alert-group">
              <h3>
                <Severity s={g.severity} /> {g.name}{' '}
                {g.firing > 0 && <span class="badge badge-firing">{g.firing} firing</span>}
                {g.pending > 0 && <span class="badge badge-pending">{g.pending} pending</span>}
              </h3>
              <ul class="alert-list">
                {g.alerts.map((a) => {
                  const fp = a.fingerprint;
                  const svc = serviceOf(a.labels);
                  const silenced = a.am?.status.silencedBy.length;
                  return (
                    <li key={fp} class={`alert-row alert-${a.state}`} data-testid="alert-row" data-fingerprint={fp} data-state={a.state} data-service={svc}>
                      <div class="alert-main">
                        <StateBadge state={a.state} />
                        {(a.labels.severity ?? '') !== g.severity && <Severity s={a.labels.severity} />}
                        {silenced ? <span class="badge badge-silenced">silenced</span> : null}
                        <a href={links.alert(fp, q)} class="alert-link">
                          {a.annotations.summary || a.labels.alertname}
                        </a>
                      </div>
                      <div class="alert-meta">
                        <span title={a.activeAt ? new Date(a.activeAt).toLocaleString() : ''}>
                          {a.state} for {since(a.activeAt)}
                        </span>
                        {svc && (
                          <a href={links.service(svc, q)} class="chip">
                            {svc}
                          </a>
                        )}
                        <span class="labels">
                          {otherLabels(a.labels)
                            .filter(([k]) => !['severity', 'service', 'service_name', 'job'].includes(k))
                            .map(([k, v]) => (
                              <code key={k}>
                                {k}={v}
                              </code>
                            ))}
                        </span>
                        {a.annotations.runbook_url && (
                          <a href={a.annotations.runbook_url} class="runbook-link" target="_blank" rel="noopener">
                            runbook
                          </a>
                        )}
                      </div>
                    </li>
                  );
                })}
              </ul>
            </section>
          ))}
        </Panel>
      ) : (
        <RulesPanel />
      )}
    </div>
  );
}

function RulesPanel() {
  const app = useApp();
  const res = useApi((o) => rules(o), []);
  const rows = useMemo(() => ruleRows(res.data ?? []), [res.data]);
  const filter = app.query.get('rule') ?? '';
  const kind = app.query.get('type') ?? 'alerting';
  const shown = rows.filter(
    (r) => (kind === 'all' || r.type === kind) && (!filter || r.name.toLowerCase().includes(filter.toLowerCase()) || r.group.includes(filter)),
  );
  const groups = [...new Set(shown.map((r) => r.group))];
  const unhealthy = rows.filter((r) => r.health !== 'ok').length;
  return (
    <Panel
      title={res.data ? `${rows.length} rules in ${res.data.length} groups${unhealthy ? `, ${unhealthy} failing` : ''}` : 'Rules'}
      help="The rule groups Horus evaluates (rule files, LogQL and TraceQL rule files, and the rules generated from SLO files)"
      loading={res.loading}
      error={res.error}
      empty={res.data && rows.length === 0 ? 'No rules are loaded (rule_files, logql_rule_files, traceql_rule_files, slo_files).' : false}
      testid="rules-panel"
      actions={
        <>
          <select aria-label="Rule type" value={kind} onChange={(e) => app.setParams({ type: (e.target as HTMLSelectElement).value === 'alerting' ? null : (e.target as HTMLSelectElement).value }, true)}>
            <option value="alerting">alerting rules</option>
            <option value="recording">recording rules</option>
            <option value="all">all rules</option>
          </select>
          <input
            type="search"
            class="filter"
            placeholder="filter by name"
            aria-label="Filter rules by name"
            value={filter}
            onInput={(e) => app.setParams({ rule: (e.target as HTMLInputElement).value }, true)}
          />
        </>
      }
    >
      <table class="table rules-table" data-testid="rules-table">
        <thead>
          <tr>
            <th>Rule</th>
            <th>State</th>
            <th>Health</th>
            <th class="num">Last evaluation</th>
            <th>Query</th>
          </tr>
        </thead>
        {groups.map((g) => {
          const rs = shown.filter((r) => r.group === g);
          return (
            <tbody key={g}>
              <tr class="group-row">
                <th colSpan={5}>
                  {g} <span class="sub">every {rs[0].interval}s · {rs[0].file.split('/').slice(-2).join('/')}</span>
                </th>
              </tr>
              {rs.map((r, i) => (
                <tr key={`${g}-${i}`}>
                  <td>
                    {r.name}
                    {r.duration ? <span class="sub"> for {formatDuration(r.duration * 1000)}</span> : null}
                  </td>
                  <td>{r.type === 'alerting' ? <StateBadge state={r.state ?? 'inactive'} /> : <span class="muted">recording</span>}</td>
                  <td>
                    {r.health === 'ok' ? <span class="ok">ok</span> : <span class="bad" title={r.lastError}>{r.health}</span>}
                    {r.lastError && <div class="error-inline">{r.lastError}</div>}
                  </td>
                  <td class="num">
                    {r.lastEvaluation && !r.lastEvaluation.startsWith('0001') ? formatAgo(Date.parse(r.lastEvaluation)) : <span class="muted">never</span>}
                    {r.evaluationTime != null && <div class="sub">{(r.evaluationTime * 1000).toFixed(1)} ms</div>}
                  </td>
                  <td>
                    <code class="query" title={ruleLanguage(r.query)}>
                      {r.query}
                    </code>
                  </td>
                </tr>
              ))}
            </tbody>
          );
        })}
      </table>
    </Panel>
  );
}

export function AlertPage({ fingerprint: fp }: { fingerprint: string }) {
  const app = useApp();
  const q = app.query;
  const { aligned, step } = app;
  const known = useApi((o) => loadKnown(o), []);
  const ruleRes = useApi((o) => rules(o), []);
  const active = useMemo(() => {
    const d = known.data;
    if (!d) return undefined;
    return d.alerts.find((a) => a.fingerprint === fp || fingerprint(a.labels) === fp || fingerprint(a.labels, d.external) === fp);
  }, [known.data, fp]);
  // An alert no longer active: its labels and periods from the ALERTS
  // series of the range (the History tab links here over the period).
  const alertSeries = useApi(
    (o) => Promise.all([queryRange('ALERTS', aligned.start, aligned.end, step, o), queryRange('ALERTS_FOR_STATE', aligned.start, aligned.end, step, o)]),
    [aligned.start, aligned.end, step],
  );
  const past = useMemo(() => {
    if (active || !known.data || !alertSeries.data) return undefined;
    return pastAlert(alertSeries.data[0], alertSeries.data[1], fp, known.data.external, step, aligned.end);
  }, [active, known.data, alertSeries.data, fp, step, aligned.end]);
  const labels = active?.labels ?? past?.labels;
  const name = labels?.alertname;
  const rule = useMemo(() => {
    if (!labels || !ruleRes.data) return undefined;
    for (const g of ruleRes.data) {
      for (const r of g.rules) {
        if (r.type !== 'alerting' || r.name !== name) continue;
        if ((r.alerts ?? []).some((x) => fingerprint(x.labels) === fingerprint(labels))) return r;
      }
    }
    return ruleRes.data.flatMap((g) => g.rules).find((r) => r.type === 'alerting' && r.name === name);
  }, [labels, ruleRes.data, name]);
  const resolved = useMemo(() => {
    const p = past;
    if (!p) return undefined;
    const ann: Labels = {};
    for (const [k, v] of Object.entries(rule?.annotations ?? {})) ann[k] = fillTemplate(v, p.labels);
    const first = p.periods[p.periods.length - 1];
    const since = first?.pendingAt ?? first?.start;
    const alert: Known['alerts'][number] = { labels: p.labels, annotations: ann, state: 'inactive', fingerprint: fp, activeAt: since ? new Date(since).toISOString() : undefined };
    return alert;
  }, [past, rule, fp]);

  const error = known.error ?? (active ? undefined : alertSeries.error);
  if (error || !known.data || (!active && !alertSeries.data)) {
    return (
      <div class="page" data-testid="page-alert">
        <h1>Alert {fp}</h1>
        <Panel title="Alert" error={error} loading={!error}>
          <div class="chart-placeholder" />
        </Panel>
      </div>
    );
  }
  if (active) return <AlertView alert={active} fp={fp} query={rule?.query} duration={rule?.duration} />;
  if (resolved && past) return <AlertView alert={resolved} fp={fp} query={rule?.query} duration={rule?.duration} past={past} />;
  return (
    <div class="page" data-testid="page-alert">
      <h1>
        <a href={links.alerts(q)} class="crumb">
          Alerts
        </a>{' '}
        / {fp}
      </h1>
      <Panel title="Not active" testid="alert-missing">
        <p>
          No alert with fingerprint <code>{fp}</code> is firing or pending now, nor was one in this range: it was active before
          it, or the link is of another Horus. <a href={links.alerts(q, 'history')}>When alerts fired</a>,{' '}
          <a href={links.alerts(q)}>the alerts firing now</a>, <a href={links.alerts(q, 'rules')}>the rules</a>.
        </p>
      </Panel>
    </div>
  );
}

/**
 * One alert: active (from the alerts API), or, with past, no longer active
 * (from its ALERTS series: the rule's annotations filled with its labels,
 * its firing periods, and Investigate over them).
 */
function AlertView({ alert, fp, query, duration, past }: { alert: Known['alerts'][number]; fp: string; query?: string; duration?: number; past?: PastAlert }) {
  const app = useApp();
  const q = app.query;
  const name = alert.labels.alertname ?? 'alert';
  const svc = serviceOf(alert.labels);
  const active = alert.activeAt ? Date.parse(alert.activeAt) : undefined;
  const lang = query ? ruleLanguage(query) : 'promql';
  const cond = useMemo(() => (query ? splitCondition(query) : undefined), [query]);

  // The alert's own state over the range, as bands on the graph.
  const alertSel = `ALERTS{alertname=${promString(name)}}`;
  const bandRes = useApi(
    (o) => queryRange(alertSel, app.aligned.start, app.aligned.end, app.step, o),
    [alertSel, app.aligned.start, app.aligned.end, app.step],
  );
  const bands = useMemo(
    () =>
      bandsOf(
        (bandRes.data ?? []).filter((s) => seriesOfAlert({ ...s.metric, alertstate: '' }, { ...alert.labels, alertstate: '' })),
        app.step,
      ),
    [bandRes.data, app.step, alert],
  );
  // The service's changes: on the graph and listed; from an hour before the alert.
  const chStart = Math.min(app.range.start, (active ?? app.range.start) - 3600_000);
  const ch = useApi((o) => (svc ? changes(chStart, app.range.end, o, svc) : Promise.resolve([])), [svc, chStart, app.range.end]);
  const markers: ChangeMarker[] = useMemo(
    () =>
      (ch.data ?? []).map((c) => ({
        time: Date.parse(c.time),
        title: `${c.kind}${c.version ? ` ${c.version}` : ''}${c.instance ? ` on ${c.instance}` : ''} at ${new Date(c.time).toLocaleString()}${c.description ? `: ${c.description}` : ''}`,
        href: links.changes(q, c.service),
      })),
    [ch.data],
  );
  const sil = useApi((o) => silences(o), []);
  const matching = (sil.data ?? []).filter((s) => s.status.state !== 'expired' && silenceMatches(s, alert.am?.labels ?? alert.labels));

  const queries: QuerySpec[] = [];
  if (cond && lang !== 'traceql') {
    queries.push({
      expr: cond.series,
      lang,
      filter: (m) => seriesOfAlert(m, alert.labels),
      legend: (m) => {
        // The alert's own series is named by the alert; another's by what differs.
        const rest = Object.entries(m).filter(([k, v]) => k !== '__name__' && alert.labels[k] !== v);
        return rest.length ? rest.map(([k, v]) => `${k}=${v}`).join(', ') : name;
      },
    });
    if (cond.threshold !== undefined) {
      queries.push({ expr: String(cond.threshold), legend: () => `threshold ${cond.op} ${cond.threshold}`, color: '#dc2626' });
    }
  }
  const exploreMode = lang === 'promql' ? 'metrics' : lang === 'logql' ? 'logs' : 'traces';
  const investigateHref = past ? investigatePast(past, q) : links.investigate({ fingerprint: fp }, q);
  const annotations = Object.entries(alert.annotations).filter(([k]) => !['summary', 'description', 'runbook_url'].includes(k));

  return (
    <div class="page" data-testid="page-alert">
      <div class="page-title">
        <h1>
          <a href={links.alerts(q)} class="crumb">
            Alerts
          </a>{' '}
          / {name}
        </h1>
        <nav class="jump" aria-label="From this alert">
          <a class="button primary" href={investigateHref} data-testid="investigate">
            Investigate
          </a>
          {alert.annotations.runbook_url && (
            <a class="button" href={alert.annotations.runbook_url} target="_blank" rel="noopener" data-testid="runbook-link">
              Runbook
            </a>
          )}
          {alert.labels.sloth_id && <a href={links.slo(alert.labels.sloth_id, q)}>SLO {alert.labels.sloth_slo ?? alert.labels.sloth_id}</a>}
          {svc && <a href={links.service(svc, q)}>Service {svc}</a>}
          {query && <a href={links.explore(exploreMode, cond?.series ?? query, q)}>Explore</a>}
        </nav>
      </div>
      <section class={`panel alert-summary alert-${alert.state}`} data-testid="alert-summary">
        <p class="alert-headline">
          <StateBadge state={past ? 'resolved' : alert.state} /> <Severity s={alert.labels.severity} />{' '}
          <strong>{alert.annotations.summary || name}</strong>
        </p>
        {past ? (
          <p class="sub" data-testid="alert-resolved">
            {past.periods.length === 0
              ? 'not active now; it was pending in this range but did not fire'
              : past.periods[0].resolved
                ? `resolved ${fmtTime(past.periods[0].end)} (${formatAgo(past.periods[0].end)}), after firing for ${formatDuration(past.periods[0].end - past.periods[0].start)}`
                : `not active now; it fired until this range's end`}
            {past.periods.length > 1 && <> · fired {past.periods.length} times in this range</>}
            {duration ? <> · fires after {formatDuration(duration * 1000)} pending</> : null} · fingerprint <code>{fp}</code>
          </p>
        ) : (
          <p class="sub">
            {alert.state} since {alert.activeAt ? new Date(alert.activeAt).toLocaleString() : '?'} ({since(alert.activeAt)})
            {alert.value && <> · value {fmtValue(alert.value)}</>}
            {duration ? <> · fires after {formatDuration(duration * 1000)} pending</> : null} · fingerprint <code>{fp}</code>
          </p>
        )}
        {alert.annotations.description && <p>{alert.annotations.description}</p>}
        <dl class="labels-list">
          {otherLabels(alert.labels).map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
          {annotations.map(([k, v]) => (
            <div key={k} class="annotation">
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      </section>
      {past && past.periods.length > 0 && <PeriodsPanel periods={past.periods} />}
      {query && (
        <section class="panel">
          <header class="panel-head">
            <h2>Condition</h2>
            <span class="sub">{lang}</span>
          </header>
          <code class="query block">{query}</code>
        </section>
      )}
      {queries.length > 0 ? (
        <GraphPanel
          title={`${name}: the series over time`}
          help="The alert's expression without its threshold, for this alert's labels; dots are exemplars (click: the trace); bands are the alert's pending and firing periods; ◆ are its service's changes"
          unit="short"
          testid="graph-alert"
          queries={queries}
          exemplars={lang === 'promql' && cond ? cond.series : undefined}
          markers={markers}
          bands={bands}
          empty="The expression has no data in this range."
        />
      ) : (
        <Panel title="The series over time" testid="graph-alert" empty={query ? 'A TraceQL rule: open it in Explore.' : 'The rule of this alert was not found.'} />
      )}
      <div class="grid2">
        <Panel
          title={svc ? `Recent changes of ${svc}` : 'Recent changes'}
          help="Change events of the alert's service from an hour before it became active"
          loading={ch.loading}
          error={ch.error}
          empty={!svc ? 'The alert names no service (labels service, service_name or job).' : ch.data && ch.data.length === 0 ? 'No change events of this service.' : false}
          testid="alert-changes"
        >
          <ul class="change-list">
            {(ch.data ?? []).slice(0, 10).map((c) => (
              <li key={c.id}>
                <span class={`kind kind-${c.kind}`}>{c.kind}</span> {c.version && <code>{c.version}</code>} {c.instance && <span class="sub">{c.instance}</span>}{' '}
                <a href={links.service(c.service, q, aroundChange(Date.parse(c.time)))}>{new Date(c.time).toLocaleTimeString()}</a>
                {active && <span class="sub"> {relTo(Date.parse(c.time), active)}</span>}
                {c.description && <div class="sub">{c.description}</div>}
              </li>
            ))}
          </ul>
        </Panel>
        <SilencesPanel alert={alert} silences={sil} matching={matching} />
      </div>
      {alert.annotations.runbook_url && <RunbookPanel url={alert.annotations.runbook_url} />}
    </div>
  );
}

/** When an alert no longer active fired in the range: each period, newest first. */
function PeriodsPanel({ periods }: { periods: PastAlert['periods'] }) {
  return (
    <Panel
      title="When it fired"
      help="The alert's firing periods in the range, from its ALERTS series at the graphs' step (an end is the step after its last firing sample); pending since from ALERTS_FOR_STATE"
      testid="alert-periods"
    >
      <table class="table">
        <thead>
          <tr>
            <th>pending since</th>
            <th>fired</th>
            <th>resolved</th>
            <th class="num">fired for</th>
          </tr>
        </thead>
        <tbody>
          {periods.map((p) => (
            <tr key={p.start} data-testid="alert-period">
              <td>{p.pendingAt !== undefined ? fmtTime(p.pendingAt) : ''}</td>
              <td>{fmtTime(p.start)}</td>
              <td>{p.resolved ? fmtTime(p.end) : <span class="badge badge-firing">at the range's end</span>}</td>
              <td class="num">{formatDuration(p.end - p.start)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}

/**
 * Investigate for an alert no longer active: its rule and labels (the
 * investigation takes the rule's expression and the labels' service) over
 * an hour before it became pending to the end of its newest period.
 */
function investigatePast(past: PastAlert, q: URLSearchParams): string {
  const labels = Object.entries(past.labels)
    .filter(([k]) => k !== 'alertname')
    .map(([k, v]) => `${k}=${promString(v)}`)
    .join(', ');
  const oldest = past.periods[past.periods.length - 1];
  const newest = past.periods[0];
  const params: Record<string, string> = { rule: past.labels.alertname ?? '', labels: `{${labels}}` };
  if (oldest && newest) {
    params.start = new Date((oldest.pendingAt ?? oldest.start) - 3600_000).toISOString();
    params.end = new Date(newest.end).toISOString();
  }
  return links.investigate(params, q);
}

/**
 * The alert's silences in the embedded Alertmanager, each with Expire
 * (DELETE /alertmanager/api/v2/silence/{id}), and Silence: a form (duration,
 * author, comment) that creates one with an equality matcher per label of
 * the alert (POST /alertmanager/api/v2/silences, lib/alerts silenceOf).
 */
function SilencesPanel({ alert, silences: sil, matching }: { alert: Known['alerts'][number]; silences: Loaded<Silence[]>; matching: Silence[] }) {
  const app = useApp();
  const [open, setOpen] = useState(false);
  const [minutes, setMinutes] = useState(60);
  const [author, setAuthor] = useState(() => localStorage.getItem('horus.silence.author') ?? '');
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const labels = alert.am?.labels ?? alert.labels;
  const o = { tenant: app.global.tenant || undefined };
  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setErr('');
    try {
      await fn();
      app.refresh();
      return true;
    } catch (e) {
      setErr((e as Error).message);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const ok = await act(async () => {
      const s = silenceOf(labels, minutes, author, comment, Date.now());
      localStorage.setItem('horus.silence.author', s.createdBy);
      await createSilence(s, o);
    });
    if (ok) {
      setOpen(false);
      setComment('');
    }
  };
  return (
    <Panel
      title="Silences"
      help="Silences of the embedded Alertmanager whose matchers match this alert"
      loading={sil.loading}
      error={sil.error}
      testid="alert-silences"
      actions={
        <button type="button" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="silence-button">
          Silence…
        </button>
      }
    >
      {open && (
        <form class="silence-form" onSubmit={submit} data-testid="silence-form">
          <p class="sub">
            Matches{' '}
            {Object.entries(labels)
              .filter(([k]) => k !== 'alertstate')
              .map(([k, v]) => `${k}="${v}"`)
              .join(', ')}
          </p>
          <label>
            for{' '}
            <select value={minutes} onChange={(e) => setMinutes(Number((e.target as HTMLSelectElement).value))} name="duration">
              {SILENCE_DURATIONS.map(([m, text]) => (
                <option key={m} value={m}>
                  {text}
                </option>
              ))}
            </select>
          </label>
          <label>
            author <input name="author" required value={author} onInput={(e) => setAuthor((e.target as HTMLInputElement).value)} />
          </label>
          <label class="grow">
            comment{' '}
            <input name="comment" required placeholder="why: deploying the fix, INC-123…" value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" class="run" disabled={busy}>
            Create silence
          </button>
        </form>
      )}
      {err && (
        <p class="error-inline" role="alert">
          {err}
        </p>
      )}
      {matching.length === 0 ? (
        <>
          <p class="empty">No silence matches this alert. Silence… creates one; or with amtool, for an hour:</p>
          <code class="query block">
            amtool --alertmanager.url={location.origin}/alertmanager silence add --duration=1h --comment="..."{' '}
            {Object.entries(alert.labels)
              .filter(([k]) => ['alertname', 'service', 'service_name', 'job', 'severity'].includes(k))
              .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
              .join(' ')}
          </code>
        </>
      ) : (
        <ul class="change-list" data-testid="silence-list">
          {matching.map((s) => (
            <li key={s.id} data-testid="silence-row">
              <span class={`badge badge-${s.status.state === 'active' ? 'silenced' : 'pending'}`}>{s.status.state}</span>{' '}
              {s.matchers.map((m) => `${m.name}${m.isEqual === false ? '!' : ''}${m.isRegex ? '=~' : '='}"${m.value}"`).join(', ')}{' '}
              <button type="button" class="linkish" disabled={busy} onClick={() => act(() => expireSilence(s.id, o))} data-testid="silence-expire">
                Expire
              </button>
              <div class="sub">
                by {s.createdBy} until {new Date(s.endsAt).toLocaleString()}: {s.comment}
              </div>
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}

/**
 * The runbook inline, when Horus serves it (/runbooks/<alert>, Markdown),
 * rendered by lib/runbook (loaded on demand, with micromark: raw HTML
 * escaped), its PromQL, LogQL and TraceQL blocks linking to Explore.
 */
function RunbookPanel({ url }: { url: string }) {
  const app = useApp();
  let path = '';
  try {
    const u = new URL(url, location.href);
    if (u.pathname.startsWith('/runbooks/')) path = u.pathname;
  } catch {
    /* not a URL */
  }
  const q = app.query;
  const res = useApi(
    async (o) => {
      if (!path) return null;
      const [r, { renderRunbook }] = await Promise.all([
        fetch(path, { signal: o.signal, headers: { Accept: 'text/markdown, text/plain' } }),
        import('../lib/runbook'),
      ]);
      const text = await r.text();
      if (!r.ok) throw new Error(`${r.status} ${text.trim()}`);
      return renderRunbook(text, new URL(path, location.href).href, (mode, query) => links.explore(mode, query, q));
    },
    [path, q.toString()],
  );
  if (!path) return null;
  return (
    <Panel title="Runbook" loading={res.loading} error={res.error} testid="alert-runbook" actions={<a href={url} target="_blank" rel="noopener">open</a>}>
      {/* The HTML is micromark's, with raw HTML escaped and dangerous links dropped (lib/runbook.ts). */}
      {res.data && <div class="runbook markdown" dangerouslySetInnerHTML={{ __html: res.data }} />}
    </Panel>
  );
}

function silenceMatches(s: Silence, labels: Labels): boolean {
  return s.matchers.every((m) => {
    const v = labels[m.name] ?? '';
    let ok: boolean;
    if (m.isRegex) {
      try {
        ok = new RegExp(`^(?:${m.value})$`).test(v);
      } catch {
        ok = false;
      }
    } else ok = v === m.value;
    return m.isEqual === false ? !ok : ok;
  });
}

/** A range of 30 minutes before to 15 after a change (the service page "at that time"). */
export function aroundChange(t: number): Record<string, string> {
  return { from: new Date(t - 30 * 60_000).toISOString(), to: new Date(t + 15 * 60_000).toISOString() };
}

function relTo(t: number, ref: number): string {
  const d = ref - t;
  return d >= 0 ? `${formatDuration(d)} before the alert` : `${formatDuration(-d)} after the alert`;
}

function fmtValue(v: string): string {
  const n = parseFloat(v);
  if (!Number.isFinite(n)) return v;
  return Math.abs(n) >= 1000 || n === Math.round(n) ? String(Math.round(n * 100) / 100) : n.toPrecision(4);
}
