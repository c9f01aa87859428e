// Pages with a route and a URL scheme (docs/ui.md) whose content other
// engineers build. Each says what it will show and links to what exists.

import type { ComponentChildren } from 'preact';
import { useApp } from '../lib/app';
import { links } from '../lib/links';

function Placeholder(props: { title: string; children: ComponentChildren; testid: string }) {
  return (
    <div class="page" data-testid={props.testid}>
      <h1>{props.title}</h1>
      <section class="panel placeholder">{props.children}</section>
    </div>
  );
}

export function TracePage({ id }: { id: string }) {
  const app = useApp();
  const span = app.query.get('span');
  return (
    <Placeholder title={`Trace ${id}`} testid="page-trace">
      <p>
        The trace view will be here: a waterfall of the spans by service colour with the critical path highlighted and
        errors marked, collapsible subtrees and a minimap, each span's attributes, events, links and resource, the
        trace's logs, and the services it crossed.
      </p>
      {span && <p>Selected span: <code>{span}</code></p>}
      <p>
        Until then: <a href={`/api/traces/${encodeURIComponent(id)}`}>the trace as JSON</a> (Tempo API),{' '}
        <a href={links.explore('logs', `{service_name=~".+"} | trace_id=${JSON.stringify(id)}`, app.query)}>its logs in Explore</a>.
      </p>
    </Placeholder>
  );
}

export function AlertsPage() {
  return (
    <Placeholder title="Alerts" testid="page-alerts">
      <p>
        Firing and pending alerts will be here, with severity, summary, runbook link, how long, the series' graph with
        exemplars and a button to investigate; and the alerting rules. Until then: <a href="/api/v1/alerts">/api/v1/alerts</a>,{' '}
        <a href="/api/v1/rules">/api/v1/rules</a>.
      </p>
    </Placeholder>
  );
}

export function AlertPage({ fingerprint }: { fingerprint: string }) {
  return (
    <Placeholder title={`Alert ${fingerprint}`} testid="page-alert">
      <p>
        One alert will be here (by its Alertmanager fingerprint, as notifications link to it): its labels and
        annotations, the runbook, its series' graph with exemplars, and an "investigate" button. Until then:{' '}
        <a href={`/alertmanager/api/v2/alerts?filter=`}>the Alertmanager API</a>.
      </p>
    </Placeholder>
  );
}

export function SLOsPage() {
  return (
    <Placeholder title="SLOs" testid="page-slos">
      <p>
        The SLOs will be listed here: budget left, burn rates per window, alert state. Until then:{' '}
        <a href="/api/v1/slos">/api/v1/slos</a>.
      </p>
    </Placeholder>
  );
}

export function SLOPage({ id }: { id: string }) {
  return (
    <Placeholder title={`SLO ${id}`} testid="page-slo">
      <p>
        One SLO will be here: the SLI and the error budget over the window, burn per window. Until then:{' '}
        <a href={`/api/v1/slos/${encodeURIComponent(id)}`}>/api/v1/slos/{id}</a>.
      </p>
    </Placeholder>
  );
}

export function ChangesPage() {
  const app = useApp();
  const svc = app.query.get('service');
  return (
    <Placeholder title={svc ? `Changes of ${svc}` : 'Changes'} testid="page-changes">
      <p>
        The timeline of change events (deploys, config changes, feature flags, rollbacks) will be here, filterable by
        service, each linking to the service page at that time. Until then:{' '}
        <a href={`/api/v1/changes${svc ? `?service=${encodeURIComponent(svc)}` : ''}`}>/api/v1/changes</a>
        {svc && (
          <>
            {' '}
            and <a href={links.service(svc, app.query)}>the service page</a>, whose graphs mark each change
          </>
        )}
        .
      </p>
    </Placeholder>
  );
}

export function InvestigatePage() {
  return (
    <Placeholder title="Investigate" testid="page-investigate">
      <p>An investigation (alert → dashboard → trace → logs → change, done for you) will be shown here.</p>
    </Placeholder>
  );
}

export function NotFound() {
  return (
    <Placeholder title="Not found" testid="page-notfound">
      <p>
        No page here. <a href="/services">Services</a>
      </p>
    </Placeholder>
  );
}
