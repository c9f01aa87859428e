// Changes: the timeline of change events over the range (deploys, config
// changes, feature flags, rollbacks, versions Horus saw change), newest
// first, filterable by service and kind, each linking to its service's
// page around the change.

import { useMemo } from 'preact/hooks';
import { changes } from '../api/horus';
import type { Change } from '../api/types';
import { Panel } from '../components/Panel';
import { useApi, useApp } from '../lib/app';
import { formatAgo } from '../lib/format';
import { links } from '../lib/links';
import { aroundChange } from './Alerts';
import './alerting.css';

export const KINDS = ['deploy', 'config', 'feature_flag', 'rollback', 'other'] as const;

export function ChangesPage() {
  const app = useApp();
  const q = app.query;
  const svc = q.get('service') ?? '';
  const kind = q.get('kind') ?? '';
  const { start, end } = app.range;
  // Every service's changes (for the filter's choices); filtered here.
  const res = useApi((o) => changes(start, end, o), [start, end]);
  const all = res.data ?? [];
  const services = useMemo(() => [...new Set(all.map((c) => c.service))].sort(), [all]);
  const shown = all.filter((c) => (!svc || c.service === svc) && (!kind || c.kind === kind));
  const days = groupByDay(shown);
  const set = (k: string) => (e: Event) => app.setParams({ [k]: (e.target as HTMLSelectElement).value || null });
  return (
    <div class="page" data-testid="page-changes">
      <div class="page-title">
        <h1>{svc ? `Changes of ${svc}` : 'Changes'}</h1>
        {svc && (
          <nav class="jump" aria-label="This service">
            <a href={links.service(svc, q)}>Service {svc}</a>
          </nav>
        )}
      </div>
      <Panel
        title={res.data ? `${shown.length} change${shown.length === 1 ? '' : 's'}${svc || kind ? ` of ${all.length}` : ''} in this range` : 'Changes'}
        help="Change events (GET /api/v1/changes): sent by deploy tools (POST /api/v1/changes, horus change add) and detected by Horus when a service's version changes. Newest first; each links to the service's page around it."
        loading={res.loading}
        error={res.error}
        testid="changes-panel"
        actions={
          <span class="filters">
            <select aria-label="Service" value={svc} onChange={set('service')} data-testid="changes-service">
              <option value="">every service</option>
              {[...new Set([...services, ...(svc ? [svc] : [])])].map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
            <select aria-label="Kind" value={kind} onChange={set('kind')} data-testid="changes-kind">
              <option value="">every kind</option>
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {k.replace('_', ' ')}
                </option>
              ))}
            </select>
          </span>
        }
        empty={
          res.data && shown.length === 0
            ? all.length
              ? 'No change matches the filters in this range.'
              : 'No change events in this range. Deploy tools send them with POST /api/v1/changes or horus change add; Horus records a service.version change itself.'
            : false
        }
      >
        <ol class="timeline" data-testid="changes-timeline">
          {days.map(([day, cs]) => [
            <li class="day" key={day}>
              {day}
            </li>,
            ...cs.map((c) => <ChangeItem key={c.id} c={c} q={q} />),
          ])}
        </ol>
      </Panel>
    </div>
  );
}

function ChangeItem({ c, q }: { c: Change; q: URLSearchParams }) {
  const t = Date.parse(c.time);
  return (
    <li class={`tl-${c.kind}`} data-testid="change" data-kind={c.kind} data-service={c.service}>
      <div>
        <span class={`kind kind-${c.kind}`}>{c.kind.replace('_', ' ')}</span>{' '}
        <a href={links.service(c.service, q, aroundChange(t))} class="change-service" title="The service's page from 30 minutes before to 15 after the change">
          {c.service}
        </a>
        {c.version && (
          <>
            {' '}
            <code>
              {c.previousVersion ? `${c.previousVersion} → ` : ''}
              {c.version}
            </code>
          </>
        )}
        {c.instance && <span class="sub"> on {c.instance}</span>}{' '}
        <span class="sub" title={new Date(t).toISOString()}>
          {new Date(t).toLocaleTimeString()} ({formatAgo(t)}){c.author ? ` by ${c.author}` : ''} · {c.source === 'auto' ? 'seen in telemetry' : c.source}
        </span>
      </div>
      {c.description && <div class="sub">{c.description}</div>}
      {c.links && c.links.length > 0 && (
        <div class="sub">
          {c.links.map((l) => (
            <a key={l.url} href={l.url} target="_blank" rel="noopener noreferrer">
              {l.title || l.url}
            </a>
          ))}
        </div>
      )}
    </li>
  );
}

function groupByDay(cs: Change[]): [string, Change[]][] {
  const out: [string, Change[]][] = [];
  const sorted = [...cs].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  for (const c of sorted) {
    const d = new Date(c.time).toLocaleDateString(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });
    if (!out.length || out[out.length - 1][0] !== d) out.push([d, []]);
    out[out.length - 1][1].push(c);
  }
  return out;
}
