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

export function NotFound() {
  return (
    <Placeholder title="Not found" testid="page-notfound">
      <p>
        No page here. <a href="/services">Services</a>
      </p>
    </Placeholder>
  );
}
