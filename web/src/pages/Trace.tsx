// The Trace page (/trace/<id>?span=<span id>): the waterfall of the spans
// (service colours, the critical path, errors, collapsible subtrees,
// virtualised rows and a minimap for large traces), the selected span's
// details and logs, the trace's logs interleaved, the services it crossed.
// Loaded on demand (lazy in app.tsx).

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { lokiQueryRange, traceById } from '../api/signals';
import { ErrorBox, Panel } from '../components/Panel';
import { useApi, useApp } from '../lib/app';
import { colorFor, formatSeconds } from '../lib/format';
import { links } from '../lib/links';
import { flattenStreams, LEVEL_COLORS, type LogLine, traceLogsQuery } from '../lib/logs';
import { promString } from '../lib/queries';
import { formatAbsolute } from '../lib/time';
import {
  ancestors,
  barOf,
  buildTree,
  criticalPath,
  criticalSpans,
  formatAttr,
  KIND_NAMES,
  padTraceId,
  parseTrace,
  type Attrs,
  type Segment,
  servicesOf,
  type Span,
  type Tree,
  visibleRows,
} from '../lib/trace';
import './signals.css';

const ROW = 24;
const OVERSCAN = 8;

const ms = (v: number) => formatSeconds(v / 1000);

export default function TracePage({ id }: { id: string }) {
  const app = useApp();
  const traceId = padTraceId(id);
  const res = useApi((o) => traceById(traceId, o).then(parseTrace), [traceId]);
  const spans = res.data;
  const tree = useMemo(() => (spans ? buildTree(spans) : undefined), [spans]);
  const segments = useMemo(() => (tree ? criticalPath(tree) : []), [tree]);
  const crit = useMemo(() => criticalSpans(segments), [segments]);
  const failing = useMemo(() => (tree ? failingSpan(tree, crit) : undefined), [tree, crit]);

  if (res.error && !spans) {
    return (
      <div class="page" data-testid="page-trace">
        <h1>Trace {traceId}</h1>
        <ErrorBox error={res.error} />
      </div>
    );
  }
  if (!tree) {
    return (
      <div class="page" data-testid="page-trace">
        <h1>Trace {traceId}</h1>
        <Panel title="Spans" loading={true} />
      </div>
    );
  }
  const selectedId = app.query.get('span') ?? '';
  const selected = tree.byId.get(selectedId) ?? failing;
  return (
    <TraceView
      key={traceId}
      traceId={traceId}
      tree={tree}
      segments={segments}
      crit={crit}
      selected={selected}
      failing={failing}
      select={(s) => app.setParams({ span: s }, true)}
    />
  );
}

/** The span where the trace failed: the last error span on the critical path, else the deepest error span. */
export function failingSpan(tree: Tree, crit: Map<string, number>): Span | undefined {
  const errs = tree.spans.filter((s) => s.status === 2);
  if (!errs.length) return undefined;
  const hasErrChild = (s: Span) => (tree.children.get(s.id) ?? []).some((c) => c.status === 2);
  const leaves = errs.filter((s) => !hasErrChild(s));
  const onPath = leaves.filter((s) => crit.has(s.id));
  const pick = (onPath.length ? onPath : leaves.length ? leaves : errs).sort((a, b) => b.end - a.end);
  return pick[0];
}

function TraceView(props: {
  traceId: string;
  tree: Tree;
  segments: Segment[];
  crit: Map<string, number>;
  selected: Span | undefined;
  failing: Span | undefined;
  select: (id: string) => void;
}) {
  const { tree, traceId, crit, selected, failing } = props;
  const app = useApp();
  const root = tree.roots[0];
  const duration = tree.end - tree.start;
  const services = useMemo(() => servicesOf(tree.spans), [tree]);
  const errors = useMemo(() => tree.spans.filter((s) => s.status === 2).length, [tree]);
  // Logs of the whole trace, over its time and a minute around it.
  const logs = useApi(
    (o) =>
      lokiQueryRange(traceLogsQuery(traceId), tree.start - 60_000, tree.end + 60_000, o, { limit: 2000, direction: 'forward' }).then((r) =>
        r.resultType === 'streams' ? flattenStreams(r.result, true) : [],
      ),
    [traceId, tree.start, tree.end],
  );
  const q = app.query;
  const around = { from: formatAbsolute(tree.start - 5 * 60_000), to: formatAbsolute(tree.end + 5 * 60_000) };
  const withRange = new URLSearchParams(q);
  withRange.set('from', around.from);
  withRange.set('to', around.to);
  const similar =
    root &&
    `{ trace:rootService = ${promString(root.service)} && trace:rootName = ${promString(root.name)} && trace:duration > ${Math.floor(duration * 0.5)}ms && trace:duration < ${Math.ceil(duration * 2 + 1)}ms }`;
  return (
    <div class="page trace-page" data-testid="page-trace">
      <div class="page-title">
        <h1>
          {root ? (
            <>
              <span style={{ color: colorFor(root.service) }}>{root.service}</span>: {root.name}
            </>
          ) : (
            'Trace'
          )}
        </h1>
        <span class="muted trace-id">{traceId}</span>
      </div>
      <p class="trace-summary" data-testid="trace-summary">
        <b>{ms(duration)}</b> · {tree.spans.length} spans · {services.length} services ·{' '}
        {errors ? <span class="bad">{errors} with errors</span> : 'no errors'} · started{' '}
        {new Date(tree.start).toLocaleString()}
        {similar && (
          <>
            {' '}
            · <a href={links.explore('traces', similar, withRange)}>similar traces</a>
          </>
        )}{' '}
        · <a href={links.explore('logs', traceLogsQuery(traceId), withRange)}>logs in Explore</a> ·{' '}
        <a href={`/api/traces/${traceId}`}>JSON</a>
      </p>
      <ul class="trace-services" aria-label="Services crossed" data-testid="trace-services">
        {services.map((s) => (
          <li key={s.name}>
            <span class="swatch" style={{ background: colorFor(s.name) }} />
            <a href={links.service(s.name, withRange)}>{s.name}</a>
            <span class="sub">
              {' '}
              {s.spans} span{s.spans === 1 ? '' : 's'}
              {s.errors > 0 && <span class="bad"> · {s.errors} err</span>}
            </span>
          </li>
        ))}
      </ul>
      {failing && (
        <p class="trace-failing" data-testid="trace-failing">
          ✖ Failed at{' '}
          <button type="button" class="linkish" onClick={() => props.select(failing.id)}>
            {failing.service}: {failing.name}
          </button>
          {failing.statusMessage && <>: “{failing.statusMessage}”</>}
          {crit.has(failing.id) && <span class="sub"> (on the critical path)</span>}
        </p>
      )}
      <Waterfall tree={tree} segments={props.segments} crit={crit} selected={selected} select={props.select} />
      {!selected && <p class="sub">Click a span for its attributes, events, links, resource and logs.</p>}
      {selected && <SpanDetails span={selected} tree={tree} crit={crit} logs={logs.data} traceId={traceId} q={withRange} select={props.select} />}
      <Panel
        title={`Logs of the trace${logs.data ? ` (${logs.data.length})` : ''}`}
        help={traceLogsQuery(traceId)}
        loading={logs.loading}
        error={logs.error}
        empty={logs.data && logs.data.length === 0 && 'No log lines carry this trace id.'}
        testid="trace-logs"
      >
        {logs.data && <TraceLogs lines={logs.data} tree={tree} select={props.select} selected={selected?.id} />}
      </Panel>
    </div>
  );
}

function Waterfall(props: { tree: Tree; segments: Segment[]; crit: Map<string, number>; selected?: Span; select: (id: string) => void }) {
  const { tree, crit, selected } = props;
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const rows = useMemo(() => visibleRows(tree, collapsed), [tree, collapsed]);
  const segsBySpan = useMemo(() => {
    const m = new Map<string, Segment[]>();
    for (const s of props.segments) {
      let a = m.get(s.spanId);
      if (!a) m.set(s.spanId, (a = []));
      a.push(s);
    }
    return m;
  }, [props.segments]);
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewH, setViewH] = useState(600);
  const height = Math.min(rows.length * ROW + 2, Math.max(240, Math.round(window.innerHeight * 0.62)));
  useLayoutEffect(() => setViewH(scroller.current?.clientHeight ?? height), [height]);

  // A newly selected span: expand its ancestors, then bring it into view
  // (once per selection: collapsing its parent afterwards stays collapsed).
  const selId = selected?.id;
  const shown = useRef('');
  useEffect(() => {
    if (!selId || shown.current === selId) return;
    const up = ancestors(tree, selId).filter((a) => collapsed.has(a));
    if (up.length) {
      const next = new Set(collapsed);
      up.forEach((a) => next.delete(a));
      setCollapsed(next);
      return;
    }
    shown.current = selId;
    const i = rows.findIndex((r) => r.span.id === selId);
    const el = scroller.current;
    if (i >= 0 && el && (i * ROW < el.scrollTop || (i + 1) * ROW > el.scrollTop + el.clientHeight)) {
      el.scrollTop = Math.max(0, i * ROW - el.clientHeight / 3);
    }
  }, [selId, rows]);

  const toggle = (id: string) => {
    const next = new Set(collapsed);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setCollapsed(next);
  };
  const collapseAll = (deep: boolean) => {
    if (!deep) return setCollapsed(new Set());
    // Keep the first two levels open.
    const next = new Set<string>();
    for (const r of visibleRows(tree, new Set())) if (r.depth === 1 && r.childCount) next.add(r.span.id);
    setCollapsed(next);
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewH) / ROW) + OVERSCAN);
  const total = tree.end - tree.start;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <section class="panel waterfall-panel" data-testid="waterfall">
      <header class="panel-head">
        <h2>Spans</h2>
        <span class="sub">
          {rows.length} of {tree.spans.length} shown · <span class="crit-key" /> critical path ({ms([...crit.values()].reduce((a, b) => a + b, 0))})
        </span>
        <div class="panel-actions">
          <button type="button" onClick={() => collapseAll(true)}>
            Collapse
          </button>{' '}
          <button type="button" onClick={() => collapseAll(false)}>
            Expand all
          </button>
        </div>
      </header>
      {tree.spans.length > 40 && (
        <Minimap tree={tree} rows={rows} first={scrollTop / ROW} visible={viewH / ROW} onJump={(i) => scroller.current && (scroller.current.scrollTop = i * ROW - viewH / 2)} />
      )}
      <div class="wf-head">
        <div class="wf-name">service: span</div>
        <div class="wf-time">
          {ticks.map((t) => (
            <span key={t} style={{ left: `${t * 100}%` }} class={t === 1 ? 'last' : t === 0 ? 'first' : ''}>
              {ms(total * t)}
            </span>
          ))}
        </div>
      </div>
      <div
        class="wf-scroll"
        ref={scroller}
        style={{ height: `${height}px` }}
        onScroll={(e) => {
          // Re-render only when the first row changes.
          const top = (e.currentTarget as HTMLDivElement).scrollTop;
          if (Math.floor(top / ROW) !== Math.floor(scrollTop / ROW)) setScrollTop(top);
        }}
        data-testid="waterfall-scroll"
      >
        <div class="wf-inner" style={{ height: `${rows.length * ROW}px` }}>
          {rows.slice(first, last).map((r, k) => {
            const s = r.span;
            const i = first + k;
            const bar = barOf(s, tree);
            const color = colorFor(s.service);
            const onPath = crit.has(s.id);
            const err = s.status === 2;
            return (
              // Keyed by slot, not span: scrolling patches the same rows instead of replacing them.
              <div
                key={k}
                class={`wf-row${selected?.id === s.id ? ' selected' : ''}${err ? ' wf-error' : ''}${onPath ? ' crit' : ''}`}
                style={{ top: `${i * ROW}px` }}
                data-span-id={s.id}
                onClick={() => props.select(s.id)}
              >
                <div class="wf-name" style={{ paddingLeft: `${Math.min(r.depth, 30) * 14 + 4}px` }}>
                  {r.childCount > 0 ? (
                    <button
                      type="button"
                      class="wf-toggle"
                      aria-expanded={!r.collapsed}
                      aria-label={`${r.collapsed ? 'Expand' : 'Collapse'} ${s.name}`}
                      onClick={(e) => {
                        e.stopPropagation();
                        toggle(s.id);
                      }}
                    >
                      {r.collapsed ? '▸' : '▾'}
                    </button>
                  ) : (
                    <span class="wf-toggle" />
                  )}
                  <span class="swatch" style={{ background: color }} />
                  <button type="button" class="wf-label" title={`${s.service}: ${s.name}`}>
                    <span class="wf-svc">{s.service}</span> {s.name}
                    {r.collapsed && <span class="sub"> +{countBelow(tree, s.id)}</span>}
                  </button>
                  {err && (
                    <span class="wf-err" title={s.statusMessage || 'error'} aria-label="error">
                      ✖
                    </span>
                  )}
                </div>
                <div class="wf-time">
                  <div
                    class="wf-bar"
                    style={{ left: `${bar.left * 100}%`, width: `max(1px, ${bar.width * 100}%)`, background: color }}
                  />
                  {(segsBySpan.get(s.id) ?? []).map((g, j) => {
                    const b = barOf(g, tree);
                    return <div key={j} class="wf-crit" style={{ left: `${b.left * 100}%`, width: `max(1px, ${b.width * 100}%)` }} />;
                  })}
                  <span class="wf-dur" style={bar.left > 0.8 ? { right: `${(1 - bar.left) * 100 + 0.5}%` } : { left: `${(bar.left + bar.width) * 100 + 0.5}%` }}>
                    {ms(s.duration)}
                  </span>
                </div>
              </div>
            );
          })}
        </div>
      </div>
    </section>
  );
}

function countBelow(tree: Tree, id: string): number {
  let n = 0;
  const stack = [...(tree.children.get(id) ?? [])];
  while (stack.length) {
    const s = stack.pop()!;
    n++;
    stack.push(...(tree.children.get(s.id) ?? []));
  }
  return n;
}

/** The whole trace in 64 px: each visible row a line; the box is what the waterfall shows; click to go there. */
function Minimap(props: { tree: Tree; rows: { span: Span }[]; first: number; visible: number; onJump: (row: number) => void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const H = 64;
  useEffect(() => {
    const c = canvas.current!;
    const w = c.clientWidth || 800;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(w * dpr);
    c.height = Math.round(H * dpr);
    const g = c.getContext('2d')!;
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, H);
    const n = props.rows.length || 1;
    const lh = Math.max(1, H / n);
    props.rows.forEach((r, i) => {
      const b = barOf(r.span, props.tree);
      g.fillStyle = r.span.status === 2 ? '#dc2626' : colorFor(r.span.service);
      g.fillRect(b.left * w, (i / n) * H, Math.max(1, b.width * w), lh);
    });
  }, [props.rows, props.tree]);
  const n = props.rows.length || 1;
  const jump = (e: MouseEvent) => {
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    props.onJump(Math.round(((e.clientY - r.top) / r.height) * n));
  };
  return (
    <div class="minimap" onClick={jump} title="The whole trace: click to scroll there" data-testid="minimap">
      <canvas ref={canvas} style={{ height: `${H}px` }} />
      <div class="minimap-view" style={{ top: `${(props.first / n) * 100}%`, height: `${Math.min(1, props.visible / n) * 100}%` }} />
    </div>
  );
}

function SpanDetails(props: {
  span: Span;
  tree: Tree;
  crit: Map<string, number>;
  logs?: LogLine[];
  traceId: string;
  q: URLSearchParams;
  select: (id: string) => void;
}) {
  const { span: s, tree } = props;
  const parent = tree.byId.get(s.parentId);
  const own = (props.logs ?? []).filter((l) => l.spanId === s.id);
  const onPath = props.crit.get(s.id);
  return (
    <section class="panel span-details" data-testid="span-details" aria-label="Span details">
      <header class="panel-head">
        <h2>
          <span class="swatch" style={{ background: colorFor(s.service) }} /> {s.service}: {s.name}
        </h2>
        <span class="sub">{s.id}</span>
      </header>
      <dl class="span-facts">
        <dt>duration</dt>
        <dd>
          {ms(s.duration)} <span class="sub">(at +{ms(s.start - tree.start)})</span>
        </dd>
        <dt>kind</dt>
        <dd>{KIND_NAMES[s.kind] ?? s.kind}</dd>
        <dt>status</dt>
        <dd class={s.status === 2 ? 'bad' : ''}>
          {['unset', 'ok', 'error'][s.status] ?? s.status}
          {s.statusMessage && `: ${s.statusMessage}`}
        </dd>
        <dt>critical path</dt>
        <dd>{onPath !== undefined ? <span class="crit-yes">yes, {ms(onPath)} of its time</span> : 'no'}</dd>
        <dt>service</dt>
        <dd>
          <a href={links.service(s.service, props.q)}>{s.service}</a>
        </dd>
        {parent && (
          <>
            <dt>parent</dt>
            <dd>
              <button type="button" class="linkish" onClick={() => props.select(parent.id)}>
                {parent.service}: {parent.name}
              </button>
            </dd>
          </>
        )}
      </dl>
      <div class="span-cols">
        <div>
          <h3>Attributes</h3>
          <AttrTable attrs={s.attributes} />
          {s.events.length > 0 && (
            <>
              <h3>Events</h3>
              <ul class="span-events">
                {s.events.map((e, i) => (
                  <li key={i}>
                    <span class="sub">+{ms(e.time - s.start)}</span> <b>{e.name}</b>
                    {e.attributes.length > 0 && <AttrTable attrs={e.attributes} />}
                  </li>
                ))}
              </ul>
            </>
          )}
          {s.links.length > 0 && (
            <>
              <h3>Links</h3>
              <ul class="span-events">
                {s.links.map((l, i) => (
                  <li key={i}>
                    <a href={links.trace(l.traceId, props.q, l.spanId)}>
                      trace {l.traceId.slice(0, 12)}… span {l.spanId}
                    </a>
                    {l.attributes.length > 0 && <AttrTable attrs={l.attributes} />}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
        <div>
          <h3>Logs of this span ({own.length})</h3>
          {own.length ? (
            <ul class="log-lines compact" data-testid="span-logs">
              {own.map((l) => (
                <LogRow key={l.key} l={l} tree={tree} />
              ))}
            </ul>
          ) : (
            <p class="sub">{props.logs ? 'No line carries this span id.' : 'Loading…'}</p>
          )}
          <details>
            <summary>Resource ({s.resource.length})</summary>
            <AttrTable attrs={s.resource} />
          </details>
          {s.scope && <p class="sub">instrumentation scope: {s.scope}</p>}
        </div>
      </div>
    </section>
  );
}

function AttrTable({ attrs }: { attrs: Attrs }) {
  if (!attrs.length) return <p class="sub">none</p>;
  return (
    <table class="attrs">
      <tbody>
        {[...attrs]
          .sort((a, b) => a[0].localeCompare(b[0]))
          .map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td>{formatAttr(v)}</td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}

function LogRow({ l, tree, select, current }: { l: LogLine; tree: Tree; select?: (id: string) => void; current?: boolean }) {
  const span = tree.byId.get(l.spanId);
  return (
    <li class={`log-line level-${l.level}${current ? ' current' : ''}`}>
      <span class="log-time">+{ms(l.time - tree.start)}</span>
      <span class="log-level" style={{ color: LEVEL_COLORS[l.level] }}>
        {l.level}
      </span>
      {l.service && (
        <span class="log-svc" style={{ color: colorFor(l.service) }}>
          {l.service}
        </span>
      )}
      <span class="log-text">{l.line}</span>
      {select && span && (
        <button type="button" class="linkish log-span" onClick={() => select(span.id)} title="Select the span">
          {span.name}
        </button>
      )}
    </li>
  );
}

function TraceLogs(props: { lines: LogLine[]; tree: Tree; select: (id: string) => void; selected?: string }) {
  return (
    <ul class="log-lines">
      {props.lines.map((l) => (
        <LogRow key={l.key} l={l} tree={props.tree} select={props.select} current={l.spanId === props.selected} />
      ))}
    </ul>
  );
}
