// A layered layout of the service graph, callers left of callees: each
// node's column is its longest call path from a node nobody calls (cycles
// broken where they are met), and the nodes of a column are ordered by the
// mean row of their callers, which keeps most edges from crossing.

export interface LayoutInput {
  nodes: string[];
  edges: { source: string; target: string }[];
}

export interface Placed {
  id: string;
  layer: number;
  row: number;
  x: number;
  y: number;
}

export interface Layout {
  nodes: Map<string, Placed>;
  width: number;
  height: number;
}

export interface LayoutOptions {
  colWidth: number;
  rowHeight: number;
  margin: number;
}

const DEFAULTS: LayoutOptions = { colWidth: 220, rowHeight: 72, margin: 40 };

export function layers(input: LayoutInput): Map<string, number> {
  const out = new Map<string, string[]>();
  const indeg = new Map<string, number>();
  for (const n of input.nodes) {
    out.set(n, []);
    indeg.set(n, 0);
  }
  for (const e of input.edges) {
    if (!out.has(e.source) || !out.has(e.target) || e.source === e.target) continue;
    out.get(e.source)!.push(e.target);
    indeg.set(e.target, (indeg.get(e.target) ?? 0) + 1);
  }
  const layer = new Map<string, number>();
  const onPath = new Set<string>();
  // Longest path by DFS from each root; an edge back into the current path is a cycle and ignored.
  const visit = (n: string, depth: number) => {
    if ((layer.get(n) ?? -1) >= depth) return;
    layer.set(n, depth);
    onPath.add(n);
    for (const m of out.get(n) ?? []) if (!onPath.has(m)) visit(m, depth + 1);
    onPath.delete(n);
  };
  const roots = input.nodes.filter((n) => indeg.get(n) === 0);
  for (const r of [...roots].sort()) visit(r, 0);
  // Nodes only on cycles: start from the first not placed.
  for (const n of [...input.nodes].sort()) if (!layer.has(n)) visit(n, 0);
  return layer;
}

export function layout(input: LayoutInput, opts: Partial<LayoutOptions> = {}): Layout {
  const o = { ...DEFAULTS, ...opts };
  const layer = layers(input);
  const byLayer: string[][] = [];
  for (const n of [...input.nodes].sort()) {
    const l = layer.get(n) ?? 0;
    (byLayer[l] ??= []).push(n);
  }
  const row = new Map<string, number>();
  const preds = new Map<string, string[]>();
  for (const e of input.edges) (preds.get(e.target) ?? preds.set(e.target, []).get(e.target)!).push(e.source);
  byLayer.forEach((names, l) => {
    if (l > 0) {
      const bary = (n: string) => {
        const rs = (preds.get(n) ?? []).map((p) => row.get(p)).filter((r): r is number => r !== undefined);
        return rs.length ? rs.reduce((a, b) => a + b, 0) / rs.length : Infinity;
      };
      names.sort((a, b) => bary(a) - bary(b) || a.localeCompare(b));
    }
    names.forEach((n, i) => row.set(n, i));
  });
  const maxRows = Math.max(1, ...byLayer.map((l) => l?.length ?? 0));
  const height = o.margin * 2 + (maxRows - 1) * o.rowHeight;
  const nodes = new Map<string, Placed>();
  byLayer.forEach((names, l) => {
    const offset = ((maxRows - names.length) * o.rowHeight) / 2;
    names.forEach((n, i) => {
      nodes.set(n, { id: n, layer: l, row: i, x: o.margin + l * o.colWidth, y: o.margin + offset + i * o.rowHeight });
    });
  });
  const width = o.margin * 2 + Math.max(0, byLayer.length - 1) * o.colWidth;
  return { nodes, width, height };
}
