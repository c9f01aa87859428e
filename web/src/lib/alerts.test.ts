import { describe, expect, it } from 'vitest';
import type { Alert } from '../api/types';
import { fillTemplate, fingerprint, firingPeriods, groupAlerts, pastAlert, ruleLanguage, seriesOfAlert, silenceOf, splitCondition } from './alerts';

describe('fingerprint', () => {
  // Fingerprints the embedded Alertmanager gave these alerts of the demo
  // shop (the same as internal/ruler.Fingerprint puts in horus_url).
  it('is Alertmanager’s', () => {
    expect(fingerprint({ alertname: 'ServiceErrorLogsHigh', service_name: 'orders', severity: 'warning', team: 'shop' })).toBe(
      '7193d78cb57a42fc',
    );
    expect(
      fingerprint({
        alertname: 'CheckoutAvailabilitySLO',
        service: 'api-gateway',
        severity: 'critical',
        sloth_id: 'api-gateway-checkout-availability',
        sloth_service: 'api-gateway',
        sloth_severity: 'page',
        sloth_slo: 'checkout-availability',
        team: 'shop',
      }),
    ).toBe('035d493783986b25');
  });
  it('adds the external labels the alert lacks, in name order', () => {
    const ls = { alertname: 'ServiceErrorLogsHigh', service_name: 'orders', severity: 'warning' };
    expect(fingerprint(ls, { team: 'shop' })).toBe('7193d78cb57a42fc');
    expect(fingerprint({ ...ls, team: 'shop' }, { team: 'other' })).toBe('7193d78cb57a42fc');
  });
  it('of no labels is FNV-1a’s offset', () => {
    expect(fingerprint({})).toBe('cbf29ce484222325');
  });
});

const alert = (name: string, state: Alert['state'], severity: string, activeAt: string, extra = {}): Alert => ({
  labels: { alertname: name, severity, ...extra },
  annotations: {},
  state,
  activeAt,
});

describe('groupAlerts', () => {
  it('puts firing groups first, then by severity and age', () => {
    const g = groupAlerts([
      alert('Slow', 'pending', 'warning', '2026-01-01T00:00:00Z'),
      alert('Logs', 'firing', 'warning', '2026-01-01T00:05:00Z', { service: 'a' }),
      alert('Logs', 'pending', 'warning', '2026-01-01T00:01:00Z', { service: 'b' }),
      alert('SLO', 'firing', 'critical', '2026-01-01T00:06:00Z'),
      alert('Gone', 'inactive', 'critical', '2026-01-01T00:00:00Z'),
    ]);
    expect(g.map((x) => x.name)).toEqual(['SLO', 'Logs', 'Slow']);
    expect(g[1].alerts.map((a) => a.labels.service)).toEqual(['a', 'b']);
    expect([g[1].firing, g[1].pending]).toEqual([1, 1]);
  });
});

describe('ruleLanguage', () => {
  it('reads the language from the query', () => {
    expect(ruleLanguage('sum by (job) (up{job=~"a|b"}) == 0')).toBe('promql');
    expect(ruleLanguage('sum(rate(http_requests_total{status=~"5.."}[5m])) > 0.1')).toBe('promql');
    expect(
      ruleLanguage('sum by (service_name) (count_over_time({service_name=~"a|b", level="error"}[5m])) > 20'),
    ).toBe('logql');
    expect(ruleLanguage('sum(rate({app="x"} |= "error" [1m]))')).toBe('logql');
    expect(ruleLanguage('sum(count_over_time({app="x"} | json | status >= 500 [1m]))')).toBe('logql');
    expect(ruleLanguage('{ status = error } | rate() by (resource.service.name)')).toBe('traceql');
    expect(ruleLanguage('rate({__name__="up"}[5m])')).toBe('promql');
  });
});

describe('splitCondition', () => {
  it('takes the threshold off', () => {
    expect(splitCondition('sum(x) > 20')).toEqual({ series: 'sum(x)', op: '>', threshold: 20 });
    expect(splitCondition('(a / b) >= 0.05')).toEqual({ series: 'a / b', op: '>=', threshold: 0.05 });
    expect(splitCondition('up == 0')).toEqual({ series: 'up', op: '==', threshold: 0 });
    expect(splitCondition('x > bool 1e-3')).toEqual({ series: 'x', op: '>', threshold: 0.001 });
  });
  it('keeps a query without a trailing threshold whole', () => {
    expect(splitCondition('(a > 1) and (b > 2)')).toEqual({ series: '(a > 1) and (b > 2)' });
    expect(splitCondition('max(a > (14.4 * 0.001))')).toEqual({ series: 'max(a > (14.4 * 0.001))' });
    expect(splitCondition('rate(x[5m]) > 0) or vector(1')).toEqual({ series: 'rate(x[5m]) > 0) or vector(1' });
  });
});

describe('seriesOfAlert', () => {
  it('keeps the series whose labels the alert has', () => {
    const a = { alertname: 'X', service_name: 'orders', severity: 'warning' };
    expect(seriesOfAlert({ service_name: 'orders' }, a)).toBe(true);
    expect(seriesOfAlert({ service_name: 'auth' }, a)).toBe(false);
    expect(seriesOfAlert({}, a)).toBe(true);
  });
});

describe('firing periods', () => {
  it('splits ALERTS series into periods, resolved or not', () => {
    const m = { __name__: 'ALERTS', alertname: 'A', alertstate: 'firing', service: 'x' };
    const ps = firingPeriods(
      [
        { metric: m, values: [[60, '1'], [120, '1'], [180, '1'], [420, '1'], [480, '1']] },
        { metric: { ...m, service: 'y' }, values: [[300, '1']] },
      ],
      60_000,
      600_000,
    );
    expect(ps).toEqual([
      { labels: { alertname: 'A', service: 'x' }, start: 420_000, end: 540_000, resolved: true },
      { labels: { alertname: 'A', service: 'y' }, start: 300_000, end: 360_000, resolved: true },
      { labels: { alertname: 'A', service: 'x' }, start: 60_000, end: 240_000, resolved: true },
    ]);
    const still = firingPeriods([{ metric: m, values: [[480, '1'], [540, '1']] }], 60_000, 600_000);
    expect(still[0].resolved).toBe(false);
  });
});

describe('silenceOf', () => {
  it('matches every label of the alert with equality, for the duration', () => {
    const s = silenceOf({ severity: 'page', alertname: 'A', alertstate: 'firing', cluster: 'eu' }, 90, ' ana ', 'deploying the fix', Date.UTC(2026, 2, 1, 3, 47));
    expect(s).toEqual({
      matchers: [
        { name: 'alertname', value: 'A', isRegex: false, isEqual: true },
        { name: 'cluster', value: 'eu', isRegex: false, isEqual: true },
        { name: 'severity', value: 'page', isRegex: false, isEqual: true },
      ],
      startsAt: '2026-03-01T03:47:00.000Z',
      endsAt: '2026-03-01T05:17:00.000Z',
      createdBy: 'ana',
      comment: 'deploying the fix',
    });
  });
  it('wants an author and a comment', () => {
    expect(() => silenceOf({ alertname: 'A' }, 60, '', 'x', 0)).toThrow(/author/);
    expect(() => silenceOf({ alertname: 'A' }, 60, 'a', ' ', 0)).toThrow(/comment/);
  });
});

describe('pastAlert', () => {
  const m = { __name__: 'ALERTS', alertname: 'ServiceErrorLogsHigh', service_name: 'orders', severity: 'warning' };
  const labels = { alertname: 'ServiceErrorLogsHigh', service_name: 'orders', severity: 'warning' };
  it('finds the alert by its fingerprint, with the external labels, and its firing periods with when they became pending', () => {
    const fp = fingerprint(labels, { team: 'shop' });
    const p = pastAlert(
      [
        { metric: { ...m, alertstate: 'pending' }, values: [[60, '1'], [120, '1']] },
        { metric: { ...m, alertstate: 'firing' }, values: [[180, '1'], [240, '1']] },
        { metric: { ...m, alertname: 'Other', alertstate: 'firing' }, values: [[180, '1']] },
      ],
      [{ metric: { ...m, __name__: 'ALERTS_FOR_STATE' }, values: [[60, '55'], [120, '55'], [180, '55'], [240, '55']] }],
      fp,
      { team: 'shop' },
      60_000,
      600_000,
    );
    expect(p?.labels).toEqual(labels);
    expect(p?.periods).toEqual([{ labels, start: 180_000, end: 300_000, resolved: true, pendingAt: 55_000 }]);
  });
  it('is undefined for a fingerprint no series has', () => {
    expect(pastAlert([{ metric: { ...m, alertstate: 'firing' }, values: [[60, '1']] }], [], '0123456789abcdef', {}, 60_000, 600_000)).toBeUndefined();
  });
});

describe('fillTemplate', () => {
  it('fills labels and the external URL, leaves the rest as …', () => {
    const l = { job: 'orders', 'service': 'o' };
    expect(fillTemplate('{{ $externalURL }}/runbooks/ShopServiceDown', l)).toBe('/runbooks/ShopServiceDown');
    expect(fillTemplate('{{ $labels.job }} is down ({{ .Labels.service }}, {{ index $labels "job" }}): {{ $value | humanize }}', l)).toBe(
      'orders is down (o, orders): …',
    );
    expect(fillTemplate('{{- $labels.nope -}}x', l)).toBe('x');
  });
});
