import { describe, expect, it } from 'vitest';
import { bubbleBars, investigateTitle } from './Investigate';

describe('investigateTitle', () => {
  it('names the alert and its service when the investigation is an alert’s', () => {
    expect(investigateTitle({ alert: 'OrdersAvailabilitySLO', service: 'orders', signal: 'promql' }, 'abc')).toBe(' OrdersAvailabilitySLO on orders');
  });
  it('names the signal and service of a symptom', () => {
    expect(investigateTitle({ service: 'orders', signal: 'latency' })).toBe(' latency of orders');
    expect(investigateTitle({ service: 'orders' })).toBe(' errors of orders');
    expect(investigateTitle({ service: 'orders', signal: 'promql' })).toBe(' the series of orders');
  });
  it('falls back to the fingerprint before the answer arrives', () => {
    expect(investigateTitle(undefined, '0123456789abcdef')).toBe(' alert 0123456789abcdef');
    expect(investigateTitle(undefined)).toBe('');
  });
});

describe('bubbleBars', () => {
  it('says what each share of a first cause is of', () => {
    const d = { badShare: 0.6, goodShare: 0, allBadShare: 0.6, allShare: 60 / 1100, badTraces: 10, goodTraces: 20 };
    expect(bubbleBars(d, 1100, 'failing requests').map((b) => [b.label, b.share])).toEqual([
      ['of the 10 failing requests compared', 0.6],
      ['of the 20 other requests compared', 0],
      ['of all 1,100 requests', 60 / 1100],
    ]);
  });
  it('says that a further cause’s first share is of the requests left without the causes before it', () => {
    const d = {
      badShare: 1,
      goodShare: 0,
      allBadShare: 0.4,
      allShare: 40 / 1100,
      badTraces: 10,
      goodTraces: 20,
      without: [{ service: 'payments', key: 'service.instance.id', op: '=', value: 'payments-1' }],
      withoutBad: 4,
    };
    expect(bubbleBars(d, 1100, 'failing requests').map((b) => [b.label, b.share])).toEqual([
      ['of the 4 failing requests without service.instance.id=payments-1', 1],
      ['of all 10 failing requests compared', 0.4],
      ['of the 20 other requests compared', 0],
      ['of all 1,100 requests', 40 / 1100],
    ]);
  });
});
