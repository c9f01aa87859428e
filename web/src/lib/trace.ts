// A trace as the Trace page reads it: the spans of the Tempo API's OTLP
// JSON (/api/traces/<id>), the span tree, the critical path and the rows
// of the waterfall. Pure functions, unit-tested in trace.test.ts.

export type AttrValue = string | number | boolean | null | AttrValue[] | { [k: string]: AttrValue };
export type Attrs = [string, AttrValue][];

export interface SpanEvent {
  time: number; // ms, absolute
  name: string;
  attributes: Attrs;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  attributes: Attrs;
}

export interface Span {
  id: string;
  /** "" for a root. */
  parentId: string;
  name: string;
  service: string;
  /** OTLP span kind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** ms, absolute (Unix). */
  start: number;
  end: number;
  /** ms, exact (computed from the nanosecond strings). */
  duration: number;
  /** OTLP status: 0 unset, 1 ok, 2 error. */
  status: number;
  statusMessage: string;
  attributes: Attrs;
  resource: Attrs;
  scope: string;
  events: SpanEvent[];
  links: SpanLink[];
}

export const KIND_NAMES = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

interface OtlpAny {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  bytesValue?: string;
  arrayValue?: { values?: OtlpAny[] };
  kvlistValue?: { values?: OtlpKV[] };
}
interface OtlpKV {
  key: string;
  value?: OtlpAny;
}

function anyValue(v: OtlpAny | undefined): AttrValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.bytesValue !== undefined) return v.bytesValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.kvlistValue) return Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
  return null;
}

function attrs(kvs: OtlpKV[] | undefined): Attrs {
  return (kvs ?? []).map((kv) => [kv.key, anyValue(kv.value)]);
}

/** Unix nanoseconds (a decimal string, as OTLP JSON has them) in ms, without losing the ms part to float rounding. */
export function nsToMs(ns: string | number | undefined): number {
  if (ns === undefined || ns === '') return 0;
  const s = String(ns);
  if (s.length <= 6) return Number(s) / 1e6;
  return Number(s.slice(0, -6)) + Number(s.slice(-6)) / 1e6;
}

function durationMs(start: string | undefined, end: string | undefined): number {
  if (!start || !end) return 0;
  try {
    return Number(BigInt(end) - BigInt(start)) / 1e6;
  } catch {
    return nsToMs(end) - nsToMs(start);
  }
}

/** OTLP JSON ids are hex; some encoders write base64: both become lower-case hex. */
export function hexId(id: string | undefined): string {
  if (!id) return '';
  if (/^[0-9a-fA-F]+$/.test(id) && (id.length === 16 || id.length === 32)) return id.toLowerCase();
  try {
    const bin = atob(id);
    let out = '';
    for (let i = 0; i < bin.length; i++) out += bin.charCodeAt(i).toString(16).padStart(2, '0');
    return out;
  } catch {
    return id.toLowerCase();
  }
}

/** Trace ids as 32 hex digits (Tempo's search drops leading zeros). */
export function padTraceId(id: string): string {
  return id.toLowerCase().padStart(32, '0');
}

interface OtlpSpan {
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number | string;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes?: OtlpKV[];
  events?: { timeUnixNano?: string; name?: string; attributes?: OtlpKV[] }[];
  links?: { traceId?: string; spanId?: string; attributes?: OtlpKV[] }[];
  status?: { code?: number | string; message?: string };
}

interface OtlpResourceSpans {
  resource?: { attributes?: OtlpKV[] };
  scopeSpans?: { scope?: { name?: string; version?: string }; spans?: OtlpSpan[] }[];
  instrumentationLibrarySpans?: { instrumentationLibrary?: { name?: string }; spans?: OtlpSpan[] }[];
}

const KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

/** The spans of a Tempo trace answer: v1 ({batches}), OTLP ({resourceSpans}) or v2 ({trace: ...}). */
export function parseTrace(body: unknown): Span[] {
  const b = (body ?? {}) as { batches?: OtlpResourceSpans[]; resourceSpans?: OtlpResourceSpans[]; trace?: unknown };
  if (b.trace) return parseTrace(b.trace);
  const out: Span[] = [];
  for (const rs of b.batches ?? b.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    const service = String(resource.find(([k]) => k === 'service.name')?.[1] ?? 'unknown');
    const scopes = [
      ...(rs.scopeSpans ?? []).map((s) => ({ scope: s.scope?.name ?? '', spans: s.spans ?? [] })),
      ...(rs.instrumentationLibrarySpans ?? []).map((s) => ({ scope: s.instrumentationLibrary?.name ?? '', spans: s.spans ?? [] })),
    ];
    for (const ss of scopes) {
      for (const s of ss.spans) {
        const kind = typeof s.kind === 'string' ? (KINDS[s.kind] ?? 0) : (s.kind ?? 0);
        const code = s.status?.code;
        out.push({
          id: hexId(s.spanId),
          parentId: hexId(s.parentSpanId),
          name: s.name ?? '',
          service,
          kind,
          start: nsToMs(s.startTimeUnixNano),
          end: nsToMs(s.endTimeUnixNano),
          duration: durationMs(s.startTimeUnixNano, s.endTimeUnixNano),
          status: typeof code === 'string' ? (STATUS[code] ?? 0) : (code ?? 0),
          statusMessage: s.status?.message ?? '',
          attributes: attrs(s.attributes),
          resource,
          scope: ss.scope,
          events: (s.events ?? []).map((e) => ({ time: nsToMs(e.timeUnixNano), name: e.name ?? '', attributes: attrs(e.attributes) })),
          links: (s.links ?? []).map((l) => ({ traceId: hexId(l.traceId), spanId: hexId(l.spanId), attributes: attrs(l.attributes) })),
        });
      }
    }
  }
  return out;
}

/** The span tree: each span's children by start time; spans whose parent is missing are roots too. */
export interface Tree {
  spans: Span[];
  byId: Map<string, Span>;
  children: Map<string, Span[]>;
  roots: Span[];
  start: number;
  end: number;
}

export function buildTree(spans: Span[]): Tree {
  const byId = new Map<string, Span>();
  for (const s of spans) byId.set(s.id, s);
  const children = new Map<string, Span[]>();
  const roots: Span[] = [];
  for (const s of spans) {
    if (s.parentId && s.parentId !== s.id && byId.has(s.parentId)) {
      let c = children.get(s.parentId);
      if (!c) children.set(s.parentId, (c = []));
      c.push(s);
    } else roots.push(s);
  }
  const byStart = (a: Span, b: Span) => a.start - b.start || a.end - b.end || a.id.localeCompare(b.id);
  for (const c of children.values()) c.sort(byStart);
  // A true root (no parent id) first, then orphans by start.
  roots.sort((a, b) => (a.parentId ? 1 : 0) - (b.parentId ? 1 : 0) || byStart(a, b));
  // A cycle (a -> b -> a) leaves no root: break it at the earliest span.
  const seen = countReachable(roots, children);
  if (seen < spans.length) {
    const reached = new Set<string>();
    walk(roots, children, (s) => void reached.add(s.id));
    for (const s of [...spans].sort(byStart)) {
      if (reached.has(s.id)) continue;
      roots.push(s);
      const p = children.get(s.parentId);
      if (p) p.splice(p.indexOf(s), 1);
      walk([s], children, (x) => void reached.add(x.id));
    }
  }
  let start = Infinity;
  let end = -Infinity;
  for (const s of spans) {
    start = Math.min(start, s.start);
    end = Math.max(end, s.end);
  }
  if (!spans.length) start = end = 0;
  return { spans, byId, children, roots, start, end };
}

function countReachable(roots: Span[], children: Map<string, Span[]>): number {
  let n = 0;
  walk(roots, children, () => void n++);
  return n;
}

/** Depth-first, children in order, without recursion (a trace may be thousands deep). */
function walk(roots: Span[], children: Map<string, Span[]>, fn: (s: Span, depth: number) => boolean | void) {
  const stack: [Span, number][] = [];
  for (let i = roots.length - 1; i >= 0; i--) stack.push([roots[i], 0]);
  const seen = new Set<string>();
  while (stack.length) {
    const [s, d] = stack.pop()!;
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    if (fn(s, d) === false) continue;
    const c = children.get(s.id);
    if (c) for (let i = c.length - 1; i >= 0; i--) stack.push([c[i], d + 1]);
  }
}

export interface Row {
  span: Span;
  depth: number;
  /** Number of descendants. */
  childCount: number;
  collapsed: boolean;
}

/** The waterfall's rows: depth-first, skipping the subtrees of collapsed spans. */
export function visibleRows(tree: Tree, collapsed: ReadonlySet<string>): Row[] {
  const rows: Row[] = [];
  walk(tree.roots, tree.children, (s, depth) => {
    const isCollapsed = collapsed.has(s.id);
    rows.push({ span: s, depth, childCount: tree.children.get(s.id)?.length ?? 0, collapsed: isCollapsed });
    return !isCollapsed;
  });
  return rows;
}

/** The ids of the spans above `id` (to expand them so it shows). */
export function ancestors(tree: Tree, id: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let s = tree.byId.get(id);
  while (s && s.parentId && tree.byId.has(s.parentId) && !seen.has(s.parentId)) {
    seen.add(s.parentId);
    out.push(s.parentId);
    s = tree.byId.get(s.parentId);
  }
  return out;
}

/** A bar's position in the waterfall: left and width as fractions of the trace. */
export function barOf(span: { start: number; end: number }, tree: { start: number; end: number }): { left: number; width: number } {
  const total = tree.end - tree.start || 1;
  const left = Math.min(1, Math.max(0, (span.start - tree.start) / total));
  const width = Math.max(0, Math.min(1 - left, (span.end - span.start) / total));
  return { left, width };
}

export interface Segment {
  spanId: string;
  start: number;
  end: number;
}

/**
 * The critical path: the spans (and their parts) whose time the trace's
 * duration is made of. From each root's end back to its start, the child
 * that finished last before the cursor is on the path (its time is walked
 * the same way), the gaps between such children are the parent's own
 * time; children running concurrently with a chosen one are not on it.
 * Children are clamped to their parent (clock skew). As Jaeger computes it.
 * Segments come in time order.
 */
export function criticalPath(tree: Tree): Segment[] {
  const out: Segment[] = [];
  // The root that ends last carries the trace; other roots (orphans) are walked too when they stick out.
  const roots = [...tree.roots].sort((a, b) => b.end - a.end);
  let cursor = Infinity;
  for (const r of roots) {
    if (r.end > cursor || r.start >= cursor) continue;
    pathOf(tree, r, Math.min(r.end, cursor), out);
    cursor = r.start;
  }
  return out.reverse();
}

function pathOf(tree: Tree, root: Span, rootEnd: number, out: Segment[]) {
  // Frames of an explicit stack: a span, its clamped window and the cursor moving back from its end.
  interface Frame {
    span: Span;
    lo: number;
    cursor: number;
    kids: { span: Span; start: number; end: number }[];
    i: number;
  }
  const frame = (span: Span, lo: number, hi: number): Frame => {
    const kids = (tree.children.get(span.id) ?? [])
      .map((c) => ({ span: c, start: Math.max(lo, c.start), end: Math.min(hi, c.end) }))
      .filter((c) => c.end > c.start)
      .sort((a, b) => b.end - a.end || b.start - a.start);
    return { span, lo, cursor: hi, kids, i: 0 };
  };
  const stack: Frame[] = [frame(root, root.start, rootEnd)];
  while (stack.length) {
    const f = stack[stack.length - 1];
    let next: Frame | null = null;
    while (f.i < f.kids.length) {
      const k = f.kids[f.i++];
      if (k.end > f.cursor) continue; // overlaps the child already on the path
      if (k.end < f.cursor) out.push({ spanId: f.span.id, start: k.end, end: f.cursor });
      f.cursor = k.start;
      next = frame(k.span, k.start, k.end);
      break;
    }
    if (next) {
      stack.push(next);
      continue;
    }
    if (f.cursor > f.lo) out.push({ spanId: f.span.id, start: f.lo, end: f.cursor });
    stack.pop();
  }
}

/** The ids of the spans on the critical path, with their time on it (ms). */
export function criticalSpans(segments: Segment[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of segments) m.set(s.spanId, (m.get(s.spanId) ?? 0) + (s.end - s.start));
  return m;
}

export interface ServiceSummary {
  name: string;
  spans: number;
  errors: number;
  /** First span's start, for ordering by the request's path. */
  first: number;
}

/** The services the trace crossed, in the order the request reached them. */
export function servicesOf(spans: Span[]): ServiceSummary[] {
  const m = new Map<string, ServiceSummary>();
  for (const s of spans) {
    let x = m.get(s.service);
    if (!x) m.set(s.service, (x = { name: s.service, spans: 0, errors: 0, first: s.start }));
    x.spans++;
    if (s.status === 2) x.errors++;
    x.first = Math.min(x.first, s.start);
  }
  return [...m.values()].sort((a, b) => a.first - b.first || a.name.localeCompare(b.name));
}

/** The spans of the subtree of `id` (its own included), by id. */
export function subtreeIds(tree: Tree, id: string): Set<string> {
  const out = new Set<string>();
  const s = tree.byId.get(id);
  if (s) walk([s], tree.children, (x) => void out.add(x.id));
  return out;
}

/** A readable value of an attribute. */
export function formatAttr(v: AttrValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
