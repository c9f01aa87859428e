import { describe, expect, it } from 'vitest';
import { links } from './links';
import { href, patch, readGlobal, writeGlobal } from './url';

describe('URL state', () => {
  it('reads the defaults from an empty query', () => {
    expect(readGlobal(new URLSearchParams())).toEqual({
      range: { from: 'now-1h', to: 'now' },
      refresh: '',
      tenant: '',
      compare: '',
    });
  });
  it('reads what is set, and ignores values it does not know', () => {
    const g = readGlobal(new URLSearchParams('from=now-6h&to=now&refresh=30s&tenant=acme&compare=1d'));
    expect(g).toEqual({ range: { from: 'now-6h', to: 'now' }, refresh: '30s', tenant: 'acme', compare: '1d' });
    const bad = readGlobal(new URLSearchParams('refresh=1s&compare=2y'));
    expect(bad.refresh).toBe('');
    expect(bad.compare).toBe('');
  });
  it('writes only what differs from the default, keeping other parameters', () => {
    const q = new URLSearchParams('sort=p99&from=now-6h');
    writeGlobal(q, { range: { from: 'now-1h', to: 'now' }, refresh: '', tenant: '', compare: 'prev' });
    expect(q.toString()).toBe('sort=p99&compare=prev');
  });
  it('round-trips', () => {
    const s = { range: { from: '2026-03-01T03:17:00Z', to: '2026-03-01T04:17:00Z' }, refresh: '', tenant: 'acme', compare: '1w' as const };
    expect(readGlobal(writeGlobal(new URLSearchParams(), s))).toEqual(s);
  });
});

describe('links', () => {
  const cur = new URLSearchParams('from=now-6h&to=now&tenant=acme&sort=p99&compare=1d');
  it('keep the global parameters and drop the page ones', () => {
    expect(href('/services', {}, cur)).toBe('/services?from=now-6h&to=now&tenant=acme&compare=1d');
    expect(links.service('payments', cur)).toBe('/service/payments?from=now-6h&to=now&tenant=acme&compare=1d');
  });
  it('escape names and queries', () => {
    expect(links.service('a/b c')).toBe('/service/a%2Fb%20c');
    const u = new URL(links.explore('logs', '{service_name="orders"} |= "x"'), 'http://h');
    expect(u.pathname).toBe('/explore');
    expect(u.searchParams.get('mode')).toBe('logs');
    expect(u.searchParams.get('q')).toBe('{service_name="orders"} |= "x"');
    expect(links.trace('abc', undefined, 'def')).toBe('/trace/abc?span=def');
  });
  it('patch sets and removes page parameters', () => {
    expect(patch('/services', cur, { sort: null, dir: 'asc' })).toBe('/services?from=now-6h&to=now&tenant=acme&compare=1d&dir=asc');
  });
});
