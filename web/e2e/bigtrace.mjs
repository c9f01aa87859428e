// A synthetic trace of n spans as OTLP/HTTP JSON, for the browser test's
// "a 10,000-span trace renders and scrolls" step: a root, 20 services each
// calling a chain of children, fan-out so the tree is both wide and deep,
// one failing span near the end. Pushed to Horus' /otlp/v1/traces.

const hex = (n, digits) => n.toString(16).padStart(digits, '0');

export function bigTrace(n, traceId, now = Date.now()) {
  const base = BigInt(now - 60_000) * 1_000_000n;
  const services = Array.from({ length: 20 }, (_, i) => `bulk-${String(i).padStart(2, '0')}`);
  const bySvc = new Map(services.map((s) => [s, []]));
  const spans = [];
  // Span i's parent: a tree with fan-out 4 (i -> (i-1)/4), times nested in the parent's.
  const start = new Array(n);
  const end = new Array(n);
  start[0] = 0n;
  end[0] = 5_000_000_000n; // 5 s
  for (let i = 0; i < n; i++) {
    const parent = i === 0 ? -1 : Math.floor((i - 1) / 4);
    if (i > 0) {
      const k = (i - 1) % 4;
      const ps = start[parent];
      const pd = end[parent] - ps;
      start[i] = ps + (pd * BigInt(k)) / 4n + pd / 50n;
      end[i] = start[i] + (pd * 2n) / 9n;
    }
    const svc = services[i === 0 ? 0 : (Math.floor((i - 1) / 4) + (i % 3)) % services.length];
    const failing = i === n - 1;
    const span = {
      traceId,
      spanId: hex(i + 1, 16),
      parentSpanId: parent < 0 ? '' : hex(parent + 1, 16),
      name: i === 0 ? 'GET /bulk' : `op-${i % 37}`,
      kind: i === 0 ? 2 : 1,
      startTimeUnixNano: String(base + start[i]),
      endTimeUnixNano: String(base + end[i]),
      attributes: [{ key: 'i', value: { intValue: String(i) } }],
      status: failing ? { code: 2, message: 'bulk failure' } : {},
    };
    bySvc.get(svc).push(span);
    spans.push(span);
  }
  return {
    resourceSpans: services
      .filter((s) => bySvc.get(s).length)
      .map((s) => ({
        resource: { attributes: [{ key: 'service.name', value: { stringValue: s } }] },
        scopeSpans: [{ scope: { name: 'bigtrace' }, spans: bySvc.get(s) }],
      })),
  };
}

/** Pushes the trace and waits until Horus answers it whole. */
export async function pushBigTrace(base, n, traceId) {
  const body = JSON.stringify(bigTrace(n, traceId));
  const r = await fetch(`${base}/otlp/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  if (!r.ok) throw new Error(`push: ${r.status} ${await r.text()}`);
  for (let i = 0; i < 100; i++) {
    const t = await fetch(`${base}/api/traces/${traceId}`);
    if (t.ok) {
      const j = await t.json();
      let c = 0;
      for (const b of j.batches ?? []) for (const s of b.scopeSpans ?? []) c += s.spans?.length ?? 0;
      if (c >= n) return;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`the ${n}-span trace did not arrive whole`);
}
