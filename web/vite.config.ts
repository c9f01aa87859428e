import { defineConfig } from 'vitest/config';

// HORUS_URL: the Horus `npm run dev` proxies the APIs to (default
// http://localhost:3300). HORUS_UI_OUT: where `vite build` writes (default
// the committed ../internal/ui/dist; `make test` builds into a temporary
// directory and compares).
const horus = process.env.HORUS_URL ?? 'http://localhost:3300';
const proxied = ['/api', '/loki', '/otlp', '/alertmanager', '/-', '/metrics', '/runbooks', '/ready'];

export default defineConfig({
  base: '/',
  build: {
    outDir: process.env.HORUS_UI_OUT ?? '../internal/ui/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    port: 5173,
    proxy: Object.fromEntries(proxied.map((p) => [p, { target: horus, changeOrigin: true, ws: true }])),
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
