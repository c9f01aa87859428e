// Prints the compressed size of what the first page loads (the entry's JS
// and CSS, and the chunks index.html preloads) and of each lazy chunk, and
// fails when the first page is over the budget (300 KB gzip).
// Usage: node scripts/size.mjs [dist dir]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';

const BUDGET = 300 * 1024;
const dir = process.argv[2] ?? new URL('../../internal/ui/dist', import.meta.url).pathname;
const html = readFileSync(join(dir, 'index.html'), 'utf8');
const first = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
const all = readdirSync(join(dir, 'assets')).map((f) => `assets/${f}`);
const size = (f) => {
  const b = readFileSync(join(dir, f));
  return { raw: b.length, gzip: gzipSync(b, { level: 9 }).length, br: brotliCompressSync(b).length };
};
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
let total = { raw: 0, gzip: 0, br: 0 };
console.log('first page:');
for (const f of first) {
  const s = size(f);
  for (const k of Object.keys(total)) total[k] += s[k];
  console.log(`  ${f.padEnd(40)} ${kb(s.raw).padStart(10)} raw ${kb(s.gzip).padStart(9)} gzip ${kb(s.br).padStart(9)} brotli`);
}
console.log(`  ${'total'.padEnd(40)} ${kb(total.raw).padStart(10)} raw ${kb(total.gzip).padStart(9)} gzip ${kb(total.br).padStart(9)} brotli (budget ${kb(BUDGET)} gzip)`);
console.log('loaded on demand:');
for (const f of all.filter((f) => !first.includes(f))) {
  const s = size(f);
  console.log(`  ${f.padEnd(40)} ${kb(s.raw).padStart(10)} raw ${kb(s.gzip).padStart(9)} gzip ${kb(s.br).padStart(9)} brotli`);
}
if (total.gzip > BUDGET) {
  console.error(`first page ${kb(total.gzip)} gzip is over the budget of ${kb(BUDGET)}`);
  process.exit(1);
}
