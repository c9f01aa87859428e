// The service graph as SVG: callers on the left, each edge labelled with
// its request rate, error share and p99, red when it fails. A service node
// links to its page.

import type { GraphEdge, ServiceGraph } from '../api/types';
import { formatPercent, formatRate, formatSeconds } from '../lib/format';
import { layout } from '../lib/graphLayout';

const NODE_W = 150;
const NODE_H = 34;

export function ServiceGraphView(props: { graph: ServiceGraph; href: (service: string) => string; highlight?: string }) {
  const { graph } = props;
  const ids = graph.nodes.map((n) => n.id);
  const l = layout({ nodes: ids, edges: graph.edges }, { colWidth: 290, rowHeight: 70, margin: 24 });
  const width = l.width + NODE_W;
  const height = l.height + NODE_H;
  const types = new Map(graph.nodes.map((n) => [n.id, n]));
  return (
    <div class="graph-scroll">
      <svg
        class="service-graph"
        width={width}
        height={height}
        style={{ width: '100%', maxWidth: `${width}px`, height: 'auto' }}
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label="Service graph"
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" fill="#9ca3af" />
          </marker>
          <marker id="arrow-bad" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" fill="#dc2626" />
          </marker>
        </defs>
        {graph.edges.map((e) => {
          const a = l.nodes.get(e.source);
          const b = l.nodes.get(e.target);
          if (!a || !b) return null;
          const x1 = a.x + NODE_W;
          const y1 = a.y + NODE_H / 2;
          const x2 = b.x;
          const y2 = b.y + NODE_H / 2;
          const back = x2 <= x1;
          const mx = (x1 + x2) / 2;
          const d = back
            ? `M${x1},${y1} C${x1 + 60},${y1 - 50} ${x2 - 60},${y2 - 50} ${x2},${y2}`
            : `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
          const bad = e.errorRate >= 0.01;
          return (
            <g key={`${e.source}>${e.target}`} class={`edge ${bad ? 'edge-bad' : ''}`}>
              <path d={d} marker-end={bad ? 'url(#arrow-bad)' : 'url(#arrow)'} stroke-width={edgeWidth(e)}>
                <title>{edgeTitle(e)}</title>
              </path>
              <text x={mx} y={back ? Math.min(y1, y2) - 40 : (y1 + y2) / 2 - 18} text-anchor="middle">
                {edgeLines(e).map((line, i) => (
                  <tspan key={i} x={mx} dy={i === 0 ? 0 : 12}>
                    {line}
                  </tspan>
                ))}
              </text>
            </g>
          );
        })}
        {graph.nodes.map((n) => {
          const p = l.nodes.get(n.id)!;
          const bad = n.errorRate >= 0.01;
          const box = (
            <g class={`node node-${n.type} ${bad ? 'node-bad' : ''} ${props.highlight === n.id ? 'node-current' : ''}`}>
              <rect x={p.x} y={p.y} width={NODE_W} height={NODE_H} rx={6} />
              <text x={p.x + 10} y={p.y + 15} class="node-name">
                {truncate(n.id, 20)}
              </text>
              <text x={p.x + 10} y={p.y + 28} class="node-stats">
                {n.type === 'user' ? 'users' : `${formatRate(n.rate)} · ${formatPercent(n.errorRate)} err`}
              </text>
              <title>
                {n.id} ({n.type}){n.type !== 'user' ? `: ${formatRate(n.rate)}, ${formatPercent(n.errorRate)} errors, p99 ${n.p99Seconds != null ? formatSeconds(n.p99Seconds) : '–'}` : ''}
              </title>
            </g>
          );
          return n.type === 'service' && types.has(n.id) ? (
            <a key={n.id} href={props.href(n.id)} aria-label={`service ${n.id}`}>
              {box}
            </a>
          ) : (
            <g key={n.id}>{box}</g>
          );
        })}
      </svg>
    </div>
  );
}

function edgeWidth(e: GraphEdge): number {
  return Math.min(6, 1 + Math.log10(1 + e.rate * 10));
}

/** The label of an edge in two short lines: rate and errors, then p99. */
function edgeLines(e: GraphEdge): string[] {
  const first = [formatRate(e.rate)];
  if (e.errorRate > 0) first.push(`${formatPercent(e.errorRate)} err`);
  return e.p99Seconds != null ? [first.join(' · '), `p99 ${formatSeconds(e.p99Seconds)}`] : [first.join(' · ')];
}

export function edgeLabel(e: GraphEdge): string {
  const parts = [formatRate(e.rate)];
  if (e.errorRate > 0) parts.push(`${formatPercent(e.errorRate)} err`);
  if (e.p99Seconds != null) parts.push(`p99 ${formatSeconds(e.p99Seconds)}`);
  return parts.join(' · ');
}

function edgeTitle(e: GraphEdge): string {
  return `${e.source} → ${e.target}${e.connectionType ? ` (${e.connectionType})` : ''}: ${edgeLabel(e)}`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
