// The links between pages. Use these rather than writing paths by hand:
// they follow the URL scheme of docs/ui.md and keep the time range and the
// tenant of the page the link is on.

import { href } from './url';

type Q = URLSearchParams | undefined;

export const links = {
  services: (q?: Q) => href('/services', {}, q),
  service: (name: string, q?: Q, extra: Record<string, string> = {}) =>
    href(`/service/${encodeURIComponent(name)}`, extra, q),
  /** Explore in one mode with a query: metrics (PromQL), logs (LogQL) or traces (TraceQL). */
  explore: (mode: 'metrics' | 'logs' | 'traces', query: string, q?: Q) => href('/explore', { mode, q: query }, q),
  trace: (id: string, q?: Q, span?: string) => href(`/trace/${encodeURIComponent(id)}`, { span }, q),
  /** Alerts; tab "rules" for the rules. */
  alerts: (q?: Q, tab?: 'rules' | 'history') => href('/alerts', { tab }, q),
  /** An alert's page; range (from, to) overrides the page's, e.g. an absolute range around when it fired. */
  alert: (fingerprint: string, q?: Q, range?: { from: string; to: string }) =>
    href(`/alerts/${encodeURIComponent(fingerprint)}`, { ...range }, q),
  slos: (q?: Q) => href('/slos', {}, q),
  slo: (id: string, q?: Q) => href(`/slos/${encodeURIComponent(id)}`, {}, q),
  changes: (q?: Q, service?: string, kind?: string) => href('/changes', { service, kind }, q),
  /** An investigation: the parameters of GET /api/v1/investigate (docs/investigate.md), e.g. {fingerprint}. */
  investigate: (params: Record<string, string>, q?: Q) => href('/investigate', params, q),
};
