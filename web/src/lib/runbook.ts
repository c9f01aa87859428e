// Runbooks (docs/runbooks/<alert>.md, served at /runbooks/<alert>) rendered
// for the alert page: CommonMark by micromark with its safe defaults — raw
// HTML in the Markdown is escaped (allowDangerousHtml false) and links and
// images with a protocol other than http(s), mailto, irc(s) and xmpp are
// dropped (allowDangerousProtocol false), since a runbook is user content —
// relative links resolved against the runbook's own URL, and each fenced
// block of PromQL, LogQL or TraceQL followed by a link that runs it in
// Explore. GFM tables (the runbook index is one) are rendered by micromark's
// own extension, micromark-extension-gfm-table, with the same safe defaults.
// This module is imported on demand (its own chunk, with micromark).

import { micromark } from 'micromark';
import { gfmTable, gfmTableHtml } from 'micromark-extension-gfm-table';

/** Explore's modes by a fenced block's language (```promql ...). */
export const QUERY_LANGUAGES: Record<string, 'metrics' | 'logs' | 'traces'> = {
  promql: 'metrics',
  logql: 'logs',
  traceql: 'traces',
};

/**
 * The HTML of a runbook's Markdown. base is the runbook's URL (absolute),
 * against which relative links are resolved; explore builds the link of a
 * query in Explore.
 */
export function renderRunbook(md: string, base: string, explore: (mode: 'metrics' | 'logs' | 'traces', q: string) => string): string {
  const html = micromark(md, { extensions: [gfmTable()], htmlExtensions: [gfmTableHtml()] });
  return html
    .replace(/<a href="([^"]*)"/g, (m, href: string) => {
      const raw = unescapeHTML(href);
      if (raw.startsWith('#') || raw === '') return m;
      try {
        const u = new URL(raw, base);
        const same = u.origin === new URL(base).origin;
        return `<a href="${escapeAttr(same ? u.pathname + u.search + u.hash : u.href)}"${same ? '' : ' target="_blank" rel="noopener noreferrer"'}`;
      } catch {
        return m;
      }
    })
    .replace(/<pre><code class="language-([a-z]+)">([\s\S]*?)<\/code><\/pre>/g, (m, lang: string, code: string) => {
      const mode = QUERY_LANGUAGES[lang];
      if (!mode) return m;
      const q = unescapeHTML(code).trim();
      return `<div class="runbook-query">${m}<a class="run-in-explore" data-testid="run-in-explore" href="${escapeAttr(explore(mode, q))}">Run in Explore ›</a></div>`;
    });
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#x27;': "'" };

function unescapeHTML(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#x27);/g, (e) => ENTITIES[e]);
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
