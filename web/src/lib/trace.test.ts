import { describe, expect, it } from 'vitest';
import {
  ancestors,
  barOf,
  buildTree,
  criticalPath,
  criticalSpans,
  nsToMs,
  padTraceId,
  parseTrace,
  servicesOf,
  type Span,
  visibleRows,
} from './trace';

/** A hand-made span: times in ms from 0. */
function sp(id: string, parentId: string, start: number, end: number, extra: Partial<Span> = {}): Span {
  return {
    id,
    parentId,
    name: id,
    service: extra.service ?? 'svc',
    kind: 1,
    start,
    end,
    duration: end - start,
    status: 0,
    statusMessage: '',
    attributes: [],
    resource: [],
    scope: '',
    events: [],
    links: [],
    ...extra,
  };
}

const ids = (segs: { spanId: string; start: number; end: number }[]) => segs.map((s) => `${s.spanId}:${s.start}-${s.end}`);

describe('parseTrace', () => {
  it('reads the v1 answer (batches) with resource, attributes, events, links and status', () => {
    const body = {
      batches: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'orders' } }] },
          scopeSpans: [
            {
              scope: { name: 'horus/sdk' },
              spans: [
                {
                  traceId: '0af7651916cd43dd8448eb211c80319c',
                  spanId: 'b7ad6b7169203331',
                  parentSpanId: '',
                  name: 'POST /orders',
                  kind: 2,
                  startTimeUnixNano: '1700000000123456789',
                  endTimeUnixNano: '1700000000223456789',
                  attributes: [
                    { key: 'http.status_code', value: { intValue: '500' } },
                    { key: 'ok', value: { boolValue: false } },
                    { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { doubleValue: 1.5 }] } } },
                  ],
                  events: [{ timeUnixNano: '1700000000200000000', name: 'exception', attributes: [{ key: 'exception.message', value: { stringValue: 'boom' } }] }],
                  links: [{ traceId: '00000000000000000000000000000001', spanId: '0000000000000002' }],
                  status: { code: 2, message: 'boom' },
                },
              ],
            },
          ],
        },
      ],
    };
    const [s] = parseTrace(body);
    expect(s.service).toBe('orders');
    expect(s.kind).toBe(2);
    expect(s.status).toBe(2);
    expect(s.statusMessage).toBe('boom');
    expect(s.duration).toBe(100);
    expect(s.start).toBeCloseTo(1700000000123.456789, 3);
    expect(s.attributes).toEqual([
      ['http.status_code', 500],
      ['ok', false],
      ['tags', ['a', 1.5]],
    ]);
    expect(s.events[0].name).toBe('exception');
    expect(s.links[0].spanId).toBe('0000000000000002');
    expect(s.scope).toBe('horus/sdk');
    // v2 and plain OTLP shapes, enum names
    const v2 = parseTrace({ trace: { resourceSpans: [{ scopeSpans: [{ spans: [{ spanId: 'AAAAAAAAAAE=', kind: 'SPAN_KIND_CLIENT', status: { code: 'STATUS_CODE_ERROR' } }] }] }] } });
    expect(v2[0]).toMatchObject({ id: '0000000000000001', kind: 3, status: 2, service: 'unknown' });
  });

  it('keeps the ms of a nanosecond time and pads trace ids', () => {
    expect(nsToMs('1700000000123456789')).toBeCloseTo(1700000000123.4568, 3);
    expect(nsToMs('999')).toBe(0.000999);
    expect(padTraceId('1abc')).toBe('0000000000000000000000000000' + '1abc');
  });
});

describe('buildTree and visibleRows', () => {
  const spans = [sp('c', 'a', 20, 40), sp('a', '', 0, 100), sp('b', 'a', 10, 30), sp('d', 'b', 12, 14), sp('o', 'missing', 50, 60)];
  const tree = buildTree(spans);

  it('orders children by start, a true root first, orphans as roots', () => {
    expect(tree.roots.map((s) => s.id)).toEqual(['a', 'o']);
    expect(tree.children.get('a')!.map((s) => s.id)).toEqual(['b', 'c']);
    expect([tree.start, tree.end]).toEqual([0, 100]);
  });

  it('lists rows depth-first and hides collapsed subtrees', () => {
    const rows = visibleRows(tree, new Set());
    expect(rows.map((r) => `${r.span.id}${r.depth}`)).toEqual(['a0', 'b1', 'd2', 'c1', 'o0']);
    expect(rows[0].childCount).toBe(2);
    const folded = visibleRows(tree, new Set(['b']));
    expect(folded.map((r) => r.span.id)).toEqual(['a', 'b', 'c', 'o']);
    expect(folded[1].collapsed).toBe(true);
    expect(ancestors(tree, 'd')).toEqual(['b', 'a']);
  });

  it('survives a parent cycle and a 20,000 deep chain', () => {
    const cyc = buildTree([sp('x', 'y', 0, 10), sp('y', 'x', 1, 5)]);
    expect(visibleRows(cyc, new Set()).map((r) => r.span.id)).toEqual(['x', 'y']);
    const chain: Span[] = [sp('s0', '', 0, 20000)];
    for (let i = 1; i < 20000; i++) chain.push(sp(`s${i}`, `s${i - 1}`, i, 20000));
    const t = buildTree(chain);
    expect(visibleRows(t, new Set()).length).toBe(20000);
    expect(criticalPath(t).length).toBe(20000);
  });

  it('places bars as fractions of the trace', () => {
    expect(barOf({ start: 10, end: 30 }, tree)).toEqual({ left: 0.1, width: 0.2 });
    expect(barOf({ start: 90, end: 130 }, tree)).toEqual({ left: 0.9, width: expect.closeTo(0.1, 9) });
  });
});

describe('criticalPath', () => {
  it('is the root alone without children', () => {
    expect(ids(criticalPath(buildTree([sp('r', '', 0, 10)])))).toEqual(['r:0-10']);
  });

  it('follows sequential children, the parent owning the gaps', () => {
    // r 0..100: a 10..40, b 50..90
    const t = buildTree([sp('r', '', 0, 100), sp('a', 'r', 10, 40), sp('b', 'r', 50, 90)]);
    expect(ids(criticalPath(t))).toEqual(['r:0-10', 'a:10-40', 'r:40-50', 'b:50-90', 'r:90-100']);
  });

  it('takes the child that finishes last of concurrent ones, skipping those it overlaps', () => {
    // r 0..100: fast 5..30 and slow 5..80 in parallel, then tail 85..95
    const t = buildTree([sp('r', '', 0, 100), sp('fast', 'r', 5, 30), sp('slow', 'r', 5, 80), sp('tail', 'r', 85, 95)]);
    const segs = criticalPath(t);
    expect(ids(segs)).toEqual(['r:0-5', 'slow:5-80', 'r:80-85', 'tail:85-95', 'r:95-100']);
    expect(criticalSpans(segs).has('fast')).toBe(false);
    expect(criticalSpans(segs).get('r')).toBe(15);
  });

  it('descends into the chosen child and clamps children to their parent', () => {
    // r 0..100 -> call 10..90 -> db 20..95 (skewed past its parent), retry 5..15 (starts before its parent)
    const t = buildTree([sp('r', '', 0, 100), sp('call', 'r', 10, 90), sp('db', 'call', 20, 95), sp('retry', 'call', 5, 15)]);
    expect(ids(criticalPath(t))).toEqual(['r:0-10', 'retry:10-15', 'call:15-20', 'db:20-90', 'r:90-100']);
  });

  it('marks a failing leaf on the path of a retried call', () => {
    // gateway -> orders -> payments tries twice: the second attempt fails and ends the request
    const t = buildTree([
      sp('gw', '', 0, 300, { service: 'api-gateway' }),
      sp('orders', 'gw', 10, 290, { service: 'orders' }),
      sp('try1', 'orders', 20, 120, { service: 'payments' }),
      sp('try2', 'orders', 130, 280, { service: 'payments', status: 2 }),
      sp('log', 'orders', 125, 126, { service: 'orders' }),
    ]);
    const crit = criticalSpans(criticalPath(t));
    expect([...crit.keys()].sort()).toEqual(['gw', 'log', 'orders', 'try1', 'try2']);
    expect(crit.get('try2')).toBe(150);
    const total = [...crit.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(300);
  });
});

describe('servicesOf', () => {
  it('lists services in the order reached with their spans and errors', () => {
    const s = servicesOf([sp('a', '', 0, 9, { service: 'gw' }), sp('b', 'a', 2, 4, { service: 'pay', status: 2 }), sp('c', 'a', 1, 3, { service: 'orders' }), sp('d', 'b', 3, 4, { service: 'pay' })]);
    expect(s).toEqual([
      { name: 'gw', spans: 1, errors: 0, first: 0 },
      { name: 'orders', spans: 1, errors: 0, first: 1 },
      { name: 'pay', spans: 2, errors: 1, first: 2 },
    ]);
  });
});
