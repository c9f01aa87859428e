// The API calls a page of the web UI makes, and how long each takes: opens
// each page in Debian's Chromium (playwright-core), records the requests
// it sends to Horus' APIs until it settles, then sends each again RUNS
// times (from Node, one at a time, with the page's tenant header) and
// prints, per call, the median and the spread of the wall times, and the
// answer's size. The figures of docs/benchmarks.md ("The Services and
// Service pages over 10 M spans") are made with it.
//
//   HORUS_URL=http://127.0.0.1:3300 node e2e/apitimes.mjs '/services?from=now-1h&to=now' /service/orders
//
// Environment: HORUS_URL (required), RUNS (default 5), CHROMIUM (default
// /usr/bin/chromium), TENANT (sent as X-Scope-OrgID, and ?tenant= on the
// pages). Output: a Markdown table per page on stdout.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.env.HORUS_URL;
if (!base) throw new Error('HORUS_URL is required');
const runs = Number(process.env.RUNS ?? 5);
const tenant = process.env.TENANT ?? '';
const pages = process.argv.slice(2);
if (pages.length === 0) throw new Error('name the pages to open, e.g. /services /service/orders');

const API = /^\/(api|loki|alertmanager|prometheus)\//;

const profile = mkdtempSync(join(tmpdir(), 'horus-apitimes-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  viewport: { width: 1400, height: 900 },
  timeout: 60_000,
});
try {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  for (const path of pages) {
    const calls = new Map();
    const onRequest = (r) => {
      const u = new URL(r.url());
      if (u.origin === new URL(base).origin && API.test(u.pathname)) calls.set(u.pathname + u.search, r.method());
    };
    page.on('request', onRequest);
    const u = new URL(path, base);
    if (tenant) u.searchParams.set('tenant', tenant);
    const t0 = Date.now();
    await page.goto(u.href);
    await page.waitForLoadState('networkidle', { timeout: 120_000 });
    await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), null, { timeout: 120_000 });
    const first = Date.now() - t0;
    page.off('request', onRequest);
    console.log(`\n${path} (${calls.size} API calls; the page settled ${first} ms after navigation)\n`);
    console.log('| call | median ms | min–max ms | bytes |');
    console.log('|---|---|---|---|');
    for (const [call, method] of calls) {
      if (method !== 'GET') continue;
      const headers = tenant ? { 'X-Scope-OrgID': tenant } : {};
      await (await fetch(base + call, { headers })).arrayBuffer(); // warm
      const ms = [];
      let bytes = 0;
      for (let i = 0; i < runs; i++) {
        const s = performance.now();
        const r = await fetch(base + call, { headers });
        bytes = (await r.arrayBuffer()).byteLength;
        ms.push(performance.now() - s);
        if (!r.ok) bytes = `${r.status}`;
      }
      ms.sort((a, b) => a - b);
      const shown = decodeURIComponent(call).replace(/\|/g, '\\|');
      console.log(`| \`${shown}\` | ${Math.round(ms[ms.length >> 1])} | ${Math.round(ms[0])}–${Math.round(ms[ms.length - 1])} | ${bytes} |`);
    }
  }
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
